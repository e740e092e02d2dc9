/**
 * What only `DriverDevice` does to a {@link Virtqueue}: break it, take its
 * outstanding buffers back, and free it. Users break queues with
 * `DriverDevice.breakQueues` and delete them with `DriverDevice.delVqs`;
 * `src/driver.ts` reaches the queue's private members through
 * {@link vqHooks}, whose functions Virtqueue's `static` block puts in place
 * when `driver_virtqueue.ts` loads (before any queue exists).
 *
 * @module
 */

import type { Virtqueue } from "./driver_virtqueue.ts";
import type { DeviceError } from "./errors.ts";

/** DriverDevice's access to its queues. */
export const vqHooks: {
  /**
   * Breaks `vq` with `error`: waiting and pending requests fail with it, and
   * every later add or kick throws a `DeviceError` with its code. Buffers
   * stay in the ring until {@link vqHooks.drain}. Only the first error counts.
   */
  markBroken: <T>(vq: Virtqueue<T>, error: DeviceError) => void;
  /**
   * Every outstanding token of `vq`, used ones first, then unused (only once
   * the device is reset). Requests of a request queue are not returned: those
   * still pending fail and each is reclaimed (`Completion.reclaim`).
   */
  drain: <T>(vq: Virtqueue<T>) => T[];
  /** Breaks `vq` (`ERR_VIRTIO_DEVICE_QUEUE_DELETED` unless broken already) and frees its ring memory. */
  release: <T>(vq: Virtqueue<T>) => void;
} = { markBroken: notLoaded, drain: () => [], release: notLoaded };

function notLoaded(): void {
  // Replaced by Virtqueue's static block: no Virtqueue exists before driver_virtqueue.ts has run.
}
