// Private helpers shared by the split and packed rings: event-index
// arithmetic, atomic ring words, a small index FIFO, and ring-area placement.

import { QueueError, SchemaError } from "../errors.ts";
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
    throw new QueueError(queue, undefined, `restore: ${name} ${v} is outside 0..${max}`, {
      code: "ERR_VIRTIO_QUEUE_RESTORE_POSITION",
    });
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
    { code: "ERR_VIRTIO_QUEUE_RESTORE_BUSY" },
  );
}

/** {@link needEvent} on linear packed positions modulo `2 * size`. */
export function needEventPacked(event: number, newPos: number, old: number, size: number): boolean {
  const m = 2 * size;
  return (((newPos - event - 1) % m) + m) % m < (((newPos - old) % m) + m) % m;
}

// Ring words in shared memory (the memory barriers of 2.7.13 and 2.8.21).
// JavaScript orders plain accesses to shared memory only through Atomics, and
// V8 does a `DataView` access byte by byte until it optimises the caller, so
// another thread can read a 16-bit index half old, half new (0x00ff -> 0x0100
// read as 0x0000). The words through which one side hands the ring to the
// other (split: avail and used idx, flags and event indices; packed:
// descriptor flags and the event suppression words) are therefore read and
// written with `Atomics` when memory is shared: never torn; an
// `Atomics.store` publishes every plain write before it to the side whose
// `Atomics.load` reads the value (the driver's ring entries before avail idx,
// the device's used entries before used idx); and, being sequentially
// consistent, a side's store then load of two such words cannot both miss the
// other side's (the notification-suppression race). Everything else in the
// rings stays a plain `DataView` access ordered by those words.

/** An empty word array: what a queue in unshared memory holds instead. */
const NO_WORDS: Uint16Array = new Uint16Array(0);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The 16-bit words of `area`'s region, indexed by byte offset / 2 in the
 * region's view, for {@link load16} and {@link store16}; {@link NO_WORDS}
 * when memory is not shared. Atomics need the words 2-byte aligned in the
 * underlying buffer.
 */
export function ringWords(area: Area, shared: boolean, queue: number): Uint16Array {
  if (!shared) return NO_WORDS;
  const view = area.region.view;
  if (view.byteOffset % 2 !== 0 || area.offset % 2 !== 0) {
    throw new QueueError(
      queue,
      undefined,
      `ring area at byte ${
        view.byteOffset + area.offset
      } of its shared buffer is not 2-byte aligned, as atomic access needs`,
      { code: "ERR_VIRTIO_QUEUE_RING_AREA" },
    );
  }
  return new Uint16Array(view.buffer, view.byteOffset, Math.floor(view.byteLength / 2));
}

/**
 * An atomic load of the little-endian ring word at byte `offset` (even) of a
 * region view, `words` being {@link ringWords} of that region. Queues call it
 * only for shared memory, as `shared ? load16(w, o) : view.getUint16(o, true)`:
 * written out at each site, so that the unshared path is a plain `DataView`
 * read and the shared one costs V8's inlining budget nothing there.
 */
export function load16(words: Uint16Array, offset: number): number {
  // `/ 2`, not `>> 1`: a region may be larger than 2 GiB.
  const v = Atomics.load(words, offset / 2);
  return LITTLE_ENDIAN_HOST ? v : ((v & 0xff) << 8) | (v >>> 8);
}

/** An atomic store of the little-endian ring word at byte `offset` (even); see {@link load16}. */
export function store16(words: Uint16Array, offset: number, value: number): void {
  Atomics.store(
    words,
    offset / 2,
    LITTLE_ENDIAN_HOST ? value : ((value & 0xff) << 8) | (value >>> 8),
  );
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
    throw new QueueError(queue, undefined, `${what} at ${addr} is not aligned to ${align} bytes`, {
      code: "ERR_VIRTIO_QUEUE_RING_AREA",
    });
  }
  const i = mem.findRegion(addr, len);
  if (i < 0) {
    throw new QueueError(
      queue,
      undefined,
      `${what} 0x${addr.toString(16)}+${len} is not inside one guest memory region`,
      { code: "ERR_VIRTIO_QUEUE_RING_AREA" },
    );
  }
  const region = mem.regions[i];
  return { region, offset: addr - region.base };
}

/**
 * Checks, once at load time, that the offsets a ring file names and inlines
 * (as `const enum` literals) are the generated ones of `struct`: a schema
 * change then fails loudly instead of silently misplacing a field.
 */
export function checkOffsets(
  struct: string,
  generated: Readonly<Record<string, number>>,
  named: Readonly<Record<string, number>>,
): void {
  for (const [field, offset] of Object.entries(named)) {
    if (generated[field] !== offset) {
      throw new SchemaError(
        struct,
        field,
        `the ring code uses offset ${offset}, the generated layout has ${generated[field]}`,
      );
    }
  }
}
