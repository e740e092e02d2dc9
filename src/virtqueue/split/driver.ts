/**
 * The driver side of the split virtqueue (spec 2.7): {@link SplitDriverQueue}
 * makes buffers available in the available ring and takes them back from
 * the used ring. It implements {@link DriverQueue}; `device.ts` is the other
 * side, and `../packed/driver.ts` the same operations for 2.8.
 *
 * @module
 */

import { QueueError } from "../../errors.ts";
import type { DmaAllocator, GuestMemory } from "../../memory.ts";
import { VirtqAvail, VirtqDesc, VirtqUsed, VirtqUsedElem } from "../../generated/virtqueue.ts";
import type { QueueAddresses, QueueOptions } from "../layout.ts";
import type { DriverQueue, QueueState, Sg, UsedBuffer, UsedBufferSlot } from "../queue.ts";
import { checkOffsets, load16, needEvent, store16 } from "../_ring_util.ts";
import { DriverCore } from "../_driver_core.ts";
import { splitRings } from "./_rings.ts";

// The spec's flag values and field offsets, as literals (see _rings.ts for
// why each side declares its own): the flags are those of the generated
// constants of the same names, which tests/virtqueue/layout_test.ts and
// hostile_test.ts check byte for byte; the check below ties the offsets to
// the generated OFFSETS at load time.
const enum F {
  VIRTQ_AVAIL_F_NO_INTERRUPT = 1,
  VIRTQ_DESC_F_INDIRECT = 4,
  VIRTQ_DESC_F_NEXT = 1,
  VIRTQ_DESC_F_WRITE = 2,
  VIRTQ_USED_F_NO_NOTIFY = 1,
}
/** struct virtq_desc (2.7.5). */
const enum D {
  addr = 0,
  len = 8,
  flags = 12,
  next = 14,
}
/** struct virtq_avail (2.7.6); used_event follows ring[size]. */
const enum A {
  flags = 0,
  idx = 2,
  ring = 4,
}
/** struct virtq_used (2.7.8); avail_event follows ring[size]. */
const enum U {
  flags = 0,
  idx = 2,
  ring = 4,
}
/** struct virtq_used_elem (2.7.8). */
const enum E {
  id = 0,
  len = 4,
}
checkOffsets("virtq_desc", VirtqDesc.OFFSETS, {
  addr: D.addr,
  len: D.len,
  flags: D.flags,
  next: D.next,
});
checkOffsets("virtq_avail", VirtqAvail.OFFSETS, { flags: A.flags, idx: A.idx, ring: A.ring });
checkOffsets("virtq_used", VirtqUsed.OFFSETS, { flags: U.flags, idx: U.idx, ring: U.ring });
checkOffsets("virtq_used_elem", VirtqUsedElem.OFFSETS, { id: E.id, len: E.len });

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
  readonly #core: DriverCore<T>;
  // The core's per-buffer arrays, hoisted for the hot path.
  readonly #tokens: (T | undefined)[];
  readonly #count: Uint16Array;
  readonly #writable: Float64Array;
  readonly #inOrder: boolean;
  // The free descriptors as a list linked through `#next` (Linux's free_head),
  // oldest freed last, so IN_ORDER chains come out in ring order (2.7.5). A
  // chain keeps its links while in use: our own copy of each descriptor's
  // next, so freeing never trusts shared memory.
  readonly #next: Uint16Array;
  #freeHead = 0;
  #freeTail: number;
  #numFree: number;
  readonly #eventIdx: boolean;
  readonly #dv: DataView;
  readonly #av: DataView;
  readonly #ab: number;
  readonly #uv: DataView;
  readonly #ub: number;
  // With shared memory, the avail and used idx, flags and event words are
  // accessed atomically through these (see `ringWords`).
  readonly #aw: Uint16Array;
  readonly #uw: Uint16Array;
  // used_event and avail_event follow ring[size] (2.7.6, 2.7.8): their offsets in the views.
  readonly #usedEventAt: number;
  readonly #availEventAt: number;
  #availIdx = 0;
  #numAdded = 0;
  #lastUsed = 0;
  // Shared memory: the used idx last loaded (as the device's #availSeen):
  // getBuf reloads it only once the entries up to it are taken.
  #usedSeen = 0;
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
    this.#core = new DriverCore<T>(
      mem,
      this.size,
      opts.index,
      opts.inOrder,
      opts.indirect,
      alloc,
      opts.preferDirect,
    );
    this.#tokens = this.#core.tokens;
    this.#count = this.#core.count;
    this.#writable = this.#core.writable;
    this.#inOrder = opts.inOrder;
    // In ring order, so IN_ORDER chains are sequential (2.7.5).
    this.#next = new Uint16Array(this.size);
    for (let i = 0; i + 1 < this.size; i++) this.#next[i] = i + 1;
    this.#freeTail = this.size - 1;
    this.#numFree = this.size;
    this.#eventIdx = opts.eventIdx;
    this.#dv = r.desc.view;
    this.#av = r.avail.view;
    this.#ab = r.avail.offset;
    this.#uv = r.used.view;
    this.#ub = r.used.offset;
    this.#aw = r.availWords;
    this.#uw = r.usedWords;
    this.#usedEventAt = r.avail.offset + A.ring + 2 * this.size;
    this.#availEventAt = r.used.offset + U.ring + 8 * this.size;
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.#numFree;
  }

  /** Buffers outstanding. */
  get inFlight(): number {
    return this.#core.inFlight;
  }

  /** True when a buffer of `outCount + inCount` elements fits now. */
  canAdd(outCount: number, inCount: number): boolean {
    const total = outCount + inCount;
    if (total === 0 || total > this.size) return false;
    return this.#numFree >= (this.options.indirect && total > 1 ? 1 : total);
  }

  /** Makes a buffer available (2.7.13.1-2.7.13.2). */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const nOut = out.length;
    const total = nOut + in_.length;
    const core = this.#core;
    const numFree = this.#numFree;
    // Direct descriptors that fit: checked and written in one pass below.
    // Everything else (an indirect table to try, no room, a bad request)
    // takes the general path, which reports faults in the same order.
    if (
      token === undefined || total === 0 || total > numFree || (core.indirectFirst && total > 1)
    ) {
      this.#addGeneral(out, in_, token);
      return;
    }
    // The chain is the first `total` entries of the free list, already linked;
    // a fault leaves them written but free, and the ring unchanged.
    const dv = this.#dv;
    const base = this.#descBase;
    const next = this.#next;
    const head = this.#freeHead;
    let last = head;
    let readable = 0;
    let writable = 0;
    for (let i = 0; i < total; i++) {
      const w = i >= nOut;
      const sg = w ? in_[i - nOut] : out[i];
      const addr = sg.addr;
      const len = sg.len;
      if (!(Number.isSafeInteger(addr) && addr >= 0 && (len >>> 0) === len)) core.badSg(i, sg);
      if (w) writable += len;
      else readable += len;
      const o = base + last * 16;
      dv.setUint32(o + D.addr, addr >>> 0, true);
      // The high word; the test against 2^31 - 1 stays in integer arithmetic.
      dv.setUint32(o + D.addr + 4, addr > 0x7fffffff ? Math.floor(addr / 4294967296) : 0, true);
      dv.setUint32(o + D.len, len, true);
      if (i + 1 < total) {
        const nxt = next[last];
        dv.setUint16(
          o + D.flags,
          w ? F.VIRTQ_DESC_F_WRITE | F.VIRTQ_DESC_F_NEXT : F.VIRTQ_DESC_F_NEXT,
          true,
        );
        dv.setUint16(o + D.next, nxt, true);
        last = nxt;
      } else {
        dv.setUint16(o + D.flags, w ? F.VIRTQ_DESC_F_WRITE : 0, true);
        dv.setUint16(o + D.next, 0, true);
      }
    }
    // 2.7.4.1: 2^32 - 1 bytes at most. The test against 2^31 - 1 first keeps the
    // common case in integer arithmetic (a compare with 2^32 - 1 is a float one).
    const bytes = readable + writable;
    if (bytes > 0x7fffffff && bytes > 0xffffffff) core.tooLong();
    this.#freeHead = next[last];
    this.#numFree = numFree - total;
    // What `DriverCore.record` keeps; the buffer's table entry is already -1.
    this.#tokens[head] = token;
    this.#count[head] = total;
    this.#writable[head] = writable;
    core.inFlight++;
    if (this.#inOrder) core.order.push(head);
    this.#publish(head);
  }

  /**
   * Puts `head` in the available ring and publishes it (2.7.13.2-2.7.13.3);
   * on shared memory {@link SplitDriverQueue.kick} publishes the batch.
   */
  #publish(head: number): void {
    const av = this.#av;
    const ab = this.#ab;
    av.setUint16(ab + A.ring + 2 * (this.#availIdx & this.#mask), head, true);
    // 2.7.13.3.1: the ring entry before the index. On shared memory the idx
    // store is atomic (it publishes the entries and descriptors written
    // before it) and costs several plain stores in V8: it is done once per
    // batch, in kick (2.7.13: steps 1-2 repeated, then one idx update).
    const idx = (this.#availIdx + 1) & 0xffff;
    this.#availIdx = idx;
    if (this.#shared) {
      // Published in kick.
    } else av.setUint16(ab + A.idx, idx, true);
    this.#numAdded++;
  }

  /** {@link SplitDriverQueue.addSgs} in general: indirect tables, and every fault. */
  #addGeneral(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const core = this.#core;
    core.checkAdd(out, in_, token);
    const total = core.sgTotal;
    const numFree = this.#numFree;
    // A table when one can be had (this also sets `tableAddr` to -1 when not).
    const indirect = core.tryIndirect(
      core.indirectUsable && total > 1 && numFree > 0 && (core.indirectFirst || total > numFree),
    );
    const needed = indirect ? 1 : total;
    if (numFree < needed) core.full(needed, numFree);
    const head = this.#freeHead;
    const next = this.#next;
    let last = head;
    if (indirect) {
      this.#addIndirect(out, in_, head, total);
    } else {
      // The chain is the first `total` entries of the free list, already linked.
      const dv = this.#dv;
      const base = this.#descBase;
      const nOut = out.length;
      for (let i = 0; i < total; i++) {
        const sg = i < nOut ? out[i] : in_[i - nOut];
        const o = base + last * 16;
        const addr = sg.addr;
        dv.setUint32(o + D.addr, addr >>> 0, true);
        // The high word; the test against 2^31 - 1 stays in integer arithmetic.
        dv.setUint32(o + D.addr + 4, addr > 0x7fffffff ? Math.floor(addr / 4294967296) : 0, true);
        dv.setUint32(o + D.len, sg.len, true);
        const w = i >= nOut ? F.VIRTQ_DESC_F_WRITE : 0;
        if (i + 1 < total) {
          const nxt = next[last];
          dv.setUint16(o + D.flags, w | F.VIRTQ_DESC_F_NEXT, true);
          dv.setUint16(o + D.next, nxt, true);
          last = nxt;
        } else {
          dv.setUint16(o + D.flags, w, true);
          dv.setUint16(o + D.next, 0, true);
        }
      }
    }
    this.#freeHead = next[last];
    this.#numFree = numFree - needed;
    core.record(head, token, needed);
    this.#publish(head);
  }

  #addIndirect(out: readonly Sg[], in_: readonly Sg[], head: number, total: number): void {
    const core = this.#core;
    const d = this.#desc;
    const t = this.#table;
    t.view = (core.tableRegion as { view: DataView }).view;
    for (let i = 0; i < total; i++) {
      const sg = i < out.length ? out[i] : in_[i - out.length];
      t.offset = core.tableOffset + i * 16;
      t.addr = sg.addr;
      t.len = sg.len;
      // 2.7.5.3: indirect entries are sequential, which also satisfies IN_ORDER.
      t.flags = (i >= out.length ? F.VIRTQ_DESC_F_WRITE : 0) |
        (i + 1 < total ? F.VIRTQ_DESC_F_NEXT : 0);
      t.next = i + 1 < total ? i + 1 : 0;
    }
    d.offset = this.#descBase + head * 16;
    d.addr = core.tableAddr;
    d.len = total * 16;
    d.flags = F.VIRTQ_DESC_F_INDIRECT;
    d.next = 0;
  }

  /** True when the device must be notified of what was added since the last kick (2.7.13.4). */
  kick(): boolean {
    const added = this.#numAdded;
    this.#numAdded = 0;
    if (added === 0) return false;
    const now = this.#availIdx;
    // Shared memory: publish the batch; the event word is read after this
    // store, both atomic (2.7.13.4). Unshared, addSgs stored idx already.
    if (this.#shared) store16(this.#aw, this.#ab + A.idx, now);
    const uv = this.#uv;
    if (this.#eventIdx) {
      return needEvent(
        this.#shared
          ? load16(this.#uw, this.#availEventAt)
          : uv.getUint16(this.#availEventAt, true),
        now,
        (now - added) & 0xffff,
      );
    }
    return ((this.#shared
      ? load16(this.#uw, this.#ub + U.flags)
      : uv.getUint16(this.#ub + U.flags, true)) &
      F.VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /** True when a used buffer is waiting. */
  hasUsed(): boolean {
    return this.#core.batchEnd >= 0 ||
      (this.#shared
          ? load16(this.#uw, this.#ub + U.idx)
          : this.#uv.getUint16(this.#ub + U.idx, true)) !==
        this.#lastUsed;
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
    if (this.#inOrder) return this.#getInOrder(slot);
    const last = this.#lastUsed;
    const uv = this.#uv;
    const ub = this.#ub;
    // idx before the entries it covers (an atomic load when shared, and only
    // when the entries loaded last are taken).
    let usedIdx: number;
    if (!this.#shared) usedIdx = uv.getUint16(ub + U.idx, true);
    else if ((usedIdx = this.#usedSeen) === last) usedIdx = load16(this.#uw, ub + U.idx);
    if (usedIdx === last) return false;
    const core = this.#core;
    const pending = (usedIdx - last) & 0xffff;
    if (pending > core.inFlight) this.#usedAhead(usedIdx, pending);
    this.#usedSeen = usedIdx;
    const e = ub + U.ring + 8 * (last & this.#mask);
    const id = uv.getUint32(e + E.id, true);
    const len = uv.getUint32(e + E.len, true);
    core.acceptUsed(id, len, last & this.#mask, pending);
    this.#advanceUsed();
    this.#freeChain(id);
    slot.token = core.release(id);
    slot.len = len;
    return true;
  }

  /** {@link SplitDriverQueue.getBufInto} with IN_ORDER: one used entry may stand for several buffers. */
  #getInOrder(slot: UsedBufferSlot<T>): boolean {
    const core = this.#core;
    if (core.batchEnd < 0) {
      const last = this.#lastUsed;
      const usedIdx = this.#shared
        ? load16(this.#uw, this.#ub + U.idx)
        : this.#uv.getUint16(this.#ub + U.idx, true);
      if (usedIdx === last) return false;
      const pending = (usedIdx - last) & 0xffff;
      if (pending > core.inFlight) this.#usedAhead(usedIdx, pending);
      const e = this.#ub + U.ring + 8 * (last & this.#mask);
      core.acceptUsed(
        this.#uv.getUint32(e + E.id, true),
        this.#uv.getUint32(e + E.len, true),
        last & this.#mask,
        pending,
      );
    }
    const id = core.nextInOrder();
    slot.len = core.lastLen;
    this.#took(id, slot);
    return true;
  }

  /** Moves past the used entry of buffer `id` and frees it into `slot`. */
  #took(id: number, slot: UsedBufferSlot<T>): void {
    this.#advanceUsed();
    this.#freeChain(id);
    slot.token = this.#core.release(id);
  }

  /** Moves past a used entry. */
  #advanceUsed(): void {
    const now = (this.#lastUsed + 1) & 0xffff;
    this.#lastUsed = now;
    // 2.7.10: ask for an interrupt at the next used entry (Linux's get_buf does
    // the same while callbacks are on). Shared, without IN_ORDER: only at the
    // last entry loaded, as the device's avail_event in pop (the device is
    // past used_event before it either way).
    if (this.#eventIdx && (this.#availFlags & F.VIRTQ_AVAIL_F_NO_INTERRUPT) === 0) {
      if (this.#shared) {
        if (this.#inOrder || now === this.#usedSeen) store16(this.#aw, this.#usedEventAt, now);
      } else this.#av.setUint16(this.#usedEventAt, now, true);
    }
  }

  #usedAhead(usedIdx: number, pending: number): never {
    throw new QueueError(
      this.index,
      undefined,
      `used idx ${usedIdx} is ${pending} ahead of ${this.#lastUsed} with ${this.#core.inFlight} buffers outstanding`,
      { code: "ERR_VIRTIO_QUEUE_USED_AHEAD" },
    );
  }

  #freeChain(head: number): void {
    // The chain is still linked through `#next`: append it to the free list whole.
    const next = this.#next;
    const n = this.#count[head];
    let tail = head;
    for (let i = 1; i < n; i++) tail = next[tail];
    if (this.#numFree === 0) this.#freeHead = head;
    else next[this.#freeTail] = head;
    this.#freeTail = tail;
    this.#numFree += n;
  }

  /** Asks the device not to interrupt (a hint). */
  disableCb(): void {
    const wasOn = (this.#availFlags & F.VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    this.#availFlags |= F.VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (this.options.eventIdx) {
      // No flag to set with EVENT_IDX: move used_event as far away as it goes.
      this.#setUsedEvent((this.#lastUsed + 0x8000) & 0xffff);
    } else if (wasOn) {
      if (this.#shared) store16(this.#aw, this.#ab + A.flags, this.#availFlags);
      else this.#av.setUint16(this.#ab + A.flags, this.#availFlags, true);
    }
  }

  /** Re-enables interrupts; false when used buffers are already waiting (Linux's sense). */
  enableCb(): boolean {
    return this.#enable(0);
  }

  /** Re-enables interrupts for when 3/4 of the outstanding buffers are used. */
  enableCbDelayed(): boolean {
    return this.#enable(((this.#availIdx - this.#lastUsed) & 0xffff) * 3 >> 2);
  }

  #enable(ahead: number): boolean {
    const wasOff = (this.#availFlags & F.VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0;
    this.#availFlags &= ~F.VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (this.options.eventIdx) {
      this.#setUsedEvent((this.#lastUsed + ahead) & 0xffff);
    } else if (wasOff) {
      if (this.#shared) store16(this.#aw, this.#ab + A.flags, this.#availFlags);
      else this.#av.setUint16(this.#ab + A.flags, this.#availFlags, true);
    }
    // The race Linux closes: a buffer used before the flag change is seen here
    // (the store above and the load of idx are both atomic when shared).
    return !this.hasUsed();
  }

  #setUsedEvent(value: number): void {
    if (this.#shared) store16(this.#aw, this.#usedEventAt, value);
    else this.#av.setUint16(this.#usedEventAt, value, true);
  }

  /** Takes back a buffer the device never used (after a reset), or null. */
  detachUnusedBuf(): T | null {
    const core = this.#core;
    const id = core.anyOutstanding();
    if (id < 0) return null;
    core.forgetOrder(id);
    this.#freeChain(id);
    this.#availIdx = (this.#availIdx - 1) & 0xffff;
    if (this.#shared) store16(this.#aw, this.#ab + A.idx, this.#availIdx);
    else this.#av.setUint16(this.#ab + A.idx, this.#availIdx, true);
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
      usedIdx: this.#shared
        ? load16(this.#uw, this.#ub + U.idx)
        : this.#uv.getUint16(this.#ub + U.idx, true),
      availFlags: this.#availFlags,
      usedFlags: this.#shared
        ? load16(this.#uw, this.#ub + U.flags)
        : this.#uv.getUint16(this.#ub + U.flags, true),
    };
  }
}
