/**
 * The device side of virtio over PCI (spec 4.1): {@link PciFunction}, a PCI
 * function hosting any {@link VirtioDevice}, modern or transitional. The
 * driver side is in `driver.ts`.
 *
 * Layout of the function (the same as QEMU's, so dumps look familiar):
 * - config space: vendor 0x1af4, device id 0x1040 + id (modern) or the
 *   transitional id (0x1000..0x103f), subsystem ids, a capability list at
 *   0x40: MSI-X, then the virtio capabilities common, notify, ISR, device
 *   (only for a device with device config: Linux refuses one of length 0)
 *   and PCI cfg access.
 * - BAR0 (transitional only): the legacy I/O header (4.1.4.10, in
 *   `_legacy_header.ts`) then config.
 * - BAR1: MSI-X table (one vector per queue, plus one for config) and PBA.
 * - BAR4/5 (64-bit memory): common cfg at 0x0 (`_common_cfg.ts`), ISR at
 *   0x1000, device cfg at 0x2000, notify at 0x3000 (multiplier 4,
 *   `queue_notify_off` = index).
 *
 * Offsets inside the virtio structures come from the generated accessors of
 * `schema/pci.ts` (`VirtioPciCommonCfg.OFFSETS`, `VirtioPciLegacy.REGISTERS`,
 * `VirtioPciCap.OFFSETS`...).
 *
 * @module
 */

import type { ConfigWidth, VirtioDevice } from "../../device.ts";
import type { GuestMemory } from "../../memory.ts";
import { ArgumentError } from "../../errors.ts";
import { accessOk, checkAccess, checkWrite, truncate } from "../_access.ts";
import { flagNames, hex } from "../_state_dump.ts";
import {
  PCI_CAP_ID_VNDR,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_PCI_CFG,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_ISR_CONFIG,
  VIRTIO_PCI_ISR_QUEUE,
  VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX,
  VIRTIO_PCI_VENDOR_ID,
  VirtioPciCap,
  VirtioPciCfgCap,
  VirtioPciCommonCfg,
  VirtioPciIsr,
  VirtioPciNotifyCap,
} from "../../generated/pci.ts";
import {
  VIRTIO_ID_9P,
  VIRTIO_ID_BALLOON,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_NET,
  VIRTIO_ID_RNG,
  VIRTIO_ID_SCSI,
} from "../../generated/common.ts";
import {
  defaultLog,
  guardInterrupts,
  TransportDeviceState,
  type TransportLog,
  VIRTIO_VENDOR_ID,
} from "../device_state.ts";
import {
  LEGACY_BAR as BAR_LEGACY,
  MSIX_ENABLE,
  MSIX_MASKALL,
  PCI_BAR0,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./_pci_header.ts";
import { CommonCfg } from "./_common_cfg.ts";
import { LegacyHeader } from "./_legacy_header.ts";
import { type AdminMember, AdminServer } from "./_admin.ts";
import type { PciBus } from "./driver.ts";

/** Where things sit in this function (see the module doc). */
const CAP_MSIX = 0x40;
const CAP_COMMON = 0x50;
const CAP_NOTIFY = 0x60;
const CAP_ISR = 0x78;
const CAP_DEVICE = 0x88;
const CAP_PCI_CFG = 0x98;
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
  /**
   * Make this function the owner of an SR-IOV device group (spec 2.12,
   * group type 1) whose members ("VFs") are these functions, member id
   * i + 1 being `groupMembers[i]`: the function offers VIRTIO_F_ADMIN_VQ
   * and serves one administration virtqueue after the device's queues, with
   * the legacy-interface commands (2.12.1.2) routed to each member's legacy
   * interface. At most 512 members. Default: no group.
   */
  readonly groupMembers?: readonly PciFunction[];
}

/** Each function's legacy interface, for the owner of its group (module-private). */
const LEGACY_OF: WeakMap<PciFunction, LegacyHeader> = new WeakMap();
/** Members' legacy notification registers in the owner's notify BAR (LEGACY_NOTIFY_INFO). */
const MEMBER_NOTIFY = 0x800;
const MAX_MEMBERS = (MODERN_BAR_SIZE - MODERN_NOTIFY - MEMBER_NOTIFY) / NOTIFY_MULTIPLIER;

/**
 * The device side of virtio over PCI: one PCI function hosting one
 * {@link VirtioDevice}. Accesses breaking spec 4.1 rules are logged and
 * ignored; nothing throws into the caller.
 */
export class PciFunction implements PciBus {
  /** The shared device state. */
  readonly core: TransportDeviceState;
  /** Transitional (legacy I/O header present) or modern only. */
  readonly transitional: boolean;
  /** PCI configuration space (256 bytes). */
  readonly config: DataView = new DataView(new ArrayBuffer(256));
  /** ISR status byte (cleared on read). */
  get isr(): number {
    return this.#isr;
  }
  #isr = 0;
  /** The MSI-X table: per vector address (lo, hi), data, control. */
  readonly msixTable: DataView;
  /** Pending bits of masked vectors. */
  readonly msixPending: Set<number> = new Set();
  readonly #barSizes: number[] = [0, 0, 0, 0, 0, 0];
  readonly #barFlags: number[] = [0, 0, 0, 0, 0, 0];
  #irq: ((vector: number) => void) | undefined;
  readonly #common: CommonCfg;
  readonly #legacy: LegacyHeader;
  readonly #members: readonly PciFunction[];

  /** Host `device` over `memory` as a PCI function. */
  constructor(device: VirtioDevice, memory: GuestMemory, options: PciFunctionOptions = {}) {
    this.transitional = options.transitional ?? false;
    this.#members = [...(options.groupMembers ?? [])];
    const admin = this.#members.length > 0 ? this.#adminServer() : undefined;
    this.core = new TransportDeviceState(
      device,
      memory,
      {
        used: (i) => this.#used(i),
        config: () => this.#configChange(),
        describe: () => this.#describeInterrupts(),
      },
      options.log ?? defaultLog,
      options.name ?? `virtio-pci ${this.transitional ? "transitional" : "modern"}`,
      admin ? [admin] : [],
    );
    const vectors = this.core.queues.length + 1;
    this.msixTable = new DataView(new ArrayBuffer(vectors * 16));
    for (let v = 0; v < vectors; v++) this.msixTable.setUint32(v * 16 + 12, 1, true); // masked
    this.#buildConfig(vectors);
    const vectorOk = (v: number) => this.#vectorOk(v);
    this.#common = new CommonCfg({
      core: this.core,
      vectorOk,
      clearInterrupts: () => {
        this.#isr = 0;
        this.msixPending.clear();
      },
    });
    this.#legacy = new LegacyHeader({
      core: this.core,
      msixEnabled: () => this.#msixEnabled,
      vectorOk,
      readIsr: () => this.#readIsr(),
      clearIsr: () => void (this.#isr = 0),
      deviceConfigRead: (o, w, where) => this.#configRead(o, w, where),
      deviceConfigWrite: (o, w, v, where) => this.#configWrite(o, w, v, where),
    });
    LEGACY_OF.set(this, this.#legacy);
  }

  #adminServer(): AdminServer {
    const members = this.#members;
    if (members.length > MAX_MEMBERS) {
      throw new ArgumentError(
        `virtio-pci: ${members.length} group members, at most ${MAX_MEMBERS}`,
        { code: "ERR_VIRTIO_ARGUMENT_GROUP_MEMBERS" },
      );
    }
    const adminMembers: AdminMember[] = members.map((m, i) => {
      const legacy = LEGACY_OF.get(m);
      if (!(m instanceof PciFunction) || legacy === undefined || members.indexOf(m) !== i) {
        throw new ArgumentError(
          `virtio-pci: group member ${i + 1} is not a distinct PciFunction`,
          { code: "ERR_VIRTIO_ARGUMENT_GROUP_MEMBERS" },
        );
      }
      return {
        legacy,
        get configSize() {
          return m.device.configSize;
        },
      };
    });
    return new AdminServer(
      adminMembers,
      {
        bar: BAR_MODERN,
        offset: (id) => MODERN_NOTIFY + MEMBER_NOTIFY + NOTIFY_MULTIPLIER * (id - 1),
      },
      (ctx) => this.core.isLive(ctx),
    );
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
      NOTIFY_MULTIPLIER * this.core.queues.length,
      20,
    );
    new VirtioPciNotifyCap(c, CAP_NOTIFY).notifyOffMultiplier = NOTIFY_MULTIPLIER;
    // 4.1.4.6: the device config capability is for device types that have a
    // device-specific configuration. One of length 0 (virtio-rng) is worse than
    // none: Linux's vp_modern_map_capability refuses a length <= start ("bad
    // capability len 0"), and virtio_pci's probe of the whole function fails.
    const hasDeviceCfg = dev.configSize > 0;
    vcap(CAP_ISR, hasDeviceCfg ? CAP_DEVICE : CAP_PCI_CFG, VIRTIO_PCI_CAP_ISR_CFG, MODERN_ISR, 1);
    if (hasDeviceCfg) {
      vcap(CAP_DEVICE, CAP_PCI_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, MODERN_DEVICE, dev.configSize);
    }
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
      this.#isr |= VIRTIO_PCI_ISR_CONFIG; // 4.1.5.3: set even with MSI-X
      return this.#msix(this.core.configVector);
    }
    this.#intx(VIRTIO_PCI_ISR_CONFIG);
  }

  /** The interrupt state for `core.describe()`: ISR, INTx, MSI-X vectors. Reads only. */
  #describeInterrupts(): string {
    const c = this.config;
    const isr = this.#isr;
    const status = c.getUint16(PCI_STATUS, true);
    const command = c.getUint16(PCI_COMMAND, true);
    const intx = `INTx ${status & PCI_STATUS_INTERRUPT ? "asserted" : "not asserted"} ` +
      `(PCI status), ${command & PCI_COMMAND_INTX_DISABLE ? "disabled" : "enabled"} (PCI command)`;
    const head = `ISR ${hex(isr)} (${flagNames(isr, VirtioPciIsr, "VIRTIO_PCI_ISR_")}); ${intx}`;
    if (!this.#msixEnabled) return `${head}; MSI-X disabled`;
    const control = c.getUint16(CAP_MSIX + 2, true);
    const vector = (what: string, v: number): string => {
      if (v === VIRTIO_MSI_NO_VECTOR) return `${what} no vector`;
      if (v * 16 >= this.msixTable.byteLength) return `${what} vector ${v} (not in the table)`;
      const masked = (this.msixTable.getUint32(v * 16 + 12, true) & 1) !== 0;
      const pending = this.msixPending.has(v) ? " pending" : "";
      return `${what} vector ${v} ${masked ? "masked" : "unmasked"}${pending}`;
    };
    const vectors = [
      vector("config", this.core.configVector),
      ...this.core.queues.map((q, i) => vector(`queue ${i}`, q.vector)),
    ];
    const fnMask = control & MSIX_MASKALL ? "function masked" : "function mask off";
    return `${head}; MSI-X enabled (${fnMask}): ${vectors.join(", ")}`;
  }

  #intx(bit: number): void {
    this.#isr |= bit;
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
    if (!accessOk(offset, width)) checkAccess(`${this.core.where} configRead`, offset, width);
    if (offset + width > 256 || offset % width) {
      this.core.refuse(
        `pci config+0x${offset.toString(16)}`,
        undefined,
        `bad ${width}-byte read`,
        "bad PCI config space accesses",
      );
      return 0xffffffff >>> (32 - 8 * width);
    }
    if (offset >= CAP_PCI_CFG + VirtioPciCfgCap.OFFSETS.pciCfgData && offset < CAP_PCI_CFG + 20) {
      return this.#pciCfgAccess(undefined);
    }
    return readLE(this.config, offset, width);
  }

  /** Write PCI configuration space: command, BARs, MSI-X control, the PCI cfg window. */
  configWrite(offset: number, width: ConfigWidth, value: number): void {
    if (!accessOk(offset, width) || typeof value !== "number") {
      checkWrite(`${this.core.where} configWrite`, offset, width, value);
    }
    value = truncate(value, width);
    const where = `pci config+0x${offset.toString(16)}`;
    if (offset + width > 256 || offset % width) {
      return this.core.refuse(
        where,
        value,
        `bad ${width}-byte write`,
        "bad PCI config space accesses",
      );
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
      this.core.refuse(
        "pci_cfg_data",
        value,
        `cap.length ${len} is not 1, 2 or 4`,
        "pci_cfg_data accesses through a bad window",
      );
      return 0;
    }
    if (cap.bar > 5) {
      this.core.refuse(
        "pci_cfg_data",
        value,
        `cap.bar ${cap.bar} is not a BAR (0 to 5)`,
        "pci_cfg_data accesses through a bad window",
      );
      return 0;
    }
    if (value === undefined) return this.barRead(cap.bar, cap.barOffset, len);
    this.barWrite(cap.bar, cap.barOffset, len, value);
    return 0;
  }

  // ---- BARs ----

  /** The size of BAR `bar` in bytes (0 when the function has no such BAR). */
  barSize(bar: number): number {
    return this.#barSizes[bar] ?? 0;
  }

  #barEnabled(bar: number, op: string, offset: number, width: number, value?: number): boolean {
    if (!(bar >= 0 && bar <= 5 && bar % 1 === 0)) {
      throw new ArgumentError(`${this.core.where}: BAR ${String(bar)} is not 0 to 5`, {
        code: "ERR_VIRTIO_ARGUMENT_BAR",
      });
    }
    if (!accessOk(offset, width) || (value !== undefined && typeof value !== "number")) {
      checkWrite(
        `${this.core.where} ${op === "read" ? "barRead" : "barWrite"}`,
        offset,
        width,
        value ?? 0,
      );
    }
    const cmd = this.config.getUint16(PCI_COMMAND, true);
    const io = bar === BAR_LEGACY && this.transitional;
    const size = this.#barSizes[bar];
    if (size === 0) {
      this.core.refuse(
        `BAR${bar}+0x${offset.toString(16)}`,
        value,
        `${op} of an absent BAR`,
        `accesses of the absent BAR${bar}`,
      );
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
    if (offset + width > size) {
      this.core.refuse(
        `BAR${bar}+0x${offset.toString(16)}`,
        value,
        `${width}-byte ${op} past the ${size}-byte BAR`,
        `accesses past the end of BAR${bar}`,
      );
      return false;
    }
    return true;
  }

  /** Read BAR `bar`. */
  barRead(bar: number, offset: number, width: ConfigWidth): number {
    if (!this.#barEnabled(bar, "read", offset, width)) return 0xffffffff >>> (32 - 8 * width);
    if (bar === BAR_LEGACY) return this.#legacy.read(offset, width);
    if (bar === BAR_MSIX) return this.#msixRead(offset, width);
    if (offset < MODERN_ISR) return this.#common.read(offset - MODERN_COMMON, width);
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
    if (!this.#barEnabled(bar, "write", offset, width, value)) return;
    value = truncate(value, width);
    if (bar === BAR_LEGACY) return this.#legacy.write(offset, width, value);
    if (bar === BAR_MSIX) return this.#msixWrite(offset, width, value);
    if (offset < MODERN_ISR) return this.#common.write(offset - MODERN_COMMON, width, value);
    if (offset < MODERN_DEVICE) return this.core.refuse("ISR status", value, "read-only");
    if (offset < MODERN_NOTIFY) {
      return this.#configWrite(offset - MODERN_DEVICE, width, value, "device cfg");
    }
    const rel = offset - MODERN_NOTIFY;
    if (rel >= MEMBER_NOTIFY) return this.#memberNotify(rel - MEMBER_NOTIFY, width, value);
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

  /** 2.12.1.2: a member's legacy notification through the owner (LEGACY_NOTIFY_INFO). */
  #memberNotify(rel: number, width: ConfigWidth, value: number): void {
    const member = rel % NOTIFY_MULTIPLIER === 0 && width === 2
      ? this.#members[rel / NOTIFY_MULTIPLIER]
      : undefined;
    if (member === undefined) {
      return this.core.refuse("member notify", value, `bad ${width}-byte write at +${rel}`);
    }
    member.core.notify(value);
  }

  #readIsr(): number {
    // 4.1.4.5: reading ISR status clears it and de-asserts INTx.
    const v = this.#isr;
    this.#isr = 0;
    const c = this.config;
    c.setUint16(PCI_STATUS, c.getUint16(PCI_STATUS, true) & ~PCI_STATUS_INTERRUPT, true);
    return v;
  }

  #configRead(offset: number, width: ConfigWidth, where: string): number {
    const size = this.core.device.configSize;
    if (offset % width || offset + width > size) {
      this.core.refuse(
        `${where}+0x${offset.toString(16)}`,
        undefined,
        `bad ${width}-byte read of the ${size}-byte config`,
        `unaligned or out-of-range ${where} accesses`,
      );
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
        `bad ${width}-byte write of the ${size}-byte config`,
        `unaligned or out-of-range ${where} accesses`,
      );
    }
    try {
      this.core.device.writeConfig(offset, width, value);
    } catch (e) {
      this.core.needsReset(e);
    }
  }

  #vectorOk(v: number): boolean {
    return v !== VIRTIO_MSI_NO_VECTOR && v * 16 < this.msixTable.byteLength;
  }

  // ---- MSI-X table ----

  #msixRead(offset: number, width: ConfigWidth): number {
    if (width !== 4 || offset % 4) {
      this.core.refuse(
        "MSI-X",
        undefined,
        `${width}-byte read (32-bit only)`,
        "bad MSI-X accesses",
      );
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
        "bad MSI-X accesses",
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
}

function readLE(v: DataView, offset: number, width: ConfigWidth): number {
  return width === 1
    ? v.getUint8(offset)
    : width === 2
    ? v.getUint16(offset, true)
    : v.getUint32(offset, true);
}
