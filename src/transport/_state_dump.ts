// The text of `TransportDeviceState.describe()`: a hosted device's transport
// state and its queues as guest memory holds them, for a diagnostic (the v86
// host appends it to a timeout's error). Reads only: the ring areas are read
// through the generated accessors over the region they lie in, found by a
// scan of `GuestMemory.regions` rather than `regionFor` (a host may override
// that to note the ranges it hands out, as v86's does for its JIT); nothing
// is written, nothing acknowledged. Guest-written values (addresses, indices,
// flags) never make it throw: an area outside guest memory is "unreadable".

import type { GuestMemory, MemoryRegion } from "../memory.ts";
import type { DeviceQueue } from "../virtqueue/queue.ts";
import { VirtioDeviceId } from "../generated/common.ts";
import { VIRTIO_MSI_NO_VECTOR } from "../generated/pci.ts";
import {
  PvirtqDesc,
  PvirtqDescFlags,
  PvirtqEventFlags,
  PvirtqEventSuppress,
  VirtqAvail,
  VirtqAvailFlags,
  VirtqDescFlags,
  VirtqUsed,
  VirtqUsedFlags,
} from "../generated/virtqueue.ts";
import type { QueueRegs } from "./device_state.ts";

/** `0x` and the hex digits of `v`. */
export const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * The names of the bits of `value` in the flag group `group` (bit masks, the
 * generated constant groups), without `prefix`; bits of no name as hex, and
 * "none" for 0.
 */
export function flagNames(
  value: number,
  group: Readonly<Record<string, number>>,
  prefix: string = "",
): string {
  const names: string[] = [];
  let rest = value >>> 0;
  for (const [name, mask] of Object.entries(group)) {
    if (mask !== 0 && (value & mask) === mask) {
      names.push(name.startsWith(prefix) ? name.slice(prefix.length) : name);
      rest &= ~mask;
    }
  }
  if (rest !== 0) names.push(hex(rest >>> 0));
  return names.length === 0 ? "none" : names.join("|");
}

/** The name of `value` in the value group `group` without `prefix`, or its number. */
function valueName(
  value: number,
  group: Readonly<Record<string, number>>,
  prefix: string,
): string {
  const name = Object.keys(group).find((k) => group[k] === value);
  return name === undefined ? String(value) : name.slice(prefix.length);
}

/** "rpmsg device (id 7, RpmsgDevice)": the spec's type name, the id, the model's class. */
export function deviceLabel(deviceId: number, model: object): string {
  const type = valueName(deviceId, VirtioDeviceId, "VIRTIO_ID_");
  const named = type === String(deviceId)
    ? "device of unknown type"
    : `${type.toLowerCase()} device`;
  let cls: unknown;
  try {
    cls = (model as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    cls = undefined;
  }
  const suffix = typeof cls === "string" && cls !== "" && cls !== "Object" ? `, ${cls}` : "";
  return `${named} (id ${deviceId}${suffix})`;
}

/** The region holding all of `[addr, addr + len)`, or undefined (NaN and huge values too). */
function regionOf(memory: GuestMemory, addr: number, len: number): MemoryRegion | undefined {
  for (const r of memory.regions) {
    if (addr >= r.base && addr + len <= r.end) return r;
  }
  return undefined;
}

const unreadable = (what: string, addr: number, len: number): string =>
  `${what} ${hex(addr)}+${len}: unreadable (not inside one guest memory region)`;

/** What {@link describeQueue} needs of one queue. */
export interface QueueDumpInput {
  /** The queue's index. */
  readonly index: number;
  /** Its registers as the driver set them. */
  readonly regs: QueueRegs;
  /** The ring layout the driver's features select. */
  readonly packed: boolean;
  /** VIRTIO_F_EVENT_IDX is in the driver's features. */
  readonly eventIdx: boolean;
  /** The device side of the queue, when the device is active and the queue live. */
  readonly live: DeviceQueue | undefined;
  /** Why there is no live queue (when `live` is undefined). */
  readonly whyNotLive: string;
  /** Requests the device model is still completing (its `inProgress`), if it says. */
  readonly inProgress: number | undefined;
  /** The queue is the transport's own (an administration virtqueue). */
  readonly transportQueue: boolean;
  /** Guest memory the rings live in. */
  readonly memory: GuestMemory;
}

/** The lines of one queue: registers, then each ring area from guest memory, then the device's position. */
export function describeQueue(q: QueueDumpInput): string[] {
  const r = q.regs;
  const own = q.transportQueue ? " (the transport's administration queue)" : "";
  const vector = r.vector === VIRTIO_MSI_NO_VECTOR ? "" : `, MSI-X vector ${r.vector}`;
  const areas = r.desc === 0 && r.driver === 0 && r.device === 0
    ? ""
    : `, desc ${hex(r.desc)} driver ${hex(r.driver)} device ${hex(r.device)}`;
  const pfn = r.pfn !== 0 ? `, pfn ${hex(r.pfn)}` : "";
  const size = `size ${r.size} (max ${r.max}${r.sizeRefused ? ", last size refused" : ""})`;
  if (!r.ready) return [`queue ${q.index}${own}: not ready, ${size}${vector}${areas}${pfn}`];
  const layout = q.packed ? "packed" : "split";
  const lines = [`queue ${q.index}${own}: ready, ${layout}, ${size}${vector}${areas}${pfn}`];
  const rings = q.packed ? packedLines(q) : splitLines(q);
  for (const l of rings) lines.push(`  ${l}`);
  return lines;
}

/** The split ring (2.7): avail and used ring headers and event words, and where the device stands. */
function splitLines(q: QueueDumpInput): string[] {
  const { regs: r, memory } = q;
  const out: string[] = [];
  const live = q.live;
  const pos = live?.position();
  let availIdx: number | undefined;
  let usedIdx: number | undefined;
  const availLen = VirtqAvail.size(r.size);
  const ar = regionOf(memory, r.driver, availLen);
  if (ar === undefined) out.push(unreadable("avail ring", r.driver, availLen));
  else {
    const a = new VirtqAvail(ar.view, r.driver - ar.base, r.size);
    availIdx = a.idx;
    const flags = a.flags; // read once: the driver may change it meanwhile
    const event = q.eventIdx ? `, used_event ${a.usedEvent}` : "";
    out.push(
      `avail ring (driver): idx ${availIdx}, flags ${hex(flags)} ` +
        `(${flagNames(flags, VirtqAvailFlags, "VIRTQ_AVAIL_F_")})${event}`,
    );
  }
  const usedLen = VirtqUsed.size(r.size);
  const ur = regionOf(memory, r.device, usedLen);
  if (ur === undefined) out.push(unreadable("used ring", r.device, usedLen));
  else {
    const u = new VirtqUsed(ur.view, r.device - ur.base, r.size);
    usedIdx = u.idx;
    const flags = u.flags;
    const event = q.eventIdx ? `, avail_event ${u.availEvent}` : "";
    out.push(
      `used ring (device): idx ${usedIdx}, flags ${hex(flags)} ` +
        `(${flagNames(flags, VirtqUsedFlags, "VIRTQ_USED_F_")})${event}`,
    );
  }
  if (live === undefined || pos === undefined) {
    out.push(`device queue: none (${q.whyNotLive})`);
    return out;
  }
  let waiting = "";
  if (availIdx !== undefined) {
    const ahead = (availIdx - pos.availIdx) & 0xffff;
    waiting = ahead > r.size
      ? ` (avail idx ${ahead} ahead: more than the queue size, a bogus idx)`
      : ` (${ahead} chain${ahead === 1 ? "" : "s"} available, not yet taken)`;
  }
  let staged = "";
  if (usedIdx !== undefined) {
    const n = (pos.usedIdx - usedIdx) & 0xffff;
    if (n !== 0) staged = ` (${n} used entr${n === 1 ? "y" : "ies"} written, not published)`;
  }
  out.push(
    `device queue: next avail ${pos.availIdx}${waiting}, next used ${pos.usedIdx}${staged}, ` +
      `${live.inFlight} in flight${modelLine(q)}`,
  );
  return out;
}

/** 2.8.1: the descriptor flags `f` mark it available in lap `wrap`. */
const isAvail = (f: number, wrap: number): boolean =>
  ((f >>> 7) & 1) === wrap && ((f >>> 15) & 1) !== wrap;

const DESC_FLAGS: Readonly<Record<string, number>> = { ...VirtqDescFlags, ...PvirtqDescFlags };

/** The packed ring (2.8): the device's next descriptor, both event structures, where the device stands. */
function packedLines(q: QueueDumpInput): string[] {
  const { regs: r, memory } = q;
  const out: string[] = [];
  const live = q.live;
  const pos = live?.position();
  const ringLen = PvirtqDesc.SIZE * r.size;
  const dr = regionOf(memory, r.desc, ringLen);
  if (dr === undefined) out.push(unreadable("descriptor ring", r.desc, ringLen));
  else {
    // Without a device position, the first descriptor of the first lap.
    const slot = pos === undefined || pos.availIdx >= r.size ? 0 : pos.availIdx;
    const wrap = pos?.availWrap ?? 1;
    const d = new PvirtqDesc(dr.view, r.desc - dr.base + slot * PvirtqDesc.SIZE);
    const f = d.flags;
    const which = pos === undefined ? "descriptor 0" : `next descriptor ${slot}`;
    out.push(
      `descriptor ring: ${which}: flags ${hex(f)} (${
        flagNames(f, DESC_FLAGS, "VIRTQ_DESC_F_")
      }), ` +
        `${isAvail(f, wrap) ? "available" : "not available"} in wrap ${wrap}, id ${d.id}, ` +
        `len ${d.len}`,
    );
  }
  const event = (what: string, addr: number): string => {
    const er = regionOf(memory, addr, PvirtqEventSuppress.SIZE);
    if (er === undefined) return unreadable(what, addr, PvirtqEventSuppress.SIZE);
    const e = new PvirtqEventSuppress(er.view, addr - er.base);
    // Each 16-bit word read once (2.8.10: off and wrap share `desc`, the flags are in `flags`).
    const desc = e.desc;
    const flags = valueName(e.flags & 0x3, PvirtqEventFlags, "RING_EVENT_FLAGS_");
    return `${what}: flags ${flags}, off ${desc & 0x7fff} wrap ${desc >>> 15}`;
  };
  out.push(event("driver event suppression", r.driver));
  out.push(event("device event suppression", r.device));
  if (live === undefined || pos === undefined) {
    out.push(`device queue: none (${q.whyNotLive})`);
    return out;
  }
  out.push(
    `device queue: next avail ${pos.availIdx} wrap ${pos.availWrap}, next used ${pos.usedIdx} ` +
      `wrap ${pos.usedWrap}, ${live.inFlight} in flight${modelLine(q)}`,
  );
  return out;
}

function modelLine(q: QueueDumpInput): string {
  const suspended = q.live?.notificationsSuspended ? ", notifications suspended (polling)" : "";
  const busy = q.inProgress ? `, ${q.inProgress} in progress in the model` : "";
  return suspended + busy;
}
