/**
 * A SCSI target (SAM-5 / SPC-4 / SBC-3) whose logical units are blk
 * storages: pure command execution, with no virtio in it. The virtio-scsi
 * device model ({@link ScsiDevice}) feeds it CDBs it copied out of the
 * guest's requests; a test can feed it CDBs directly.
 *
 * Commands: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard data and the
 * VPD pages 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2), MODE SENSE(6/10) (caching
 * 0x08, control 0x0a, all 0x3f), READ CAPACITY(10/16), READ/WRITE(6/10/16),
 * SYNCHRONIZE CACHE(10/16), UNMAP, REPORT LUNS. Anything else ends in CHECK
 * CONDITION with ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE; a bad
 * field, an LBA out of range, a write to a read-only unit or a missing unit
 * get their own sense codes. Sense data is fixed format (SPC-4 4.5.3).
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "../blk/storage.ts";
 * import { ScsiCommand, ScsiTarget } from "./target.ts";
 *
 * const target = new ScsiTarget();
 * target.addLun(0, { storage: new MemoryStorage(new Uint8Array(8192)) });
 * const cmd = new ScsiCommand();
 * const out = new Uint8Array(8);
 * cmd.prepare(0, Uint8Array.of(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), { inLength: 8, writeIn: (o, s) => (out.set(s, o), s.length) });
 * target.execute(cmd); // READ CAPACITY(10)
 * if (cmd.status !== 0 || out[3] !== 15 || out[6] !== 2) throw new Error("last LBA 15, 512-byte blocks");
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import {
  ASC_INVALID_COMMAND_OPERATION_CODE,
  ASC_INVALID_FIELD_IN_CDB,
  ASC_INVALID_FIELD_IN_PARAMETER_LIST,
  ASC_LBA_OUT_OF_RANGE,
  ASC_LOGICAL_UNIT_NOT_SUPPORTED,
  ASC_NO_ADDITIONAL_SENSE,
  ASC_PARAMETER_LIST_LENGTH_ERROR,
  ASC_SAVING_PARAMETERS_NOT_SUPPORTED,
  ASC_UNRECOVERED_READ_ERROR,
  ASC_WRITE_ERROR,
  ASC_WRITE_PROTECTED,
  DATA_PROTECT,
  ILLEGAL_REQUEST,
  INQUIRY,
  MEDIUM_ERROR,
  MODE_PAGE_ALL,
  MODE_PAGE_CACHING,
  MODE_PAGE_CONTROL,
  MODE_SENSE_10,
  MODE_SENSE_6,
  NO_SENSE,
  READ_10,
  READ_16,
  READ_6,
  READ_CAPACITY_10,
  REPORT_LUNS,
  REQUEST_SENSE,
  SAI_READ_CAPACITY_16,
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  ScsiCachingPage,
  ScsiCdb6,
  ScsiControlPage,
  ScsiDesignationDescriptor,
  ScsiFixedSense,
  ScsiInquiryCdb,
  ScsiInquiryData,
  ScsiLba10Cdb,
  ScsiLba16Cdb,
  ScsiLunLevel,
  ScsiModeHeader10,
  ScsiModeHeader6,
  ScsiModeSense10Cdb,
  ScsiModeSense6Cdb,
  ScsiReadCapacity10Cdb,
  ScsiReadCapacity10Data,
  ScsiReadCapacity16Cdb,
  ScsiReadCapacity16Data,
  ScsiReportLunsCdb,
  ScsiReportLunsHeader,
  ScsiRw6Cdb,
  ScsiUnmapCdb,
  ScsiUnmapDescriptor,
  ScsiUnmapHeader,
  ScsiVpdBlockCharacteristics,
  ScsiVpdBlockLimits,
  ScsiVpdHeader,
  ScsiVpdProvisioning,
  SENSE_FIXED_CURRENT,
  SERVICE_ACTION_IN_16,
  SYNCHRONIZE_CACHE_10,
  SYNCHRONIZE_CACHE_16,
  TEST_UNIT_READY,
  UNMAP,
  VPD_BLOCK_DEVICE_CHARACTERISTICS,
  VPD_BLOCK_LIMITS,
  VPD_DEVICE_IDENTIFICATION,
  VPD_LOGICAL_BLOCK_PROVISIONING,
  VPD_SUPPORTED_PAGES,
  VPD_UNIT_SERIAL_NUMBER,
  WRITE_10,
  WRITE_16,
  WRITE_6,
} from "../../generated/scsi.ts";
import type { BlockStorage } from "../blk/storage.ts";

/** Highest LUN a target holds (SAM single-level flat space: 14 bits; virtio-scsi's max_lun hint). */
export const SCSI_MAX_LUN = 16383;

/** Size of the fixed-format sense data this target writes. */
export const SCSI_SENSE_SIZE: number = ScsiFixedSense.SIZE;

/** Most UNMAP block descriptors one command may carry (block limits VPD page). */
export const SCSI_MAX_UNMAP_DESCRIPTORS = 256;

/** Where a command's data goes: the data-out (from the initiator) and data-in (to it) buffers. */
export interface ScsiDataBuffers {
  /** Bytes of data-out. */
  readonly outLength?: number;
  /** Bytes of data-in room. */
  readonly inLength?: number;
  /** Copies data-out bytes from `offset` into `dst`; returns how many. */
  readOut?(offset: number, dst: Uint8Array): number;
  /** Copies `src` into data-in at `offset`; returns how many. */
  writeIn?(offset: number, src: Uint8Array): number;
  /** Optional zero-copy views of `count` data-out bytes from `offset`, appended to `into`. */
  outViews?(offset: number, count: number, into: Uint8Array[]): number;
  /** Optional zero-copy views of `count` data-in bytes from `offset`, appended to `into`. */
  inViews?(offset: number, count: number, into: Uint8Array[]): number;
}

/**
 * One command: what the initiator sent (a copy of the CDB, the LUN, the
 * data buffers) and what the target answers (status, sense, bytes moved).
 * Reusable: {@link ScsiCommand.prepare} resets it.
 */
export class ScsiCommand {
  /** The LUN. */
  lun = 0;
  /** The CDB: the target's own copy, zero past {@link ScsiCommand.cdbLength}. */
  readonly cdb: Uint8Array = new Uint8Array(32);
  /** Bytes of the CDB the initiator gave. */
  cdbLength = 0;
  /** The data buffers. */
  data: ScsiDataBuffers = NO_DATA;
  /** SAM status (`SAM_STAT_*`). */
  status: number = SAM_STAT_GOOD;
  /** Fixed-format sense data, valid for {@link ScsiCommand.senseLength} bytes. */
  readonly sense: Uint8Array = new Uint8Array(SCSI_SENSE_SIZE);
  /** Bytes of sense data (0 unless CHECK CONDITION). */
  senseLength = 0;
  /** Data-in bytes written, or data-out bytes consumed. */
  transferred = 0;
  /** The CDB asked for more data than the buffers hold (virtio-scsi: VIRTIO_SCSI_S_OVERRUN). */
  overrun = false;
  /** Set by the caller when it gives up on the command (an abort): completion changes nothing. */
  aborted = false;

  /**
   * Resets the command for a new CDB: `length` bytes of `cdb` from `offset`
   * (default: all of it), copied, so later changes to `cdb` do not matter.
   */
  prepare(
    lun: number,
    cdb: Uint8Array,
    data: ScsiDataBuffers = NO_DATA,
    offset: number = 0,
    length: number = cdb.length - offset,
  ): this {
    this.lun = lun;
    this.cdb.fill(0);
    const n = Math.max(0, Math.min(length, this.cdb.length, cdb.length - offset));
    for (let i = 0; i < n; i++) this.cdb[i] = cdb[offset + i];
    this.cdbLength = n;
    this.data = data;
    this.status = SAM_STAT_GOOD;
    this.senseLength = 0;
    this.transferred = 0;
    this.overrun = false;
    this.aborted = false;
    return this;
  }

  /** The sense key, ASC and ASCQ of the sense data (undefined without sense). */
  get senseCode(): { key: number; asc: number; ascq: number } | undefined {
    if (this.senseLength === 0) return undefined;
    const s = new ScsiFixedSense(new DataView(this.sense.buffer));
    return { key: s.senseKey, asc: s.additionalSenseCode, ascq: s.additionalSenseCodeQualifier };
  }
}

const NO_DATA: ScsiDataBuffers = Object.freeze({});

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

/** Options of a {@link ScsiTarget}. */
export interface ScsiTargetOptions {
  /** T10 vendor identification, ASCII, at most 8 (default "TYPEDVIO"). */
  readonly vendor?: string;
  /** Product revision, ASCII, at most 4 (default "0001"). */
  readonly revision?: string;
  /** Largest transfer of one READ/WRITE, in bytes (block limits VPD; default 4 MiB). */
  readonly maxTransferBytes?: number;
}

const enc = new TextEncoder();

/** `text` into `dst`, ASCII, space padded (SPC-4 4.4.1). */
function putAscii(dst: Uint8Array, text: string): void {
  dst.fill(0x20);
  dst.set(enc.encode(text).subarray(0, dst.length));
}

/** The LUN numbers of a changed set: what a device needs to tell its driver. */
export type LunChangeListener = (lun: number, added: boolean) => void;

/** A SCSI target: a set of logical units and the commands they serve. */
export class ScsiTarget {
  readonly #units = new Map<number, ScsiLogicalUnit>();
  readonly #vendor: string;
  readonly #revision: string;
  readonly #maxTransfer: number;
  #listener: LunChangeListener | undefined;
  // Scratch for the data the target builds (every answer fits in 512 bytes but REPORT
  // LUNS, which grows with the unit count) and for UNMAP's parameter list (read once).
  readonly #scratch = new Uint8Array(512);
  readonly #view = new DataView(this.#scratch.buffer);
  readonly #unmapBytes = new Uint8Array(
    ScsiUnmapHeader.SIZE + SCSI_MAX_UNMAP_DESCRIPTORS * ScsiUnmapDescriptor.SIZE,
  );
  readonly #unmapHdr = new ScsiUnmapHeader(new DataView(this.#unmapBytes.buffer));
  readonly #unmapDesc = new ScsiUnmapDescriptor(new DataView(this.#unmapBytes.buffer));
  readonly #segs: Uint8Array[] = [];
  // The CDB is copied here for execution; one flyweight per CDB layout over it, made once.
  readonly #cdbBytes = new Uint8Array(32);
  readonly #c = cdbViews(new DataView(this.#cdbBytes.buffer));

  /** An empty target. */
  constructor(options: ScsiTargetOptions = {}) {
    this.#vendor = options.vendor ?? "TYPEDVIO";
    this.#revision = options.revision ?? "0001";
    this.#maxTransfer = options.maxTransferBytes ?? 4 << 20;
  }

  /** Adds a logical unit at `lun` (0..16383). */
  addLun(lun: number, options: ScsiLunOptions): ScsiLogicalUnit {
    if (!Number.isInteger(lun) || lun < 0 || lun > SCSI_MAX_LUN) {
      throw new DeviceError(`virtio-scsi: LUN ${lun} (0..${SCSI_MAX_LUN})`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_LUN",
      });
    }
    if (this.#units.has(lun)) {
      throw new DeviceError(`virtio-scsi: LUN ${lun} exists`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_LUN_EXISTS",
      });
    }
    const u = new ScsiLogicalUnit(lun, options);
    this.#units.set(lun, u);
    this.#listener?.(lun, true);
    return u;
  }

  /** Removes the unit at `lun`; returns it. */
  removeLun(lun: number): ScsiLogicalUnit {
    const u = this.#units.get(lun);
    if (u === undefined) {
      throw new DeviceError(`virtio-scsi: no LUN ${lun}`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_NO_LUN",
      });
    }
    this.#units.delete(lun);
    this.#listener?.(lun, false);
    return u;
  }

  /** The unit at `lun`, if any. */
  unit(lun: number): ScsiLogicalUnit | undefined {
    return this.#units.get(lun);
  }

  /** The LUNs, ascending. */
  get luns(): number[] {
    return [...this.#units.keys()].sort((a, b) => a - b);
  }

  /** Called after each {@link ScsiTarget.addLun} / {@link ScsiTarget.removeLun} (one listener). */
  onLunChange(listener: LunChangeListener | undefined): void {
    this.#listener = listener;
  }

  /**
   * Executes `cmd`. Returns nothing when it completed, or a promise when
   * storage completes later; either way the result is in `cmd` then. Never
   * throws for what the initiator sent: a failing storage call is a MEDIUM
   * ERROR.
   */
  execute(cmd: ScsiCommand): void | Promise<void> {
    this.#cdbBytes.set(cmd.cdb);
    const op = cmd.cdb[0];
    const need = cdbLengthOf(op);
    if (need > cmd.cdbLength) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    const u = this.#units.get(cmd.lun);
    // SPC-4 6.6.2, 6.33: INQUIRY and REPORT LUNS answer for a LUN with no unit; the rest do not.
    if (op === INQUIRY) return this.#inquiry(cmd, u);
    if (op === REPORT_LUNS) return this.#reportLuns(cmd);
    if (op === REQUEST_SENSE) return this.#requestSense(cmd, u);
    if (u === undefined) return this.#check(cmd, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
    try {
      switch (op) {
        case TEST_UNIT_READY:
          return;
        case READ_CAPACITY_10:
          return this.#readCapacity10(cmd, u);
        case SERVICE_ACTION_IN_16:
          return this.#serviceActionIn(cmd, u);
        case MODE_SENSE_6:
        case MODE_SENSE_10:
          return this.#modeSense(cmd, u, op === MODE_SENSE_10);
        case READ_6:
        case WRITE_6: {
          const c = this.#c.rw6;
          const n = c.transferLength === 0 ? 256 : c.transferLength; // SBC-3 5.14: 0 is 256
          return this.#rw(cmd, u, op === WRITE_6, c.logicalBlockAddress, n, false);
        }
        case READ_10:
        case WRITE_10: {
          const c = this.#c.lba10;
          if (c.protect !== 0) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
          return this.#rw(
            cmd,
            u,
            op === WRITE_10,
            c.logicalBlockAddress,
            c.transferLength,
            c.fua !== 0,
          );
        }
        case READ_16:
        case WRITE_16: {
          const c = this.#c.lba16;
          const c10 = this.#c.lba10; // the flags byte is at the same place
          if (c10.protect !== 0) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
          return this.#rw(
            cmd,
            u,
            op === WRITE_16,
            lbaNumber(c.logicalBlockAddress),
            c.transferLength,
            c10.fua !== 0,
          );
        }
        case SYNCHRONIZE_CACHE_10: {
          const c = this.#c.lba10;
          return this.#sync(cmd, u, c.logicalBlockAddress, c.transferLength);
        }
        case SYNCHRONIZE_CACHE_16: {
          const c = this.#c.lba16;
          return this.#sync(cmd, u, lbaNumber(c.logicalBlockAddress), c.transferLength);
        }
        case UNMAP:
          return this.#unmap(cmd, u);
        default:
          return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
      }
    } catch {
      // A storage call that threw synchronously.
      return this.#check(cmd, MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
    }
  }

  /** CHECK CONDITION with fixed sense data `key` / `ascAscq`. */
  #check(cmd: ScsiCommand, key: number, ascAscq: number): void {
    cmd.status = SAM_STAT_CHECK_CONDITION;
    writeSense(cmd.sense, key, ascAscq);
    cmd.senseLength = SCSI_SENSE_SIZE;
  }

  /** Sends `len` bytes of the scratch as data-in, cut to `alloc` and to the room there is. */
  #dataIn(cmd: ScsiCommand, len: number, alloc: number): void {
    const room = cmd.data.inLength ?? 0;
    const n = Math.min(len, alloc, room);
    if (n > 0 && cmd.data.writeIn !== undefined) {
      cmd.transferred = cmd.data.writeIn(0, this.#scratch.subarray(0, n));
    }
  }

  /** Zeroes and returns the first `len` bytes of the scratch. */
  #clear(len: number): Uint8Array {
    const s = this.#scratch.subarray(0, len);
    s.fill(0);
    return s;
  }

  #inquiry(cmd: ScsiCommand, u: ScsiLogicalUnit | undefined): void {
    const c = this.#c.inquiry;
    const alloc = c.allocationLength;
    if (c.evpd === 0) {
      // SPC-4 6.6.1: PAGE CODE must be zero for standard data.
      if (c.pageCode !== 0) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
      this.#clear(ScsiInquiryData.SIZE);
      const d = new ScsiInquiryData(this.#view);
      if (u === undefined) {
        // SPC-4 6.6.2: qualifier 011b, type 1Fh: no unit can be at this LUN.
        d.peripheralQualifier = 3;
        d.peripheralDeviceType = 0x1f;
      }
      d.version = 6; // SPC-4
      d.responseDataFormat = 2;
      d.hisup = 1;
      d.additionalLength = ScsiInquiryData.SIZE - 5;
      d.cmdque = 1;
      putAscii(d.t10VendorIdentificationBytes(), this.#vendor);
      putAscii(d.productIdentificationBytes(), u?.product ?? "");
      putAscii(d.productRevisionLevelBytes(), this.#revision);
      return this.#dataIn(cmd, ScsiInquiryData.SIZE, alloc);
    }
    if (u === undefined) return this.#check(cmd, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
    const h = new ScsiVpdHeader(this.#view);
    let len: number;
    switch (c.pageCode) {
      case VPD_SUPPORTED_PAGES: {
        this.#clear(ScsiVpdHeader.SIZE + SUPPORTED_VPD.length);
        this.#scratch.set(SUPPORTED_VPD, ScsiVpdHeader.SIZE);
        len = ScsiVpdHeader.SIZE + SUPPORTED_VPD.length;
        break;
      }
      case VPD_UNIT_SERIAL_NUMBER: {
        const s = enc.encode(u.serial);
        this.#clear(ScsiVpdHeader.SIZE + s.length);
        this.#scratch.set(s, ScsiVpdHeader.SIZE);
        len = ScsiVpdHeader.SIZE + s.length;
        break;
      }
      case VPD_DEVICE_IDENTIFICATION: {
        // One designator: T10 vendor ID based (type 1), ASCII: vendor (8, padded) + serial.
        const s = enc.encode(u.serial);
        const dlen = 8 + s.length;
        const at = ScsiVpdHeader.SIZE;
        this.#clear(at + ScsiDesignationDescriptor.SIZE + dlen);
        const d = new ScsiDesignationDescriptor(this.#view, at);
        d.codeSet = 2;
        d.designatorType = 1;
        d.association = 0;
        d.designatorLength = dlen;
        const body = at + ScsiDesignationDescriptor.SIZE;
        putAscii(this.#scratch.subarray(body, body + 8), this.#vendor);
        this.#scratch.set(s, body + 8);
        len = body + dlen;
        break;
      }
      case VPD_BLOCK_LIMITS: {
        this.#clear(ScsiVpdBlockLimits.SIZE);
        const b = new ScsiVpdBlockLimits(this.#view);
        b.maximumTransferLength = Math.floor(this.#maxTransfer / u.blockSize);
        b.optimalTransferLengthGranularity = 1;
        if (u.canUnmap) {
          b.maximumUnmapLbaCount = 0xffffffff;
          b.maximumUnmapBlockDescriptorCount = SCSI_MAX_UNMAP_DESCRIPTORS;
          b.optimalUnmapGranularity = 1;
        }
        len = ScsiVpdBlockLimits.SIZE;
        break;
      }
      case VPD_BLOCK_DEVICE_CHARACTERISTICS: {
        this.#clear(ScsiVpdBlockCharacteristics.SIZE);
        new ScsiVpdBlockCharacteristics(this.#view).mediumRotationRate = 1; // non-rotating
        len = ScsiVpdBlockCharacteristics.SIZE;
        break;
      }
      case VPD_LOGICAL_BLOCK_PROVISIONING: {
        this.#clear(ScsiVpdProvisioning.SIZE);
        const p = new ScsiVpdProvisioning(this.#view);
        if (u.canUnmap) {
          p.lbpu = 1;
          p.provisioningType = 2; // thin
        }
        len = ScsiVpdProvisioning.SIZE;
        break;
      }
      default:
        return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    h.vpdQualifier = 0;
    h.vpdDeviceType = 0;
    h.pageCode = c.pageCode;
    h.pageLength = len - ScsiVpdHeader.SIZE;
    this.#dataIn(cmd, len, alloc);
  }

  #reportLuns(cmd: ScsiCommand): void {
    const c = this.#c.rl;
    const alloc = c.allocationLength;
    // SPC-4 6.33.1: an allocation length under 16 is an invalid field.
    if (alloc < 16 || c.selectReport > 2) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    // select_report 1 asks for well-known LUs only; this target reports none.
    const luns = c.selectReport === 1 ? [] : this.luns;
    const len = ScsiReportLunsHeader.SIZE + luns.length * ScsiLunLevel.SIZE;
    const out = new Uint8Array(len);
    const view = new DataView(out.buffer);
    new ScsiReportLunsHeader(view).lunListLength = luns.length * ScsiLunLevel.SIZE;
    const e = new ScsiLunLevel(view, ScsiReportLunsHeader.SIZE);
    for (let i = 0; i < luns.length; i++) {
      e.at(ScsiReportLunsHeader.SIZE + i * ScsiLunLevel.SIZE);
      // SAM-5 4.6: peripheral device addressing below 256, flat space above (as Linux decodes it).
      e.addressMethod = luns[i] < 256 ? 0 : 1;
      e.lun = luns[i];
    }
    const n = Math.min(len, alloc, cmd.data.inLength ?? 0);
    if (n > 0 && cmd.data.writeIn !== undefined) {
      cmd.transferred = cmd.data.writeIn(0, out.subarray(0, n));
    }
  }

  #requestSense(cmd: ScsiCommand, u: ScsiLogicalUnit | undefined): void {
    const c = this.#c.cdb6;
    // Bit 0 (DESC) asks for descriptor format, which this target does not give.
    if ((c.misc & 1) !== 0) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    // Sense is reported with each CHECK CONDITION (autosense): nothing is pending.
    // SPC-4 6.39: for a LUN with no unit, the sense data says so.
    const s = this.#clear(SCSI_SENSE_SIZE);
    if (u === undefined) writeSense(s, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
    else writeSense(s, NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
    this.#dataIn(cmd, SCSI_SENSE_SIZE, c.allocationLength);
  }

  #readCapacity10(cmd: ScsiCommand, u: ScsiLogicalUnit): void {
    const c = this.#c.rc10;
    // SBC-3 5.15.1: with PMI 0 the LBA field must be 0.
    if (c.pmi === 0 && c.logicalBlockAddress !== 0) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    this.#clear(ScsiReadCapacity10Data.SIZE);
    const d = new ScsiReadCapacity10Data(this.#view);
    const last = u.blocks - 1;
    // SBC-3 5.15.2: 0xffffffff tells the initiator to use READ CAPACITY(16).
    d.returnedLogicalBlockAddress = last > 0xfffffffe ? 0xffffffff : Math.max(0, last);
    d.logicalBlockLength = u.blockSize;
    this.#dataIn(cmd, ScsiReadCapacity10Data.SIZE, ScsiReadCapacity10Data.SIZE);
  }

  #serviceActionIn(cmd: ScsiCommand, u: ScsiLogicalUnit): void {
    const c = this.#c.rc16;
    if (c.serviceAction !== SAI_READ_CAPACITY_16) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    this.#clear(ScsiReadCapacity16Data.SIZE);
    const d = new ScsiReadCapacity16Data(this.#view);
    d.returnedLogicalBlockAddress = BigInt(Math.max(0, u.blocks - 1));
    d.logicalBlockLength = u.blockSize;
    if (u.canUnmap) d.lbpme = 1;
    this.#dataIn(cmd, ScsiReadCapacity16Data.SIZE, c.allocationLength);
  }

  #modeSense(cmd: ScsiCommand, u: ScsiLogicalUnit, ten: boolean): void {
    let page: number, subpage: number, pc: number, alloc: number;
    if (ten) {
      const c = this.#c.ms10;
      page = c.pageCode;
      subpage = c.subpageCode;
      pc = c.pc;
      alloc = c.allocationLength;
    } else {
      const c = this.#c.ms6;
      page = c.pageCode;
      subpage = c.subpageCode;
      pc = c.pc;
      alloc = c.allocationLength;
    }
    // SPC-4 6.11.1: saved values need saveable pages; this target has none.
    if (pc === 3) return this.#check(cmd, ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
    const all = page === MODE_PAGE_ALL;
    if (
      (page !== MODE_PAGE_CACHING && page !== MODE_PAGE_CONTROL && !all) ||
      (subpage !== 0 && !(all && subpage === 0xff))
    ) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    const hdr = ten ? ScsiModeHeader10.SIZE : ScsiModeHeader6.SIZE;
    let at = hdr;
    this.#clear(hdr + ScsiCachingPage.SIZE + ScsiControlPage.SIZE);
    const changeable = pc === 1; // changeable values: nothing can be changed, all zero
    if (page === MODE_PAGE_CACHING || all) {
      const p = new ScsiCachingPage(this.#view, at);
      p.pageCodeC = MODE_PAGE_CACHING;
      p.pageLength = ScsiCachingPage.SIZE - 2;
      if (!changeable) p.wce = 1; // writes complete before they are stable; SYNCHRONIZE CACHE flushes
      at += ScsiCachingPage.SIZE;
    }
    if (page === MODE_PAGE_CONTROL || all) {
      const p = new ScsiControlPage(this.#view, at);
      p.pageCodeK = MODE_PAGE_CONTROL;
      p.pageLength = ScsiControlPage.SIZE - 2;
      at += ScsiControlPage.SIZE;
    }
    if (ten) {
      const h = new ScsiModeHeader10(this.#view);
      h.modeDataLength = at - 2;
      h.wp10 = u.readOnly ? 1 : 0;
    } else {
      const h = new ScsiModeHeader6(this.#view);
      h.modeDataLength = at - 1;
      h.wp = u.readOnly ? 1 : 0;
    }
    this.#dataIn(cmd, at, alloc);
  }

  /** Checks `lba`..`lba + count` against the unit; CHECK CONDITION when outside. */
  #inRange(cmd: ScsiCommand, u: ScsiLogicalUnit, lba: number, count: number): boolean {
    if (lba > u.blocks || lba + count > u.blocks) {
      this.#check(cmd, ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
      return false;
    }
    return true;
  }

  #rw(
    cmd: ScsiCommand,
    u: ScsiLogicalUnit,
    write: boolean,
    lba: number,
    count: number,
    fua: boolean,
  ): void | Promise<void> {
    if (!this.#inRange(cmd, u, lba, count)) return;
    if (write && u.readOnly) return this.#check(cmd, DATA_PROTECT, ASC_WRITE_PROTECTED);
    if (count === 0) return; // SBC-3: a transfer length of 0 transfers nothing
    const bytes = count * u.blockSize;
    const room = write ? (cmd.data.outLength ?? 0) : (cmd.data.inLength ?? 0);
    if (room < bytes) {
      cmd.overrun = true;
      return;
    }
    const off = lba * u.blockSize;
    const st = u.storage;
    let p: unknown;
    const views = write ? cmd.data.outViews : cmd.data.inViews;
    if (st.isAsync || views === undefined) {
      // Through our own buffer: nothing touches the initiator's memory after the call returns.
      const bounce = new Uint8Array(bytes);
      if (write) {
        cmd.data.readOut?.(0, bounce);
        p = chain(st.write(off, bounce), fua ? () => st.flush() : undefined);
      } else {
        p = chain(st.read(off, bounce), () => {
          if (!cmd.aborted) cmd.data.writeIn?.(0, bounce);
        });
      }
    } else {
      const segs = this.#segs;
      views.call(cmd.data, 0, bytes, segs);
      try {
        if (write) {
          p = st.writev !== undefined ? st.writev(off, segs) : perSegment(st, off, segs, true);
          if (fua) p = chain(p, () => st.flush());
        } else {
          p = st.readv !== undefined ? st.readv(off, segs) : perSegment(st, off, segs, false);
        }
      } finally {
        segs.length = 0;
      }
    }
    if (p instanceof Promise) {
      // Closures only on the asynchronous path: a synchronous request allocates none.
      return p.then(() => {
        if (!cmd.aborted) cmd.transferred = bytes;
      }, () => {
        if (cmd.aborted) return;
        this.#check(cmd, MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ_ERROR);
      });
    }
    cmd.transferred = bytes;
  }

  #sync(cmd: ScsiCommand, u: ScsiLogicalUnit, lba: number, count: number): void | Promise<void> {
    // SBC-3 5.26: count 0 means to the last block.
    if (!this.#inRange(cmd, u, lba, count)) return;
    const p = u.storage.flush();
    if (p instanceof Promise) {
      return p.then(() => {}, () => {
        if (!cmd.aborted) this.#check(cmd, MEDIUM_ERROR, ASC_WRITE_ERROR);
      });
    }
  }

  #unmap(cmd: ScsiCommand, u: ScsiLogicalUnit): void | Promise<void> {
    if (!u.canUnmap) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
    const c = this.#c.unmap;
    if (c.anchor !== 0) return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    if (u.readOnly) return this.#check(cmd, DATA_PROTECT, ASC_WRITE_PROTECTED);
    const plen = c.parameterListLength;
    if (plen === 0) return; // SBC-3 5.28.1: no data, nothing to do
    // SBC-3 5.28.1: a list shorter than its header is a parameter list length error.
    if (plen < ScsiUnmapHeader.SIZE) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
    }
    if ((cmd.data.outLength ?? 0) < plen) {
      cmd.overrun = true;
      return;
    }
    const n = Math.min(plen, this.#unmapBytes.length);
    // The parameter list, copied once; checked and used from the copy only.
    this.#unmapBytes.fill(0);
    cmd.data.readOut?.(0, this.#unmapBytes.subarray(0, n));
    cmd.transferred = n;
    const h = this.#unmapHdr;
    const dlen = h.unmapBlockDescriptorDataLength;
    const count = Math.floor(dlen / ScsiUnmapDescriptor.SIZE);
    if (
      dlen % ScsiUnmapDescriptor.SIZE !== 0 || ScsiUnmapHeader.SIZE + dlen > n ||
      count > SCSI_MAX_UNMAP_DESCRIPTORS
    ) {
      return this.#check(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
    }
    const d = this.#unmapDesc;
    for (let i = 0; i < count; i++) {
      d.at(ScsiUnmapHeader.SIZE + i * ScsiUnmapDescriptor.SIZE);
      const lba = lbaNumber(d.unmapLogicalBlockAddress);
      if (!this.#inRange(cmd, u, lba, d.numberOfLogicalBlocks)) return;
    }
    let pending: Promise<unknown>[] | undefined;
    for (let i = 0; i < count; i++) {
      d.at(ScsiUnmapHeader.SIZE + i * ScsiUnmapDescriptor.SIZE);
      const blocks = d.numberOfLogicalBlocks;
      if (blocks === 0) continue;
      const r = u.storage.discard?.(
        lbaNumber(d.unmapLogicalBlockAddress) * u.blockSize,
        blocks * u.blockSize,
      );
      if (r instanceof Promise) (pending ??= []).push(r);
    }
    if (pending !== undefined) {
      return Promise.all(pending).then(() => {}, () => {
        if (!cmd.aborted) this.#check(cmd, MEDIUM_ERROR, ASC_WRITE_ERROR);
      });
    }
  }
}

/** The CDB flyweights of a target, over its CDB copy. */
function cdbViews(v: DataView) {
  return {
    cdb6: new ScsiCdb6(v),
    rw6: new ScsiRw6Cdb(v),
    lba10: new ScsiLba10Cdb(v),
    lba16: new ScsiLba16Cdb(v),
    inquiry: new ScsiInquiryCdb(v),
    ms6: new ScsiModeSense6Cdb(v),
    ms10: new ScsiModeSense10Cdb(v),
    rc10: new ScsiReadCapacity10Cdb(v),
    rc16: new ScsiReadCapacity16Cdb(v),
    rl: new ScsiReportLunsCdb(v),
    unmap: new ScsiUnmapCdb(v),
  };
}

/** The VPD pages of page 0x00, ascending (SPC-4 7.8.13). */
const SUPPORTED_VPD = Uint8Array.of(
  VPD_SUPPORTED_PAGES,
  VPD_UNIT_SERIAL_NUMBER,
  VPD_DEVICE_IDENTIFICATION,
  VPD_BLOCK_LIMITS,
  VPD_BLOCK_DEVICE_CHARACTERISTICS,
  VPD_LOGICAL_BLOCK_PROVISIONING,
);

/** SAM-5 / SPC-4 4.2.5.1: the CDB length by group code (the top three bits of the opcode). */
export function cdbLengthOf(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 6; // reserved / vendor specific: only the opcode is looked at
  }
}

/** A 64-bit LBA as a number; past 2^53 it is out of every unit's range anyway. */
function lbaNumber(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Fixed-format sense data, current error (SPC-4 4.5.3). */
export function writeSense(dst: Uint8Array, key: number, ascAscq: number): void {
  dst.fill(0, 0, SCSI_SENSE_SIZE);
  const s = new ScsiFixedSense(new DataView(dst.buffer, dst.byteOffset, SCSI_SENSE_SIZE));
  s.responseCode = SENSE_FIXED_CURRENT;
  s.senseKey = key;
  s.additionalSenseLength = SCSI_SENSE_SIZE - 8;
  s.additionalSenseCode = ascAscq >> 8;
  s.additionalSenseCodeQualifier = ascAscq & 0xff;
}

/** `next` after `p` (a storage result that may be a promise). */
function chain(p: unknown, next: (() => unknown) | undefined): unknown {
  if (next === undefined) return p;
  return p instanceof Promise ? p.then(next) : next();
}

/** Storage without vectored I/O: one call per view at consecutive offsets. */
function perSegment(
  st: BlockStorage,
  off: number,
  segs: readonly Uint8Array[],
  write: boolean,
): unknown {
  let pos = off;
  let pending: Promise<unknown>[] | undefined;
  for (const b of segs) {
    const r = write ? st.write(pos, b) : st.read(pos, b);
    if (r instanceof Promise) (pending ??= []).push(r);
    pos += b.length;
  }
  return pending === undefined ? undefined : Promise.all(pending);
}
