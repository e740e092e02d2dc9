/**
 * The virtio-rng driver (spec 5.4, driver side): a {@link VirtioDriver} for
 * the bus, and {@link RngSource}, which reads random bytes from the device
 * with `read(n)`. Requests are device-writable buffers; 5.4.6.1: the driver
 * uses the length the device wrote, and asks again for the rest when the
 * device gave fewer bytes than asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { PciFunction, probePci } from "../../transport/pci/mod.ts";
 * import { RngDevice } from "./device.ts";
 * import { rngDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const driver = rngDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probePci(new PciFunction(new RngDevice(), memory))!);
 * const rng = await driver.nextSource();
 * const bytes = await rng.read(32);
 * assert.equal(bytes.length, 32);
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import { VIRTIO_ID_RNG } from "../../generated/common.ts";
import { Arrivals } from "../_arrivals.ts";

/** Options of {@link rngDriver}. */
export interface RngDriverOptions {
  /** Queue size to ask for (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Largest buffer of one request (default 4096). */
  readonly chunk?: number;
}

/** One entropy device as the driver sees it. */
export class RngSource {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** The request queue (a request queue: see {@link Virtqueue.request}). */
  readonly vq: Virtqueue;
  /** Random bytes received. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }
  #bytesReceived = 0;
  readonly #chunk: number;

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: RngDriverOptions) {
    this.dev = dev;
    this.#chunk = options.chunk ?? 4096;
    [this.vq] = dev.findVqs([{ name: "requestq", size: options.queueSize }]);
  }

  /** Reads exactly `n` random bytes from the device. */
  async read(n: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ArgumentError(`${this.dev.name}: cannot read ${n} bytes (an integer from 0)`, {
        code: "ERR_VIRTIO_ARGUMENT_RNG_LENGTH",
      });
    }
    const out = new Uint8Array(n);
    await this.fill(out);
    return out;
  }

  /** Fills `buf` with random bytes from the device (several requests when it is large). */
  async fill(buf: Uint8Array): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const parts: Promise<Uint8Array>[] = [];
      for (let o = done; o < buf.length; o += this.#chunk) {
        parts.push(this.request(Math.min(this.#chunk, buf.length - o)));
      }
      // Devices may return fewer bytes than asked: keep what came, ask again for the rest.
      const before = done;
      for (const got of await Promise.all(parts)) {
        const n = Math.min(got.length, buf.length - done);
        buf.set(got.subarray(0, n), done);
        done += n;
      }
      if (done === before) {
        throw new DeviceError(`${this.dev.name}: the device returned no random bytes`, {
          code: "ERR_VIRTIO_DEVICE_RNG_EMPTY",
        });
      }
    }
  }

  /**
   * One request of `len` bytes: resolves with the bytes the device wrote
   * (5.4.6.1: only the written length counts, maybe fewer than asked).
   * Rejects with the queue's error once the device is reset or gone.
   */
  async request(len: number): Promise<Uint8Array> {
    const got = await this.vq.request(EMPTY, len);
    this.#bytesReceived += got.length;
    return got;
  }

  /** Tears the queue down (device removal); outstanding requests have failed already. */
  detach(): void {
    this.dev.reset();
    this.dev.delVqs();
  }
}

const EMPTY = new Uint8Array(0);

/** The rng driver plus the sources it has bound. */
export interface RngDriver extends VirtioDriver {
  /** Bound sources, by device. */
  readonly sources: Map<DriverDevice, RngSource>;
  /** The next source to be probed (or the first already probed and not yet taken). */
  nextSource(): Promise<RngSource>;
}

/** A virtio-rng driver for the bus. */
export function rngDriver(options: RngDriverOptions = {}): RngDriver {
  const arrivals = new Arrivals<RngSource>();
  return {
    name: "virtio-rng",
    idTable: [{ device: VIRTIO_ID_RNG }],
    featureTable: [],
    sources: arrivals.bound,
    nextSource(): Promise<RngSource> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const src = new RngSource(dev, options);
      dev.deviceReady();
      arrivals.arrive(dev, src);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
  };
}
