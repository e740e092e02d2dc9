// Media device layouts (spec 5.22), typed in by hand: the spec's own structs
// without padding, and the V4L2 payload structs it embeds in their 64-bit
// little-endian C layout (videodev2.h), alignment gaps included.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as m from "../../schema/devices/media.ts";

const session = { hdr: 0, session_id: 8, __reserved: 12 };
// struct: [size, {field: offset}]
const table: [StructType | UnionType, number, Record<string, number>][] = [
  [m.virtio_media_config, 40, { device_caps: 0, device_type: 4, card: 8 }],
  [m.virtio_media_cmd_header, 8, { cmd: 0, __reserved: 4 }],
  [m.virtio_media_resp_header, 8, { status: 0, __reserved: 4 }],
  [m.virtio_media_cmd_open, 8, { hdr: 0 }],
  [m.virtio_media_resp_open, 16, session],
  [m.virtio_media_cmd_close, 16, session],
  [m.virtio_media_cmd_ioctl, 16, { hdr: 0, session_id: 8, code: 12 }],
  [m.virtio_media_resp_ioctl, 8, { hdr: 0 }],
  [m.virtio_media_sg_entry, 16, { start: 0, len: 8, __reserved: 12 }],
  [m.virtio_media_cmd_mmap, 20, { hdr: 0, session_id: 8, flags: 12, offset: 16 }],
  [m.virtio_media_resp_mmap, 24, { hdr: 0, driver_addr: 8, len: 16 }],
  [m.virtio_media_cmd_munmap, 16, { hdr: 0, driver_addr: 8 }],
  [m.virtio_media_resp_munmap, 8, { hdr: 0 }],
  [m.virtio_media_event_header, 8, { event: 0, session_id: 4 }],
  [m.virtio_media_event_error, 16, { hdr: 0, errno: 8, __reserved: 12 }],
  [m.timeval, 16, { tv_sec: 0, tv_usec: 8 }],
  [m.timespec, 16, { tv_sec: 0, tv_nsec: 8 }],
  [m.v4l2_timecode, 16, {
    type: 0,
    flags: 4,
    frames: 8,
    seconds: 9,
    minutes: 10,
    hours: 11,
    userbits: 12,
  }],
  [m.v4l2_buffer_m, 8, { offset: 0, userptr: 0, planes: 0, fd: 0 }],
  [m.v4l2_buffer, 88, {
    index: 0,
    type: 4,
    bytesused: 8,
    flags: 12,
    field: 16,
    timestamp: 24,
    timecode: 40,
    sequence: 56,
    memory: 60,
    m: 64,
    length: 72,
    reserved2: 76,
    request_fd: 80,
  }],
  [m.v4l2_plane_m, 8, { mem_offset: 0, userptr: 0, fd: 0 }],
  [m.v4l2_plane, 64, { bytesused: 0, length: 4, m: 8, data_offset: 16, reserved: 20 }],
  [m.v4l2_event, 136, {
    type: 0,
    u: 8,
    pending: 72,
    sequence: 76,
    timestamp: 80,
    id: 96,
    reserved: 100,
  }],
  // 8 + 88 + 8 * 64
  [m.virtio_media_event_dqbuf, 608, { hdr: 0, buffer: 8, planes: 96 }],
  [m.virtio_media_event_event, 144, { hdr: 0, event: 8 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("media layouts match the spec and V4L2's 64-bit layout", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
});

Deno.test("media constants match the spec", () => {
  assert.deepEqual(values(m.virtio_media_cmd), {
    VIRTIO_MEDIA_CMD_OPEN: 1,
    VIRTIO_MEDIA_CMD_CLOSE: 2,
    VIRTIO_MEDIA_CMD_IOCTL: 3,
    VIRTIO_MEDIA_CMD_MMAP: 4,
    VIRTIO_MEDIA_CMD_MUNMAP: 5,
  });
  assert.deepEqual(values(m.virtio_media_evt), {
    VIRTIO_MEDIA_EVT_ERROR: 0,
    VIRTIO_MEDIA_EVT_DQBUF: 1,
    VIRTIO_MEDIA_EVT_EVENT: 2,
  });
  assert.deepEqual(values(m.virtio_media_mmap_flags), { VIRTIO_MEDIA_MMAP_FLAG_RW: 1 });
  // V4L2_MEMORY_MMAP, _USERPTR and _DMABUF.
  assert.deepEqual(values(m.virtio_media_memory), {
    VIRTIO_MEDIA_MMAP: 1,
    VIRTIO_MEDIA_SHARED_PAGES: 2,
    VIRTIO_MEDIA_OBJECT: 4,
  });
  assert.deepEqual(values(m.virtio_media_limits), { VIRTIO_MEDIA_MAX_PLANES: 8 });
});
