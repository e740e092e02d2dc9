/**
 * How a virtio-blk disk is addressed and laid out (5.2.4), as both the
 * device model and the driver describe it: the 512-byte sector every request
 * counts in, the CHS geometry and the block topology of `virtio_blk_config`.
 *
 * @example
 * ```ts
 * import { defaultGeometry, SECTOR_SIZE } from "./geometry.ts";
 *
 * const g = defaultGeometry((64 << 20) / SECTOR_SIZE); // a 64 MiB disk
 * if (g.heads !== 16 || g.sectors !== 63 || g.cylinders !== 130) throw new Error("unreachable");
 * ```
 *
 * @module
 */

/** Sector size of virtio-blk requests (5.2.6: `sector` counts 512-byte units). */
export const SECTOR_SIZE = 512;

/** Disk geometry as `virtio_blk_geometry` gives it (5.2.4). */
export interface BlkGeometry {
  /** Cylinders (le16). */
  readonly cylinders: number;
  /** Heads (u8). */
  readonly heads: number;
  /** Sectors per track (u8). */
  readonly sectors: number;
}

/** Block topology as `virtio_blk_topology` gives it (5.2.4). */
export interface BlkTopology {
  /** log2 of logical blocks per physical block. */
  readonly physicalBlockExp: number;
  /** Offset of the first aligned logical block. */
  readonly alignmentOffset: number;
  /** Suggested minimum I/O size in logical blocks. */
  readonly minIoSize: number;
  /** Optimal (suggested maximum) I/O size in logical blocks. */
  readonly optIoSize: number;
}

/** The usual fake CHS geometry for a capacity: 16 heads, 63 sectors per track. */
export function defaultGeometry(capacity: number): BlkGeometry {
  return {
    cylinders: Math.min(0xffff, Math.floor(capacity / (16 * 63))),
    heads: 16,
    sectors: 63,
  };
}
