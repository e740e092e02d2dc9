/**
 * The seam between device models and transports: a device model implements
 * {@link VirtioDevice}, and any transport (MMIO, PCI, worker, vhost-user)
 * hosts it unchanged.
 *
 * A device's life as its transport drives it:
 *
 * 1. The transport reads {@link VirtioDevice.deviceId},
 *    {@link VirtioDevice.features}, {@link VirtioDevice.queueMaxSizes} and
 *    serves config-space accesses through {@link VirtioDevice.readConfig} /
 *    {@link VirtioDevice.writeConfig}, with
 *    {@link VirtioDevice.configGeneration} as the generation count.
 * 2. When the driver sets DRIVER_OK, the transport builds one
 *    {@link DeviceQueue} per enabled queue and calls
 *    {@link VirtioDevice.activate} with a {@link DeviceContext}: guest memory,
 *    the negotiated features, the queues, and callbacks to raise interrupts.
 * 3. Each driver kick becomes {@link VirtioDevice.queueNotify}.
 * 4. A driver reset (status 0), a FAILED handshake after activation, or the
 *    transport going away calls {@link VirtioDevice.reset}; the context given
 *    to `activate` is dead from then on (its callbacks do nothing).
 *
 * Config space is plain bytes with little-endian fields (spec 2.5); most
 * models extend {@link ConfigDevice}, which keeps them in a
 * {@link ConfigSpace} named by a generated accessor, and serve their queues
 * with {@link serveQueue} (the pop / serve / publish / notify loop, with
 * malformed chains turned into DEVICE_NEEDS_RESET).
 *
 * @example An echo device in a dozen lines: each buffer's readable bytes come back in its writable part
 * ```ts
 * import { type ChainServer, ConfigDevice } from "./device.ts";
 * import { bit } from "./features.ts";
 * import { VIRTIO_F_VERSION_1 } from "./generated/common.ts";
 * import { VirtioConsoleConfig } from "./generated/devices/console.ts";
 *
 * class EchoDevice extends ConfigDevice<VirtioConsoleConfig> {
 *   readonly deviceId = 0x7fff;
 *   readonly features = bit(VIRTIO_F_VERSION_1);
 *   readonly queueMaxSizes = [64];
 *   readonly #buf = new Uint8Array(4096);
 *   readonly #echo: ChainServer = {
 *     serveChain: (c) => c.write(0, this.#buf, 0, c.read(0, this.#buf)),
 *     isLive: (ctx) => this.isLive(ctx),
 *   };
 *   constructor() {
 *     super(VirtioConsoleConfig);
 *   }
 *   queueNotify(index: number): void {
 *     this.serve(index, this.#echo);
 *   }
 * }
 * const dev = new EchoDevice();
 * dev.updateConfig((cfg) => cfg.maxNrPorts = 42);
 * const maxNrPorts = dev.readConfig(VirtioConsoleConfig.OFFSETS.maxNrPorts, 4);
 * if (maxNrPorts !== 42 || dev.configGeneration !== 1) throw new Error("config");
 * ```
 *
 * @module
 */

import { ArgumentError } from "./errors.ts";
import type { GuestMemory } from "./memory.ts";
import { type ChainServer, serveQueue } from "./queue_service.ts";
import type { QueueAddresses } from "./virtqueue/layout.ts";
import type { DeviceQueue } from "./virtqueue/queue.ts";

/** Width in bytes of one config-space access (spec 4.1.3.1, 4.2.2.2: 8-byte fields are read as two 4-byte halves). */
export type ConfigWidth = 1 | 2 | 4;

/**
 * A shared memory region a device exposes (spec 2.10): MMIO's `SHMSel`
 * registers and PCI's `VIRTIO_PCI_CAP_SHARED_MEMORY_CFG` describe them.
 */
export interface SharedMemoryRegion {
  /** The region's id (`SHMSel` value / capability `id`), device-type specific. */
  readonly id: number;
  /** Guest-physical base address of the region. */
  readonly base: bigint;
  /** Length of the region in bytes. */
  readonly length: bigint;
}

/**
 * What a transport gives a device when the driver sets DRIVER_OK.
 *
 * Every callback is safe to call at any time: after a reset or after the
 * transport is gone they do nothing, so a device that finishes work late
 * never raises a stale interrupt.
 */
export interface DeviceContext {
  /** Guest memory, where every ring and buffer address points. */
  readonly memory: GuestMemory;
  /** The features the driver accepted (a subset of {@link VirtioDevice.features}). */
  readonly features: bigint;
  /**
   * One entry per queue of {@link VirtioDevice.queueMaxSizes}: the device
   * side of the queue, or `undefined` for a queue the driver did not enable.
   */
  readonly queues: readonly (DeviceQueue | undefined)[];
  /**
   * Raise a used-buffer notification for queue `index` (interrupt status bit
   * 0 on MMIO, the ISR queue bit or the queue's MSI-X vector on PCI). Call it
   * when {@link DeviceQueue.needsNotification} says so.
   */
  notifyUsed(index: number): void;
  /**
   * Raise a configuration change notification (spec 2.5). Bump
   * {@link VirtioDevice.configGeneration} first (a {@link ConfigSpace} does
   * this in {@link ConfigSpace.update}).
   */
  configChanged(): void;
  /**
   * Enter the error state: the transport sets DEVICE_NEEDS_RESET in the status
   * and, since DRIVER_OK is set, sends a configuration change notification
   * (spec 2.1.2). Use it for a `QueueError` from a malformed chain instead of
   * throwing. The reason is logged by the transport.
   */
  needsReset(reason: unknown): void;
  /**
   * Where the driver put queue `index` (its size and the three areas), or
   * `undefined` for a queue it did not enable. For a device that plays the
   * driver's part on one of its rings, as a CAIF modem does on the downlink
   * ring (Linux consumes it through vringh): it builds a driver-side queue
   * over these areas. Optional: the MMIO and PCI transports provide it.
   */
  queueAddresses?(index: number): QueueAddresses | undefined;
}

/**
 * A virtio device model: everything a transport needs to host it.
 *
 * Members are read by the transport at any time; keep `deviceId`,
 * `features`, `queueMaxSizes` and `configSize` constant for the device's
 * life. Methods must not throw for guest-controlled input: a device that
 * meets something it cannot handle calls {@link DeviceContext.needsReset}.
 * A throw is caught by the transport and treated the same way.
 */
export interface VirtioDevice {
  /** The virtio device id (`VIRTIO_ID_*`, spec 5); 0 means "no device" and is never probed. */
  readonly deviceId: number;
  /**
   * Subsystem vendor id the transport reports (MMIO `VendorID`, PCI subsystem
   * vendor id). Optional; transports use 0x1af4 when absent.
   */
  readonly vendorId?: number;
  /** Offered feature bits as a mask (bit n is `1n << BigInt(n)`), including `VIRTIO_F_VERSION_1` for modern devices. */
  readonly features: bigint;
  /** The maximum size of each queue, one entry per queue; the length is the queue count. */
  readonly queueMaxSizes: readonly number[];
  /** Size of the device-specific config space in bytes (0 when the device has none). */
  readonly configSize: number;
  /**
   * The config generation count (spec 2.5): changes whenever two config reads
   * could see different versions of the space. Transports report it as
   * `ConfigGeneration` / `config_generation`.
   */
  readonly configGeneration: number;
  /**
   * Called when the driver sets FEATURES_OK with the features it accepted
   * (already checked to be a subset of {@link VirtioDevice.features}).
   * Return false to refuse the combination (spec 3.1.1 step 6: the device
   * leaves FEATURES_OK clear), e.g. balloon's VIRTIO_BALLOON_F_MUST_TELL_HOST
   * refused, or set up feature-dependent config (blk's `writeback` without
   * VIRTIO_BLK_F_FLUSH). Optional; absent means every subset is accepted.
   */
  acceptFeatures?(features: bigint): boolean;
  /** Shared memory regions (spec 2.10), if the device type has any. */
  readonly sharedMemoryRegions?: readonly SharedMemoryRegion[];

  /**
   * Read `width` bytes of config space at `offset` as a little-endian unsigned
   * number. The transport has checked `offset + width <= configSize`.
   */
  readConfig(offset: number, width: ConfigWidth): number;
  /**
   * The driver wrote `width` bytes of config space at `offset` (value
   * little-endian). Read-only fields ignore the write. The transport has
   * checked the range.
   */
  writeConfig(offset: number, width: ConfigWidth, value: number): void;
  /**
   * The driver set DRIVER_OK: start serving the queues in `ctx`. A returned
   * promise that rejects marks the device DEVICE_NEEDS_RESET.
   */
  activate(ctx: DeviceContext): void | Promise<void>;
  /** The driver notified queue `index` (`QueueNotify`, PCI notify area, worker kick). */
  queueNotify(index: number): void;
  /**
   * Chains of queue `index` the device is still working on and will use by
   * itself (storage I/O in flight), not chains it keeps until something
   * arrives (receive buffers). A transport that stops one queue while the
   * device runs (vhost-user GET_VRING_BASE) waits for these first, so its
   * saved position does not skip them. Optional; absent means none.
   */
  inProgress?(index: number): number;
  /**
   * The device was reset (spec 2.4): drop the context and every queue, and
   * return to the state before the driver's first access. Config contents
   * that are device state (capacity, MAC...) stay.
   */
  reset(): void;
}

/**
 * Device-specific config space kept as bytes, with the generation count the
 * spec asks for. Build a generated accessor over {@link ConfigSpace.view} to
 * set fields by name; change fields the driver may be reading inside
 * {@link ConfigSpace.update} so the generation moves.
 */
export class ConfigSpace {
  /** The config bytes, little-endian as the spec lays them out. */
  readonly bytes: Uint8Array;
  /** A view over {@link ConfigSpace.bytes}, for generated accessors. */
  readonly view: DataView;
  #generation = 0;

  /** Creates `size` zeroed bytes of config space at generation 0. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0) {
      throw new ArgumentError(`config space size ${size} is not a non-negative integer`, {
        code: "ERR_VIRTIO_ARGUMENT_CONFIG_SIZE",
      });
    }
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Size of the config space in bytes. */
  get size(): number {
    return this.bytes.length;
  }

  /** The generation count; {@link ConfigSpace.update} increments it (mod 2^32). */
  get generation(): number {
    return this.#generation;
  }

  /** Read `width` bytes at `offset`, little-endian; 0 outside the space. */
  read(offset: number, width: ConfigWidth): number {
    if (offset < 0 || offset + width > this.bytes.length) return 0;
    switch (width) {
      case 1:
        return this.view.getUint8(offset);
      case 2:
        return this.view.getUint16(offset, true);
      default:
        return this.view.getUint32(offset, true);
    }
  }

  /** Write `width` bytes at `offset`, little-endian; ignored outside the space. Does not bump the generation. */
  write(offset: number, width: ConfigWidth, value: number): void {
    if (offset < 0 || offset + width > this.bytes.length) return;
    switch (width) {
      case 1:
        this.view.setUint8(offset, value);
        break;
      case 2:
        this.view.setUint16(offset, value, true);
        break;
      default:
        this.view.setUint32(offset, value >>> 0, true);
    }
  }

  /**
   * Change fields and bump the generation, so a driver reading config
   * concurrently retries (spec 2.5.1). Raise the interrupt afterwards with
   * {@link DeviceContext.configChanged} if the device is active.
   */
  update(change: (view: DataView) => void): void {
    change(this.view);
    this.#generation = (this.#generation + 1) >>> 0;
  }

  /** Bump the generation alone, for a change made through another path. */
  bump(): void {
    this.#generation = (this.#generation + 1) >>> 0;
  }
}

/**
 * A generated config accessor class, such as `VirtioBlkConfig`: built over
 * a `DataView`, with the struct's size in `SIZE`.
 */
export interface ConfigAccessor<C> {
  /** Builds the accessor over `view` at byte `offset`. */
  new (view: DataView, offset?: number): C;
  /** Size of the config struct in bytes. */
  readonly SIZE: number;
}

/**
 * A base for device models with a config space: declare the config with its
 * generated accessor class, and get {@link VirtioDevice.readConfig},
 * {@link VirtioDevice.writeConfig}, the generation count, the live
 * {@link DeviceContext} between `activate` and `reset`, config changes that
 * bump the generation and notify the driver ({@link ConfigDevice.updateConfig}),
 * and queue serving through {@link serveQueue} ({@link ConfigDevice.serve}).
 *
 * Config is read-only to the driver unless {@link ConfigDevice.configWritable}
 * says otherwise for a field. A subclass that overrides `activate` or
 * `reset` calls `super`.
 *
 * @example A console-like device: its config from the generated accessor, every buffer echoed
 * ```ts
 * import { type ChainServer, ConfigDevice } from "./device.ts";
 * import { VirtioConsoleConfig } from "./generated/devices/console.ts";
 * import type { DescriptorChain } from "./virtqueue/mod.ts";
 *
 * class EchoDevice extends ConfigDevice<VirtioConsoleConfig> {
 *   readonly deviceId = 3;
 *   readonly features = 1n << 32n; // VIRTIO_F_VERSION_1
 *   readonly queueMaxSizes = [64];
 *   readonly #buf = new Uint8Array(4096);
 *   readonly #server: ChainServer = {
 *     // Copy the readable part into our own buffer (read once), then into the writable part.
 *     serveChain: (c: DescriptorChain) => c.write(0, this.#buf, 0, c.read(0, this.#buf)),
 *     isLive: (ctx) => this.isLive(ctx),
 *   };
 *   constructor() {
 *     super(VirtioConsoleConfig);
 *   }
 *   queueNotify(index: number): void {
 *     this.serve(index, this.#server);
 *   }
 * }
 * const dev = new EchoDevice();
 * dev.updateConfig((cfg) => cfg.cols = 80);
 * if (dev.readConfig(0, 2) !== 80 || dev.configGeneration !== 1) throw new Error("config");
 * dev.writeConfig(0, 2, 7); // read-only unless configWritable says otherwise: ignored
 * if (dev.cfg.cols !== 80) throw new Error("read-only");
 * ```
 */
export abstract class ConfigDevice<C = undefined> implements VirtioDevice {
  /** The virtio device id. */
  abstract readonly deviceId: number;
  /** Offered feature bits as a mask. */
  abstract readonly features: bigint;
  /** The maximum size of each queue. */
  abstract readonly queueMaxSizes: readonly number[];
  /** The config bytes and their generation count. */
  readonly config: ConfigSpace;
  /** The generated accessor over {@link ConfigDevice.config}: set fields by name. */
  readonly cfg: C;
  #ctx: DeviceContext | undefined;

  /**
   * A device whose config space is laid out by `accessor` (`SIZE` bytes, or
   * `size`); without one, a device with no config space (`cfg` is undefined).
   */
  constructor(accessor?: ConfigAccessor<C>, size: number = accessor?.SIZE ?? 0) {
    this.config = new ConfigSpace(size);
    // Without an accessor C is `undefined` (the class's default): the cast says so.
    this.cfg = (accessor === undefined ? undefined : new accessor(this.config.view)) as C;
  }

  /** Size of the config space in bytes. */
  get configSize(): number {
    return this.config.size;
  }

  /** The config generation count. */
  get configGeneration(): number {
    return this.config.generation;
  }

  /** The live context between `activate` and `reset`. */
  get context(): DeviceContext | undefined {
    return this.#ctx;
  }

  /** Is `ctx` the live context (for {@link ChainServer.isLive})? */
  isLive(ctx: DeviceContext): boolean {
    return this.#ctx === ctx;
  }

  /** Reads config bytes (the transport checked the range). */
  readConfig(offset: number, width: ConfigWidth): number {
    return this.config.read(offset, width);
  }

  /** Writes config bytes where {@link ConfigDevice.configWritable} allows; ignores the rest. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    if (this.configWritable(offset, width)) this.config.write(offset, width, value);
  }

  /**
   * May the driver write `width` bytes at `offset`? False everywhere unless
   * overridden, e.g. `offset === VirtioThermoConfig.OFFSETS.pollIntervalMs`.
   */
  protected configWritable(_offset: number, _width: ConfigWidth): boolean {
    return false;
  }

  /**
   * Changes config fields through the accessor, bumps the generation (spec
   * 2.5.1) and, while the device is active, raises a configuration change
   * notification.
   */
  updateConfig(change: (cfg: C) => void): void {
    this.config.update(() => change(this.cfg));
    this.#ctx?.configChanged();
  }

  /** Keeps `ctx` as the live context. */
  activate(ctx: DeviceContext): void | Promise<void> {
    this.#ctx = ctx;
  }

  /** Serves queue `index` of the live context with `server` ({@link serveQueue}); false after an error. */
  protected serve(index: number, server: ChainServer): boolean {
    const ctx = this.#ctx;
    return ctx === undefined || serveQueue(ctx, index, server);
  }

  /** The driver kicked queue `index`. */
  abstract queueNotify(index: number): void;

  /** Drops the live context. */
  reset(): void {
    this.#ctx = undefined;
  }
}

export {
  CHAIN_HELD,
  type ChainServer,
  completeUsed,
  publishUsed,
  serveQueue,
} from "./queue_service.ts";
