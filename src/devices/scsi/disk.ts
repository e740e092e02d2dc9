/**
 * One logical unit of a virtio-scsi host as a block device
 * ({@link ScsiDisk}, made by {@link ScsiHost.disk}): whole-block reads and
 * writes (READ(16) / WRITE(16), split by the unit's largest transfer),
 * SYNCHRONIZE CACHE(16), UNMAP and INQUIRY, with the arguments checked
 * before anything is sent.
 *
 * @module
 */

import { ArgumentError, DeviceError } from "../../errors.ts";
import {
  READ_16,
  ScsiLba16Cdb,
  ScsiUnmapCdb,
  ScsiUnmapDescriptor,
  ScsiUnmapHeader,
  SYNCHRONIZE_CACHE_16,
  UNMAP,
  WRITE_16,
} from "../../generated/scsi.ts";
import type { ScsiHost, ScsiInquiry } from "./driver.ts";

/** Facts about a unit the driver learnt when it made the {@link ScsiDisk}. */
export interface ScsiDiskInfo {
  /** Logical block size. */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: number;
  /** UNMAP is supported. */
  readonly thin: boolean;
  /** Writes are refused. */
  readonly readOnly: boolean;
  /** Writes need SYNCHRONIZE CACHE to be stable. */
  readonly writeback: boolean;
  /** Largest transfer in blocks (0: no limit given). */
  readonly maxTransferBlocks: number;
}

/** One logical unit as a block device. */
export class ScsiDisk implements ScsiDiskInfo {
  /** The host. */
  readonly host: ScsiHost;
  /** The LUN. */
  readonly lun: number;
  /** Logical block size in bytes. */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: number;
  /** UNMAP is supported. */
  readonly thin: boolean;
  /** Writes are refused (mode data WP). */
  readonly readOnly: boolean;
  /** Writes need {@link ScsiDisk.flush} to be stable (caching page WCE). */
  readonly writeback: boolean;
  /** Largest transfer in blocks; bigger reads and writes are split. */
  readonly maxTransferBlocks: number;

  /** Made by {@link ScsiHost.disk}. */
  constructor(host: ScsiHost, lun: number, info: ScsiDiskInfo) {
    this.host = host;
    this.lun = lun;
    this.blockSize = info.blockSize;
    this.blocks = info.blocks;
    this.thin = info.thin;
    this.readOnly = info.readOnly;
    this.writeback = info.writeback;
    this.maxTransferBlocks = info.maxTransferBlocks > 0 ? info.maxTransferBlocks : 2048;
  }

  /** Capacity in bytes. */
  get capacity(): number {
    return this.blocks * this.blockSize;
  }

  /** INQUIRY of this unit. */
  inquiry(): Promise<ScsiInquiry> {
    return this.host.inquiry(this.lun);
  }

  /** Reads whole blocks from `lba` into `buf` (READ(16)). */
  async read(lba: number, buf: Uint8Array): Promise<void> {
    await this.#rw(false, lba, buf);
  }

  /** Writes `buf` (whole blocks) at `lba` (WRITE(16)). */
  async write(lba: number, buf: Uint8Array): Promise<void> {
    await this.#rw(true, lba, buf);
  }

  /** SYNCHRONIZE CACHE(16) of the whole unit. */
  async flush(): Promise<void> {
    const cdb = new Uint8Array(16);
    new ScsiLba16Cdb(new DataView(cdb.buffer)).operationCode = SYNCHRONIZE_CACHE_16;
    await this.host.execute(this.lun, cdb);
  }

  /** UNMAP `count` blocks at `lba`. */
  async discard(lba: number, count: number): Promise<void> {
    this.#check(lba, count);
    if (!this.thin) {
      throw new DeviceError(`LUN ${this.lun} does not support UNMAP`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_NO_UNMAP",
      });
    }
    const param = new Uint8Array(ScsiUnmapHeader.SIZE + ScsiUnmapDescriptor.SIZE);
    const pv = new DataView(param.buffer);
    const h = new ScsiUnmapHeader(pv);
    h.unmapDataLength = param.length - 2;
    h.unmapBlockDescriptorDataLength = ScsiUnmapDescriptor.SIZE;
    const d = new ScsiUnmapDescriptor(pv, ScsiUnmapHeader.SIZE);
    d.unmapLogicalBlockAddress = BigInt(lba);
    d.numberOfLogicalBlocks = count;
    const cdb = new Uint8Array(10);
    const c = new ScsiUnmapCdb(new DataView(cdb.buffer));
    c.operationCode = UNMAP;
    c.parameterListLength = param.length;
    await this.host.execute(this.lun, cdb, { dataOut: param });
  }

  #check(lba: number, count: number): void {
    if (
      !Number.isSafeInteger(lba) || lba < 0 || !Number.isSafeInteger(count) || count < 0 ||
      lba + count > this.blocks
    ) {
      throw new ArgumentError(
        `LUN ${this.lun}: ${count} blocks at ${lba} are outside 0..${this.blocks}`,
        { code: "ERR_VIRTIO_ARGUMENT_SCSI_RANGE" },
      );
    }
  }

  async #rw(write: boolean, lba: number, buf: Uint8Array): Promise<void> {
    if (buf.length % this.blockSize !== 0) {
      throw new ArgumentError(
        `LUN ${this.lun}: ${buf.length} bytes is not whole ${this.blockSize}-byte blocks`,
        { code: "ERR_VIRTIO_ARGUMENT_SCSI_LENGTH" },
      );
    }
    const count = buf.length / this.blockSize;
    this.#check(lba, count);
    if (write && this.readOnly) {
      throw new DeviceError(`LUN ${this.lun} is write protected`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_READ_ONLY",
      });
    }
    const parts: Promise<void>[] = [];
    for (let done = 0; done < count; done += this.maxTransferBlocks) {
      const n = Math.min(this.maxTransferBlocks, count - done);
      const part = buf.subarray(done * this.blockSize, (done + n) * this.blockSize);
      const cdb = new Uint8Array(16);
      const c = new ScsiLba16Cdb(new DataView(cdb.buffer));
      c.operationCode = write ? WRITE_16 : READ_16;
      c.logicalBlockAddress = BigInt(lba + done);
      c.transferLength = n;
      parts.push(
        this.host.execute(
          this.lun,
          cdb,
          write ? { dataOut: part } : { dataInLength: part.length },
        ).then((r) => {
          if (!write) part.set(r.data);
        }),
      );
    }
    await Promise.all(parts);
  }
}
