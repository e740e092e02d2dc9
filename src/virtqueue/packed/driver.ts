/**
 * The driver side of the packed virtqueue (spec 2.8):
 * {@link PackedDriverQueue} makes buffers available in the descriptor ring
 * and takes them back when the device marks them used. It implements
 * {@link DriverQueue}; `device.ts` is the other side, and
 * `../split/driver.ts` the same operations for 2.7.
 *
 * @module
 */

import { QueueError } from "../../errors.ts";
import type { DmaAllocator, GuestMemory } from "../../memory.ts";
import { PvirtqDesc, PvirtqEventSuppress } from "../../generated/virtqueue.ts";
import type { QueueAddresses, QueueOptions } from "../layout.ts";
import type { DriverQueue, QueueState, Sg, UsedBuffer, UsedBufferSlot } from "../queue.ts";
import { checkOffsets, linearPosition, load16, needEventPacked, store16 } from "../_ring_util.ts";
import { DriverCore } from "../_driver_core.ts";
import { packedRings } from "./_rings.ts";

// The spec's flag values and field offsets, as literals (see ../split/_rings.ts
// for why each side declares its own): the flags are those of the generated
// constants of the same names, which tests/virtqueue/layout_test.ts and
// hostile_test.ts check byte for byte; the check below ties the offsets to
// the generated OFFSETS at load time.
const enum F {
  RING_EVENT_FLAGS_DESC = 2,
  RING_EVENT_FLAGS_DISABLE = 1,
  RING_EVENT_FLAGS_ENABLE = 0,
  VIRTQ_DESC_F_AVAIL = 1 << 7,
  VIRTQ_DESC_F_INDIRECT = 4,
  VIRTQ_DESC_F_NEXT = 1,
  VIRTQ_DESC_F_USED = 1 << 15,
  VIRTQ_DESC_F_WRITE = 2,
}
/** struct pvirtq_desc (2.8.13). */
const enum D {
  addr = 0,
  len = 8,
  id = 12,
  flags = 14,
}
/** struct pvirtq_event_suppress (2.8.14): `desc` is the off_wrap word. */
const enum E {
  offWrap = 0,
  flags = 2,
}
checkOffsets("pvirtq_desc", PvirtqDesc.OFFSETS, {
  addr: D.addr,
  len: D.len,
  id: D.id,
  flags: D.flags,
});
checkOffsets("pvirtq_event_suppress", PvirtqEventSuppress.OFFSETS, {
  desc: E.offWrap,
  flags: E.flags,
});

/** 2.8.1: true when `flags` mark a descriptor used in lap `wrap`. */
function isUsed(flags: number, wrap: number): boolean {
  return ((flags >>> 7) & 1) === wrap && ((flags >>> 15) & 1) === wrap;
}

/** 2.8.1: AVAIL and USED bits of a descriptor as a driver makes it available in lap `wrap`. */
function availFlags(wrap: number): number {
  return wrap ? F.VIRTQ_DESC_F_AVAIL : F.VIRTQ_DESC_F_USED;
}

/** Driver side of a packed virtqueue, after Linux's `virtqueue_add_packed` and friends. */
export class PackedDriverQueue<T> implements DriverQueue<T> {
  /** Queue size. */
  readonly size: number;
  /** Queue index. */
  readonly index: number;
  /** Options the queue was created with. */
  readonly options: QueueOptions;
  readonly #shared: boolean;
  readonly #ring: PvirtqDesc;
  readonly #base: number;
  readonly #table: PvirtqDesc;
  readonly #driverEvent: PvirtqEventSuppress;
  readonly #core: DriverCore<T>;
  // The core's per-buffer arrays, hoisted for the hot path.
  readonly #tokens: (T | undefined)[];
  readonly #count: Uint16Array;
  readonly #writable: Float64Array;
  readonly #inOrder: boolean;
  // Free buffer ids, oldest freed last, as a list linked through `#idNext`;
  // ids in use are the outstanding buffers, so the list is empty exactly when
  // `size` buffers are outstanding.
  readonly #idNext: Uint16Array;
  #idHead = 0;
  #idTail: number;
  readonly #eventIdx: boolean;
  readonly #dv: DataView;
  readonly #ev: DataView;
  readonly #eb: number;
  // With shared memory, descriptor flags and event words are accessed
  // atomically through these (see `ringWords`): the ring's, those of `#ev`'s
  // structure, and those of the structure this side writes.
  readonly #rw: Uint16Array;
  readonly #ew: Uint16Array;
  readonly #ow: Uint16Array;
  #numFree: number;
  #nextAvail = 0;
  #availWrap = 1;
  #nextUsed = 0;
  #usedWrap = 1;
  #numAdded = 0;
  #eventFlags = F.RING_EVENT_FLAGS_ENABLE;

  /** The driver side of the (zeroed) packed queue at `addrs`; `alloc` gives indirect tables. */
  constructor(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions, alloc?: DmaAllocator) {
    const r = packedRings(mem, addrs, opts);
    this.size = addrs.size;
    this.index = opts.index;
    this.options = opts;
    this.#shared = mem.shared;
    this.#ring = r.ring;
    this.#base = r.base;
    this.#table = new PvirtqDesc(r.ring.view);
    this.#driverEvent = r.driverEvent;
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
    this.#idNext = new Uint16Array(this.size);
    for (let i = 0; i + 1 < this.size; i++) this.#idNext[i] = i + 1;
    this.#idTail = this.size - 1;
    this.#numFree = this.size;
    this.#eventIdx = opts.eventIdx;
    this.#dv = r.ring.view;
    this.#ev = r.deviceEvent.view;
    this.#eb = r.deviceEvent.offset;
    this.#rw = r.ringWords;
    this.#ew = r.deviceWords;
    this.#ow = r.driverWords;
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

  /** Makes a buffer available (2.8.11). */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const nOut = out.length;
    const total = nOut + in_.length;
    const core = this.#core;
    // Direct descriptors that fit: checked and written in one pass below.
    // Everything else (an indirect table to try, no room, a bad request)
    // takes the general path, which reports faults in the same order.
    if (
      token === undefined || total === 0 || total > this.#numFree ||
      (core.indirectFirst && total > 1)
    ) {
      this.#addGeneral(out, in_, token);
      return;
    }
    // The head's flags are written last (2.8.6), so nothing is available
    // before the whole request is checked; a fault also takes back the flags
    // written after the head (see `#unwrite`).
    const id = this.#idHead;
    const head = this.#nextAvail;
    const dv = this.#dv;
    const base = this.#base;
    const size = this.size;
    let pos = head;
    let wrap = this.#availWrap;
    let headFlags = 0;
    let readable = 0;
    let writable = 0;
    for (let i = 0; i < total; i++) {
      const w = i >= nOut;
      const sg = w ? in_[i - nOut] : out[i];
      const addr = sg.addr;
      const len = sg.len;
      if (!(Number.isSafeInteger(addr) && addr >= 0 && (len >>> 0) === len)) {
        this.#unwrite(head, i);
        core.badSg(i, sg);
      }
      if (w) writable += len;
      else readable += len;
      const o = base + pos * 16;
      dv.setUint32(o + D.addr, addr >>> 0, true);
      // The high word; the test against 2^31 - 1 stays in integer arithmetic.
      dv.setUint32(o + D.addr + 4, addr > 0x7fffffff ? Math.floor(addr / 4294967296) : 0, true);
      dv.setUint32(o + D.len, len, true);
      dv.setUint16(o + D.id, id, true);
      const f = (wrap ? F.VIRTQ_DESC_F_AVAIL : F.VIRTQ_DESC_F_USED) |
        (w ? F.VIRTQ_DESC_F_WRITE : 0) | (i + 1 < total ? F.VIRTQ_DESC_F_NEXT : 0);
      // 2.8.6: the first descriptor is made available after the rest.
      if (i === 0) headFlags = f;
      else dv.setUint16(o + D.flags, f, true);
      if (++pos === size) {
        pos = 0;
        wrap ^= 1;
      }
    }
    // 2.7.4.1: 2^32 - 1 bytes at most. The test against 2^31 - 1 first keeps the
    // common case in integer arithmetic (a compare with 2^32 - 1 is a float one).
    const bytes = readable + writable;
    if (bytes > 0x7fffffff && bytes > 0xffffffff) {
      this.#unwrite(head, total);
      core.tooLong();
    }
    this.#nextAvail = pos;
    this.#availWrap = wrap;
    this.#idHead = this.#idNext[id];
    // What `DriverCore.record` keeps; the buffer's table entry is already -1.
    this.#tokens[id] = token;
    this.#count[id] = total;
    this.#writable[id] = writable;
    core.inFlight++;
    if (this.#inOrder) core.order.push(id);
    this.#numFree -= total;
    this.#numAdded += total;
    // 2.8.6: the head's flags last; an atomic store when shared publishes the
    // descriptors written before it.
    if (this.#shared) store16(this.#rw, base + head * 16 + D.flags, headFlags);
    else dv.setUint16(base + head * 16 + D.flags, headFlags, true);
  }

  /**
   * After a refused request whose first `count` descriptors were written
   * from ring position `head`: gives the ones after the head back the flags
   * of the previous lap, which mean "not available" in this one. Left
   * marked available, they would become part of the ring once a shorter
   * request is published at `head` (the device reads on from where it ends).
   */
  #unwrite(head: number, count: number): void {
    const dv = this.#dv;
    let pos = head;
    let wrap = this.#availWrap;
    for (let i = 1; i < count; i++) {
      if (++pos === this.size) {
        pos = 0;
        wrap ^= 1;
      }
      dv.setUint16(this.#base + pos * 16 + D.flags, availFlags(wrap ^ 1), true);
    }
  }

  /** {@link PackedDriverQueue.addSgs} in general: indirect tables, and every fault. */
  #addGeneral(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    const core = this.#core;
    core.checkAdd(out, in_, token);
    const total = core.sgTotal;
    // A table when one can be had (this also sets `tableAddr` to -1 when not).
    const indirect = core.tryIndirect(
      core.indirectUsable && total > 1 && this.#numFree > 0 &&
        (core.indirectFirst || total > this.#numFree),
    );
    const needed = indirect ? 1 : total;
    if (this.#numFree < needed) this.#core.full(needed, this.#numFree);
    const id = this.#idHead;
    this.#idHead = this.#idNext[id];
    const head = this.#nextAvail;
    let headFlags: number;
    if (indirect) {
      headFlags = this.#addIndirect(out, in_, id, total);
    } else {
      const dv = this.#dv;
      const base = this.#base;
      const size = this.size;
      const nOut = out.length;
      let pos = head;
      let wrap = this.#availWrap;
      headFlags = 0;
      for (let i = 0; i < total; i++) {
        const sg = i < nOut ? out[i] : in_[i - nOut];
        const o = base + pos * 16;
        const addr = sg.addr;
        dv.setUint32(o + D.addr, addr >>> 0, true);
        // The high word; the test against 2^31 - 1 stays in integer arithmetic.
        dv.setUint32(o + D.addr + 4, addr > 0x7fffffff ? Math.floor(addr / 4294967296) : 0, true);
        dv.setUint32(o + D.len, sg.len, true);
        dv.setUint16(o + D.id, id, true);
        const f = (wrap ? F.VIRTQ_DESC_F_AVAIL : F.VIRTQ_DESC_F_USED) |
          (i >= nOut ? F.VIRTQ_DESC_F_WRITE : 0) | (i + 1 < total ? F.VIRTQ_DESC_F_NEXT : 0);
        // 2.8.6: the first descriptor is made available after the rest.
        if (i === 0) headFlags = f;
        else dv.setUint16(o + D.flags, f, true);
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
        }
      }
      this.#nextAvail = pos;
      this.#availWrap = wrap;
    }
    core.record(id, token, needed);
    this.#numFree -= needed;
    this.#numAdded += needed;
    // 2.8.6: the head's flags last; an atomic store when shared publishes the
    // descriptors written before it.
    if (this.#shared) store16(this.#rw, this.#base + head * 16 + D.flags, headFlags);
    else this.#dv.setUint16(this.#base + head * 16 + D.flags, headFlags, true);
  }

  #addIndirect(out: readonly Sg[], in_: readonly Sg[], id: number, total: number): number {
    const core = this.#core;
    const d = this.#ring;
    const t = this.#table;
    t.view = (core.tableRegion as { view: DataView }).view;
    for (let i = 0; i < total; i++) {
      const sg = i < out.length ? out[i] : in_[i - out.length];
      t.offset = core.tableOffset + i * 16;
      t.addr = sg.addr;
      t.len = sg.len;
      t.id = 0;
      t.flags = i >= out.length ? F.VIRTQ_DESC_F_WRITE : 0;
    }
    d.offset = this.#base + this.#nextAvail * 16;
    d.addr = core.tableAddr;
    d.len = total * 16;
    d.id = id;
    const headFlags = F.VIRTQ_DESC_F_INDIRECT | availFlags(this.#availWrap);
    this.#advanceAvail();
    return headFlags;
  }

  #advanceAvail(): void {
    if (++this.#nextAvail === this.size) {
      this.#nextAvail = 0;
      this.#availWrap ^= 1;
    }
  }

  /** True when the device must be notified of what was added since the last kick (2.8.21.1). */
  kick(): boolean {
    // Read after the flags stores of addSgs, both atomic when shared (2.8.21.1).
    const added = this.#numAdded;
    this.#numAdded = 0;
    if (added === 0) return false;
    const flags =
      (this.#shared
        ? load16(this.#ew, this.#eb + E.flags)
        : this.#ev.getUint16(this.#eb + E.flags, true)) & 3;
    if (flags === F.RING_EVENT_FLAGS_DISABLE) return false;
    if (flags !== F.RING_EVENT_FLAGS_DESC || !this.#eventIdx) return true;
    return this.#descEvent(added);
  }

  #descEvent(added: number): boolean {
    // One load of off_wrap, so that offset and wrap counter belong together.
    const offWrap = this.#shared
      ? load16(this.#ew, this.#eb + E.offWrap)
      : this.#ev.getUint16(this.#eb + E.offWrap, true);
    const off = offWrap & 0x7fff;
    if (off >= this.size) return true;
    const size = this.size;
    const now = linearPosition(this.#nextAvail, this.#availWrap, size);
    const event = linearPosition(off, offWrap >>> 15, size);
    return needEventPacked(event, now, now - added, size);
  }

  /** True when a used buffer is waiting. */
  hasUsed(): boolean {
    return this.#core.batchEnd >= 0 ||
      isUsed(
        this.#shared
          ? load16(this.#rw, this.#base + this.#nextUsed * 16 + D.flags)
          : this.#dv.getUint16(this.#base + this.#nextUsed * 16 + D.flags, true),
        this.#usedWrap,
      );
  }

  /** The next used buffer, or null. */
  getBuf(): UsedBuffer<T> | null {
    const slot: UsedBufferSlot<T> = { token: undefined, len: 0 };
    return this.getBufInto(slot) ? { token: slot.token as T, len: slot.len } : null;
  }

  /**
   * The next used buffer into `slot`; false when none. Allocates nothing.
   * While descriptor-specific events are on (EVENT_IDX), each call moves the
   * event to the next used position, as Linux does, so a driver that only
   * collects buffers keeps getting interrupts.
   */
  getBufInto(slot: UsedBufferSlot<T>): boolean {
    if (this.#inOrder) return this.#getInOrder(slot);
    const dv = this.#dv;
    const o = this.#base + this.#nextUsed * 16;
    // Flags before id and len (an atomic load when shared).
    const flags = this.#shared ? load16(this.#rw, o + D.flags) : dv.getUint16(o + D.flags, true);
    if (!isUsed(flags, this.#usedWrap)) return false;
    const core = this.#core;
    if (core.inFlight === 0) this.#nothingOutstanding();
    const id = dv.getUint16(o + D.id, true);
    // 2.8.4: len is reserved in used descriptors without WRITE.
    const len = (flags & F.VIRTQ_DESC_F_WRITE) !== 0 ? dv.getUint32(o + D.len, true) : 0;
    core.acceptUsed(id, len, this.#nextUsed, core.inFlight);
    // Before `release`: freeing the id looks at the outstanding count.
    this.#skipUsed(id);
    slot.token = core.release(id);
    slot.len = len;
    return true;
  }

  /** {@link PackedDriverQueue.getBufInto} with IN_ORDER: one used descriptor may stand for several buffers. */
  #getInOrder(slot: UsedBufferSlot<T>): boolean {
    const core = this.#core;
    if (core.batchEnd < 0) {
      const dv = this.#dv;
      const o = this.#base + this.#nextUsed * 16;
      // Flags before id and len (an atomic load when shared).
      const flags = this.#shared ? load16(this.#rw, o + D.flags) : dv.getUint16(o + D.flags, true);
      if (!isUsed(flags, this.#usedWrap)) return false;
      if (core.inFlight === 0) this.#nothingOutstanding();
      const eid = dv.getUint16(o + D.id, true);
      // 2.8.4: len is reserved in used descriptors without WRITE.
      const len = (flags & F.VIRTQ_DESC_F_WRITE) !== 0 ? dv.getUint32(o + D.len, true) : 0;
      core.acceptUsed(eid, len, this.#nextUsed, core.inFlight);
    }
    const id = core.nextInOrder();
    slot.len = core.lastLen;
    this.#skipUsed(id);
    slot.token = core.release(id);
    return true;
  }

  /** Moves past the descriptors buffer `id` took and frees its id. */
  #skipUsed(id: number): void {
    // 2.8.7: skip the descriptors the buffer took.
    const n = this.#count[id];
    let next = this.#nextUsed + n;
    if (next >= this.size) {
      next -= this.size;
      this.#usedWrap ^= 1;
    }
    this.#nextUsed = next;
    // 2.8.21.3: keep the descriptor event at the next used position (Linux's
    // get_buf does the same while it is on).
    if (this.#eventFlags === F.RING_EVENT_FLAGS_DESC) {
      this.#setOwnEvent(E.offWrap, next | (this.#usedWrap << 15));
    }
    this.#numFree += n;
    this.#freeId(id);
  }

  #nothingOutstanding(): never {
    throw new QueueError(
      this.index,
      this.#nextUsed,
      "used descriptor with no buffer outstanding",
      { code: "ERR_VIRTIO_QUEUE_USED_AHEAD" },
    );
  }

  /** Asks the device not to interrupt (F.RING_EVENT_FLAGS_DISABLE). */
  disableCb(): void {
    if (this.#eventFlags !== F.RING_EVENT_FLAGS_DISABLE) {
      this.#eventFlags = F.RING_EVENT_FLAGS_DISABLE;
      this.#setOwnEvent(E.flags, F.RING_EVENT_FLAGS_DISABLE);
    }
  }

  /** Re-enables interrupts; false when used buffers are already waiting (Linux's sense). */
  enableCb(): boolean {
    return this.#enable(0);
  }

  /** Re-enables interrupts for when 3/4 of the outstanding descriptors are used (EVENT_IDX). */
  enableCbDelayed(): boolean {
    return this.#enable(((this.size - this.#numFree) * 3) >> 2);
  }

  #enable(ahead: number): boolean {
    if (this.options.eventIdx) {
      // A descriptor-specific event at the position `ahead` descriptors on.
      let off = this.#nextUsed + ahead;
      let wrap = this.#usedWrap;
      if (off >= this.size) {
        off -= this.size;
        wrap ^= 1;
      }
      this.#setOwnEvent(E.offWrap, off | (wrap << 15));
      this.#eventFlags = F.RING_EVENT_FLAGS_DESC;
    } else {
      this.#eventFlags = F.RING_EVENT_FLAGS_ENABLE;
    }
    this.#setOwnEvent(E.flags, this.#eventFlags);
    // Then the used descriptor, both atomic when shared: a device using one
    // meanwhile either sees the request or is seen here (2.8.10).
    return !this.hasUsed();
  }

  /** Writes the word at `field` (`E.offWrap` or `E.flags`) of the driver event structure. */
  #setOwnEvent(field: number, value: number): void {
    const ev = this.#driverEvent;
    if (this.#shared) store16(this.#ow, ev.offset + field, value);
    else ev.view.setUint16(ev.offset + field, value, true);
  }

  /** Takes back a buffer the device never used (after a reset), or null. */
  detachUnusedBuf(): T | null {
    const core = this.#core;
    const id = core.anyOutstanding();
    if (id < 0) return null;
    core.forgetOrder(id);
    this.#numFree += core.count[id];
    this.#freeId(id);
    return core.release(id);
  }

  /** Appends `id`, still counted as outstanding, to the free ids. */
  #freeId(id: number): void {
    if (this.#core.inFlight === this.size) this.#idHead = id;
    else this.#idNext[this.#idTail] = id;
    this.#idTail = id;
  }

  /** Internal counters. */
  state(): QueueState {
    return {
      size: this.size,
      numFree: this.#numFree,
      inFlight: this.inFlight,
      nextAvail: this.#nextAvail,
      availWrap: this.#availWrap,
      nextUsed: this.#nextUsed,
      usedWrap: this.#usedWrap,
      eventFlags: this.#eventFlags,
    };
  }
}
