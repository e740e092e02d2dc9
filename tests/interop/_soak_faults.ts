/**
 * The fault hooks the soaks with faults share (issue 18): the QEMU soak's
 * vhost-user back-end (tests/interop/_soak_backend.ts) and the v86 soak's
 * in-process host (tests/hosts/v86/_soak_host.ts).
 *
 * - {@link mulberry32}: a seeded PRNG, so that a seed names a fault plan.
 * - {@link FaultStorage}: a {@link BlockStorage} that refuses requests with
 *   ENOSPC (writes only, as a full file system) or EIO (every request) while
 *   a fault is set, and counts what it refused.
 * - {@link HoldStorage}: a {@link BlockStorage} that stops answering after
 *   a number of writes (a hung disk), until released.
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

/** A request {@link HoldStorage} holds: its kind and where it was. */
export interface HeldRequest {
  /** Discard and write zeroes change the disk: they count as writes. */
  readonly kind: "read" | "write" | "discard" | "write-zeroes" | "flush";
  readonly offset: number;
  readonly length: number;
}

/**
 * Storage that hangs, as a disk that stops answering: the first `after`
 * writes pass to the inner storage (with every read and flush around them),
 * and from the next write on every request is held: its promise settles only
 * at {@link HoldStorage.release}, which fails it (ERR_VIRTIO_DEVICE_BLK_IO)
 * without touching its buffers, so a request held across the end of its
 * session never reaches guest memory that is gone. The hang starts with a
 * write, so the guest then has a write in flight at the device for as long
 * as the hold lasts: what a fault test needs to kill a peer with writes in
 * flight without racing the guest.
 */
export class HoldStorage implements BlockStorage {
  /** Held requests settle later: the device then serves them through its own buffers. */
  readonly isAsync = true;
  readonly #inner: BlockStorage;
  readonly #onHold: (r: HeldRequest) => void;
  #writesLeft: number;
  #holding = false;
  readonly #held: ((e: DeviceError) => void)[] = [];

  /** Passes `after` writes to `inner`, then holds; `onHold` hears of every held request. */
  constructor(inner: BlockStorage, after: number, onHold: (r: HeldRequest) => void) {
    this.#inner = inner;
    this.#writesLeft = after;
    this.#onHold = onHold;
  }

  /** The inner storage's size. */
  get size(): number {
    return this.#inner.size;
  }

  /** Requests held now. */
  get held(): number {
    return this.#held.length;
  }

  /** Stops holding: every held request fails, and later ones pass. */
  release(): void {
    this.#holding = false;
    this.#writesLeft = Infinity;
    const failed = this.#held.splice(0);
    for (const fail of failed) {
      fail(
        new DeviceError("virtio-blk: the held request was released (injected: a hung disk)", {
          code: "ERR_VIRTIO_DEVICE_BLK_IO",
        }),
      );
    }
  }

  /** The inner storage's `canUnmap`: the device's config space is the one it would have. */
  get canUnmap(): boolean {
    return this.#inner.canUnmap ?? false;
  }

  /** Whether a request of `kind` is held (a write past the count starts the hold). */
  #holds(kind: HeldRequest["kind"]): boolean {
    const write = kind !== "read" && kind !== "flush";
    if (!this.#holding && write && this.#writesLeft-- <= 0) this.#holding = true;
    return this.#holding;
  }

  #hold(kind: HeldRequest["kind"], offset: number, length: number): Promise<void> {
    const p = new Promise<void>((_, reject) => this.#held.push(reject));
    this.#onHold({ kind, offset, length });
    return p;
  }

  /** Reads from the inner storage, unless held. */
  read(offset: number, dst: Uint8Array): MaybePromise<void> {
    if (this.#holds("read")) return this.#hold("read", offset, dst.length);
    return this.#inner.read(offset, dst);
  }

  /** Writes to the inner storage, unless held. */
  write(offset: number, src: Uint8Array): MaybePromise<void> {
    if (this.#holds("write")) return this.#hold("write", offset, src.length);
    return this.#inner.write(offset, src);
  }

  /** Discards on the inner storage (if it can), unless held. */
  discard(offset: number, length: number): MaybePromise<void> {
    if (this.#holds("discard")) return this.#hold("discard", offset, length);
    return this.#inner.discard?.(offset, length);
  }

  /** Writes zeroes on the inner storage (its `writeZeroes`, or a write), unless held. */
  writeZeroes(offset: number, length: number, unmap: boolean): MaybePromise<void> {
    if (this.#holds("write-zeroes")) return this.#hold("write-zeroes", offset, length);
    if (this.#inner.writeZeroes !== undefined) {
      return this.#inner.writeZeroes(offset, length, unmap);
    }
    return this.#inner.write(offset, new Uint8Array(length));
  }

  /** Flushes the inner storage, unless held. */
  flush(): MaybePromise<void> {
    if (this.#holds("flush")) return this.#hold("flush", 0, 0);
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
