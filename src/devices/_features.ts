/**
 * Feature-bit and option helpers the device models share: the bit mask of
 * a feature number, the ring features every model offers, and the
 * queue-size check of the constructors.
 *
 * @example
 * ```ts
 * import { bit, checkQueueSize, ringFeatures } from "./_features.ts";
 *
 * const f = ringFeatures(true); // VERSION_1, EVENT_IDX, INDIRECT_DESC, RING_PACKED
 * if ((f & bit(34)) === 0n || checkQueueSize("virtio-rng", 256) !== 256) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { DeviceError } from "../errors.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
} from "../generated/common.ts";

/** The mask of feature bit `n` (`1n << BigInt(n)`). */
export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/**
 * The ring features a device model offers: `VIRTIO_F_VERSION_1`,
 * `VIRTIO_F_EVENT_IDX` and `VIRTIO_F_INDIRECT_DESC`, plus
 * `VIRTIO_F_RING_PACKED` when `packed`.
 */
export function ringFeatures(packed: boolean): bigint {
  const f = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_EVENT_IDX) | bit(VIRTIO_F_INDIRECT_DESC);
  return packed ? f | bit(VIRTIO_F_RING_PACKED) : f;
}

/**
 * Returns `size` when it is a queue size a device may offer (1..32768,
 * spec 2.7 / 2.8); throws a {@link DeviceError} naming `device` otherwise.
 */
export function checkQueueSize(device: string, size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 32768) {
    throw new DeviceError(`${device}: queue size ${size} (1..32768)`, {
      code: "ERR_VIRTIO_DEVICE_QUEUE_SIZE",
    });
  }
  return size;
}
