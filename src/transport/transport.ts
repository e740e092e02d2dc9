/**
 * The driver side of every transport: the one interface a virtio driver
 * (and the bus in `src/bus.ts`) uses to reach a device, whatever carries it
 * (MMIO registers, PCI capabilities or legacy I/O, a worker mailbox).
 *
 * It mirrors Linux's `virtio_config_ops`: status, features, config space
 * with its generation count, queue setup, notification and interrupts.
 *
 * @module
 */

import type { ConfigWidth } from "../device.ts";

/** Guest addresses of the three areas of one virtqueue (spec 2.6). */
export interface QueueRingAddresses {
  /** Descriptor Area (descriptor table). */
  readonly desc: number;
  /** Driver Area (available ring, or the driver event suppression structure for packed). */
  readonly driver: number;
  /** Device Area (used ring, or the device event suppression structure for packed). */
  readonly device: number;
}

/**
 * What raised an interrupt, as the transport decoded it: a used-buffer
 * notification (for one queue when the transport can tell, e.g. one MSI-X
 * vector per queue; otherwise `undefined`, meaning "check every queue"), a
 * configuration change, or both.
 */
export interface InterruptHandlers {
  /** Used buffers may be ready: on queue `queue`, or on any queue when `undefined`. */
  vring(queue: number | undefined): void;
  /** The device configuration changed (or DEVICE_NEEDS_RESET was set). */
  config(): void;
}

/** A source of interrupts a driver-side transport listens to (an IRQ line, MSI-X messages). */
export interface InterruptSource {
  /**
   * Route the interrupts to `handler`: `vector` is an MSI-X vector, or -1 for
   * the single interrupt line (MMIO, PCI INTx).
   */
  connect(handler: (vector: number) => void): void;
}

/** A window of little-endian registers read and written by offset (MMIO, a PCI BAR, I/O ports). */
export interface RegisterBus {
  /** Read `width` bytes at `offset`. */
  read(offset: number, width: ConfigWidth): number;
  /** Write `width` bytes of `value` at `offset`. */
  write(offset: number, width: ConfigWidth, value: number): void;
  /** The window's size in bytes, when the bus knows it (an MMIO device's register window). */
  readonly size?: number;
}

/** Driver-side access to one virtio device, whatever transport carries it. */
export interface Transport {
  /** A short name for logs, e.g. `virtio-mmio v2` or `virtio-pci modern`. */
  readonly name: string;
  /** The virtio device id (`VIRTIO_ID_*`). */
  readonly deviceId: number;
  /** The subsystem vendor id. */
  readonly vendorId: number;
  /**
   * True when the device is driven through a legacy interface (MMIO version
   * 1, PCI legacy I/O): no FEATURES_OK step, VIRTIO_F_VERSION_1 never
   * negotiated, split rings laid out contiguously (see {@link Transport.legacyQueueAlign}).
   */
  readonly legacy: boolean;
  /**
   * For a legacy transport, the alignment of the used ring inside the one
   * contiguous block that holds the rings (the block itself starts on a page
   * of this size). 0 for modern transports, which take three addresses.
   */
  readonly legacyQueueAlign: number;
  /** True when the driver cannot choose a queue size (PCI legacy): queues use {@link Transport.queueMaxSize}. */
  readonly queueSizeFixed: boolean;

  /** Read the device status (spec 2.1). */
  getStatus(): number;
  /** Write the device status; 0 resets the device (prefer {@link Transport.reset}). */
  setStatus(status: number): void;
  /** Reset the device and wait until it reads status 0 (spec 2.4). */
  reset(): void;

  /** The features the device offers. */
  getDeviceFeatures(): bigint;
  /** Tell the device which features the driver accepts. */
  setDriverFeatures(features: bigint): void;

  /**
   * Bytes of device config, where the transport can tell (PCI's device
   * config capability, an MMIO window's size); `readConfig` and
   * `writeConfig` past it throw `ArgumentError` (`ERR_VIRTIO_ARGUMENT_CONFIG_RANGE`).
   * Undefined when the transport cannot tell.
   */
  readonly configSize?: number;

  /** The config generation count (spec 2.5); compare before and after reading fields. */
  configGeneration(): number;
  /** Read `width` bytes of device config at `offset` (little-endian). */
  readConfig(offset: number, width: ConfigWidth): number;
  /** Write `width` bytes of device config at `offset`. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void;

  /** How many queues the device has (queues past the last available one are not counted). */
  numQueues(): number;
  /** Maximum size of queue `index`, 0 when the queue does not exist. */
  queueMaxSize(index: number): number;
  /**
   * Configure and enable queue `index` with `size` entries at `addrs`. For a
   * legacy transport the addresses must follow the contiguous legacy layout.
   * Throws `TransportError` when the device refuses the queue.
   */
  setupQueue(index: number, size: number, addrs: QueueRingAddresses): void;
  /** Stop queue `index` where the transport can (modern), else a no-op until reset. */
  disableQueue(index: number): void;
  /** Send an available-buffer notification for queue `index`. */
  notify(index: number): void;

  /** Route decoded interrupts to `handlers` (replaces any earlier handlers). */
  setInterruptHandlers(handlers: InterruptHandlers | undefined): void;
  /** Release transport resources (listeners, workers). The device is not reset. */
  close(): void;
}
