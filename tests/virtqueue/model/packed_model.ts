// Reference model of the packed virtqueue (spec 2.8): both sides, as plain
// objects over ModelMemory. The layout is the spec's structs:
//   struct pvirtq_desc { le64 addr; le32 len; le16 id; le16 flags; }          (2.8.13)
//   struct pvirtq_event_suppress { le16 off_wrap; le16 flags; }               (2.8.14)
// A descriptor is available in lap `w` when its AVAIL bit is `w` and its USED
// bit is not, used when both are `w` (2.8.1). Positions are (offset, wrap)
// pairs; "linear" positions number them modulo 2 * size, wrap 1 first.
// Where the spec lets an implementation choose (which buffer ids to use,
// where to put the descriptor events), the model makes the choices the
// engine documents in docs/virtqueue.md, so that the two write the same bytes.

import {
  addSegment,
  checkRequest,
  fault,
  indirectEntries,
  indirectLimit,
  type ModelChain,
  type ModelMemory,
  type ModelOptions,
  type ModelPosition,
  needEvent,
  positionField,
  type Segment,
  type TableAllocator,
  writableLength,
} from "./common.ts";

const NEXT = 1, WRITE = 2, INDIRECT = 4, AVAIL = 1 << 7, USED = 1 << 15; // 2.8.13
const EVENT_ENABLE = 0, EVENT_DISABLE = 1, EVENT_DESC = 2; // 2.8.14

/** Guest addresses of the descriptor ring and the two event suppression structures. */
export interface PackedAddresses {
  desc: number;
  /** Driver event suppression (written by the driver). */
  driver: number;
  /** Device event suppression (written by the device). */
  device: number;
}

const bit = (flags: number, b: number) => (flags & b) !== 0 ? 1 : 0;
const isAvail = (f: number, w: number) => bit(f, AVAIL) === w && bit(f, USED) !== w;
const isUsed = (f: number, w: number) => bit(f, AVAIL) === w && bit(f, USED) === w;
const linear = (off: number, wrap: number, size: number) => wrap ? off : off + size;

/** A position in the ring: offset and wrap counter. */
class Pos {
  constructor(public off: number, public wrap: number, readonly size: number) {}
  advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (++this.off === this.size) {
        this.off = 0;
        this.wrap ^= 1;
      }
    }
  }
  get linear(): number {
    return linear(this.off, this.wrap, this.size);
  }
  get offWrap(): number {
    return this.off | (this.wrap << 15);
  }
}

class PackedRing {
  constructor(readonly mem: ModelMemory, readonly a: PackedAddresses) {}
  desc(i: number, base = this.a.desc) {
    const at = base + 16 * i;
    return {
      addr: this.mem.u64(at),
      len: this.mem.u32(at + 8),
      id: this.mem.u16(at + 12),
      flags: this.mem.u16(at + 14),
    };
  }
  setDesc(i: number, addr: number, len: number, id: number, base = this.a.desc) {
    const at = base + 16 * i;
    this.mem.set64(at, addr);
    this.mem.set32(at + 8, len);
    this.mem.set16(at + 12, id);
  }
  flags(i: number, base = this.a.desc): number {
    return this.mem.u16(base + 16 * i + 14);
  }
  setFlags(i: number, v: number, base = this.a.desc): void {
    this.mem.set16(base + 16 * i + 14, v);
  }
  event(which: "driver" | "device") {
    const at = this.a[which];
    return { offWrap: this.mem.u16(at), flags: this.mem.u16(at + 2) };
  }
  setEvent(which: "driver" | "device", field: "offWrap" | "flags", v: number): void {
    this.mem.set16(this.a[which] + (field === "offWrap" ? 0 : 2), v);
  }
}

interface Buffer<T> {
  token: T;
  descriptors: number;
  writable: number;
  table: number;
}

/** The driver side (2.8.21, 2.8.22). */
export class PackedModelDriver<T> {
  readonly ring: PackedRing;
  /** Free buffer ids, oldest freed last. */
  freeIds: number[] = [];
  numFree: number;
  outstanding = new Map<number, Buffer<T>>();
  order: number[] = [];
  next: Pos;
  used: Pos;
  added = 0;
  eventFlags = EVENT_ENABLE;
  batch: { end: number; len: number } | undefined;

  constructor(
    mem: ModelMemory,
    addrs: PackedAddresses,
    readonly opts: ModelOptions,
    readonly alloc: TableAllocator | undefined,
  ) {
    this.ring = new PackedRing(mem, addrs);
    for (let i = 0; i < opts.size; i++) this.freeIds.push(i);
    this.numFree = opts.size;
    this.next = new Pos(0, 1, opts.size);
    this.used = new Pos(0, 1, opts.size);
  }

  get inFlight(): number {
    return this.outstanding.size;
  }

  addSgs(out: readonly Segment[], in_: readonly Segment[], token: T): void {
    const size = this.opts.size;
    const tables = this.opts.indirect && this.alloc !== undefined;
    checkRequest(out, in_, token, tables ? indirectLimit(size) : size);
    const all: Segment[] = [
      ...out.map((s) => ({ ...s, writable: false })),
      ...in_.map((s) => ({ ...s, writable: true })),
    ];
    let table = -1;
    if (tables && all.length > 1 && this.numFree > 0) {
      table = (this.alloc as TableAllocator).tryAlloc(16 * all.length, 16);
    }
    const needed = table >= 0 ? 1 : all.length;
    if (this.numFree < needed) fault("FULL", "queue full");
    const id = this.freeIds.shift() as number;
    const head = this.next.off;
    const headWrap = this.next.wrap;
    const availFlags = (wrap: number) => wrap ? AVAIL : USED;
    let headFlags: number;
    const r = this.ring;
    if (table >= 0) {
      // 2.8.7: the table's entries are sequential; only WRITE means anything.
      all.forEach((s, i) => {
        r.setDesc(i, s.addr, s.len, 0, table);
        r.setFlags(i, s.writable ? WRITE : 0, table);
      });
      r.setDesc(head, table, 16 * all.length, id);
      headFlags = INDIRECT | availFlags(headWrap);
      this.next.advance(1);
    } else {
      headFlags = 0;
      all.forEach((s, i) => {
        const f = availFlags(this.next.wrap) | (s.writable ? WRITE : 0) |
          (i + 1 < all.length ? NEXT : 0);
        r.setDesc(this.next.off, s.addr, s.len, id);
        // 2.8.21.1: the first descriptor's flags last.
        if (i === 0) headFlags = f;
        else r.setFlags(this.next.off, f);
        this.next.advance(1);
      });
    }
    let writable = 0;
    for (const s of all) if (s.writable) writable += s.len;
    this.outstanding.set(id, { token, descriptors: needed, writable, table });
    if (this.opts.inOrder) this.order.push(id);
    this.numFree -= needed;
    this.added += needed;
    r.setFlags(head, headFlags);
  }

  /** 2.8.21.2: whether the device wants to hear of the descriptors added since the last kick. */
  kick(): boolean {
    const added = this.added;
    this.added = 0;
    if (added === 0) return false;
    const ev = this.ring.event("device");
    const flags = ev.flags & 3;
    if (flags === EVENT_DISABLE) return false;
    if (flags !== EVENT_DESC || !this.opts.eventIdx) return true;
    const off = ev.offWrap & 0x7fff;
    if (off >= this.opts.size) return true;
    const size = this.opts.size;
    const now = this.next.linear;
    return needEvent(linear(off, ev.offWrap >>> 15, size), now, now - added, 2 * size);
  }

  hasUsed(): boolean {
    return this.batch !== undefined || isUsed(this.ring.flags(this.used.off), this.used.wrap);
  }

  getBuf(): { token: T; len: number } | null {
    if (this.batch === undefined) {
      const flags = this.ring.flags(this.used.off);
      if (!isUsed(flags, this.used.wrap)) return null;
      if (this.outstanding.size === 0) fault("USED_AHEAD", "nothing outstanding");
      const d = this.ring.desc(this.used.off);
      // 2.8.4: len means something only with WRITE.
      const len = (flags & WRITE) ? d.len : 0;
      const b = this.outstanding.get(d.id);
      if (d.id >= this.opts.size || b === undefined) fault("BAD_ID", `id ${d.id}`);
      if (len > b.writable) fault("USED_LENGTH", `len ${len}`);
      if (!this.opts.inOrder) return this.#took(d.id, len);
      // 2.8.8: one used descriptor for a batch, naming its last buffer.
      const k = this.order.indexOf(d.id);
      if (k + 1 > this.outstanding.size) fault("IN_ORDER", "entry covers too much");
      this.batch = { end: d.id, len };
    }
    const id = this.order.shift() as number;
    let len: number;
    if (id === this.batch.end) {
      len = this.batch.len;
      this.batch = undefined;
    } else {
      len = (this.outstanding.get(id) as Buffer<T>).writable;
    }
    return this.#took(id, len);
  }

  #took(id: number, len: number): { token: T; len: number } {
    const b = this.outstanding.get(id) as Buffer<T>;
    // 2.8.22: skip the descriptors the buffer took.
    this.used.advance(b.descriptors);
    if (this.eventFlags === EVENT_DESC) this.ring.setEvent("driver", "offWrap", this.used.offWrap);
    this.numFree += b.descriptors;
    this.outstanding.delete(id);
    this.freeIds.push(id);
    if (b.table >= 0) this.alloc?.free(b.table);
    return { token: b.token, len };
  }

  disableCb(): void {
    if (this.eventFlags !== EVENT_DISABLE) {
      this.eventFlags = EVENT_DISABLE;
      this.ring.setEvent("driver", "flags", EVENT_DISABLE);
    }
  }

  enableCb(): boolean {
    return this.#enable(0);
  }

  enableCbDelayed(): boolean {
    return this.#enable(((this.opts.size - this.numFree) * 3) >> 2);
  }

  #enable(ahead: number): boolean {
    if (this.opts.eventIdx) {
      const p = new Pos(this.used.off, this.used.wrap, this.opts.size);
      p.advance(ahead);
      this.ring.setEvent("driver", "offWrap", p.offWrap);
      this.eventFlags = EVENT_DESC;
    } else {
      this.eventFlags = EVENT_ENABLE;
    }
    this.ring.setEvent("driver", "flags", this.eventFlags);
    return !this.hasUsed();
  }
}

/** The device side (2.8.2, 2.8.6, 2.8.7, 2.8.10). */
export class PackedModelDevice {
  readonly ring: PackedRing;
  next: Pos;
  used: Pos;
  held: ModelChain[] = [];
  notify = true;
  published = 0;
  signalled = 0;
  /** Flags of the first used descriptor since the last flush, written at the flush (2.8.21). */
  pending: { slot: number; flags: number } | undefined;
  batchSlot = -1;
  batchFull = false;
  batchWrap = 1;

  constructor(readonly mem: ModelMemory, addrs: PackedAddresses, readonly opts: ModelOptions) {
    this.ring = new PackedRing(mem, addrs);
    this.next = new Pos(0, 1, opts.size);
    this.used = new Pos(0, 1, opts.size);
  }

  get inFlight(): number {
    return this.held.length;
  }

  hasAvailable(): boolean {
    return isAvail(this.ring.flags(this.next.off), this.next.wrap);
  }

  pop(): ModelChain | null {
    const size = this.opts.size;
    const f0 = this.ring.flags(this.next.off);
    if (!isAvail(f0, this.next.wrap)) {
      // Only the device marks descriptors used, never ahead of itself (2.8.1).
      if (isUsed(f0, this.next.wrap)) fault("WRAP_COUNTER", "used flags ahead of the device");
      return null;
    }
    // 2.6: never more buffers outstanding than the queue size.
    if (this.held.length === size) fault("TOO_MANY_BUFFERS", "more buffers than the queue size");
    const segs: Segment[] = [];
    let n = 0;
    let id = 0;
    let indirect = false;
    for (;;) {
      const pos = this.next.off;
      const wrap = this.next.wrap;
      // Each descriptor is consumed as it is examined.
      this.next.advance(1);
      // 2.8.17: no list longer than the queue.
      if (++n > size) fault("CHAIN_TOO_LONG", "list longer than the queue");
      const d = this.ring.desc(pos);
      if (n > 1 && !isAvail(d.flags, wrap)) fault("CHAIN_UNAVAILABLE", `descriptor ${pos}`);
      if (d.flags & INDIRECT) {
        // 2.8.19: an indirect descriptor is the whole list (no NEXT, nothing before it).
        const entries = indirectEntries(
          this.opts.indirect,
          d.len,
          n > 1 || (d.flags & NEXT) !== 0,
          false,
          size,
        );
        if (!this.mem.holds(d.addr, entries * 16)) fault("ADDRESS", "indirect table");
        for (let j = 0; j < entries; j++) {
          const t = this.ring.desc(j, d.addr);
          if (t.flags & INDIRECT) indirectEntries(true, t.len, false, true, size);
          addSegment(
            this.mem,
            segs,
            { addr: t.addr, len: t.len, writable: (t.flags & WRITE) !== 0 },
            indirectLimit(size),
          );
        }
        indirect = true;
      } else {
        addSegment(this.mem, segs, {
          addr: d.addr,
          len: d.len,
          writable: (d.flags & WRITE) !== 0,
        }, size);
      }
      // 2.8.6: the buffer id is the last descriptor's.
      id = d.id;
      if (!(d.flags & NEXT)) break;
    }
    const chain: ModelChain = {
      head: id,
      segments: segs,
      descriptorCount: n,
      indirect,
      live: true,
    };
    this.held.push(chain);
    // 2.8.10 (policy): the event at the next descriptor while notifications are wanted.
    if (this.opts.eventIdx && this.notify) {
      this.ring.setEvent("device", "offWrap", this.next.offWrap);
    }
    return chain;
  }

  pushUsed(chain: ModelChain, len: number): void {
    if (!chain.live || !this.held.includes(chain)) fault("NOT_OUTSTANDING", "chain not held");
    if ((len >>> 0) !== len || len > writableLength(chain)) fault("USED_LENGTH", `len ${len}`);
    if (this.opts.inOrder && this.held[0].head !== chain.head) {
      fault("IN_ORDER", "not the oldest chain");
    }
    let slot = this.used.off;
    if (this.opts.inOrder) {
      // 2.8.8: a batch of fully written buffers is one used descriptor.
      if (this.batchSlot >= 0 && this.batchFull) {
        slot = this.batchSlot;
      } else {
        this.batchSlot = slot;
        this.batchWrap = this.used.wrap;
      }
      this.batchFull = len === writableLength(chain);
    } else {
      this.batchWrap = this.used.wrap;
    }
    const at = this.ring.a.desc + 16 * slot;
    this.mem.set16(at + 12, chain.head);
    this.mem.set32(at + 8, len);
    const flags = (this.batchWrap ? AVAIL | USED : 0) | (len > 0 ? WRITE : 0);
    if (this.pending === undefined || this.pending.slot === slot) {
      this.pending = { slot, flags };
    } else {
      this.ring.setFlags(slot, flags);
    }
    this.used.advance(chain.descriptorCount);
    chain.live = false;
    this.held.splice(this.held.indexOf(chain), 1);
  }

  flushUsed(): void {
    this.batchSlot = -1;
    if (this.pending === undefined) return;
    this.ring.setFlags(this.pending.slot, this.pending.flags);
    this.pending = undefined;
    this.published = this.used.linear;
  }

  addUsed(chain: ModelChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** 2.8.10, 2.8.21.3: the driver event suppression structure decides. */
  needsNotification(): boolean {
    const old = this.signalled;
    const now = this.published;
    this.signalled = now;
    if (old === now) return false;
    const ev = this.ring.event("driver");
    const flags = ev.flags & 3;
    if (flags === EVENT_DISABLE) return false;
    if (flags !== EVENT_DESC || !this.opts.eventIdx) return true;
    const off = ev.offWrap & 0x7fff;
    const size = this.opts.size;
    if (off >= size) return true;
    return needEvent(linear(off, ev.offWrap >>> 15, size), now, old, 2 * size);
  }

  enableNotification(): boolean {
    this.notify = true;
    if (this.opts.eventIdx) {
      this.ring.setEvent("device", "offWrap", this.next.offWrap);
      this.ring.setEvent("device", "flags", EVENT_DESC);
    } else {
      this.ring.setEvent("device", "flags", EVENT_ENABLE);
    }
    return this.hasAvailable();
  }

  disableNotification(): void {
    this.notify = false;
    this.ring.setEvent("device", "flags", EVENT_DISABLE);
  }

  position(): ModelPosition {
    return {
      availIdx: this.next.off,
      availWrap: this.next.wrap,
      usedIdx: this.used.off,
      usedWrap: this.used.wrap,
    };
  }

  restore(pos: Partial<ModelPosition>): void {
    if (this.held.length > 0 || this.pending !== undefined) fault("RESTORE_BUSY", "busy");
    const size = this.opts.size;
    const avail = positionField(pos.availIdx, 0, size - 1);
    const availWrap = positionField(pos.availWrap, 1, 1);
    const used = positionField(pos.usedIdx, avail, size - 1);
    const usedWrap = positionField(pos.usedWrap, availWrap, 1);
    const a = linear(avail, availWrap, size);
    const u = linear(used, usedWrap, size);
    // The used position trails the available one by at most the queue size.
    if ((a - u + 2 * size) % (2 * size) > size) fault("RESTORE_POSITION", "gap");
    this.next = new Pos(avail, availWrap, size);
    this.used = new Pos(used, usedWrap, size);
    this.batchWrap = usedWrap;
    this.published = u;
    this.signalled = u;
    this.enableNotification();
  }
}
