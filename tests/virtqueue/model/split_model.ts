// Reference model of the split virtqueue (spec 2.7): both sides, as plain
// objects over ModelMemory. The layout is the spec's structs:
//   struct virtq_desc  { le64 addr; le32 len; le16 flags; le16 next; }      (2.7.5)
//   struct virtq_avail { le16 flags; le16 idx; le16 ring[]; le16 used_event; } (2.7.6)
//   struct virtq_used  { le16 flags; le16 idx; virtq_used_elem ring[]; le16 avail_event; } (2.7.8)
//   struct virtq_used_elem { le32 id; le32 len; }
// Where the spec lets an implementation choose (which free descriptors to
// take, when to move used_event), the model makes the choices the engine
// documents in docs/virtqueue.md, so that the two write the same bytes.

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
  type Outstanding,
  positionField,
  type Segment,
  type TableAllocator,
  writableLength,
} from "./common.ts";

const NEXT = 1, WRITE = 2, INDIRECT = 4; // 2.7.5 virtq_desc.flags
const NO_INTERRUPT = 1; // 2.7.6 VIRTQ_AVAIL_F_NO_INTERRUPT
const NO_NOTIFY = 1; // 2.7.8 VIRTQ_USED_F_NO_NOTIFY

/** Guest addresses of the three areas. */
export interface SplitAddresses {
  desc: number;
  avail: number;
  used: number;
}

/** The fields of the split rings, at the spec's offsets. */
class SplitRings {
  constructor(
    readonly mem: ModelMemory,
    readonly a: SplitAddresses,
    readonly size: number,
  ) {}
  desc(i: number, base = this.a.desc) {
    const at = base + 16 * i;
    return {
      addr: this.mem.u64(at),
      len: this.mem.u32(at + 8),
      flags: this.mem.u16(at + 12),
      next: this.mem.u16(at + 14),
    };
  }
  setDesc(i: number, addr: number, len: number, flags: number, next: number, base = this.a.desc) {
    const at = base + 16 * i;
    this.mem.set64(at, addr);
    this.mem.set32(at + 8, len);
    this.mem.set16(at + 12, flags);
    this.mem.set16(at + 14, next);
  }
  get availFlags() {
    return this.mem.u16(this.a.avail);
  }
  set availFlags(v: number) {
    this.mem.set16(this.a.avail, v);
  }
  get availIdx() {
    return this.mem.u16(this.a.avail + 2);
  }
  set availIdx(v: number) {
    this.mem.set16(this.a.avail + 2, v);
  }
  availRing(i: number) {
    return this.mem.u16(this.a.avail + 4 + 2 * (i % this.size));
  }
  setAvailRing(i: number, v: number) {
    this.mem.set16(this.a.avail + 4 + 2 * (i % this.size), v);
  }
  get usedEvent() {
    return this.mem.u16(this.a.avail + 4 + 2 * this.size);
  }
  set usedEvent(v: number) {
    this.mem.set16(this.a.avail + 4 + 2 * this.size, v);
  }
  get usedFlags() {
    return this.mem.u16(this.a.used);
  }
  set usedFlags(v: number) {
    this.mem.set16(this.a.used, v);
  }
  get usedIdx() {
    return this.mem.u16(this.a.used + 2);
  }
  set usedIdx(v: number) {
    this.mem.set16(this.a.used + 2, v);
  }
  usedElem(i: number) {
    const at = this.a.used + 4 + 8 * (i % this.size);
    return { id: this.mem.u32(at), len: this.mem.u32(at + 4) };
  }
  setUsedElem(i: number, id: number, len: number) {
    const at = this.a.used + 4 + 8 * (i % this.size);
    this.mem.set32(at, id);
    this.mem.set32(at + 4, len);
  }
  get availEvent() {
    return this.mem.u16(this.a.used + 4 + 8 * this.size);
  }
  set availEvent(v: number) {
    this.mem.set16(this.a.used + 4 + 8 * this.size, v);
  }
}

/** The driver side (2.7.13, 2.7.14). */
export class SplitModelDriver<T> {
  readonly rings: SplitRings;
  /** Free descriptors, oldest freed last (in ring order at first, as IN_ORDER needs, 2.7.9). */
  free: number[] = [];
  /** Outstanding buffers by head. */
  outstanding = new Map<number, Outstanding<T>>();
  /** Heads in the order they were made available (IN_ORDER). */
  order: number[] = [];
  availIdx = 0;
  lastUsed = 0;
  added = 0;
  callbacks = true;
  /** IN_ORDER: the head a batch entry names, and its length, while working through it. */
  batch: { end: number; len: number } | undefined;

  constructor(
    mem: ModelMemory,
    addrs: SplitAddresses,
    readonly opts: ModelOptions,
    readonly alloc: TableAllocator | undefined,
  ) {
    this.rings = new SplitRings(mem, addrs, opts.size);
    for (let i = 0; i < opts.size; i++) this.free.push(i);
  }

  get numFree(): number {
    return this.free.length;
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
    // 2.7.5.3: an indirect table when negotiated (falling back to direct
    // descriptors when none can be had).
    if (tables && all.length > 1 && this.free.length > 0) {
      table = (this.alloc as TableAllocator).tryAlloc(16 * all.length, 16);
    }
    const needed = table >= 0 ? 1 : all.length;
    if (this.free.length < needed) fault("FULL", "queue full");
    const descs = this.free.splice(0, needed);
    const r = this.rings;
    if (table >= 0) {
      all.forEach((s, i) => {
        const last = i + 1 === all.length;
        r.setDesc(
          i,
          s.addr,
          s.len,
          (s.writable ? WRITE : 0) | (last ? 0 : NEXT),
          last ? 0 : i + 1,
          table,
        );
      });
      r.setDesc(descs[0], table, 16 * all.length, INDIRECT, 0);
    } else {
      all.forEach((s, i) => {
        const last = i + 1 === all.length;
        r.setDesc(
          descs[i],
          s.addr,
          s.len,
          (s.writable ? WRITE : 0) | (last ? 0 : NEXT),
          last ? 0 : descs[i + 1],
        );
      });
    }
    const head = descs[0];
    let writable = 0;
    for (const s of all) if (s.writable) writable += s.len;
    this.outstanding.set(head, { token, descriptors: descs, writable, table });
    if (this.opts.inOrder) this.order.push(head);
    // 2.7.13.2-2.7.13.3: the ring entry, then idx.
    r.setAvailRing(this.availIdx, head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    r.availIdx = this.availIdx;
    this.added++;
  }

  /** 2.7.13.4 / 2.7.10: whether to notify the device of what was added since the last kick. */
  kick(): boolean {
    const added = this.added;
    this.added = 0;
    if (added === 0) return false;
    if (this.opts.eventIdx) {
      return needEvent(this.rings.availEvent, this.availIdx, this.availIdx - added, 0x10000);
    }
    return (this.rings.usedFlags & NO_NOTIFY) === 0;
  }

  hasUsed(): boolean {
    return this.batch !== undefined || this.rings.usedIdx !== this.lastUsed;
  }

  getBuf(): { token: T; len: number } | null {
    if (this.batch === undefined) {
      const usedIdx = this.rings.usedIdx;
      if (usedIdx === this.lastUsed) return null;
      const pending = (usedIdx - this.lastUsed) & 0xffff;
      // 2.7.8: the device uses only buffers the driver made available.
      if (pending > this.outstanding.size) fault("USED_AHEAD", "used idx ahead");
      const { id, len } = this.rings.usedElem(this.lastUsed);
      const b = this.outstanding.get(id);
      if (id >= this.opts.size || b === undefined) fault("BAD_ID", `id ${id}`);
      if (len > b.writable) fault("USED_LENGTH", `len ${len}`);
      if (!this.opts.inOrder) {
        this.#advance();
        return { token: this.#release(id), len };
      }
      // 2.7.9: the entry stands for every buffer up to `id`.
      const k = this.order.indexOf(id);
      if (k + 1 > pending) fault("IN_ORDER", "entry covers unpublished buffers");
      this.batch = { end: id, len };
    }
    const id = this.order.shift() as number;
    let len: number;
    if (id === this.batch.end) {
      len = this.batch.len;
      this.batch = undefined;
    } else {
      len = (this.outstanding.get(id) as Outstanding<T>).writable;
    }
    this.#advance();
    return { token: this.#release(id), len };
  }

  #advance(): void {
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    // Policy (as Linux): keep used_event at the next entry while callbacks are on.
    if (this.opts.eventIdx && this.callbacks) this.rings.usedEvent = this.lastUsed;
  }

  #release(id: number): T {
    const b = this.outstanding.get(id) as Outstanding<T>;
    this.outstanding.delete(id);
    this.free.push(...b.descriptors);
    if (b.table >= 0) this.alloc?.free(b.table);
    return b.token;
  }

  disableCb(): void {
    const was = this.callbacks;
    this.callbacks = false;
    // 2.7.7.1: with EVENT_IDX flags stay 0; used_event as far away as it goes.
    if (this.opts.eventIdx) this.rings.usedEvent = (this.lastUsed + 0x8000) & 0xffff;
    else if (was) this.rings.availFlags = NO_INTERRUPT;
  }

  /** Linux's meaning: false when used buffers are already waiting. */
  enableCb(): boolean {
    return this.#enable(0);
  }

  enableCbDelayed(): boolean {
    return this.#enable(((this.availIdx - this.lastUsed) & 0xffff) * 3 >> 2);
  }

  #enable(ahead: number): boolean {
    const was = this.callbacks;
    this.callbacks = true;
    if (this.opts.eventIdx) this.rings.usedEvent = (this.lastUsed + ahead) & 0xffff;
    else if (!was) this.rings.availFlags = 0;
    return !this.hasUsed();
  }
}

/** The device side (2.7.4, 2.7.5, 2.7.8, 2.7.10). */
export class SplitModelDevice {
  readonly rings: SplitRings;
  lastAvail = 0;
  usedIdx = 0;
  published = 0;
  signalled = 0;
  notify = true;
  held: ModelChain[] = [];
  /** IN_ORDER: the ring slot of the entry standing for the batch, and whether the last was full. */
  batchSlot = -1;
  batchFull = false;

  constructor(readonly mem: ModelMemory, addrs: SplitAddresses, readonly opts: ModelOptions) {
    this.rings = new SplitRings(mem, addrs, opts.size);
  }

  get inFlight(): number {
    return this.held.length;
  }

  hasAvailable(): boolean {
    return this.rings.availIdx !== this.lastAvail;
  }

  pop(): ModelChain | null {
    const availIdx = this.rings.availIdx;
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    // 2.7.6.1 / 2.7.13.3: idx never moves by more than the queue size.
    if (pending > this.opts.size) fault("AVAIL_IDX", `avail idx ${availIdx}`);
    const head = this.rings.availRing(this.lastAvail);
    // The entry is consumed whatever it holds.
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    // 2.7.10: avail_event (policy: the next entry, while notifications are wanted).
    if (this.opts.eventIdx && this.notify) this.rings.availEvent = this.lastAvail;
    return this.take(head);
  }

  /** The chain at `head`, outside the ring (what popHead does). */
  take(head: number): ModelChain {
    if (!(Number.isInteger(head) && head >= 0 && head < this.opts.size)) {
      fault("HEAD_RANGE", `head ${head}`);
    }
    if (this.held.some((c) => c.head === head)) fault("HEAD_IN_USE", `head ${head}`);
    const chain = this.#walk(head);
    this.held.push(chain);
    return chain;
  }

  #walk(head: number): ModelChain {
    const size = this.opts.size;
    const segs: Segment[] = [];
    let idx = head;
    let n = 0;
    for (;;) {
      // 2.7.5.3.1: no chain is longer than the queue: a longer walk loops.
      if (++n > size) fault("LOOP", `chain from ${head}`);
      const d = this.rings.desc(idx);
      if (d.flags & INDIRECT) {
        // 2.7.5.3.2: zero or more direct descriptors, then one indirect one.
        const entries = indirectEntries(
          this.opts.indirect,
          d.len,
          (d.flags & NEXT) !== 0,
          false,
          size,
        );
        if (!this.mem.holds(d.addr, entries * 16)) fault("ADDRESS", "indirect table");
        let j = 0;
        let m = 0;
        for (;;) {
          if (++m > entries) fault("LOOP", "inside an indirect table");
          const t = this.rings.desc(j, d.addr);
          if (t.flags & INDIRECT) indirectEntries(true, t.len, false, true, size);
          addSegment(
            this.mem,
            segs,
            { addr: t.addr, len: t.len, writable: (t.flags & WRITE) !== 0 },
            indirectLimit(size),
          );
          if (!(t.flags & NEXT)) break;
          if (t.next >= entries) fault("NEXT_RANGE", `entry next ${t.next}`);
          j = t.next;
        }
        return { head, segments: segs, descriptorCount: n, indirect: true, live: true };
      }
      addSegment(
        this.mem,
        segs,
        { addr: d.addr, len: d.len, writable: (d.flags & WRITE) !== 0 },
        size,
      );
      if (!(d.flags & NEXT)) break;
      if (d.next >= size) fault("NEXT_RANGE", `next ${d.next}`);
      idx = d.next;
    }
    return { head, segments: segs, descriptorCount: n, indirect: false, live: true };
  }

  #check(chain: ModelChain, len: number): void {
    if (!chain.live || !this.held.includes(chain)) fault("NOT_OUTSTANDING", "chain not held");
    if ((len >>> 0) !== len || len > writableLength(chain)) fault("USED_LENGTH", `len ${len}`);
    // 2.7.9: in the order made available (compared by head, as the used entry names it).
    if (this.opts.inOrder && this.held[0].head !== chain.head) {
      fault("IN_ORDER", "not the oldest chain");
    }
  }

  pushUsed(chain: ModelChain, len: number): void {
    this.#check(chain, len);
    let slot = this.usedIdx;
    if (this.opts.inOrder) {
      // 2.7.9: a batch of fully written buffers is one entry naming the last.
      if (this.batchSlot >= 0 && this.batchFull) slot = this.batchSlot;
      else this.batchSlot = slot;
      this.batchFull = len === writableLength(chain);
    }
    this.rings.setUsedElem(slot, chain.head, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    chain.live = false;
    this.held.splice(this.held.indexOf(chain), 1);
  }

  /** 2.7.8.2: entries before idx. */
  flushUsed(): void {
    this.batchSlot = -1;
    if (this.usedIdx === this.published) return;
    this.rings.usedIdx = this.usedIdx;
    this.published = this.usedIdx;
  }

  addUsed(chain: ModelChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** 2.7.7.2: whether the driver wants to hear of what was published since last asked. */
  needsNotification(): boolean {
    const old = this.signalled;
    const now = this.published;
    this.signalled = now;
    if (old === now) return false;
    if (this.opts.eventIdx) return needEvent(this.rings.usedEvent, now, old, 0x10000);
    return (this.rings.availFlags & NO_INTERRUPT) === 0;
  }

  enableNotification(): boolean {
    this.notify = true;
    if (this.opts.eventIdx) this.rings.availEvent = this.lastAvail;
    else this.rings.usedFlags = this.rings.usedFlags & ~NO_NOTIFY;
    return this.hasAvailable();
  }

  disableNotification(): void {
    this.notify = false;
    if (!this.opts.eventIdx) this.rings.usedFlags = this.rings.usedFlags | NO_NOTIFY;
  }

  position(): ModelPosition {
    return { availIdx: this.lastAvail, availWrap: 1, usedIdx: this.usedIdx, usedWrap: 1 };
  }

  restore(pos: Partial<ModelPosition>): void {
    if (this.held.length > 0 || this.usedIdx !== this.published) fault("RESTORE_BUSY", "busy");
    const avail = positionField(pos.availIdx, 0, 0xffff);
    const used = positionField(pos.usedIdx, this.rings.usedIdx, 0xffff);
    if (((avail - used) & 0xffff) > this.opts.size) fault("RESTORE_POSITION", "gap");
    this.lastAvail = avail;
    this.usedIdx = used;
    this.published = used;
    this.signalled = used;
    this.enableNotification();
  }
}
