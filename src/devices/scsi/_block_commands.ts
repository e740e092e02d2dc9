/**
 * The commands a `ScsiTarget` carries out on a logical unit's storage:
 * READ/WRITE(6/10/16) (FUA flushes after the write), SYNCHRONIZE
 * CACHE(10/16) and UNMAP (its parameter list copied once, every descriptor
 * checked before any is carried out). Synchronous storage with vectored
 * views moves data straight between the initiator's buffers and storage;
 * anything else goes through a bounce buffer. A storage call that fails
 * ends the command in MEDIUM ERROR.
 *
 * @module
 */

import {
  ASC_INVALID_COMMAND_OPERATION_CODE,
  ASC_INVALID_FIELD_IN_CDB,
  ASC_INVALID_FIELD_IN_PARAMETER_LIST,
  ASC_LBA_OUT_OF_RANGE,
  ASC_PARAMETER_LIST_LENGTH_ERROR,
  ASC_UNRECOVERED_READ_ERROR,
  ASC_WRITE_ERROR,
  ASC_WRITE_PROTECTED,
  DATA_PROTECT,
  ILLEGAL_REQUEST,
  MEDIUM_ERROR,
  ScsiUnmapDescriptor,
  ScsiUnmapHeader,
} from "../../generated/scsi.ts";
import type { BlockStorage } from "../blk/storage.ts";
import type { ScsiCommand } from "./command.ts";
import { SCSI_MAX_UNMAP_DESCRIPTORS, type ScsiLogicalUnit } from "./logical_unit.ts";
import { checkCondition, type Execution, lbaNumber } from "./_execution.ts";

/** Checks `lba`..`lba + count` against the unit; CHECK CONDITION when outside. */
function inRange(cmd: ScsiCommand, u: ScsiLogicalUnit, lba: number, count: number): boolean {
  if (lba > u.blocks || lba + count > u.blocks) {
    checkCondition(cmd, ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
    return false;
  }
  return true;
}

/** READ or WRITE of `count` blocks at `lba` (FUA: flush after the write). */
export function rw(
  x: Execution,
  cmd: ScsiCommand,
  u: ScsiLogicalUnit,
  write: boolean,
  lba: number,
  count: number,
  fua: boolean,
): void | Promise<void> {
  if (!inRange(cmd, u, lba, count)) return;
  if (write && u.readOnly) return checkCondition(cmd, DATA_PROTECT, ASC_WRITE_PROTECTED);
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
    const segs = x.segs;
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
      checkCondition(cmd, MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ_ERROR);
    });
  }
  cmd.transferred = bytes;
}

/** SYNCHRONIZE CACHE of `count` blocks at `lba` (the whole storage is flushed). */
export function sync(
  cmd: ScsiCommand,
  u: ScsiLogicalUnit,
  lba: number,
  count: number,
): void | Promise<void> {
  // SBC-3 5.26: count 0 means to the last block.
  if (!inRange(cmd, u, lba, count)) return;
  const p = u.storage.flush();
  if (p instanceof Promise) {
    return p.then(() => {}, () => {
      if (!cmd.aborted) checkCondition(cmd, MEDIUM_ERROR, ASC_WRITE_ERROR);
    });
  }
}

/** UNMAP: the parameter list's block descriptors, discarded on the storage. */
export function unmap(x: Execution, cmd: ScsiCommand, u: ScsiLogicalUnit): void | Promise<void> {
  if (!u.canUnmap) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPERATION_CODE);
  const c = x.c.unmap;
  if (c.anchor !== 0) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  if (u.readOnly) return checkCondition(cmd, DATA_PROTECT, ASC_WRITE_PROTECTED);
  const plen = c.parameterListLength;
  if (plen === 0) return; // SBC-3 5.28.1: no data, nothing to do
  // SBC-3 5.28.1: a list shorter than its header is a parameter list length error.
  if (plen < ScsiUnmapHeader.SIZE) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
  }
  if ((cmd.data.outLength ?? 0) < plen) {
    cmd.overrun = true;
    return;
  }
  const n = Math.min(plen, x.unmapBytes.length);
  // The parameter list, copied once; checked and used from the copy only.
  x.unmapBytes.fill(0);
  cmd.data.readOut?.(0, x.unmapBytes.subarray(0, n));
  cmd.transferred = n;
  const h = x.unmapHdr;
  const dlen = h.unmapBlockDescriptorDataLength;
  const count = Math.floor(dlen / ScsiUnmapDescriptor.SIZE);
  if (
    dlen % ScsiUnmapDescriptor.SIZE !== 0 || ScsiUnmapHeader.SIZE + dlen > n ||
    count > SCSI_MAX_UNMAP_DESCRIPTORS
  ) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
  }
  const d = x.unmapDesc;
  for (let i = 0; i < count; i++) {
    d.at(ScsiUnmapHeader.SIZE + i * ScsiUnmapDescriptor.SIZE);
    const lba = lbaNumber(d.unmapLogicalBlockAddress);
    if (!inRange(cmd, u, lba, d.numberOfLogicalBlocks)) return;
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
      if (!cmd.aborted) checkCondition(cmd, MEDIUM_ERROR, ASC_WRITE_ERROR);
    });
  }
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
