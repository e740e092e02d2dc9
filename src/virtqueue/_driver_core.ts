// Driver-side bookkeeping shared by the split and packed rings: tokens,
// writable lengths, indirect tables, the checks on what the device returns,
// and IN_ORDER batches (one used entry standing for several buffers).

import { QueueError } from "../errors.ts";
import type { DmaAllocator, GuestMemory, MemoryRegion } from "../memory.ts";
import { IndexFifo } from "./_ring_util.ts";
import { maxChainLength } from "./_chain_builder.ts";
import type { Sg } from "./queue.ts";

export class DriverCore<T> {
  readonly size: number;
  readonly queue: number;
  readonly inOrder: boolean;
  /** True when indirect tables are negotiated and an allocator can give them. */
  readonly indirectUsable: boolean;
  /**
   * True when a buffer of several elements goes to a table even while the
   * ring has room for it (`indirectUsable` without `preferDirect`).
   */
  readonly indirectFirst: boolean;
  readonly #mem: GuestMemory;
  readonly #alloc: DmaAllocator | undefined;
  readonly #indirect: boolean;
  /** Most elements one buffer may have. */
  readonly #limit: number;
  /** Token by buffer (split: head descriptor; packed: buffer id). */
  readonly tokens: (T | undefined)[];
  /** Descriptors each buffer takes in the table or ring. */
  readonly count: Uint16Array;
  /** Writable bytes of each buffer: the most the device may report. */
  readonly writable: Float64Array;
  /** Guest address of each buffer's indirect table, or -1. */
  readonly table: Float64Array;
  /** Outstanding buffers in the order they were made available (IN_ORDER only). */
  readonly order: IndexFifo;
  /**
   * Buffers outstanding. A plain field because the queues' fast paths record
   * a buffer by hand (see `record`) and count it here.
   */
  inFlight = 0;
  // An IN_ORDER used entry being worked through: its id and length.
  #batchEnd = -1;
  #batchLen = 0;
  #lastLen = 0;
  // Results of the last check or table allocation, read through getters
  // (no object returned on the add path).
  #sgTotal = 0;
  #sgWritable = 0;
  #tableRegion: MemoryRegion | undefined;
  #tableOffset = 0;
  #tableAddr = -1;

  constructor(
    mem: GuestMemory,
    size: number,
    queue: number,
    inOrder: boolean,
    indirect: boolean,
    alloc: DmaAllocator | undefined,
    preferDirect: boolean = false,
  ) {
    this.#mem = mem;
    this.size = size;
    this.queue = queue;
    this.inOrder = inOrder;
    this.#indirect = indirect;
    this.#alloc = alloc;
    this.indirectUsable = indirect && alloc !== undefined;
    this.indirectFirst = this.indirectUsable && !preferDirect;
    this.#limit = maxChainLength(size, indirect && alloc !== undefined);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    // Object elements for good (V8 never turns them back): an array that only
    // ever held numbers and undefined is kept as doubles, and every token read
    // would then be unboxed and checked on the hot path.
    (this.tokens as unknown[])[0] = this.tokens;
    this.tokens[0] = undefined;
    this.count = new Uint16Array(size);
    this.writable = new Float64Array(size);
    this.table = new Float64Array(size).fill(-1);
    this.order = new IndexFifo(size);
  }

  /** IN_ORDER: the id the used entry being worked through names, or -1. */
  get batchEnd(): number {
    return this.#batchEnd;
  }
  /** IN_ORDER: the length of the buffer {@link DriverCore.nextInOrder} returned last. */
  get lastLen(): number {
    return this.#lastLen;
  }
  /** Elements of the request {@link DriverCore.checkAdd} checked last. */
  get sgTotal(): number {
    return this.#sgTotal;
  }
  /** Writable bytes of the request {@link DriverCore.checkAdd} checked last. */
  get sgWritable(): number {
    return this.#sgWritable;
  }
  /** The region of the table {@link DriverCore.tryIndirect} got. */
  get tableRegion(): MemoryRegion | undefined {
    return this.#tableRegion;
  }
  /** The table's offset in its region. */
  get tableOffset(): number {
    return this.#tableOffset;
  }
  /** The table's guest address, or -1 when the last request got none. */
  get tableAddr(): number {
    return this.#tableAddr;
  }

  /** Validates an add request; sets `sgTotal` and `sgWritable`. */
  checkAdd(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const nOut = out.length;
    const total = nOut + in_.length;
    if (token === undefined || total === 0 || total > this.#limit) this.#addFault(token, total);
    let readable = 0;
    for (let i = 0; i < nOut; i++) {
      const sg = out[i];
      const addr = sg.addr;
      const len = sg.len;
      if (!(Number.isSafeInteger(addr) && addr >= 0 && (len >>> 0) === len)) this.badSg(i, sg);
      readable += len;
    }
    let writable = 0;
    for (let i = nOut; i < total; i++) {
      const sg = in_[i - nOut];
      const addr = sg.addr;
      const len = sg.len;
      if (!(Number.isSafeInteger(addr) && addr >= 0 && (len >>> 0) === len)) this.badSg(i, sg);
      writable += len;
    }
    // 2.7.4.1: 2^32 - 1 bytes at most. The test against 2^31 - 1 first keeps the
    // common case in integer arithmetic (a compare with 2^32 - 1 is a float one).
    const bytes = readable + writable;
    if (bytes > 0x7fffffff && bytes > 0xffffffff) this.tooLong();
    this.#sgTotal = total;
    this.#sgWritable = writable;
  }

  #addFault(token: T, total: number): never {
    if (token === undefined) {
      throw new QueueError(this.queue, undefined, "the token must not be undefined", {
        code: "ERR_VIRTIO_QUEUE_BAD_TOKEN",
      });
    }
    if (total === 0) {
      throw new QueueError(this.queue, undefined, "a buffer needs at least one element", {
        code: "ERR_VIRTIO_QUEUE_EMPTY_BUFFER",
      });
    }
    throw new QueueError(
      this.queue,
      undefined,
      `${total} elements exceed the chain limit ${this.#limit} (2.7.5.3.1)`,
      { code: "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG" },
    );
  }

  /** The QueueError for a buffer of more than 2^32 - 1 bytes. */
  tooLong(): never {
    throw new QueueError(
      this.queue,
      undefined,
      "buffer is longer than 2^32 bytes in total (2.7.4.1)",
      { code: "ERR_VIRTIO_QUEUE_TOO_MANY_BYTES" },
    );
  }

  /** The QueueError for element `i` of an add request, not a valid buffer. */
  badSg(i: number, sg: Sg): never {
    throw new QueueError(
      this.queue,
      undefined,
      `element ${i} (addr ${sg.addr}, len ${sg.len}) is not a valid buffer`,
      { code: "ERR_VIRTIO_QUEUE_BAD_ELEMENT" },
    );
  }

  /** The QueueError for a buffer of `needed` descriptors when only `free` are. */
  full(needed: number, free: number): never {
    throw new QueueError(
      this.queue,
      undefined,
      `queue full: ${needed} descriptors needed, ${free} free`,
      { code: "ERR_VIRTIO_QUEUE_FULL" },
    );
  }

  /**
   * Tries to get an indirect table for `sgTotal` elements (`room`: a
   * descriptor is free for it); on success sets `tableAddr`, `tableRegion`,
   * `tableOffset` and returns true. False (and `tableAddr` -1) means "use
   * direct descriptors": not negotiated, one element, no allocator, no room
   * in the ring or for a table (the fallback 2.7.5.3 allows).
   */
  tryIndirect(room: boolean): boolean {
    this.#tableAddr = -1;
    if (!room || !this.#indirect || this.#alloc === undefined || this.#sgTotal < 2) return false;
    const bytes = this.#sgTotal * 16;
    const addr = this.#alloc.tryAlloc(bytes, 16);
    if (addr < 0) return false;
    const region = this.#mem.regionFor(addr, bytes);
    if (region === undefined) {
      this.#alloc.free(addr);
      return false;
    }
    this.#tableRegion = region;
    this.#tableOffset = addr - region.base;
    this.#tableAddr = addr;
    return true;
  }

  /** Records a buffer just made available under `id`. */
  record(id: number, token: T, count: number): void {
    this.tokens[id] = token;
    this.count[id] = count;
    this.writable[id] = this.#sgWritable;
    this.table[id] = this.#tableAddr;
    this.inFlight++;
    if (this.inOrder) this.order.push(id);
  }

  /**
   * Checks a used entry the device wrote (`at` names where, for errors) and,
   * with IN_ORDER, starts a batch ending at `id`.
   */
  acceptUsed(id: number, len: number, at: number, pending: number): void {
    if (id >= this.size || this.tokens[id] === undefined || len > this.writable[id]) {
      this.usedFault(id, len, at);
    }
    if (this.inOrder) this.#acceptInOrder(id, len, pending);
  }

  /**
   * The QueueError for a used entry (`at` names where) that names no
   * outstanding buffer or more bytes than it has writable.
   */
  usedFault(id: number, len: number, at: number): never {
    if (id >= this.size || this.tokens[id] === undefined) {
      throw new QueueError(
        this.queue,
        id < this.size ? id : undefined,
        `used entry ${at} names buffer ${id}, which is not outstanding`,
        { code: "ERR_VIRTIO_QUEUE_BAD_ID" },
      );
    }
    throw new QueueError(
      this.queue,
      id,
      `device reports ${len} bytes written into a buffer with ${this.writable[id]} writable bytes`,
      { code: "ERR_VIRTIO_QUEUE_USED_LENGTH" },
    );
  }

  #acceptInOrder(id: number, len: number, pending: number): void {
    // The entry stands for every outstanding buffer up to `id` (2.7.9, 2.8.9).
    let k = 0;
    while (this.order.peekAt(k) !== id) k++;
    if (k + 1 > pending) {
      throw new QueueError(
        this.queue,
        id,
        `IN_ORDER used entry covers ${k + 1} buffers but the device published only ${pending}`,
        { code: "ERR_VIRTIO_QUEUE_IN_ORDER" },
      );
    }
    this.#batchEnd = id;
    this.#batchLen = len;
  }

  /** IN_ORDER: the next buffer of the current batch; its length goes to `lastLen`. */
  nextInOrder(): number {
    const id = this.order.shift();
    if (id === this.#batchEnd) {
      this.#lastLen = this.#batchLen;
      this.#batchEnd = -1;
    } else {
      // Skipped buffers count as completely written (2.8.9).
      this.#lastLen = this.writable[id];
    }
    return id;
  }

  /** Forgets buffer `id`, freeing its indirect table; returns its token. */
  release(id: number): T {
    const token = this.tokens[id] as T;
    this.tokens[id] = undefined;
    if (this.table[id] >= 0) this.freeTable(id);
    this.inFlight--;
    return token;
  }

  /** Frees the indirect table of buffer `id`. */
  freeTable(id: number): void {
    this.#alloc?.free(this.table[id]);
    this.table[id] = -1;
  }

  /** The id of some outstanding buffer, or -1 (for detaching at teardown). */
  anyOutstanding(): number {
    for (let i = 0; i < this.size; i++) if (this.tokens[i] !== undefined) return i;
    return -1;
  }

  /** Drops IN_ORDER tracking of `id` at teardown. */
  forgetOrder(id: number): void {
    if (!this.inOrder) return;
    const n = this.order.length;
    for (let k = 0; k < n; k++) {
      const v = this.order.shift();
      if (v !== id) this.order.push(v);
    }
    if (this.#batchEnd === id) this.#batchEnd = -1;
  }
}
