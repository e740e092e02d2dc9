/**
 * The packed virtqueue (spec 2.8): one descriptor ring written by both
 * sides, with wrap counters, buffer ids and two event suppression
 * structures. {@link PackedDriverQueue} and {@link PackedDeviceQueue} have
 * the operations of `split.ts`, under the same names.
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { DmaAllocator, GuestMemory } from "../memory.ts";
import {
  PvirtqDesc,
  PvirtqEventSuppress,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_USED,
  VIRTQ_DESC_F_WRITE,
} from "../generated/virtqueue.ts";
import { checkIndirect, type DescriptorChain, maxChainLength } from "./chain.ts";
import { checkQueueSize, type QueueAddresses, type QueueOptions, ringSizes } from "./layout.ts";
import type {
  DeviceQueue,
  DriverQueue,
  QueuePosition,
  QueueState,
  Sg,
  UsedBuffer,
  UsedBufferSlot,
} from "./queue.ts";
import {
  fence,
  IndexFifo,
  linearPosition,
  locateArea,
  needEventPacked,
  positionField,
  restoreBusy,
} from "./_ring_util.ts";
import { DeviceCore } from "./_device_core.ts";
import { DriverCore } from "./_driver_core.ts";

/** The packed-ring accessors over guest memory. */
function packedRings(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions) {
  checkQueueSize(addrs.size, true, opts.index);
  const s = ringSizes(addrs.size, true, opts.index);
  const d = locateArea(mem, opts.index, "descriptor ring", addrs.desc, s.desc, s.descAlign);
  const drv = locateArea(
    mem,
    opts.index,
    "driver event suppression",
    addrs.driver,
    s.driver,
    s.driverAlign,
  );
  const dev = locateArea(
    mem,
    opts.index,
    "device event suppression",
    addrs.device,
    s.device,
    s.deviceAlign,
  );
  return {
    ring: new PvirtqDesc(d.region.view, d.offset),
    base: d.offset,
    driverEvent: new PvirtqEventSuppress(drv.region.view, drv.offset),
    deviceEvent: new PvirtqEventSuppress(dev.region.view, dev.offset),
  };
}

/** 2.8.1: AVAIL and USED bits of a descriptor as a driver makes it available in lap `wrap`. */
function availFlags(wrap: number): number {
  return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/** True when `flags` mark a descriptor available in lap `wrap`. */
function isAvail(flags: number, wrap: number): boolean {
  return ((flags >>> 7) & 1) === wrap && ((flags >>> 15) & 1) !== wrap;
}

/** True when `flags` mark a descriptor used in lap `wrap`. */
function isUsed(flags: number, wrap: number): boolean {
  return ((flags >>> 7) & 1) === wrap && ((flags >>> 15) & 1) === wrap;
}

/**
 * Device side of a packed virtqueue. Everything read from the ring is
 * validated; see {@link DeviceQueue}.
 */
export class PackedDeviceQueue implements DeviceQueue {
  /** Queue size. */
  readonly size: number;
  /** Queue index. */
  readonly index: number;
  /** Options the queue was created with. */
  readonly options: QueueOptions;
  readonly #mem: GuestMemory;
  readonly #shared: boolean;
  readonly #ring: PvirtqDesc;
  readonly #base: number;
  readonly #table: PvirtqDesc;
  readonly #driverEvent: PvirtqEventSuppress;
  readonly #deviceEvent: PvirtqEventSuppress;
  readonly #core: DeviceCore;
  readonly #eventIdx: boolean;
  // The ring and the driver event structure as (view, offset) pairs, hoisted
  // at creation: the hot path uses plain DataView calls.
  readonly #dv: DataView;
  readonly #ev: DataView;
  readonly #eb: number;
  #nextAvail = 0;
  #availWrap = 1;
  #nextUsed = 0;
  #usedWrap = 1;
  #batchWrap = 1;
  #pendingSlot = -1;
  #pendingFlags = 0;
  #published = 0;
  #signalled = 0;
  #notify = true;

  /** The device side of the packed queue at `addrs`. */
  constructor(mem: GuestMemory, addrs: QueueAddresses, opts: QueueOptions) {
    const r = packedRings(mem, addrs, opts);
    this.size = addrs.size;
    this.index = opts.index;
    this.options = opts;
    this.#mem = mem;
    this.#shared = mem.shared;
    this.#ring = r.ring;
    this.#base = r.base;
    this.#table = new PvirtqDesc(r.ring.view);
    this.#driverEvent = r.driverEvent;
    this.#deviceEvent = r.deviceEvent;
    this.#core = new DeviceCore(opts.index, this.size, opts.inOrder, this);
    this.#eventIdx = opts.eventIdx;
    this.#dv = r.ring.view;
    this.#ev = r.driverEvent.view;
    this.#eb = r.driverEvent.offset;
  }

  /** Chains popped and not yet used. */
  get inFlight(): number {
    return this.#core.pool.outstanding;
  }

  /** True when the descriptor at the device's position is available. */
  hasAvailable(): boolean {
    return isAvail(this.#ring.at(this.#base + this.#nextAvail * 16).flags, this.#availWrap);
  }

  /** The next available chain, validated, or null. */
  pop(): DescriptorChain | null {
    const size = this.size;
    const dv = this.#dv;
    const base = this.#base;
    const start = this.#nextAvail;
    const startWrap = this.#availWrap;
    let f = dv.getUint16(base + start * 16 + 14, true);
    if (!isAvail(f, startWrap)) {
      // Only the device writes used descriptors, and not ahead of itself.
      if (isUsed(f, startWrap)) this.#wrapNonsense(start, startWrap);
      return null;
    }
    if (this.#shared) fence();
    const chain = this.#core.take(start);
    chain._begin(0);
    const mem = this.#mem;
    let pos = start;
    let wrap = startWrap;
    let n = 0;
    let id = 0;
    // Each descriptor is consumed as it is examined, so a fault leaves the
    // queue past it and the same bad chain is not met again; every fault gives
    // the chain back to the pool before it throws (no handler on this path).
    for (;;) {
      let endPos = pos + 1;
      let endWrap = wrap;
      if (endPos === size) {
        endPos = 0;
        endWrap ^= 1;
      }
      this.#nextAvail = endPos;
      this.#availWrap = endWrap;
      if (++n > size) this.#tooLong(chain, start, pos);
      const o = base + pos * 16;
      if (n > 1) {
        f = dv.getUint16(o + 14, true);
        if (!isAvail(f, wrap)) this.#notAvail(chain, pos);
      }
      if ((f & VIRTQ_DESC_F_INDIRECT) !== 0) {
        this.#indirect(chain, pos, f, n);
      } else {
        chain._push(
          mem,
          dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 4294967296,
          dv.getUint32(o + 8, true),
          (f & VIRTQ_DESC_F_WRITE) !== 0,
          pos,
          -1,
          size,
        );
      }
      // 2.8.6: the buffer id is in the last descriptor of the list.
      id = dv.getUint16(o + 12, true);
      if ((f & VIRTQ_DESC_F_NEXT) === 0) break;
      pos = endPos;
      wrap = endWrap;
    }
    chain.head = id;
    chain.descriptorCount = n;
    if (this.#core.inOrder) this.#core.order.push(id);
    if (this.#eventIdx && this.#notify) {
      this.#deviceEvent.desc = this.#nextAvail | (this.#availWrap << 15);
    }
    return chain;
  }

  #wrapNonsense(start: number, startWrap: number): never {
    throw new QueueError(
      this.index,
      start,
      `AVAIL and USED flags both equal the device's wrap counter ${startWrap}: wrap counter nonsense`,
    );
  }

  #tooLong(chain: DescriptorChain, start: number, pos: number): never {
    this.#core.pool.give(chain);
    throw new QueueError(
      this.index,
      pos,
      `chain from ${start} is longer than the queue size ${this.size}`,
    );
  }

  #notAvail(chain: DescriptorChain, pos: number): never {
    this.#core.pool.give(chain);
    throw new QueueError(
      this.index,
      pos,
      "chain continues into a descriptor that is not available",
    );
  }

  #indirect(chain: DescriptorChain, pos: number, f: number, n: number): void {
    try {
      const d = this.#ring;
      d.offset = this.#base + pos * 16;
      const entries = checkIndirect(
        this.index,
        this.size,
        this.options.indirect,
        pos,
        f,
        d.len,
        n > 1 || (f & VIRTQ_DESC_F_NEXT) !== 0,
        false,
      );
      this.#walkIndirect(chain, pos, d.addr, entries);
    } catch (e) {
      this.#core.pool.give(chain);
      throw e;
    }
  }

  #walkIndirect(chain: DescriptorChain, pos: number, addr: number, entries: number): void {
    const mem = this.#mem;
    const region = mem.regionFor(addr, entries * 16);
    if (region === undefined) {
      throw new QueueError(
        this.index,
        pos,
        `indirect table 0x${addr.toString(16)}+${entries * 16} is outside guest memory`,
      );
    }
    const base = addr - region.base;
    const t = this.#table;
    t.view = region.view;
    // 2.8.19: entries are sequential; only WRITE is meaningful. An INDIRECT
    // flag breaks 2.8.19.1 and is rejected rather than ignored.
    for (let j = 0; j < entries; j++) {
      t.offset = base + j * 16;
      const f = t.flags;
      if ((f & VIRTQ_DESC_F_INDIRECT) !== 0) {
        checkIndirect(this.index, this.size, this.options.indirect, pos, f, t.len, false, true);
      }
      chain._push(
        mem,
        t.addr,
        t.len,
        (f & VIRTQ_DESC_F_WRITE) !== 0,
        pos,
        j,
        maxChainLength(this.size, true),
      );
    }
    chain.indirect = true;
  }

  /** Returns `chain` as used with `len` bytes written, and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** Writes a used descriptor for `chain`; {@link PackedDeviceQueue.flushUsed} exposes the batch. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const core = this.#core;
    core.checkUsed(chain, len, this);
    let slot: number;
    if (core.inOrder && core.batchSlot >= 0 && core.batchFull) {
      // 2.8.9: one used descriptor, naming the last buffer, for the batch.
      slot = core.batchSlot;
    } else {
      slot = this.#nextUsed;
      core.batchSlot = slot;
      this.#batchWrap = this.#usedWrap;
    }
    core.batchFull = len === chain.writableLength;
    const dv = this.#dv;
    const o = this.#base + slot * 16;
    dv.setUint16(o + 12, chain.head, true);
    dv.setUint32(o + 8, len, true);
    const flags = (this.#batchWrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0) |
      (len > 0 ? VIRTQ_DESC_F_WRITE : 0);
    // The first used descriptor of a batch becomes visible last (2.8.10).
    if (this.#pendingSlot < 0 || this.#pendingSlot === slot) {
      this.#pendingSlot = slot;
      this.#pendingFlags = flags;
    } else {
      dv.setUint16(o + 14, flags, true);
    }
    let next = this.#nextUsed + chain.descriptorCount;
    if (next >= this.size) {
      next -= this.size;
      this.#usedWrap ^= 1;
    }
    this.#nextUsed = next;
    core.release(chain);
  }

  /** Exposes every used descriptor written since the last flush. */
  flushUsed(): void {
    this.#core.batchSlot = -1;
    const slot = this.#pendingSlot;
    if (slot < 0) return;
    if (this.#shared) fence();
    this.#dv.setUint16(this.#base + slot * 16 + 14, this.#pendingFlags, true);
    this.#pendingSlot = -1;
    this.#published = linearPosition(this.#nextUsed, this.#usedWrap, this.size);
  }

  /** True when the driver event suppression structure asks for a notification (2.8.21.3). */
  needsNotification(): boolean {
    if (this.#shared) fence();
    const old = this.#signalled;
    const now = this.#published;
    this.#signalled = now;
    if (old === now) return false;
    const flags = this.#ev.getUint16(this.#eb + 2, true) & 3;
    if (flags === RING_EVENT_FLAGS_DISABLE) return false;
    if (flags !== RING_EVENT_FLAGS_DESC || !this.#eventIdx) return true;
    return this.#descEvent(now, old);
  }

  #descEvent(now: number, old: number): boolean {
    const ev = this.#driverEvent;
    const off = ev.descEventOff;
    if (off >= this.size) return true;
    return needEventPacked(linearPosition(off, ev.descEventWrap, this.size), now, old, this.size);
  }

  /** Asks for available-buffer notifications; true when chains are already waiting. */
  enableNotification(): boolean {
    this.#notify = true;
    const ev = this.#deviceEvent;
    if (this.options.eventIdx) {
      ev.desc = this.#nextAvail | (this.#availWrap << 15);
      ev.flags = RING_EVENT_FLAGS_DESC;
    } else {
      ev.flags = RING_EVENT_FLAGS_ENABLE;
    }
    if (this.#shared) fence();
    return this.hasAvailable();
  }

  /** Asks the driver not to notify. */
  disableNotification(): void {
    this.#notify = false;
    this.#deviceEvent.flags = RING_EVENT_FLAGS_DISABLE;
  }

  /** Where the queue stands: next descriptor to read and to write, with wrap counters. */
  position(): Required<QueuePosition> {
    return {
      availIdx: this.#nextAvail,
      availWrap: this.#availWrap,
      usedIdx: this.#nextUsed,
      usedWrap: this.#usedWrap,
    };
  }

  /**
   * Resumes at `pos` (see {@link DeviceQueue.restore}); the used position
   * defaults to the available one.
   */
  restore(pos: QueuePosition): void {
    if (this.inFlight !== 0 || this.#pendingSlot >= 0) restoreBusy(this.index, this.inFlight);
    const size = this.size;
    const avail = positionField(this.index, "availIdx", pos.availIdx, 0, size - 1);
    const availWrap = positionField(this.index, "availWrap", pos.availWrap, 1, 1);
    const used = positionField(this.index, "usedIdx", pos.usedIdx, avail, size - 1);
    const usedWrap = positionField(this.index, "usedWrap", pos.usedWrap, availWrap, 1);
    // The used position trails the available one by at most one lap.
    const a = linearPosition(avail, availWrap, size);
    const u = linearPosition(used, usedWrap, size);
    const gap = (a - u + 2 * size) % (2 * size);
    if (gap > size) {
      throw new QueueError(
        this.index,
        undefined,
        `restore: available position ${avail} (wrap ${availWrap}) is ${gap} descriptors ahead of used position ${used} (wrap ${usedWrap}), more than the queue size ${size}`,
      );
    }
    this.#nextAvail = avail;
    this.#availWrap = availWrap;
    this.#nextUsed = used;
    this.#usedWrap = usedWrap;
    this.#batchWrap = usedWrap;
    this.#published = u;
    this.#signalled = u;
    this.enableNotification();
  }

  /** Internal counters. */
  state(): QueueState {
    return {
      size: this.size,
      nextAvail: this.#nextAvail,
      availWrap: this.#availWrap,
      nextUsed: this.#nextUsed,
      usedWrap: this.#usedWrap,
      inFlight: this.inFlight,
      notify: this.#notify,
    };
  }
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
  readonly #deviceEvent: PvirtqEventSuppress;
  readonly #core: DriverCore<T>;
  readonly #ids: IndexFifo;
  readonly #eventIdx: boolean;
  readonly #dv: DataView;
  readonly #ev: DataView;
  readonly #eb: number;
  #numFree: number;
  #nextAvail = 0;
  #availWrap = 1;
  #nextUsed = 0;
  #usedWrap = 1;
  #numAdded = 0;
  #eventFlags = RING_EVENT_FLAGS_ENABLE;

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
    this.#deviceEvent = r.deviceEvent;
    this.#core = new DriverCore<T>(mem, this.size, opts.index, opts.inOrder, opts.indirect, alloc);
    this.#ids = new IndexFifo(this.size);
    for (let i = 0; i < this.size; i++) this.#ids.push(i);
    this.#numFree = this.size;
    this.#eventIdx = opts.eventIdx;
    this.#dv = r.ring.view;
    this.#ev = r.deviceEvent.view;
    this.#eb = r.deviceEvent.offset;
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
    const core = this.#core;
    core.checkAdd(out, in_, token);
    const total = core.sgTotal;
    // tryIndirect() only when a table can be had; it also resets `tableAddr`.
    let indirect = false;
    if (core.indirectUsable && total > 1 && this.#numFree > 0) indirect = core.tryIndirect();
    else core.tableAddr = -1;
    const needed = indirect ? 1 : total;
    if (this.#numFree < needed) this.#full(needed);
    const id = this.#ids.shift();
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
        dv.setUint32(o, addr >>> 0, true);
        dv.setUint32(o + 4, Math.floor(addr / 4294967296), true);
        dv.setUint32(o + 8, sg.len, true);
        dv.setUint16(o + 12, id, true);
        const f = (wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED) |
          (i >= nOut ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < total ? VIRTQ_DESC_F_NEXT : 0);
        // 2.8.6: the first descriptor is made available after the rest.
        if (i === 0) headFlags = f;
        else dv.setUint16(o + 14, f, true);
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
    if (this.#shared) fence();
    this.#dv.setUint16(this.#base + head * 16 + 14, headFlags, true);
  }

  #full(needed: number): never {
    throw new QueueError(
      this.index,
      undefined,
      `queue full: ${needed} descriptors needed, ${this.#numFree} free`,
    );
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
      t.flags = i >= out.length ? VIRTQ_DESC_F_WRITE : 0;
    }
    d.offset = this.#base + this.#nextAvail * 16;
    d.addr = core.tableAddr;
    d.len = total * 16;
    d.id = id;
    const headFlags = VIRTQ_DESC_F_INDIRECT | availFlags(this.#availWrap);
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
    if (this.#shared) fence();
    const added = this.#numAdded;
    this.#numAdded = 0;
    if (added === 0) return false;
    const flags = this.#ev.getUint16(this.#eb + 2, true) & 3;
    if (flags === RING_EVENT_FLAGS_DISABLE) return false;
    if (flags !== RING_EVENT_FLAGS_DESC || !this.#eventIdx) return true;
    return this.#descEvent(added);
  }

  #descEvent(added: number): boolean {
    const ev = this.#deviceEvent;
    const off = ev.descEventOff;
    if (off >= this.size) return true;
    const size = this.size;
    const now = linearPosition(this.#nextAvail, this.#availWrap, size);
    const event = linearPosition(off, ev.descEventWrap, size);
    return needEventPacked(event, now, now - added, size);
  }

  /** True when a used buffer is waiting. */
  hasUsed(): boolean {
    return this.#core.batchEnd >= 0 ||
      isUsed(this.#ring.at(this.#base + this.#nextUsed * 16).flags, this.#usedWrap);
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
    const core = this.#core;
    let id: number;
    if (core.batchEnd < 0) {
      const dv = this.#dv;
      const o = this.#base + this.#nextUsed * 16;
      const flags = dv.getUint16(o + 14, true);
      if (!isUsed(flags, this.#usedWrap)) return false;
      if (core.inFlight === 0) this.#nothingOutstanding();
      if (this.#shared) fence();
      const eid = dv.getUint16(o + 12, true);
      // 2.8.4: len is reserved in used descriptors without WRITE.
      const len = (flags & VIRTQ_DESC_F_WRITE) !== 0 ? dv.getUint32(o + 8, true) : 0;
      core.acceptUsed(eid, len, this.#nextUsed, core.inFlight);
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
    // 2.8.7: skip the descriptors the buffer took.
    const n = core.count[id];
    let next = this.#nextUsed + n;
    if (next >= this.size) {
      next -= this.size;
      this.#usedWrap ^= 1;
    }
    this.#nextUsed = next;
    // 2.8.21.3: keep the descriptor event at the next used position (Linux's
    // get_buf does the same while it is on), then a fence before the next read.
    if (this.#eventFlags === RING_EVENT_FLAGS_DESC) {
      this.#driverEvent.desc = next | (this.#usedWrap << 15);
      if (this.#shared) fence();
    }
    this.#numFree += n;
    this.#ids.push(id);
    slot.token = core.release(id);
    return true;
  }

  #nothingOutstanding(): never {
    throw new QueueError(
      this.index,
      this.#nextUsed,
      "used descriptor with no buffer outstanding",
    );
  }

  /** Asks the device not to interrupt (RING_EVENT_FLAGS_DISABLE). */
  disableCb(): void {
    if (this.#eventFlags !== RING_EVENT_FLAGS_DISABLE) {
      this.#eventFlags = RING_EVENT_FLAGS_DISABLE;
      this.#driverEvent.flags = RING_EVENT_FLAGS_DISABLE;
    }
  }

  /** Re-enables interrupts; true when used buffers are already waiting. */
  enableCb(): boolean {
    return this.#enable(0);
  }

  /** Re-enables interrupts for when 3/4 of the outstanding descriptors are used (EVENT_IDX). */
  enableCbDelayed(): boolean {
    return this.#enable(((this.size - this.#numFree) * 3) >> 2);
  }

  #enable(ahead: number): boolean {
    const ev = this.#driverEvent;
    if (this.options.eventIdx) {
      // A descriptor-specific event at the position `ahead` descriptors on.
      let off = this.#nextUsed + ahead;
      let wrap = this.#usedWrap;
      if (off >= this.size) {
        off -= this.size;
        wrap ^= 1;
      }
      ev.desc = off | (wrap << 15);
      this.#eventFlags = RING_EVENT_FLAGS_DESC;
    } else {
      this.#eventFlags = RING_EVENT_FLAGS_ENABLE;
    }
    ev.flags = this.#eventFlags;
    if (this.#shared) fence();
    return this.hasUsed();
  }

  /** Takes back a buffer the device never used (after a reset), or null. */
  detachUnusedBuf(): T | null {
    const core = this.#core;
    const id = core.anyOutstanding();
    if (id < 0) return null;
    core.forgetOrder(id);
    this.#numFree += core.count[id];
    this.#ids.push(id);
    return core.release(id);
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
