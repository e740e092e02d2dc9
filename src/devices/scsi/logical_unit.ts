/**
 * A logical unit of a SCSI target ({@link ScsiLogicalUnit}): a blk storage
 * seen as logical blocks, with the identity INQUIRY reports and the limits
 * its block limits VPD page gives.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "../blk/storage.ts";
 * import { ScsiLogicalUnit } from "./logical_unit.ts";
 *
 * const u = new ScsiLogicalUnit(3, { storage: new MemoryStorage(new Uint8Array(8192)), blockSize: 4096 });
 * if (u.blocks !== 2 || u.serial !== "tv-scsi-3" || u.canUnmap !== true) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import type { BlockStorage } from "../blk/storage.ts";

/** Most UNMAP block descriptors one command may carry (block limits VPD page). */
export const SCSI_MAX_UNMAP_DESCRIPTORS = 256;

/** Options of one logical unit. */
export interface ScsiLunOptions {
  /** The storage that backs it (a blk storage). */
  readonly storage: BlockStorage;
  /** Logical block size: a power of two from 512 (default 512). */
  readonly blockSize?: number;
  /** Refuse writes (DATA PROTECT / WRITE PROTECTED; the WP bit in mode data). */
  readonly readOnly?: boolean;
  /** Unit serial number (VPD 0x80), ASCII (default `tv-scsi-<lun>`). */
  readonly serial?: string;
  /** Product identification (INQUIRY), ASCII, at most 16 (default "VIRTIO-SCSI"). */
  readonly product?: string;
}

/** One logical unit. */
export class ScsiLogicalUnit {
  /** Its LUN. */
  readonly lun: number;
  /** The storage. */
  readonly storage: BlockStorage;
  /** Logical block size in bytes. */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: number;
  /** True for a read-only unit. */
  readonly readOnly: boolean;
  /** Serial number (VPD 0x80). */
  readonly serial: string;
  /** Product identification. */
  readonly product: string;

  /** A unit over `options.storage`. */
  constructor(lun: number, options: ScsiLunOptions) {
    const bs = options.blockSize ?? 512;
    if (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) {
      throw new DeviceError(`virtio-scsi: block size ${bs} is not a power of two in 512..65536`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_OPTION",
      });
    }
    this.lun = lun;
    this.storage = options.storage;
    this.blockSize = bs;
    this.blocks = Math.floor(options.storage.size / bs);
    this.readOnly = options.readOnly ?? false;
    this.serial = options.serial ?? `tv-scsi-${lun}`;
    this.product = options.product ?? "VIRTIO-SCSI";
    if (!/^[\x20-\x7e]{1,64}$/.test(this.serial) || !/^[\x20-\x7e]{0,16}$/.test(this.product)) {
      throw new DeviceError(
        "virtio-scsi: serial (1..64) and product (0..16) must be printable ASCII",
        { code: "ERR_VIRTIO_DEVICE_SCSI_OPTION" },
      );
    }
  }

  /** True when UNMAP is offered (the storage can discard). */
  get canUnmap(): boolean {
    return this.storage.discard !== undefined;
  }
}
