/**
 * The SCSI layouts a virtio-scsi target reads and writes (SAM-5, SPC-4,
 * SBC-3): the CDBs of the commands it serves, fixed-format sense data,
 * INQUIRY standard data and the VPD pages Linux asks for, the mode
 * parameter headers and the caching and control mode pages, READ CAPACITY
 * data, REPORT LUNS data and the UNMAP parameter list. Everything in SCSI is
 * big-endian; bitfields are listed from the least significant bit, as the
 * DSL wants, so a byte reads bottom-up against the standard's tables.
 *
 * The virtio side of the device (config, request headers, control queue,
 * events) is in `devices/scsi.ts`.
 *
 * @module
 */
import {
  array,
  be16,
  be32,
  be64,
  bits,
  type ConstantGroup,
  doc,
  enumeration,
  struct,
  type StructType,
  u8,
} from "./dsl.ts";

/** SPC-4 / SBC-3: the operation codes a direct-access target serves (and a few it refuses). */
export const scsi_opcode: ConstantGroup = enumeration("scsi_opcode", {
  TEST_UNIT_READY: { value: 0x00, doc: "SPC-4 6.47: TEST UNIT READY." },
  REQUEST_SENSE: { value: 0x03, doc: "SPC-4 6.39: REQUEST SENSE." },
  READ_6: { value: 0x08, doc: "SBC-3 5.14: READ(6)." },
  WRITE_6: { value: 0x0a, doc: "SBC-3 5.40: WRITE(6)." },
  INQUIRY: { value: 0x12, doc: "SPC-4 6.6: INQUIRY." },
  MODE_SELECT_6: { value: 0x15, doc: "SPC-4 6.9: MODE SELECT(6)." },
  MODE_SENSE_6: { value: 0x1a, doc: "SPC-4 6.11: MODE SENSE(6)." },
  START_STOP_UNIT: { value: 0x1b, doc: "SBC-3 5.25: START STOP UNIT." },
  PREVENT_ALLOW_MEDIUM_REMOVAL: { value: 0x1e, doc: "SPC-4 6.13." },
  READ_CAPACITY_10: { value: 0x25, doc: "SBC-3 5.15: READ CAPACITY(10)." },
  READ_10: { value: 0x28, doc: "SBC-3 5.11: READ(10)." },
  WRITE_10: { value: 0x2a, doc: "SBC-3 5.36: WRITE(10)." },
  VERIFY_10: { value: 0x2f, doc: "SBC-3 5.33: VERIFY(10)." },
  SYNCHRONIZE_CACHE_10: { value: 0x35, doc: "SBC-3 5.26: SYNCHRONIZE CACHE(10)." },
  WRITE_SAME_10: { value: 0x41, doc: "SBC-3 5.41: WRITE SAME(10)." },
  UNMAP: { value: 0x42, doc: "SBC-3 5.28: UNMAP." },
  MODE_SELECT_10: { value: 0x55, doc: "SPC-4 6.10: MODE SELECT(10)." },
  MODE_SENSE_10: { value: 0x5a, doc: "SPC-4 6.12: MODE SENSE(10)." },
  READ_16: { value: 0x88, doc: "SBC-3 5.13: READ(16)." },
  WRITE_16: { value: 0x8a, doc: "SBC-3 5.38: WRITE(16)." },
  SYNCHRONIZE_CACHE_16: { value: 0x91, doc: "SBC-3 5.27: SYNCHRONIZE CACHE(16)." },
  WRITE_SAME_16: { value: 0x93, doc: "SBC-3 5.42: WRITE SAME(16)." },
  SERVICE_ACTION_IN_16: {
    value: 0x9e,
    doc: "SPC-4: SERVICE ACTION IN(16); service action 0x10 is READ CAPACITY(16).",
  },
  REPORT_LUNS: { value: 0xa0, doc: "SPC-4 6.33: REPORT LUNS." },
  MAINTENANCE_IN: { value: 0xa3, doc: "SPC-4: MAINTENANCE IN (REPORT SUPPORTED OPCODES...)." },
}, { doc: "SCSI operation codes (first byte of every CDB)." });

/** SBC-3 5.16: service actions of SERVICE ACTION IN(16). */
export const scsi_service_action_in: ConstantGroup = enumeration("scsi_service_action_in", {
  SAI_READ_CAPACITY_16: { value: 0x10, doc: "READ CAPACITY(16)." },
  SAI_GET_LBA_STATUS: { value: 0x12, doc: "GET LBA STATUS." },
}, { doc: "SBC-3: SERVICE ACTION IN(16) service actions." });

/** SAM-5 5.3: status codes. */
export const scsi_status: ConstantGroup = enumeration("scsi_status", {
  SAM_STAT_GOOD: { value: 0x00, doc: "GOOD." },
  SAM_STAT_CHECK_CONDITION: { value: 0x02, doc: "CHECK CONDITION: sense data describes why." },
  SAM_STAT_BUSY: { value: 0x08, doc: "BUSY." },
  SAM_STAT_RESERVATION_CONFLICT: { value: 0x18, doc: "RESERVATION CONFLICT." },
  SAM_STAT_TASK_SET_FULL: { value: 0x28, doc: "TASK SET FULL." },
  SAM_STAT_TASK_ABORTED: { value: 0x40, doc: "TASK ABORTED." },
}, { doc: "SAM-5: SCSI status codes." });

/** SPC-4 4.5.6: sense keys. */
export const scsi_sense_key: ConstantGroup = enumeration("scsi_sense_key", {
  NO_SENSE: { value: 0x0, doc: "No specific sense key information." },
  RECOVERED_ERROR: { value: 0x1, doc: "Recovered error." },
  NOT_READY: { value: 0x2, doc: "Not ready." },
  MEDIUM_ERROR: { value: 0x3, doc: "Medium error." },
  HARDWARE_ERROR: { value: 0x4, doc: "Hardware error." },
  ILLEGAL_REQUEST: { value: 0x5, doc: "Illegal request." },
  UNIT_ATTENTION: { value: 0x6, doc: "Unit attention." },
  DATA_PROTECT: { value: 0x7, doc: "Data protect (write protected)." },
  ABORTED_COMMAND: { value: 0xb, doc: "Aborted command." },
}, { doc: "SPC-4 4.5.6: sense keys." });

/** SPC-4 D.2: additional sense codes (ASC in the high byte, ASCQ in the low byte). */
export const scsi_asc: ConstantGroup = enumeration("scsi_asc", {
  ASC_NO_ADDITIONAL_SENSE: { value: 0x0000, doc: "NO ADDITIONAL SENSE INFORMATION." },
  ASC_WRITE_ERROR: { value: 0x0c00, doc: "WRITE ERROR." },
  ASC_UNRECOVERED_READ_ERROR: { value: 0x1100, doc: "UNRECOVERED READ ERROR." },
  ASC_PARAMETER_LIST_LENGTH_ERROR: { value: 0x1a00, doc: "PARAMETER LIST LENGTH ERROR." },
  ASC_INVALID_COMMAND_OPERATION_CODE: { value: 0x2000, doc: "INVALID COMMAND OPERATION CODE." },
  ASC_LBA_OUT_OF_RANGE: { value: 0x2100, doc: "LOGICAL BLOCK ADDRESS OUT OF RANGE." },
  ASC_INVALID_FIELD_IN_CDB: { value: 0x2400, doc: "INVALID FIELD IN CDB." },
  ASC_LOGICAL_UNIT_NOT_SUPPORTED: { value: 0x2500, doc: "LOGICAL UNIT NOT SUPPORTED." },
  ASC_INVALID_FIELD_IN_PARAMETER_LIST: { value: 0x2600, doc: "INVALID FIELD IN PARAMETER LIST." },
  ASC_WRITE_PROTECTED: { value: 0x2700, doc: "WRITE PROTECTED." },
  ASC_POWER_ON_RESET: { value: 0x2900, doc: "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED." },
  ASC_REPORTED_LUNS_DATA_HAS_CHANGED: { value: 0x3f0e, doc: "REPORTED LUNS DATA HAS CHANGED." },
  ASC_INTERNAL_TARGET_FAILURE: { value: 0x4400, doc: "INTERNAL TARGET FAILURE." },
  ASC_SAVING_PARAMETERS_NOT_SUPPORTED: { value: 0x3900, doc: "SAVING PARAMETERS NOT SUPPORTED." },
}, { doc: "SPC-4 D.2: additional sense code and qualifier, as (ASC << 8) | ASCQ." });

/** SPC-4 7.8: VPD page codes. */
export const scsi_vpd_page: ConstantGroup = enumeration("scsi_vpd_page", {
  VPD_SUPPORTED_PAGES: { value: 0x00, doc: "Supported VPD pages." },
  VPD_UNIT_SERIAL_NUMBER: { value: 0x80, doc: "Unit serial number." },
  VPD_DEVICE_IDENTIFICATION: { value: 0x83, doc: "Device identification." },
  VPD_BLOCK_LIMITS: { value: 0xb0, doc: "SBC-3 6.6.4: block limits." },
  VPD_BLOCK_DEVICE_CHARACTERISTICS: {
    value: 0xb1,
    doc: "SBC-3 6.6.2: block device characteristics.",
  },
  VPD_LOGICAL_BLOCK_PROVISIONING: { value: 0xb2, doc: "SBC-3 6.6.5: logical block provisioning." },
}, { doc: "SPC-4 / SBC-3: vital product data page codes." });

/** SPC-4 7.5: mode page codes. */
export const scsi_mode_page: ConstantGroup = enumeration("scsi_mode_page", {
  MODE_PAGE_CACHING: { value: 0x08, doc: "SBC-3 6.5.5: caching mode page." },
  MODE_PAGE_CONTROL: { value: 0x0a, doc: "SPC-4 7.5.7: control mode page." },
  MODE_PAGE_ALL: { value: 0x3f, doc: "Return all mode pages." },
}, { doc: "SPC-4 / SBC-3: mode page codes." });

/** SPC-4 4.5.3: response codes of sense data. */
export const scsi_sense_response: ConstantGroup = enumeration("scsi_sense_response", {
  SENSE_FIXED_CURRENT: { value: 0x70, doc: "Fixed format, current error." },
  SENSE_FIXED_DEFERRED: { value: 0x71, doc: "Fixed format, deferred error." },
  SENSE_DESC_CURRENT: { value: 0x72, doc: "Descriptor format, current error." },
}, { doc: "SPC-4 4.5.3: sense data response codes." });

/** SAM-5 4.6.19: a single-level LUN, the first level of the 8-byte LUN structure. */
export const scsi_lun_level: StructType = struct("scsi_lun_level", {
  address: bits(be16, {
    lun: {
      width: 14,
      doc: "Flat space (method 01b): the LUN; peripheral (00b): bus 0 in bits 8-13, LUN in 0-7.",
    },
    address_method: { width: 2, doc: "0: peripheral device addressing, 1: flat space." },
  }),
  second_level: doc(array(u8, 6), "The lower levels; zero for a single-level LUN."),
}, { doc: "SAM-5 4.6: an 8-byte LUN with a single level (REPORT LUNS list entry)." });

/** SPC-4 6.47 and others: the operation code every CDB starts with, and a 6-byte CDB's control. */
export const scsi_cdb6: StructType = struct("scsi_cdb6", {
  operation_code: u8,
  misc: doc(u8, "Command-specific (REQUEST SENSE: DESC in bit 0)."),
  reserved: array(u8, 2),
  allocation_length: doc(u8, "Allocation length (REQUEST SENSE) or transfer length."),
  control: u8,
}, { doc: "A generic 6-byte CDB: TEST UNIT READY, REQUEST SENSE." });

/** SBC-3 5.14, 5.40: READ(6) and WRITE(6). */
export const scsi_rw6_cdb: StructType = struct("scsi_rw6_cdb", {
  head: bits(be32, {
    logical_block_address: { width: 21, doc: "LBA (21 bits)." },
    reserved_lba: 3,
    operation_code_rw6: 8,
  }),
  transfer_length: doc(u8, "Blocks to transfer; 0 means 256."),
  control: u8,
}, { doc: "SBC-3: READ(6) / WRITE(6) CDB." });

/** SBC-3 5.11, 5.36, 5.26: READ(10), WRITE(10), SYNCHRONIZE CACHE(10), VERIFY(10). */
export const scsi_lba10_cdb: StructType = struct("scsi_lba10_cdb", {
  operation_code: u8,
  flags: bits(u8, {
    obsolete0: 1,
    immed_or_fua_nv: { width: 1, doc: "FUA_NV (READ/WRITE) or IMMED (SYNCHRONIZE CACHE)." },
    reserved2: 1,
    fua: { width: 1, doc: "Force unit access." },
    dpo: { width: 1, doc: "Disable page out." },
    protect: { width: 3, doc: "RDPROTECT / WRPROTECT; non-zero needs protection information." },
  }),
  logical_block_address: be32,
  group_number: u8,
  transfer_length: doc(be16, "Blocks (READ/WRITE) or number of logical blocks (SYNCHRONIZE)."),
  control: u8,
}, { doc: "SBC-3: the 10-byte CDB with LBA and length." });

/** SBC-3 5.13, 5.38, 5.27: READ(16), WRITE(16), SYNCHRONIZE CACHE(16). */
export const scsi_lba16_cdb: StructType = struct("scsi_lba16_cdb", {
  operation_code: u8,
  flags: u8,
  logical_block_address: be64,
  transfer_length: doc(be32, "Blocks (READ/WRITE) or number of logical blocks (SYNCHRONIZE)."),
  group_number: u8,
  control: u8,
}, { doc: "SBC-3: the 16-byte CDB with LBA and length (flags as in scsi_lba10_cdb)." });

/** SPC-4 6.6.1: INQUIRY CDB. */
export const scsi_inquiry_cdb: StructType = struct("scsi_inquiry_cdb", {
  operation_code: u8,
  evpd_byte: bits(u8, { evpd: 1, obsolete_cmddt: 1, reserved_evpd: 6 }),
  page_code: u8,
  allocation_length: be16,
  control: u8,
}, { doc: "SPC-4 6.6.1: INQUIRY command." });

/** SPC-4 6.11.1: MODE SENSE(6) CDB. */
export const scsi_mode_sense6_cdb: StructType = struct("scsi_mode_sense6_cdb", {
  operation_code: u8,
  dbd_byte: bits(u8, { reserved_ms6: 3, dbd: 1, reserved_ms6_hi: 4 }),
  page: bits(u8, { page_code: 6, pc: { width: 2, doc: "Page control: 0 current values." } }),
  subpage_code: u8,
  allocation_length: u8,
  control: u8,
}, { doc: "SPC-4 6.11.1: MODE SENSE(6) command." });

/** SPC-4 6.12.1: MODE SENSE(10) CDB. */
export const scsi_mode_sense10_cdb: StructType = struct("scsi_mode_sense10_cdb", {
  operation_code: u8,
  dbd_byte: bits(u8, { reserved_ms10: 3, dbd: 1, llbaa: 1, reserved_ms10_hi: 3 }),
  page: bits(u8, { page_code: 6, pc: 2 }),
  subpage_code: u8,
  reserved: array(u8, 3),
  allocation_length: be16,
  control: u8,
}, { doc: "SPC-4 6.12.1: MODE SENSE(10) command." });

/** SBC-3 5.15.1: READ CAPACITY(10) CDB. */
export const scsi_read_capacity10_cdb: StructType = struct("scsi_read_capacity10_cdb", {
  operation_code: u8,
  reserved1: u8,
  logical_block_address: doc(be32, "Obsolete; must be 0 when PMI is 0."),
  reserved6: array(u8, 2),
  pmi_byte: bits(u8, { pmi: 1, reserved_pmi: 7 }),
  control: u8,
}, { doc: "SBC-3 5.15.1: READ CAPACITY(10) command." });

/** SBC-3 5.16.1: READ CAPACITY(16) (SERVICE ACTION IN(16)) CDB. */
export const scsi_read_capacity16_cdb: StructType = struct("scsi_read_capacity16_cdb", {
  operation_code: u8,
  action: bits(u8, { service_action: 5, reserved_sa: 3 }),
  logical_block_address: be64,
  allocation_length: be32,
  pmi_byte: bits(u8, { pmi: 1, reserved_pmi16: 7 }),
  control: u8,
}, { doc: "SBC-3 5.16.1: READ CAPACITY(16) command." });

/** SPC-4 6.33.1: REPORT LUNS CDB. */
export const scsi_report_luns_cdb: StructType = struct("scsi_report_luns_cdb", {
  operation_code: u8,
  reserved1: u8,
  select_report: doc(u8, "0: LUNs of the target, 1: well-known LUs only, 2: all."),
  reserved3: array(u8, 3),
  allocation_length: be32,
  reserved10: u8,
  control: u8,
}, { doc: "SPC-4 6.33.1: REPORT LUNS command." });

/** SBC-3 5.28.1: UNMAP CDB. */
export const scsi_unmap_cdb: StructType = struct("scsi_unmap_cdb", {
  operation_code: u8,
  anchor: u8,
  reserved2: array(u8, 4),
  group_number: u8,
  parameter_list_length: be16,
  control: u8,
}, { doc: "SBC-3 5.28.1: UNMAP command." });

/** SPC-4 4.5.3: fixed-format sense data. */
export const scsi_fixed_sense: StructType = struct("scsi_fixed_sense", {
  response: bits(u8, {
    response_code: { width: 7, doc: "0x70 current, 0x71 deferred." },
    valid: { width: 1, doc: "INFORMATION is valid." },
  }),
  obsolete: u8,
  key_byte: bits(u8, {
    sense_key: 4,
    reserved_key: 1,
    ili: 1,
    eom: 1,
    filemark: 1,
  }),
  information: be32,
  additional_sense_length: doc(u8, "Bytes after this one (10 for 18-byte sense data)."),
  command_specific_information: be32,
  additional_sense_code: u8,
  additional_sense_code_qualifier: u8,
  field_replaceable_unit_code: u8,
  sense_key_specific: array(u8, 3),
}, { doc: "SPC-4 4.5.3: fixed-format sense data (18 bytes)." });

/** SPC-4 6.6.2: standard INQUIRY data. */
export const scsi_inquiry_data: StructType = struct("scsi_inquiry_data", {
  peripheral: bits(u8, {
    peripheral_device_type: { width: 5, doc: "0: direct access block device; 0x1f: unknown." },
    peripheral_qualifier: { width: 3, doc: "0: connected; 3: no device at this LUN." },
  }),
  rmb_byte: bits(u8, { reserved_rmb: 7, rmb: 1 }),
  version: doc(u8, "0x06: SPC-4."),
  format_byte: bits(u8, {
    response_data_format: { width: 4, doc: "Always 2." },
    hisup: 1,
    normaca: 1,
    obsolete_format: 2,
  }),
  additional_length: doc(u8, "Bytes after this one (31 for the 36-byte standard data)."),
  byte5: bits(u8, { protect: 1, reserved_b5: 2, tpc: 1, tpgs: 2, acc: 1, sccs: 1 }),
  byte6: u8,
  byte7: bits(u8, { reserved_b7: 1, cmdque: 1, reserved_b7_hi: 6 }),
  t10_vendor_identification: doc(array(u8, 8), "ASCII, space padded."),
  product_identification: doc(array(u8, 16), "ASCII, space padded."),
  product_revision_level: doc(array(u8, 4), "ASCII, space padded."),
}, { doc: "SPC-4 6.6.2: standard INQUIRY data (the first 36 bytes)." });

/** SPC-4 7.8.1: the header of every VPD page. */
export const scsi_vpd_header: StructType = struct("scsi_vpd_header", {
  peripheral: bits(u8, { vpd_device_type: 5, vpd_qualifier: 3 }),
  page_code: u8,
  page_length: doc(be16, "Bytes after the header."),
}, { doc: "SPC-4 7.8.1: VPD page header." });

/** SPC-4 7.8.6.1: one designation descriptor of the device identification page (header). */
export const scsi_designation_descriptor: StructType = struct("scsi_designation_descriptor", {
  byte0: bits(u8, {
    code_set: { width: 4, doc: "1 binary, 2 ASCII, 3 UTF-8." },
    protocol_identifier: 4,
  }),
  byte1: bits(u8, {
    designator_type: { width: 4, doc: "0 vendor specific, 1 T10 vendor ID, 3 NAA." },
    association: { width: 2, doc: "0: the logical unit." },
    reserved_d1: 1,
    piv: 1,
  }),
  reserved: u8,
  designator_length: doc(u8, "Bytes of the designator that follows."),
}, { doc: "SPC-4 7.8.6.1: designation descriptor header (the designator follows)." });

/** SBC-3 6.6.4: the block limits VPD page. */
export const scsi_vpd_block_limits: StructType = struct("scsi_vpd_block_limits", {
  header: doc(scsi_vpd_header, "page_length 0x3c."),
  wsnz_byte: bits(u8, { wsnz: 1, reserved_wsnz: 7 }),
  maximum_compare_and_write_length: u8,
  optimal_transfer_length_granularity: be16,
  maximum_transfer_length: be32,
  optimal_transfer_length: be32,
  maximum_prefetch_length: be32,
  maximum_unmap_lba_count: be32,
  maximum_unmap_block_descriptor_count: be32,
  optimal_unmap_granularity: be32,
  unmap_granularity_alignment: bits(be32, { alignment: 31, ugavalid: 1 }),
  maximum_write_same_length: be64,
  reserved: array(u8, 20),
}, { doc: "SBC-3 6.6.4: block limits VPD page (64 bytes)." });

/** SBC-3 6.6.2: the block device characteristics VPD page. */
export const scsi_vpd_block_characteristics: StructType = struct(
  "scsi_vpd_block_characteristics",
  {
    header: doc(scsi_vpd_header, "page_length 0x3c."),
    medium_rotation_rate: doc(be16, "1: non-rotating (solid state)."),
    product_type: u8,
    form_factor_byte: bits(u8, { nominal_form_factor: 4, wacereq: 2, wabereq: 2 }),
    zoned_byte: bits(u8, { fuab: 1, vbuls: 1, reserved_zoned: 2, zoned: 2, reserved_z_hi: 2 }),
    reserved: array(u8, 55),
  },
  { doc: "SBC-3 6.6.2: block device characteristics VPD page (64 bytes)." },
);

/** SBC-3 6.6.5: the logical block provisioning VPD page. */
export const scsi_vpd_provisioning: StructType = struct("scsi_vpd_provisioning", {
  header: doc(scsi_vpd_header, "page_length 4."),
  threshold_exponent: u8,
  lbp_byte: bits(u8, {
    dp: 1,
    anc_sup: 1,
    lbprz: 3,
    lbpws10: 1,
    lbpws: 1,
    lbpu: { width: 1, doc: "UNMAP is supported." },
  }),
  provisioning_byte: bits(u8, {
    provisioning_type: { width: 3, doc: "0 full, 1 resource, 2 thin." },
    reserved_pt: 5,
  }),
  threshold_percentage: u8,
}, { doc: "SBC-3 6.6.5: logical block provisioning VPD page (8 bytes)." });

/** SPC-4 7.5.5: MODE SENSE(6) parameter header. */
export const scsi_mode_header6: StructType = struct("scsi_mode_header6", {
  mode_data_length: doc(u8, "Bytes after this one."),
  medium_type: u8,
  device_specific_parameter: bits(u8, { reserved_dsp: 4, dpofua: 1, reserved_dsp2: 2, wp: 1 }),
  block_descriptor_length: u8,
}, { doc: "SPC-4 7.5.5: mode parameter header(6)." });

/** SPC-4 7.5.5: MODE SENSE(10) parameter header. */
export const scsi_mode_header10: StructType = struct("scsi_mode_header10", {
  mode_data_length: doc(be16, "Bytes after this field."),
  medium_type: u8,
  device_specific_parameter: bits(u8, {
    reserved_dsp10: 4,
    dpofua10: 1,
    reserved_dsp10b: 2,
    wp10: 1,
  }),
  longlba_byte: u8,
  reserved: u8,
  block_descriptor_length: be16,
}, { doc: "SPC-4 7.5.5: mode parameter header(10)." });

/** SBC-3 6.5.5: the caching mode page. */
export const scsi_caching_page: StructType = struct("scsi_caching_page", {
  page: bits(u8, { page_code_c: 6, spf: 1, ps: 1 }),
  page_length: doc(u8, "0x12."),
  cache_byte: bits(u8, {
    rcd: { width: 1, doc: "Read cache disable." },
    mf: 1,
    wce: { width: 1, doc: "Write cache enable: writes complete before they are stable." },
    size_bit: { width: 1, doc: "SIZE (cache segment size)." },
    disc: 1,
    cap: 1,
    abpf: 1,
    ic: 1,
  }),
  retention_priority: u8,
  disable_prefetch_transfer_length: be16,
  minimum_prefetch: be16,
  maximum_prefetch: be16,
  maximum_prefetch_ceiling: be16,
  byte12: u8,
  number_of_cache_segments: u8,
  cache_segment_size: be16,
  reserved: u8,
  obsolete: array(u8, 3),
}, { doc: "SBC-3 6.5.5: caching mode page (20 bytes)." });

/** SPC-4 7.5.7: the control mode page. */
export const scsi_control_page: StructType = struct("scsi_control_page", {
  page: bits(u8, { page_code_k: 6, spf_k: 1, ps_k: 1 }),
  page_length: doc(u8, "0x0a."),
  byte2: bits(u8, { rlec: 1, gltsd: 1, d_sense: 1, dpicz: 1, tmf_only: 1, tst: 3 }),
  byte3: bits(u8, { reserved_k3: 1, qerr: 2, nuar: 1, queue_algorithm_modifier: 4 }),
  byte4: u8,
  byte5: bits(u8, { autoload_mode: 3, reserved_k5: 1, rwwp: 1, sbo: 1, tas: 1, ato: 1 }),
  obsolete: be16,
  busy_timeout_period: be16,
  extended_self_test_completion_time: be16,
}, { doc: "SPC-4 7.5.7: control mode page (12 bytes)." });

/** SBC-3 5.15.2: READ CAPACITY(10) parameter data. */
export const scsi_read_capacity10_data: StructType = struct("scsi_read_capacity10_data", {
  returned_logical_block_address: doc(be32, "The last LBA, or 0xffffffff when it does not fit."),
  logical_block_length: doc(be32, "Bytes per logical block."),
}, { doc: "SBC-3 5.15.2: READ CAPACITY(10) data (8 bytes)." });

/** SBC-3 5.16.2: READ CAPACITY(16) parameter data. */
export const scsi_read_capacity16_data: StructType = struct("scsi_read_capacity16_data", {
  returned_logical_block_address: doc(be64, "The last LBA."),
  logical_block_length: be32,
  protection_byte: bits(u8, { prot_en: 1, p_type: 3, reserved_prot: 4 }),
  exponents: bits(u8, {
    logical_blocks_per_physical_block_exponent: 4,
    p_i_exponent: 4,
  }),
  alignment: bits(be16, {
    lowest_aligned_logical_block_address: 14,
    lbprz_rc: { width: 1, doc: "Unmapped blocks read as zero." },
    lbpme: { width: 1, doc: "Logical block provisioning management enabled (UNMAP works)." },
  }),
  reserved: array(u8, 16),
}, { doc: "SBC-3 5.16.2: READ CAPACITY(16) data (32 bytes)." });

/** SPC-4 6.33.2: REPORT LUNS parameter data header (LUN entries follow). */
export const scsi_report_luns_header: StructType = struct("scsi_report_luns_header", {
  lun_list_length: doc(be32, "Bytes of LUN entries (8 per LUN)."),
  reserved: be32,
}, { doc: "SPC-4 6.33.2: REPORT LUNS data header; scsi_lun_level entries follow." });

/** SBC-3 5.28.2: UNMAP parameter list header. */
export const scsi_unmap_header: StructType = struct("scsi_unmap_header", {
  unmap_data_length: doc(be16, "Bytes after this field."),
  unmap_block_descriptor_data_length: doc(be16, "Bytes of block descriptors (16 each)."),
  reserved: array(u8, 4),
}, { doc: "SBC-3 5.28.2: UNMAP parameter list header; block descriptors follow." });

/** SBC-3 5.28.2: one UNMAP block descriptor. */
export const scsi_unmap_descriptor: StructType = struct("scsi_unmap_descriptor", {
  unmap_logical_block_address: be64,
  number_of_logical_blocks: be32,
  reserved: array(u8, 4),
}, { doc: "SBC-3 5.28.2: UNMAP block descriptor (16 bytes)." });
