/**
 * The driver side of virtio over PCI (spec 4.1): {@link probePci} finds the
 * modern capabilities of a function (4.1.4), or the legacy I/O header of a
 * transitional one, and returns a {@link PciTransport}, the
 * {@link Transport} the bus and drivers use. The device side is in
 * `device.ts`.
 *
 * @module
 */

import { checkNeedsReset } from "../_driver_checks.ts";
import type { ConfigWidth } from "../../device.ts";
import { ArgumentError, TransportError } from "../../errors.ts";
import { checkConfigRange } from "../_access.ts";
import {
  PCI_CAP_ID_VNDR,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_DEVICE_ID_MAX,
  VIRTIO_PCI_DEVICE_ID_MIN,
  VIRTIO_PCI_ISR_CONFIG,
  VIRTIO_PCI_ISR_QUEUE,
  VIRTIO_PCI_LEGACY_CONFIG_OFF,
  VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX,
  VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX,
  VIRTIO_PCI_VENDOR_ID,
  VIRTIO_PCI_VRING_ALIGN,
  VirtioPciCap,
  VirtioPciCommonCfg,
  VirtioPciLegacy,
  VirtioPciNotifyCap,
} from "../../generated/pci.ts";
import { high32 as hi, low32 as lo } from "../_address.ts";
import {
  LEGACY_BAR as BAR_LEGACY,
  MSIX_ENABLE,
  MSIX_MASKALL,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./_pci_header.ts";
import type {
  InterruptHandlers,
  InterruptSource,
  QueueRingAddresses,
  Transport,
} from "../transport.ts";

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
  /** The size of BAR `bar` in bytes, when the bus can tell (the legacy config's bound). */
  barSize?(bar: number): number;
}

const CC = VirtioPciCommonCfg.OFFSETS;

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
/** The vector queues share when they cannot have their own (Linux's `VP_MSIX_VQ_VECTOR`). */
const SHARED_VECTOR = 1;
/** In `#vectorQueue`: a vector more than one queue uses. */
const SHARED = -1;

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
  /** The legacy header has no way to choose a queue size. */
  readonly queueSizeFixed: boolean;
  readonly #caps: ModernCaps | undefined;
  #handlers: InterruptHandlers | undefined;
  #msix = false;
  /** Entries of the MSI-X table (its Table Size + 1), while MSI-X is in use. */
  #msixVectors = 0;
  #configSize: number | undefined;
  /**
   * The queue each MSI-X vector serves, indexed by vector: undefined for none,
   * {@link SHARED} for a vector more than one queue uses.
   */
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
    this.#msix = this.#takeOver(msix);
    this.#configSize = configBound(bus, caps, this.#msix);
    bus.connect((v) => this.handleInterrupt(v));
  }

  /**
   * MSI-X in use: vector 0 for configuration changes, vector `1 + i` for
   * queue `i` while the table has one, vector 1 shared by the queues past it
   * or refused theirs. False for INTx, from the start (no usable MSI-X, or
   * `msix: false`) or after the device refused the vectors (as Linux's
   * `vp_find_vqs` falls back: per-queue vectors, a shared vector, INTx).
   */
  get msix(): boolean {
    return this.#msix;
  }

  /**
   * Bytes of device config: the device config capability's length (modern),
   * or what BAR0 holds past the legacy header when the bus tells BAR sizes
   * (it moves by 4 bytes when MSI-X is turned off).
   */
  get configSize(): number | undefined {
    return this.#configSize;
  }

  /**
   * Enable the function for this driver, whatever state a previous driver
   * left it in (as Linux's `pci_enable_device` and `pci_intx`/`pci_msix_*`
   * do): the I/O or memory decode on; then either MSI-X enabled, unmasked,
   * with INTx disabled, or, when MSI-X is not used, MSI-X enable and
   * function mask cleared and PCI_COMMAND_INTX_DISABLE cleared, since with
   * either left set an INTx driver would wait forever for its interrupt.
   * Both are read back. Returns whether MSI-X is in use.
   */
  #takeOver(wantMsix: boolean): boolean {
    const b = this.bus;
    b.configWrite(PCI_COMMAND, 2, b.configRead(PCI_COMMAND, 2) | this.#decode);
    const msix = wantMsix && this.#enableMsix();
    if (!msix && !this.#disableMsix()) {
      throw new TransportError(`${this.name}: MSI-X stays enabled after it was cleared`, {
        code: "ERR_VIRTIO_TRANSPORT_PCI_MSIX",
      });
    }
    this.#setIntx(!msix);
    return msix;
  }

  /** The command register's decode bits this driver needs (the MSI-X table is in memory). */
  get #decode(): number {
    return (this.legacy ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY) | PCI_COMMAND_MEMORY;
  }

  /** INTx on (PCI_COMMAND_INTX_DISABLE clear) or off, read back with the decode bits. */
  #setIntx(on: boolean): void {
    const b = this.bus;
    const cmd = b.configRead(PCI_COMMAND, 2);
    const want = on ? cmd & ~PCI_COMMAND_INTX_DISABLE : cmd | PCI_COMMAND_INTX_DISABLE;
    b.configWrite(PCI_COMMAND, 2, want);
    const got = b.configRead(PCI_COMMAND, 2);
    if ((got & this.#decode) !== this.#decode || (on && got & PCI_COMMAND_INTX_DISABLE)) {
      throw new TransportError(
        `${this.name}: the command register reads 0x${got.toString(16)} after writing ` +
          `0x${want.toString(16)} (decode or INTx not enabled)`,
        { code: "ERR_VIRTIO_TRANSPORT_PCI_COMMAND" },
      );
    }
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

  /**
   * Turn MSI-X on with every vector unmasked; false (MSI-X not used) when the
   * function has no MSI-X capability, a table of one entry (4.1.5.1.2: a
   * driver MAY use INTx then; Linux does, it wants one vector for
   * configuration changes and one for the queues), a table in no BAR
   * (indicator 6 or 7) or past its BAR's end, or a control word that does
   * not read back enabled and unmasked (messages would never come).
   */
  #enableMsix(): boolean {
    const at = this.#msixCap();
    if (at === 0) return false;
    const b = this.bus;
    const n = (b.configRead(at + 2, 2) & 0x7ff) + 1;
    const table = b.configRead(at + 4, 4);
    const bar = table & 7;
    const off = (table & ~7) >>> 0;
    const size = bar <= 5 ? b.barSize?.(bar) : 0;
    if (n < 2 || bar > 5 || (size !== undefined && off + 16 * n > size)) return false;
    for (let v = 0; v < n; v++) {
      b.barWrite(bar, off + 16 * v, 4, 0xfee00000); // message address (any value works here)
      b.barWrite(bar, off + 16 * v + 8, 4, v);
      b.barWrite(bar, off + 16 * v + 12, 4, 0); // unmask
    }
    b.configWrite(at + 2, 2, MSIX_ENABLE);
    if ((b.configRead(at + 2, 2) & (MSIX_ENABLE | MSIX_MASKALL)) !== MSIX_ENABLE) return false;
    this.#msixVectors = n;
    return true;
  }

  /** Clear MSI-X enable and function mask; false when the enable bit stays set. */
  #disableMsix(): boolean {
    const at = this.#msixCap();
    if (at === 0) return true;
    const b = this.bus;
    const ctl = b.configRead(at + 2, 2);
    if (ctl & (MSIX_ENABLE | MSIX_MASKALL)) {
      b.configWrite(at + 2, 2, ctl & ~(MSIX_ENABLE | MSIX_MASKALL));
    }
    return (b.configRead(at + 2, 2) & MSIX_ENABLE) === 0;
  }

  /**
   * The device refused an MSI-X vector it must have: INTx and the ISR from
   * now on, for every queue (with MSI-X off the device ignores the vectors,
   * 4.1.5.4; a legacy device's config moves back to offset 20). A function
   * whose MSI-X cannot be turned off has no interrupt left to give:
   * `ERR_VIRTIO_TRANSPORT_MSIX_VECTOR`.
   */
  #fallBackToIntx(refused: string): void {
    if (!this.#disableMsix()) {
      throw new TransportError(
        `${this.name}: device refused ${refused}, and MSI-X stays enabled after it was ` +
          `cleared, so INTx cannot take over`,
        { code: "ERR_VIRTIO_TRANSPORT_MSIX_VECTOR" },
      );
    }
    this.#msix = false;
    this.#msixVectors = 0;
    this.#vectorQueue = [];
    this.#configSize = configBound(this.bus, this.#caps, false);
    this.#setIntx(true);
  }

  /** 4.1.5.1.2: map an event to vector `v` and read it back (NO_VECTOR: refused). */
  static #map(v: number, set: (v: number) => void, get: () => number): boolean {
    set(v);
    return get() === v;
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
      if (i > 1000) {
        throw new TransportError(`${this.name}: device did not reset (status never read 0)`, {
          code: "ERR_VIRTIO_TRANSPORT_RESET_TIMEOUT",
        });
      }
    }
    this.#vectorQueue = [];
    if (!this.#msix) return;
    // Vector 0 carries configuration changes; a reset unmapped it (4.1.5.1.2).
    const mapped = this.legacy
      ? PciTransport.#map(
        0,
        (v) => this.#lw(L.configMsixVector, 2, v),
        () => this.#lr(L.configMsixVector, 2),
      )
      : PciTransport.#map(
        0,
        (v) => this.#w("configMsixVector", 2, v),
        () => this.#r("configMsixVector", 2),
      );
    if (!mapped) this.#fallBackToIntx("MSI-X vector 0 for configuration changes");
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
    if (d === undefined) {
      throw new TransportError(`${this.name}: device has no device config capability`, {
        code: "ERR_VIRTIO_TRANSPORT_NO_DEVICE_CONFIG",
      });
    }
    return d.bar;
  }

  #cfgOff(offset: number): number {
    if (this.legacy) {
      return (this.#msix ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX : VIRTIO_PCI_LEGACY_CONFIG_OFF) +
        offset;
    }
    return (this.#caps as ModernCaps & { device: { offset: number } }).device.offset + offset;
  }

  /** Read device config; an access past {@link configSize} throws `ArgumentError`. */
  readConfig(offset: number, width: ConfigWidth): number {
    checkConfigRange(`${this.name} readConfig`, offset, width, this.configSize);
    const bar = this.#cfgBar();
    return this.bus.barRead(bar, this.#cfgOff(offset), width);
  }

  /** Write device config; an access past {@link configSize} throws `ArgumentError`. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    checkConfigRange(`${this.name} writeConfig`, offset, width, this.configSize);
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
    if (index >= this.#r("numQueues", 2)) {
      // 4.1.4.3: the administration queues follow the device's queues.
      const admin = this.adminQueues();
      if (index < admin.index || index >= admin.index + admin.num) return 0;
    }
    this.#w("queueSelect", 2, index);
    return this.#r("queueSize", 2);
  }

  /**
   * The administration virtqueues (4.1.4.3 `admin_queue_index`,
   * `admin_queue_num`): valid once VIRTIO_F_ADMIN_VQ was negotiated;
   * `num` 0 for a legacy interface (which has none).
   */
  adminQueues(): { index: number; num: number } {
    if (this.legacy) return { index: 0, num: 0 };
    return { index: this.#r("adminQueueIndex", 2), num: this.#r("adminQueueNum", 2) };
  }

  /**
   * Map queue `index`'s used-buffer notifications to an MSI-X vector: its
   * own (`1 + index`) when the table has that entry (4.1.5.1.2: a driver
   * MUST NOT map past Table Size), else, or when the device refuses it,
   * vector 1 shared with the other queues (whose interrupts then check every
   * queue), and when that is refused too, INTx for the whole function.
   */
  #vector(index: number, set: (v: number) => void, get: () => number): void {
    if (!this.#msix) return;
    const own = index + 1;
    if (own < this.#msixVectors && PciTransport.#map(own, set, get)) {
      return this.#assign(own, index);
    }
    if (own !== SHARED_VECTOR && PciTransport.#map(SHARED_VECTOR, set, get)) {
      return this.#assign(SHARED_VECTOR, index);
    }
    this.#fallBackToIntx(`an MSI-X vector for queue ${index}`);
  }

  #assign(vector: number, index: number): void {
    const was = this.#vectorQueue[vector];
    this.#vectorQueue[vector] = was === undefined || was === index ? index : SHARED;
  }

  /**
   * Set up queue `index` (4.1.5.1.3, or 4.1.5.1.3.1 for legacy). A refusal
   * the driver can see (the size or enable not reading back, a queue in
   * use, DEVICE_NEEDS_RESET) is a `TransportError`.
   */
  setupQueue(index: number, size: number, addrs: QueueRingAddresses): void {
    if (!Number.isSafeInteger(index) || index < 0 || index > 0xffff) {
      throw new ArgumentError(`${this.name}: queue index ${String(index)} is out of range`, {
        code: "ERR_VIRTIO_ARGUMENT_QUEUE_INDEX",
      });
    }
    if (this.queueMaxSize(index) === 0) {
      throw new TransportError(`${this.name}: queue ${index} does not exist`, {
        code: "ERR_VIRTIO_TRANSPORT_QUEUE_MISSING",
      });
    }
    if (this.legacy) {
      this.#lw(L.queueSelect, 2, index);
      if (this.#lr(L.queueAddress, 4) !== 0) {
        throw this.#inUse(index);
      }
      if (size !== this.#lr(L.queueSize, 2) || addrs.desc % VIRTIO_PCI_VRING_ALIGN) {
        throw new TransportError(
          `${this.name}: legacy queue ${index} must have the device's size and a ` +
            `${VIRTIO_PCI_VRING_ALIGN}-byte aligned address`,
          { code: "ERR_VIRTIO_TRANSPORT_QUEUE_SIZE" },
        );
      }
      this.#vector(
        index,
        (v) => this.#lw(L.queueMsixVector, 2, v),
        () => this.#lr(L.queueMsixVector, 2),
      );
      this.#lw(L.queueAddress, 4, addrs.desc / VIRTIO_PCI_VRING_ALIGN);
      if (this.#lr(L.queueAddress, 4) === 0) {
        throw this.#refused(index, "queue_address read back 0");
      }
      checkNeedsReset(this.name, this.getStatus(), index);
      return;
    }
    this.#w("queueSelect", 2, index);
    if (this.#r("queueEnable", 2)) throw this.#inUse(index);
    this.#w("queueSize", 2, size);
    if (this.#r("queueSize", 2) !== size) {
      throw new TransportError(`${this.name}: device refused size ${size} for queue ${index}`, {
        code: "ERR_VIRTIO_TRANSPORT_QUEUE_SIZE",
      });
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
      throw this.#refused(index, "queue_enable read back 0");
    }
    checkNeedsReset(this.name, this.getStatus(), index);
  }

  #inUse(index: number): TransportError {
    return new TransportError(`${this.name}: queue ${index} is already in use`, {
      code: "ERR_VIRTIO_TRANSPORT_QUEUE_IN_USE",
    });
  }

  #refused(index: number, how: string): TransportError {
    return new TransportError(`${this.name}: device refused queue ${index}: ${how}`, {
      code: "ERR_VIRTIO_TRANSPORT_QUEUE_REFUSED",
    });
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
      // A shared vector, or one no queue was given (a stray message): check every queue.
      h?.vring(q === SHARED ? undefined : q);
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

/**
 * Bytes of device config the driver may touch: the device config
 * capability's length (modern; undefined without the capability, which
 * `readConfig` reports), or, legacy, what BAR0 holds past the header when the
 * bus tells BAR sizes.
 */
function configBound(
  bus: PciBus,
  caps: ModernCaps | undefined,
  msix: boolean,
): number | undefined {
  if (caps !== undefined) return caps.device?.length;
  const size = bus.barSize?.(BAR_LEGACY);
  if (size === undefined) return undefined;
  // With MSI-X enabled the legacy config starts 4 bytes later (4.1.4.10).
  return Math.max(
    0,
    size - (msix ? VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX : VIRTIO_PCI_LEGACY_CONFIG_OFF),
  );
}
