/**
 * The virtqueue inspector's model: what the page's inspector shows of every
 * queue of every hosted device, read live from guest memory through the
 * generated accessors (`VirtqDesc`, `VirtqAvail`, `VirtqUsed`, `PvirtqDesc`,
 * `PvirtqEventSuppress`) placed over the guest memory region the ring lives
 * in: no copy of the ring is made, and nothing is written.
 *
 * {@link QueueInspector} taps a device's transport state once (before the
 * guest drives it) to count the driver's notifications and the device's
 * interrupts and to hold the live {@link DeviceContext}, which knows where
 * the device side of each queue stands. {@link QueueInspector.snapshot}
 * reads one queue on demand; {@link QueueInspector.sample} adds a point to
 * each queue's rate history. Neither throws for anything the guest wrote:
 * ring addresses come from the guest, so a ring outside memory is reported
 * as such, and chains are walked with a bound (a looping chain stops).
 *
 * DOM-free: runs in Deno (tests/web/inspector_test.ts) and in the page.
 *
 * @module
 */

import type { DeviceContext, VirtioDevice } from "../src/device.ts";
import type { GuestMemory, MemoryRegion } from "../src/memory.ts";
import type { TransportDeviceState } from "../src/transport/device_state.ts";
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_RING_PACKED } from "../src/generated/common.ts";
import {
  PvirtqDesc,
  PvirtqEventSuppress,
  RING_EVENT_FLAGS_DISABLE,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_USED,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
} from "../src/generated/virtqueue.ts";

/** One descriptor as the inspector shows it (split: `next`; packed: `id`). */
export interface DescView {
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
  /** Split: `next`; packed: the buffer `id`. */
  readonly nextOrId: number;
}

/** A descriptor chain found in a ring: its head and the descriptors it links. */
export interface ChainView {
  /** Ring position (split: avail/used ring index mod size; packed: descriptor slot). */
  readonly slot: number;
  /** Head descriptor index (split) or buffer id (packed). */
  readonly head: number;
  /** Descriptor indices in chain order (packed: ring slots). */
  readonly descs: readonly number[];
  /** Bytes the device may read, and write. */
  readonly outBytes: number;
  readonly inBytes: number;
  /** The chain uses an indirect table. */
  readonly indirect: boolean;
  /** The indirect table's descriptors, when it has one inside guest memory. */
  readonly table?: readonly DescView[];
  /** The walk stopped early: a loop, a next out of range, or longer than the queue. */
  readonly broken: boolean;
}

/** A used element (split) as the inspector shows it. */
export interface UsedView {
  readonly slot: number;
  readonly id: number;
  readonly len: number;
}

/** Where the device side stands, from its live queue. */
export interface DevicePosition {
  /** Split: next avail ring index it will read (free-running); packed: next slot. */
  readonly availIdx: number;
  readonly availWrap: number;
  /** Split: next used ring index it will write; packed: next slot. */
  readonly usedIdx: number;
  readonly usedWrap: number;
  /** Chains popped and not yet returned. */
  readonly inFlight: number;
}

/** Event suppression as each side last wrote it (2.7.7, 2.7.10 / 2.8.10). */
export interface Suppression {
  /** Split: `VIRTQ_AVAIL_F_NO_INTERRUPT` set by the driver. Packed: driver event flags = DISABLE. */
  readonly driverNoInterrupt: boolean;
  /** Split: `VIRTQ_USED_F_NO_NOTIFY` set by the device. Packed: device event flags = DISABLE. */
  readonly deviceNoNotify: boolean;
  /** With EVENT_IDX, split: `used_event` (driver) / `avail_event` (device). Packed: the descriptor offsets. */
  readonly driverEvent?: number;
  readonly deviceEvent?: number;
  /** Packed, with EVENT_IDX: the wrap counters of `driverEvent` / `deviceEvent` (their offsets). */
  readonly driverEventWrap?: number;
  readonly deviceEventWrap?: number;
  /** Packed: the raw flags of each event suppression structure (RING_EVENT_FLAGS_*). */
  readonly driverFlags?: number;
  readonly deviceFlags?: number;
}

/** One queue, read now. */
export interface QueueSnapshot {
  readonly device: string;
  readonly queue: number;
  readonly size: number;
  readonly ready: boolean;
  readonly layout: "split" | "packed";
  readonly eventIdx: boolean;
  readonly desc: number;
  readonly driver: number;
  readonly deviceArea: number;
  /** Set when a ring area lies outside guest memory (the rest is then empty). */
  readonly error?: string;
  /** The descriptor table (split) or ring (packed), every entry. */
  readonly descs: readonly DescView[];
  /** Split: the available ring's flags, `idx` and entries. */
  readonly avail?: {
    readonly flags: number;
    readonly idx: number;
    readonly ring: readonly number[];
  };
  /** Split: the used ring's flags, `idx` and entries. */
  readonly used?: {
    readonly flags: number;
    readonly idx: number;
    readonly ring: readonly UsedView[];
  };
  /** The device side's position, when the device is active. */
  readonly position?: DevicePosition;
  /** Chains the driver made available that the device has not taken yet (full snapshots only). */
  readonly pending: readonly ChainView[];
  /** How many chains wait for the device (in every snapshot). */
  readonly waiting: number;
  readonly suppression: Suppression;
  /** Driver notifications (kicks) and used-buffer interrupts since the inspector was attached. */
  readonly kicks: number;
  readonly interrupts: number;
}

/** One point of a queue's rate history: per second since the previous point. */
export interface RatePoint {
  /** Chains made available per second (split: avail idx; packed: device's pops). */
  readonly avail: number;
  /** Chains returned used per second. */
  readonly used: number;
  readonly kicks: number;
  readonly interrupts: number;
}

/** How many points each queue's history keeps. */
export const HISTORY = 120;

interface Counters {
  kicks: number[];
  interrupts: number[];
}

interface Last {
  at: number;
  avail: number;
  used: number;
  period: number;
  kicks: number;
  interrupts: number;
}

const mod = (v: number, m: number): number => ((v % m) + m) % m;

const hasBit = (f: bigint, b: number): boolean => (f & (1n << BigInt(b))) !== 0n;

/** The region holding `[addr, addr+len)`, found without `GuestMemory.regionFor` (a host may note those ranges). */
function regionOf(memory: GuestMemory, addr: number, len: number): MemoryRegion | undefined {
  for (const r of memory.regions) {
    if (addr >= r.base && addr + len <= r.end) return r;
  }
  return undefined;
}

/**
 * The inspector of one hosted device: its transport state (`core`, the
 * `core` of a `PciFunction` or `MmioDevice`) under a display name.
 */
export class QueueInspector {
  /** Display name (`blk`, `net`...). */
  readonly name: string;
  readonly #core: TransportDeviceState;
  #ctx: DeviceContext | undefined;
  readonly #counters: Counters;
  readonly #history: RatePoint[][];
  readonly #last: (Last | undefined)[];

  /**
   * Taps `core`: counts notifications and interrupts, and keeps the device
   * context of each activation. Tap before the driver starts (the v86 host's
   * `onHost`): what happened before is not counted.
   */
  constructor(name: string, core: TransportDeviceState) {
    this.name = name;
    this.#core = core;
    const n = core.device.queueMaxSizes.length;
    this.#counters = { kicks: new Array(n).fill(0), interrupts: new Array(n).fill(0) };
    this.#history = Array.from({ length: n }, () => []);
    this.#last = new Array(n).fill(undefined);
    const device: VirtioDevice = core.device;
    const activate = device.activate.bind(device);
    device.activate = (ctx: DeviceContext) => {
      this.#ctx = ctx;
      return activate(ctx);
    };
    const notify = core.notify.bind(core);
    core.notify = (index: number) => {
      if (index >= 0 && index < n) this.#counters.kicks[index]++;
      notify(index);
    };
    const sink = core.sink;
    core.sink = {
      used: (index: number) => {
        if (index >= 0 && index < n) this.#counters.interrupts[index]++;
        sink.used(index);
      },
      config: () => sink.config(),
      describe: sink.describe?.bind(sink),
    };
  }

  /** Number of queues of the device. */
  get queueCount(): number {
    return this.#core.queues.length;
  }

  /** Driver notifications of queue `q` so far. */
  kicks(q: number): number {
    return this.#counters.kicks[q] ?? 0;
  }

  /** Used-buffer interrupts of queue `q` so far. */
  interrupts(q: number): number {
    return this.#counters.interrupts[q] ?? 0;
  }

  #liveCtx(): DeviceContext | undefined {
    const ctx = this.#ctx;
    return ctx !== undefined && this.#core.isLive(ctx) ? ctx : undefined;
  }

  /** Negotiated features (0 before activation). */
  get features(): bigint {
    return this.#liveCtx()?.features ?? 0n;
  }

  /** Where the device side of queue `q` stands, when the device is active. */
  position(q: number): DevicePosition | undefined {
    const dq = this.#liveCtx()?.queues[q];
    if (dq === undefined) return undefined;
    const p = dq.position();
    return {
      availIdx: p.availIdx,
      availWrap: p.availWrap,
      usedIdx: p.usedIdx,
      usedWrap: p.usedWrap,
      inFlight: dq.inFlight,
    };
  }

  /**
   * Queue `q` read now from guest memory (see {@link QueueSnapshot}). With
   * `full` false, only the indices, suppression state, counters and the
   * number of waiting chains are read: `descs`, the ring entries and
   * `pending` stay empty (what the inspector's overview rows need).
   */
  snapshot(q: number, full = true): QueueSnapshot {
    const regs = this.#core.queues[q];
    const features = this.features;
    const packed = hasBit(features, VIRTIO_F_RING_PACKED);
    const eventIdx = hasBit(features, VIRTIO_F_EVENT_IDX);
    const base = {
      device: this.name,
      queue: q,
      size: regs.size,
      ready: regs.ready,
      layout: packed ? "packed" as const : "split" as const,
      eventIdx,
      desc: regs.desc,
      driver: regs.driver,
      deviceArea: regs.device,
      kicks: this.kicks(q),
      interrupts: this.interrupts(q),
      position: this.position(q),
    };
    const empty = {
      ...base,
      descs: [],
      pending: [],
      waiting: 0,
      suppression: { driverNoInterrupt: false, deviceNoNotify: false },
    };
    if (!regs.ready) return empty;
    const memory = this.#core.memory;
    return packed
      ? this.#packed(memory, base, empty, eventIdx, full)
      : this.#split(memory, base, empty, eventIdx, full);
  }

  #split(
    memory: GuestMemory,
    base: Omit<QueueSnapshot, "descs" | "pending" | "waiting" | "suppression">,
    empty: QueueSnapshot,
    eventIdx: boolean,
    full: boolean,
  ): QueueSnapshot {
    const size = base.size;
    const dr = regionOf(memory, base.desc, VirtqDesc.SIZE * size);
    const ar = regionOf(memory, base.driver, VirtqAvail.size(size));
    const ur = regionOf(memory, base.deviceArea, VirtqUsed.size(size));
    if (dr === undefined || ar === undefined || ur === undefined) {
      return { ...empty, error: "a ring area is outside guest memory" };
    }
    const d = new VirtqDesc(dr.view, base.desc - dr.base);
    const descAt = (i: number) => d.at(base.desc - dr.base + i * VirtqDesc.SIZE);
    const avail = new VirtqAvail(ar.view, base.driver - ar.base, size);
    const used = new VirtqUsed(ur.view, base.deviceArea - ur.base, size);
    const availIdx = avail.idx;
    const descs: DescView[] = [];
    const ring: number[] = [];
    const usedRing: UsedView[] = [];
    for (let i = 0; full && i < size; i++) {
      const x = descAt(i);
      descs.push({ addr: x.addr, len: x.len, flags: x.flags, nextOrId: x.next });
      ring.push(avail.ring(i));
      const e = used.ring(i);
      usedRing.push({ slot: i, id: e.id, len: e.len });
    }
    // Chains published and not taken: avail ring entries from the device's position to idx.
    const pending: ChainView[] = [];
    const from = base.position?.availIdx;
    const waiting = from === undefined ? 0 : Math.min((availIdx - from) & 0xffff, size);
    if (from !== undefined && full) {
      for (let k = 0; k < waiting; k++) {
        const slot = (from + k) % size;
        pending.push(walkSplit(memory, descs, slot, ring[slot]));
      }
    }
    return {
      ...base,
      descs,
      avail: { flags: avail.flags, idx: availIdx, ring },
      used: { flags: used.flags, idx: used.idx, ring: usedRing },
      pending,
      waiting,
      suppression: {
        driverNoInterrupt: (avail.flags & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0,
        deviceNoNotify: (used.flags & VIRTQ_USED_F_NO_NOTIFY) !== 0,
        ...(eventIdx ? { driverEvent: avail.usedEvent, deviceEvent: used.availEvent } : {}),
      },
    };
  }

  #packed(
    memory: GuestMemory,
    base: Omit<QueueSnapshot, "descs" | "pending" | "waiting" | "suppression">,
    empty: QueueSnapshot,
    eventIdx: boolean,
    full: boolean,
  ): QueueSnapshot {
    const size = base.size;
    const dr = regionOf(memory, base.desc, PvirtqDesc.SIZE * size);
    const er = regionOf(memory, base.driver, PvirtqEventSuppress.SIZE);
    const vr = regionOf(memory, base.deviceArea, PvirtqEventSuppress.SIZE);
    if (dr === undefined || er === undefined || vr === undefined) {
      return { ...empty, error: "a ring area is outside guest memory" };
    }
    const d = new PvirtqDesc(dr.view, base.desc - dr.base);
    const descAt = (i: number) => d.at(base.desc - dr.base + i * PvirtqDesc.SIZE);
    const descs: DescView[] = [];
    for (let i = 0; full && i < size; i++) {
      const x = descAt(i);
      descs.push({ addr: x.addr, len: x.len, flags: x.flags, nextOrId: x.id });
    }
    // 2.8.1: a descriptor is available when its AVAIL bit equals the driver's
    // wrap counter and its USED bit differs; walk from the device's position.
    const pending: ChainView[] = [];
    let waiting = 0;
    const pos = base.position;
    if (pos !== undefined) {
      let slot = pos.availIdx, wrap = pos.availWrap;
      for (let seen = 0; seen < size;) {
        const f = descAt(slot).flags;
        const avail = (f & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
        const usedBit = (f & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
        if (avail !== wrap || usedBit === wrap) break;
        let n = 1; // descriptors of this chain: up to the first without NEXT
        while (n < size && descAt((slot + n - 1) % size).flags & VIRTQ_DESC_F_NEXT) n++;
        waiting++;
        if (full) pending.push(walkPacked(memory, descs, slot));
        seen += n;
        slot += n;
        if (slot >= size) {
          slot -= size;
          wrap ^= 1;
        }
        if (n >= size) break; // a chain as long as the ring: broken, stop here
      }
    }
    const drv = new PvirtqEventSuppress(er.view, base.driver - er.base);
    const dev = new PvirtqEventSuppress(vr.view, base.deviceArea - vr.base);
    return {
      ...base,
      descs,
      pending,
      waiting,
      suppression: {
        driverNoInterrupt: drv.descEventFlags === RING_EVENT_FLAGS_DISABLE,
        deviceNoNotify: dev.descEventFlags === RING_EVENT_FLAGS_DISABLE,
        driverFlags: drv.descEventFlags,
        deviceFlags: dev.descEventFlags,
        ...(eventIdx
          ? {
            driverEvent: drv.descEventOff,
            driverEventWrap: drv.descEventWrap,
            deviceEvent: dev.descEventOff,
            deviceEventWrap: dev.descEventWrap,
          }
          : {}),
      },
    };
  }

  /**
   * Adds a point to every queue's rate history: chains made available and
   * used, notifications and interrupts per second since the last call
   * (`now` in milliseconds, from the caller's clock).
   */
  sample(now: number): void {
    for (let q = 0; q < this.queueCount; q++) {
      const counts = this.#counts(q);
      const last = this.#last[q];
      this.#last[q] = { at: now, ...counts };
      if (last === undefined || now <= last.at) continue;
      const s = (now - last.at) / 1000;
      const h = this.#history[q];
      h.push({
        avail: mod(counts.avail - last.avail, counts.period) / s,
        used: mod(counts.used - last.used, counts.period) / s,
        kicks: (counts.kicks - last.kicks) / s,
        interrupts: (counts.interrupts - last.interrupts) / s,
      });
      if (h.length > HISTORY) h.shift();
    }
  }

  /** The rate history of queue `q`, oldest first. */
  history(q: number): readonly RatePoint[] {
    return this.#history[q] ?? [];
  }

  /**
   * Running counts of queue `q` and the period they wrap at: split, the
   * free-running ring indices (2^16); packed, the device's positions extended
   * by their wrap counters (2 * size: exact while fewer than that many
   * descriptors pass between two samples).
   */
  #counts(
    q: number,
  ): { avail: number; used: number; period: number; kicks: number; interrupts: number } {
    const regs = this.#core.queues[q];
    let avail = 0, used = 0, period = 0x10000;
    const dq = this.#liveCtx()?.queues[q];
    if (regs.ready && dq !== undefined) {
      if (hasBit(this.features, VIRTIO_F_RING_PACKED)) {
        // Packed rings have no index: count descriptors the device passed, wrap by wrap.
        const p = dq.position();
        period = 2 * regs.size;
        avail = p.availIdx + (p.availWrap === 1 ? 0 : regs.size);
        used = p.usedIdx + (p.usedWrap === 1 ? 0 : regs.size);
      } else {
        const ar = regionOf(this.#core.memory, regs.driver, VirtqAvail.size(regs.size));
        const ur = regionOf(this.#core.memory, regs.device, VirtqUsed.size(regs.size));
        if (ar !== undefined) avail = new VirtqAvail(ar.view, regs.driver - ar.base).idx;
        if (ur !== undefined) used = new VirtqUsed(ur.view, regs.device - ur.base).idx;
      }
    }
    return { avail, used, period, kicks: this.kicks(q), interrupts: this.interrupts(q) };
  }
}

/** Most descriptors read from one indirect table (2.7.5.3: at most the queue size in a sane driver). */
const MAX_TABLE = 1024;

/**
 * The indirect table at `addr` (`len` bytes), read through `VirtqDesc` (split)
 * or `PvirtqDesc` (packed: 2.8.19, the same size, other fields), or undefined
 * when outside memory.
 */
function readTable(
  memory: GuestMemory,
  addr: number,
  len: number,
  packed: boolean,
): DescView[] | undefined {
  const n = Math.min(Math.floor(len / VirtqDesc.SIZE), MAX_TABLE);
  const r = regionOf(memory, addr, n * VirtqDesc.SIZE);
  if (r === undefined || n === 0) return undefined;
  const out: DescView[] = [];
  if (packed) {
    const d = new PvirtqDesc(r.view, addr - r.base);
    for (let i = 0; i < n; i++) {
      const x = d.at(addr - r.base + i * PvirtqDesc.SIZE);
      out.push({ addr: x.addr, len: x.len, flags: x.flags, nextOrId: x.id });
    }
  } else {
    const d = new VirtqDesc(r.view, addr - r.base);
    for (let i = 0; i < n; i++) {
      const x = d.at(addr - r.base + i * VirtqDesc.SIZE);
      out.push({ addr: x.addr, len: x.len, flags: x.flags, nextOrId: x.next });
    }
  }
  return out;
}

/** Byte counts of an indirect table's chain from entry 0 (2.7.5.3.1), bounded, loops stopped. */
function tableBytes(table: readonly DescView[]): { out: number; in: number; broken: boolean } {
  let out = 0, inb = 0;
  const seen = new Set<number>();
  for (let i = 0;;) {
    if (i >= table.length || seen.has(i)) return { out, in: inb, broken: true };
    seen.add(i);
    const x = table[i];
    if (x.flags & VIRTQ_DESC_F_WRITE) inb += x.len;
    else out += x.len;
    if ((x.flags & VIRTQ_DESC_F_NEXT) === 0) return { out, in: inb, broken: false };
    i = x.nextOrId;
  }
}

/** Walks the split chain at `head` (2.7.5), at most `size` descriptors; indirect tables read too. */
function walkSplit(
  memory: GuestMemory,
  descs: readonly DescView[],
  slot: number,
  head: number,
): ChainView {
  const out: number[] = [];
  let outBytes = 0, inBytes = 0, indirect = false, broken = false;
  let table: DescView[] | undefined;
  const seen = new Set<number>();
  for (let i = head;;) {
    if (i >= descs.length || seen.has(i)) {
      broken = true;
      break;
    }
    seen.add(i);
    out.push(i);
    const x = descs[i];
    if (x.flags & VIRTQ_DESC_F_INDIRECT) {
      indirect = true;
      table = readTable(memory, x.addr, x.len, false);
      const b = table === undefined ? { out: 0, in: 0, broken: true } : tableBytes(table);
      outBytes += b.out;
      inBytes += b.in;
      broken ||= b.broken;
    } else if (x.flags & VIRTQ_DESC_F_WRITE) inBytes += x.len;
    else outBytes += x.len;
    if ((x.flags & VIRTQ_DESC_F_NEXT) === 0) break;
    i = x.nextOrId;
  }
  return { slot, head, descs: out, outBytes, inBytes, indirect, broken, table };
}

/** Walks the packed chain starting at ring slot `slot` (2.8.6); an indirect table is read too. */
function walkPacked(memory: GuestMemory, descs: readonly DescView[], slot: number): ChainView {
  const out: number[] = [];
  let outBytes = 0, inBytes = 0, indirect = false, broken = false;
  let table: DescView[] | undefined;
  let id = 0;
  for (let i = slot, n = 0;; n++) {
    if (n >= descs.length) {
      broken = true;
      break;
    }
    out.push(i);
    const x = descs[i];
    id = x.nextOrId;
    if (x.flags & VIRTQ_DESC_F_INDIRECT) {
      // 2.8.19: a packed indirect table is read in order, no next fields.
      indirect = true;
      table = readTable(memory, x.addr, x.len, true);
      if (table === undefined) broken = true;
      for (const e of table ?? []) {
        if (e.flags & VIRTQ_DESC_F_WRITE) inBytes += e.len;
        else outBytes += e.len;
      }
    } else if (x.flags & VIRTQ_DESC_F_WRITE) inBytes += x.len;
    else outBytes += x.len;
    if ((x.flags & VIRTQ_DESC_F_NEXT) === 0) break;
    i = (i + 1) % descs.length;
  }
  return { slot, head: id, descs: out, outBytes, inBytes, indirect, broken, table };
}
