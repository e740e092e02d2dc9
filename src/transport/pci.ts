/**
 * virtio over PCI (spec 4.1): the device side ({@link PciFunction}, a PCI
 * function hosting any {@link VirtioDevice}, modern or transitional) and the
 * driver side ({@link PciTransport}, found with {@link probePci}: modern
 * capabilities first, the legacy I/O header of a transitional device
 * otherwise).
 *
 * Layout of the function (the same as QEMU's, so dumps look familiar):
 * - config space: vendor 0x1af4, device id 0x1040 + id (modern) or the
 *   transitional id (0x1000..0x103f), subsystem ids, a capability list at
 *   0x40: MSI-X, then the virtio capabilities common, notify, ISR, device
 *   and PCI cfg access.
 * - BAR0 (transitional only): the legacy I/O header (4.1.4.10) then config.
 * - BAR1: MSI-X table (one vector per queue, plus one for config) and PBA.
 * - BAR4/5 (64-bit memory): common cfg at 0x0, ISR at 0x1000, device cfg at
 *   0x2000, notify at 0x3000 (multiplier 4, `queue_notify_off` = index).
 *
 * Offsets inside the virtio structures come from the generated accessors of
 * `schema/pci.ts` (`VirtioPciCommonCfg.OFFSETS`, `VirtioPciLegacy.REGISTERS`,
 * `VirtioPciCap.OFFSETS`...).
 *
 * @module
 */

import type { ConfigWidth, VirtioDevice } from "../device.ts";
import type { GuestMemory } from "../memory.ts";
import { TransportError } from "../errors.ts";
import {
  PCI_CAP_ID_VNDR,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_PCI_CFG,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_DEVICE_ID_MAX,
  VIRTIO_PCI_DEVICE_ID_MIN,
  VIRTIO_PCI_ISR_CONFIG,
  VIRTIO_PCI_ISR_QUEUE,
  VIRTIO_PCI_LEGACY_CONFIG_OFF,
  VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX,
  VIRTIO_PCI_QUEUE_ADDR_SHIFT,
  VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX,
  VIRTIO_PCI_VENDOR_ID,
  VIRTIO_PCI_VRING_ALIGN,
  VirtioPciCap,
  VirtioPciCfgCap,
  VirtioPciCommonCfg,
  VirtioPciLegacy,
  VirtioPciNotifyCap,
} from "../generated/pci.ts";
import {
  VIRTIO_ID_9P,
  VIRTIO_ID_BALLOON,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_NET,
  VIRTIO_ID_RNG,
  VIRTIO_ID_SCSI,
} from "../generated/common.ts";
import {
  defaultLog,
  DeviceCore,
  guardInterrupts,
  type TransportLog,
  VIRTIO_VENDOR_ID,
} from "./_core.ts";
import type {
  InterruptHandlers,
  InterruptSource,
  QueueRingAddresses,
  Transport,
} from "./transport.ts";

/** PCI configuration space registers of a type 0 header used here. */
const PCI_VENDOR_ID = 0x00;
const PCI_DEVICE_ID = 0x02;
const PCI_COMMAND = 0x04;
const PCI_STATUS = 0x06;
const PCI_REVISION_ID = 0x08;
const PCI_CLASS_PROG = 0x09;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BAR0 = 0x10;
const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
const PCI_SUBSYSTEM_ID = 0x2e;
const PCI_CAPABILITY_LIST = 0x34;
const PCI_INTERRUPT_LINE = 0x3c;
const PCI_INTERRUPT_PIN = 0x3d;
const PCI_COMMAND_IO = 0x1;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_INTX_DISABLE = 0x400;
const PCI_STATUS_CAP_LIST = 0x10;
const PCI_STATUS_INTERRUPT = 0x08;
const PCI_CAP_ID_MSIX = 0x11;
const MSIX_ENABLE = 0x8000;
const MSIX_MASKALL = 0x4000;

/** Where things sit in this function (see the module doc). */
const CAP_MSIX = 0x40;
const CAP_COMMON = 0x50;
const CAP_NOTIFY = 0x60;
const CAP_ISR = 0x78;
const CAP_DEVICE = 0x88;
const CAP_PCI_CFG = 0x98;
const BAR_LEGACY = 0;
const BAR_MSIX = 1;
const BAR_MODERN = 4;
const MODERN_COMMON = 0x0000;
const MODERN_ISR = 0x1000;
const MODERN_DEVICE = 0x2000;
const MODERN_NOTIFY = 0x3000;
const MODERN_BAR_SIZE = 0x4000;
const NOTIFY_MULTIPLIER = 4;
const MSIX_PBA = 0x800;
const MSIX_BAR_SIZE = 0x1000;

/** 4.1.2.1: the transitional PCI device id of the device types that have one. */
const TRANSITIONAL_IDS: ReadonlyMap<number, number> = new Map([
  [VIRTIO_ID_NET, 0x1000],
  [VIRTIO_ID_BLOCK, 0x1001],
  [VIRTIO_ID_BALLOON, 0x1002],
  [VIRTIO_ID_CONSOLE, 0x1003],
  [VIRTIO_ID_SCSI, 0x1004],
  [VIRTIO_ID_RNG, 0x1005],
  [VIRTIO_ID_9P, 0x1009],
]);

/** Options of a {@link PciFunction}. */
export interface PciFunctionOptions {
  /**
   * Present a transitional device (legacy I/O BAR0, transitional device id
   * when the type has one, revision 0). Default false: modern only.
   */
  readonly transitional?: boolean;
  /** Where refused accesses are logged (default `console.warn`). */
  readonly log?: TransportLog;
  /** A name for log lines. */
  readonly name?: string;
}

/** Driver-side access to a PCI function: config space, BARs and interrupts (INTx or MSI-X). */
export interface PciBus extends InterruptSource {
  /** Read PCI configuration space. */
  configRead(offset: number, width: ConfigWidth): number;
  /** Write PCI configuration space. */
  configWrite(offset: number, width: ConfigWidth, value: number): void;
  /** Read `width` bytes at `offset` in BAR `bar`. */
  barRead(bar: number, offset: number, width: ConfigWidth): number;
  /** Write `width` bytes at `offset` in BAR `bar`. */
  barWrite(bar: number, offset: number, width: ConfigWidth, value: number): void;
}

const CC = VirtioPciCommonCfg.OFFSETS;
/** Read-only fields of the common configuration (4.1.4.3: the rest are read-write). */
const COMMON_READ_ONLY = new Set([
  "device_feature",
  "num_queues",
  "config_generation",
  "queue_notify_off",
  "queue_notif_config_data",
  "admin_queue_index",
  "admin_queue_num",
]);

interface CommonField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly readOnly: boolean;
}

/** The common configuration fields by offset, sized from the generated offsets table. */
const COMMON_FIELDS: readonly CommonField[] = (() => {
  const entries = Object.entries(CC).sort((a, b) => a[1] - b[1]);
  return entries.map(([camel, offset], i) => {
    const name = camel.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    return {
      name,
      offset,
      size: (entries[i + 1]?.[1] ?? VirtioPciCommonCfg.SIZE) - offset,
      readOnly: COMMON_READ_ONLY.has(name),
    };
  });
})();

/** The common configuration field covering each byte offset (an array lookup per access). */
const COMMON_AT: readonly (CommonField | undefined)[] = (() => {
  const at: (CommonField | undefined)[] = new Array(VirtioPciCommonCfg.SIZE).fill(undefined);
  for (const f of COMMON_FIELDS) at.fill(f, f.offset, f.offset + f.size);
  return at;
})();

const LEGACY_REGS = VirtioPciLegacy.REGISTERS;
type LegacyReg = (typeof LEGACY_REGS)[number];
/** The legacy header register starting at each byte offset. */
const LEGACY_AT: readonly (LegacyReg | undefined)[] = (() => {
  const at: (LegacyReg | undefined)[] = [];
  for (const r of LEGACY_REGS) at[r.offset] = r;
  return at;
})();

const lo = (v: number): number => v % 0x1_0000_0000;
const hi = (v: number): number => Math.floor(v / 0x1_0000_0000);

/**
 * The device side of virtio over PCI: one PCI function hosting one
 * {@link VirtioDevice}. Accesses breaking spec 4.1 rules are logged and
 * ignored; nothing throws into the caller.
 */
export class PciFunction implements PciBus {
  /** The shared device state. */
  readonly core: DeviceCore;
  /** Transitional (legacy I/O header present) or modern only. */
  readonly transitional: boolean;
  /** PCI configuration space (256 bytes). */
  readonly config: DataView = new DataView(new ArrayBuffer(256));
  /** ISR status byte (cleared on read). */
  isr = 0;
  /** The MSI-X table: per vector address (lo, hi), data, control. */
  readonly msixTable: DataView;
  /** Pending bits of masked vectors. */
  readonly msixPending: Set<number> = new Set();
  readonly #barSizes: number[] = [0, 0, 0, 0, 0, 0];
  readonly #barFlags: number[] = [0, 0, 0, 0, 0, 0];
  #irq: ((vector: number) => void) | undefined;

  /** Host `device` over `memory` as a PCI function. */
  constructor(device: VirtioDevice, memory: GuestMemory, options: PciFunctionOptions = {}) {
    this.transitional = options.transitional ?? false;
    this.core = new DeviceCore(
      device,
      memory,
      { used: (i) => this.#used(i), config: () => this.#configChange() },
      options.log ?? defaultLog,
      options.name ?? `virtio-pci ${this.transitional ? "transitional" : "modern"}`,
    );
    const vectors = device.queueMaxSizes.length + 1;
    this.msixTable = new DataView(new ArrayBuffer(vectors * 16));
    for (let v = 0; v < vectors; v++) this.msixTable.setUint32(v * 16 + 12, 1, true); // masked
    this.#buildConfig(vectors);
  }

  #buildConfig(vectors: number): void {
    const c = this.config;
    const dev = this.core.device;
    const transitionalId = TRANSITIONAL_IDS.get(dev.deviceId);
    const pciId = this.transitional && transitionalId !== undefined
      ? transitionalId
      : VIRTIO_PCI_DEVICE_ID_BASE + dev.deviceId;
    c.setUint16(PCI_VENDOR_ID, VIRTIO_PCI_VENDOR_ID, true);
    c.setUint16(PCI_DEVICE_ID, pciId, true);
    c.setUint16(PCI_STATUS, PCI_STATUS_CAP_LIST, true);
    // 4.1.2.2: modern devices have revision >= 1; transitional ones revision 0.
    c.setUint8(PCI_REVISION_ID, this.transitional ? 0 : 1);
    c.setUint8(PCI_CLASS_PROG + 2, 0xff); // class "unassigned"; device types may refine
    c.setUint8(PCI_HEADER_TYPE, 0);
    c.setUint16(PCI_SUBSYSTEM_VENDOR_ID, dev.vendorId ?? VIRTIO_VENDOR_ID, true);
    // 4.1.2.1: a transitional device reports the virtio device id as subsystem id.
    c.setUint16(PCI_SUBSYSTEM_ID, this.transitional ? dev.deviceId : 0x40, true);
    c.setUint8(PCI_INTERRUPT_PIN, 1);
    c.setUint8(PCI_CAPABILITY_LIST, CAP_MSIX);
    // BARs
    if (this.transitional) {
      const need = VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX + dev.configSize;
      this.#barSizes[BAR_LEGACY] = Math.max(32, 2 ** Math.ceil(Math.log2(need)));
      this.#barFlags[BAR_LEGACY] = 0x1; // I/O space
    }
    this.#barSizes[BAR_MSIX] = MSIX_BAR_SIZE;
    this.#barSizes[BAR_MODERN] = MODERN_BAR_SIZE;
    this.#barFlags[BAR_MODERN] = 0x4; // 64-bit memory
    for (let b = 0; b < 6; b++) c.setUint32(PCI_BAR0 + 4 * b, this.#barFlags[b], true);
    // MSI-X capability
    c.setUint8(CAP_MSIX, PCI_CAP_ID_MSIX);
    c.setUint8(CAP_MSIX + 1, CAP_COMMON);
    c.setUint16(CAP_MSIX + 2, vectors - 1, true);
    c.setUint32(CAP_MSIX + 4, 0 | BAR_MSIX, true);
    c.setUint32(CAP_MSIX + 8, MSIX_PBA | BAR_MSIX, true);
    // virtio capabilities
    const cap = new VirtioPciCap(c);
    const vcap = (at: number, next: number, type: number, off: number, len: number, size = 16) => {
      cap.at(at);
      cap.capVndr = PCI_CAP_ID_VNDR;
      cap.capNext = next;
      cap.capLen = size;
      cap.cfgType = type;
      cap.bar = BAR_MODERN;
      cap.barOffset = off;
      cap.length = len;
    };
    vcap(CAP_COMMON, CAP_NOTIFY, VIRTIO_PCI_CAP_COMMON_CFG, MODERN_COMMON, VirtioPciCommonCfg.SIZE);
    vcap(
      CAP_NOTIFY,
      CAP_ISR,
      VIRTIO_PCI_CAP_NOTIFY_CFG,
      MODERN_NOTIFY,
      NOTIFY_MULTIPLIER * dev.queueMaxSizes.length,
      20,
    );
    new VirtioPciNotifyCap(c, CAP_NOTIFY).notifyOffMultiplier = NOTIFY_MULTIPLIER;
    vcap(CAP_ISR, CAP_DEVICE, VIRTIO_PCI_CAP_ISR_CFG, MODERN_ISR, 1);
    vcap(CAP_DEVICE, CAP_PCI_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, MODERN_DEVICE, dev.configSize);
    vcap(CAP_PCI_CFG, 0, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20);
  }

  /** The hosted device model. */
  get device(): VirtioDevice {
    return this.core.device;
  }

  /** Connect interrupts: `handler(vector)` for MSI-X messages, `handler(-1)` for INTx. */
  connect(handler: (vector: number) => void): void {
    this.#irq = guardInterrupts(handler, this.core.log, this.core.where);
  }

  get #msixEnabled(): boolean {
    return (this.config.getUint16(CAP_MSIX + 2, true) & MSIX_ENABLE) !== 0;
  }

  #used(index: number): void {
    if (this.#msixEnabled) {
      return this.#msix(this.core.queues[index]?.vector ?? VIRTIO_MSI_NO_VECTOR);
    }
    this.#intx(VIRTIO_PCI_ISR_QUEUE);
  }

  #configChange(): void {
    if (this.#msixEnabled) {
      this.isr |= VIRTIO_PCI_ISR_CONFIG; // 4.1.5.3: set even with MSI-X
      return this.#msix(this.core.configVector);
    }
    this.#intx(VIRTIO_PCI_ISR_CONFIG);
  }

  #intx(bit: number): void {
    this.isr |= bit;
    const c = this.config;
    c.setUint16(PCI_STATUS, c.getUint16(PCI_STATUS, true) | PCI_STATUS_INTERRUPT, true);
    if (c.getUint16(PCI_COMMAND, true) & PCI_COMMAND_INTX_DISABLE) return;
    this.#irq?.(-1);
  }

  #msix(vector: number): void {
    if (vector === VIRTIO_MSI_NO_VECTOR || vector * 16 >= this.msixTable.byteLength) return;
    const masked = (this.config.getUint16(CAP_MSIX + 2, true) & MSIX_MASKALL) !== 0 ||
      (this.msixTable.getUint32(vector * 16 + 12, true) & 1) !== 0;
    if (masked) {
      this.msixPending.add(vector);
      return;
    }
    this.#irq?.(vector);
  }

  // ---- PCI configuration space ----

  /** Read PCI configuration space. */
  configRead(offset: number, width: ConfigWidth): number {
    if (offset < 0 || offset + width > 256 || offset % width) {
      this.core.refuse(`pci config+0x${offset.toString(16)}`, undefined, `bad ${width}-byte read`);
      return 0xffffffff >>> (32 - 8 * width);
    }
    if (offset >= CAP_PCI_CFG + VirtioPciCfgCap.OFFSETS.pciCfgData && offset < CAP_PCI_CFG + 20) {
      return this.#pciCfgAccess(undefined);
    }
    return readLE(this.config, offset, width);
  }

  /** Write PCI configuration space: command, BARs, MSI-X control, the PCI cfg window. */
  configWrite(offset: number, width: ConfigWidth, value: number): void {
    const where = `pci config+0x${offset.toString(16)}`;
    if (offset < 0 || offset + width > 256 || offset % width) {
      return this.core.refuse(where, value, `bad ${width}-byte write`);
    }
    const c = this.config;
    if (offset === PCI_COMMAND && width >= 2) {
      return c.setUint16(PCI_COMMAND, value & 0x0507, true);
    }
    if (offset >= PCI_BAR0 && offset < PCI_BAR0 + 24 && width === 4) {
      const b = (offset - PCI_BAR0) / 4;
      const size = this.#barSizes[b];
      if (size === 0) {
        // The upper half of the 64-bit BAR4: full address bits.
        if (b === BAR_MODERN + 1) return c.setUint32(offset, value >>> 0, true);
        return;
      }
      const mask = (~(size - 1) >>> 0) & (this.#barFlags[b] & 1 ? 0xfffffffc : 0xfffffff0);
      return c.setUint32(offset, ((value & mask) | this.#barFlags[b]) >>> 0, true);
    }
    // PCI 3.0 6.2.4: Interrupt Line is read-write scratch for the firmware's routing.
    if (offset === PCI_INTERRUPT_LINE && width === 1) return c.setUint8(offset, value);
    if (offset === CAP_MSIX + 2 && width === 2) {
      const old = c.getUint16(offset, true);
      c.setUint16(offset, (old & 0x07ff) | (value & (MSIX_ENABLE | MSIX_MASKALL)), true);
      this.#deliverPending();
      return;
    }
    const cfg = CAP_PCI_CFG;
    const cfgCap = VirtioPciCap.OFFSETS;
    if (offset === cfg + cfgCap.bar && width === 1) return c.setUint8(offset, value);
    if ((offset === cfg + cfgCap.barOffset || offset === cfg + cfgCap.length) && width === 4) {
      return c.setUint32(offset, value >>> 0, true);
    }
    if (offset >= cfg + VirtioPciCfgCap.OFFSETS.pciCfgData && offset < cfg + 20) {
      this.#pciCfgAccess(value);
      return;
    }
    this.core.refuse(where, value, "write to a read-only PCI config register");
  }

  /** 4.1.4.9: the window through the VIRTIO_PCI_CAP_PCI_CFG capability. */
  #pciCfgAccess(value: number | undefined): number {
    const cap = new VirtioPciCap(this.config, CAP_PCI_CFG);
    const len = cap.length;
    if (len !== 1 && len !== 2 && len !== 4) {
      this.core.refuse("pci_cfg_data", value, `cap.length ${len} is not 1, 2 or 4`);
      return 0;
    }
    if (value === undefined) return this.barRead(cap.bar, cap.barOffset, len);
    this.barWrite(cap.bar, cap.barOffset, len, value);
    return 0;
  }

  // ---- BARs ----

  #barEnabled(bar: number, op: string, offset: number, value?: number): boolean {
    const cmd = this.config.getUint16(PCI_COMMAND, true);
    const io = bar === BAR_LEGACY && this.transitional;
    const size = this.#barSizes[bar] ?? 0;
    if (size === 0) {
      this.core.refuse(`BAR${bar}+0x${offset.toString(16)}`, value, `${op} of an absent BAR`);
      return false;
    }
    if (!(cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))) {
      this.core.refuse(
        `BAR${bar}+0x${offset.toString(16)}`,
        value,
        `${op} with ${io ? "I/O" : "memory"} space disabled in the command register`,
      );
      return false;
    }
    return offset >= 0 && offset < size;
  }

  /** Read BAR `bar`. */
  barRead(bar: number, offset: number, width: ConfigWidth): number {
    if (!this.#barEnabled(bar, "read", offset)) return 0xffffffff >>> (32 - 8 * width);
    if (bar === BAR_LEGACY) return this.#legacyRead(offset, width);
    if (bar === BAR_MSIX) return this.#msixRead(offset, width);
    if (offset < MODERN_ISR) return this.#commonRead(offset - MODERN_COMMON, width);
    if (offset < MODERN_DEVICE) {
      if (offset !== MODERN_ISR || width !== 1) {
        this.core.refuse("ISR status", undefined, `${width}-byte read (8-bit register)`);
        return 0;
      }
      return this.#readIsr();
    }
    if (offset < MODERN_NOTIFY) {
      return this.#configRead(offset - MODERN_DEVICE, width, "device cfg");
    }
    this.core.refuse("notify", undefined, "read of the notify region");
    return 0;
  }

  /** Write BAR `bar`. */
  barWrite(bar: number, offset: number, width: ConfigWidth, value: number): void {
    value >>>= 0;
    if (!this.#barEnabled(bar, "write", offset, value)) return;
    if (bar === BAR_LEGACY) return this.#legacyWrite(offset, width, value);
    if (bar === BAR_MSIX) return this.#msixWrite(offset, width, value);
    if (offset < MODERN_ISR) return this.#commonWrite(offset - MODERN_COMMON, width, value);
    if (offset < MODERN_DEVICE) return this.core.refuse("ISR status", value, "read-only");
    if (offset < MODERN_NOTIFY) {
      return this.#configWrite(offset - MODERN_DEVICE, width, value, "device cfg");
    }
    const rel = offset - MODERN_NOTIFY;
    if (rel % NOTIFY_MULTIPLIER || (width !== 2 && width !== 4)) {
      return this.core.refuse("notify", value, `bad ${width}-byte write at +${rel}`);
    }
    // queue_notify_off is the queue index, so the address tells the queue (4.1.5.2).
    const index = rel / NOTIFY_MULTIPLIER;
    if ((value & 0xffff) !== index) {
      return this.core.refuse("notify", value, `value is not the queue index ${index}`);
    }
    this.core.notify(index);
  }

  #readIsr(): number {
    // 4.1.4.5: reading ISR status clears it and de-asserts INTx.
    const v = this.isr;
    this.isr = 0;
    const c = this.config;
    c.setUint16(PCI_STATUS, c.getUint16(PCI_STATUS, true) & ~PCI_STATUS_INTERRUPT, true);
    return v;
  }

  #configRead(offset: number, width: ConfigWidth, where: string): number {
    const size = this.core.device.configSize;
    if (offset % width || offset + width > size) {
      this.core.refuse(`${where}+0x${offset.toString(16)}`, undefined, `bad ${width}-byte read`);
      return 0;
    }
    try {
      return this.core.device.readConfig(offset, width);
    } catch (e) {
      this.core.needsReset(e);
      return 0;
    }
  }

  #configWrite(offset: number, width: ConfigWidth, value: number, where: string): void {
    const size = this.core.device.configSize;
    if (offset % width || offset + width > size) {
      return this.core.refuse(
        `${where}+0x${offset.toString(16)}`,
        value,
        `bad ${width}-byte write`,
      );
    }
    try {
      this.core.device.writeConfig(offset, width, value);
    } catch (e) {
      this.core.needsReset(e);
    }
  }

  // ---- common configuration (4.1.4.3) ----

  #commonField(
    offset: number,
    width: number,
    op: string,
    value?: number,
  ): CommonField | undefined {
    const f = offset >= 0 ? COMMON_AT[offset] : undefined;
    if (f === undefined) {
      this.core.refuse(`common cfg+0x${offset.toString(16)}`, value, `${op} of no field`);
      return undefined;
    }
    // 4.1.3.1: natural width; 64-bit fields as two 32-bit halves.
    const part = offset - f.offset;
    const ok = f.size === 8 ? width === 4 && part % 4 === 0 : width === f.size && part === 0;
    if (!ok) {
      this.core.refuse(f.name, value, `${width}-byte ${op} of a ${f.size}-byte field`);
      return undefined;
    }
    this.core.legacy = false;
    return f;
  }

  #commonRead(offset: number, width: ConfigWidth): number {
    const f = this.#commonField(offset, width, "read");
    if (f === undefined) return 0;
    const part = offset - f.offset;
    const core = this.core;
    const q = core.queues[core.queueSel];
    switch (f.name) {
      case "device_feature_select":
        return core.deviceFeaturesSel;
      case "device_feature":
        return core.deviceFeatureWord(core.deviceFeaturesSel);
      case "driver_feature_select":
        return core.driverFeaturesSel;
      case "driver_feature":
        return Number((core.driverFeatures >> BigInt(32 * core.driverFeaturesSel)) & 0xffffffffn);
      case "config_msix_vector":
        return core.configVector;
      case "num_queues":
        return core.queues.length;
      case "device_status":
        return core.status;
      case "config_generation":
        return core.device.configGeneration & 0xff;
      case "queue_select":
        return core.queueSel;
      case "queue_size":
        return q?.size ?? 0; // 0 for an unavailable queue
      case "queue_msix_vector":
        return q?.vector ?? VIRTIO_MSI_NO_VECTOR;
      case "queue_enable":
        return q?.ready ? 1 : 0;
      case "queue_notify_off":
        return core.queueSel;
      case "queue_desc":
      case "queue_driver":
      case "queue_device": {
        const which = f.name === "queue_desc"
          ? "desc"
          : f.name === "queue_driver"
          ? "driver"
          : "device";
        const v = q?.[which] ?? 0;
        return part === 0 ? lo(v) : hi(v);
      }
      case "queue_reset":
        return 0;
      default:
        return 0;
    }
  }

  #commonWrite(offset: number, width: ConfigWidth, value: number): void {
    const f = this.#commonField(offset, width, "write", value);
    if (f === undefined) return;
    const part = offset - f.offset;
    if (f.readOnly) return this.core.refuse(f.name, value, "write to a read-only field (4.1.4.3)");
    const core = this.core;
    switch (f.name) {
      case "device_feature_select":
        core.deviceFeaturesSel = value;
        return;
      case "driver_feature_select":
        core.driverFeaturesSel = value;
        return;
      case "driver_feature":
        return core.writeDriverFeatures(f.name, core.driverFeaturesSel, value);
      case "config_msix_vector":
        core.configVector = this.#vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      case "device_status":
        core.writeStatus(f.name, value);
        if (value === 0) {
          this.isr = 0;
          this.msixPending.clear();
        }
        return;
      case "queue_select":
        core.queueSel = value;
        return;
      case "queue_size":
        return core.setQueueSize(f.name, value);
      case "queue_msix_vector": {
        const q = core.selected(f.name, value);
        // 4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR.
        if (q) q.vector = this.#vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      }
      case "queue_enable":
        if (value !== 1) return core.refuse(f.name, value, "only 1 may be written (4.1.4.3.2)");
        return core.setQueueReady(f.name, value);
      case "queue_desc":
      case "queue_driver":
      case "queue_device": {
        const q = core.selected(f.name, value);
        if (q === undefined || !core.queueWritable(f.name, q, value)) return;
        const which = f.name === "queue_desc"
          ? "desc"
          : f.name === "queue_driver"
          ? "driver"
          : "device";
        const old = q[which];
        const next = part === 0 ? hi(old) * 0x1_0000_0000 + value : value * 0x1_0000_0000 + lo(old);
        if (next > Number.MAX_SAFE_INTEGER) {
          return core.refuse(f.name, value, "address above 2^53 is not supported");
        }
        q[which] = next;
        return;
      }
      case "queue_reset":
        if (!core.ringResetNegotiated) {
          return core.refuse(f.name, value, "VIRTIO_F_RING_RESET not negotiated");
        }
        if (value !== 1) return core.refuse(f.name, value, "only 1 may be written");
        if (core.selected(f.name, value)) core.disableQueue(core.queueSel);
        return;
    }
  }

  #vectorOk(v: number): boolean {
    return v !== VIRTIO_MSI_NO_VECTOR && v * 16 < this.msixTable.byteLength;
  }

  // ---- MSI-X table ----

  #msixRead(offset: number, width: ConfigWidth): number {
    if (width !== 4 || offset % 4) {
      this.core.refuse("MSI-X", undefined, `${width}-byte read (32-bit only)`);
      return 0;
    }
    if (offset >= MSIX_PBA) {
      let bits = 0;
      for (const v of this.msixPending) {
        if (v >> 5 === (offset - MSIX_PBA) >> 2) bits |= 1 << (v & 31);
      }
      return bits >>> 0;
    }
    if (offset >= this.msixTable.byteLength) return 0;
    return this.msixTable.getUint32(offset, true);
  }

  #msixWrite(offset: number, width: ConfigWidth, value: number): void {
    if (width !== 4 || offset % 4 || offset >= this.msixTable.byteLength) {
      return this.core.refuse(
        "MSI-X",
        value,
        `bad ${width}-byte write at 0x${offset.toString(16)}`,
      );
    }
    this.msixTable.setUint32(offset, value, true);
    if (offset % 16 === 12) this.#deliverPending();
  }

  #deliverPending(): void {
    for (const v of [...this.msixPending]) {
      this.msixPending.delete(v);
      this.#msix(v);
    }
  }

  // ---- legacy I/O header (4.1.4.10), transitional devices ----

  #legacyConfigOffset(): number {
    return this.#msixEnabled ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX : VIRTIO_PCI_LEGACY_CONFIG_OFF;
  }

  #legacyReg(offset: number, width: number, op: string, value?: number) {
    const r = offset >= 0 ? LEGACY_AT[offset] : undefined;
    if (r === undefined || width !== r.size) {
      this.core.refuse(`legacy+0x${offset.toString(16)}`, value, `bad ${width}-byte ${op}`);
      return undefined;
    }
    this.core.legacy = true;
    return r;
  }

  #legacyRead(offset: number, width: ConfigWidth): number {
    const cfg = this.#legacyConfigOffset();
    if (offset >= cfg) return this.#configRead(offset - cfg, width, "legacy config");
    const r = this.#legacyReg(offset, width, "read");
    if (r === undefined) return 0;
    const core = this.core;
    const q = core.queues[core.queueSel];
    switch (r.name) {
      case "device_feature":
        return core.deviceFeatureWord(0);
      case "driver_feature":
        return Number(core.driverFeatures & 0xffffffffn);
      case "queue_address":
        return q?.pfn ?? 0;
      case "queue_size":
        return q?.max ?? 0;
      case "queue_select":
        return core.queueSel;
      case "device_status":
        return core.status;
      case "isr_status":
        return this.#readIsr();
      case "config_msix_vector":
        return core.configVector;
      case "queue_msix_vector":
        return q?.vector ?? VIRTIO_MSI_NO_VECTOR;
      default:
        return 0;
    }
  }

  #legacyWrite(offset: number, width: ConfigWidth, value: number): void {
    const cfg = this.#legacyConfigOffset();
    if (offset >= cfg) return this.#configWrite(offset - cfg, width, value, "legacy config");
    const r = this.#legacyReg(offset, width, "write", value);
    if (r === undefined) return;
    if (r.access === "r") return this.core.refuse(r.name, value, "write to a read-only register");
    const core = this.core;
    switch (r.name) {
      case "driver_feature":
        return core.writeDriverFeatures(r.name, 0, value);
      case "queue_address":
        core.pageSize = 1 << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        core.queueAlign = VIRTIO_PCI_VRING_ALIGN;
        return core.setQueuePfn(r.name, value);
      case "queue_select":
        core.queueSel = value;
        return;
      case "queue_notify":
        return core.notify(value);
      case "device_status":
        core.writeStatus(r.name, value);
        if (value === 0) this.isr = 0;
        return;
      case "config_msix_vector":
        core.configVector = this.#vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      case "queue_msix_vector": {
        const q = core.selected(r.name, value);
        if (q) q.vector = this.#vectorOk(value) ? value : VIRTIO_MSI_NO_VECTOR;
        return;
      }
    }
  }
}

function readLE(v: DataView, offset: number, width: ConfigWidth): number {
  return width === 1
    ? v.getUint8(offset)
    : width === 2
    ? v.getUint16(offset, true)
    : v.getUint32(offset, true);
}

/** Options of {@link probePci}. */
export interface PciProbeOptions {
  /** Use the legacy I/O header even when modern capabilities exist (Linux `force_legacy`). */
  readonly forceLegacy?: boolean;
  /** Use MSI-X when the function has it (default true); false uses INTx and the ISR. */
  readonly msix?: boolean;
}

interface ModernCaps {
  common: { bar: number; offset: number };
  notify: { bar: number; offset: number; multiplier: number };
  isr: { bar: number; offset: number };
  device?: { bar: number; offset: number; length: number };
}

/**
 * Probe a PCI function: vendor 0x1af4 and a device id in 0x1000..0x107f;
 * then the modern capabilities (4.1.4), or, for a transitional device
 * without them (or with `forceLegacy`), the legacy I/O header. Returns the
 * driver-side transport or `undefined` when the function is not virtio.
 */
export function probePci(bus: PciBus, options: PciProbeOptions = {}): PciTransport | undefined {
  if (bus.configRead(PCI_VENDOR_ID, 2) !== VIRTIO_PCI_VENDOR_ID) return undefined;
  const pciId = bus.configRead(PCI_DEVICE_ID, 2);
  if (pciId < VIRTIO_PCI_DEVICE_ID_MIN || pciId > VIRTIO_PCI_DEVICE_ID_MAX) return undefined;
  const transitional = pciId <= VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX;
  const caps = options.forceLegacy ? undefined : findModernCaps(bus);
  if (caps !== undefined) {
    const deviceId = transitional
      ? bus.configRead(PCI_SUBSYSTEM_ID, 2)
      : pciId - VIRTIO_PCI_DEVICE_ID_BASE;
    return new PciTransport(bus, deviceId, caps, options.msix ?? true);
  }
  if (!transitional) return undefined; // 4.1.4.1: a modern device without caps is unusable
  return new PciTransport(
    bus,
    bus.configRead(PCI_SUBSYSTEM_ID, 2),
    undefined,
    options.msix ?? true,
  );
}

function findModernCaps(bus: PciBus): ModernCaps | undefined {
  if (!(bus.configRead(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return undefined;
  const found: Partial<ModernCaps> = {};
  const C = VirtioPciCap.OFFSETS;
  const seen = new Set<number>();
  for (let at = bus.configRead(PCI_CAPABILITY_LIST, 1) & 0xfc; at !== 0 && !seen.has(at);) {
    seen.add(at);
    if (bus.configRead(at + C.capVndr, 1) === PCI_CAP_ID_VNDR) {
      const type = bus.configRead(at + C.cfgType, 1);
      const bar = bus.configRead(at + C.bar, 1);
      const offset = bus.configRead(at + C.barOffset, 4);
      const length = bus.configRead(at + C.length, 4);
      // 4.1.4.1: the first capability of each type is the one to use.
      if (bar <= 5) {
        if (type === VIRTIO_PCI_CAP_COMMON_CFG) found.common ??= { bar, offset };
        if (type === VIRTIO_PCI_CAP_ISR_CFG) found.isr ??= { bar, offset };
        if (type === VIRTIO_PCI_CAP_DEVICE_CFG) found.device ??= { bar, offset, length };
        if (type === VIRTIO_PCI_CAP_NOTIFY_CFG) {
          found.notify ??= {
            bar,
            offset,
            multiplier: bus.configRead(at + VirtioPciNotifyCap.OFFSETS.notifyOffMultiplier, 4),
          };
        }
      }
    }
    at = bus.configRead(at + C.capNext, 1) & 0xfc;
  }
  if (!found.common || !found.notify || !found.isr) return undefined;
  return found as ModernCaps;
}

const L = VirtioPciLegacy.OFFSETS;

/** The driver side of virtio over PCI: modern capabilities or the legacy I/O header. */
export class PciTransport implements Transport {
  /** The PCI function. */
  readonly bus: PciBus;
  /** The virtio device id. */
  readonly deviceId: number;
  /** The subsystem vendor id. */
  readonly vendorId: number;
  /** Driven through the legacy I/O header. */
  readonly legacy: boolean;
  /** 4096 for legacy, 0 for modern. */
  readonly legacyQueueAlign: number;
  /** A name for logs. */
  readonly name: string;
  /** MSI-X in use (one vector for config, one per queue). */
  readonly msix: boolean;
  /** The legacy header has no way to choose a queue size. */
  readonly queueSizeFixed: boolean;
  readonly #caps: ModernCaps | undefined;
  #handlers: InterruptHandlers | undefined;
  /** The queue each MSI-X vector serves, indexed by vector (undefined: none). */
  #vectorQueue: number[] = [];
  /** Modern: BAR and offset of the common configuration. */
  readonly #commonBar: number;
  readonly #commonOff: number;
  /** Where to write each queue's notification (BAR offset), learned at its first kick. */
  #notifyAddr: number[] = [];

  /** Wrap a probed function; prefer {@link probePci}. */
  constructor(bus: PciBus, deviceId: number, caps: ModernCaps | undefined, msix: boolean) {
    this.bus = bus;
    this.deviceId = deviceId;
    this.vendorId = bus.configRead(PCI_SUBSYSTEM_VENDOR_ID, 2);
    this.#caps = caps;
    this.#commonBar = caps?.common.bar ?? 0;
    this.#commonOff = caps?.common.offset ?? 0;
    this.legacy = caps === undefined;
    this.queueSizeFixed = this.legacy;
    this.legacyQueueAlign = this.legacy ? VIRTIO_PCI_VRING_ALIGN : 0;
    this.name = `virtio-pci ${this.legacy ? "legacy" : "modern"}`;
    const cmd = bus.configRead(PCI_COMMAND, 2);
    bus.configWrite(
      PCI_COMMAND,
      2,
      cmd | (this.legacy ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY) | PCI_COMMAND_MEMORY,
    );
    this.msix = msix && this.#enableMsix();
    bus.connect((v) => this.handleInterrupt(v));
  }

  #msixCap(): number {
    const seen = new Set<number>();
    for (let at = this.bus.configRead(PCI_CAPABILITY_LIST, 1) & 0xfc; at && !seen.has(at);) {
      seen.add(at);
      if (this.bus.configRead(at, 1) === PCI_CAP_ID_MSIX) return at;
      at = this.bus.configRead(at + 1, 1) & 0xfc;
    }
    return 0;
  }

  #enableMsix(): boolean {
    const at = this.#msixCap();
    if (at === 0) return false;
    const b = this.bus;
    const n = (b.configRead(at + 2, 2) & 0x7ff) + 1;
    const table = b.configRead(at + 4, 4);
    const bar = table & 7;
    const off = table & ~7;
    for (let v = 0; v < n; v++) {
      b.barWrite(bar, off + 16 * v, 4, 0xfee00000); // message address (any value works here)
      b.barWrite(bar, off + 16 * v + 8, 4, v);
      b.barWrite(bar, off + 16 * v + 12, 4, 0); // unmask
    }
    b.configWrite(at + 2, 2, MSIX_ENABLE);
    return true;
  }

  #r(field: keyof typeof CC, w: ConfigWidth): number {
    return this.bus.barRead(this.#commonBar, this.#commonOff + CC[field], w);
  }
  #w(field: keyof typeof CC, w: ConfigWidth, v: number): void {
    this.bus.barWrite(this.#commonBar, this.#commonOff + CC[field], w, v);
  }
  #lr(off: number, w: ConfigWidth): number {
    return this.bus.barRead(BAR_LEGACY, off, w);
  }
  #lw(off: number, w: ConfigWidth, v: number): void {
    this.bus.barWrite(BAR_LEGACY, off, w, v);
  }

  /** Read the device status. */
  getStatus(): number {
    return this.legacy ? this.#lr(L.deviceStatus, 1) : this.#r("deviceStatus", 1);
  }

  /** Write the device status. */
  setStatus(status: number): void {
    if (this.legacy) this.#lw(L.deviceStatus, 1, status);
    else this.#w("deviceStatus", 1, status);
  }

  /** Reset and wait for status 0. */
  reset(): void {
    this.setStatus(0);
    for (let i = 0; this.getStatus() !== 0; i++) {
      if (i > 1000) throw new TransportError(`${this.name}: device did not reset`);
    }
    this.#vectorQueue = [];
    if (this.msix) {
      // Vector 0 carries configuration changes; a reset unmapped it.
      if (this.legacy) this.#lw(L.configMsixVector, 2, 0);
      else this.#w("configMsixVector", 2, 0);
    }
  }

  /** Offered features. */
  getDeviceFeatures(): bigint {
    if (this.legacy) return BigInt(this.#lr(L.deviceFeature, 4) >>> 0);
    let f = 0n;
    for (let sel = 0; sel < 2; sel++) {
      this.#w("deviceFeatureSelect", 4, sel);
      f |= BigInt(this.#r("deviceFeature", 4) >>> 0) << BigInt(32 * sel);
    }
    return f;
  }

  /** Write accepted features. */
  setDriverFeatures(features: bigint): void {
    if (this.legacy) return this.#lw(L.driverFeature, 4, Number(features & 0xffffffffn));
    for (let sel = 0; sel < 2; sel++) {
      this.#w("driverFeatureSelect", 4, sel);
      this.#w("driverFeature", 4, Number((features >> BigInt(32 * sel)) & 0xffffffffn));
    }
  }

  /** config_generation (0 for legacy). */
  configGeneration(): number {
    return this.legacy ? 0 : this.#r("configGeneration", 1);
  }

  #cfgBar(): number {
    if (this.legacy) return BAR_LEGACY;
    const d = this.#caps?.device;
    if (d === undefined) throw new TransportError(`${this.name}: device has no device config`);
    return d.bar;
  }

  #cfgOff(offset: number): number {
    if (this.legacy) {
      return (this.msix ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX : VIRTIO_PCI_LEGACY_CONFIG_OFF) +
        offset;
    }
    return (this.#caps as ModernCaps & { device: { offset: number } }).device.offset + offset;
  }

  /** Read device config. */
  readConfig(offset: number, width: ConfigWidth): number {
    const bar = this.#cfgBar();
    return this.bus.barRead(bar, this.#cfgOff(offset), width);
  }

  /** Write device config. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    const bar = this.#cfgBar();
    this.bus.barWrite(bar, this.#cfgOff(offset), width, value);
  }

  /** num_queues (modern) or queues with a non-zero size (legacy). */
  numQueues(): number {
    if (!this.legacy) return this.#r("numQueues", 2);
    let n = 0;
    while (n < 1024 && this.queueMaxSize(n)) n++;
    return n;
  }

  /** Maximum size of queue `index`. */
  queueMaxSize(index: number): number {
    if (this.legacy) {
      this.#lw(L.queueSelect, 2, index);
      return this.#lr(L.queueSize, 2);
    }
    if (index >= this.#r("numQueues", 2)) return 0;
    this.#w("queueSelect", 2, index);
    return this.#r("queueSize", 2);
  }

  #vector(index: number, set: (v: number) => void, get: () => number): void {
    if (!this.msix) return;
    const v = index + 1;
    set(v);
    if (get() !== v) throw new TransportError(`${this.name}: device refused MSI-X vector ${v}`);
    this.#vectorQueue[v] = index;
  }

  /** Set up queue `index` (4.1.5.1.3, or 4.1.5.1.3.1 for legacy). */
  setupQueue(index: number, size: number, addrs: QueueRingAddresses): void {
    if (this.legacy) {
      this.#lw(L.queueSelect, 2, index);
      if (this.#lr(L.queueAddress, 4) !== 0) {
        throw new TransportError(`${this.name}: queue ${index} is already in use`);
      }
      if (size !== this.#lr(L.queueSize, 2) || addrs.desc % VIRTIO_PCI_VRING_ALIGN) {
        throw new TransportError(`${this.name}: legacy queue ${index} must have the device's size`);
      }
      this.#vector(
        index,
        (v) => this.#lw(L.queueMsixVector, 2, v),
        () => this.#lr(L.queueMsixVector, 2),
      );
      this.#lw(L.queueAddress, 4, addrs.desc / VIRTIO_PCI_VRING_ALIGN);
      if (this.#lr(L.queueAddress, 4) === 0) {
        throw new TransportError(`${this.name}: device refused queue ${index}`);
      }
      return;
    }
    this.#w("queueSelect", 2, index);
    if (this.#r("queueEnable", 2)) throw new TransportError(`${this.name}: queue ${index} in use`);
    this.#w("queueSize", 2, size);
    if (this.#r("queueSize", 2) !== size) {
      throw new TransportError(`${this.name}: device refused size ${size} for queue ${index}`);
    }
    this.#vector(
      index,
      (v) => this.#w("queueMsixVector", 2, v),
      () => this.#r("queueMsixVector", 2),
    );
    const bar = this.#commonBar;
    const base = this.#commonOff + CC.queueDesc;
    const set64 = (off: number, v: number) => {
      this.bus.barWrite(bar, off, 4, lo(v));
      this.bus.barWrite(bar, off + 4, 4, hi(v));
    };
    set64(base, addrs.desc);
    set64(base - CC.queueDesc + CC.queueDriver, addrs.driver);
    set64(base - CC.queueDesc + CC.queueDevice, addrs.device);
    this.#w("queueEnable", 2, 1);
    if (this.#r("queueEnable", 2) !== 1) {
      throw new TransportError(`${this.name}: device refused queue ${index}`);
    }
  }

  /** Modern PCI cannot disable one queue without VIRTIO_F_RING_RESET; legacy writes address 0. */
  disableQueue(index: number): void {
    if (this.legacy) {
      this.#lw(L.queueSelect, 2, index);
      this.#lw(L.queueAddress, 4, 0);
    }
  }

  /** Notify queue `index`. */
  notify(index: number): void {
    if (this.legacy) return this.#lw(L.queueNotify, 2, index);
    const caps = this.#caps as ModernCaps;
    // queue_notify_off is read at setup in Linux; ours equals the index, read it anyway once.
    const addr = this.#notifyAddr[index] ?? this.#learnNotifyAddr(index);
    this.bus.barWrite(caps.notify.bar, addr, 2, index);
  }

  #learnNotifyAddr(index: number): number {
    const n = (this.#caps as ModernCaps).notify;
    this.#w("queueSelect", 2, index);
    const addr = n.offset + this.#r("queueNotifyOff", 2) * n.multiplier;
    this.#notifyAddr[index] = addr;
    return addr;
  }

  /** Route interrupts. */
  setInterruptHandlers(handlers: InterruptHandlers | undefined): void {
    this.#handlers = handlers;
  }

  /** Interrupt entry: an MSI-X vector, or -1 for INTx (then read the ISR, which clears it). */
  handleInterrupt(vector: number): void {
    const h = this.#handlers;
    if (vector >= 0) {
      if (vector === 0) {
        h?.config();
        return;
      }
      const q = this.#vectorQueue[vector];
      // A vector no queue was given (a stray message): check every queue.
      h?.vring(q);
      return;
    }
    const caps = this.#caps;
    const isr = this.legacy
      ? this.#lr(L.isrStatus, 1)
      : this.bus.barRead((caps as ModernCaps).isr.bar, (caps as ModernCaps).isr.offset, 1);
    if (isr & VIRTIO_PCI_ISR_CONFIG) h?.config();
    if (isr & VIRTIO_PCI_ISR_QUEUE) h?.vring(undefined);
  }

  /** Nothing to release. */
  close(): void {
    this.#handlers = undefined;
  }
}

export type { DeviceCore, InterruptSink, QueueRegs, TransportLog } from "./_core.ts";
