/**
 * Feature bits as masks. The spec numbers feature bits
 * (`VIRTIO_F_VERSION_1` is 32, `VIRTIO_BLK_F_RO` is 5); typed-virtio keeps
 * feature sets as `bigint` masks, where bit `n` is `1n << BigInt(n)`. These
 * helpers turn one into the other, for device models (offered features),
 * drivers (feature tables) and the bus (negotiation), and give device models
 * the ring features and the queue-size check they all share.
 *
 * @example
 * ```ts
 * import { bit, checkDeviceQueueSize, featureMask, hasFeature, ringFeatures } from "./features.ts";
 *
 * const offered = featureMask([32, 5]); // VIRTIO_F_VERSION_1, VIRTIO_BLK_F_RO
 * if (offered !== (bit(32) | bit(5)) || !hasFeature(offered, 5)) throw new Error("unreachable");
 * const f = ringFeatures(true); // VERSION_1, EVENT_IDX, INDIRECT_DESC, RING_PACKED
 * if (!hasFeature(f, 34) || checkDeviceQueueSize("virtio-rng", 256) !== 256) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ArgumentError } from "./errors.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
} from "./generated/common.ts";

/** The mask of feature bit `n` (`1n << BigInt(n)`). */
export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/** The mask of every feature bit number in `bits` (`featureMask([0, 32])` is `bit(0) | bit(32)`). */
export function featureMask(bits: Iterable<number>): bigint {
  let m = 0n;
  for (const n of bits) m |= 1n << BigInt(n);
  return m;
}

/** Is feature bit `n` set in the mask `features`? */
export function hasFeature(features: bigint, n: number): boolean {
  return (features & (1n << BigInt(n))) !== 0n;
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
 * spec 2.7 / 2.8); throws an {@link ArgumentError}
 * (`ERR_VIRTIO_ARGUMENT_QUEUE_SIZE`) naming `device` otherwise.
 */
export function checkDeviceQueueSize(device: string, size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 32768) {
    throw new ArgumentError(`${device}: queue size ${size} is not an integer in 1..32768`, {
      code: "ERR_VIRTIO_ARGUMENT_QUEUE_SIZE",
    });
  }
  return size;
}
