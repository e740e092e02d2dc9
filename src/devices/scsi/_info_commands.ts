/**
 * The commands a `ScsiTarget` answers from what it knows, without
 * touching storage: INQUIRY (standard data and the VPD pages 0x00, 0x80,
 * 0x83, 0xb0, 0xb1, 0xb2), REPORT LUNS, REQUEST SENSE, READ CAPACITY(10/16)
 * and MODE SENSE(6/10) (caching, control, all). Each builds its answer in
 * the target's scratch and sends it as data-in, cut to the allocation length.
 *
 * @module
 */

import {
  ASC_INVALID_FIELD_IN_CDB,
  ASC_LOGICAL_UNIT_NOT_SUPPORTED,
  ASC_NO_ADDITIONAL_SENSE,
  ASC_SAVING_PARAMETERS_NOT_SUPPORTED,
  ILLEGAL_REQUEST,
  MODE_PAGE_ALL,
  MODE_PAGE_CACHING,
  MODE_PAGE_CONTROL,
  NO_SENSE,
  SAI_READ_CAPACITY_16,
  ScsiCachingPage,
  ScsiControlPage,
  ScsiDesignationDescriptor,
  ScsiInquiryData,
  ScsiLunLevel,
  ScsiModeHeader10,
  ScsiModeHeader6,
  ScsiReadCapacity10Data,
  ScsiReadCapacity16Data,
  ScsiReportLunsHeader,
  ScsiVpdBlockCharacteristics,
  ScsiVpdBlockLimits,
  ScsiVpdHeader,
  ScsiVpdProvisioning,
  VPD_BLOCK_DEVICE_CHARACTERISTICS,
  VPD_BLOCK_LIMITS,
  VPD_DEVICE_IDENTIFICATION,
  VPD_LOGICAL_BLOCK_PROVISIONING,
  VPD_SUPPORTED_PAGES,
  VPD_UNIT_SERIAL_NUMBER,
} from "../../generated/scsi.ts";
import { SCSI_SENSE_SIZE, type ScsiCommand, writeSense } from "./command.ts";
import { SCSI_MAX_UNMAP_DESCRIPTORS, type ScsiLogicalUnit } from "./logical_unit.ts";
import { checkCondition, type Execution } from "./_execution.ts";
import type { ScsiTarget } from "./target.ts";

/** What INQUIRY and the block limits page say about the target itself. */
export interface TargetIdentity {
  /** T10 vendor identification. */
  readonly vendor: string;
  /** Product revision. */
  readonly revision: string;
  /** Largest transfer of one READ/WRITE, in bytes. */
  readonly maxTransfer: number;
}

const enc = new TextEncoder();

/** `text` into `dst`, ASCII, space padded (SPC-4 4.4.1). */
function putAscii(dst: Uint8Array, text: string): void {
  dst.fill(0x20);
  dst.set(enc.encode(text).subarray(0, dst.length));
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

/** INQUIRY: standard data, or a VPD page (EVPD 1). */
export function inquiry(
  x: Execution,
  id: TargetIdentity,
  cmd: ScsiCommand,
  u: ScsiLogicalUnit | undefined,
): void {
  const c = x.c.inquiry;
  const alloc = c.allocationLength;
  if (c.evpd === 0) {
    // SPC-4 6.6.1: PAGE CODE must be zero for standard data.
    if (c.pageCode !== 0) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    x.clear(ScsiInquiryData.SIZE);
    const d = new ScsiInquiryData(x.view);
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
    putAscii(d.t10VendorIdentificationBytes(), id.vendor);
    putAscii(d.productIdentificationBytes(), u?.product ?? "");
    putAscii(d.productRevisionLevelBytes(), id.revision);
    return x.dataIn(cmd, ScsiInquiryData.SIZE, alloc);
  }
  if (u === undefined) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
  const h = new ScsiVpdHeader(x.view);
  let len: number;
  switch (c.pageCode) {
    case VPD_SUPPORTED_PAGES: {
      x.clear(ScsiVpdHeader.SIZE + SUPPORTED_VPD.length);
      x.scratch.set(SUPPORTED_VPD, ScsiVpdHeader.SIZE);
      len = ScsiVpdHeader.SIZE + SUPPORTED_VPD.length;
      break;
    }
    case VPD_UNIT_SERIAL_NUMBER: {
      const s = enc.encode(u.serial);
      x.clear(ScsiVpdHeader.SIZE + s.length);
      x.scratch.set(s, ScsiVpdHeader.SIZE);
      len = ScsiVpdHeader.SIZE + s.length;
      break;
    }
    case VPD_DEVICE_IDENTIFICATION: {
      // One designator: T10 vendor ID based (type 1), ASCII: vendor (8, padded) + serial.
      const s = enc.encode(u.serial);
      const dlen = 8 + s.length;
      const at = ScsiVpdHeader.SIZE;
      x.clear(at + ScsiDesignationDescriptor.SIZE + dlen);
      const d = new ScsiDesignationDescriptor(x.view, at);
      d.codeSet = 2;
      d.designatorType = 1;
      d.association = 0;
      d.designatorLength = dlen;
      const body = at + ScsiDesignationDescriptor.SIZE;
      putAscii(x.scratch.subarray(body, body + 8), id.vendor);
      x.scratch.set(s, body + 8);
      len = body + dlen;
      break;
    }
    case VPD_BLOCK_LIMITS: {
      x.clear(ScsiVpdBlockLimits.SIZE);
      const b = new ScsiVpdBlockLimits(x.view);
      b.maximumTransferLength = Math.floor(id.maxTransfer / u.blockSize);
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
      x.clear(ScsiVpdBlockCharacteristics.SIZE);
      new ScsiVpdBlockCharacteristics(x.view).mediumRotationRate = 1; // non-rotating
      len = ScsiVpdBlockCharacteristics.SIZE;
      break;
    }
    case VPD_LOGICAL_BLOCK_PROVISIONING: {
      x.clear(ScsiVpdProvisioning.SIZE);
      const p = new ScsiVpdProvisioning(x.view);
      if (u.canUnmap) {
        p.lbpu = 1;
        p.provisioningType = 2; // thin
      }
      len = ScsiVpdProvisioning.SIZE;
      break;
    }
    default:
      return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }
  h.vpdQualifier = 0;
  h.vpdDeviceType = 0;
  h.pageCode = c.pageCode;
  h.pageLength = len - ScsiVpdHeader.SIZE;
  x.dataIn(cmd, len, alloc);
}

/** REPORT LUNS: the target's LUNs (none for the well-known LUs). */
export function reportLuns(x: Execution, target: ScsiTarget, cmd: ScsiCommand): void {
  const c = x.c.rl;
  const alloc = c.allocationLength;
  // SPC-4 6.33.1: an allocation length under 16 is an invalid field.
  if (alloc < 16 || c.selectReport > 2) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }
  // select_report 1 asks for well-known LUs only; this target reports none.
  const luns = c.selectReport === 1 ? [] : target.luns;
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

/** REQUEST SENSE: nothing pending (autosense), or no unit at this LUN. */
export function requestSense(
  x: Execution,
  cmd: ScsiCommand,
  u: ScsiLogicalUnit | undefined,
): void {
  const c = x.c.cdb6;
  // Bit 0 (DESC) asks for descriptor format, which this target does not give.
  if ((c.misc & 1) !== 0) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  // Sense is reported with each CHECK CONDITION (autosense): nothing is pending.
  // SPC-4 6.39: for a LUN with no unit, the sense data says so.
  const s = x.clear(SCSI_SENSE_SIZE);
  if (u === undefined) writeSense(s, ILLEGAL_REQUEST, ASC_LOGICAL_UNIT_NOT_SUPPORTED);
  else writeSense(s, NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
  x.dataIn(cmd, SCSI_SENSE_SIZE, c.allocationLength);
}

/** READ CAPACITY(10). */
export function readCapacity10(x: Execution, cmd: ScsiCommand, u: ScsiLogicalUnit): void {
  const c = x.c.rc10;
  // SBC-3 5.15.1: with PMI 0 the LBA field must be 0.
  if (c.pmi === 0 && c.logicalBlockAddress !== 0) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }
  x.clear(ScsiReadCapacity10Data.SIZE);
  const d = new ScsiReadCapacity10Data(x.view);
  const last = u.blocks - 1;
  // SBC-3 5.15.2: 0xffffffff tells the initiator to use READ CAPACITY(16).
  d.returnedLogicalBlockAddress = last > 0xfffffffe ? 0xffffffff : Math.max(0, last);
  d.logicalBlockLength = u.blockSize;
  x.dataIn(cmd, ScsiReadCapacity10Data.SIZE, ScsiReadCapacity10Data.SIZE);
}

/** SERVICE ACTION IN(16): READ CAPACITY(16), the only service action served. */
export function serviceActionIn(x: Execution, cmd: ScsiCommand, u: ScsiLogicalUnit): void {
  const c = x.c.rc16;
  if (c.serviceAction !== SAI_READ_CAPACITY_16) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }
  x.clear(ScsiReadCapacity16Data.SIZE);
  const d = new ScsiReadCapacity16Data(x.view);
  d.returnedLogicalBlockAddress = BigInt(Math.max(0, u.blocks - 1));
  d.logicalBlockLength = u.blockSize;
  if (u.canUnmap) d.lbpme = 1;
  x.dataIn(cmd, ScsiReadCapacity16Data.SIZE, c.allocationLength);
}

/** MODE SENSE(6) or, with `ten`, MODE SENSE(10). */
export function modeSense(
  x: Execution,
  cmd: ScsiCommand,
  u: ScsiLogicalUnit,
  ten: boolean,
): void {
  let page: number, subpage: number, pc: number, alloc: number;
  if (ten) {
    const c = x.c.ms10;
    page = c.pageCode;
    subpage = c.subpageCode;
    pc = c.pc;
    alloc = c.allocationLength;
  } else {
    const c = x.c.ms6;
    page = c.pageCode;
    subpage = c.subpageCode;
    pc = c.pc;
    alloc = c.allocationLength;
  }
  // SPC-4 6.11.1: saved values need saveable pages; this target has none.
  if (pc === 3) return checkCondition(cmd, ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
  const all = page === MODE_PAGE_ALL;
  if (
    (page !== MODE_PAGE_CACHING && page !== MODE_PAGE_CONTROL && !all) ||
    (subpage !== 0 && !(all && subpage === 0xff))
  ) {
    return checkCondition(cmd, ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }
  const hdr = ten ? ScsiModeHeader10.SIZE : ScsiModeHeader6.SIZE;
  let at = hdr;
  x.clear(hdr + ScsiCachingPage.SIZE + ScsiControlPage.SIZE);
  const changeable = pc === 1; // changeable values: nothing can be changed, all zero
  if (page === MODE_PAGE_CACHING || all) {
    const p = new ScsiCachingPage(x.view, at);
    p.pageCodeC = MODE_PAGE_CACHING;
    p.pageLength = ScsiCachingPage.SIZE - 2;
    if (!changeable) p.wce = 1; // writes complete before they are stable; SYNCHRONIZE CACHE flushes
    at += ScsiCachingPage.SIZE;
  }
  if (page === MODE_PAGE_CONTROL || all) {
    const p = new ScsiControlPage(x.view, at);
    p.pageCodeK = MODE_PAGE_CONTROL;
    p.pageLength = ScsiControlPage.SIZE - 2;
    at += ScsiControlPage.SIZE;
  }
  if (ten) {
    const h = new ScsiModeHeader10(x.view);
    h.modeDataLength = at - 2;
    h.wp10 = u.readOnly ? 1 : 0;
  } else {
    const h = new ScsiModeHeader6(x.view);
    h.modeDataLength = at - 1;
    h.wp = u.readOnly ? 1 : 0;
  }
  x.dataIn(cmd, at, alloc);
}
