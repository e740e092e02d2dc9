// Device groups' administration commands (spec 2.12): sizes and offsets typed
// in by hand from the spec's C structs (no padding), and its tables' values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as s from "../../schema/admin.ts";

// [struct, size at parameters 0, {field: offset}, {parameter: bytes per unit}]
const expected: [
  StructType | UnionType,
  number,
  Record<string, number>,
  Record<string, number>?,
][] = [
  [s.virtio_admin_cmd, 32, {
    opcode: 0,
    group_type: 2,
    reserved1: 4,
    group_member_id: 16,
    command_specific_data: 24,
    status: 24,
    status_qualifier: 26,
    reserved2: 28,
    command_specific_result: 32,
  }, { command_specific_data_len: 8, command_specific_result_len: 1 }],
  [s.virtio_admin_cmd_list, 0, { device_admin_cmd_opcodes: 0 }, {
    device_admin_cmd_opcodes_len: 8,
  }],
  [s.virtio_admin_cmd_legacy_common_cfg_wr_data, 8, { offset: 0, reserved: 1, data: 8 }, {
    data_len: 1,
  }],
  [s.virtio_admin_cmd_legacy_common_cfg_rd_data, 1, { offset: 0 }],
  [s.virtio_admin_cmd_legacy_common_cfg_rd_result, 0, { data: 0 }, { data_len: 1 }],
  [s.virtio_admin_cmd_legacy_dev_reg_wr_data, 8, { offset: 0, reserved: 1, data: 8 }, {
    data_len: 1,
  }],
  [s.virtio_admin_cmd_legacy_dev_cfg_rd_data, 1, { offset: 0 }],
  [s.virtio_admin_cmd_legacy_dev_reg_rd_result, 0, { data: 0 }, { data_len: 1 }],
  [s.virtio_pci_legacy_notify_info, 16, { flags: 0, bar: 1, padding: 2, offset: 8 }],
  [s.virtio_admin_cmd_legacy_notify_info_result, 64, { entries: 0 }],
  [s.virtio_admin_cmd_query_cap_id_result, 0, { supported_caps: 0 }, { supported_caps_len: 8 }],
  [s.virtio_admin_cmd_cap_get_data, 8, { id: 0, reserved: 2 }],
  [s.virtio_admin_cmd_cap_get_result, 0, { cap_specific_data: 0 }, { cap_specific_data_len: 1 }],
  [s.virtio_admin_cmd_cap_set_data, 8, { id: 0, reserved: 2, cap_specific_data: 8 }, {
    cap_specific_data_len: 1,
  }],
  [s.virtio_admin_cmd_resource_obj_cmd_hdr, 8, { type: 0, reserved: 2, id: 4 }],
  [s.virtio_admin_cmd_resource_obj_create_data, 16, {
    hdr: 0,
    flags: 8,
    resource_obj_specific_data: 16,
  }, { resource_obj_specific_data_len: 1 }],
  [s.virtio_admin_cmd_resource_modify_data, 16, {
    hdr: 0,
    flags: 8,
    resource_obj_specific_data: 16,
  }, { resource_obj_specific_data_len: 1 }],
  [s.virtio_admin_cmd_resource_obj_query_data, 16, { hdr: 0, flags: 8 }],
  [s.virtio_admin_cmd_resource_obj_query_result, 0, { resource_obj_specific_result: 0 }, {
    resource_obj_specific_result_len: 1,
  }],
  [s.virtio_dev_parts_cap, 2, {
    get_parts_resource_objects_limit: 0,
    set_parts_resource_objects_limit: 1,
  }],
  [s.virtio_resource_obj_dev_parts, 8, { type: 0, reserved: 1 }],
  [s.virtio_admin_cmd_dev_parts_metadata_data, 16, { hdr: 0, type: 8, reserved: 9 }],
  [s.virtio_admin_cmd_dev_parts_metadata_result_parts_size, 8, { size: 0, reserved: 4 }],
  [s.virtio_admin_cmd_dev_parts_metadata_result_hdr_list_count, 8, { count: 0, reserved: 4 }],
  // virtio_dev_part_hdr is 16 bytes (2.14)
  [s.virtio_admin_cmd_dev_parts_metadata_result_hdr_list, 8, { count: 0, reserved: 4, hdrs: 8 }, {
    hdrs_len: 16,
  }],
  [s.virtio_admin_cmd_dev_parts_metadata_result, 8, { parts_size: 0, hdr_list_count: 0 }],
  [s.virtio_admin_cmd_dev_parts_get_data, 16, { hdr: 0, type: 8, reserved: 9, hdr_list: 16 }, {
    hdr_list_len: 16,
  }],
  [s.virtio_admin_cmd_dev_parts_get_result, 0, { parts: 0 }, { parts_len: 1 }],
  [s.virtio_admin_cmd_dev_parts_set_data, 8, { hdr: 0, parts: 8 }, { parts_len: 1 }],
  [s.virtio_admin_cmd_dev_mode_set_data, 1, { flags: 0 }],
];

Deno.test("administration command structs match the spec's sizes and offsets", () => {
  for (const [t, size, offsets, terms = {}] of expected) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.paramTerms, terms, t.name);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      t.name,
    );
  }
  const checked = new Set(expected.map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind === "struct" || v.kind === "union") {
      assert.ok(checked.has(v.name), `${v.name} is not checked`);
    }
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("administration command constants", () => {
  assert.deepEqual(values(s.virtio_admin_group_type), {
    VIRTIO_ADMIN_GROUP_TYPE_SELF: 0,
    VIRTIO_ADMIN_GROUP_TYPE_SRIOV: 1,
  });
  assert.deepEqual(values(s.virtio_admin_cmd_opcode), {
    VIRTIO_ADMIN_CMD_LIST_QUERY: 0,
    VIRTIO_ADMIN_CMD_LIST_USE: 1,
    VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE: 2,
    VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ: 3,
    VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE: 4,
    VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ: 5,
    VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO: 6,
    VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY: 7,
    VIRTIO_ADMIN_CMD_DEVICE_CAP_GET: 8,
    VIRTIO_ADMIN_CMD_DRIVER_CAP_SET: 9,
    VIRTIO_ADMIN_CMD_RESOURCE_OBJ_CREATE: 0xa,
    VIRTIO_ADMIN_CMD_RESOURCE_OBJ_QUERY: 0xb,
    VIRTIO_ADMIN_CMD_RESOURCE_OBJ_MODIFY: 0xc,
    VIRTIO_ADMIN_CMD_RESOURCE_OBJ_DESTROY: 0xd,
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_GET: 0xe,
    VIRTIO_ADMIN_CMD_DEV_PARTS_GET: 0xf,
    VIRTIO_ADMIN_CMD_DEV_PARTS_SET: 0x10,
    VIRTIO_ADMIN_CMD_DEV_MODE_SET: 0x11,
  });
  assert.deepEqual(values(s.virtio_admin_status), {
    VIRTIO_ADMIN_STATUS_OK: 0,
    VIRTIO_ADMIN_STATUS_ENXIO: 6,
    VIRTIO_ADMIN_STATUS_EAGAIN: 11,
    VIRTIO_ADMIN_STATUS_ENOMEM: 12,
    VIRTIO_ADMIN_STATUS_EBUSY: 16,
    VIRTIO_ADMIN_STATUS_EINVAL: 22,
    VIRTIO_ADMIN_STATUS_ENOSPC: 28,
  });
  assert.deepEqual(values(s.virtio_admin_status_qualifier), {
    VIRTIO_ADMIN_STATUS_Q_OK: 0,
    VIRTIO_ADMIN_STATUS_Q_INVALID_COMMAND: 1,
    VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE: 2,
    VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD: 3,
    VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP: 4,
    VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER: 5,
    VIRTIO_ADMIN_STATUS_Q_NORESOURCE: 6,
    VIRTIO_ADMIN_STATUS_Q_TRYAGAIN: 7,
  });
  assert.deepEqual(values(s.virtio_pci_legacy_notify_info_flags), {
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_END: 0,
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM: 1,
    VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_MEMBER_MEM: 2,
  });
  assert.deepEqual(values(s.virtio_admin_cap_id), { VIRTIO_DEV_PARTS_CAP: 0 });
  assert.deepEqual(values(s.virtio_resource_obj_type), { VIRTIO_RESOURCE_OBJ_DEV_PARTS: 0 });
  assert.deepEqual(values(s.virtio_resource_obj_dev_parts_type), {
    VIRTIO_RESOURCE_OBJ_DEV_PARTS_TYPE_GET: 0,
    VIRTIO_RESOURCE_OBJ_DEV_PARTS_TYPE_SET: 1,
  });
  assert.deepEqual(values(s.virtio_admin_cmd_dev_parts_metadata_type), {
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_SIZE: 0,
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_COUNT: 1,
    VIRTIO_ADMIN_CMD_DEV_PARTS_METADATA_TYPE_LIST: 2,
  });
  assert.deepEqual(values(s.virtio_admin_cmd_dev_parts_get_type), {
    VIRTIO_ADMIN_CMD_DEV_PARTS_GET_TYPE_SELECTED: 0,
    VIRTIO_ADMIN_CMD_DEV_PARTS_GET_TYPE_ALL: 1,
  });
  assert.equal(s.virtio_admin_cmd_dev_mode_flags.constantKind, "bits");
  assert.deepEqual(values(s.virtio_admin_cmd_dev_mode_flags), {
    VIRTIO_ADMIN_CMD_DEV_MODE_F_STOPPED: 0,
  });
});
