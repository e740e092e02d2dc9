/**
 * A fuzzer of the vhost-user back-end's message handling: each case is one
 * front-end session of random and mutated messages, with random descriptors
 * (eventfds, memfds of random sizes, the front-end's own socket end, none),
 * sent to a real back-end in this process over one end of a Unix socketpair
 * (the other end handed to `VhostUserBackend.serveConnection`, so no
 * listen, accept and connect per session), then the connection is closed,
 * sometimes in the middle of a message.
 *
 * A case fails when the back-end ends the session with an error that is
 * not a typed `VirtioError` (no code, or the code of an untyped error a
 * device model threw), when the session does not end after the front-end
 * left (a hang), or when a well-behaved front-end is not served afterwards
 * (features, queue count, and every few cases a block written and read back
 * through a ring). A crash of the process (SIGBUS, say) fails whatever runs
 * it. Every 100 cases and after the run, no descriptor of the back-end may
 * be left open.
 *
 * Deterministic for a seed (random bytes come from a seeded pool). Needs Linux and `--allow-all` (FFI, temp files).
 *
 * @example
 * ```ts ignore
 * import { fuzzVhostUser } from "./vhost_user_fuzz.ts";
 * const r = await fuzzVhostUser({ seed: 1, cases: 200 });
 * console.log(`${r.cases} cases, ${r.failures.length} failures`);
 * ```
 *
 * @module
 */

import { type SessionSummary, VhostUserBackend } from "../../src/transport/vhost_user/backend.ts";
import { VhostUserErrorCode } from "../../src/transport/vhost_user/errors.ts";
import {
  bindUnix,
  closeFd,
  eventfd,
  type Mapping,
  mapShared,
  memfdCreate,
  sendWithFds,
  socketPair,
  unmap,
  writeEventfd,
} from "../../src/transport/vhost_user/_libc.ts";
import {
  configPayload,
  encodeMessage,
  headerFlags,
  inflightPayload,
  memoryTablePayload,
  u64Payload,
  vringAddrPayload,
  vringFdPayload,
  vringStatePayload,
} from "../../src/transport/vhost_user/_protocol.ts";
import {
  VHOST_USER_NEED_REPLY_MASK,
  VhostUserRequest as R,
} from "../../src/generated/vhost_user.ts";
import { BlkDevice, type BlockStorage, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { withSequentialBatch } from "./_batched_storage.ts";
import {
  Front,
  type Harness,
  MEM_SIZE,
  startSplitQueue,
  USER_BASE,
  waitCall,
  withGuest,
} from "../interop/_vhost_user_front.ts";

/** Options of {@link fuzzVhostUser}. */
export interface VhostUserFuzzOptions {
  /** Seed of the case generator: the same seed makes the same cases. */
  readonly seed: number;
  /** Number of hostile sessions. */
  readonly cases: number;
  /**
   * The back-end's `pollRingUs` (default 0): with it, kicks that come in a
   * stream make the back-end look at the hostile rings themselves too.
   */
  readonly pollRingUs?: number;
}

/** One failed case. */
export interface VhostUserFuzzFailure {
  /** The case number (0-based); with the seed, it reproduces the case. */
  readonly case: number;
  /** What went wrong. */
  readonly reason: string;
  /** The messages of the case, as sent (request, flags, payload size, fds). */
  readonly messages: readonly string[];
}

/** What {@link fuzzVhostUser} found. */
export interface VhostUserFuzzResult {
  /** Cases run. */
  readonly cases: number;
  /** Failed cases (empty when the back-end held). */
  readonly failures: VhostUserFuzzFailure[];
  /** How the sessions ended, by error code (`eof` for none). */
  readonly endings: Record<string, number>;
  /**
   * Times the device model met a malformed ring and asked for a reset (a
   * `QueueError` from a chain it popped): the hostile rings reached the engine.
   */
  readonly ringFaults: number;
  /** Kicks served because `pollRingUs` found work on a ring (its `SessionSummary.ringPolls`). */
  readonly ringPolls: number;
  /** Reads and writes the device queued on its storage's batch (odd seeds: storage with one). */
  readonly batched: number;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Patience for a session to end or a valid one to be served; a wedge never ends. */
const PATIENCE_MS = 15_000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what}`)), PATIENCE_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** 1 MiB of random bytes from a fixed seed, made once: random memory and payloads are cut from it. */
let pool: Uint8Array | undefined;
function randomPool(): Uint8Array {
  if (pool === undefined) {
    pool = new Uint8Array(1 << 20);
    const next = rng(0x9002);
    for (let i = 0; i < pool.length; i += 4) {
      new DataView(pool.buffer).setUint32(i, Math.floor(next() * 4294967296), true);
    }
  }
  return pool;
}

/** Fills `b` with random bytes from the pool, at an offset `random` picks. */
function fillRandom(b: Uint8Array, random: () => number): Uint8Array {
  const p = randomPool();
  const from = Math.floor(random() * (p.length - b.length + 1));
  b.set(p.subarray(from, from + b.length));
  return b;
}

let named = 0;

/**
 * A connection to the back-end: a socketpair whose back-end end is handed to
 * `serveConnection`. That end gets a name in the abstract namespace, as an
 * accepted connection has the listening socket's path: the back-end refuses a
 * back-end channel connected to its own address. (Unnamed, a front-end in the
 * same process that passes its own end of the pair as the channel is not told
 * apart from a real channel: both peers have this process's pid. Another
 * process is, by its pid. Such a back-end never sees the front-end leave.)
 */
function connection(backend: VhostUserBackend): { front: Front; ended: Promise<SessionSummary> } {
  const [mine, theirs] = ourSocketPair();
  bindUnix(theirs, `\0typed-virtio-fuzz-${Deno.pid}-${named++}`);
  return { front: new Front(mine), ended: backend.serveConnection(theirs) };
}

/** Cases between two counts of open descriptors (reading /proc/self/fd costs a case's time). */
const FD_CHECK_EVERY = 100;

/** Inodes (`socket:[n]`) of the sockets this fuzzer made. */
const ourSockets = new Set<string>();

function ourSocketPair(): [number, number] {
  const pair = socketPair();
  for (const fd of pair) ourSockets.add(Deno.readLinkSync(`/proc/self/fd/${fd}`));
  return pair;
}

/**
 * Open descriptors of the kinds the fuzzer hands the back-end: its own
 * sockets (and the back-end's copies of them), eventfds and memfds. Sockets
 * of the runtime itself are not counted (the runtime opens a socketpair of
 * its own at some point of a run, which counting every descriptor took for
 * a leak).
 */
function openFds(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
    } catch {
      continue; // the directory's own descriptor, closed by now
    }
    if (
      ourSockets.has(target) || target === "anon_inode:[eventfd]" || target.startsWith("/memfd:")
    ) n++;
  }
  return n;
}

/**
 * Runs `cases` hostile sessions against a vhost-user-blk back-end, each
 * followed by a check that a valid session is served. Resolves with every
 * failure (it does not stop at the first).
 */
export async function fuzzVhostUser(options: VhostUserFuzzOptions): Promise<VhostUserFuzzResult> {
  const random = rng(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const memory = new MemoryStorage(new Uint8Array(64 * 512));
  // An odd seed gives the storage a batch (a pass's reads and writes made at its end, as the
  // back-end's PosixFileStorage has): the device's held-chain path under hostile sessions.
  let batched = 0;
  const storage: BlockStorage = options.seed % 2 === 0
    ? memory
    : withSequentialBatch(memory, () => batched++);
  const device = new BlkDevice({ storage, queueSize: 16, queues: 2 });
  const logs: string[] = [];
  let ringFaults = 0;
  const backend = new VhostUserBackend(device, {
    socketPath: "/nonexistent/fuzz.sock", // never bound: sessions come through serveConnection
    messageTimeoutMs: 50,
    pollRingUs: options.pollRingUs ?? 0,
    log: (level, msg) => {
      if (level === "error" && msg.startsWith("device needs reset")) ringFaults++;
    },
  });
  const h: Harness = { backend, device, storage: memory, logs, path: "" };
  // The guest memory of the valid starts: one memfd and mapping for the run, its first 64 KiB
  // (where the rings go) refilled with random bytes by each case that uses it.
  const guestFd = memfdCreate("fuzz-guest", MEM_SIZE);
  let guestMap: Mapping | undefined;
  const failures: VhostUserFuzzFailure[] = [];
  const endings: Record<string, number> = {};
  ourSockets.clear();
  let fdsBefore = openFds();
  const LEAK_SLACK = 8;
  const requests = Object.values(R);
  // The requests the back-end implements: most cases use these, to get past the first refusal.
  const served = [
    R.VHOST_USER_GET_FEATURES,
    R.VHOST_USER_SET_FEATURES,
    R.VHOST_USER_GET_PROTOCOL_FEATURES,
    R.VHOST_USER_SET_PROTOCOL_FEATURES,
    R.VHOST_USER_SET_OWNER,
    R.VHOST_USER_RESET_OWNER,
    R.VHOST_USER_RESET_DEVICE,
    R.VHOST_USER_GET_QUEUE_NUM,
    R.VHOST_USER_SET_MEM_TABLE,
    R.VHOST_USER_SET_VRING_NUM,
    R.VHOST_USER_SET_VRING_ADDR,
    R.VHOST_USER_SET_VRING_BASE,
    R.VHOST_USER_GET_VRING_BASE,
    R.VHOST_USER_SET_VRING_KICK,
    R.VHOST_USER_SET_VRING_CALL,
    R.VHOST_USER_SET_VRING_ERR,
    R.VHOST_USER_SET_VRING_ENABLE,
    R.VHOST_USER_GET_CONFIG,
    R.VHOST_USER_SET_CONFIG,
    R.VHOST_USER_GET_INFLIGHT_FD,
    R.VHOST_USER_SET_INFLIGHT_FD,
    R.VHOST_USER_SET_BACKEND_REQ_FD,
  ];

  /** Descriptors of one case: closed by the case when it ends. */
  const fdKinds = ["eventfd", "eventfd", "memfd", "smallmemfd", "own", "pair", "none"] as const;
  try {
    for (let c = 0; c < options.cases; c++) {
      const sent: string[] = [];
      const owned: number[] = [];
      const maps: ReturnType<typeof mapShared>[] = [];
      const kicks: number[] = [];
      const { front: f, ended } = connection(backend);
      const fdOf = (kind: (typeof fdKinds)[number]): number[] => {
        switch (kind) {
          case "eventfd": {
            const fd = eventfd();
            owned.push(fd);
            return [fd];
          }
          case "memfd":
          case "smallmemfd": {
            const size = kind === "memfd" ? MEM_SIZE : 4096 * (1 + int(16));
            const fd = memfdCreate("fuzz", size);
            owned.push(fd);
            if (random() < 0.3) {
              // Random bytes where rings may be: the ring engine meets them too.
              const m = mapShared(fd, size);
              maps.push(m);
              fillRandom(new Uint8Array(m.buffer, 0, Math.min(size, 65536)), random);
            }
            return [fd];
          }
          case "own":
            return [f.fd];
          case "pair": {
            const [a, b] = ourSocketPair();
            owned.push(a, b);
            return [b];
          }
          case "none":
            return [];
        }
      };
      const addr = () =>
        pick([0, USER_BASE, USER_BASE + 4096 * int(MEM_SIZE / 4096), int(2 ** 48), 2 ** 53 - 1]);
      const payloadFor = (request: number): Uint8Array => {
        const ring = pick([0, 1, 2, 255]);
        switch (request) {
          case R.VHOST_USER_SET_FEATURES:
          case R.VHOST_USER_SET_PROTOCOL_FEATURES:
            return u64Payload(
              random() < 0.5
                ? BigInt(int(2 ** 32)) * BigInt(int(2 ** 32))
                : (1n << BigInt(int(64))) - 1n,
            );
          case R.VHOST_USER_SET_MEM_TABLE: {
            const n = pick([0, 1, 1, 2, 9]);
            const regions = Array.from({ length: Math.min(n, 8) || 1 }, () => ({
              guestPhysAddr: pick([0, int(MEM_SIZE), int(2 ** 40)]),
              memorySize: pick([MEM_SIZE, 4096, 1 << 24, 1 + int(MEM_SIZE)]),
              userspaceAddr: addr(),
              mmapOffset: pick([0, 4096, int(MEM_SIZE)]),
            }));
            const p = memoryTablePayload(regions);
            if (n === 0 || n === 9) new DataView(p.buffer).setUint32(0, n, true);
            return p;
          }
          case R.VHOST_USER_SET_VRING_NUM:
          case R.VHOST_USER_SET_VRING_BASE:
          case R.VHOST_USER_GET_VRING_BASE:
          case R.VHOST_USER_SET_VRING_ENABLE:
            return vringStatePayload(ring, pick([0, 1, 16, 8, 0xffff, int(2 ** 32)]));
          case R.VHOST_USER_SET_VRING_ADDR:
            return vringAddrPayload({
              index: ring,
              flags: int(2),
              desc: addr(),
              used: addr(),
              avail: addr(),
              log: 0,
            });
          case R.VHOST_USER_SET_VRING_KICK:
          case R.VHOST_USER_SET_VRING_CALL:
          case R.VHOST_USER_SET_VRING_ERR:
            return vringFdPayload(ring, random() < 0.2);
          case R.VHOST_USER_GET_CONFIG:
          case R.VHOST_USER_SET_CONFIG:
            return configPayload(
              pick([0, 8, 60, 95, 200, 300]),
              int(2),
              new Uint8Array(pick([0, 1, 4, 8, 64, 257])),
            );
          case R.VHOST_USER_GET_INFLIGHT_FD:
          case R.VHOST_USER_SET_INFLIGHT_FD:
            return inflightPayload({
              mmapSize: pick([0, 4096, 8320, int(2 ** 20)]),
              mmapOffset: pick([0, 4096, 1]),
              numQueues: pick([0, 1, 2, 2000]),
              queueSize: pick([16, 256, 100, 0]),
            });
          default:
            return fillRandom(new Uint8Array(pick([0, 4, 8, 24, 40])), random);
        }
      };
      try {
        if (random() < 0.6) {
          // A valid start, as QEMU's: protocol features, features, the memory table.
          const start: [number, Uint8Array, number[]][] = [
            [R.VHOST_USER_SET_PROTOCOL_FEATURES, u64Payload(backend.offeredProtocolFeatures), []],
            [R.VHOST_USER_SET_FEATURES, u64Payload(device.features & ~(1n << 34n)), []],
            [
              R.VHOST_USER_SET_MEM_TABLE,
              memoryTablePayload([{
                guestPhysAddr: 0,
                memorySize: MEM_SIZE,
                userspaceAddr: USER_BASE,
                mmapOffset: 0,
              }]),
              [guestFd],
            ],
          ];
          if (random() < 0.5) {
            // Ring 0 started over guest memory full of random bytes, then kicked: the
            // ring engine meets hostile rings through vhost-user.
            const m = guestMap ??= mapShared(guestFd, MEM_SIZE);
            fillRandom(new Uint8Array(m.buffer, 0, 65536), random);
            const size = pick([2, 16]);
            const kick = fdOf("eventfd");
            const used = 4 * int(16384);
            // Mostly resume where the used ring says (a base the ring accepts), sometimes anywhere.
            const usedIdx = new DataView(m.buffer).getUint16(used + 2, true);
            const base = random() < 0.8 ? usedIdx : int(0x10000);
            start.push(
              [R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, size), []],
              [R.VHOST_USER_SET_VRING_BASE, vringStatePayload(0, base), []],
              [
                R.VHOST_USER_SET_VRING_ADDR,
                vringAddrPayload({
                  index: 0,
                  flags: 0,
                  desc: USER_BASE + 16 * int(4096),
                  avail: USER_BASE + 2 * int(32768),
                  used: USER_BASE + used,
                  log: 0,
                }),
                [],
              ],
              [R.VHOST_USER_SET_VRING_CALL, vringFdPayload(0, false), fdOf("eventfd")],
              [R.VHOST_USER_SET_VRING_ERR, vringFdPayload(0, false), fdOf("eventfd")],
              [R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, false), kick],
              [R.VHOST_USER_SET_VRING_ENABLE, vringStatePayload(0, 1), []],
            );
            kicks.push(...kick);
          }
          for (const [request, payload, fds] of start) {
            sendWithFds(f.fd, encodeMessage(request, headerFlags(), payload), fds);
            sent.push(`${request} (valid start)`);
          }
          for (const k of kicks) writeEventfd(k);
          // Let the back-end serve the ring before the rest arrives.
          if (kicks.length > 0) await new Promise((r) => setTimeout(r, 0));
          // With pollRingUs, a second kick soon after the first makes a stream: the back-end
          // then looks at the (hostile) rings itself too.
          if ((options.pollRingUs ?? 0) > 0 && kicks.length > 0) {
            for (const k of kicks) writeEventfd(k);
            await new Promise((r) => setTimeout(r, 0));
          }
        }
        const n = 1 + int(12);
        for (let i = 0; i < n; i++) {
          const request = random() < 0.8
            ? pick(served)
            : random() < 0.8
            ? pick(requests)
            : int(100);
          let bytes = encodeMessage(
            request,
            headerFlags(random() < 0.3 ? VHOST_USER_NEED_REPLY_MASK : 0),
            payloadFor(request),
          );
          const mutation = int(10);
          if (mutation === 0) bytes[int(bytes.length)] ^= 1 << int(8); // a flipped bit
          if (mutation === 1) bytes = bytes.subarray(0, int(bytes.length)); // cut short
          if (mutation === 2) new DataView(bytes.buffer).setUint32(8, int(2 ** 32), true); // any size
          const fds = fdOf(pick(fdKinds));
          sent.push(
            `${request} flags ${bytes[4]} ${bytes.length} bytes fds ${fds.length} m${mutation}`,
          );
          let n2 = -1;
          try {
            n2 = sendWithFds(f.fd, bytes, fds);
          } catch {
            break; // the back-end already closed the connection
          }
          if (n2 !== bytes.length || mutation === 1) break; // the rest stays owed
        }
      } finally {
        f.close();
      }
      try {
        const s = await within(ended, `session of case ${c} did not end after the front-end left`);
        const code = s.end === "error" ? s.code ?? "untyped" : s.end;
        endings[code] = (endings[code] ?? 0) + 1;
        if (s.end === "error" && (s.code === undefined || !s.code.startsWith("ERR_VIRTIO_"))) {
          failures.push({ case: c, reason: `untyped error: ${s.error}`, messages: sent });
        } else if (s.code === VhostUserErrorCode.DEVICE_FAILED) {
          failures.push({ case: c, reason: `a device model threw: ${s.error}`, messages: sent });
        }
        await within(validSession(h, c % 10 === 9), `a valid session after case ${c}`);
        for (const m of maps) unmap(m);
        for (const fd of owned) closeFd(fd);
        maps.length = owned.length = 0;
        // Deno's own descriptors come and go by a few; a leak grows with the cases.
        const open = c % FD_CHECK_EVERY === FD_CHECK_EVERY - 1 ? openFds() : fdsBefore;
        if (open - fdsBefore > LEAK_SLACK) {
          failures.push({
            case: c,
            reason: `${open - fdsBefore} more descriptors open than before the run`,
            messages: sent,
          });
          fdsBefore = open;
        }
      } catch (e) {
        failures.push({
          case: c,
          reason: e instanceof Error ? e.message : String(e),
          messages: sent,
        });
        if (e instanceof Error && e.message.startsWith("hang")) break; // the back-end is wedged
      } finally {
        for (const m of maps) unmap(m);
        for (const fd of owned) closeFd(fd);
      }
    }
  } finally {
    backend.close();
  }
  // Counted before the guest's memfd (open since before the first count) is closed.
  const leaked = openFds() - fdsBefore;
  if (guestMap !== undefined) unmap(guestMap);
  closeFd(guestFd);
  if (leaked > 0) {
    failures.push({
      case: -1,
      reason: `${leaked} descriptor(s) left open after the run`,
      messages: [],
    });
  }
  const ringPolls = backend.sessions.reduce((n, s) => n + s.ringPolls, 0);
  return { cases: options.cases, failures, endings, ringFaults, ringPolls, batched };
}

/** A well-behaved front-end: features and queue count; with `io`, a block written and read back. */
async function validSession(h: Harness, io: boolean): Promise<void> {
  const { front: f, ended } = connection(h.backend);
  try {
    const feats = await f.call(R.VHOST_USER_GET_FEATURES);
    if (feats.payload.length !== 8) throw new Error("GET_FEATURES: no features");
    if (!io) return;
    await withGuest(async (g) => {
      const driver = startSplitQueue<string>(h, f, g);
      const hdr = g.alloc.alloc(16, 8);
      const data = g.alloc.alloc(512, 8);
      const status = g.alloc.alloc(1, 1);
      for (const [type, token] of [[1, "write"], [0, "read"]] as const) {
        g.mem.writeUint32(hdr, type);
        g.mem.writeBigUint64(hdr + 8, 5n);
        if (type === 1) g.mem.bytes(data, 512).fill(0x3c);
        else g.mem.bytes(data, 512).fill(0);
        g.mem.writeUint8(status, 0xff);
        const out = [{ addr: hdr, len: 16 }, ...(type === 1 ? [{ addr: data, len: 512 }] : [])];
        const inn = [...(type === 0 ? [{ addr: data, len: 512 }] : []), { addr: status, len: 1 }];
        driver.addSgs(out, inn, token);
        driver.kick();
        writeEventfd(g.kick); // always: the back-end's notification state is not under test here
        await waitCall(g.call);
        if (driver.getBuf()?.token !== token || g.mem.readUint8(status) !== 0) {
          throw new Error(`the valid session's ${token} did not complete`);
        }
      }
      if (!g.mem.bytes(data, 512).every((b) => b === 0x3c)) {
        throw new Error("the valid session read back other data than it wrote");
      }
      // Two reads published before one kick: one pass of two chains (a storage batch, if any).
      const pair = [0, 1].map(() => ({
        hdr: g.alloc.alloc(16, 8),
        data: g.alloc.alloc(512, 8),
        status: g.alloc.alloc(1, 1),
      }));
      for (const [i, r] of pair.entries()) {
        g.mem.writeUint32(r.hdr, 0);
        g.mem.writeBigUint64(r.hdr + 8, 5n);
        g.mem.writeUint8(r.status, 0xff);
        driver.addSgs([{ addr: r.hdr, len: 16 }], [{ addr: r.data, len: 512 }, {
          addr: r.status,
          len: 1,
        }], `pair ${i}`);
      }
      driver.kick();
      writeEventfd(g.kick);
      const done = new Set<string>();
      while (done.size < 2) {
        await waitCall(g.call);
        for (let b = driver.getBuf(); b !== null; b = driver.getBuf()) done.add(b.token);
      }
      for (const r of pair) {
        if (g.mem.readUint8(r.status) !== 0 || !g.mem.bytes(r.data, 512).every((b) => b === 0x3c)) {
          throw new Error("the valid session's pair of reads did not complete with the data");
        }
      }
    });
  } finally {
    f.close();
    await ended;
  }
}
