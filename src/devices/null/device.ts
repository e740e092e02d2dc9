/**
 * A null device: the smallest device model, for tests and benchmarks of
 * transports and the driver API. It completes every request at once,
 * writing nothing, and has an 8-byte config space (a le64 `value` the test
 * can change to raise a configuration change).
 *
 * It is not a device type of the spec: its id, {@link NullDevice.DEVICE_ID},
 * is 63, the last id that still has a PCI device id (0x107f) and is not
 * assigned by the spec. Tests of transitional PCI can borrow a real id with
 * the `deviceId` option.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NullDevice } from "./device.ts";
 *
 * const dev = new NullDevice({ queues: 2, queueSize: 128 });
 * assert.deepEqual(dev.queueMaxSizes, [128, 128]);
 * dev.setValue(7n);
 * assert.equal(dev.readConfig(0, 4), 7);
 * ```
 *
 * @module
 */

import {
  ConfigSpace,
  type ConfigWidth,
  type DeviceContext,
  type VirtioDevice,
} from "../../device.ts";

/** Options of a {@link NullDevice}. */
export interface NullDeviceOptions {
  /** Device id to report (default {@link NullDevice.DEVICE_ID}). */
  readonly deviceId?: number;
  /** Number of queues (default 1). */
  readonly queues?: number;
  /** Maximum size of every queue (default 256). */
  readonly queueSize?: number;
  /** Offered features (default `VIRTIO_F_VERSION_1` and `VIRTIO_F_EVENT_IDX`, `VIRTIO_F_INDIRECT_DESC`). */
  readonly features?: bigint;
  /** Bytes the device reports written for each request, capped at the writable length (default 0). */
  readonly writeLen?: number;
  /** Hold requests instead of completing them (to keep buffers in flight). */
  readonly hold?: boolean;
}

/** A device that completes every request immediately. */
export class NullDevice implements VirtioDevice {
  /** The device id the null device reports. */
  static readonly DEVICE_ID: number = 63;
  /** The device id ({@link NullDevice.DEVICE_ID} unless the options chose another). */
  readonly deviceId: number;
  /** Offered features. */
  readonly features: bigint;
  /** One maximum size per queue. */
  readonly queueMaxSizes: readonly number[];
  /** Config bytes: a le64 `value` at offset 0. */
  readonly config: ConfigSpace = new ConfigSpace(8);
  /** Requests completed since creation. */
  completed = 0;
  /** Times {@link VirtioDevice.activate} was called. */
  activations = 0;
  /** Times {@link VirtioDevice.reset} was called. */
  resets = 0;
  /** The last negotiated features. */
  negotiated = 0n;
  /** Hold requests instead of completing them. */
  hold: boolean;
  readonly #writeLen: number;
  #ctx: DeviceContext | undefined;

  /** A null device with `options.queues` queues of `options.queueSize` entries. */
  constructor(options: NullDeviceOptions = {}) {
    this.deviceId = options.deviceId ?? NullDevice.DEVICE_ID;
    this.features = options.features ?? ((1n << 32n) | (1n << 29n) | (1n << 28n));
    this.queueMaxSizes = Array.from(
      { length: options.queues ?? 1 },
      () => options.queueSize ?? 256,
    );
    this.#writeLen = options.writeLen ?? 0;
    this.hold = options.hold ?? false;
  }

  /** 8 bytes. */
  get configSize(): number {
    return this.config.size;
  }

  /** The config generation. */
  get configGeneration(): number {
    return this.config.generation;
  }

  /** The live context, while activated. */
  get context(): DeviceContext | undefined {
    return this.#ctx;
  }

  /** Read config. */
  readConfig(offset: number, width: ConfigWidth): number {
    return this.config.read(offset, width);
  }

  /** Config is read-only: writes are ignored. */
  writeConfig(_offset: number, _width: ConfigWidth, _value: number): void {}

  /** Change the config `value` (bumping the generation) and notify an active driver. */
  setValue(value: bigint): void {
    this.config.update((v) => v.setBigUint64(0, value, true));
    this.#ctx?.configChanged();
  }

  /** Start serving. */
  activate(ctx: DeviceContext): void {
    this.#ctx = ctx;
    this.negotiated = ctx.features;
    this.activations++;
  }

  /** Complete every available request of queue `index`. */
  queueNotify(index: number): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[index];
    if (ctx === undefined || q === undefined || this.hold) return;
    const writeLen = this.#writeLen;
    let n = 0;
    for (let c = q.pop(); c !== null; c = q.pop()) {
      q.addUsed(c, writeLen === 0 ? 0 : Math.min(writeLen, c.writableLength));
      n++;
    }
    this.completed += n;
    if (n && q.needsNotification()) ctx.notifyUsed(index);
  }

  /** Drop the context. */
  reset(): void {
    this.#ctx = undefined;
    this.resets++;
  }
}
