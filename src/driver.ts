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

import type { ConfigWidth } from "./device.ts";
import { ArgumentError, DeviceError } from "./errors.ts";
import { bit } from "./features.ts";
import { DeviceStatus, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from "./generated/common.ts";
import type { DmaContext } from "./memory.ts";
import type { QueueRingAddresses, Transport } from "./transport/transport.ts";
import { queueOptionsFromFeatures, splitLegacyLayout } from "./virtqueue/layout.ts";
import {
  createDeviceQueue,
  createDriverQueue,
  type DeviceQueue,
  type DriverQueue,
  type Sg,
  type UsedBufferSlot,
} from "./virtqueue/queue.ts";
import type { QueueAddresses } from "./virtqueue/layout.ts";

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
   * DEVICE_NEEDS_RESET; see {@link Virtqueue.markBroken}), for a driver that
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
  features = 0n;
  /** The driver bound to the device, if any. */
  driver: VirtioDriver | undefined;
  #vqs: Virtqueue<unknown>[] = [];
  readonly #vrhs = new Map<number, HostRing>();
  #configChanged: (() => void) | undefined;

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
    this.features &= ~bit(n);
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
    for (const vq of this.#vqs) vq?.markBroken(error);
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
      for (const vq of made) vq.release();
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
      out.push(...vq.drain());
      vq.release();
    }
    this.#vqs = [];
    for (const vrh of this.#vrhs.values()) vrh.release();
    this.#vrhs.clear();
    return out;
  }
}

/** Code of the error a request fails with when its device was reset. */
export const ERR_VIRTIO_DEVICE_RESET = "ERR_VIRTIO_DEVICE_RESET";
/** Code of the error a request fails with when its device was removed or its driver unbound. */
export const ERR_VIRTIO_DEVICE_REMOVED = "ERR_VIRTIO_DEVICE_REMOVED";
/** Code of the error a request fails with when its device set DEVICE_NEEDS_RESET (spec 2.1.2). */
export const ERR_VIRTIO_DEVICE_NEEDS_RESET = "ERR_VIRTIO_DEVICE_NEEDS_RESET";
/** Code of the error for a queue used after {@link DriverDevice.delVqs} deleted it. */
export const ERR_VIRTIO_DEVICE_QUEUE_DELETED = "ERR_VIRTIO_DEVICE_QUEUE_DELETED";

/**
 * How a request given to {@link Virtqueue.submit} ends. Made by the driver,
 * often once per slot and reused, so a request allocates nothing.
 */
export interface Completion {
  /** The device used the buffers and wrote `len` bytes into the device-writable part. */
  complete(len: number): void;
  /**
   * The request will never complete: the queue broke (device reset,
   * removed, or DEVICE_NEEDS_RESET). Called once. The buffers may still be
   * in the ring: free them in {@link Completion.reclaim}, not here.
   */
  fail(error: DeviceError): void;
  /**
   * After {@link Completion.fail}: the buffers are back with the driver
   * (the device was reset and the queue deleted) and may be freed.
   */
  reclaim?(): void;
}

/** Token of a {@link Virtqueue.request}: a bounce buffer in DMA memory and the promise to settle. */
class BounceRequest implements Completion {
  addr = -1;
  constructor(
    readonly vq: Virtqueue<unknown>,
    readonly out: Uint8Array,
    readonly inLen: number,
    readonly resolve: (bytes: Uint8Array) => void,
    readonly reject: (e: DeviceError) => void,
  ) {}

  complete(len: number): void {
    const { memory, dma } = this.vq.dev.dmaContext;
    const got = memory.bytes(this.addr + this.out.length, Math.min(len, this.inLen)).slice();
    dma.free(this.addr);
    this.resolve(got);
  }

  fail(error: DeviceError): void {
    this.reject(error);
  }

  reclaim(): void {
    this.vq.dev.dmaContext.dma.free(this.addr);
  }
}

/**
 * One virtqueue as a driver uses it: add buffers, kick, collect used
 * buffers, control callbacks. Wraps the engine's `DriverQueue`.
 *
 * A queue is used in one of two ways. With a {@link VqInfo.callback}, the
 * driver adds buffers with tokens of its own ({@link Virtqueue.addSgs}) and
 * collects them in the callback with {@link Virtqueue.getBuf}. Without one,
 * it is a request queue: {@link Virtqueue.request} (bytes in, bytes out,
 * through a bounce buffer) and {@link Virtqueue.submit} (the driver's own
 * buffers and a {@link Completion}) complete by themselves when the device
 * uses the buffers.
 *
 * Either way the queue fails fast: once it is broken (the device was reset,
 * removed, or set DEVICE_NEEDS_RESET; see {@link DriverDevice.breakQueues}),
 * pending requests fail with a {@link DeviceError} whose code says which,
 * and adding buffers or kicking throws one.
 *
 * @example A request queue: bytes out, the device's bytes back
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "./bus.ts";
 * import type { Virtqueue } from "./driver.ts";
 * import { DeviceError } from "./errors.ts";
 * import { DmaAllocator, GuestMemory } from "./memory.ts";
 * import { NullDevice } from "./devices/null/device.ts";
 * import { MmioDevice, probeMmio } from "./transport/mmio/mod.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * let vq: Virtqueue | undefined;
 * await bus.registerDriver({
 *   name: "demo",
 *   idTable: [{ device: NullDevice.DEVICE_ID }],
 *   featureTable: [],
 *   probe(dev) {
 *     [vq] = dev.findVqs([{ name: "requests" }]); // no callback: a request queue
 *   },
 *   remove(dev) {
 *     dev.reset();
 *     dev.delVqs();
 *   },
 * });
 * const model = new NullDevice({ writeLen: 4 });
 * const dev = await bus.addDevice(probeMmio(new MmioDevice(model, memory))!);
 * const reply = await vq!.request(new Uint8Array([1, 2]), 8); // 2 bytes out, room for 8 back
 * assert.equal(reply.length, 4); // the null device reports 4 bytes written
 *
 * model.hold = true; // the device keeps the next request...
 * const pending = vq!.request(new Uint8Array([3]), 8);
 * dev.reset(); // ...and is reset: the request fails at once
 * await assert.rejects(pending, (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET");
 * assert.throws(() => vq!.kick(), DeviceError); // and the queue refuses new work
 * await bus.removeDevice(dev);
 * ```
 */
export class Virtqueue<T = unknown> {
  /** The owning device. */
  readonly dev: DriverDevice;
  /** Queue index. */
  readonly index: number;
  /** The name given in {@link VqInfo}. */
  readonly name: string;
  /** The engine queue. */
  readonly queue: DriverQueue<T>;
  readonly #callback: ((vq: Virtqueue<T>) => void) | undefined;
  readonly #onBroken: ((vq: Virtqueue<T>, error: DeviceError) => void) | undefined;
  readonly #free: () => void;
  #cbEnabled = true;
  #error: DeviceError | undefined;
  #released = false;
  /** Completions of {@link Virtqueue.submit} the device still holds. */
  readonly #pending: Set<Completion> = new Set();
  /** Requests of {@link Virtqueue.request} waiting for descriptors or DMA memory, in order. */
  readonly #waiting: BounceRequest[] = [];
  #pumpScheduled = false;
  /** Where {@link Virtqueue.interrupt} collects used requests (no object per request). */
  readonly #slot: UsedBufferSlot<T> = { token: undefined, len: 0 };
  /** 0 unused yet, 1 buffers with tokens ({@link Virtqueue.addSgs}), 2 requests ({@link Virtqueue.submit}). */
  #mode = 0;

  /** Made by {@link DriverDevice.findVqs}. */
  constructor(
    dev: DriverDevice,
    index: number,
    info: VqInfo<T>,
    queue: DriverQueue<T>,
    free: () => void,
  ) {
    this.dev = dev;
    this.index = index;
    this.name = info.name;
    this.queue = queue;
    this.#callback = info.callback;
    this.#onBroken = info.onBroken;
    this.#free = free;
  }

  /** Queue size. */
  get size(): number {
    return this.queue.size;
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.queue.numFree;
  }

  /** True once the queue is broken (device reset, removed, needs reset) or deleted: every add is refused. */
  get broken(): boolean {
    return this.#error !== undefined;
  }

  /** Why the queue is broken, or `undefined` while it works. */
  get brokenError(): DeviceError | undefined {
    return this.#error;
  }

  #check(): void {
    const e = this.#error;
    if (e !== undefined) {
      throw new DeviceError(`${e.message}: queue ${this.index} (${this.name}) is broken`, {
        code: e.code,
      });
    }
  }

  /** Expose a buffer: `out` device-readable, `in_` device-writable parts, `token` handed back later. */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    this.#check();
    if (this.#mode !== 1) this.#setMode(1);
    this.queue.addSgs(out, in_, token);
  }

  #setMode(mode: number): void {
    if (this.#mode !== 0) {
      throw new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) already carries ${
          this.#mode === 1 ? "buffers with tokens (addSgs)" : "requests (submit/request)"
        }; one queue takes one kind`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_MIXED" },
      );
    }
    this.#mode = mode;
  }

  /** Expose a device-readable buffer. */
  addOutbuf(sg: Sg, token: T): void {
    this.addSgs([sg], [], token);
  }

  /** Expose a device-writable buffer. */
  addInbuf(sg: Sg, token: T): void {
    this.addSgs([], [sg], token);
  }

  /**
   * Expose the driver's own buffers as one request on a queue without a
   * callback; `completion` learns how it ends. Throws like
   * {@link Virtqueue.addSgs} (a full queue, a broken one); does not kick.
   * Allocates nothing: make completions once and reuse them.
   */
  submit(out: readonly Sg[], in_: readonly Sg[], completion: Completion): void {
    this.#check();
    if (this.#callback !== undefined) {
      throw new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) has a callback; submit and request need a queue without one`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_HAS_CALLBACK" },
      );
    }
    if (this.#mode !== 2) this.#setMode(2);
    // A request queue's tokens are all completions; the cast stays inside this class.
    this.queue.addSgs(out, in_, completion as unknown as T);
    this.#pending.add(completion);
  }

  /**
   * One request through a bounce buffer: `out` is copied into DMA memory as
   * the device-readable part, `inLen` device-writable bytes follow, and the
   * promise resolves with a copy of the bytes the device wrote (its used
   * length, at most `inLen`). Kicks. When the ring or DMA memory is full the
   * request waits, in order, for earlier ones to complete. Rejects with a
   * {@link DeviceError} when the queue is or becomes broken.
   */
  request(out: Uint8Array, inLen: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(inLen) || inLen < 0 || out.length + inLen === 0) {
      return Promise.reject(
        new ArgumentError(
          `${this.dev.name}: request of ${out.length} bytes out and ${inLen} in: need a non-negative integer inLen and at least one byte`,
          { code: "ERR_VIRTIO_ARGUMENT_REQUEST_LENGTH" },
        ),
      );
    }
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const r = new BounceRequest(this as Virtqueue<unknown>, out, inLen, resolve, reject);
      if (this.#waiting.length > 0 || !this.#start(r)) this.#waiting.push(r);
    });
  }

  /** Place `r` in the ring; false when it must wait for room. */
  #start(r: BounceRequest): boolean {
    const nOut = r.out.length > 0 ? 1 : 0;
    const nIn = r.inLen > 0 ? 1 : 0;
    const { memory, dma } = this.dev.dmaContext;
    let addr = -1;
    if (this.queue.canAdd(nOut, nIn)) addr = dma.tryAlloc(r.out.length + r.inLen, 8);
    if (addr < 0) {
      if (this.#pending.size > 0) return false;
      // Nothing in flight will ever make room.
      r.reject(
        new DeviceError(
          `${this.dev.name}: queue ${this.index} (${this.name}): a request of ${r.out.length} + ${r.inLen} bytes never fits (ring or DMA memory too small)`,
          { code: "ERR_VIRTIO_DEVICE_REQUEST_TOO_BIG" },
        ),
      );
      return true;
    }
    r.addr = addr;
    if (nOut) memory.write(addr, r.out);
    try {
      this.submit(
        nOut ? [{ addr, len: r.out.length }] : [],
        nIn ? [{ addr: addr + r.out.length, len: r.inLen }] : [],
        r,
      );
    } catch (e) {
      dma.free(addr); // never reached the ring
      throw e;
    }
    this.kick();
    return true;
  }

  #pump(): void {
    this.#pumpScheduled = false;
    while (this.#waiting.length > 0 && this.#error === undefined) {
      const r = this.#waiting[0];
      try {
        if (!this.#start(r)) return;
      } catch (e) {
        // Refused (the queue was given buffers with tokens meanwhile, say): this request fails.
        r.reject(e instanceof DeviceError ? e : new DeviceError(String(e), { cause: e }));
      }
      this.#waiting.shift();
    }
  }

  /** Publish added buffers and return whether the device needs a notification. */
  kickPrepare(): boolean {
    this.#check();
    return this.queue.kick();
  }

  /** Notify the device. */
  notify(): void {
    this.#check();
    this.dev.transport.notify(this.index);
  }

  /** Publish added buffers and notify the device if it asked for it. Returns whether it notified. */
  kick(): boolean {
    if (this.kickPrepare()) {
      this.notify();
      return true;
    }
    return false;
  }

  /** The next used buffer: its token and the bytes the device wrote; `null` when none or broken. */
  getBuf(): { token: T; len: number } | null {
    if (this.#error !== undefined) return null;
    return this.queue.getBuf();
  }

  /** Ask the device not to interrupt for this queue (a hint) and stop callbacks. */
  disableCb(): void {
    this.#cbEnabled = false;
    this.queue.disableCb();
  }

  /** Re-enable callbacks; false if buffers arrived meanwhile (then poll again). */
  enableCb(): boolean {
    this.#cbEnabled = true;
    return this.queue.enableCb();
  }

  /** Re-enable callbacks after most outstanding buffers are used (EVENT_IDX); false as {@link Virtqueue.enableCb}. */
  enableCbDelayed(): boolean {
    this.#cbEnabled = true;
    return this.queue.enableCbDelayed();
  }

  /** Take back a buffer the device never used (only once the device is reset). */
  detachUnusedBuf(): T | null {
    return this.queue.detachUnusedBuf();
  }

  /**
   * Interrupt entry (Linux `vring_interrupt`): run the callback if enabled
   * and buffers are used; on a request queue, complete the used requests.
   */
  interrupt(): void {
    if (this.#error !== undefined || !this.#cbEnabled) return;
    if (this.#mode === 2) {
      if (this.#pending.size > 0) this.#collect();
      return;
    }
    if (this.#callback === undefined) return;
    if (!this.queue.hasUsed()) return;
    // No re-arming here: while callbacks are on, the queue's getBuf moves
    // used_event (or the packed descriptor event) as Linux's does.
    this.#callback(this);
  }

  /** Completes every used request of a request queue, then starts waiting ones. */
  #collect(): void {
    const q = this.queue;
    const slot = this.#slot;
    while (q.getBufInto(slot)) {
      const c = slot.token as unknown as Completion;
      slot.token = undefined; // the slot holds no completion past its turn
      if (this.#pending.delete(c)) c.complete(slot.len);
      else c.reclaim?.();
    }
    if (this.#waiting.length > 0 && !this.#pumpScheduled) {
      // Not from inside the interrupt: a kick there could re-enter the device.
      this.#pumpScheduled = true;
      queueMicrotask(() => this.#pump());
    }
  }

  /**
   * Break the queue with `error` (see {@link DriverDevice.breakQueues}):
   * waiting and pending requests fail with it, and every later add or kick
   * throws a {@link DeviceError} with its code. Buffers stay in the ring
   * until {@link Virtqueue.drain}. Only the first error counts.
   */
  markBroken(error: DeviceError): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    for (const r of this.#waiting.splice(0)) r.fail(error);
    if (this.#pending.size > 0) {
      const failed = [...this.#pending];
      // Still in the ring (the device may not be reset yet): failed now, reclaimed in drain().
      this.#pending.clear();
      for (const c of failed) c.fail(error);
    }
    this.#onBroken?.(this, error);
  }

  /**
   * Every outstanding token, used ones first, then unused (only once the
   * device is reset). Requests of a request queue are not returned: those
   * still pending fail and each is reclaimed ({@link Completion.reclaim}).
   */
  drain(): T[] {
    const out: T[] = [];
    const requests = this.#mode === 2;
    const reclaimed: Completion[] = [];
    for (let b = this.queue.getBuf(); b !== null; b = this.queue.getBuf()) {
      if (requests) reclaimed.push(b.token as unknown as Completion);
      else out.push(b.token);
    }
    for (let t = this.queue.detachUnusedBuf(); t !== null; t = this.queue.detachUnusedBuf()) {
      if (requests) reclaimed.push(t as unknown as Completion);
      else out.push(t);
    }
    if (reclaimed.length > 0) {
      const err = this.#error ?? new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) was deleted`,
        { code: ERR_VIRTIO_DEVICE_QUEUE_DELETED },
      );
      for (const c of reclaimed) {
        if (this.#pending.delete(c)) c.fail(err);
        c.reclaim?.();
      }
    }
    return out;
  }

  /** Mark broken (`ERR_VIRTIO_DEVICE_QUEUE_DELETED` unless broken already) and free the ring memory. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.markBroken(
      new DeviceError(`${this.dev.name}: queue ${this.index} (${this.name}) was deleted`, {
        code: ERR_VIRTIO_DEVICE_QUEUE_DELETED,
      }),
    );
    this.#free();
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

/** One host-side ring a driver asks for in {@link DriverDevice.findVrh}. */
export interface VrhInfo {
  /** A name for logs. */
  readonly name: string;
  /** Ring size; default the device's maximum (capped at 256). */
  readonly size?: number;
  /**
   * Called with the ring's zeroed areas before the transport learns of
   * them: write into the descriptor table the buffers the driver lends the
   * device (see docs/devices/caif.md).
   */
  readonly lend?: (ring: QueueAddresses) => void;
  /**
   * Called on an interrupt for the ring while it has available buffers and
   * is not broken (Linux's vringh callback).
   */
  readonly callback: (vrh: HostRing) => void;
  /** Called once when the ring breaks (see {@link DriverDevice.breakQueues}). */
  readonly onBroken?: (vrh: HostRing, error: DeviceError) => void;
}

/**
 * A ring the device fills and the driver consumes (Linux's `struct vringh`
 * as `find_vrhs` hands it out): {@link HostRing.queue} is the device side of
 * the ring in our engine; the driver pops what the device made available,
 * returns it used, and calls {@link HostRing.notify} when
 * {@link DeviceQueue.needsNotification} says so (Linux `vringh_notify`).
 */
export class HostRing {
  /** The device the ring belongs to. */
  readonly dev: DriverDevice;
  /** The queue index. */
  readonly index: number;
  /** The name given in {@link VrhInfo}. */
  readonly name: string;
  /** Our consuming side of the ring. */
  readonly queue: DeviceQueue;
  /** Where the ring lives. */
  readonly addresses: QueueAddresses;
  readonly #info: VrhInfo;
  readonly #free: () => void;
  #error: DeviceError | undefined;
  #released = false;

  /** Made by {@link DriverDevice.findVrh}. */
  constructor(
    dev: DriverDevice,
    index: number,
    info: VrhInfo,
    queue: DeviceQueue,
    addresses: QueueAddresses,
    free: () => void,
  ) {
    this.dev = dev;
    this.index = index;
    this.name = info.name;
    this.queue = queue;
    this.addresses = addresses;
    this.#info = info;
    this.#free = free;
  }

  /** The error the ring broke with, if it did. */
  get brokenError(): DeviceError | undefined {
    return this.#error;
  }

  /** Tell the device we returned used buffers (Linux `vringh_notify`); refused once broken. */
  notify(): void {
    if (this.#error !== undefined) {
      throw new DeviceError(
        `${this.dev.name}: ring ${this.name} is broken: ${this.#error.message}`,
        {
          code: this.#error.code,
        },
      );
    }
    this.dev.transport.notify(this.index);
  }

  /** Interrupt entry: the callback runs when buffers are available. */
  interrupt(): void {
    if (this.#error !== undefined || this.#released) return;
    if (!this.queue.hasAvailable()) return;
    this.#info.callback(this);
  }

  /** Break the ring (see {@link DriverDevice.breakQueues}); only the first error counts. */
  markBroken(error: DeviceError): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#info.onBroken?.(this, error);
  }

  /** Free the ring's memory ({@link DriverDevice.delVqs} does it). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#error === undefined) {
      this.#error = new DeviceError(`${this.dev.name}: ring ${this.name} was deleted`, {
        code: ERR_VIRTIO_DEVICE_QUEUE_DELETED,
      });
    }
    this.#free();
  }
}
