/**
 * The device side of the split virtqueue (spec 2.7): {@link SplitDeviceQueue}
 * takes chains from the available ring, validated, and returns them in the
 * used ring. It implements {@link DeviceQueue}; `driver.ts` is the other
 * side, and `../packed/device.ts` the same operations for 2.8.
 *
 * @module
 */

import { QueueError } from "../../errors.ts";
import type { GuestMemory, MemoryRegion } from "../../memory.ts";
import { VirtqAvail, VirtqDesc, VirtqUsed, VirtqUsedElem } from "../../generated/virtqueue.ts";
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
  load16,
  needEvent,
  positionField,
  restoreBusy,
  store16,
} from "../_ring_util.ts";
import { DeviceCore } from "../_device_core.ts";
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
  readonly #used: VirtqUsed;
  readonly #core: DeviceCore;
  // The core's pool and IN_ORDER flag, hoisted for the hot path.
  readonly #pool: ChainPool;
  readonly #inOrder: boolean;
  readonly #busy: Uint8Array;
  readonly #eventIdx: boolean;
  // The ring areas as (view, offset) pairs, hoisted at creation: the hot path
  // reads and writes them with plain DataView calls.
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
  #lastAvail = 0;
  // Shared memory: the avail idx pop loaded last. Entries up to it are
  // published, so pop reloads idx (an atomic load) only once it caught up, as
  // QEMU's shadow_avail_idx: one atomic load per batch instead of per chain.
  #availSeen = 0;
  #usedIdx = 0;
  #published = 0;
  #signalled = 0;
  #notify = true;
  // Between suspendNotifications and resumeNotifications.
  #suspended = false;

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
    this.#used = r.used;
    this.#core = new DeviceCore(opts.index, this.size, opts.inOrder, this);
    this.#pool = this.#core.pool;
    this.#inOrder = opts.inOrder;
    this.#busy = new Uint8Array(this.size);
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

  /** Chains popped and not yet used. */
  get inFlight(): number {
    return this.#core.pool.outstanding;
  }

  /** True when the available index is ahead of the device. */
  hasAvailable(): boolean {
    return (this.#shared
      ? load16(this.#aw, this.#ab + A.idx)
      : this.#av.getUint16(this.#ab + A.idx, true)) !== this.#lastAvail;
  }

  /** The next available chain, validated, or null. */
  pop(): DescriptorChain | null {
    const av = this.#av;
    const ab = this.#ab;
    const last = this.#lastAvail;
    // 2.7.13: idx before the entries it covers (an atomic load when shared,
    // and only when the entries loaded last are consumed).
    let availIdx: number;
    if (!this.#shared) availIdx = av.getUint16(ab + A.idx, true);
    else if ((availIdx = this.#availSeen) === last) availIdx = load16(this.#aw, ab + A.idx);
    const pending = (availIdx - last) & 0xffff;
    if (pending === 0) return null;
    // 2.7.13.3: the available index moved by more than the queue holds.
    if (pending > this.size) this.#availAhead(availIdx, pending);
    this.#availSeen = availIdx;
    const head = av.getUint16(ab + A.ring + 2 * (last & this.#mask), true);
    // The entry is consumed whatever it holds, so a bad chain is not seen twice.
    const next = (last + 1) & 0xffff;
    this.#lastAvail = next;
    if (this.#eventIdx && this.#notify) {
      // Shared: only at the last entry loaded (an atomic store costs). Before
      // it, the driver's idx is already past avail_event whether it was moved
      // per chain or not, so no kick is asked for either way (2.7.10).
      if (this.#shared) {
        if (next === availIdx) store16(this.#uw, this.#availEventAt, next);
      } else this.#uv.setUint16(this.#availEventAt, next, true);
    }
    return this.#readChain(head);
  }

  #availAhead(availIdx: number, pending: number): never {
    throw new QueueError(
      this.index,
      undefined,
      `available idx ${availIdx} is ${pending} entries ahead of ${this.#lastAvail}, more than the queue size ${this.size}`,
      { code: "ERR_VIRTIO_QUEUE_AVAIL_IDX" },
    );
  }

  /**
   * Takes the chain at descriptor `head` again, outside the available ring:
   * for resubmitting requests an earlier device instance had taken and not
   * completed (vhost-user inflight tracking), after {@link restore} put the
   * available position past them. Validated like {@link pop}; a head out of
   * range or already held is a `QueueError`.
   */
  popHead(head: number): DescriptorChain {
    if (!Number.isInteger(head) || head < 0) this.#badHead(this.size);
    return this.#readChain(head);
  }

  #readChain(head: number): DescriptorChain {
    if (head >= this.size || this.#busy[head] !== 0) this.#badHead(head);
    const c = this.#pool.take();
    if (c === undefined) this.#core.tooMany(head);
    c.head = head;
    // Every fault of the walk gives the chain back to the pool before it throws.
    this.#walk(c, head);
    this.#busy[head] = 1;
    if (this.#inOrder) this.#core.order.push(head);
    return c as unknown as DescriptorChain;
  }

  #badHead(head: number): never {
    if (head >= this.size) {
      throw new QueueError(
        this.index,
        head,
        `chain head is outside the descriptor table of ${this.size}`,
        { code: "ERR_VIRTIO_QUEUE_HEAD_RANGE" },
      );
    }
    throw new QueueError(
      this.index,
      head,
      "chain head made available again while the device holds it",
      { code: "ERR_VIRTIO_QUEUE_HEAD_IN_USE" },
    );
  }

  #walk(c: ChainFill, head: number): void {
    const size = this.size;
    const dv = this.#dv;
    const base = this.#descBase;
    const mem = this.#mem;
    // The chain rules (`breaksChainRule`, which `pushSegment` uses
    // too) on counts kept in locals; a chain holds at most `size` direct
    // descriptors, which the loop test enforces before that limit could be
    // reached.
    let rc = 0;
    let wc = 0;
    let rl = 0;
    let wl = 0;
    let idx = head;
    let n = 0;
    for (;;) {
      // 2.7.5.3.1: no chain is longer than the queue, so a longer walk is a loop.
      if (++n > size) this.#loop(c, head, idx);
      const o = base + idx * 16;
      const flags = dv.getUint16(o + D.flags, true);
      if ((flags & F.VIRTQ_DESC_F_INDIRECT) !== 0) {
        setCounts(c, rc, wc, rl, wl);
        this.#indirect(c, idx, flags);
        c.descriptorCount = n;
        return;
      }
      // le64 addr: its high word is almost always 0, and the branch keeps that
      // case in integer arithmetic (no float multiply and range check).
      const lo = dv.getUint32(o + D.addr, true);
      const hi = dv.getUint32(o + D.addr + 4, true);
      const addr = hi === 0 ? lo : lo + hi * 4294967296;
      const len = dv.getUint32(o + D.len, true);
      const writable = (flags & F.VIRTQ_DESC_F_WRITE) !== 0;
      const region = mem.regionFor(addr, len);
      // 2.7.4.2: readable before writable; 2.7.4.1: 2^32 bytes at most.
      if (breaksChainRule(region, writable, wc, rl + wl, len)) {
        throw walkFault(c, rc, wc, rl, wl, addr, len, writable, idx, size);
      }
      const r = region as MemoryRegion;
      c.seg(n - 1, len, addr - r.base, r, size);
      if (writable) {
        wc++;
        wl += len;
      } else {
        rc++;
        rl += len;
      }
      if ((flags & F.VIRTQ_DESC_F_NEXT) === 0) break;
      const next = dv.getUint16(o + D.next, true);
      if (next >= size) this.#badNext(c, idx, next);
      idx = next;
    }
    c.indirect = false;
    c.readableCount = rc;
    c.writableCount = wc;
    c.readableLength = rl;
    c.writableLength = wl;
    c.descriptorCount = n;
  }

  #loop(c: ChainFill, head: number, idx: number): never {
    this.#pool.give(c);
    throw new QueueError(
      this.index,
      idx,
      `chain from head ${head} is longer than the queue size ${this.size} (a loop?)`,
      { code: "ERR_VIRTIO_QUEUE_LOOP" },
    );
  }

  #badNext(c: ChainFill, idx: number, next: number): never {
    this.#pool.give(c);
    throw new QueueError(
      this.index,
      idx,
      `next ${next} is outside the descriptor table of ${this.size}`,
      { code: "ERR_VIRTIO_QUEUE_NEXT_RANGE" },
    );
  }

  #indirect(c: ChainFill, idx: number, flags: number): void {
    try {
      this.#indirectTable(c, idx, flags);
    } catch (e) {
      this.#pool.give(c);
      throw e;
    }
  }

  #indirectTable(c: ChainFill, idx: number, flags: number): void {
    const d = this.#desc;
    d.offset = this.#descBase + idx * 16;
    const entries = checkIndirect(
      this.index,
      this.size,
      this.options.indirect,
      idx,
      flags,
      d.len,
      (flags & F.VIRTQ_DESC_F_NEXT) !== 0,
      false,
    );
    this.#walkIndirect(c, idx, d.addr, entries);
  }

  #walkIndirect(c: ChainFill, idx: number, addr: number, entries: number): void {
    const mem = this.#mem;
    const region = mem.regionFor(addr, entries * 16);
    if (region === undefined) {
      throw new QueueError(
        this.index,
        idx,
        `indirect table 0x${addr.toString(16)}+${entries * 16} is outside guest memory`,
        { code: "ERR_VIRTIO_QUEUE_ADDRESS" },
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
          { code: "ERR_VIRTIO_QUEUE_LOOP" },
        );
      }
      t.offset = base + j * 16;
      const flags = t.flags;
      if ((flags & F.VIRTQ_DESC_F_INDIRECT) !== 0) {
        checkIndirect(this.index, this.size, this.options.indirect, idx, flags, t.len, false, true);
      }
      pushSegment(c, mem, t.addr, t.len, (flags & F.VIRTQ_DESC_F_WRITE) !== 0, idx, j, limit);
      if ((flags & F.VIRTQ_DESC_F_NEXT) === 0) break;
      const next = t.next;
      if (next >= entries) {
        throw new QueueError(
          this.index,
          idx,
          `indirect table entry ${j}: next ${next} is outside the table of ${entries}`,
          { code: "ERR_VIRTIO_QUEUE_NEXT_RANGE" },
        );
      }
      j = next;
    }
    c.indirect = true;
  }

  /** Returns `chain` as used with `len` bytes written, and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** Writes a used entry for `chain`; {@link SplitDeviceQueue.flushUsed} publishes it. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const f = chain as unknown as ChainFill;
    if (f.owner !== this || !f.live || (len >>> 0) !== len || len > chain.writableLength) {
      this.#core.usedFault(chain, len, this);
    }
    if (this.#inOrder) {
      this.#pushInOrder(chain, len);
      return;
    }
    const head = chain.head;
    const e = this.#ub + U.ring + 8 * (this.#usedIdx & this.#mask);
    this.#uv.setUint32(e + E.id, head, true);
    this.#uv.setUint32(e + E.len, len, true);
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
    this.#busy[head] = 0;
    this.#pool.give(chain);
  }

  /** {@link SplitDeviceQueue.pushUsed} with IN_ORDER: consecutive complete chains share one entry. */
  #pushInOrder(chain: DescriptorChain, len: number): void {
    const core = this.#core;
    core.takeInOrder(chain, len, this);
    const head = chain.head;
    let slot: number;
    if (core.batchSlot >= 0 && core.batchFull) {
      // 2.7.9: one entry, naming the last buffer, stands for the whole batch.
      slot = core.batchSlot;
    } else {
      slot = this.#usedIdx & this.#mask;
      core.batchSlot = slot;
    }
    core.batchFull = len === chain.writableLength;
    const e = this.#ub + U.ring + 8 * slot;
    this.#uv.setUint32(e + E.id, head, true);
    this.#uv.setUint32(e + E.len, len, true);
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
    this.#busy[head] = 0;
    this.#pool.give(chain);
  }

  /** Publishes the used entries written since the last flush (2.7.8.2: entries before idx). */
  flushUsed(): void {
    this.#core.batchSlot = -1;
    const now = this.#usedIdx;
    if (now === this.#published) return;
    // An atomic store when shared: it publishes the entries written before it.
    if (this.#shared) store16(this.#uw, this.#ub + U.idx, now);
    else this.#uv.setUint16(this.#ub + U.idx, now, true);
    this.#published = now;
  }

  /** True when the driver wants a used-buffer notification for what was published (2.7.10). */
  needsNotification(): boolean {
    const old = this.#signalled;
    const now = this.#published;
    this.#signalled = now;
    if (old === now) return false;
    // used_event with EVENT_IDX, else the flags (an atomic load when shared).
    const o = this.#eventIdx ? this.#usedEventAt : this.#ab + A.flags;
    const word = this.#shared ? load16(this.#aw, o) : this.#av.getUint16(o, true);
    if (!this.#eventIdx) return (word & F.VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    return needEvent(word, now, old);
  }

  /** Asks for available-buffer notifications; true when chains are already waiting. */
  enableNotification(): boolean {
    if (this.#suspended) return this.hasAvailable();
    this.#notify = true;
    const uv = this.#uv;
    if (this.options.eventIdx) {
      if (this.#shared) store16(this.#uw, this.#availEventAt, this.#lastAvail);
      else uv.setUint16(this.#availEventAt, this.#lastAvail, true);
    } else {
      const flags = uv.getUint16(this.#ub + U.flags, true) & ~F.VIRTQ_USED_F_NO_NOTIFY;
      if (this.#shared) store16(this.#uw, this.#ub + U.flags, flags);
      else uv.setUint16(this.#ub + U.flags, flags, true);
    }
    // Then idx, both atomic when shared: a driver adding meanwhile either sees
    // the request or is seen here (2.7.10).
    return this.hasAvailable();
  }

  /** Asks the driver not to notify (a hint; with EVENT_IDX, `avail_event` stops moving). */
  disableNotification(): void {
    this.#notify = false;
    if (!this.options.eventIdx) {
      const flags = this.#uv.getUint16(this.#ub + U.flags, true) | F.VIRTQ_USED_F_NO_NOTIFY;
      if (this.#shared) store16(this.#uw, this.#ub + U.flags, flags);
      else this.#uv.setUint16(this.#ub + U.flags, flags, true);
    }
  }

  /** See {@link DeviceQueue.suspendNotifications}. */
  suspendNotifications(): void {
    this.#suspended = true;
    this.disableNotification();
    if (this.options.eventIdx) {
      // One behind the next entry: the driver's next index passes nothing it has to notify for.
      const behind = (this.#lastAvail - 1) & 0xffff;
      if (this.#shared) store16(this.#uw, this.#availEventAt, behind);
      else this.#uv.setUint16(this.#availEventAt, behind, true);
    }
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

  /** Where the queue stands: next available and next used ring index. */
  position(): Required<QueuePosition> {
    return { availIdx: this.#lastAvail, availWrap: 1, usedIdx: this.#usedIdx, usedWrap: 1 };
  }

  /**
   * Resumes at `pos` (see {@link DeviceQueue.restore}); `usedIdx` defaults to
   * the used ring's `idx`, which only the device writes.
   */
  restore(pos: QueuePosition): void {
    if (this.inFlight !== 0 || this.#usedIdx !== this.#published) {
      restoreBusy(this.index, this.inFlight);
    }
    const avail = positionField(this.index, "availIdx", pos.availIdx, 0, 0xffff);
    const ringUsed = this.#shared
      ? load16(this.#uw, this.#ub + U.idx)
      : this.#uv.getUint16(this.#ub + U.idx, true);
    const used = positionField(this.index, "usedIdx", pos.usedIdx, ringUsed, 0xffff);
    const gap = (avail - used) & 0xffff;
    if (gap > this.size) {
      throw new QueueError(
        this.index,
        undefined,
        `restore: available idx ${avail} is ${gap} entries ahead of used idx ${used}, more than the queue size ${this.size}`,
        { code: "ERR_VIRTIO_QUEUE_RESTORE_POSITION" },
      );
    }
    this.#lastAvail = avail;
    this.#availSeen = avail;
    this.#usedIdx = used;
    this.#published = used;
    this.#signalled = used;
    this.#suspended = false;
    this.enableNotification();
  }

  /** Internal counters. */
  state(): QueueState {
    return {
      size: this.size,
      lastAvail: this.#lastAvail,
      availIdx: this.#shared
        ? load16(this.#aw, this.#ab + A.idx)
        : this.#av.getUint16(this.#ab + A.idx, true),
      usedIdx: this.#usedIdx,
      publishedUsedIdx: this.#published,
      inFlight: this.inFlight,
      notify: this.#notify,
    };
  }
}
