// Private helpers shared by the split and packed rings: event-index
// arithmetic, memory fences, a small index FIFO, and ring-area placement.

import { QueueError } from "../errors.ts";
import type { GuestMemory, MemoryRegion } from "../memory.ts";

/**
 * 2.7.7.2 / 2.7.10: the event-index rule (Linux's `vring_need_event`), in
 * 16-bit arithmetic: notify when `event` lies in the half-open window
 * `(old, new]` that the index just moved through.
 */
export function needEvent(event: number, newIdx: number, old: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

/**
 * The same rule for packed rings, whose positions are (offset, wrap counter)
 * pairs. A pair maps to a linear position modulo 2 * size (wrap counter 1 is
 * the first lap), so crossing the end of the ring is one step like any other.
 */
export function linearPosition(offset: number, wrap: number, size: number): number {
  return wrap ? offset : offset + size;
}

/**
 * One field of a position given to `DeviceQueue.restore`: `value` (or
 * `fallback` when absent) as an integer in 0..max, else a `QueueError`.
 */
export function positionField(
  queue: number,
  name: string,
  value: number | undefined,
  fallback: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new QueueError(queue, undefined, `restore: ${name} ${v} is outside 0..${max}`);
  }
  return v;
}

/**
 * A `QueueError` for `restore` on a queue whose device still holds chains
 * or has used entries staged and not flushed (nothing is dropped silently).
 */
export function restoreBusy(queue: number, inFlight: number): never {
  throw new QueueError(
    queue,
    undefined,
    inFlight > 0
      ? `restore: ${inFlight} chains are still in flight; use them first`
      : "restore: used entries are staged; flushUsed() first",
  );
}

/** {@link needEvent} on linear packed positions modulo `2 * size`. */
export function needEventPacked(event: number, newPos: number, old: number, size: number): boolean {
  const m = 2 * size;
  return (((newPos - event - 1) % m) + m) % m < (((newPos - old) % m) + m) % m;
}

// A full fence for rings in shared memory: the spec's memory barriers
// (2.7.13, 2.8.21). An Atomics read-modify-write is sequentially consistent,
// and engines compile it to a full barrier; plain DataView accesses are not
// reordered across it.
const fenceCell: Int32Array | undefined = typeof SharedArrayBuffer === "undefined"
  ? undefined
  : new Int32Array(new SharedArrayBuffer(4));

/** Issues a memory fence (a no-op when shared memory is unavailable). */
export function fence(): void {
  if (fenceCell !== undefined) Atomics.add(fenceCell, 0, 0);
}

/** A FIFO of 16-bit indices with a fixed capacity; allocates nothing after construction. */
export class IndexFifo {
  #buf: Uint16Array;
  #head = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#buf = new Uint16Array(capacity);
  }

  get length(): number {
    return this.#count;
  }

  /** Empties the FIFO. */
  clear(): void {
    this.#head = 0;
    this.#count = 0;
  }

  push(v: number): void {
    const cap = this.#buf.length;
    let i = this.#head + this.#count;
    if (i >= cap) i -= cap;
    this.#buf[i] = v;
    this.#count++;
  }

  /** The oldest entry (undefined behaviour when empty: check `length`). */
  peek(): number {
    return this.#buf[this.#head];
  }

  /** The entry `k` places after the oldest. */
  peekAt(k: number): number {
    let i = this.#head + k;
    if (i >= this.#buf.length) i -= this.#buf.length;
    return this.#buf[i];
  }

  shift(): number {
    const v = this.#buf[this.#head];
    this.#head++;
    if (this.#head === this.#buf.length) this.#head = 0;
    this.#count--;
    return v;
  }
}

/** A ring area located in one region: its region and offset within the region's view. */
export interface Area {
  readonly region: MemoryRegion;
  readonly offset: number;
}

/** Locates a ring area of `len` bytes at `addr` (aligned to `align`) in one region. */
export function locateArea(
  mem: GuestMemory,
  queue: number,
  what: string,
  addr: number,
  len: number,
  align: number,
): Area {
  if (!Number.isSafeInteger(addr) || addr % align !== 0) {
    throw new QueueError(queue, undefined, `${what} at ${addr} is not aligned to ${align} bytes`);
  }
  const i = mem.findRegion(addr, len);
  if (i < 0) {
    throw new QueueError(
      queue,
      undefined,
      `${what} 0x${addr.toString(16)}+${len} is not inside one guest memory region`,
    );
  }
  const region = mem.regions[i];
  return { region, offset: addr - region.base };
}
