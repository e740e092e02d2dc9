/**
 * The block device (spec 5.2): its configuration layout with geometry,
 * topology and zoned characteristics, the request and zone-append request
 * layouts, discard/write-zeroes segments, the lifetime and zone report
 * structures, and the request types, status codes and zone constants.
 * Everything is little-endian; sectors are always 512 bytes.
 *
 * @module
 */
import {
  array,
  bits,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  flags,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.2.2: virtqueue indices. */
export const virtio_blk_queues: ConstantGroup = enumeration("virtio_blk_queues", {
  requestq1: { value: 0, doc: "First request queue; requestqN is at N-1 (num_queues with MQ)." },
}, { doc: "5.2.2: virtqueue indices of the block device.", exportMembers: false });

/** 5.2.3: block device feature bits, with the legacy ones of 5.2.3.1. */
export const virtio_blk_features: ConstantGroup = featureBits("virtio_blk_features", {
  VIRTIO_BLK_F_BARRIER: { value: 0, doc: "Legacy: device supports request barriers." },
  VIRTIO_BLK_F_SIZE_MAX: { value: 1, doc: "Maximum segment size is in size_max." },
  VIRTIO_BLK_F_SEG_MAX: { value: 2, doc: "Maximum segments per request is in seg_max." },
  VIRTIO_BLK_F_GEOMETRY: { value: 4, doc: "Disk-style geometry is in geometry." },
  VIRTIO_BLK_F_RO: { value: 5, doc: "Device is read-only." },
  VIRTIO_BLK_F_BLK_SIZE: { value: 6, doc: "Block size of the disk is in blk_size." },
  VIRTIO_BLK_F_SCSI: { value: 7, doc: "Legacy: device supports SCSI packet commands." },
  VIRTIO_BLK_F_FLUSH: { value: 9, doc: "Cache flush command support." },
  VIRTIO_BLK_F_WCE: {
    value: 9,
    doc: "Legacy name of VIRTIO_BLK_F_FLUSH (same bit).",
  },
  VIRTIO_BLK_F_TOPOLOGY: { value: 10, doc: "Optimal I/O alignment is in topology." },
  VIRTIO_BLK_F_CONFIG_WCE: {
    value: 11,
    doc: "Cache mode can be switched between writeback and writethrough (writeback).",
  },
  VIRTIO_BLK_F_MQ: { value: 12, doc: "Multiqueue; the number of queues is in num_queues." },
  VIRTIO_BLK_F_DISCARD: {
    value: 13,
    doc: "Discard command; limits in max_discard_sectors and max_discard_seg.",
  },
  VIRTIO_BLK_F_WRITE_ZEROES: {
    value: 14,
    doc: "Write zeroes command; limits in max_write_zeroes_sectors and max_write_zeroes_seg.",
  },
  VIRTIO_BLK_F_LIFETIME: { value: 15, doc: "Storage lifetime information (GET_LIFETIME)." },
  VIRTIO_BLK_F_SECURE_ERASE: {
    value: 16,
    doc: "Secure erase command; limits in max_secure_erase_sectors and max_secure_erase_seg.",
  },
  VIRTIO_BLK_F_ZONED: {
    value: 17,
    doc: "Zoned block device (ZBC / ZNS zoned storage semantics).",
  },
}, { doc: "5.2.3: block device feature bits (bit numbers)." });

/** 5.2.4: disk geometry inside `virtio_blk_config`. */
export const virtio_blk_geometry: StructType = struct("virtio_blk_geometry", {
  cylinders: doc(le16, "Number of cylinders."),
  heads: doc(u8, "Number of heads."),
  sectors: doc(u8, "Sectors per track."),
}, { doc: "5.2.4: disk-style geometry (VIRTIO_BLK_F_GEOMETRY)." });

/** 5.2.4: I/O topology inside `virtio_blk_config`. */
export const virtio_blk_topology: StructType = struct("virtio_blk_topology", {
  physical_block_exp: doc(u8, "Logical blocks per physical block, as a power of two (log2)."),
  alignment_offset: doc(u8, "Offset of the first aligned logical block."),
  min_io_size: doc(le16, "Suggested minimum I/O size in blocks."),
  opt_io_size: doc(le32, "Optimal (suggested maximum) I/O size in blocks."),
}, { doc: "5.2.4: optimal I/O alignment and sizes (VIRTIO_BLK_F_TOPOLOGY)." });

/** 5.2.4: zoned characteristics inside `virtio_blk_config`. */
export const virtio_blk_zoned_characteristics: StructType = struct(
  "virtio_blk_zoned_characteristics",
  {
    zone_sectors: doc(le32, "Size of a zone in 512-byte sectors (the last may be smaller)."),
    max_open_zones: doc(le32, "Maximum number of open zones (0: no limit)."),
    max_active_zones: doc(le32, "Maximum number of active zones (0: no limit)."),
    max_append_sectors: doc(le32, "Maximum zone append size in 512-byte sectors."),
    write_granularity: doc(le32, "Write granularity in bytes."),
    model: doc(u8, "Zoned model: VIRTIO_BLK_Z_*."),
    unused2: doc(array(u8, 3), "Padding."),
  },
  { doc: "5.2.4: zoned block device characteristics (VIRTIO_BLK_F_ZONED)." },
);

/** 5.2.4: the block device's configuration layout. */
export const virtio_blk_config: StructType = struct("virtio_blk_config", {
  capacity: doc(le64, "Device size in 512-byte sectors; always present."),
  size_max: doc(le32, "With VIRTIO_BLK_F_SIZE_MAX: maximum size of one segment."),
  seg_max: doc(le32, "With VIRTIO_BLK_F_SEG_MAX: maximum segments per request."),
  geometry: doc(virtio_blk_geometry, "With VIRTIO_BLK_F_GEOMETRY: disk geometry."),
  blk_size: doc(le32, "With VIRTIO_BLK_F_BLK_SIZE: optimal block size (not the protocol unit)."),
  topology: doc(virtio_blk_topology, "With VIRTIO_BLK_F_TOPOLOGY: I/O topology."),
  writeback: doc(
    u8,
    "With VIRTIO_BLK_F_CONFIG_WCE: cache mode, 0 writethrough or 1 writeback (driver-writable).",
  ),
  unused0: doc(u8, "Padding, zero."),
  num_queues: doc(le16, "With VIRTIO_BLK_F_MQ: number of request queues."),
  max_discard_sectors: doc(le32, "With VIRTIO_BLK_F_DISCARD: maximum discard sectors."),
  max_discard_seg: doc(le32, "With VIRTIO_BLK_F_DISCARD: maximum discard segments."),
  discard_sector_alignment: doc(
    le32,
    "With VIRTIO_BLK_F_DISCARD: discard alignment in 512-byte sectors.",
  ),
  max_write_zeroes_sectors: doc(
    le32,
    "With VIRTIO_BLK_F_WRITE_ZEROES: maximum write zeroes sectors.",
  ),
  max_write_zeroes_seg: doc(le32, "With VIRTIO_BLK_F_WRITE_ZEROES: maximum write zeroes segments."),
  write_zeroes_may_unmap: doc(
    u8,
    "With VIRTIO_BLK_F_WRITE_ZEROES: 1 if write zeroes with unmap may deallocate sectors.",
  ),
  unused1: doc(array(u8, 3), "Padding, zero."),
  max_secure_erase_sectors: doc(
    le32,
    "With VIRTIO_BLK_F_SECURE_ERASE: maximum secure erase sectors.",
  ),
  max_secure_erase_seg: doc(
    le32,
    "With VIRTIO_BLK_F_SECURE_ERASE: maximum secure erase segments.",
  ),
  secure_erase_sector_alignment: doc(
    le32,
    "With VIRTIO_BLK_F_SECURE_ERASE: secure erase alignment in 512-byte sectors.",
  ),
  zoned: doc(virtio_blk_zoned_characteristics, "With VIRTIO_BLK_F_ZONED: zone characteristics."),
}, { doc: "5.2.4: block device configuration layout." });

/** 5.2.4: values of `virtio_blk_zoned_characteristics.model`. */
export const virtio_blk_zoned_model: ConstantGroup = enumeration("virtio_blk_zoned_model", {
  VIRTIO_BLK_Z_NONE: { value: 0, doc: "Drive-managed: behaves like a non-zoned device." },
  VIRTIO_BLK_Z_HM: { value: 1, doc: "Host-managed: sequential write required zones." },
  VIRTIO_BLK_Z_HA: { value: 2, doc: "Host-aware: sequential write preferred zones." },
}, { doc: "5.2.4: zoned device models." });

/** 5.2.6: a block request (every type but VIRTIO_BLK_T_ZONE_APPEND). */
export const virtio_blk_req: StructType = struct("virtio_blk_req", {
  type: doc(le32, "VIRTIO_BLK_T_* request type."),
  reserved: doc(le32, "Reserved (legacy: ioprio, a priority hint)."),
  sector: doc(le64, "Offset in 512-byte sectors for reads, writes and some zone commands."),
  data: doc(
    array(u8, "data_len"),
    "Payload: sectors read or written, segments, the id string, lifetime or zone report.",
  ),
  status: doc(u8, "Written by the device: VIRTIO_BLK_S_*."),
}, { doc: "5.2.6: block request layout." });

/**
 * 5.2.6: the fixed device-readable header that starts every `virtio_blk_req`
 * (`type`, `reserved`, `sector`); Linux calls it `struct virtio_blk_outhdr`.
 * A device copies these 16 bytes out of the chain once and reads them here.
 */
export const virtio_blk_outhdr: StructType = struct("virtio_blk_outhdr", {
  type: doc(le32, "VIRTIO_BLK_T_* request type."),
  reserved: doc(le32, "Reserved (legacy: ioprio, a priority hint)."),
  sector: field(le64, {
    asNumber: true,
    doc:
      "Offset in 512-byte sectors (a number: past 2^53 it reads rounded, still past any capacity).",
  }),
}, { doc: "5.2.6: block request header (the fixed start of virtio_blk_req)." });

/** 5.2.6: a VIRTIO_BLK_T_ZONE_APPEND request. */
export const virtio_blk_req_za: StructType = struct("virtio_blk_req_za", {
  type: doc(le32, "VIRTIO_BLK_T_ZONE_APPEND."),
  reserved: doc(le32, "Reserved."),
  sector: doc(le64, "Start sector of the zone to append to."),
  data: doc(array(u8, "data_len"), "The data to append."),
  append_sector: doc(le64, "Written by the device: the sector where the data landed."),
  status: doc(u8, "Written by the device: VIRTIO_BLK_S_*."),
}, { doc: "5.2.6: zone append request layout." });

/** 5.2.6: request types (`virtio_blk_req.type`). */
export const virtio_blk_req_type: ConstantGroup = enumeration("virtio_blk_req_type", {
  VIRTIO_BLK_T_IN: { value: 0, doc: "Read." },
  VIRTIO_BLK_T_OUT: { value: 1, doc: "Write." },
  VIRTIO_BLK_T_SCSI_CMD: { value: 2, doc: "Legacy: SCSI packet command." },
  VIRTIO_BLK_T_SCSI_CMD_OUT: { value: 3, doc: "Legacy: SCSI packet command (same as 2)." },
  VIRTIO_BLK_T_FLUSH: { value: 4, doc: "Flush the write cache." },
  VIRTIO_BLK_T_FLUSH_OUT: { value: 5, doc: "Legacy: synonym of VIRTIO_BLK_T_FLUSH." },
  VIRTIO_BLK_T_GET_ID: {
    value: 8,
    doc: "Read the device id string (up to 20 bytes, NUL-padded).",
  },
  VIRTIO_BLK_T_GET_LIFETIME: { value: 10, doc: "Read virtio_blk_lifetime." },
  VIRTIO_BLK_T_DISCARD: { value: 11, doc: "Discard the given segments." },
  VIRTIO_BLK_T_WRITE_ZEROES: { value: 13, doc: "Write zeroes to the given segments." },
  VIRTIO_BLK_T_SECURE_ERASE: { value: 14, doc: "Securely erase the given segments." },
  VIRTIO_BLK_T_ZONE_APPEND: { value: 15, doc: "Append to a zone (virtio_blk_req_za)." },
  VIRTIO_BLK_T_ZONE_REPORT: { value: 16, doc: "Read a zone report." },
  VIRTIO_BLK_T_ZONE_OPEN: { value: 18, doc: "Explicitly open a zone." },
  VIRTIO_BLK_T_ZONE_CLOSE: { value: 20, doc: "Close a zone." },
  VIRTIO_BLK_T_ZONE_FINISH: { value: 22, doc: "Finish a zone (make it full)." },
  VIRTIO_BLK_T_ZONE_RESET: { value: 24, doc: "Reset a zone's write pointer." },
  VIRTIO_BLK_T_ZONE_RESET_ALL: { value: 26, doc: "Reset all zones." },
}, { doc: "5.2.6: block request types, with the legacy ones of 5.2.6.3." });

/** 5.2.6.3: flag bits of `virtio_blk_req.type` in the legacy interface. */
export const virtio_blk_req_type_flags: ConstantGroup = flags("virtio_blk_req_type_flags", {
  VIRTIO_BLK_T_BARRIER: {
    value: 0x80000000,
    doc: "Legacy, with VIRTIO_BLK_F_BARRIER: the request is a barrier.",
  },
}, { doc: "5.2.6.3: legacy request type flag." });

/** 5.2.6: status values (`virtio_blk_req.status`). */
export const virtio_blk_status: ConstantGroup = enumeration("virtio_blk_status", {
  VIRTIO_BLK_S_OK: { value: 0, doc: "Success." },
  VIRTIO_BLK_S_IOERR: { value: 1, doc: "Device or driver error." },
  VIRTIO_BLK_S_UNSUPP: { value: 2, doc: "Request unsupported by the device." },
  VIRTIO_BLK_S_ZONE_INVALID_CMD: {
    value: 3,
    doc: "Zoned: the command is invalid for the zone.",
  },
  VIRTIO_BLK_S_ZONE_UNALIGNED_WP: {
    value: 4,
    doc: "Zoned: the write is not at the zone's write pointer.",
  },
  VIRTIO_BLK_S_ZONE_OPEN_RESOURCE: { value: 5, doc: "Zoned: too many open zones." },
  VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE: { value: 6, doc: "Zoned: too many active zones." },
}, { doc: "5.2.6: request status values." });

/** 5.2.6: one segment of a discard, write zeroes or secure erase request. */
export const virtio_blk_discard_write_zeroes: StructType = struct(
  "virtio_blk_discard_write_zeroes",
  {
    sector: field(le64, {
      asNumber: true,
      doc: "First sector of the range, 512-byte units (a number: past 2^53 reads rounded).",
    }),
    num_sectors: doc(le32, "Number of sectors in the range."),
    flags: bits(le32, {
      unmap: {
        width: 1,
        doc: "Write zeroes only: the device may deallocate the range if reads return zeroes.",
      },
      reserved: { width: 31, doc: "Reserved." },
    }),
  },
  { doc: "5.2.6: discard / write zeroes / secure erase segment." },
);

/** 5.2.6: the data of a VIRTIO_BLK_T_GET_LIFETIME request. */
export const virtio_blk_lifetime: StructType = struct("virtio_blk_lifetime", {
  pre_eol_info: doc(le16, "Consumption of reserved blocks: VIRTIO_BLK_PRE_EOL_INFO_*."),
  device_lifetime_est_typ_a: doc(
    le16,
    "SLC wear in 10% steps: 0 undefined, 1 up to 10% used, ... 11 lifetime exceeded.",
  ),
  device_lifetime_est_typ_b: doc(le16, "MLC wear, same scale as typ_a."),
}, { doc: "5.2.6: device lifetime information (written by the device)." });

/** 5.2.6: values of `virtio_blk_lifetime.pre_eol_info`. */
export const virtio_blk_pre_eol_info: ConstantGroup = enumeration("virtio_blk_pre_eol_info", {
  VIRTIO_BLK_PRE_EOL_INFO_UNDEFINED: { value: 0, doc: "Not available." },
  VIRTIO_BLK_PRE_EOL_INFO_NORMAL: { value: 1, doc: "Under 80% of reserved blocks consumed." },
  VIRTIO_BLK_PRE_EOL_INFO_WARNING: { value: 2, doc: "80% of reserved blocks consumed." },
  VIRTIO_BLK_PRE_EOL_INFO_URGENT: { value: 3, doc: "90% of reserved blocks consumed." },
}, { doc: "5.2.6: pre-end-of-life information values (others reserved)." });

/** 5.2.6: one zone descriptor of a zone report. */
export const virtio_blk_zone_descriptor: StructType = struct("virtio_blk_zone_descriptor", {
  z_cap: doc(le64, "Zone capacity in sectors."),
  z_start: doc(le64, "First sector of the zone."),
  z_wp: doc(le64, "Write pointer position (sector)."),
  z_type: doc(u8, "Zone type: VIRTIO_BLK_ZT_*."),
  z_state: doc(u8, "Zone state: VIRTIO_BLK_ZS_*."),
  reserved: doc(array(u8, 38), "Reserved."),
}, { doc: "5.2.6: zone descriptor." });

/** 5.2.6: the reply of a VIRTIO_BLK_T_ZONE_REPORT request. */
export const virtio_blk_zone_report: StructType = struct("virtio_blk_zone_report", {
  nr_zones: doc(le64, "Number of fully transferred zone descriptors."),
  reserved: doc(array(u8, 56), "Reserved."),
  zones: doc(array(virtio_blk_zone_descriptor, "zones_len"), "The zone descriptors."),
}, { doc: "5.2.6: zone report header followed by zone descriptors." });

/** 5.2.6: values of `virtio_blk_zone_descriptor.z_type`. */
export const virtio_blk_zone_type: ConstantGroup = enumeration("virtio_blk_zone_type", {
  VIRTIO_BLK_ZT_CONV: { value: 1, doc: "Conventional: random reads and writes." },
  VIRTIO_BLK_ZT_SWR: { value: 2, doc: "Sequential write required." },
  VIRTIO_BLK_ZT_SWP: { value: 3, doc: "Sequential write preferred." },
}, { doc: "5.2.6: zone types." });

/** 5.2.6: values of `virtio_blk_zone_descriptor.z_state`. */
export const virtio_blk_zone_state: ConstantGroup = enumeration("virtio_blk_zone_state", {
  VIRTIO_BLK_ZS_NOT_WP: { value: 0, doc: "No write pointer (conventional zone)." },
  VIRTIO_BLK_ZS_EMPTY: { value: 1, doc: "Empty." },
  VIRTIO_BLK_ZS_IOPEN: { value: 2, doc: "Implicitly open." },
  VIRTIO_BLK_ZS_EOPEN: { value: 3, doc: "Explicitly open." },
  VIRTIO_BLK_ZS_CLOSED: { value: 4, doc: "Closed." },
  VIRTIO_BLK_ZS_RDONLY: { value: 13, doc: "Read-only." },
  VIRTIO_BLK_ZS_FULL: { value: 14, doc: "Full." },
  VIRTIO_BLK_ZS_OFFLINE: { value: 15, doc: "Offline." },
}, { doc: "5.2.6: zone states." });

/** 5.2.6.3: size of the sense buffer of a legacy SCSI packet command. */
export const virtio_blk_legacy_scsi: ConstantGroup = enumeration("virtio_blk_legacy_scsi", {
  SCSI_SENSE_BUFFERSIZE: {
    value: 96,
    doc: "Bytes of virtio_scsi_pc_req.sense (legacy VIRTIO_BLK_F_SCSI requests).",
  },
}, { doc: "5.2.6.3: legacy SCSI packet command constant." });

/** 5.2.6.3: a legacy SCSI packet command request (VIRTIO_BLK_F_SCSI). */
export const virtio_scsi_pc_req: StructType = struct("virtio_scsi_pc_req", {
  type: doc(le32, "VIRTIO_BLK_T_SCSI_CMD or VIRTIO_BLK_T_SCSI_CMD_OUT."),
  ioprio: doc(le32, "I/O priority."),
  sector: doc(le64, "Unused by SCSI commands."),
  cmd: doc(array(u8, "cmd_len"), "The CDB, alone in its own device-readable buffer."),
  data: doc(array(u8, "data_size"), "The data: data[][512] in the spec, whole 512-byte sectors."),
  sense: doc(array(u8, 96), "Sense data (SCSI_SENSE_BUFFERSIZE bytes)."),
  errors: doc(le32, "Error status."),
  data_len: field(le32, { accessor: "dataLength", doc: "Bytes of data transferred." }),
  sense_len: doc(le32, "Bytes of sense data written."),
  residual: doc(le32, "Bytes of data not transferred."),
  status: doc(u8, "The request's VIRTIO_BLK_S_* status."),
}, {
  doc: "5.2.6.3: a legacy SCSI packet command. The spec says guest-native endian (legacy " +
    "devices); these accessors are little-endian, right for x86 and ARM guests.",
});
