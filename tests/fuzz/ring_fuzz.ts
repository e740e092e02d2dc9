/**
 * The ring fuzzer: hostile split and packed rings for every layout and
 * feature set, served by the engine's device side, and hostile used rings
 * read by its driver side. A case fails when
 *
 * - an exception is not a typed `VirtioError` (a `RangeError` from a
 *   `DataView` would mean an access outside guest memory);
 * - a popped chain has a segment outside guest memory, readable after
 *   writable, or more descriptors than the cap;
 * - a byte outside guest memory changed (guard bytes around each region of
 *   the same `ArrayBuffer`), or the driver handed back a token it never
 *   gave, or the same token twice;
 * - a mistake of the engine's own caller, made now and then, is accepted
 *   instead of refused with a `QueueError`: a typed access across the end of
 *   a chain's part, a segment index past it, a chain used twice, a buffer
 *   without a token or elements, with an element no buffer can be, or of
 *   more than 2^32 - 1 bytes, rings at an odd byte of a shared buffer (and a
 *   device restored to positions that do not fit together, a packed driver
 *   that laps the device);
 * - an operation does not return (every loop here is bounded, so a hang is
 *   the engine's; `scripts/fuzz.ts` runs fuzzers in a worker with a
 *   watchdog).
 *
 * Cases are deterministic in `(seed, index)`: `fuzzRings({ seed, cases,
 * first: index })` replays one. A failure carries its input (features, ring
 * size and the memory image before the first operation), so a reproducer
 * file holds everything needed.
 *
 * @module
 */

import { VirtioError } from "../../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  createDeviceQueue,
  createDriverQueue,
  type DescriptorChain,
  type QueueOptions,
} from "../../src/virtqueue/mod.ts";

/** Options of a fuzzer run. */
export interface FuzzOptions {
  /** The run's seed; case `i` is derived from `(seed, i)`. */
  seed: number;
  /** Number of cases to run. */
  cases: number;
  /** Index of the first case (to replay one: `first: i, cases: 1`). */
  first?: number;
}

/** One failing case. */
export interface FuzzFailure {
  fuzzer: string;
  seed: number;
  /** The case index within the run. */
  case: number;
  error: string;
  /** What the case was made of, enough to reproduce it without the generator. */
  input: unknown;
}

/** What a fuzzer run found. */
export interface FuzzResult {
  cases: number;
  failures: FuzzFailure[];
}

/** A small, fast, seedable generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A case's seed from the run's seed and the case index. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

const GUARD = 64;
const GUARD_BYTE = 0xa5;
/** Region A holds the rings, tables and most buffers; region B lies past a gap. */
const BASE_A = 0x10000, SIZE_A = 0x6000;
const BASE_B = 0x20000, SIZE_B = 0x1000;
const DESC = BASE_A, DRIVER = BASE_A + 0x1000, DEVICE = BASE_A + 0x1800;
const TABLES = BASE_A + 0x2000;
const BUFFERS = BASE_A + 0x3000;

const NEXT = 1, WRITE = 2, INDIRECT = 4, AVAIL = 1 << 7, USED = 1 << 15;

interface Backing {
  buffer: ArrayBuffer;
  a: Uint8Array;
  b: Uint8Array;
}

function backing(): Backing {
  const buffer = new ArrayBuffer(GUARD + SIZE_A + GUARD + SIZE_B + GUARD);
  new Uint8Array(buffer).fill(GUARD_BYTE);
  const a = new Uint8Array(buffer, GUARD, SIZE_A);
  const b = new Uint8Array(buffer, GUARD + SIZE_A + GUARD, SIZE_B);
  a.fill(0);
  b.fill(0);
  return { buffer, a, b };
}

function guardsIntact(m: Backing): boolean {
  const all = new Uint8Array(m.buffer);
  const ranges = [
    [0, GUARD],
    [GUARD + SIZE_A, GUARD + SIZE_A + GUARD],
    [all.length - GUARD, all.length],
  ];
  for (const [s, e] of ranges) for (let i = s; i < e; i++) if (all[i] !== GUARD_BYTE) return false;
  return true;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

class CaseFault extends Error {}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new CaseFault(what);
}

/** Runs one operation; a typed error is an accepted outcome, anything else fails the case. */
function attempt<R>(fn: () => R): R | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VirtioError) return undefined;
    throw e;
  }
}

function checkChain(c: DescriptorChain, mem: GuestMemory, size: number): void {
  let seenWritable = false;
  let r = 0, w = 0;
  for (let i = 0; i < c.length; i++) {
    expect(mem.findRegion(c.addr(i), c.len(i)) >= 0, `segment ${i} outside guest memory`);
    if (c.isWritable(i)) {
      seenWritable = true;
      w += c.len(i);
    } else {
      expect(!seenWritable, `segment ${i} readable after writable`);
      r += c.len(i);
    }
  }
  expect(r === c.readableLength && w === c.writableLength, "chain lengths do not add up");
  expect(r + w <= 0xffffffff, "chain longer than 2^32 - 1 bytes");
  expect(c.length <= Math.max(size, 1024), "chain longer than the cap");
}

interface CaseInput {
  packed: boolean;
  eventIdx: boolean;
  indirect: boolean;
  inOrder: boolean;
  size: number;
  structured: boolean;
}

function runCase(s: number, input: { value?: CaseInput; image?: Uint8Array }): void {
  const r = rng(s);
  const int = (n: number) => Math.floor(r() * n);
  const packed = r() < 0.5;
  const c: CaseInput = {
    packed,
    eventIdx: r() < 0.5,
    indirect: r() < 0.7,
    inOrder: r() < 0.3,
    size: packed ? 1 + int(16) : 1 << int(5),
    structured: r() < 0.85,
  };
  input.value = c;
  const m = backing();
  const mem = new GuestMemory([{ base: BASE_A, buffer: m.a }, { base: BASE_B, buffer: m.b }]);
  const va = new DataView(m.a.buffer, m.a.byteOffset, m.a.byteLength);
  const opts: QueueOptions = { ...c, index: 7 };
  const addrs = { size: c.size, desc: DESC, driver: DRIVER, device: DEVICE };
  const size = c.size;

  const addr = () => {
    const k = int(12);
    if (k < 6) return BUFFERS + int(0x2800); // inside A
    if (k < 7) return BASE_A + SIZE_A - int(64); // near A's end
    if (k < 8) return BASE_B - int(0x40); // in the gap, or just before B
    if (k < 9) return BASE_B + int(SIZE_B); // inside B
    if (k < 10) return TABLES + 16 * int(64); // on an indirect table
    if (k < 11) return int(BASE_A); // below memory
    return int(2 ** 21) * 2 ** 32 + int(2 ** 32); // far away (up to 2^53)
  };
  const len = () =>
    [0, 1, 8, 16, 32, 48, 24, 0xffffffff, 0x80000000, int(4096), int(64) * 16, 16 * 2000][int(12)];
  const flags = () =>
    (r() < 0.75 ? int(8) : int(0x10000)) |
    (packed ? [AVAIL, AVAIL, USED, AVAIL | USED, 0][int(5)] : 0);
  const writeDesc = (o: number) => {
    const a = addr();
    va.setUint32(o - BASE_A, a % 2 ** 32, true);
    va.setUint32(o - BASE_A + 4, Math.floor(a / 2 ** 32), true);
    va.setUint32(o - BASE_A + 8, len(), true);
    va.setUint16(o - BASE_A + 12, packed ? int(size + 2) : flags(), true);
    va.setUint16(o - BASE_A + 14, packed ? flags() : int(size + 2), true);
  };
  /** A well-formed chain of `n` descriptors from `at`, links `next` (split) or sequential (packed). */
  const chainAt = (base: number, start: number, n: number, tableLen: number) => {
    for (let i = 0; i < n; i++) {
      const o = base - BASE_A + 16 * ((start + i) % tableLen);
      const w = i >= n >> 1;
      va.setUint32(o, BUFFERS + 64 * int(128), true);
      va.setUint32(o + 4, 0, true);
      va.setUint32(o + 8, int(64), true);
      const f = (w ? WRITE : 0) | (i + 1 < n ? NEXT : 0);
      if (packed) {
        va.setUint16(o + 12, int(size), true);
        va.setUint16(o + 14, f | AVAIL, true);
      } else {
        va.setUint16(o + 12, f, true);
        va.setUint16(o + 14, (start + i + 1) % tableLen, true);
      }
    }
  };
  const scribble = () => {
    if (!c.structured) {
      for (let i = 0; i < 0x2000; i++) m.a[i] = int(256);
      return;
    }
    for (let i = 0; i < size; i++) writeDesc(DESC + 16 * i);
    for (let i = 0; i < 64; i++) writeDesc(TABLES + 16 * i);
    // Some well-formed chains among the noise, so the fuzzer gets past the first checks.
    if (r() < 0.5) chainAt(DESC, int(size), 1 + int(Math.min(size, 4)), size);
    if (r() < 0.5) chainAt(TABLES, 16 * int(4), 1 + int(8), 64);
    if (r() < 0.3) {
      // A descriptor pointing at (part of) the tables, which may hold such a chain.
      const o = DESC - BASE_A + 16 * int(size);
      va.setUint32(o, TABLES + 16 * int(64), true);
      va.setUint32(o + 4, 0, true);
      va.setUint32(o + 8, 16 * (1 + int(9)), true);
      if (packed) va.setUint16(o + 14, INDIRECT | AVAIL, true);
      else va.setUint16(o + 12, INDIRECT, true);
    }
    if (!packed) {
      va.setUint16(DRIVER - BASE_A, int(4), true);
      va.setUint16(DRIVER - BASE_A + 2, r() < 0.8 ? int(size + 2) : int(0x10000), true);
      for (let i = 0; i < size + 1; i++) {
        va.setUint16(DRIVER - BASE_A + 4 + 2 * i, int(size + 2), true);
      }
    } else {
      va.setUint32(DRIVER - BASE_A, int(2 ** 32), true);
    }
  };

  if (r() < 0.7) {
    // The device side against a hostile driver.
    scribble();
    input.image = m.a.slice(0, 0x3000);
    const q = createDeviceQueue(mem, addrs, opts);
    const held: DescriptorChain[] = [];
    const ops = 3 * size + 6;
    for (let i = 0; i < ops; i++) {
      if (r() < 0.05) scribble(); // the driver changes things under the device's feet
      if (packed && held.length > 0 && r() < 0.05) {
        // The driver laps the device: every descriptor a one-descriptor buffer available to
        // the device's next `size` pops, while it still holds some (2.8.21: the driver must
        // not; the device may hold at most `size` chains).
        const pos = q.position();
        const wrap = pos.availWrap ?? 1;
        for (let slot = 0; slot < size; slot++) {
          const w = slot >= pos.availIdx ? wrap : 1 - wrap;
          const o = DESC - BASE_A + 16 * slot;
          va.setUint32(o, BUFFERS + 64 * int(128), true);
          va.setUint32(o + 4, 0, true);
          va.setUint32(o + 8, 16, true);
          va.setUint16(o + 12, slot, true);
          va.setUint16(o + 14, (w ? AVAIL : USED) | (r() < 0.5 ? WRITE : 0), true);
        }
      }
      const k = int(10);
      if (k < 6) {
        const chain = attempt(() => q.pop());
        if (chain) {
          checkChain(chain, mem, size);
          held.push(chain);
        }
      } else if (k < 8 && held.length > 0) {
        const j = opts.inOrder && r() < 0.8 ? 0 : int(held.length);
        const h = held[j];
        const n = int(h.writableLength + 2); // one past the end now and then
        attempt(() => h.write(0, new Uint8Array(Math.min(n, 256)).fill(0x5a)));
        if (r() < 0.1) {
          // Our caller's mistakes: typed accesses across the end of either part, a segment
          // index past the chain. Each must be a QueueError (and a write past the end must
          // not land outside the chain: the guard bytes and chain checks still hold).
          const wrong: Array<() => unknown> = [
            () => h.readUint32(Math.max(0, h.readableLength - 2) + int(4)),
            () => h.writeUint16(Math.max(0, h.writableLength - 1) + int(3), 0x5a5a),
            () => h.len(h.length + int(2)),
          ];
          for (const w of wrong) {
            const ok = attempt(() => {
              w();
              return true;
            });
            expect(ok === undefined, "an access past the chain was accepted");
          }
        }
        const used = attempt(() => {
          q.pushUsed(h, n);
          return true;
        });
        if (used) {
          held.splice(j, 1);
          // The same chain used twice (before a pop can recycle it): refused.
          if (r() < 0.05) {
            const twice = attempt(() => {
              q.pushUsed(h, 0);
              return true;
            });
            expect(twice === undefined, "a chain was used twice");
          }
        }
        if (r() < 0.5) attempt(() => q.flushUsed());
      } else if (k < 9) {
        attempt(() => q.needsNotification());
        attempt(() => (r() < 0.5 ? q.enableNotification() : q.disableNotification()));
      } else {
        const p = q.position();
        const k2 = int(4);
        attempt(() =>
          q.restore(
            k2 < 2
              ? p
              : k2 < 3
              ? { availIdx: int(0x10002) - 1, usedIdx: int(size + 2), availWrap: int(3) }
              // Fields in range that may not fit together (packed: used more than a lap behind).
              : { availIdx: int(size), availWrap: int(2), usedIdx: int(size), usedWrap: int(2) },
          )
        );
      }
    }
    expect(q.inFlight <= size, "more chains in flight than the queue size");
  } else {
    // The driver side against a hostile device.
    const alloc = new DmaAllocator(TABLES, 0x1000);
    const d = createDriverQueue<number>(mem, addrs, opts, alloc);
    const given = new Set<number>();
    const back = new Set<number>();
    let token = 0;
    input.image = m.a.slice(0, 0x3000);
    const ops = 4 * size + 8;
    for (let i = 0; i < ops; i++) {
      const k = int(10);
      if (k < 4) {
        const out = Array.from(
          { length: int(3) },
          () => ({ addr: BUFFERS + 64 * int(128), len: int(64) }),
        );
        const inn = Array.from(
          { length: int(3) },
          () => ({ addr: BUFFERS + 64 * int(128), len: int(64) }),
        );
        const t = token++;
        const added = attempt(() => {
          d.addSgs(out, inn, t);
          return true;
        });
        if (added) given.add(t);
        if (r() < 0.1) {
          // Our caller's mistakes, refused without adding: no token, no elements, an element
          // no buffer can be, more than 2^32 - 1 bytes in all.
          const sg = { addr: BUFFERS, len: 16 };
          const wrong: Array<() => void> = [
            () => d.addSgs([sg], [], undefined as unknown as number),
            () => d.addSgs([], [], token),
            () => d.addSgs([{ addr: [-1, 0.5, 2 ** 53][int(3)], len: 16 }], [], token),
            () => d.addSgs([sg], [{ addr: BUFFERS, len: [-1, 2 ** 32, 1.5][int(3)] }], token),
            () => d.addSgs([{ addr: BUFFERS, len: 0xffffffff }, sg], [], token),
          ];
          const added = attempt(() => {
            wrong[int(wrong.length)]();
            return true;
          });
          expect(added === undefined, "a wrong buffer was added");
        }
        attempt(() => d.kick());
      } else if (k < 7) {
        // The device writes something: a used entry, an index, flags, an event.
        const o = packed
          ? DESC + 16 * int(size) + [8, 12, 14][int(3)]
          : DEVICE + [0, 2, 4 + 8 * int(size), 8 + 8 * int(size), 4 + 8 * size][int(5)];
        if (o + 4 <= BASE_A + SIZE_A) {
          if (r() < 0.5) va.setUint16(o - BASE_A, r() < 0.5 ? int(size + 3) : int(0x10000), true);
          else va.setUint32(o - BASE_A, r() < 0.5 ? int(130) : int(2 ** 32), true);
        }
        if (packed && r() < 0.5) {
          // A plausible used descriptor at the driver's next position.
          const o2 = DESC - BASE_A + 16 * int(size);
          va.setUint16(o2 + 12, int(size + 1), true);
          va.setUint32(o2 + 8, int(200), true);
          va.setUint16(o2 + 14, [AVAIL | USED | WRITE, 0, AVAIL | USED][int(3)], true);
        }
      } else if (k < 9) {
        const got = attempt(() => d.getBuf());
        if (got) {
          expect(given.has(got.token), `token ${got.token} was never given`);
          expect(!back.has(got.token), `token ${got.token} came back twice`);
          back.add(got.token);
        }
      } else {
        attempt(() => (r() < 0.5 ? d.enableCb() : d.enableCbDelayed()));
        if (r() < 0.3) attempt(() => d.disableCb());
      }
    }
    expect(d.inFlight >= 0 && d.inFlight <= size, "driver in-flight count out of range");
    expect(d.numFree >= 0 && d.numFree <= size, "driver free count out of range");
  }
  expect(guardsIntact(m), "a byte outside guest memory changed");
  if (r() < 0.02) {
    // Our caller's mistake in setting memory up: rings in a shared buffer at an odd byte, where
    // atomic 16-bit access cannot go. Refused when the queue is made.
    const odd = new Uint8Array(new SharedArrayBuffer(SIZE_A + 1), 1);
    const sharedMem = new GuestMemory([{ base: BASE_A, buffer: odd }]);
    const made = attempt(() =>
      r() < 0.5
        ? createDeviceQueue(sharedMem, addrs, opts)
        : createDriverQueue(sharedMem, addrs, opts, new DmaAllocator(TABLES, 0x1000))
    );
    expect(made === undefined, "a ring at an odd byte of a shared buffer was accepted");
  }
}

/**
 * Runs `cases` hostile-ring cases from `seed` (see the module doc);
 * returns how many ran and the failures.
 *
 * @example
 * ```ts
 * import { fuzzRings } from "./ring_fuzz.ts";
 * const { cases, failures } = fuzzRings({ seed: 1, cases: 50 });
 * if (cases !== 50 || failures.length !== 0) throw new Error("unreachable");
 * ```
 */
export function fuzzRings(opts: FuzzOptions): FuzzResult {
  const failures: FuzzFailure[] = [];
  const first = opts.first ?? 0;
  for (let i = first; i < first + opts.cases; i++) {
    const input: { value?: CaseInput; image?: Uint8Array } = {};
    try {
      runCase(caseSeed(opts.seed, i), input);
    } catch (e) {
      failures.push({
        fuzzer: "rings",
        seed: opts.seed,
        case: i,
        error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e),
        input: {
          caseSeed: caseSeed(opts.seed, i),
          ...input.value,
          // Guest memory from 0x10000 before the first operation (rings, tables, buffers).
          image: input.image && toBase64(input.image),
        },
      });
    }
  }
  return { cases: opts.cases, failures };
}
