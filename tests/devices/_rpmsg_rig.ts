// A hand-built driver for the hostile rpmsg tests: raw queues 0 (device to driver) and 1
// (driver to device) in plain memory in front of an RpmsgDevice, messages written byte by
// byte at the offsets of Linux's struct rpmsg_hdr (src 0, dst 4, reserved 8, len 12, flags 14;
// typed in from include/linux/rpmsg.h, not the generated accessor), so a test can send anything
// a hostile driver could.

import type { DeviceContext } from "../../src/device.ts";
import { RpmsgDevice, type RpmsgDeviceOptions } from "../../src/devices/rpmsg/device.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  type DriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";

export const HDR = 16;
export const BUF = 512;
const VERSION_1 = 1n << 32n;
const F_NS = 1n << 0n;

/** A message the device put in a receive buffer. */
export interface Got {
  src: number;
  dst: number;
  len: number;
  data: Uint8Array;
  used: number;
}

/** Header fields; `len` defaults to the payload's length. */
export interface Hdr {
  src: number;
  dst: number;
  len?: number;
  reserved?: number;
  flags?: number;
}

export interface RpmsgRig {
  memory: GuestMemory;
  /** The guest memory's buffer (shared when the rig was made with `shared`). */
  buffer: ArrayBuffer | SharedArrayBuffer;
  device: RpmsgDevice;
  resets: unknown[];
  alloc: DmaAllocator;
  rx: DriverQueue<number>;
  tx: DriverQueue<number>;
  /** Header + payload as bytes. */
  message(h: Hdr, payload?: Uint8Array): Uint8Array;
  /** Puts `bytes` on queue 1 as one readable buffer (plus `writable` bytes) and kicks. */
  sendRaw(bytes: Uint8Array, writable?: number): void;
  /** Puts the `len` bytes at guest address `addr` on queue 1 as they are, and kicks. */
  sendAt(addr: number, len: number): void;
  /** Posts `n` receive buffers of `size` bytes on queue 0 and kicks. */
  post(n: number, size?: number): void;
  /** Every message the device placed in receive buffers so far. */
  received(): Got[];
}

export function rpmsgRig(
  options: RpmsgDeviceOptions = {},
  withNs = true,
  rxBuffers = 16,
  shared = false,
): RpmsgRig {
  const buffer = shared ? new SharedArrayBuffer(4 << 20) : new ArrayBuffer(4 << 20);
  const memory = GuestMemory.fromBuffer(buffer);
  const alloc = new DmaAllocator(0x1000, (4 << 20) - 0x1000);
  const features = VERSION_1 | (withNs ? F_NS : 0n);
  const addrs = [0, 1].map(() => allocateQueue(alloc, 64, false));
  const [rx, tx] = addrs.map((a, i) =>
    createDriverQueue<number>(memory, a, queueOptionsFromFeatures(features, i))
  );
  const device = new RpmsgDevice({ queueSize: 64, ...options });
  const resets: unknown[] = [];
  const ctx: DeviceContext = {
    memory,
    features,
    queues: addrs.map((a, i) =>
      createDeviceQueue(memory, a, queueOptionsFromFeatures(features, i))
    ),
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => resets.push(e),
  };
  const bufs = new Map<number, { addr: number; size: number }>();
  let token = 0;
  const post = (n: number, size = BUF) => {
    for (let i = 0; i < n; i++) {
      const addr = alloc.alloc(size, 16);
      bufs.set(token, { addr, size });
      rx.addSgs([], [{ addr, len: size }], token++);
    }
    rx.kick();
    device.queueNotify(0);
  };
  let t = 0;
  const txBuf = alloc.alloc(1 << 16, 16);
  const sendAt = (addr: number, len: number, writable = 0) => {
    const inn = writable ? [{ addr: addr + len, len: writable }] : [];
    tx.addSgs(len ? [{ addr, len }] : [], inn, t++);
    tx.kick();
    device.queueNotify(1);
    while (tx.getBuf() !== null);
  };
  const rig: RpmsgRig = {
    memory,
    buffer,
    sendAt,
    device,
    resets,
    alloc,
    rx,
    tx,
    post,
    message(h, payload = new Uint8Array(0)) {
      const b = new Uint8Array(HDR + payload.length);
      const v = new DataView(b.buffer);
      v.setUint32(0, h.src, true);
      v.setUint32(4, h.dst, true);
      v.setUint32(8, h.reserved ?? 0, true);
      v.setUint16(12, h.len ?? payload.length, true);
      v.setUint16(14, h.flags ?? 0, true);
      b.set(payload, HDR);
      return b;
    },
    sendRaw(bytes, writable = 0) {
      memory.write(txBuf, bytes);
      sendAt(txBuf, bytes.length, writable);
    },
    received() {
      const out: Got[] = [];
      for (let b = rx.getBuf(); b !== null; b = rx.getBuf()) {
        const { addr, size } = bufs.get(b.token) as { addr: number; size: number };
        const copy = memory.bytes(addr, size).slice();
        const v = new DataView(copy.buffer);
        const len = v.getUint16(12, true);
        out.push({
          src: v.getUint32(0, true),
          dst: v.getUint32(4, true),
          len,
          data: copy.slice(HDR, HDR + len),
          used: b.len,
        });
        rx.addSgs([], [{ addr, len: size }], b.token);
      }
      rx.kick();
      device.queueNotify(0);
      return out;
    },
  };
  post(rxBuffers);
  device.activate(ctx);
  return rig;
}

/** The 40-byte name-service payload (include/linux/rpmsg/ns.h: name[32], addr, flags). */
export function nsMsg(name: string | Uint8Array, addr: number, flags: number, size = 40) {
  const b = new Uint8Array(size);
  const n = typeof name === "string" ? new TextEncoder().encode(name) : name;
  b.set(n.subarray(0, Math.min(n.length, size, 32)));
  const v = new DataView(b.buffer);
  if (size >= 36) v.setUint32(32, addr, true);
  if (size >= 40) v.setUint32(36, flags, true);
  return b;
}
