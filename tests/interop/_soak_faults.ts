/**
 * The fault hooks the soaks with faults share (issue 18): the QEMU soak's
 * vhost-user back-end (tests/interop/_soak_backend.ts) and the v86 soak's
 * in-process host (tests/hosts/v86/_soak_host.ts).
 *
 * - {@link mulberry32}: a seeded PRNG, so that a seed names a fault plan.
 * - {@link FaultStorage}: a {@link BlockStorage} that refuses requests with
 *   ENOSPC (writes only, as a full file system) or EIO (every request) while
 *   a fault is set, and counts what it refused.
 * - {@link RandomNotifyFaults}: a {@link NotifyFaults} that drops and delays
 *   kicks and calls at random while on, with a watchdog that delivers a
 *   dropped one late.
 *
 * @module
 */

import type { NotifyFault, NotifyFaults } from "../../src/transport/vhost_user/mod.ts";
import type { BlockStorage, MaybePromise } from "../../src/devices/blk/mod.ts";
import { DeviceError } from "../../src/errors.ts";

/** A seeded PRNG (mulberry32): the same seed, the same faults. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A storage fault: the host's errno a request meets. */
export type StorageFault = "ENOSPC" | "EIO";

/** What {@link FaultStorage} refused, by kind of request. */
export interface Refusals {
  reads: number;
  writes: number;
  flushes: number;
}

/**
 * Storage that refuses requests while {@link FaultStorage.fault} is set:
 * with `"ENOSPC"` every write (and write zeroes) fails, as a full file system
 * refuses an allocating write, and reads and flushes pass; with `"EIO"` every
 * read, write and flush fails, as a failing disk. The error is the same
 * {@link DeviceError} `ERR_VIRTIO_DEVICE_BLK_IO` a real failed host call
 * gives; the device must complete the request with VIRTIO_BLK_S_IOERR.
 * Nothing of a refused write reaches the inner storage.
 */
export class FaultStorage implements BlockStorage {
  /** The fault in force, if any. */
  fault: StorageFault | undefined = undefined;
  /** Requests refused so far. */
  readonly refused: Refusals = { reads: 0, writes: 0, flushes: 0 };
  readonly #inner: BlockStorage;
  readonly #name: string;

  /** Faults in front of `inner` (`name` for messages, e.g. the image's path). */
  constructor(inner: BlockStorage, name: string) {
    this.#inner = inner;
    this.#name = name;
  }

  /** The inner storage's size. */
  get size(): number {
    return this.#inner.size;
  }

  /** Every request refused so far. */
  get refusedTotal(): number {
    return this.refused.reads + this.refused.writes + this.refused.flushes;
  }

  #check(kind: keyof Refusals, offset: number, length: number): void {
    const f = this.fault;
    if (f === undefined || (f === "ENOSPC" && kind !== "writes")) return;
    this.refused[kind]++;
    throw new DeviceError(
      `virtio-blk: ${kind.slice(0, -1)} of ${length} bytes at ${offset} on ${this.#name} ` +
        `failed: ${f} (injected: ${f === "ENOSPC" ? "the storage is full" : "a failing disk"})`,
      { code: "ERR_VIRTIO_DEVICE_BLK_IO" },
    );
  }

  /** Reads from the inner storage, unless refused. */
  read(offset: number, dst: Uint8Array): MaybePromise<void> {
    this.#check("reads", offset, dst.length);
    return this.#inner.read(offset, dst);
  }

  /** Scatter read (the inner storage's `readv`, or `read` per buffer), unless refused. */
  readv(offset: number, dsts: readonly Uint8Array[]): MaybePromise<void> {
    let n = 0;
    for (const d of dsts) n += d.length;
    this.#check("reads", offset, n);
    if (this.#inner.readv !== undefined) return this.#inner.readv(offset, dsts);
    return sequence(dsts, offset, (o, d) => this.#inner.read(o, d));
  }

  /** Writes to the inner storage, unless refused. */
  write(offset: number, src: Uint8Array): MaybePromise<void> {
    this.#check("writes", offset, src.length);
    return this.#inner.write(offset, src);
  }

  /** Gather write (the inner storage's `writev`, or `write` per buffer), unless refused. */
  writev(offset: number, srcs: readonly Uint8Array[]): MaybePromise<void> {
    let n = 0;
    for (const s of srcs) n += s.length;
    this.#check("writes", offset, n);
    if (this.#inner.writev !== undefined) return this.#inner.writev(offset, srcs);
    return sequence(srcs, offset, (o, s) => this.#inner.write(o, s));
  }

  /** Writes zeroes (a write: refused while the storage is full). */
  writeZeroes(offset: number, length: number, _unmap: boolean): MaybePromise<void> {
    this.#check("writes", offset, length);
    return this.#inner.write(offset, new Uint8Array(length));
  }

  /** Flushes the inner storage, unless refused (EIO only). */
  flush(): MaybePromise<void> {
    this.#check("flushes", 0, 0);
    return this.#inner.flush();
  }
}

/** Runs `op` on each buffer at consecutive offsets, waiting for each when it returns a promise. */
function sequence(
  bufs: readonly Uint8Array[],
  offset: number,
  op: (offset: number, buf: Uint8Array) => MaybePromise<void>,
): MaybePromise<void> {
  const copy = [...bufs]; // the caller's array is reused after the call
  let at = offset;
  for (let i = 0; i < copy.length; i++) {
    const r = op(at, copy[i]);
    at += copy[i].length;
    if (r instanceof Promise) {
      return r.then(() => sequence(copy.slice(i + 1), at, op));
    }
  }
}

/** How often {@link RandomNotifyFaults} drops and delays a notification while on. */
export interface NotifyFaultRates {
  /** The share of notifications dropped (default 0.15). */
  readonly drop?: number;
  /** The share delayed by 1 to 200 ms (default 0.2). */
  readonly delay?: number;
}

/** Drops (recovered by a watchdog) and delays kicks and calls at random while on. */
export class RandomNotifyFaults implements NotifyFaults {
  /** Faults are injected while set. */
  on = false;
  /** Counts of what was done. */
  readonly counts = { kicksDropped: 0, kicksDelayed: 0, callsDropped: 0, callsDelayed: 0 };
  readonly #random: () => number;
  readonly #drop: number;
  readonly #delay: number;
  #deliver: ((kind: "kick" | "call", index: number) => void) | undefined;

  /** Faults drawn from `random` (e.g. {@link mulberry32}) at `rates`. */
  constructor(random: () => number, rates: NotifyFaultRates = {}) {
    this.#random = random;
    this.#drop = rates.drop ?? 0.15;
    this.#delay = rates.delay ?? 0.2;
  }

  /** Where the watchdog delivers a dropped kick or call. */
  attach(deliver: (kind: "kick" | "call", index: number) => void): void {
    this.#deliver = deliver;
  }

  #fate(kind: "kick" | "call", index: number): NotifyFault {
    if (!this.on) return "deliver";
    const x = this.#random();
    if (x < this.#drop) {
      if (kind === "kick") this.counts.kicksDropped++;
      else this.counts.callsDropped++;
      // The watchdog: a lost notification is delivered late, once.
      const deliver = this.#deliver;
      setTimeout(() => deliver?.(kind, index), 100 + Math.floor(this.#random() * 900));
      return "drop";
    }
    if (x < this.#drop + this.#delay) {
      if (kind === "kick") this.counts.kicksDelayed++;
      else this.counts.callsDelayed++;
      return 1 + Math.floor(this.#random() * 200);
    }
    return "deliver";
  }

  /** The fate of a kick of queue `index`. */
  kick(index: number): NotifyFault {
    return this.#fate("kick", index);
  }

  /** The fate of a call (used-buffer notification) of queue `index`. */
  call(index: number): NotifyFault {
    return this.#fate("call", index);
  }
}
