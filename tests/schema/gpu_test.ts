// GPU device layouts (spec 5.7), sizes and offsets typed in by hand from the
// spec's C structs. Every request and response starts with the 24-byte
// virtio_gpu_ctrl_hdr.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/gpu.ts";

// struct: [size at parameter 0, {field: offset}, {parameter: bytes per unit}]
const expected: [StructType, number, Record<string, number>, Record<string, number>?][] = [
  [s.virtio_gpu_config, 20, {
    events_read: 0,
    events_clear: 4,
    num_scanouts: 8,
    num_capsets: 12,
    blob_alignment: 16,
  }],
  [s.virtio_gpu_ctrl_hdr, 24, {
    type: 0,
    flags: 4,
    fence_id: 8,
    ctx_id: 16,
    ring_idx: 20,
    padding: 21,
  }],
  [s.virtio_gpu_rect, 16, { x: 0, y: 4, width: 8, height: 12 }],
  [s.virtio_gpu_display_one, 24, { r: 0, enabled: 16, flags: 20 }],
  [s.virtio_gpu_resp_display_info, 24 + 16 * 24, { hdr: 0, pmodes: 24 }],
  [s.virtio_gpu_get_edid, 32, { hdr: 0, scanout: 24, padding: 28 }],
  [s.virtio_gpu_resp_edid, 1056, { hdr: 0, size: 24, padding: 28, edid: 32 }],
  [s.virtio_gpu_resource_create_2d, 40, {
    hdr: 0,
    resource_id: 24,
    format: 28,
    width: 32,
    height: 36,
  }],
  [s.virtio_gpu_resource_unref, 32, { hdr: 0, resource_id: 24, padding: 28 }],
  [s.virtio_gpu_set_scanout, 48, { hdr: 0, r: 24, scanout_id: 40, resource_id: 44 }],
  [s.virtio_gpu_resource_flush, 48, { hdr: 0, r: 24, resource_id: 40, padding: 44 }],
  [s.virtio_gpu_transfer_to_host_2d, 56, {
    hdr: 0,
    r: 24,
    offset: 40,
    resource_id: 48,
    padding: 52,
  }],
  [s.virtio_gpu_resource_attach_backing, 32, { hdr: 0, resource_id: 24, nr_entries: 28 }],
  [s.virtio_gpu_mem_entry, 16, { addr: 0, length: 8, padding: 12 }],
  [s.virtio_gpu_resource_detach_backing, 32, { hdr: 0, resource_id: 24, padding: 28 }],
  [s.virtio_gpu_get_capset_info, 32, { hdr: 0, capset_index: 24, padding: 28 }],
  [s.virtio_gpu_resp_capset_info, 40, {
    hdr: 0,
    capset_id: 24,
    capset_max_version: 28,
    capset_max_size: 32,
    padding: 36,
  }],
  [s.virtio_gpu_get_capset, 32, { hdr: 0, capset_id: 24, capset_version: 28 }],
  [s.virtio_gpu_resp_capset, 24, { hdr: 0, capset_data: 24 }, { capset_data_len: 1 }],
  [s.virtio_gpu_resource_assign_uuid, 32, { hdr: 0, resource_id: 24, padding: 28 }],
  [s.virtio_gpu_resp_resource_uuid, 40, { hdr: 0, uuid: 24 }],
  [s.virtio_gpu_resource_create_blob, 56, {
    hdr: 0,
    resource_id: 24,
    blob_mem: 28,
    blob_flags: 32,
    nr_entries: 36,
    blob_id: 40,
    size: 48,
  }],
  [s.virtio_gpu_set_scanout_blob, 96, {
    hdr: 0,
    r: 24,
    scanout_id: 40,
    resource_id: 44,
    width: 48,
    height: 52,
    format: 56,
    padding: 60,
    strides: 64,
    offsets: 80,
  }],
  [s.virtio_gpu_ctx_create, 96, { hdr: 0, nlen: 24, context_init: 28, debug_name: 32 }],
  [s.virtio_gpu_resource_map_blob, 40, { hdr: 0, resource_id: 24, padding: 28, offset: 32 }],
  [s.virtio_gpu_resp_map_info, 32, { hdr: 0, map_info: 24, padding: 28 }],
  [s.virtio_gpu_resource_unmap_blob, 32, { hdr: 0, resource_id: 24, padding: 28 }],
  [s.virtio_gpu_cursor_pos, 16, { scanout_id: 0, x: 4, y: 8, padding: 12 }],
  [s.virtio_gpu_update_cursor, 56, {
    hdr: 0,
    pos: 24,
    resource_id: 40,
    hot_x: 44,
    hot_y: 48,
    padding: 52,
  }],
];

Deno.test("gpu structs match the spec's sizes and offsets", () => {
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
});

Deno.test("every gpu struct of the module is checked", () => {
  const checked = new Set(expected.map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind === "struct") assert.ok(checked.has(v.name), v.name);
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("gpu constants", () => {
  const t = values(s.virtio_gpu_ctrl_type);
  assert.equal(t.VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0x0100);
  assert.equal(t.VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, 0x010d);
  assert.equal(t.VIRTIO_GPU_CMD_CTX_CREATE, 0x0200);
  assert.equal(t.VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 0x0209);
  assert.equal(t.VIRTIO_GPU_CMD_MOVE_CURSOR, 0x0301);
  assert.equal(t.VIRTIO_GPU_RESP_OK_MAP_INFO, 0x1106);
  assert.equal(t.VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, 0x1205);
  assert.equal(Object.keys(t).length, 14 + 10 + 2 + 7 + 6);
  assert.deepEqual(values(s.virtio_gpu_features), {
    VIRTIO_GPU_F_VIRGL: 0,
    VIRTIO_GPU_F_EDID: 1,
    VIRTIO_GPU_F_RESOURCE_UUID: 2,
    VIRTIO_GPU_F_RESOURCE_BLOB: 3,
    VIRTIO_GPU_F_CONTEXT_INIT: 4,
    VIRTIO_GPU_F_BLOB_ALIGNMENT: 5,
  });
  assert.equal(values(s.virtio_gpu_formats).VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 134);
  assert.equal(values(s.virtio_gpu_capset_id).VIRTIO_GPU_CAPSET_CROSS_DOMAIN, 5);
  assert.equal(values(s.virtio_gpu_ctrl_flags).VIRTIO_GPU_FLAG_INFO_RING_IDX, 2);
  assert.equal(values(s.virtio_gpu_blob_flags).VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE, 4);
  assert.equal(values(s.virtio_gpu_map_cache).VIRTIO_GPU_MAP_CACHE_WC, 3);
  assert.equal(values(s.virtio_gpu_limits).VIRTIO_GPU_MAX_SCANOUTS, 16);
});
