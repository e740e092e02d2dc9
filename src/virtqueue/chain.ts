/**
 * A descriptor chain as the device side sees it: the buffer a driver made
 * available, already walked and validated, as readable segments followed by
 * writable segments in guest memory (spec 2.7.4, 2.8.6).
 *
 * Chains are pooled per queue and reused: a chain belongs to the device
 * between `pop()` and `addUsed()`/`pushUsed()`, and must not be touched
 * after. Reading a chain allocates nothing except where noted (views and
 * iterators are new objects; `read`, `write` and the integer helpers are not).
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { MemoryRegion } from "../memory.ts";

/** What `DescriptorChain.#span` does with each piece of a byte range. */
const enum Span {
  FROM_GUEST,
  TO_GUEST,
  VIEWS,
}

const NO_BYTES = new Uint8Array(0);

function copy(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
  } else {
    dst.set(src.subarray(s, s + n), d);
  }
}

/**
 * A validated descriptor chain: `readableCount` device-readable segments
 * then `writableCount` device-writable ones, each a range of one guest
 * memory region.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../memory.ts";
 * import { allocateQueue, createDeviceQueue, createDriverQueue, queueOptionsFromFeatures } from "./mod.ts";
 * import { DmaAllocator } from "../memory.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const alloc = new DmaAllocator(0, 1 << 16);
 * const addrs = allocateQueue(alloc, 8, false);
 * const opts = queueOptionsFromFeatures(0n, 0);
 * const driver = createDriverQueue<string>(mem, addrs, opts);
 * const device = createDeviceQueue(mem, addrs, opts);
 *
 * const req = alloc.alloc(4, 4);
 * const resp = alloc.alloc(8, 4);
 * mem.writeUint32(req, 42);
 * driver.addSgs([{ addr: req, len: 4 }], [{ addr: resp, len: 8 }], "hello");
 *
 * const chain = device.pop();
 * if (chain === null) throw new Error("unreachable");
 * const n = chain.readUint32(0); // 42, read across segments without allocation
 * chain.writeUint32(0, n + 1);
 * device.addUsed(chain, 4);
 *
 * const used = driver.getBuf();
 * if (used?.token !== "hello" || used.len !== 4 || mem.readUint32(resp) !== 43) {
 *   throw new Error("unreachable");
 * }
 * ```
 */
export class DescriptorChain {
  /** The queue index (for error messages). */
  readonly queue: number;
  /**
   * Split ring: index of the chain's head descriptor. Packed ring: the
   * buffer id. This is what the used entry names.
   */
  readonly head: number = 0;
  /** Descriptors the chain takes in the ring or descriptor table (an indirect table counts 1). */
  readonly descriptorCount: number = 0;
  /** True when the chain's buffers came from an indirect table. */
  readonly indirect: boolean = false;
  /** Number of device-readable segments (they come first). */
  readonly readableCount: number = 0;
  /** Number of device-writable segments (they follow the readable ones). */
  readonly writableCount: number = 0;
  /** Total bytes of the readable segments. */
  readonly readableLength: number = 0;
  /** Total bytes of the writable segments. */
  readonly writableLength: number = 0;

  // A segment's guest address is its region's base plus its offset (not stored).
  #len: Uint32Array;
  #off: Float64Array;
  // The arrays' capacity as a plain field: cheaper to test than a typed array's length.
  #cap = 0;
  #region: MemoryRegion[];
  // The last view #span made (its region, start and length): a chain reused
  // for a request over the same buffer (a driver's reused DMA slot) hands the
  // same view out again instead of making one.
  #lastView: Uint8Array | undefined;
  #lastRegion: MemoryRegion | undefined;
  #lastStart = -1;
  #scratch = new Uint8Array(8);
  #scratchView = new DataView(this.#scratch.buffer);
  // The engine's bookkeeping (`_chain_builder.ts`, the one module that fills
  // chains, reaches it and the fields above through its `ChainFill` view):
  // set while the device holds the chain; the queue that owns it; the pool
  // it came from (a fault found while filling gives it back there before
  // throwing, so the walkers need no exception handler on their hot path).
  // `private` and `readonly` bind users at compile time and cost nothing at
  // run time (plain fields, as fast as before; measured in docs/virtqueue.md).
  private live: boolean = false;
  private readonly owner: unknown;
  private pool: unknown = undefined;

  /**
   * Creates an empty chain of queue `queue` (the engine's pools create and
   * fill chains; a chain made here has no segments).
   */
  constructor(queue: number, owner?: unknown, capacity: number = 4) {
    this.queue = queue;
    this.owner = owner;
    this.#cap = capacity;
    this.#len = new Uint32Array(capacity);
    this.#off = new Float64Array(capacity);
    this.#region = new Array<MemoryRegion>(capacity);
  }

  /** Number of segments, readable and writable. */
  get length(): number {
    return this.readableCount + this.writableCount;
  }

  /** Guest address of segment `i`. */
  addr(i: number): number {
    this.#check(i);
    return this.#region[i].base + this.#off[i];
  }

  /** Byte length of segment `i`. */
  len(i: number): number {
    this.#check(i);
    return this.#len[i];
  }

  /** True when segment `i` is device-writable. */
  isWritable(i: number): boolean {
    this.#check(i);
    return i >= this.readableCount;
  }

  /** A zero-copy view of segment `i` (a new `Uint8Array` object over guest memory). */
  bytes(i: number): Uint8Array {
    this.#check(i);
    const start = this.#off[i];
    return this.#region[i].bytes.subarray(start, start + this.#len[i]);
  }

  /** The readable segments as zero-copy views, in order. */
  *readable(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.readableCount; i++) yield this.bytes(i);
  }

  /** The writable segments as zero-copy views, in order. */
  *writable(): IterableIterator<Uint8Array> {
    for (let i = this.readableCount; i < this.length; i++) yield this.bytes(i);
  }

  /**
   * Copies readable bytes starting at byte `offset` of the readable part
   * into `dst`; returns how many were copied (fewer at the end of the part).
   */
  read(
    offset: number,
    dst: Uint8Array,
    dstOffset: number = 0,
    count: number = dst.length - dstOffset,
  ): number {
    return this.#span(
      0,
      this.readableCount,
      offset,
      count,
      Span.FROM_GUEST,
      dst,
      dstOffset,
      undefined,
    );
  }

  /**
   * Copies `src` into the writable part starting at byte `offset` of it;
   * returns how many bytes were copied (fewer at the end of the part).
   */
  write(
    offset: number,
    src: Uint8Array,
    srcOffset: number = 0,
    count: number = src.length - srcOffset,
  ): number {
    return this.#span(
      this.readableCount,
      this.length,
      offset,
      count,
      Span.TO_GUEST,
      src,
      srcOffset,
      undefined,
    );
  }

  /**
   * Zero-copy views of up to `count` bytes of the readable part from byte
   * `offset` of it, appended to `into`, one per segment they touch (new
   * `Uint8Array` objects over guest memory); returns the bytes they cover
   * (fewer at the end of the part). For vectored I/O straight to and from
   * guest memory.
   */
  readableViews(offset: number, count: number, into: Uint8Array[]): number {
    return this.#span(0, this.readableCount, offset, count, Span.VIEWS, NO_BYTES, 0, into);
  }

  /** Like {@link DescriptorChain.readableViews}, for the writable part. */
  writableViews(offset: number, count: number, into: Uint8Array[]): number {
    return this.#span(
      this.readableCount,
      this.length,
      offset,
      count,
      Span.VIEWS,
      NO_BYTES,
      0,
      into,
    );
  }

  /** Reads a byte of the readable part. */
  readUint8(offset: number): number {
    if (this.readableCount > 0 && (offset >>> 0) === offset && offset < this.#len[0]) {
      return this.#region[0].bytes[this.#off[0] + offset];
    }
    this.#readScratch(offset, 1);
    return this.#scratch[0];
  }

  /** Reads a little-endian 16-bit value of the readable part. */
  readUint16(offset: number): number {
    // Fast path: the value lies in the first segment (a request header, typically).
    if (this.readableCount > 0 && (offset >>> 0) === offset && offset + 2 <= this.#len[0]) {
      return this.#region[0].view.getUint16(this.#off[0] + offset, true);
    }
    this.#readScratch(offset, 2);
    return this.#scratchView.getUint16(0, true);
  }

  /** Reads a little-endian 32-bit value of the readable part. */
  readUint32(offset: number): number {
    if (this.readableCount > 0 && (offset >>> 0) === offset && offset + 4 <= this.#len[0]) {
      return this.#region[0].view.getUint32(this.#off[0] + offset, true);
    }
    this.#readScratch(offset, 4);
    return this.#scratchView.getUint32(0, true);
  }

  /** Reads a little-endian 64-bit value of the readable part. */
  readBigUint64(offset: number): bigint {
    if (this.readableCount > 0 && (offset >>> 0) === offset && offset + 8 <= this.#len[0]) {
      return this.#region[0].view.getBigUint64(this.#off[0] + offset, true);
    }
    this.#readScratch(offset, 8);
    return this.#scratchView.getBigUint64(0, true);
  }

  /** Writes a byte of the writable part. */
  writeUint8(offset: number, value: number): void {
    const w = this.readableCount;
    if (this.writableCount > 0 && (offset >>> 0) === offset && offset < this.#len[w]) {
      this.#region[w].bytes[this.#off[w] + offset] = value;
      return;
    }
    this.#scratch[0] = value;
    this.#writeScratch(offset, 1);
  }

  /** Writes a little-endian 16-bit value into the writable part. */
  writeUint16(offset: number, value: number): void {
    const w = this.readableCount;
    if (this.writableCount > 0 && (offset >>> 0) === offset && offset + 2 <= this.#len[w]) {
      this.#region[w].view.setUint16(this.#off[w] + offset, value, true);
      return;
    }
    this.#scratchView.setUint16(0, value, true);
    this.#writeScratch(offset, 2);
  }

  /** Writes a little-endian 32-bit value into the writable part. */
  writeUint32(offset: number, value: number): void {
    const w = this.readableCount;
    if (this.writableCount > 0 && (offset >>> 0) === offset && offset + 4 <= this.#len[w]) {
      this.#region[w].view.setUint32(this.#off[w] + offset, value, true);
      return;
    }
    this.#scratchView.setUint32(0, value, true);
    this.#writeScratch(offset, 4);
  }

  /** Writes a little-endian 64-bit value into the writable part. */
  writeBigUint64(offset: number, value: bigint): void {
    const w = this.readableCount;
    if (this.writableCount > 0 && (offset >>> 0) === offset && offset + 8 <= this.#len[w]) {
      this.#region[w].view.setBigUint64(this.#off[w] + offset, value, true);
      return;
    }
    this.#scratchView.setBigUint64(0, value, true);
    this.#writeScratch(offset, 8);
  }

  #readScratch(offset: number, n: number): void {
    const got = this.#span(
      0,
      this.readableCount,
      offset,
      n,
      Span.FROM_GUEST,
      this.#scratch,
      0,
      undefined,
    );
    if (got !== n) {
      throw new QueueError(
        this.queue,
        this.head,
        `read of ${n} bytes at ${offset} is past the ${this.readableLength} readable bytes`,
        { code: "ERR_VIRTIO_QUEUE_CHAIN_RANGE" },
      );
    }
  }

  #writeScratch(offset: number, n: number): void {
    const put = this.#span(
      this.readableCount,
      this.length,
      offset,
      n,
      Span.TO_GUEST,
      this.#scratch,
      0,
      undefined,
    );
    if (put !== n) {
      throw new QueueError(
        this.queue,
        this.head,
        `write of ${n} bytes at ${offset} is past the ${this.writableLength} writable bytes`,
        { code: "ERR_VIRTIO_QUEUE_CHAIN_RANGE" },
      );
    }
  }

  /**
   * Walks `count` bytes from byte `offset` of segments `from..to` and, per
   * segment piece, copies it from guest memory into `buf`, copies `buf` into
   * it, or appends a view of it to `into` (by `span`); returns the bytes
   * covered (fewer at the end of the segments).
   */
  #span(
    from: number,
    to: number,
    offset: number,
    count: number,
    span: Span,
    buf: Uint8Array,
    bufOffset: number,
    into: Uint8Array[] | undefined,
  ): number {
    let skip = offset;
    let done = 0;
    for (let i = from; i < to && done < count; i++) {
      const l = this.#len[i];
      if (skip >= l) {
        skip -= l;
        continue;
      }
      const n = Math.min(l - skip, count - done);
      const g = this.#region[i].bytes;
      const start = this.#off[i] + skip;
      if (span === Span.FROM_GUEST) copy(g, start, buf, bufOffset + done, n);
      else if (span === Span.TO_GUEST) copy(buf, bufOffset + done, g, start, n);
      else {
        const r = this.#region[i];
        let v = this.#lastView;
        if (
          v === undefined || this.#lastRegion !== r || this.#lastStart !== start || v.length !== n
        ) {
          v = g.subarray(start, start + n);
          this.#lastView = v;
          this.#lastRegion = r;
          this.#lastStart = start;
        }
        (into as Uint8Array[]).push(v);
      }
      done += n;
      skip = 0;
    }
    return done;
  }

  #check(i: number): void {
    if (!(i >= 0 && i < this.readableCount + this.writableCount)) {
      throw new QueueError(this.queue, this.head, `segment ${i} is outside 0..${this.length - 1}`, {
        code: "ERR_VIRTIO_QUEUE_CHAIN_RANGE",
      });
    }
  }

  // Storage primitives for `_chain_builder.ts` (through `ChainFill`): they
  // touch the private segment arrays, so they live here.

  /** Stores segment `n` without checks (the builder has applied the chain rules). */
  private seg(
    n: number,
    len: number,
    off: number,
    region: MemoryRegion,
    maxSegments: number,
  ): void {
    if (n === this.#cap) this.#grow(Math.min(n * 2, maxSegments));
    this.#len[n] = len;
    this.#off[n] = off;
    this.#region[n] = region;
  }

  /** Drops grown capacity after a hostile or huge chain. */
  private shrink(): void {
    if (this.#cap > 256) {
      this.#cap = 16;
      this.#len = new Uint32Array(16);
      this.#off = new Float64Array(16);
      this.#region = new Array<MemoryRegion>(16);
    }
  }

  #grow(cap: number): void {
    this.#cap = cap;
    const len = new Uint32Array(cap);
    len.set(this.#len);
    const off = new Float64Array(cap);
    off.set(this.#off);
    this.#len = len;
    this.#off = off;
    this.#region.length = cap;
  }
}
