// A scripted vhost-user front-end in the same process as our back-end, for
// the back-end's tests: a Front that sends and reads messages, a back-end
// over a blk device, and a guest memory (memfd) with kick and call eventfds.
// Needs Linux and --allow-ffi; no QEMU.

import assert from "node:assert/strict";
import { skipUnlessCi } from "./_guest.ts";
import { type NotifyFaults, VhostUserBackend } from "../../src/transport/vhost_user/backend.ts";
import {
  closeFd,
  connectUnix,
  eventfd,
  mapShared,
  memfdCreate,
  pollAsync,
  POLLIN,
  readEventfd,
  recvWithFds,
  sendWithFds,
  socketUnix,
  unmap,
} from "../../src/transport/vhost_user/_libc.ts";
import {
  encodeMessage,
  headerFlags,
  type MemoryRegionDesc,
  memoryTablePayload,
  MessageReader,
  u64Payload,
  type VhostUserMessage,
  vringAddrPayload,
  vringFdPayload,
  vringStatePayload,
} from "../../src/transport/vhost_user/_protocol.ts";
import { VhostUserRequest as R } from "../../src/generated/vhost_user.ts";
import { BlkDevice, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { GuestMemory } from "../../src/memory.ts";
import { DmaAllocator } from "../../src/memory.ts";
import {
  allocateQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";

/** True where vhost-user runs (Linux); elsewhere a skip, and in CI a failure. */
export const canRun: boolean = skipUnlessCi(
  "scripted vhost-user front-end",
  Deno.build.os === "linux" ? undefined : "vhost-user needs Linux",
) === undefined;

export const MEM_SIZE = 1 << 20;
export const USER_BASE = 0x7f00_0000_0000;

/** A scripted front-end on one connection. */
export class Front {
  readonly fd: number;
  readonly #reader: MessageReader;
  /** Connects to the back-end's socket at `path`, or speaks on `fd` (a socketpair end, say). */
  constructor(path: string | number) {
    if (typeof path === "number") {
      this.fd = path;
    } else {
      this.fd = socketUnix();
      connectUnix(this.fd, path);
    }
    this.#reader = new MessageReader((b) => recvWithFds(this.fd, b), closeFd);
  }
  send(
    request: number,
    payload?: Uint8Array,
    fds: number[] = [],
    flags: number = headerFlags(),
  ): void {
    const bytes = encodeMessage(request, flags, payload);
    assert.equal(sendWithFds(this.fd, bytes, fds), bytes.length);
  }
  sendRaw(bytes: Uint8Array): void {
    assert.equal(sendWithFds(this.fd, bytes), bytes.length);
  }
  /** The next message, or "eof" when the back-end closed the connection. */
  async recv(): Promise<VhostUserMessage | "eof"> {
    for (let tries = 0; tries < 100; tries++) {
      const r = this.#reader.read();
      if (r.kind === "message") return r.message;
      if (r.kind === "eof") return "eof";
      await pollAsync([{ fd: this.fd, events: POLLIN, revents: 0 }], 10_000);
    }
    throw new Error("no reply from the back-end");
  }
  async call(request: number, payload?: Uint8Array): Promise<VhostUserMessage> {
    this.send(request, payload);
    const m = await this.recv();
    assert.notEqual(m, "eof", `${request}: connection closed instead of a reply`);
    return m as VhostUserMessage;
  }
  #closed = false;
  /** Closes the connection (once: a second call does nothing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}

export interface Harness {
  backend: VhostUserBackend;
  device: BlkDevice;
  storage: MemoryStorage;
  logs: string[];
  path: string;
}

export async function withBackend(
  fn: (h: Harness) => Promise<void>,
  storage: MemoryStorage = new MemoryStorage(new Uint8Array(64 * 512)),
  deviceOptions: { queues?: number; queueSize?: number } = {},
  backendOptions: {
    requireSealedMemory?: boolean;
    messageTimeoutMs?: number;
    notifyFaults?: NotifyFaults;
  } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vu-" });
  const path = `${dir}/be.sock`;
  const device = new BlkDevice({ storage, queueSize: 16, ...deviceOptions });
  const logs: string[] = [];
  const backend = new VhostUserBackend(device, {
    ...backendOptions,
    socketPath: path,
    log: (level, msg) => {
      logs.push(`${level}: ${msg}`);
      if (Deno.env.get("VHOST_USER_DEBUG") === "1") console.error(`${level}: ${msg}`);
    },
  });
  backend.listen();
  const serving = backend.serve();
  try {
    await fn({ backend, device, storage, logs, path });
  } finally {
    backend.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
}

/** A front-end's guest: memory in a memfd (mapped here too), its allocator, kick and call eventfds. */
export interface FrontGuest {
  memfd: number;
  mem: GuestMemory;
  alloc: DmaAllocator;
  kick: number;
  call: number;
  /** The memory table entry for the whole memfd. */
  region: MemoryRegionDesc;
}

/** Runs `fn` with a fresh {@link FrontGuest}, and frees it after. */
export async function withGuest(fn: (g: FrontGuest) => Promise<void>): Promise<void> {
  const memfd = memfdCreate("guest", MEM_SIZE);
  const mapping = mapShared(memfd, MEM_SIZE);
  const kick = eventfd();
  const call = eventfd();
  try {
    await fn({
      memfd,
      mem: GuestMemory.fromBuffer(mapping.buffer),
      alloc: new DmaAllocator(0, MEM_SIZE),
      kick,
      call,
      region: { guestPhysAddr: 0, memorySize: MEM_SIZE, userspaceAddr: USER_BASE, mmapOffset: 0 },
    });
  } finally {
    unmap(mapping);
    closeFd(memfd);
    closeFd(kick);
    closeFd(call);
  }
}

/** Connects, runs `script`, and waits for the back-end to finish the session. */
export async function session(h: Harness, script: (f: Front) => Promise<void>): Promise<void> {
  const ended = h.backend.sessionEnded();
  const f = new Front(h.path);
  try {
    await script(f);
  } finally {
    f.close();
    await ended;
  }
}

/** Sends `request` and expects the back-end to close the connection. */
export async function expectClosed(
  f: Front,
  request: number,
  payload?: Uint8Array,
  fds: number[] = [],
) {
  f.send(request, payload, fds);
  const m = await f.recv();
  assert.equal(m, "eof", "the back-end should drop the connection");
}

export function lastError(h: Harness): string {
  return h.backend.sessions.at(-1)?.error ?? "";
}

export async function waitCall(fd: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (readEventfd(fd) !== null) return;
    await pollAsync([{ fd, events: POLLIN, revents: 0 }], 10_000);
  }
  throw new Error("no call from the back-end");
}

/** Sends the ring set-up QEMU sends: size, base, addresses, call and kick eventfds. */
export function setUpRing(
  f: Front,
  addrs: { size: number; desc: number; driver: number; device: number },
  base: number,
  kick: number,
  call: number,
): void {
  f.send(R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, addrs.size));
  f.send(R.VHOST_USER_SET_VRING_BASE, vringStatePayload(0, base));
  f.send(
    R.VHOST_USER_SET_VRING_ADDR,
    vringAddrPayload({
      index: 0,
      flags: 0,
      desc: USER_BASE + addrs.desc,
      used: USER_BASE + addrs.device,
      avail: USER_BASE + addrs.driver,
      log: 0,
    }),
  );
  f.send(R.VHOST_USER_SET_VRING_CALL, vringFdPayload(0, false), [call]);
  f.send(R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, false), [kick]);
}

/**
 * The usual start of a session: the device's features without
 * VIRTIO_F_RING_PACKED, the guest's memory table, and queue 0 as a split
 * ring of 16 from index 0, driven by the returned driver.
 */
export function startSplitQueue<T>(h: Harness, f: Front, g: FrontGuest) {
  const features = h.device.features & ~(1n << 34n);
  f.send(R.VHOST_USER_SET_FEATURES, u64Payload(features));
  f.send(R.VHOST_USER_SET_MEM_TABLE, memoryTablePayload([g.region]), [g.memfd]);
  const addrs = allocateQueue(g.alloc, 16, false);
  const driver = createDriverQueue<T>(g.mem, addrs, queueOptionsFromFeatures(features, 0));
  setUpRing(f, addrs, 0, g.kick, g.call);
  return driver;
}
