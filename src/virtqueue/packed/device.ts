/**
 * The device side of the packed virtqueue (spec 2.8):
 * {@link PackedDeviceQueue} takes chains from the descriptor ring, validated,
 * and writes them back as used, with wrap counters and event suppression. It
 * implements {@link DeviceQueue}; `driver.ts` is the other side, and
 * `../split/device.ts` the same operations for 2.7.
 *
 * @module
 */

import { QueueError } from "../../errors.ts";
import type { GuestMemory, MemoryRegion } from "../../memory.ts";
import { PvirtqDesc, PvirtqEventSuppress } from "../../generated/virtqueue.ts";
import type { DescriptorChain } from "../chain.ts";
import {
  breaksChainRule,
  type ChainFill,
  type ChainPool,
  checkIndirect,
  maxChainLength,
  pushSegment,
  setCounts,
  walkFault,
} from "../_chain_builder.ts";
import type { QueueAddresses, QueueOptions } from "../layout.ts";
import type { DeviceQueue, QueuePosition, QueueState } from "../queue.ts";
import {
  checkOffsets,
  linearPosition,
  load16,
  needEventPacked,
  positionField,
  restoreBusy,
  store16,
} from "../_ring_util.ts";
import { DeviceCore } from "../_device_core.ts";
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

/** 2.8.1: true when `flags` mark a descriptor available in lap `wrap`. */
function isAvail(flags: number, wrap: number): boolean {
  return ((flags >>> 7) & 1) === wrap && ((flags >>> 15) & 1) !== wrap;
}

/** 2.8.1: true when `flags` mark a descriptor used in lap `wrap`. */
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
  readonly #deviceEvent: PvirtqEventSuppress;
  readonly #core: DeviceCore;
  // The core's pool and IN_ORDER flag, hoisted for the hot path.
  readonly #pool: ChainPool;
  readonly #inOrder: boolean;
  readonly #eventIdx: boolean;
  // The ring and the driver event structure as (view, offset) pairs, hoisted
  // at creation: the hot path uses plain DataView calls.
  readonly #dv: DataView;
  readonly #ev: DataView;
  readonly #eb: number;
  // With shared memory, descriptor flags and event words are accessed
  // atomically through these (see `ringWords`): the ring's, those of `#ev`'s
  // structure, and those of the structure this side writes.
  readonly #rw: Uint16Array;
  readonly #ew: Uint16Array;
  readonly #ow: Uint16Array;
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
  // Between suspendNotifications and resumeNotifications.
  #suspended = false;

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
    this.#deviceEvent = r.deviceEvent;
    this.#core = new DeviceCore(opts.index, this.size, opts.inOrder, this);
    this.#pool = this.#core.pool;
    this.#inOrder = opts.inOrder;
    this.#eventIdx = opts.eventIdx;
    this.#dv = r.ring.view;
    this.#ev = r.driverEvent.view;
    this.#eb = r.driverEvent.offset;
    this.#rw = r.ringWords;
    this.#ew = r.driverWords;
    this.#ow = r.deviceWords;
  }

  /** Chains popped and not yet used. */
  get inFlight(): number {
    return this.#core.pool.outstanding;
  }

  /** True when the descriptor at the device's position is available. */
  hasAvailable(): boolean {
    const o = this.#base + this.#nextAvail * 16 + D.flags;
    return isAvail(
      this.#shared ? load16(this.#rw, o) : this.#dv.getUint16(o, true),
      this.#availWrap,
    );
  }

  /** The next available chain, validated, or null. */
  pop(): DescriptorChain | null {
    const size = this.size;
    const dv = this.#dv;
    const base = this.#base;
    const start = this.#nextAvail;
    const startWrap = this.#availWrap;
    // 2.8.2: poll the head's flags, then read the rest (an atomic load when shared).
    let f = this.#shared
      ? load16(this.#rw, base + start * 16 + D.flags)
      : dv.getUint16(base + start * 16 + D.flags, true);
    if (!isAvail(f, startWrap)) {
      // Only the device writes used descriptors, and not ahead of itself.
      if (isUsed(f, startWrap)) this.#wrapNonsense(start, startWrap);
      return null;
    }
    const c = this.#pool.take();
    if (c === undefined) this.#core.tooMany(start);
    const mem = this.#mem;
    // The chain rules (`breaksChainRule`, which `pushSegment` uses
    // too) on counts kept in locals; a chain holds at most `size` direct
    // descriptors, which the length test enforces before that limit could be
    // reached.
    let rc = 0;
    let wc = 0;
    let rl = 0;
    let wl = 0;
    let pos = start;
    let wrap = startWrap;
    let n = 0;
    let id = 0;
    c.indirect = false;
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
      if (++n > size) this.#tooLong(c, start, pos);
      const o = base + pos * 16;
      if (n > 1) {
        f = dv.getUint16(o + D.flags, true);
        if (!isAvail(f, wrap)) this.#notAvail(c, pos);
      }
      if ((f & F.VIRTQ_DESC_F_INDIRECT) !== 0) {
        setCounts(c, rc, wc, rl, wl);
        this.#indirect(c, pos, f, n);
        rc = c.readableCount;
        wc = c.writableCount;
        rl = c.readableLength;
        wl = c.writableLength;
      } else {
        // le64 addr: its high word is almost always 0, and the branch keeps that
        // case in integer arithmetic (no float multiply and range check).
        const lo = dv.getUint32(o + D.addr, true);
        const hi = dv.getUint32(o + D.addr + 4, true);
        const addr = hi === 0 ? lo : lo + hi * 4294967296;
        const len = dv.getUint32(o + D.len, true);
        const writable = (f & F.VIRTQ_DESC_F_WRITE) !== 0;
        const region = mem.regionFor(addr, len);
        // 2.8.18.1: readable before writable; 2.7.4.1: 2^32 bytes at most.
        if (breaksChainRule(region, writable, wc, rl + wl, len)) {
          throw walkFault(c, rc, wc, rl, wl, addr, len, writable, pos, size);
        }
        const r = region as MemoryRegion;
        c.seg(rc + wc, len, addr - r.base, r, size);
        if (writable) {
          wc++;
          wl += len;
        } else {
          rc++;
          rl += len;
        }
      }
      // 2.8.6: the buffer id is in the last descriptor of the list.
      id = dv.getUint16(o + D.id, true);
      if ((f & F.VIRTQ_DESC_F_NEXT) === 0) break;
      pos = endPos;
      wrap = endWrap;
    }
    c.head = id;
    c.descriptorCount = n;
    c.readableCount = rc;
    c.writableCount = wc;
    c.readableLength = rl;
    c.writableLength = wl;
    if (this.#inOrder) this.#core.order.push(id);
    if (this.#eventIdx && this.#notify) {
      this.#setOwnEvent(E.offWrap, this.#nextAvail | (this.#availWrap << 15));
    }
    return c as unknown as DescriptorChain;
  }

  #wrapNonsense(start: number, startWrap: number): never {
    throw new QueueError(
      this.index,
      start,
      `AVAIL and USED flags both equal the device's wrap counter ${startWrap}: wrap counter nonsense`,
      { code: "ERR_VIRTIO_QUEUE_WRAP_COUNTER" },
    );
  }

  #tooLong(c: ChainFill, start: number, pos: number): never {
    this.#pool.give(c);
    throw new QueueError(
      this.index,
      pos,
      `chain from ${start} is longer than the queue size ${this.size}`,
      { code: "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG" },
    );
  }

  #notAvail(c: ChainFill, pos: number): never {
    this.#pool.give(c);
    throw new QueueError(
      this.index,
      pos,
      "chain continues into a descriptor that is not available",
      { code: "ERR_VIRTIO_QUEUE_CHAIN_UNAVAILABLE" },
    );
  }

  #indirect(c: ChainFill, pos: number, f: number, n: number): void {
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
        n > 1 || (f & F.VIRTQ_DESC_F_NEXT) !== 0,
        false,
      );
      this.#walkIndirect(c, pos, d.addr, entries);
    } catch (e) {
      this.#pool.give(c);
      throw e;
    }
  }

  #walkIndirect(c: ChainFill, pos: number, addr: number, entries: number): void {
    const mem = this.#mem;
    const region = mem.regionFor(addr, entries * 16);
    if (region === undefined) {
      throw new QueueError(
        this.index,
        pos,
        `indirect table 0x${addr.toString(16)}+${entries * 16} is outside guest memory`,
        { code: "ERR_VIRTIO_QUEUE_ADDRESS" },
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
      if ((f & F.VIRTQ_DESC_F_INDIRECT) !== 0) {
        checkIndirect(this.index, this.size, this.options.indirect, pos, f, t.len, false, true);
      }
      pushSegment(
        c,
        mem,
        t.addr,
        t.len,
        (f & F.VIRTQ_DESC_F_WRITE) !== 0,
        pos,
        j,
        maxChainLength(this.size, true),
      );
    }
    c.indirect = true;
  }

  /** Returns `chain` as used with `len` bytes written, and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** Writes a used descriptor for `chain`; {@link PackedDeviceQueue.flushUsed} exposes the batch. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const f = chain as unknown as ChainFill;
    if (f.owner !== this || !f.live || (len >>> 0) !== len || len > chain.writableLength) {
      this.#core.usedFault(chain, len, this);
    }
    let slot = this.#nextUsed;
    if (this.#inOrder) {
      slot = this.#inOrderSlot(chain, len);
    } else {
      this.#batchWrap = this.#usedWrap;
    }
    const dv = this.#dv;
    const o = this.#base + slot * 16;
    dv.setUint16(o + D.id, chain.head, true);
    dv.setUint32(o + D.len, len, true);
    const flags = (this.#batchWrap ? F.VIRTQ_DESC_F_AVAIL | F.VIRTQ_DESC_F_USED : 0) |
      (len > 0 ? F.VIRTQ_DESC_F_WRITE : 0);
    // The first used descriptor of a batch becomes visible last (2.8.10).
    if (this.#pendingSlot < 0 || this.#pendingSlot === slot) {
      this.#pendingSlot = slot;
      this.#pendingFlags = flags;
    } else {
      dv.setUint16(o + D.flags, flags, true);
    }
    let next = this.#nextUsed + chain.descriptorCount;
    if (next >= this.size) {
      next -= this.size;
      this.#usedWrap ^= 1;
    }
    this.#nextUsed = next;
    this.#pool.give(chain);
  }

  /** IN_ORDER: checks the order and picks the slot of `chain`'s used descriptor. */
  #inOrderSlot(chain: DescriptorChain, len: number): number {
    const core = this.#core;
    core.takeInOrder(chain, len, this);
    let slot: number;
    if (core.batchSlot >= 0 && core.batchFull) {
      // 2.8.9: one used descriptor, naming the last buffer, for the batch.
      slot = core.batchSlot;
    } else {
      slot = this.#nextUsed;
      core.batchSlot = slot;
      this.#batchWrap = this.#usedWrap;
    }
    core.batchFull = len === chain.writableLength;
    return slot;
  }

  /** Exposes every used descriptor written since the last flush. */
  flushUsed(): void {
    this.#core.batchSlot = -1;
    const slot = this.#pendingSlot;
    if (slot < 0) return;
    // An atomic store when shared: it publishes the batch written before it.
    if (this.#shared) store16(this.#rw, this.#base + slot * 16 + D.flags, this.#pendingFlags);
    else this.#dv.setUint16(this.#base + slot * 16 + D.flags, this.#pendingFlags, true);
    this.#pendingSlot = -1;
    this.#published = linearPosition(this.#nextUsed, this.#usedWrap, this.size);
  }

  /** True when the driver event suppression structure asks for a notification (2.8.21.3). */
  needsNotification(): boolean {
    const old = this.#signalled;
    const now = this.#published;
    this.#signalled = now;
    if (old === now) return false;
    const flags =
      (this.#shared
        ? load16(this.#ew, this.#eb + E.flags)
        : this.#ev.getUint16(this.#eb + E.flags, true)) & 3;
    if (flags === F.RING_EVENT_FLAGS_DISABLE) return false;
    if (flags !== F.RING_EVENT_FLAGS_DESC || !this.#eventIdx) return true;
    return this.#descEvent(now, old);
  }

  #descEvent(now: number, old: number): boolean {
    // One load of off_wrap, so that offset and wrap counter belong together.
    const offWrap = this.#shared
      ? load16(this.#ew, this.#eb + E.offWrap)
      : this.#ev.getUint16(this.#eb + E.offWrap, true);
    const off = offWrap & 0x7fff;
    if (off >= this.size) return true;
    return needEventPacked(linearPosition(off, offWrap >>> 15, this.size), now, old, this.size);
  }

  /** Asks for available-buffer notifications; true when chains are already waiting. */
  enableNotification(): boolean {
    if (this.#suspended) return this.hasAvailable();
    this.#notify = true;
    if (this.options.eventIdx) {
      this.#setOwnEvent(E.offWrap, this.#nextAvail | (this.#availWrap << 15));
      this.#setOwnEvent(E.flags, F.RING_EVENT_FLAGS_DESC);
    } else {
      this.#setOwnEvent(E.flags, F.RING_EVENT_FLAGS_ENABLE);
    }
    // Then the descriptor, both atomic when shared: a driver adding meanwhile
    // either sees the request or is seen here (2.8.10).
    return this.hasAvailable();
  }

  /** Writes the word at `field` (`E.offWrap` or `E.flags`) of the device event structure. */
  #setOwnEvent(field: number, value: number): void {
    const ev = this.#deviceEvent;
    if (this.#shared) store16(this.#ow, ev.offset + field, value);
    else ev.view.setUint16(ev.offset + field, value, true);
  }

  /** Asks the driver not to notify. */
  disableNotification(): void {
    this.#notify = false;
    this.#setOwnEvent(E.flags, F.RING_EVENT_FLAGS_DISABLE);
  }

  /** See {@link DeviceQueue.suspendNotifications}. */
  suspendNotifications(): void {
    this.#suspended = true;
    this.disableNotification();
  }

  /** See {@link DeviceQueue.resumeNotifications}. */
  resumeNotifications(): boolean {
    this.#suspended = false;
    return this.enableNotification();
  }

  /** See {@link DeviceQueue.notificationsSuspended}. */
  get notificationsSuspended(): boolean {
    return this.#suspended;
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
        { code: "ERR_VIRTIO_QUEUE_RESTORE_POSITION" },
      );
    }
    this.#nextAvail = avail;
    this.#availWrap = availWrap;
    this.#nextUsed = used;
    this.#usedWrap = usedWrap;
    this.#batchWrap = usedWrap;
    this.#published = u;
    this.#signalled = u;
    this.#suspended = false;
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
