/**
 * The split virtqueue (spec 2.7): a descriptor table, an available ring the
 * driver writes and a used ring the device writes. {@link SplitDriverQueue}
 * and {@link SplitDeviceQueue} implement {@link DriverQueue} and
 * {@link DeviceQueue}; `packed.ts` has the same operations for 2.8.
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { DmaAllocator, GuestMemory } from "../memory.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
} from "../generated/virtqueue.ts";
import { checkIndirect, type DescriptorChain, maxChainLength } from "./chain.ts";
import { checkQueueSize, type QueueAddresses, type QueueOptions, ringSizes } from "./layout.ts";
import type {
  DeviceQueue,
  DriverQueue,
  QueueState,
  Sg,
  UsedBuffer,
  UsedBufferSlot,
} from "./queue.ts";
import { fence, IndexFifo, locateArea, needEvent } from "./_ring_util.ts";
import { DeviceCore } from "./_device_core.ts";
import { DriverCore } from "./_driver_core.ts";

/** The three split-ring accessors over guest memory. */
function splitRings(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions) {
  const size = addrs.size;
  checkQueueSize(size, false, opts.index);
  const s = ringSizes(size, false, opts.index);
  const d = locateArea(mem, opts.index, "descriptor table", addrs.desc, s.desc, s.descAlign);
  const a = locateArea(mem, opts.index, "available ring", addrs.driver, s.driver, s.driverAlign);
  const u = locateArea(mem, opts.index, "used ring", addrs.device, s.device, s.deviceAlign);
  return {
    desc: new VirtqDesc(d.region.view, d.offset),
    descBase: d.offset,
    avail: new VirtqAvail(a.region.view, a.offset, size),
    used: new VirtqUsed(u.region.view, u.offset, size),
  };
}

/**
 * Device side of a split virtqueue. Everything read from the rings is
 * validated; see {@link DeviceQueue}.
 */
export class SplitDeviceQueue implements DeviceQueue {
  /** Queue size. */
  readonly size: number;
  /** Queue index. */
  readonly index: number;
  /** Options the queue was created with. */
  readonly options: QueueOptions;
  readonly #mem: GuestMemory;
  readonly #shared: boolean;
  readonly #mask: number;
  readonly #desc: VirtqDesc;
  readonly #descBase: number;
  readonly #table: VirtqDesc;
  readonly #avail: VirtqAvail;
  readonly #used: VirtqUsed;
  readonly #core: DeviceCore;
  readonly #busy: Uint8Array;
  #lastAvail = 0;
  #usedIdx = 0;
  #published = 0;
  #signalled = 0;
  #notify = true;

  /** The device side of the split queue at `addrs`. */
  constructor(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions) {
    const r = splitRings(mem, addrs, opts);
    this.size = addrs.size;
    this.index = opts.index;
    this.options = opts;
    this.#mem = mem;
    this.#shared = mem.shared;
    this.#mask = this.size - 1;
    this.#desc = r.desc;
    this.#descBase = r.descBase;
    this.#table = new VirtqDesc(r.desc.view);
    this.#avail = r.avail;
    this.#used = r.used;
    this.#core = new DeviceCore(opts.index, this.size, opts.inOrder, this);
    this.#busy = new Uint8Array(this.size);
  }

  /** Chains popped and not yet used. */
  get inFlight(): number {
    return this.#core.pool.outstanding;
  }

  /** True when the available index is ahead of the device. */
  hasAvailable(): boolean {
    return this.#avail.idx !== this.#lastAvail;
  }

  /** The next available chain, validated, or null. */
  pop(): DescriptorChain | null {
    const availIdx = this.#avail.idx;
    const pending = (availIdx - this.#lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) {
      // 2.7.13.3: the available index moved by more than the queue holds.
      throw new QueueError(
        this.index,
        undefined,
        `available idx ${availIdx} is ${pending} entries ahead of ${this.#lastAvail}, more than the queue size ${this.size}`,
      );
    }
    if (this.#shared) fence();
    const head = this.#avail.ring(this.#lastAvail & this.#mask);
    // The entry is consumed whatever it holds, so a bad chain is not seen twice.
    this.#lastAvail = (this.#lastAvail + 1) & 0xffff;
    if (this.options.eventIdx && this.#notify) this.#used.availEvent = this.#lastAvail;
    return this.#readChain(head);
  }

  #readChain(head: number): DescriptorChain {
    const size = this.size;
    if (head >= size) {
      throw new QueueError(
        this.index,
        head,
        `chain head is outside the descriptor table of ${size}`,
      );
    }
    if (this.#busy[head] !== 0) {
      throw new QueueError(
        this.index,
        head,
        "chain head made available again while the device holds it",
      );
    }
    const chain = this.#core.take(head);
    chain._begin(head);
    try {
      this.#walk(chain, head);
    } catch (e) {
      this.#core.pool.give(chain);
      throw e;
    }
    this.#busy[head] = 1;
    if (this.#core.inOrder) this.#core.order.push(head);
    return chain;
  }

  #walk(chain: DescriptorChain, head: number): void {
    const size = this.size;
    const d = this.#desc;
    const mem = this.#mem;
    let idx = head;
    let n = 0;
    for (;;) {
      // 2.7.5.3.1: no chain is longer than the queue, so a longer walk is a loop.
      if (++n > size) {
        throw new QueueError(
          this.index,
          idx,
          `chain from head ${head} is longer than the queue size ${size} (a loop?)`,
        );
      }
      d.offset = this.#descBase + idx * 16;
      const flags = d.flags;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        const entries = checkIndirect(
          this.index,
          this.size,
          this.options.indirect,
          idx,
          flags,
          d.len,
          (flags & VIRTQ_DESC_F_NEXT) !== 0,
          false,
        );
        this.#walkIndirect(chain, idx, d.addr, entries);
        break;
      }
      chain._push(mem, d.addr, d.len, (flags & VIRTQ_DESC_F_WRITE) !== 0, idx, -1, size);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      const next = d.next;
      if (next >= size) {
        throw new QueueError(
          this.index,
          idx,
          `next ${next} is outside the descriptor table of ${size}`,
        );
      }
      idx = next;
    }
    chain.descriptorCount = n;
  }

  #walkIndirect(chain: DescriptorChain, idx: number, addr: number, entries: number): void {
    const mem = this.#mem;
    const region = mem.regionFor(addr, entries * 16);
    if (region === undefined) {
      throw new QueueError(
        this.index,
        idx,
        `indirect table 0x${addr.toString(16)}+${entries * 16} is outside guest memory`,
      );
    }
    const base = addr - region.base;
    const t = this.#table;
    t.view = region.view;
    const limit = maxChainLength(this.size, true);
    let j = 0;
    let n = 0;
    for (;;) {
      if (++n > entries) {
        throw new QueueError(
          this.index,
          idx,
          `indirect table entry ${j}: chain loops in a table of ${entries}`,
        );
      }
      t.offset = base + j * 16;
      const flags = t.flags;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        checkIndirect(this.index, this.size, this.options.indirect, idx, flags, t.len, false, true);
      }
      chain._push(mem, t.addr, t.len, (flags & VIRTQ_DESC_F_WRITE) !== 0, idx, j, limit);
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      const next = t.next;
      if (next >= entries) {
        throw new QueueError(
          this.index,
          idx,
          `indirect table entry ${j}: next ${next} is outside the table of ${entries}`,
        );
      }
      j = next;
    }
    chain.indirect = true;
  }

  /** Returns `chain` as used with `len` bytes written, and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** Writes a used entry for `chain`; {@link SplitDeviceQueue.flushUsed} publishes it. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const core = this.#core;
    core.checkUsed(chain, len, this);
    const head = chain.head;
    let slot: number;
    if (core.inOrder && core.batchSlot >= 0 && core.batchFull) {
      // 2.7.9: one entry, naming the last buffer, stands for the whole batch.
      slot = core.batchSlot;
    } else {
      slot = this.#usedIdx & this.#mask;
      core.batchSlot = slot;
    }
    core.batchFull = len === chain.writableLength;
    const e = this.#used.ring(slot);
    e.id = head;
    e.len = len;
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
    this.#busy[head] = 0;
    core.release(chain);
  }

  /** Publishes the used entries written since the last flush (2.7.8.2: entries before idx). */
  flushUsed(): void {
    this.#core.batchSlot = -1;
    if (this.#usedIdx === this.#published) return;
    if (this.#shared) fence();
    this.#used.idx = this.#usedIdx;
    this.#published = this.#usedIdx;
  }

  /** True when the driver wants a used-buffer notification for what was published (2.7.10). */
  needsNotification(): boolean {
    if (this.#shared) fence();
    const old = this.#signalled;
    const now = this.#published;
    this.#signalled = now;
    if (old === now) return false;
    if (!this.options.eventIdx) return (this.#avail.flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    return needEvent(this.#avail.usedEvent, now, old);
  }

  /** Asks for available-buffer notifications; true when chains are already waiting. */
  enableNotification(): boolean {
    this.#notify = true;
    if (this.options.eventIdx) {
      this.#used.availEvent = this.#lastAvail;
    } else {
      this.#used.flags = this.#used.flags & ~VIRTQ_USED_F_NO_NOTIFY;
    }
    if (this.#shared) fence();
    return this.hasAvailable();
  }

  /** Asks the driver not to notify (a hint; with EVENT_IDX, `avail_event` stops moving). */
  disableNotification(): void {
    this.#notify = false;
    if (!this.options.eventIdx) this.#used.flags = this.#used.flags | VIRTQ_USED_F_NO_NOTIFY;
  }

  /** Internal counters. */
  state(): QueueState {
    return {
      size: this.size,
      lastAvail: this.#lastAvail,
      availIdx: this.#avail.idx,
      usedIdx: this.#usedIdx,
      publishedUsedIdx: this.#published,
      inFlight: this.inFlight,
      notify: this.#notify,
    };
  }
}

/**
 * Driver side of a split virtqueue, after Linux's `virtqueue_add_split`,
 * `virtqueue_kick_prepare_split` and `virtqueue_get_buf_ctx_split`.
 */
export class SplitDriverQueue<T> implements DriverQueue<T> {
  /** Queue size. */
  readonly size: number;
  /** Queue index. */
  readonly index: number;
  /** Options the queue was created with. */
  readonly options: QueueOptions;
  readonly #shared: boolean;
  readonly #mask: number;
  readonly #desc: VirtqDesc;
  readonly #descBase: number;
  readonly #table: VirtqDesc;
  readonly #avail: VirtqAvail;
  readonly #used: VirtqUsed;
  readonly #core: DriverCore<T>;
  readonly #free: IndexFifo;
  // Our own copy of each descriptor's next, so freeing never trusts shared memory.
  readonly #next: Uint16Array;
  #availIdx = 0;
  #numAdded = 0;
  #lastUsed = 0;
  // Linux's avail_flags_shadow: NO_INTERRUPT while callbacks are disabled, also
  // with EVENT_IDX (where it is not written to the ring).
  #availFlags = 0;

  /** The driver side of the (zeroed) split queue at `addrs`; `alloc` gives indirect tables. */
  constructor(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions, alloc?: DmaAllocator) {
    const r = splitRings(mem, addrs, opts);
    this.size = addrs.size;
    this.index = opts.index;
    this.options = opts;
    this.#shared = mem.shared;
    this.#mask = this.size - 1;
    this.#desc = r.desc;
    this.#descBase = r.descBase;
    this.#table = new VirtqDesc(r.desc.view);
    this.#avail = r.avail;
    this.#used = r.used;
    this.#core = new DriverCore<T>(mem, this.size, opts.index, opts.inOrder, opts.indirect, alloc);
    this.#free = new IndexFifo(this.size);
    // In ring order, so IN_ORDER chains are sequential (2.7.5).
    for (let i = 0; i < this.size; i++) this.#free.push(i);
    this.#next = new Uint16Array(this.size);
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.#free.length;
  }

  /** Buffers outstanding. */
  get inFlight(): number {
    return this.#core.inFlight;
  }

  /** True when a buffer of `outCount + inCount` elements fits now. */
  canAdd(outCount: number, inCount: number): boolean {
    const total = outCount + inCount;
    if (total === 0 || total > this.size) return false;
    return this.#free.length >= (this.options.indirect && total > 1 ? 1 : total);
  }

  /** Makes a buffer available (2.7.13.1-2.7.13.2). */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const core = this.#core;
    core.checkAdd(out, in_, token);
    const total = core.sgTotal;
    const indirect = this.#free.length > 0 && core.tryIndirect();
    const needed = indirect ? 1 : total;
    if (this.#free.length < needed) {
      throw new QueueError(
        this.index,
        undefined,
        `queue full: ${needed} descriptors needed, ${this.#free.length} free`,
      );
    }
    const d = this.#desc;
    const head = this.#free.shift();
    if (indirect) {
      const t = this.#table;
      t.view = (core.tableRegion as { view: DataView }).view;
      for (let i = 0; i < total; i++) {
        const sg = i < out.length ? out[i] : in_[i - out.length];
        t.offset = core.tableOffset + i * 16;
        t.addr = sg.addr;
        t.len = sg.len;
        // 2.7.5.3: indirect entries are sequential, which also satisfies IN_ORDER.
        t.flags = (i >= out.length ? VIRTQ_DESC_F_WRITE : 0) |
          (i + 1 < total ? VIRTQ_DESC_F_NEXT : 0);
        t.next = i + 1 < total ? i + 1 : 0;
      }
      d.offset = this.#descBase + head * 16;
      d.addr = core.tableAddr;
      d.len = total * 16;
      d.flags = VIRTQ_DESC_F_INDIRECT;
      d.next = 0;
    } else {
      let cur = head;
      for (let i = 0; i < total; i++) {
        const sg = i < out.length ? out[i] : in_[i - out.length];
        d.offset = this.#descBase + cur * 16;
        d.addr = sg.addr;
        d.len = sg.len;
        const w = i >= out.length ? VIRTQ_DESC_F_WRITE : 0;
        if (i + 1 < total) {
          const nxt = this.#free.shift();
          d.flags = w | VIRTQ_DESC_F_NEXT;
          d.next = nxt;
          this.#next[cur] = nxt;
          cur = nxt;
        } else {
          d.flags = w;
          d.next = 0;
        }
      }
    }
    core.record(head, token, needed);
    this.#avail.setRing(this.#availIdx & this.#mask, head);
    // 2.7.13.3.1: the ring entry before the index.
    if (this.#shared) fence();
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    this.#avail.idx = this.#availIdx;
    this.#numAdded++;
  }

  /** True when the device must be notified of what was added since the last kick (2.7.13.4). */
  kick(): boolean {
    if (this.#shared) fence();
    const added = this.#numAdded;
    this.#numAdded = 0;
    if (added === 0) return false;
    const now = this.#availIdx;
    if (this.options.eventIdx) return needEvent(this.#used.availEvent, now, (now - added) & 0xffff);
    return (this.#used.flags & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /** True when a used buffer is waiting. */
  hasUsed(): boolean {
    return this.#core.batchEnd >= 0 || this.#used.idx !== this.#lastUsed;
  }

  /** The next used buffer, or null. */
  getBuf(): UsedBuffer<T> | null {
    const slot: UsedBufferSlot<T> = { token: undefined, len: 0 };
    return this.getBufInto(slot) ? { token: slot.token as T, len: slot.len } : null;
  }

  /**
   * The next used buffer into `slot`; false when none. Allocates nothing.
   * While callbacks are enabled with EVENT_IDX, each call moves `used_event`
   * to the next used entry, as Linux does, so a driver that only collects
   * buffers keeps getting interrupts.
   */
  getBufInto(slot: UsedBufferSlot<T>): boolean {
    const core = this.#core;
    let id: number;
    if (core.batchEnd < 0) {
      const usedIdx = this.#used.idx;
      if (usedIdx === this.#lastUsed) return false;
      const pending = (usedIdx - this.#lastUsed) & 0xffff;
      if (pending > core.inFlight) {
        throw new QueueError(
          this.index,
          undefined,
          `used idx ${usedIdx} is ${pending} ahead of ${this.#lastUsed} with ${core.inFlight} buffers outstanding`,
        );
      }
      if (this.#shared) fence();
      const e = this.#used.ring(this.#lastUsed & this.#mask);
      const eid = e.id;
      const len = e.len;
      core.acceptUsed(eid, len, this.#lastUsed & this.#mask, pending);
      if (core.inOrder) {
        id = core.nextInOrder();
        slot.len = core.lastLen;
      } else {
        id = eid;
        slot.len = len;
      }
    } else {
      id = core.nextInOrder();
      slot.len = core.lastLen;
    }
    this.#lastUsed = (this.#lastUsed + 1) & 0xffff;
    // 2.7.10: ask for an interrupt at the next used entry (Linux's get_buf does
    // the same while callbacks are on), then a fence before the next read of idx.
    if (this.options.eventIdx && (this.#availFlags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0) {
      this.#avail.usedEvent = this.#lastUsed;
      if (this.#shared) fence();
    }
    this.#freeChain(id);
    slot.token = core.release(id);
    return true;
  }

  #freeChain(head: number): void {
    let cur = head;
    const n = this.#core.count[head];
    for (let i = 0; i < n; i++) {
      this.#free.push(cur);
      cur = this.#next[cur];
    }
  }

  /** Asks the device not to interrupt (a hint). */
  disableCb(): void {
    const wasOn = (this.#availFlags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    this.#availFlags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (this.options.eventIdx) {
      // No flag to set with EVENT_IDX: move used_event as far away as it goes.
      this.#avail.usedEvent = (this.#lastUsed + 0x8000) & 0xffff;
    } else if (wasOn) {
      this.#avail.flags = this.#availFlags;
    }
  }

  /** Re-enables interrupts; true when used buffers are already waiting. */
  enableCb(): boolean {
    return this.#enable(0);
  }

  /** Re-enables interrupts for when 3/4 of the outstanding buffers are used. */
  enableCbDelayed(): boolean {
    return this.#enable(((this.#availIdx - this.#lastUsed) & 0xffff) * 3 >> 2);
  }

  #enable(ahead: number): boolean {
    const wasOff = (this.#availFlags & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0;
    this.#availFlags &= ~VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (this.options.eventIdx) {
      this.#avail.usedEvent = (this.#lastUsed + ahead) & 0xffff;
    } else if (wasOff) {
      this.#avail.flags = this.#availFlags;
    }
    // The race Linux closes: a buffer used before the flag change is seen here.
    if (this.#shared) fence();
    return this.hasUsed();
  }

  /** Takes back a buffer the device never used (after a reset), or null. */
  detachUnusedBuf(): T | null {
    const core = this.#core;
    const id = core.anyOutstanding();
    if (id < 0) return null;
    core.forgetOrder(id);
    this.#freeChain(id);
    this.#availIdx = (this.#availIdx - 1) & 0xffff;
    this.#avail.idx = this.#availIdx;
    return core.release(id);
  }

  /** Internal counters. */
  state(): QueueState {
    return {
      size: this.size,
      numFree: this.numFree,
      inFlight: this.inFlight,
      availIdx: this.#availIdx,
      lastUsed: this.#lastUsed,
      usedIdx: this.#used.idx,
      availFlags: this.#availFlags,
      usedFlags: this.#used.flags,
    };
  }
}
