/**
 * Where a virtqueue lives and how it behaves: its three guest addresses
 * (spec 2.6), the options negotiated features select, ring sizes and
 * alignments for both layouts (2.7 table, 2.8.10.1), the legacy contiguous
 * split layout (2.7.2) and a helper that places a queue with a
 * {@link DmaAllocator}.
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { DmaAllocator } from "../memory.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
} from "../generated/common.ts";
import {
  PvirtqDesc,
  PvirtqEventSuppress,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
} from "../generated/virtqueue.ts";

/** Largest queue size of either layout (2.7: 32768; 2.8: 2^15). */
export const MAX_QUEUE_SIZE = 32768;

/** Guest addresses of one virtqueue's three areas (spec 2.6). */
export interface QueueAddresses {
  /** Queue size: descriptors in the table or ring. */
  readonly size: number;
  /** Descriptor Area: descriptor table (split) or descriptor ring (packed). */
  readonly desc: number;
  /** Driver Area: available ring (split) or driver event suppression (packed). */
  readonly driver: number;
  /** Device Area: used ring (split) or device event suppression (packed). */
  readonly device: number;
}

/** How a queue behaves: its layout and the ring features negotiated for it. */
export interface QueueOptions {
  /** Packed layout (`VIRTIO_F_RING_PACKED`); split otherwise. */
  readonly packed: boolean;
  /** `VIRTIO_F_EVENT_IDX`: event indices / descriptor-specific events. */
  readonly eventIdx: boolean;
  /** `VIRTIO_F_INDIRECT_DESC`: indirect descriptor tables. */
  readonly indirect: boolean;
  /** `VIRTIO_F_IN_ORDER`: buffers are used in the order they were made available. */
  readonly inOrder: boolean;
  /** The queue's index, for error messages. */
  readonly index: number;
  /**
   * Driver side, with `indirect`: place a buffer of several elements in
   * direct descriptors while the ring has room for all of them, and take an
   * indirect table only when it has not (2.7.5.3 leaves the choice to the
   * driver). Default false: a table for every buffer of two or more
   * elements, as Linux's virtio_ring does. A driver whose requests are small
   * and whose ring has room for them saves a table's allocation and the
   * device's extra walk per buffer.
   */
  readonly preferDirect?: boolean;
}

/**
 * The {@link QueueOptions} that negotiated `features` (a bit mask) select for
 * queue `index`.
 *
 * @example
 * ```ts
 * import { queueOptionsFromFeatures } from "./layout.ts";
 *
 * const opts = queueOptionsFromFeatures((1n << 29n) | (1n << 34n), 0);
 * if (!opts.packed || !opts.eventIdx || opts.indirect) throw new Error("unreachable");
 * ```
 */
export function queueOptionsFromFeatures(features: bigint, index: number): QueueOptions {
  const has = (bit: number) => (features & (1n << BigInt(bit))) !== 0n;
  return {
    packed: has(VIRTIO_F_RING_PACKED),
    eventIdx: has(VIRTIO_F_EVENT_IDX),
    indirect: has(VIRTIO_F_INDIRECT_DESC),
    inOrder: has(VIRTIO_F_IN_ORDER),
    index,
  };
}

/** Sizes and minimum alignments, in bytes, of a queue's three areas. */
export interface RingSizes {
  /** Bytes of the Descriptor Area. */
  readonly desc: number;
  /** Bytes of the Driver Area. */
  readonly driver: number;
  /** Bytes of the Device Area. */
  readonly device: number;
  /** Alignment of the Descriptor Area. */
  readonly descAlign: number;
  /** Alignment of the Driver Area. */
  readonly driverAlign: number;
  /** Alignment of the Device Area. */
  readonly deviceAlign: number;
}

/**
 * Sizes and alignments of the three areas of a queue of `size` entries
 * (spec 2.7 table for split, 2.8.10.1 for packed). Throws a
 * {@link QueueError} for a size the layout does not allow.
 *
 * @example
 * ```ts
 * import { ringSizes } from "./layout.ts";
 *
 * const s = ringSizes(256, false);
 * if (s.desc !== 4096 || s.driver !== 518 || s.device !== 2054) throw new Error("unreachable");
 * ```
 */
export function ringSizes(size: number, packed: boolean, index: number = -1): RingSizes {
  checkQueueSize(size, packed, index);
  if (packed) {
    return {
      desc: PvirtqDesc.SIZE * size,
      driver: PvirtqEventSuppress.SIZE,
      device: PvirtqEventSuppress.SIZE,
      descAlign: 16,
      driverAlign: 4,
      deviceAlign: 4,
    };
  }
  return {
    desc: VirtqDesc.SIZE * size,
    driver: VirtqAvail.size(size),
    device: VirtqUsed.size(size),
    descAlign: 16,
    driverAlign: 2,
    deviceAlign: 4,
  };
}

/** Throws a {@link QueueError} unless `size` is a valid queue size for the layout. */
export function checkQueueSize(size: number, packed: boolean, index: number = -1): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_QUEUE_SIZE) {
    throw new QueueError(index, undefined, `queue size ${size} is outside 1..${MAX_QUEUE_SIZE}`, {
      code: "ERR_VIRTIO_QUEUE_SIZE",
    });
  }
  // 2.7: the split queue size is always a power of 2; 2.8.10.1: packed need not be.
  if (!packed && (size & (size - 1)) !== 0) {
    throw new QueueError(index, undefined, `split queue size ${size} is not a power of 2`, {
      code: "ERR_VIRTIO_QUEUE_SIZE",
    });
  }
}

/** Offsets of the legacy interface's contiguous split layout (spec 2.7.2). */
export interface LegacyLayout {
  /** Offset of the descriptor table (always 0). */
  readonly desc: number;
  /** Offset of the available ring. */
  readonly driver: number;
  /** Offset of the used ring (aligned to Queue Align). */
  readonly device: number;
  /** Total bytes to allocate (2.7.2's `virtq_size`). */
  readonly total: number;
}

/**
 * The legacy layout of a split queue of `size` entries in one block whose
 * used ring starts at a multiple of `align` (Queue Align, usually 4096).
 *
 * @example
 * ```ts
 * import { splitLegacyLayout } from "./layout.ts";
 *
 * const l = splitLegacyLayout(256, 4096);
 * if (l.device !== 8192 || l.total !== 12288) throw new Error("unreachable");
 * ```
 */
export function splitLegacyLayout(size: number, align: number): LegacyLayout {
  checkQueueSize(size, false);
  const up = (x: number) => Math.ceil(x / align) * align;
  const driver = VirtqDesc.SIZE * size;
  const device = up(driver + VirtqAvail.size(size));
  return { desc: 0, driver, device, total: device + up(VirtqUsed.size(size)) };
}

/**
 * Places a queue of `size` entries with `alloc`, honouring each area's
 * alignment; returns its addresses. Zero the areas before use (a fresh
 * `ArrayBuffer` already is).
 *
 * @example
 * ```ts
 * import { DmaAllocator } from "../memory.ts";
 * import { allocateQueue } from "./layout.ts";
 *
 * const addrs = allocateQueue(new DmaAllocator(0, 1 << 16), 64, false);
 * if (addrs.desc % 16 !== 0 || addrs.device % 4 !== 0) throw new Error("unreachable");
 * ```
 */
export function allocateQueue(alloc: DmaAllocator, size: number, packed: boolean): QueueAddresses {
  const s = ringSizes(size, packed);
  return {
    size,
    desc: alloc.alloc(s.desc, s.descAlign),
    driver: alloc.alloc(s.driver, s.driverAlign),
    device: alloc.alloc(s.device, s.deviceAlign),
  };
}
