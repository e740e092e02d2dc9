/**
 * One SCSI command as a target executes it ({@link ScsiCommand}): the
 * initiator's CDB (a copy), its LUN and data buffers ({@link ScsiDataBuffers}),
 * and the target's answer: SAM status, bytes moved, and fixed-format sense
 * data (SPC-4 4.5.3, {@link writeSense}) with CHECK CONDITION.
 *
 * @example
 * ```ts
 * import { ScsiCommand } from "./command.ts";
 *
 * const cmd = new ScsiCommand().prepare(0, Uint8Array.of(0, 0, 0, 0, 0, 0)); // TEST UNIT READY
 * if (cmd.cdbLength !== 6 || cmd.status !== 0 || cmd.senseCode !== undefined) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { SAM_STAT_GOOD, ScsiFixedSense, SENSE_FIXED_CURRENT } from "../../generated/scsi.ts";

/** Size of the fixed-format sense data this target writes. */
export const SCSI_SENSE_SIZE: number = ScsiFixedSense.SIZE;

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
