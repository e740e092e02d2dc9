/**
 * The driver API: what a virtio driver is written against, in the spirit of
 * Linux's "Writing Virtio Drivers" guide. A driver registers with the bus
 * (`src/bus.ts`); for each matching device it gets a {@link DriverDevice}
 * in `probe`, finds its queues with callbacks, adds buffers, kicks, gets
 * used buffers back, and on `remove` resets the device and deletes the
 * queues, which hands back every buffer still outstanding.
 *
 * The status handshake of spec 3.1.1 is done for the driver: ACKNOWLEDGE
 * and DRIVER before `probe`, feature negotiation, FEATURES_OK, and
 * DRIVER_OK after `probe` unless the driver called
 * {@link DriverDevice.deviceReady} itself (to use queues inside `probe`).
 *
 * @example
 * ```ts
 * import type { VirtioDriver } from "./driver.ts";
 *
 * const driver: VirtioDriver = {
 *   name: "virtio-null",
 *   idTable: [{ device: 0x7fff }],
 *   featureTable: [],
 *   probe(dev) {
 *     const [vq] = dev.findVqs([{ name: "requests", callback: (q) => {
 *       for (let b = q.getBuf(); b !== null; b = q.getBuf()) console.log(b.token);
 *     } }]);
 *     dev.deviceReady();
 *     vq.addSgs([{ addr: 0x1000, len: 16 }], [], "hello");
 *     vq.kick();
 *   },
 *   remove(dev) {
 *     dev.reset();
 *     dev.delVqs();
 *   },
 * };
 * ```
 *
 * @module
 */

import { binding } from "./_driver_binding.ts";
import { vqHooks } from "./_virtqueue_hooks.ts";
import type { ConfigWidth } from "./device.ts";
import { DeviceError } from "./errors.ts";
import { bit } from "./features.ts";
import { DeviceStatus, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from "./generated/common.ts";
import type { DmaContext } from "./memory.ts";
import type { QueueRingAddresses, Transport } from "./transport/transport.ts";
import { queueOptionsFromFeatures, splitLegacyLayout } from "./virtqueue/layout.ts";
import { createDeviceQueue, createDriverQueue } from "./virtqueue/queue.ts";
import {
  ERR_VIRTIO_DEVICE_NEEDS_RESET,
  ERR_VIRTIO_DEVICE_RESET,
  Virtqueue,
} from "./driver_virtqueue.ts";
import { HostRing, type VrhInfo } from "./host_ring.ts";

export {
  type Completion,
  ERR_VIRTIO_DEVICE_NEEDS_RESET,
  ERR_VIRTIO_DEVICE_QUEUE_DELETED,
  ERR_VIRTIO_DEVICE_REMOVED,
  ERR_VIRTIO_DEVICE_RESET,
  Virtqueue,
} from "./driver_virtqueue.ts";
export { HostRing, type VrhInfo } from "./host_ring.ts";

/** Match any device id or vendor id in an {@link DeviceIdMatch} (Linux `VIRTIO_DEV_ANY_ID`). */
export const VIRTIO_DEV_ANY_ID: number = 0xffffffff;

/** One entry of a driver's id table. */
export interface DeviceIdMatch {
  /** Device id to match, or {@link VIRTIO_DEV_ANY_ID}. */
  readonly device: number;
  /** Vendor id to match; absent or {@link VIRTIO_DEV_ANY_ID} matches any vendor. */
  readonly vendor?: number;
}

/** A virtio driver as the bus sees it (Linux `struct virtio_driver`). */
export interface VirtioDriver {
  /** The driver's name, for logs. */
  readonly name: string;
  /** The devices this driver handles. */
  readonly idTable: readonly DeviceIdMatch[];
  /** Device-specific feature bits (bit numbers) the driver understands. */
  readonly featureTable: readonly number[];
  /** Feature bits for legacy devices, when they differ from {@link VirtioDriver.featureTable}. */
  readonly featureTableLegacy?: readonly number[];
  /**
   * Optional check before FEATURES_OK: may clear features with
   * {@link DriverDevice.clearFeature} or throw to refuse the device.
   */
  validate?(dev: DriverDevice): void;
  /** Bind to a device: find queues, read config, start I/O. Throwing fails the probe (FAILED). */
  probe(dev: DriverDevice): void | Promise<void>;
  /** Unbind: stop I/O, reset the device and delete the queues. */
  remove(dev: DriverDevice): void | Promise<void>;
  /** The device's configuration changed (after probe succeeded). */
  configChanged?(dev: DriverDevice): void;
}

// DmaContext lives in memory.ts, below the transports that provide one (the
// vhost-user front-end); re-exported here, where drivers have always found it.
export type { DmaContext } from "./memory.ts";

/** One queue a driver asks for in {@link DriverDevice.findVqs}. */
export interface VqInfo<T = unknown> {
  /** A name for logs. */
  readonly name: string;
  /** Called when the device may have used buffers; `undefined` for a queue without callbacks. */
  readonly callback?: (vq: Virtqueue<T>) => void;
  /** Queue size; default the device's maximum (capped at 256). */
  readonly size?: number;
  /**
   * Called once when the queue breaks (device reset, removed,
   * DEVICE_NEEDS_RESET; see {@link DriverDevice.breakQueues}), for a driver that
   * keeps its own pending work on a queue with a callback: fail it with
   * `error`. Requests of {@link Virtqueue.request} / {@link Virtqueue.submit}
   * fail by themselves.
   */
  readonly onBroken?: (vq: Virtqueue<T>, error: DeviceError) => void;
  /**
   * With `VIRTIO_F_INDIRECT_DESC`, use direct descriptors while the ring has
   * room and an indirect table only when it has not (see
   * `QueueOptions.preferDirect`). Default false: a table for every buffer
   * of several elements, as Linux does.
   */
  readonly preferDirect?: boolean;
}

/** Transport feature bits the core handles itself (Linux `vring_transport_features`). */
export const DEFAULT_TRANSPORT_FEATURES: readonly number[] = Object.freeze([
  28, // VIRTIO_F_INDIRECT_DESC
  29, // VIRTIO_F_EVENT_IDX
  VIRTIO_F_VERSION_1,
  33, // VIRTIO_F_ACCESS_PLATFORM
  VIRTIO_F_RING_PACKED,
  36, // VIRTIO_F_ORDER_PLATFORM
]);

/** A read-only view of device config used inside {@link DriverDevice.readConfig}. */
export interface ConfigReader {
  /** An 8-bit field. */
  u8(offset: number): number;
  /** A little-endian 16-bit field. */
  le16(offset: number): number;
  /** A little-endian 32-bit field. */
  le32(offset: number): number;
  /** A little-endian 64-bit field, read as two 32-bit halves. */
  le64(offset: number): bigint;
}

/** How many times a config read is retried while the generation keeps moving. */
const CONFIG_RETRIES = 1000;

/**
 * The driver's handle on one device (Linux `struct virtio_device`).
 * Created by the bus; a driver gets it in `probe`.
 */
export class DriverDevice {
  /** The transport carrying the device. */
  readonly transport: Transport;
  /** Memory and allocator for rings. */
  readonly dmaContext: DmaContext;
  /** The bus-wide index of this device (`virtio0`, `virtio1`...). */
  readonly index: number;
  /** The negotiated features (valid once the bus negotiated them, before `probe`). */
  get features(): bigint {
    return this.#features;
  }
  /** The driver bound to the device, if any. */
  get driver(): VirtioDriver | undefined {
    return this.#driver;
  }
  #features = 0n;
  #driver: VirtioDriver | undefined;
  #vqs: Virtqueue<unknown>[] = [];
  readonly #vrhs = new Map<number, HostRing>();
  #configChanged: (() => void) | undefined;

  static {
    binding.setFeatures = (dev, features) => {
      dev.#features = features;
    };
    binding.setDriver = (dev, driver) => {
      dev.#driver = driver;
    };
  }

  /** Wrap `transport`; the bus does this in `addDevice`. */
  constructor(transport: Transport, dmaContext: DmaContext, index: number) {
    this.transport = transport;
    this.dmaContext = dmaContext;
    this.index = index;
    transport.setInterruptHandlers({
      vring: (q) => this.#vringInterrupt(q),
      config: () => this.#configInterrupt(),
    });
  }

  /** `virtio<index>`. */
  get name(): string {
    return `virtio${this.index}`;
  }

  /** The virtio device id. */
  get deviceId(): number {
    return this.transport.deviceId;
  }

  /** The vendor id. */
  get vendorId(): number {
    return this.transport.vendorId;
  }

  /** Linux's modalias, `virtio:dXXXXXXXXvXXXXXXXX`. */
  get modalias(): string {
    return modalias(this.deviceId, this.vendorId);
  }

  /** Was feature `n` (a bit number) negotiated? */
  hasFeature(n: number): boolean {
    return (this.features & bit(n)) !== 0n;
  }

  /** Drop feature `n` before FEATURES_OK (from {@link VirtioDriver.validate}). */
  clearFeature(n: number): void {
    this.#features &= ~bit(n);
  }

  /** The device status. */
  getStatus(): number {
    return this.transport.getStatus();
  }

  /** Set `bits` in the status, keeping the bits already set (Linux `virtio_add_status`). */
  addStatus(bits: number): void {
    this.transport.setStatus(this.transport.getStatus() | bits);
  }

  /** Did the device set DEVICE_NEEDS_RESET? */
  get needsReset(): boolean {
    return (this.transport.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0;
  }

  /** Set DRIVER_OK: the device may now use the queues (Linux `virtio_device_ready`). */
  deviceReady(): void {
    const s = this.transport.getStatus();
    if (s & DeviceStatus.DRIVER_OK) return;
    this.transport.setStatus(s | DeviceStatus.DRIVER_OK);
  }

  /**
   * Reset the device; queues stop being live, buffers stay until
   * {@link DriverDevice.delVqs}. Every queue breaks
   * ({@link DriverDevice.breakQueues}) with `ERR_VIRTIO_DEVICE_RESET`:
   * pending requests reject and new ones are refused, instead of waiting
   * for a device that will never answer.
   */
  reset(): void {
    this.transport.reset();
    this.breakQueues(
      new DeviceError(`${this.name}: the device was reset`, { code: ERR_VIRTIO_DEVICE_RESET }),
    );
  }

  /**
   * Break every queue (Linux `virtio_break_device`): requests pending on
   * them ({@link Virtqueue.request}, {@link Virtqueue.submit}) fail with
   * `error`, and adding buffers or kicking throws a {@link DeviceError}
   * with its code. A queue already broken keeps its first error. The bus
   * calls this with `ERR_VIRTIO_DEVICE_REMOVED` before a driver's `remove`,
   * {@link DriverDevice.reset} with `ERR_VIRTIO_DEVICE_RESET`, and a
   * configuration interrupt with DEVICE_NEEDS_RESET set with
   * `ERR_VIRTIO_DEVICE_NEEDS_RESET`.
   */
  breakQueues(error: DeviceError): void {
    for (const vq of this.#vqs) if (vq) vqHooks.markBroken(vq, error);
    for (const vrh of this.#vrhs.values()) vrh.markBroken(error);
  }

  #configInterrupt(): void {
    // 2.1.2: a device in error state will not complete what it holds; fail it now.
    if (this.#vqs.length > 0 && this.transport.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET) {
      this.breakQueues(
        new DeviceError(`${this.name}: the device needs a reset (DEVICE_NEEDS_RESET)`, {
          code: ERR_VIRTIO_DEVICE_NEEDS_RESET,
        }),
      );
    }
    this.#configChanged?.();
  }

  /** Install the config-change callback (the bus points it at the driver). */
  onConfigChange(callback: (() => void) | undefined): void {
    this.#configChanged = callback;
  }

  /**
   * Read config fields consistently: `read` runs again until the config
   * generation is the same before and after it (spec 2.5.1).
   */
  readConfig<R>(read: (cfg: ConfigReader) => R): R {
    const t = this.transport;
    const reader: ConfigReader = {
      u8: (o) => t.readConfig(o, 1),
      le16: (o) => t.readConfig(o, 2),
      le32: (o) => t.readConfig(o, 4),
      le64: (o) => BigInt(t.readConfig(o, 4) >>> 0) | (BigInt(t.readConfig(o + 4, 4) >>> 0) << 32n),
    };
    for (let i = 0; i < CONFIG_RETRIES; i++) {
      const before = t.configGeneration();
      const r = read(reader);
      if (t.configGeneration() === before) return r;
    }
    throw new DeviceError(
      `${this.name}: config generation still changing after ${CONFIG_RETRIES} reads (spec 2.5.1)`,
      { code: "ERR_VIRTIO_DEVICE_CONFIG_UNSETTLED" },
    );
  }

  /**
   * A consistent copy of the first `size` bytes of config, for a generated
   * accessor: `new VirtioBlkConfig(dev.configSnapshot(VirtioBlkConfig.SIZE))`.
   */
  configSnapshot(size: number): DataView {
    const view = new DataView(new ArrayBuffer(size));
    this.readConfig((cfg) => {
      let o = 0;
      for (; o + 4 <= size; o += 4) view.setUint32(o, cfg.le32(o), true);
      for (; o < size; o++) view.setUint8(o, cfg.u8(o));
    });
    return view;
  }

  /** Write a config field of `width` bytes. */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    this.transport.writeConfig(offset, width, value);
  }

  /**
   * Set up queues 0..n-1 (Linux `virtio_find_vqs`): allocate and zero the
   * rings, tell the transport, and wire each callback to the interrupt.
   */
  findVqs<T = unknown>(infos: readonly VqInfo<T>[]): Virtqueue<T>[] {
    if (this.#vqs.length) {
      throw new DeviceError(`${this.name}: queues already set up (call delVqs first)`, {
        code: "ERR_VIRTIO_DEVICE_QUEUES_EXIST",
      });
    }
    const made: Virtqueue<T>[] = [];
    try {
      for (let i = 0; i < infos.length; i++) made.push(this.#setupVq(i, infos[i]));
    } catch (e) {
      for (const vq of made) vqHooks.release(vq);
      this.#vqs = [];
      throw e;
    }
    return made;
  }

  #setupVq<T>(index: number, info: VqInfo<T>): Virtqueue<T> {
    const t = this.transport;
    const max = t.queueMaxSize(index);
    if (max === 0) {
      throw new DeviceError(
        `${this.name}: queue ${index} (${info.name}) is not offered by the device (maximum size 0)`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_MISSING" },
      );
    }
    const packed = this.hasFeature(VIRTIO_F_RING_PACKED);
    let size = info.size ?? Math.min(max, 256);
    if (size > max || t.queueSizeFixed) size = max;
    const { memory, dma } = this.dmaContext;
    const { addrs, allocs } = this.#allocRing(size, packed);
    try {
      const queue = createDriverQueue<T>(
        memory,
        { size, desc: addrs.desc, driver: addrs.driver, device: addrs.device },
        info.preferDirect
          ? { ...queueOptionsFromFeatures(this.features, index), preferDirect: true }
          : queueOptionsFromFeatures(this.features, index),
        dma,
      );
      t.setupQueue(index, size, addrs);
      const vq = new Virtqueue<T>(this, index, info, queue, () => {
        for (const a of allocs) dma.free(a);
      });
      this.#vqs[index] = vq as Virtqueue<unknown>;
      return vq;
    } catch (e) {
      for (const a of allocs) dma.free(a);
      throw e;
    }
  }

  /** Zeroed areas for a ring of `size` entries in the transport's layout. */
  #allocRing(size: number, packed: boolean): { addrs: QueueRingAddresses; allocs: number[] } {
    const t = this.transport;
    const { memory, dma } = this.dmaContext;
    const allocs: number[] = [];
    const zeroed = (len: number, align: number): number => {
      const a = dma.alloc(len, align);
      allocs.push(a);
      memory.bytes(a, len).fill(0);
      return a;
    };
    try {
      if (t.legacy) {
        const l = splitLegacyLayout(size, t.legacyQueueAlign);
        const base = zeroed(l.total, 4096);
        return {
          addrs: { desc: base + l.desc, driver: base + l.driver, device: base + l.device },
          allocs,
        };
      }
      if (packed) {
        return {
          addrs: { desc: zeroed(16 * size, 16), driver: zeroed(4, 4), device: zeroed(4, 4) },
          allocs,
        };
      }
      return {
        addrs: {
          desc: zeroed(16 * size, 16),
          driver: zeroed(6 + 2 * size, 2),
          device: zeroed(6 + 8 * size, 4),
        },
        allocs,
      };
    } catch (e) {
      for (const a of allocs) dma.free(a);
      throw e;
    }
  }

  /**
   * Set up queue `index` as a host-side ring (Linux `vringh_config->find_vrhs`,
   * which `caif_virtio` uses for its downlink): we allocate the ring and give
   * it to the transport as for any queue, but the device is the ring's
   * driver (it makes buffers available) and we consume them through the
   * returned {@link HostRing}'s device-side queue. `info.lend` may write
   * the descriptor table before the device sees the ring (the buffers the
   * driver lends the device). Split rings only, as vringh. Call after
   * {@link DriverDevice.findVqs} and before {@link DriverDevice.deviceReady};
   * {@link DriverDevice.delVqs} deletes it with the queues.
   */
  findVrh(index: number, info: VrhInfo): HostRing {
    if (this.#vrhs.has(index) || this.#vqs[index] !== undefined) {
      throw new DeviceError(`${this.name}: queue ${index} is already set up`, {
        code: "ERR_VIRTIO_DEVICE_QUEUES_EXIST",
      });
    }
    const t = this.transport;
    const max = t.queueMaxSize(index);
    if (max === 0) {
      throw new DeviceError(
        `${this.name}: queue ${index} (${info.name}) is not offered by the device (maximum size 0)`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_MISSING" },
      );
    }
    if (this.hasFeature(VIRTIO_F_RING_PACKED)) {
      throw new DeviceError(
        `${this.name}: queue ${index} (${info.name}): a host-side ring is split only (as vringh)`,
        { code: "ERR_VIRTIO_DEVICE_VRH_PACKED" },
      );
    }
    let size = info.size ?? Math.min(max, 256);
    if (size > max || t.queueSizeFixed) size = max;
    const { memory, dma } = this.dmaContext;
    const { addrs, allocs } = this.#allocRing(size, false);
    try {
      const where = { size, desc: addrs.desc, driver: addrs.driver, device: addrs.device };
      info.lend?.(where);
      const queue = createDeviceQueue(
        memory,
        where,
        queueOptionsFromFeatures(this.features, index),
      );
      t.setupQueue(index, size, addrs);
      const vrh = new HostRing(this, index, info, queue, where, () => {
        for (const a of allocs) dma.free(a);
      });
      this.#vrhs.set(index, vrh);
      return vrh;
    } catch (e) {
      for (const a of allocs) dma.free(a);
      throw e;
    }
  }

  /** The host-side rings set up by {@link DriverDevice.findVrh}. */
  get vrhs(): ReadonlyMap<number, HostRing> {
    return this.#vrhs;
  }

  /** The queues set up by {@link DriverDevice.findVqs}. */
  get vqs(): readonly Virtqueue<unknown>[] {
    return this.#vqs;
  }

  #vringInterrupt(q: number | undefined): void {
    if (q !== undefined) {
      this.#vqs[q]?.interrupt();
      this.#vrhs.get(q)?.interrupt();
      return;
    }
    const vqs = this.#vqs;
    for (let i = 0; i < vqs.length; i++) vqs[i]?.interrupt();
    for (const vrh of this.#vrhs.values()) vrh.interrupt();
  }

  /**
   * Delete every queue (Linux `del_vqs`) and return the tokens of every
   * buffer still outstanding: used but not collected, then never used. A
   * device with DRIVER_OK set is reset first, so no queue is live (3.3.1).
   */
  delVqs(): unknown[] {
    if (this.#vqs.length === 0 && this.#vrhs.size === 0) return [];
    // Queues are live from DRIVER_OK until reset (3.3): reset before taking buffers back.
    if (this.transport.getStatus() & DeviceStatus.DRIVER_OK) this.transport.reset();
    const out: unknown[] = [];
    for (const vq of this.#vqs) {
      if (vq === undefined) continue;
      out.push(...vqHooks.drain(vq));
      vqHooks.release(vq);
    }
    this.#vqs = [];
    for (const vrh of this.#vrhs.values()) vrh.release();
    this.#vrhs.clear();
    return out;
  }
}

/** Linux's modalias for a virtio device: `virtio:d%08Xv%08X`. */
export function modalias(deviceId: number, vendorId: number): string {
  const hex = (v: number) => (v >>> 0).toString(16).toUpperCase().padStart(8, "0");
  return `virtio:d${hex(deviceId)}v${hex(vendorId)}`;
}

/** Does `m` match a device? */
export function idMatches(m: DeviceIdMatch, deviceId: number, vendorId: number): boolean {
  if (m.device !== VIRTIO_DEV_ANY_ID && m.device !== deviceId) return false;
  return m.vendor === undefined || m.vendor === VIRTIO_DEV_ANY_ID || m.vendor === vendorId;
}
