/**
 * A ring the device fills and the driver consumes ({@link HostRing},
 * Linux's `struct vringh`), set up by {@link DriverDevice.findVrh};
 * `src/driver.ts` re-exports this module.
 *
 * @module
 */

import type { DriverDevice } from "./driver.ts";
import { ERR_VIRTIO_DEVICE_QUEUE_DELETED } from "./driver_virtqueue.ts";
import { DeviceError } from "./errors.ts";
import type { QueueAddresses } from "./virtqueue/layout.ts";
import type { DeviceQueue } from "./virtqueue/queue.ts";

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
