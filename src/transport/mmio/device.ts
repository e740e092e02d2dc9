/**
 * The device side of virtio over MMIO (spec 4.2): {@link MmioDevice} hosts
 * any {@link VirtioDevice} behind the register file of version 2 or of the
 * legacy version 1. The driver side is in `driver.ts`.
 *
 * The register dispatch is driven by the generated register maps
 * (`VirtioMmio.REGISTERS`, `VirtioMmioLegacy.REGISTERS` from
 * `schema/mmio.ts`): offsets, widths and access directions come from
 * there; this file only says what each named register does. A register in
 * the schema with no behaviour here (or the reverse) fails at load time.
 *
 * @module
 */

import type { ConfigWidth, VirtioDevice } from "../../device.ts";
import type { GuestMemory } from "../../memory.ts";
import { TransportError } from "../../errors.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VirtioMmio,
  VirtioMmioInterrupt,
  VirtioMmioLegacy,
} from "../../generated/mmio.ts";
import {
  defaultLog,
  guardInterrupts,
  TransportDeviceState,
  type TransportLog,
  VIRTIO_VENDOR_ID,
} from "../device_state.ts";
import { high32, low32 } from "../_address.ts";
import { flagNames, hex } from "../_state_dump.ts";
import { accessOk, checkAccess, checkWrite, truncate } from "../_access.ts";
import type { InterruptSource, RegisterBus } from "../transport.ts";

/** Options of an {@link MmioDevice}. */
export interface MmioDeviceOptions {
  /** Register layout: 2 (spec 4.2.2, the default) or 1 (legacy, 4.2.4). */
  readonly version?: 1 | 2;
  /** Where refused guest accesses are logged (default: `console.warn`). */
  readonly log?: TransportLog;
  /** A name for log lines (default `virtio-mmio`). */
  readonly name?: string;
  /**
   * Keep InterruptStatus in element 0 of this array (updated with `Atomics`)
   * instead of a private field, so that another thread can read and
   * acknowledge it without a register round trip (the worker transport).
   */
  readonly interruptStatusWord?: Int32Array;
}

/** A bus of MMIO registers that can also raise its interrupt line. */
export interface MmioBus extends RegisterBus, InterruptSource {}

type RegRead = (d: MmioDevice) => number;
type RegWrite = (d: MmioDevice, value: number, name: string) => void;
interface Behaviour {
  read?: RegRead;
  write?: RegWrite;
}

const setLo = (old: number, v: number): number => high32(old) * 0x1_0000_0000 + (v >>> 0);
const setHi = (old: number, v: number): number => (v >>> 0) * 0x1_0000_0000 + low32(old);
const NO_SHM = 0xffffffff;

/** MmioDevice's private members, for the register table (set in its `static` block). */
let mmioHooks: {
  selectShm(d: MmioDevice, id: number): void;
  /** Clears InterruptStatus (a reset). */
  clearInterrupts(d: MmioDevice): void;
};

/** What each named register does, by its spec name (shared by both layouts). */
const BEHAVIOUR: Record<string, Behaviour> = {
  MagicValue: { read: () => VIRTIO_MMIO_MAGIC },
  Version: { read: (d) => d.version },
  DeviceID: { read: (d) => d.core.device.deviceId },
  VendorID: { read: (d) => d.core.device.vendorId ?? VIRTIO_VENDOR_ID },
  DeviceFeatures: { read: (d) => d.core.deviceFeatureWord(d.core.deviceFeaturesSel) },
  HostFeatures: { read: (d) => d.core.deviceFeatureWord(d.core.deviceFeaturesSel) },
  DeviceFeaturesSel: { write: (d, v) => void (d.core.deviceFeaturesSel = v >>> 0) },
  HostFeaturesSel: { write: (d, v) => void (d.core.deviceFeaturesSel = v >>> 0) },
  DriverFeatures: {
    write: (d, v, n) => d.core.writeDriverFeatures(n, d.core.driverFeaturesSel, v),
  },
  GuestFeatures: { write: (d, v, n) => d.core.writeDriverFeatures(n, d.core.driverFeaturesSel, v) },
  DriverFeaturesSel: { write: (d, v) => void (d.core.driverFeaturesSel = v >>> 0) },
  GuestFeaturesSel: { write: (d, v) => void (d.core.driverFeaturesSel = v >>> 0) },
  GuestPageSize: {
    write: (d, v, n) => {
      if (v === 0 || (v & (v - 1)) !== 0) return d.core.refuse(n, v, "not a power of 2");
      d.core.pageSize = v >>> 0;
    },
  },
  QueueSel: { write: (d, v) => void (d.core.queueSel = v >>> 0) },
  // 4.2.2: 0 when the queue is not available.
  QueueSizeMax: { read: (d) => d.core.queues[d.core.queueSel]?.max ?? 0 },
  QueueSize: { write: (d, v, n) => d.core.setQueueSize(n, v >>> 0) },
  QueueAlign: {
    write: (d, v, n) => {
      if (v === 0 || (v & (v - 1)) !== 0) return d.core.refuse(n, v, "not a power of 2");
      d.core.queueAlign = v >>> 0;
    },
  },
  QueuePFN: {
    read: (d) => d.core.queues[d.core.queueSel]?.pfn ?? 0,
    write: (d, v, n) => d.core.setQueuePfn(n, v >>> 0),
  },
  QueueReady: {
    read: (d) => (d.core.queues[d.core.queueSel]?.ready ? 1 : 0),
    write: (d, v, n) => d.core.setQueueReady(n, v >>> 0),
  },
  QueueNotify: {
    write: (d, v) => {
      // With VIRTIO_F_NOTIFICATION_DATA the low 16 bits are still the queue index.
      d.core.notify(v & 0xffff);
    },
  },
  InterruptStatus: { read: (d) => d.interruptStatus },
  InterruptACK: {
    write: (d, v, n) => {
      if (v & ~(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)) {
        d.core.refuse(n, v, "undefined interrupt bits (4.2.2.2)");
      }
      d.acknowledge(v);
    },
  },
  Status: {
    read: (d) => d.core.status,
    write: (d, v, n) => {
      if (v > 0xff) return d.core.refuse(n, v, "status is 8 bits wide");
      d.core.writeStatus(n, v);
      if (v === 0) mmioHooks.clearInterrupts(d);
    },
  },
  QueueDescLow: { write: (d, v, n) => queueAddr(d, n, v, "desc", setLo) },
  QueueDescHigh: { write: (d, v, n) => queueAddr(d, n, v, "desc", setHi) },
  QueueDriverLow: { write: (d, v, n) => queueAddr(d, n, v, "driver", setLo) },
  QueueDriverHigh: { write: (d, v, n) => queueAddr(d, n, v, "driver", setHi) },
  QueueDeviceLow: { write: (d, v, n) => queueAddr(d, n, v, "device", setLo) },
  QueueDeviceHigh: { write: (d, v, n) => queueAddr(d, n, v, "device", setHi) },
  SHMSel: { write: (d, v) => mmioHooks.selectShm(d, v >>> 0) },
  SHMLenLow: { read: (d) => shm(d, "length", 0) },
  SHMLenHigh: { read: (d) => shm(d, "length", 32) },
  SHMBaseLow: { read: (d) => shm(d, "base", 0) },
  SHMBaseHigh: { read: (d) => shm(d, "base", 32) },
  QueueReset: {
    read: () => 0, // resets complete at once
    write: (d, v, n) => {
      if (!d.core.ringResetNegotiated) {
        return d.core.refuse(n, v, "VIRTIO_F_RING_RESET not negotiated");
      }
      if (v !== 1) return d.core.refuse(n, v, "only 1 may be written");
      if (d.core.selected(n, v)) d.core.disableQueue(d.core.queueSel);
    },
  },
  ConfigGeneration: { read: (d) => d.core.device.configGeneration >>> 0 },
};

function queueAddr(
  d: MmioDevice,
  name: string,
  v: number,
  which: "desc" | "driver" | "device",
  set: (old: number, v: number) => number,
): void {
  const q = d.core.selected(name, v);
  if (q === undefined || !d.core.queueWritable(name, q, v)) return;
  const next = set(q[which], v);
  if (next > Number.MAX_SAFE_INTEGER) {
    return d.core.refuse(name, v, "address above 2^53 is not supported");
  }
  q[which] = next;
}

function shm(d: MmioDevice, which: "base" | "length", shift: number): number {
  const r = d.core.device.sharedMemoryRegions?.find((s) => s.id === d.shmSel);
  // 4.2.2: a missing region reads as length and base all ones.
  if (r === undefined) return NO_SHM;
  return Number((r[which] >> BigInt(shift)) & 0xffffffffn);
}

/**
 * The offset -> register dispatch of one layout, as flat arrays indexed by
 * `offset / 4` so that an access costs two array loads and one call: no
 * per-access lookups, closures or strings (names only reach the log on the
 * refusal path).
 */
interface DispatchTable {
  /** Register name per slot ("" where there is none). */
  readonly names: readonly string[];
  /** Access width per slot (0 where there is none). */
  readonly sizes: Uint8Array;
  /** What a read does, where the register is readable. */
  readonly reads: readonly (RegRead | undefined)[];
  /** What a write does, where the register is writable. */
  readonly writes: readonly (RegWrite | undefined)[];
}

// Registers with a direct path in MmioDevice.read/write (the same offsets in both layouts).
const QUEUE_NOTIFY = VirtioMmio.OFFSETS.queueNotify;
const INTERRUPT_STATUS = VirtioMmio.OFFSETS.interruptStatus;
const INTERRUPT_ACK = VirtioMmio.OFFSETS.interruptACK;
const INTERRUPT_BITS = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;
if (
  VirtioMmioLegacy.OFFSETS.queueNotify !== QUEUE_NOTIFY ||
  VirtioMmioLegacy.OFFSETS.interruptStatus !== INTERRUPT_STATUS ||
  VirtioMmioLegacy.OFFSETS.interruptACK !== INTERRUPT_ACK
) {
  throw new TransportError("virtio_mmio_legacy: interrupt and notify registers moved", {
    code: "ERR_VIRTIO_TRANSPORT_REGISTER_MAP",
  });
}

/** Build the offset -> register table of one layout from its generated REGISTERS. */
function dispatchTable(
  regs: readonly { name: string; offset: number; size: number; access: "r" | "w" | "rw" }[],
  layout: string,
): DispatchTable {
  const slots = VIRTIO_MMIO_CONFIG / 4;
  const names: string[] = new Array(slots).fill("");
  const sizes = new Uint8Array(slots);
  const reads: (RegRead | undefined)[] = new Array(slots).fill(undefined);
  const writes: (RegWrite | undefined)[] = new Array(slots).fill(undefined);
  for (const r of regs) {
    const b = BEHAVIOUR[r.name];
    const needRead = r.access !== "w";
    const needWrite = r.access !== "r";
    if (b === undefined || (needRead && !b.read) || (needWrite && !b.write)) {
      throw new TransportError(
        `${layout}: register ${r.name} (access ${r.access}) has no behaviour in mmio/device.ts`,
        { code: "ERR_VIRTIO_TRANSPORT_REGISTER_MAP" },
      );
    }
    const i = r.offset / 4;
    names[i] = r.name;
    sizes[i] = r.size;
    // Only the directions the schema allows are wired; the other is refused.
    reads[i] = needRead ? b.read : undefined;
    writes[i] = needWrite ? b.write : undefined;
  }
  return { names, sizes, reads, writes };
}

const MODERN_TABLE = dispatchTable(VirtioMmio.REGISTERS, "virtio_mmio");
const LEGACY_TABLE = dispatchTable(VirtioMmioLegacy.REGISTERS, "virtio_mmio_legacy");

/**
 * The device side of virtio-mmio: one register window hosting one
 * {@link VirtioDevice}. Accesses that break a rule of spec 4.2 are logged
 * and ignored (reads return 0); nothing throws into the caller.
 */
export class MmioDevice implements MmioBus {
  /** The shared device state (status, features, queues). */
  readonly core: TransportDeviceState;
  /** The register layout version (1 legacy, 2 modern). */
  readonly version: 1 | 2;
  #isr = 0;
  readonly #isrWord: Int32Array | undefined;
  /** SHMSel: the selected shared memory region. */
  get shmSel(): number {
    return this.#shmSel;
  }
  #shmSel = 0;
  readonly #names: readonly string[];
  readonly #sizes: Uint8Array;
  readonly #reads: readonly (RegRead | undefined)[];
  readonly #writes: readonly (RegWrite | undefined)[];
  #irq: ((vector: number) => void) | undefined;

  static {
    mmioHooks = {
      selectShm: (d, id) => void (d.#shmSel = id),
      clearInterrupts: (d) => d.#clearInterrupts(),
    };
  }

  /** Host `device` over `memory` with the register layout of `options.version` (default 2). */
  constructor(device: VirtioDevice, memory: GuestMemory, options: MmioDeviceOptions = {}) {
    this.version = options.version ?? 2;
    this.#isrWord = options.interruptStatusWord;
    const table = this.version === 1 ? LEGACY_TABLE : MODERN_TABLE;
    this.#names = table.names;
    this.#sizes = table.sizes;
    this.#reads = table.reads;
    this.#writes = table.writes;
    this.core = new TransportDeviceState(
      device,
      memory,
      {
        used: () => this.#raise(VIRTIO_MMIO_INT_VRING),
        config: () => this.#raise(VIRTIO_MMIO_INT_CONFIG),
        describe: () => {
          const isr = this.interruptStatus;
          return `InterruptStatus ${hex(isr)} (${
            flagNames(isr, VirtioMmioInterrupt, "VIRTIO_MMIO_INT_")
          })${isr === 0 ? "" : ", not acknowledged"}`;
        },
      },
      options.log ?? defaultLog,
      options.name ?? `virtio-mmio v${this.version}`,
    );
    this.core.legacy = this.version === 1;
  }

  /** The register window's size: the registers up to 0x100, then the device config. */
  get size(): number {
    return VIRTIO_MMIO_CONFIG + this.core.device.configSize;
  }

  /** The hosted device model. */
  get device(): VirtioDevice {
    return this.core.device;
  }

  /** Connect the interrupt line; `handler` gets -1 whenever an interrupt is raised. */
  connect(handler: (vector: number) => void): void {
    this.#irq = guardInterrupts(handler, this.core.log, this.core.where);
  }

  /** InterruptStatus: VIRTIO_MMIO_INT_* bits not yet acknowledged. */
  get interruptStatus(): number {
    const w = this.#isrWord;
    return w === undefined ? this.#isr : Atomics.load(w, 0) >>> 0;
  }

  #clearInterrupts(): void {
    const w = this.#isrWord;
    if (w === undefined) this.#isr = 0;
    else Atomics.store(w, 0, 0);
  }

  /** Clear the acknowledged `bits` (InterruptACK). */
  acknowledge(bits: number): void {
    const w = this.#isrWord;
    if (w === undefined) this.#isr &= ~bits;
    else Atomics.and(w, 0, ~bits);
  }

  #raise(bit: number): void {
    const w = this.#isrWord;
    if (w === undefined) this.#isr |= bit;
    else Atomics.or(w, 0, bit);
    this.#irq?.(-1);
  }

  /** A driver read of `width` bytes at `offset` in the register window. */
  read(offset: number, width: ConfigWidth): number {
    // The interrupt routine's register, read on every interrupt: a direct path.
    if (offset === INTERRUPT_STATUS && width === 4) return this.interruptStatus;
    if (!accessOk(offset, width)) checkAccess(`${this.core.where} read`, offset, width);
    if (offset >= VIRTIO_MMIO_CONFIG) return this.#readConfig(offset - VIRTIO_MMIO_CONFIG, width);
    const i = offset >>> 2;
    const fn = this.#reads[i];
    // Fast path: an aligned access of the right width to a readable register.
    if (fn !== undefined && (offset & 3) === 0 && width === this.#sizes[i]) return fn(this) >>> 0;
    if (this.#checkSlot(offset, width, "read") && this.#names[i] !== "") {
      this.core.refuse(this.#names[i], undefined, "read of a write-only register (4.2.2.2)");
    }
    return 0;
  }

  /** A driver write of `width` bytes of `value` at `offset` in the register window. */
  write(offset: number, width: ConfigWidth, value: number): void {
    if (typeof value !== "number") checkWrite(`${this.core.where} write`, offset, width, value);
    value >>>= 0;
    if (width === 4) {
      // The two registers written on every request round trip: direct calls.
      // With VIRTIO_F_NOTIFICATION_DATA the low 16 bits are still the queue index.
      if (offset === QUEUE_NOTIFY) return this.core.notify(value & 0xffff);
      if (offset === INTERRUPT_ACK && (value & ~INTERRUPT_BITS) === 0) {
        return this.acknowledge(value);
      }
    }
    if (!accessOk(offset, width)) checkAccess(`${this.core.where} write`, offset, width);
    value = truncate(value, width);
    if (offset >= VIRTIO_MMIO_CONFIG) {
      return this.#writeConfig(offset - VIRTIO_MMIO_CONFIG, width, value);
    }
    const i = offset >>> 2;
    const fn = this.#writes[i];
    if (fn !== undefined && (offset & 3) === 0 && width === this.#sizes[i]) {
      return fn(this, value, this.#names[i]);
    }
    if (this.#checkSlot(offset, width, "write", value)) {
      this.core.refuse(this.#names[i], value, "write to a read-only register (4.2.2.2)");
    }
  }

  /** The refusal path: log why the access at `offset` has no register; true when it has one. */
  #checkSlot(offset: number, width: number, op: string, value?: number): boolean {
    const i = offset >>> 2;
    if (offset % 4 !== 0 || this.#sizes[i] === 0 || this.#sizes[i] === undefined) {
      const unaligned = offset % 4 !== 0 && offset < VIRTIO_MMIO_CONFIG;
      this.core.refuse(
        `offset 0x${offset.toString(16)}`,
        value,
        `${op} of no register${unaligned ? " (unaligned)" : ""}`,
        unaligned ? "unaligned register accesses" : "accesses of no register",
      );
      return false;
    }
    if (width !== this.#sizes[i]) {
      const name = this.#names[i];
      this.core.refuse(name, value, `${width}-byte ${op}; control registers are 32-bit`);
      return false;
    }
    return true;
  }

  #configOk(offset: number, width: number, value?: number): boolean {
    const size = this.core.device.configSize;
    if (offset % width !== 0) {
      this.core.refuse(
        `config+0x${offset.toString(16)}`,
        value,
        `unaligned ${width}-byte access`,
        "unaligned config accesses",
      );
      return false;
    }
    if (offset + width > size) {
      this.core.refuse(
        `config+0x${offset.toString(16)}`,
        value,
        `past the ${size}-byte config`,
        `config accesses past the ${size}-byte config`,
      );
      return false;
    }
    return true;
  }

  #readConfig(offset: number, width: ConfigWidth): number {
    if (!this.#configOk(offset, width)) return 0;
    try {
      return this.core.device.readConfig(offset, width);
    } catch (e) {
      this.core.needsReset(e);
      return 0;
    }
  }

  #writeConfig(offset: number, width: ConfigWidth, value: number): void {
    if (!this.#configOk(offset, width, value)) return;
    try {
      this.core.device.writeConfig(offset, width, value);
    } catch (e) {
      this.core.needsReset(e);
    }
  }
}
