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
 * import { ScsiCommand } from "./command.ts";
 * import { ScsiTarget } from "./target.ts";
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
  ASC_LOGICAL_UNIT_NOT_SUPPORTED,
  ASC_UNRECOVERED_READ_ERROR,
  ILLEGAL_REQUEST,
  INQUIRY,
  MEDIUM_ERROR,
  MODE_SENSE_10,
  MODE_SENSE_6,
  READ_10,
  READ_16,
  READ_6,
  READ_CAPACITY_10,
  REPORT_LUNS,
  REQUEST_SENSE,
  SERVICE_ACTION_IN_16,
  SYNCHRONIZE_CACHE_10,
  SYNCHRONIZE_CACHE_16,
  TEST_UNIT_READY,
  UNMAP,
  WRITE_10,
  WRITE_16,
  WRITE_6,
} from "../../generated/scsi.ts";
import type { ScsiCommand } from "./command.ts";
import { ScsiLogicalUnit, type ScsiLunOptions } from "./logical_unit.ts";
import { rw, sync, unmap } from "./_block_commands.ts";
import { checkCondition, Execution, lbaNumber } from "./_execution.ts";
import {
  inquiry,
  modeSense,
  readCapacity10,
  reportLuns,
  requestSense,
  serviceActionIn,
  type TargetIdentity,
} from "./_info_commands.ts";

/** Highest LUN a target holds (SAM single-level flat space: 14 bits; virtio-scsi's max_lun hint). */
export const SCSI_MAX_LUN = 16383;

/** Options of a {@link ScsiTarget}. */
export interface ScsiTargetOptions {
  /** T10 vendor identification, ASCII, at most 8 (default "TYPEDVIO"). */
  readonly vendor?: string;
  /** Product revision, ASCII, at most 4 (default "0001"). */
  readonly revision?: string;
  /** Largest transfer of one READ/WRITE, in bytes (block limits VPD; default 4 MiB). */
  readonly maxTransferBytes?: number;
}

/** The LUN numbers of a changed set: what a device needs to tell its driver. */
export type LunChangeListener = (lun: number, added: boolean) => void;

/** A SCSI target: a set of logical units and the commands they serve. */
export class ScsiTarget {
  readonly #units = new Map<number, ScsiLogicalUnit>();
  readonly #id: TargetIdentity;
  #listener: LunChangeListener | undefined;
  // The CDB copy, the scratch answers are built in, UNMAP's parameter list (_execution.ts).
  readonly #x = new Execution();

  /** An empty target. */
  constructor(options: ScsiTargetOptions = {}) {
    this.#id = {
      vendor: options.vendor ?? "TYPEDVIO",
      revision: options.revision ?? "0001",
      maxTransfer: options.maxTransferBytes ?? 4 << 20,
    };
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
    const x = this.#x;
    x.cdbBytes.set(cmd.cdb);
    const op = cmd.cdb[0];
    const need = cdbLengthOf(op);
    if (need > cmd.cdbLength) {
      return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    }
    const u = this.#units.get(cmd.lun);
    // SPC-4 6.6.2, 6.33: INQUIRY and REPORT LUNS answer for a LUN with no unit; the rest do not.
    if (op === INQUIRY) return inquiry(x, this.#id, cmd, u);
    if (op === REPORT_LUNS) return reportLuns(x, this, cmd);
    if (op === REQUEST_SENSE) return requestSense(x, cmd, u);
    if (u === undefined) {
      return checkCondition(cmd, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
    }
    try {
      switch (op) {
        case TEST_UNIT_READY:
          return;
        case READ_CAPACITY_10:
          return readCapacity10(x, cmd, u);
        case SERVICE_ACTION_IN_16:
          return serviceActionIn(x, cmd, u);
        case MODE_SENSE_6:
        case MODE_SENSE_10:
          return modeSense(x, cmd, u, op === MODE_SENSE_10);
        case READ_6:
        case WRITE_6: {
          const c = x.c.rw6;
          const n = c.transferLength === 0 ? 256 : c.transferLength; // SBC-3 5.14: 0 is 256
          return rw(x, cmd, u, op === WRITE_6, c.logicalBlockAddress, n, false);
        }
        case READ_10:
        case WRITE_10: {
          const c = x.c.lba10;
          if (c.protect !== 0) {
            return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
          }
          return rw(
            x,
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
          const c = x.c.lba16;
          const c10 = x.c.lba10; // the flags byte is at the same place
          if (c10.protect !== 0) {
            return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
          }
          return rw(
            x,
            cmd,
            u,
            op === WRITE_16,
            lbaNumber(c.logicalBlockAddress),
            c.transferLength,
            c10.fua !== 0,
          );
        }
        case SYNCHRONIZE_CACHE_10: {
          const c = x.c.lba10;
          return sync(cmd, u, c.logicalBlockAddress, c.transferLength);
        }
        case SYNCHRONIZE_CACHE_16: {
          const c = x.c.lba16;
          return sync(cmd, u, lbaNumber(c.logicalBlockAddress), c.transferLength);
        }
        case UNMAP:
          return unmap(x, cmd, u);
        default:
          return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
      }
    } catch {
      // A storage call that threw synchronously.
      return checkCondition(cmd, MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
    }
  }
}

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
