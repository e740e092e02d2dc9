/**
 * The driver side of virtio over MMIO (spec 4.2): {@link probeMmio} checks a
 * register window the way 4.2.3.1 asks and returns an {@link MmioTransport},
 * the {@link Transport} the bus and drivers use. The device side is in
 * `device.ts`.
 *
 * @module
 */

import { checkNeedsReset } from "../_driver_checks.ts";
import type { ConfigWidth } from "../../device.ts";
import { ArgumentError, TransportError } from "../../errors.ts";
import { VIRTIO_F_RING_PACKED } from "../../generated/common.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VERSION_LEGACY,
  VIRTIO_MMIO_VERSION_MODERN,
  VirtioMmio,
  VirtioMmioLegacy,
} from "../../generated/mmio.ts";
import { high32 as hi, legacyRingLayout, low32 as lo } from "../_address.ts";
import { checkConfigRange } from "../_access.ts";
import type {
  InterruptHandlers,
  InterruptSource,
  QueueRingAddresses,
  RegisterBus,
  Transport,
} from "../transport.ts";

const O = VirtioMmio.OFFSETS;
const OL = VirtioMmioLegacy.OFFSETS;

/**
 * Probe an MMIO window the way spec 4.2.3.1 asks: MagicValue must be "virt",
 * Version 1 or 2, and DeviceID 0 means "no device here" (ignored silently,
 * no other register touched). Returns the driver-side transport or
 * `undefined`.
 */
export function probeMmio(bus: RegisterBus & Partial<InterruptSource>): MmioTransport | undefined {
  if (bus.read(O.magicValue, 4) !== VIRTIO_MMIO_MAGIC) return undefined;
  const version = bus.read(O.version, 4);
  if (version !== VIRTIO_MMIO_VERSION_LEGACY && version !== VIRTIO_MMIO_VERSION_MODERN) {
    return undefined;
  }
  const deviceId = bus.read(O.deviceID, 4);
  if (deviceId === 0) return undefined;
  return new MmioTransport(bus, version, deviceId);
}

/** Queues probed past the last one at most (MMIO has no queue count register). */
const MAX_QUEUES = 1024;

/** The driver side of virtio-mmio; build it with {@link probeMmio}. */
export class MmioTransport implements Transport {
  /** The register window. */
  readonly bus: RegisterBus;
  /** Register layout version read from the device (1 or 2). */
  readonly version: number;
  /** The virtio device id. */
  readonly deviceId: number;
  /** The subsystem vendor id. */
  readonly vendorId: number;
  /** True for version 1 (legacy) devices. */
  readonly legacy: boolean;
  /** Legacy: the QueueAlign this transport writes (and the GuestPageSize). */
  readonly legacyQueueAlign: number;
  /** MMIO lets the driver choose the size (QueueSize / QueueNum). */
  readonly queueSizeFixed: boolean = false;
  /** A name for logs. */
  readonly name: string;
  /**
   * Bytes of device config: the register window's size past 0x100 when the
   * bus tells it ({@link RegisterBus.size}), else undefined (not checked).
   */
  readonly configSize: number | undefined;
  #handlers: InterruptHandlers | undefined;
  /** The features this driver wrote (packed rings may have any size). */
  #features = 0n;

  /** Wrap a probed window; prefer {@link probeMmio}, which checks magic and version first. */
  constructor(bus: RegisterBus & Partial<InterruptSource>, version: number, deviceId: number) {
    this.bus = bus;
    this.version = version;
    this.deviceId = deviceId;
    this.vendorId = bus.read(O.vendorID, 4);
    this.legacy = version === VIRTIO_MMIO_VERSION_LEGACY;
    this.legacyQueueAlign = this.legacy ? 4096 : 0;
    this.name = `virtio-mmio v${version}`;
    this.configSize = bus.size === undefined
      ? undefined
      : Math.max(0, bus.size - VIRTIO_MMIO_CONFIG);
    if (this.legacy) bus.write(OL.guestPageSize, 4, 4096);
    bus.connect?.(() => this.handleInterrupt());
  }

  /** Read the device status. */
  getStatus(): number {
    return this.bus.read(O.status, 4);
  }

  /** Write the device status. */
  setStatus(status: number): void {
    this.bus.write(O.status, 4, status);
  }

  /** Reset: write 0 and wait until Status reads 0. */
  reset(): void {
    this.bus.write(O.status, 4, 0);
    for (let i = 0; this.bus.read(O.status, 4) !== 0; i++) {
      if (i > 1000) {
        throw new TransportError(`${this.name}: device did not reset (Status never read 0)`, {
          code: "ERR_VIRTIO_TRANSPORT_RESET_TIMEOUT",
        });
      }
    }
  }

  /** The offered features (64 bits on version 2, 32 on legacy). */
  getDeviceFeatures(): bigint {
    let f = 0n;
    const words = this.legacy ? 1 : 2;
    for (let sel = 0; sel < words; sel++) {
      this.bus.write(O.deviceFeaturesSel, 4, sel);
      f |= BigInt(this.bus.read(O.deviceFeatures, 4) >>> 0) << BigInt(32 * sel);
    }
    return f;
  }

  /** Write the accepted features. */
  setDriverFeatures(features: bigint): void {
    this.#features = features;
    const words = this.legacy ? 1 : 2;
    for (let sel = 0; sel < words; sel++) {
      this.bus.write(O.driverFeaturesSel, 4, sel);
      this.bus.write(O.driverFeatures, 4, Number((features >> BigInt(32 * sel)) & 0xffffffffn));
    }
  }

  /** ConfigGeneration (legacy devices have none: always 0). */
  configGeneration(): number {
    return this.legacy ? 0 : this.bus.read(O.configGeneration, 4);
  }

  /** Read device config; an access past {@link configSize} throws `ArgumentError`. */
  readConfig(offset: number, width: ConfigWidth): number {
    checkConfigRange(`${this.name} readConfig`, offset, width, this.configSize);
    return this.bus.read(VIRTIO_MMIO_CONFIG + offset, width);
  }

  /** Write device config; an access past {@link configSize} throws `ArgumentError`. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    checkConfigRange(`${this.name} writeConfig`, offset, width, this.configSize);
    this.bus.write(VIRTIO_MMIO_CONFIG + offset, width, value);
  }

  /** Count queues by probing QueueSizeMax until it reads 0. */
  numQueues(): number {
    let n = 0;
    while (n < MAX_QUEUES && this.queueMaxSize(n) !== 0) n++;
    return n;
  }

  /** QueueSizeMax of queue `index`. */
  queueMaxSize(index: number): number {
    this.bus.write(O.queueSel, 4, index);
    return this.bus.read(O.queueSizeMax, 4);
  }

  /**
   * The sequence of spec 4.2.3.2 (or 4.2.4 for legacy). Every refusal the
   * driver can see is a `TransportError`: a missing queue, a size the device
   * cannot take (0, above QueueNumMax, or not a power of 2 for a split ring:
   * QueueNum is write-only, so it is checked here, and the device also
   * refuses to enable a queue whose size it refused), QueueReady (QueuePFN)
   * not reading back, and a device that set DEVICE_NEEDS_RESET.
   */
  setupQueue(index: number, size: number, addrs: QueueRingAddresses): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_QUEUES) {
      throw new ArgumentError(`${this.name}: queue index ${String(index)} is out of range`, {
        code: "ERR_VIRTIO_ARGUMENT_QUEUE_INDEX",
      });
    }
    const b = this.bus;
    const max = this.queueMaxSize(index);
    if (max === 0) {
      throw new TransportError(`${this.name}: queue ${index} does not exist (QueueNumMax 0)`, {
        code: "ERR_VIRTIO_TRANSPORT_QUEUE_MISSING",
      });
    }
    const packed = !this.legacy && (this.#features >> BigInt(VIRTIO_F_RING_PACKED)) & 1n;
    if (
      !Number.isSafeInteger(size) || size < 1 || size > max ||
      (!packed && (size & (size - 1)) !== 0)
    ) {
      throw new TransportError(
        `${this.name}: queue ${index} size ${size} refused: QueueNumMax is ${max}` +
          (packed ? "" : " and a split ring's size is a power of 2 (2.7)"),
        { code: "ERR_VIRTIO_TRANSPORT_QUEUE_SIZE" },
      );
    }
    if (this.legacy) {
      if (b.read(OL.queuePFN, 4) !== 0) throw this.#inUse(index);
      const l = legacyRingLayout(addrs.desc, size, this.legacyQueueAlign);
      if (addrs.desc % 4096 || l.driver !== addrs.driver || l.device !== addrs.device) {
        throw new TransportError(
          `${this.name}: queue ${index} rings are not in the legacy contiguous layout`,
          { code: "ERR_VIRTIO_TRANSPORT_QUEUE_LAYOUT" },
        );
      }
      b.write(OL.queueSize, 4, size);
      b.write(OL.queueAlign, 4, this.legacyQueueAlign);
      b.write(OL.queuePFN, 4, addrs.desc / 4096);
      if (b.read(OL.queuePFN, 4) === 0) throw this.#refused(index, size, "QueuePFN read back 0");
      checkNeedsReset(this.name, this.getStatus(), index);
      return;
    }
    if (b.read(O.queueReady, 4) !== 0) throw this.#inUse(index);
    b.write(O.queueSize, 4, size);
    b.write(O.queueDescLow, 4, lo(addrs.desc));
    b.write(O.queueDescHigh, 4, hi(addrs.desc));
    b.write(O.queueDriverLow, 4, lo(addrs.driver));
    b.write(O.queueDriverHigh, 4, hi(addrs.driver));
    b.write(O.queueDeviceLow, 4, lo(addrs.device));
    b.write(O.queueDeviceHigh, 4, hi(addrs.device));
    b.write(O.queueReady, 4, 1);
    if (b.read(O.queueReady, 4) !== 1) throw this.#refused(index, size, "QueueReady read back 0");
    checkNeedsReset(this.name, this.getStatus(), index);
  }

  #inUse(index: number): TransportError {
    return new TransportError(`${this.name}: queue ${index} is already in use`, {
      code: "ERR_VIRTIO_TRANSPORT_QUEUE_IN_USE",
    });
  }

  #refused(index: number, size: number, how: string): TransportError {
    return new TransportError(
      `${this.name}: device refused queue ${index} (size ${size}): ${how}`,
      {
        code: "ERR_VIRTIO_TRANSPORT_QUEUE_REFUSED",
      },
    );
  }

  /** Disable queue `index` (QueueReady 0, read back; legacy QueuePFN 0). */
  disableQueue(index: number): void {
    this.bus.write(O.queueSel, 4, index);
    if (this.legacy) {
      this.bus.write(OL.queuePFN, 4, 0);
      return;
    }
    this.bus.write(O.queueReady, 4, 0);
    this.bus.read(O.queueReady, 4);
  }

  /** QueueNotify. */
  notify(index: number): void {
    this.bus.write(O.queueNotify, 4, index);
  }

  /** Route interrupts. */
  setInterruptHandlers(handlers: InterruptHandlers | undefined): void {
    this.#handlers = handlers;
  }

  /** The interrupt service routine: read InterruptStatus, acknowledge, dispatch (4.2.3.4). */
  handleInterrupt(): void {
    const status = this.bus.read(O.interruptStatus, 4) &
      (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
    if (status === 0) return;
    this.bus.write(O.interruptACK, 4, status);
    if (status & VIRTIO_MMIO_INT_CONFIG) this.#handlers?.config();
    if (status & VIRTIO_MMIO_INT_VRING) this.#handlers?.vring(undefined);
  }

  /** Shared memory region `id` (version 2), or undefined when the device has none. */
  sharedMemory(id: number): { base: bigint; length: bigint } | undefined {
    if (this.legacy) return undefined;
    this.bus.write(O.sHMSel, 4, id);
    const len = (BigInt(this.bus.read(O.sHMLenHigh, 4)) << 32n) |
      BigInt(this.bus.read(O.sHMLenLow, 4));
    const base = (BigInt(this.bus.read(O.sHMBaseHigh, 4)) << 32n) |
      BigInt(this.bus.read(O.sHMBaseLow, 4));
    if (len === 0xffffffffffffffffn) return undefined;
    return { base, length: len };
  }

  /** Nothing to release for MMIO. */
  close(): void {
    this.#handlers = undefined;
  }
}
