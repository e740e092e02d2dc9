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

import { type ChainServer, ConfigDevice, type DeviceContext } from "../../device.ts";
import { featureMask } from "../../features.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../../generated/common.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";

/** The null device's config: one le64 `value` (not a spec layout: the null device is ours). */
export class NullConfig {
  /** Size in bytes. */
  static readonly SIZE: number = 8;
  /** The view the accessor reads and writes. */
  readonly view: DataView;
  /** Byte offset within {@link NullConfig.view}. */
  readonly offset: number;
  /** An accessor over `view` at `offset`. */
  constructor(view: DataView, offset: number = 0) {
    this.view = view;
    this.offset = offset;
  }
  /** `value`: le64 at offset 0. */
  get value(): bigint {
    return this.view.getBigUint64(this.offset, true);
  }
  set value(v: bigint) {
    this.view.setBigUint64(this.offset, v, true);
  }
}
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
export class NullDevice extends ConfigDevice<NullConfig> {
  /** The device id the null device reports. */
  static readonly DEVICE_ID: number = 63;
  /** The device id ({@link NullDevice.DEVICE_ID} unless the options chose another). */
  readonly deviceId: number;
  /** Offered features. */
  readonly features: bigint;
  /** One maximum size per queue. */
  readonly queueMaxSizes: readonly number[];
  /** Requests completed since creation. */
  get completed(): number {
    return this.#completed;
  }
  #completed = 0;
  /** Times {@link VirtioDevice.activate} was called. */
  get activations(): number {
    return this.#activations;
  }
  #activations = 0;
  /** Times {@link VirtioDevice.reset} was called. */
  get resets(): number {
    return this.#resets;
  }
  #resets = 0;
  /** The last negotiated features. */
  get negotiated(): bigint {
    return this.#negotiated;
  }
  #negotiated = 0n;
  /** Hold requests instead of completing them. */
  hold: boolean;
  readonly #writeLen: number;
  readonly #server: ChainServer = {
    serveChain: (c: DescriptorChain) => {
      this.#completed++;
      return this.#writeLen === 0 ? 0 : Math.min(this.#writeLen, c.writableLength);
    },
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A null device with `options.queues` queues of `options.queueSize` entries. */
  constructor(options: NullDeviceOptions = {}) {
    super(NullConfig);
    this.deviceId = options.deviceId ?? NullDevice.DEVICE_ID;
    this.features = options.features ??
      featureMask([VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC]);
    this.queueMaxSizes = Array.from(
      { length: options.queues ?? 1 },
      () => options.queueSize ?? 256,
    );
    this.#writeLen = options.writeLen ?? 0;
    this.hold = options.hold ?? false;
  }

  /** Change the config `value` (bumping the generation) and notify an active driver. */
  setValue(value: bigint): void {
    this.updateConfig((c) => c.value = value);
  }

  /** Start serving. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#negotiated = ctx.features;
    this.#activations++;
  }

  /** Complete every available request of queue `index`, unless holding. */
  queueNotify(index: number): void {
    if (!this.hold) this.serve(index, this.#server);
  }

  /** Drop the context. */
  override reset(): void {
    super.reset();
    this.#resets++;
  }
}
