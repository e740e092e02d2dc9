/**
 * Device groups and their administration commands (spec 2.12), sent on the
 * administration virtqueues (spec 2.13): the command envelope with its
 * opcodes, group types and status codes; the legacy-interface commands of
 * SR-IOV groups; device and driver capabilities; resource objects; and the
 * device-parts commands (the parts themselves are in `device_parts.ts`).
 *
 * Variable-length tails of the spec's structs (`u8 data[]`, `le64 ...[]`) are
 * arrays whose length is a parameter named after the field, in elements.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "./dsl.ts";
import { virtio_dev_part_hdr } from "./device_parts.ts";

// ---- 2.12: groups and the command envelope ----

/** 2.12: values of `group_type`. */
export const virtio_admin_group_type: ConstantGroup = enumeration("virtio_admin_group_type", {
  VIRTIO_ADMIN_GROUP_TYPE_SELF: {
    value: 0,
    doc: "The self group: the owner device alone (group_member_id 0).",
  },
  VIRTIO_ADMIN_GROUP_TYPE_SRIOV: {
    value: 1,
    doc: "SR-IOV: the PF owns its VFs; member ids are VF numbers from 1 to NumVFs.",
  },
}, { doc: "2.12: device group types." });

/** 2.12.1: administration command opcodes. */
export const virtio_admin_cmd_opcode: ConstantGroup = enumeration("virtio_admin_cmd_opcode", {
  VIRTIO_ADMIN_CMD_LIST_QUERY: {
    value: 0x0000,
    doc: "The device's list of commands supported for this group type.",
  },
  VIRTIO_ADMIN_CMD_LIST_USE: {
    value: 0x0001,
    doc: "The driver's list of commands it uses for this group type.",
  },
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE: {
    value: 0x0002,
    doc: "Write to a member's legacy common configuration.",
  },
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ: {
    value: 0x0003,
    doc: "Read a member's legacy common configuration.",
  },
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE: {
    value: 0x0004,
    doc: "Write to a member's legacy device configuration.",
  },
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ: {
    value: 0x0005,
    doc: "Read a member's legacy device configuration.",
  },
  VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO: {
    value: 0x0006,
    doc: "Where a member's legacy driver notifications go.",
  },
  VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY: {
    value: 0x0007,
    doc: "The bitmap of capability ids the device supports.",
  },
  VIRTIO_ADMIN_CMD_DEVICE_CAP_GET: { value: 0x0008, doc: "Get a device capability." },
  VIRTIO_ADMIN_CMD_DRIVER_CAP_SET: { value: 0x0009, doc: "Set a driver capability." },
  VIRTIO_ADMIN_CMD_RESOURCE_OBJ_CREATE: { value: 0x000a, doc: "Create a resource object." },
  VIRTIO_ADMIN_CMD_RESOURCE_OBJ_QUERY: { value: 0x000b, doc: "Query a resource object." },
  VIRTIO_ADMIN_CMD_RESOURCE_OBJ_MODIFY: { value: 0x000c, doc: "Modify a resource object." },
  VIRTIO_ADMIN_CMD_RESOURCE_OBJ_DESTROY: { value: 0x000d, doc: "Destroy a resource object." },
  VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_GET: {
    value: 0x000e,
    doc: "The size, count or header list of a member's device parts.",
  },
  VIRTIO_ADMIN_CMD_DEV_PARTS_GET: { value: 0x000f, doc: "Get a member's device parts." },
  VIRTIO_ADMIN_CMD_DEV_PARTS_SET: { value: 0x0010, doc: "Set a member's device parts." },
  VIRTIO_ADMIN_CMD_DEV_MODE_SET: { value: 0x0011, doc: "Stop or resume a member device." },
}, { doc: "2.12.1: administration command opcodes (0x8000 and up reserved)." });

/** 2.12.1: values of `status`. */
export const virtio_admin_status: ConstantGroup = enumeration("virtio_admin_status", {
  VIRTIO_ADMIN_STATUS_OK: { value: 0, doc: "Successful completion." },
  VIRTIO_ADMIN_STATUS_ENXIO: { value: 6, doc: "No such capability or resource." },
  VIRTIO_ADMIN_STATUS_EAGAIN: { value: 11, doc: "Try again; the command had no side effects." },
  VIRTIO_ADMIN_STATUS_ENOMEM: {
    value: 12,
    doc: "Insufficient resources; the command had no side effects.",
  },
  VIRTIO_ADMIN_STATUS_EBUSY: { value: 16, doc: "Device busy." },
  VIRTIO_ADMIN_STATUS_EINVAL: { value: 22, doc: "Invalid command." },
  VIRTIO_ADMIN_STATUS_ENOSPC: { value: 28, doc: "Resources exhausted on the device." },
}, { doc: "2.12.1: command status codes (Linux errno values)." });

/** 2.12.1: values of `status_qualifier`. */
export const virtio_admin_status_qualifier: ConstantGroup = enumeration(
  "virtio_admin_status_qualifier",
  {
    VIRTIO_ADMIN_STATUS_Q_OK: { value: 0x00, doc: "Used with VIRTIO_ADMIN_STATUS_OK." },
    VIRTIO_ADMIN_STATUS_Q_INVALID_COMMAND: {
      value: 0x01,
      doc: "Command error, no further information.",
    },
    VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE: { value: 0x02, doc: "Unsupported or invalid opcode." },
    VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD: {
      value: 0x03,
      doc: "Unsupported or invalid field of command_specific_data.",
    },
    VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP: {
      value: 0x04,
      doc: "Unsupported or invalid group_type.",
    },
    VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER: {
      value: 0x05,
      doc: "Unsupported or invalid group_member_id.",
    },
    VIRTIO_ADMIN_STATUS_Q_NORESOURCE: {
      value: 0x06,
      doc: "Out of internal resources; may be retried.",
    },
    VIRTIO_ADMIN_STATUS_Q_TRYAGAIN: {
      value: 0x07,
      doc: "The command would block for too long; should be retried.",
    },
  },
  { doc: "2.12.1: status qualifiers." },
);

/** 2.12.1: an administration command and its result, as one buffer. */
export const virtio_admin_cmd: StructType = struct("virtio_admin_cmd", {
  opcode: doc(le16, "The command (VIRTIO_ADMIN_CMD_*). Device-readable from here on."),
  group_type: doc(le16, "The group (VIRTIO_ADMIN_GROUP_TYPE_*)."),
  reserved1: doc(array(u8, 12), "Reserved."),
  group_member_id: doc(le64, "The member the command is about (0 for the self group)."),
  command_specific_data: doc(
    array(le64, "command_specific_data_len"),
    "The command's data, in 64-bit units.",
  ),
  status: doc(le16, "VIRTIO_ADMIN_STATUS_*. Device-writable from here on."),
  status_qualifier: doc(le16, "VIRTIO_ADMIN_STATUS_Q_*."),
  reserved2: doc(array(u8, 4), "Reserved."),
  command_specific_result: doc(
    array(u8, "command_specific_result_len"),
    "The command's result.",
  ),
}, {
  doc: "2.12.1: an administration command: a device-readable part (opcode through " +
    "command_specific_data) followed by a device-writable part (status through " +
    "command_specific_result). Both parts are multiples of 64 bits; shorter or longer parts " +
    "are truncated or zero-extended, never refused.",
});

/** 2.12.1.1: the command list of VIRTIO_ADMIN_CMD_LIST_QUERY and VIRTIO_ADMIN_CMD_LIST_USE. */
export const virtio_admin_cmd_list: StructType = struct("virtio_admin_cmd_list", {
  device_admin_cmd_opcodes: doc(
    array(le64, "device_admin_cmd_opcodes_len"),
    "A bitmap: bit (opcode % 64) of word (opcode / 64) set for each command.",
  ),
}, { doc: "2.12.1.1: the supported (LIST_QUERY) or used (LIST_USE) commands, as a bitmap." });

// ---- 2.12.1.2: the legacy interface of SR-IOV members ----

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE's data. */
export const virtio_admin_cmd_legacy_common_cfg_wr_data: StructType = struct(
  "virtio_admin_cmd_legacy_common_cfg_wr_data",
  {
    offset: field(u8, {
      accessor: "cfgOffset",
      doc: "First byte written, in the legacy common configuration.",
    }),
    reserved: doc(array(u8, 7), "Reserved."),
    data: doc(array(u8, "data_len"), "The bytes to write."),
  },
  { doc: "2.12.1.2: a write to a member's legacy common configuration." },
);

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ's data. */
export const virtio_admin_cmd_legacy_common_cfg_rd_data: StructType = struct(
  "virtio_admin_cmd_legacy_common_cfg_rd_data",
  {
    offset: field(u8, {
      accessor: "cfgOffset",
      doc: "First byte read, in the legacy common configuration.",
    }),
  },
  { doc: "2.12.1.2: a read of a member's legacy common configuration." },
);

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ's result. */
export const virtio_admin_cmd_legacy_common_cfg_rd_result: StructType = struct(
  "virtio_admin_cmd_legacy_common_cfg_rd_result",
  { data: doc(array(u8, "data_len"), "The bytes read.") },
  { doc: "2.12.1.2: the bytes of a legacy common configuration read." },
);

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE's data. */
export const virtio_admin_cmd_legacy_dev_reg_wr_data: StructType = struct(
  "virtio_admin_cmd_legacy_dev_reg_wr_data",
  {
    offset: field(u8, {
      accessor: "cfgOffset",
      doc: "First byte written, in the legacy device-specific configuration.",
    }),
    reserved: doc(array(u8, 7), "Reserved."),
    data: doc(array(u8, "data_len"), "The bytes to write."),
  },
  { doc: "2.12.1.2: a write to a member's legacy device-specific configuration." },
);

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ's data. */
export const virtio_admin_cmd_legacy_dev_cfg_rd_data: StructType = struct(
  "virtio_admin_cmd_legacy_dev_cfg_rd_data",
  {
    offset: field(u8, {
      accessor: "cfgOffset",
      doc: "First byte read, in the legacy device-specific configuration.",
    }),
  },
  { doc: "2.12.1.2: a read of a member's legacy device-specific configuration." },
);

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ's result. */
export const virtio_admin_cmd_legacy_dev_reg_rd_result: StructType = struct(
  "virtio_admin_cmd_legacy_dev_reg_rd_result",
  { data: doc(array(u8, "data_len"), "The bytes read.") },
  { doc: "2.12.1.2: the bytes of a legacy device-specific configuration read." },
);

/** 2.12.1.2: values of `flags` in `virtio_pci_legacy_notify_info`. */
export const virtio_pci_legacy_notify_info_flags: ConstantGroup = enumeration(
  "virtio_pci_legacy_notify_info_flags",
  {
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_END: { value: 0, doc: "End of the list." },
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM: {
      value: 1,
      doc: "The notification region is in the owner (PF) device's memory.",
    },
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_MEMBER_MEM: {
      value: 2,
      doc: "The notification region is in the member (VF) device's memory.",
    },
  },
  { doc: "2.12.1.2: where a legacy notification region lives (Linux's names)." },
);

/** 2.12.1.2: one notification region of a member's legacy interface. */
export const virtio_pci_legacy_notify_info: StructType = struct("virtio_pci_legacy_notify_info", {
  flags: doc(u8, "0: end of list, 1: owner device, 2: member device."),
  bar: doc(u8, "The BAR of the member or the owner device."),
  padding: doc(array(u8, 6), "Padding."),
  offset: field(le64, { accessor: "barOffset", doc: "Offset within the BAR." }),
}, { doc: "2.12.1.2: a legacy notification region." });

/** 2.12.1.2: VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO's result. */
export const virtio_admin_cmd_legacy_notify_info_result: StructType = struct(
  "virtio_admin_cmd_legacy_notify_info_result",
  {
    entries: doc(
      array(virtio_pci_legacy_notify_info, 4),
      "Up to 4 regions, ended by an entry with flags 0.",
    ),
  },
  { doc: "2.12.1.2: where a member's legacy driver notifications go." },
);

// ---- 2.12.1.3: device and driver capabilities ----

/** 2.12.1.3: capability ids. */
export const virtio_admin_cap_id: ConstantGroup = enumeration("virtio_admin_cap_id", {
  VIRTIO_DEV_PARTS_CAP: {
    value: 0x0000,
    doc: "Device parts capability (struct virtio_dev_parts_cap).",
  },
}, { doc: "2.12.1.3: capability ids (0x0800-0x0fff are device-type specific)." });

/** 2.12.1.3: VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY's result. */
export const virtio_admin_cmd_query_cap_id_result: StructType = struct(
  "virtio_admin_cmd_query_cap_id_result",
  {
    supported_caps: doc(
      array(le64, "supported_caps_len"),
      "A bitmap: bit (id % 64) of word (id / 64) set for each supported capability id.",
    ),
  },
  { doc: "2.12.1.3: the capability ids the device supports." },
);

/** 2.12.1.3: VIRTIO_ADMIN_CMD_DEVICE_CAP_GET's data. */
export const virtio_admin_cmd_cap_get_data: StructType = struct("virtio_admin_cmd_cap_get_data", {
  id: doc(le16, "The capability id."),
  reserved: doc(array(u8, 6), "Reserved."),
}, { doc: "2.12.1.3: which device capability to get." });

/** 2.12.1.3: VIRTIO_ADMIN_CMD_DEVICE_CAP_GET's result. */
export const virtio_admin_cmd_cap_get_result: StructType = struct(
  "virtio_admin_cmd_cap_get_result",
  {
    cap_specific_data: doc(array(u8, "cap_specific_data_len"), "The capability's data."),
  },
  { doc: "2.12.1.3: a device capability." },
);

/** 2.12.1.3: VIRTIO_ADMIN_CMD_DRIVER_CAP_SET's data. */
export const virtio_admin_cmd_cap_set_data: StructType = struct("virtio_admin_cmd_cap_set_data", {
  id: doc(le16, "The capability id."),
  reserved: doc(array(u8, 6), "Reserved."),
  cap_specific_data: doc(array(u8, "cap_specific_data_len"), "The capability's data."),
}, { doc: "2.12.1.3: a driver capability to set." });

// ---- 2.12.1.4: resource objects ----

/** 2.12.1.4: resource object types. */
export const virtio_resource_obj_type: ConstantGroup = enumeration("virtio_resource_obj_type", {
  VIRTIO_RESOURCE_OBJ_DEV_PARTS: {
    value: 0x000,
    doc: "Device parts object (struct virtio_resource_obj_dev_parts).",
  },
}, { doc: "2.12.1.4: resource object types (0x200-0x4ff are device-type specific)." });

/** 2.12.1.4: the header of every resource object command's data. */
export const virtio_admin_cmd_resource_obj_cmd_hdr: StructType = struct(
  "virtio_admin_cmd_resource_obj_cmd_hdr",
  {
    type: doc(le16, "The resource object type (VIRTIO_RESOURCE_OBJ_*)."),
    reserved: doc(array(u8, 2), "Reserved."),
    id: doc(le32, "The object's id, unique per type."),
  },
  { doc: "2.12.1.4: which resource object a command is about." },
);

/** 2.12.1.4: VIRTIO_ADMIN_CMD_RESOURCE_OBJ_CREATE's data. */
export const virtio_admin_cmd_resource_obj_create_data: StructType = struct(
  "virtio_admin_cmd_resource_obj_create_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "Which object."),
    flags: doc(le64, "Reserved, zero."),
    resource_obj_specific_data: doc(
      array(u8, "resource_obj_specific_data_len"),
      "The object type's creation data.",
    ),
  },
  { doc: "2.12.1.4: create a resource object." },
);

/** 2.12.1.4: VIRTIO_ADMIN_CMD_RESOURCE_OBJ_MODIFY's data. */
export const virtio_admin_cmd_resource_modify_data: StructType = struct(
  "virtio_admin_cmd_resource_modify_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "Which object."),
    flags: doc(le64, "Reserved, zero."),
    resource_obj_specific_data: doc(
      array(u8, "resource_obj_specific_data_len"),
      "The object type's new data.",
    ),
  },
  { doc: "2.12.1.4: modify a resource object." },
);

/** 2.12.1.4: VIRTIO_ADMIN_CMD_RESOURCE_OBJ_QUERY's data. */
export const virtio_admin_cmd_resource_obj_query_data: StructType = struct(
  "virtio_admin_cmd_resource_obj_query_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "Which object."),
    flags: doc(le64, "Reserved, zero."),
  },
  { doc: "2.12.1.4: query a resource object." },
);

/** 2.12.1.4: VIRTIO_ADMIN_CMD_RESOURCE_OBJ_QUERY's result. */
export const virtio_admin_cmd_resource_obj_query_result: StructType = struct(
  "virtio_admin_cmd_resource_obj_query_result",
  {
    resource_obj_specific_result: doc(
      array(u8, "resource_obj_specific_result_len"),
      "The object type's query result.",
    ),
  },
  { doc: "2.12.1.4: a resource object's state." },
);

// ---- 2.12.1.5: device parts commands ----

/** 2.12.1.5: the device parts capability (VIRTIO_DEV_PARTS_CAP). */
export const virtio_dev_parts_cap: StructType = struct("virtio_dev_parts_cap", {
  get_parts_resource_objects_limit: doc(u8, "How many GET-type parts objects may exist."),
  set_parts_resource_objects_limit: doc(u8, "How many SET-type parts objects may exist."),
}, { doc: "2.12.1.5: limits on device parts resource objects." });

/** 2.12.1.5: values of `type` in `virtio_resource_obj_dev_parts`. */
export const virtio_resource_obj_dev_parts_type: ConstantGroup = enumeration(
  "virtio_resource_obj_dev_parts_type",
  {
    VIRTIO_RESOURCE_OBJ_DEV_PARTS_TYPE_GET: { value: 0, doc: "The object is for getting parts." },
    VIRTIO_RESOURCE_OBJ_DEV_PARTS_TYPE_SET: { value: 1, doc: "The object is for setting parts." },
  },
  { doc: "2.12.1.5: device parts object types." },
);

/** 2.12.1.5: a device parts resource object (its creation data). */
export const virtio_resource_obj_dev_parts: StructType = struct("virtio_resource_obj_dev_parts", {
  type: doc(u8, "VIRTIO_RESOURCE_OBJ_DEV_PARTS_TYPE_GET or _SET."),
  reserved: doc(array(u8, 7), "Reserved."),
}, { doc: "2.12.1.5: a device parts object." });

/** 2.12.1.5: values of `type` in `virtio_admin_cmd_dev_parts_metadata_data`. */
export const virtio_admin_cmd_dev_parts_metadata_type: ConstantGroup = enumeration(
  "virtio_admin_cmd_dev_parts_metadata_type",
  {
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_SIZE: {
      value: 0,
      doc: "The size of all the parts, in bytes.",
    },
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_COUNT: {
      value: 1,
      doc: "The number of part headers.",
    },
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_LIST: { value: 2, doc: "The part headers." },
  },
  { doc: "2.12.1.5: what VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_GET returns." },
);

/** 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_GET's data. */
export const virtio_admin_cmd_dev_parts_metadata_data: StructType = struct(
  "virtio_admin_cmd_dev_parts_metadata_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "The parts object (type DEV_PARTS)."),
    type: doc(u8, "VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_*."),
    reserved: doc(array(u8, 7), "Reserved."),
  },
  { doc: "2.12.1.5: which metadata of the device parts to get." },
);

/** 2.12.1.5: `parts_size` of the metadata result (anonymous in the spec). */
export const virtio_admin_cmd_dev_parts_metadata_result_parts_size: StructType = struct(
  "virtio_admin_cmd_dev_parts_metadata_result_parts_size",
  {
    size: field(le32, { accessor: "partsSize", doc: "The size of all the parts, in bytes." }),
    reserved: doc(le32, "Reserved."),
  },
  { doc: "2.12.1.5: the result of METADATA_TYPE_SIZE (anonymous struct)." },
);

/** 2.12.1.5: `hdr_list_count` of the metadata result (anonymous in the spec). */
export const virtio_admin_cmd_dev_parts_metadata_result_hdr_list_count: StructType = struct(
  "virtio_admin_cmd_dev_parts_metadata_result_hdr_list_count",
  {
    count: doc(le32, "The number of part headers."),
    reserved: doc(le32, "Reserved."),
  },
  { doc: "2.12.1.5: the result of METADATA_TYPE_COUNT (anonymous struct)." },
);

/** 2.12.1.5: `hdr_list` of the metadata result (anonymous in the spec). */
export const virtio_admin_cmd_dev_parts_metadata_result_hdr_list: StructType = struct(
  "virtio_admin_cmd_dev_parts_metadata_result_hdr_list",
  {
    count: doc(le32, "The number of headers that follow."),
    reserved: doc(le32, "Reserved."),
    hdrs: doc(array(virtio_dev_part_hdr, "hdrs_len"), "The part headers."),
  },
  { doc: "2.12.1.5: the result of METADATA_TYPE_LIST (anonymous struct)." },
);

/**
 * 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_GET's result for TYPE_SIZE and
 * TYPE_COUNT. The spec's union has a third variant, `hdr_list`, for TYPE_LIST;
 * it has a variable-length tail, so it is the struct
 * `virtio_admin_cmd_dev_parts_metadata_result_hdr_list`, read at the same offset 0.
 */
export const virtio_admin_cmd_dev_parts_metadata_result: UnionType = union(
  "virtio_admin_cmd_dev_parts_metadata_result",
  {
    parts_size: doc(virtio_admin_cmd_dev_parts_metadata_result_parts_size, "For TYPE_SIZE."),
    hdr_list_count: doc(
      virtio_admin_cmd_dev_parts_metadata_result_hdr_list_count,
      "For TYPE_COUNT.",
    ),
  },
  {
    doc: "2.12.1.5: device parts metadata, by the requested type (TYPE_LIST: see " +
      "virtio_admin_cmd_dev_parts_metadata_result_hdr_list).",
  },
);

/** 2.12.1.5: values of `type` in `virtio_admin_cmd_dev_parts_get_data`. */
export const virtio_admin_cmd_dev_parts_get_type: ConstantGroup = enumeration(
  "virtio_admin_cmd_dev_parts_get_type",
  {
    VIRTIO_ADMIN_CMD_DEV_PARTS_GET_TYPE_SELECTED: {
      value: 0,
      doc: "Get the parts whose headers are listed.",
    },
    VIRTIO_ADMIN_CMD_DEV_PARTS_GET_TYPE_ALL: { value: 1, doc: "Get every part." },
  },
  { doc: "2.12.1.5: which parts VIRTIO_ADMIN_CMD_DEV_PARTS_GET returns." },
);

/** 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_PARTS_GET's data. */
export const virtio_admin_cmd_dev_parts_get_data: StructType = struct(
  "virtio_admin_cmd_dev_parts_get_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "The parts object (type DEV_PARTS)."),
    type: doc(u8, "VIRTIO_ADMIN_CMD_DEV_PARTS_GET_TYPE_*."),
    reserved: doc(array(u8, 7), "Reserved."),
    hdr_list: doc(
      array(virtio_dev_part_hdr, "hdr_list_len"),
      "With TYPE_SELECTED: the headers of the parts to get.",
    ),
  },
  { doc: "2.12.1.5: get a member's device parts." },
);

/** 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_PARTS_GET's result (a part with its value). */
export const virtio_admin_cmd_dev_parts_get_result: StructType = struct(
  "virtio_admin_cmd_dev_parts_get_result",
  {
    parts: doc(
      array(u8, "parts_len"),
      "The parts (struct virtio_dev_part), one after another, each header giving its " +
        "value's length.",
    ),
  },
  {
    doc: "2.12.1.5: a member's device parts (`struct virtio_dev_part parts[]` in the spec; " +
      "each part has a variable length, so they are bytes here, read with virtio_dev_part).",
  },
);

/** 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_PARTS_SET's data. */
export const virtio_admin_cmd_dev_parts_set_data: StructType = struct(
  "virtio_admin_cmd_dev_parts_set_data",
  {
    hdr: doc(virtio_admin_cmd_resource_obj_cmd_hdr, "The parts object (type DEV_PARTS, SET)."),
    parts: doc(
      array(u8, "parts_len"),
      "The parts (struct virtio_dev_part), one after another, each header giving its " +
        "value's length.",
    ),
  },
  { doc: "2.12.1.5: set a member's device parts." },
);

/** 2.12.1.5: bits of `flags` in `virtio_admin_cmd_dev_mode_set_data`. */
export const virtio_admin_cmd_dev_mode_flags: ConstantGroup = featureBits(
  "virtio_admin_cmd_dev_mode_flags",
  {
    VIRTIO_ADMIN_CMD_DEV_MODE_F_STOPPED: {
      value: 0,
      doc: "Set: the member device is stopped; clear: it resumes.",
    },
  },
  { doc: "2.12.1.5: device mode bits." },
);

/** 2.12.1.5: VIRTIO_ADMIN_CMD_DEV_MODE_SET's data. */
export const virtio_admin_cmd_dev_mode_set_data: StructType = struct(
  "virtio_admin_cmd_dev_mode_set_data",
  { flags: doc(u8, "VIRTIO_ADMIN_CMD_DEV_MODE_F_* bits.") },
  { doc: "2.12.1.5: stop or resume a member device." },
);
