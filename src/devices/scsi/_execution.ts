/**
 * What a `ScsiTarget`'s command handlers share while one command
 * executes: the target's own copy of the CDB (with a flyweight per CDB
 * layout over it), the scratch its answers are built in, the UNMAP parameter
 * list copied once; and how a handler answers: data-in from the scratch, or
 * CHECK CONDITION with fixed-format sense data.
 *
 * @module
 */

import {
  SAM_STAT_CHECK_CONDITION,
  ScsiCdb6,
  ScsiInquiryCdb,
  ScsiLba10Cdb,
  ScsiLba16Cdb,
  ScsiModeSense10Cdb,
  ScsiModeSense6Cdb,
  ScsiReadCapacity10Cdb,
  ScsiReadCapacity16Cdb,
  ScsiReportLunsCdb,
  ScsiRw6Cdb,
  ScsiUnmapCdb,
  ScsiUnmapDescriptor,
  ScsiUnmapHeader,
} from "../../generated/scsi.ts";
import { SCSI_SENSE_SIZE, type ScsiCommand, writeSense } from "./command.ts";
import { SCSI_MAX_UNMAP_DESCRIPTORS } from "./logical_unit.ts";

/** One target's buffers for executing commands (the target holds one, privately). */
export class Execution {
  // Scratch for the data the target builds (every answer fits in 512 bytes but REPORT
  // LUNS, which grows with the unit count) and for UNMAP's parameter list (read once).
  readonly scratch = new Uint8Array(512);
  readonly view = new DataView(this.scratch.buffer);
  readonly unmapBytes = new Uint8Array(
    ScsiUnmapHeader.SIZE + SCSI_MAX_UNMAP_DESCRIPTORS * ScsiUnmapDescriptor.SIZE,
  );
  readonly unmapHdr = new ScsiUnmapHeader(new DataView(this.unmapBytes.buffer));
  readonly unmapDesc = new ScsiUnmapDescriptor(new DataView(this.unmapBytes.buffer));
  readonly segs: Uint8Array[] = [];
  // The CDB is copied here for execution; one flyweight per CDB layout over it, made once.
  readonly cdbBytes = new Uint8Array(32);
  readonly c = cdbViews(new DataView(this.cdbBytes.buffer));

  /** Sends `len` bytes of the scratch as data-in, cut to `alloc` and to the room there is. */
  dataIn(cmd: ScsiCommand, len: number, alloc: number): void {
    const room = cmd.data.inLength ?? 0;
    const n = Math.min(len, alloc, room);
    if (n > 0 && cmd.data.writeIn !== undefined) {
      cmd.transferred = cmd.data.writeIn(0, this.scratch.subarray(0, n));
    }
  }

  /** Zeroes and returns the first `len` bytes of the scratch. */
  clear(len: number): Uint8Array {
    const s = this.scratch.subarray(0, len);
    s.fill(0);
    return s;
  }
}

/** CHECK CONDITION with fixed sense data `key` / `ascAscq`. */
export function checkCondition(cmd: ScsiCommand, key: number, ascAscq: number): void {
  cmd.status = SAM_STAT_CHECK_CONDITION;
  writeSense(cmd.sense, key, ascAscq);
  cmd.senseLength = SCSI_SENSE_SIZE;
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

/** A 64-bit LBA as a number; past 2^53 it is out of every unit's range anyway. */
export function lbaNumber(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}
