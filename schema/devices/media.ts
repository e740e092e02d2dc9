/**
 * The media device (spec 5.22): configuration, the command and response
 * headers and bodies of the command queue, the SG entries used for
 * userspace pointers, the events of the event queue, and their codes.
 *
 * Ioctl payloads are V4L2 structures in their 64-bit little-endian layout
 * (5.22.6.1.5). The three the spec embeds in its own structures
 * (`v4l2_buffer`, `v4l2_plane`, `v4l2_event`, with `v4l2_timecode`,
 * `timeval` and `timespec`) are described here after Linux's videodev2.h;
 * unlike the spec's structures they keep C's alignment gaps, given as
 * explicit offsets.
 *
 * Queues: 0 commandq, 1 eventq.
 *
 * @module
 */
import {
  addr,
  array,
  type ConstantGroup,
  doc,
  enumeration,
  field,
  flags,
  le32,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

/** 5.22.2: virtqueue indices. */
export const virtio_media_queues: ConstantGroup = enumeration("virtio_media_queues", {
  commandq: { value: 0, doc: "Driver commands and device responses." },
  eventq: { value: 1, doc: "Events from the device." },
}, { doc: "5.22.2: virtqueue indices of the media device.", exportMembers: false });

/** 5.22.4: device configuration layout. */
export const virtio_media_config: StructType = struct("virtio_media_config", {
  device_caps: doc(le32, "Device capabilities, as in v4l2_capability.device_caps."),
  device_type: doc(le32, "Type of video device (the device's vfl_devnode_type)."),
  card: doc(
    array(u8, 32),
    "Device name, UTF-8, NUL-terminated unless all 32 bytes are used (the spec writes `le8`).",
  ),
}, { doc: "5.22.4: media device configuration space (read-only for the driver)." });

/** 5.22.6.1.1: command codes. */
export const virtio_media_cmd: ConstantGroup = enumeration("virtio_media_cmd", {
  VIRTIO_MEDIA_CMD_OPEN: { value: 1, doc: "Open a session." },
  VIRTIO_MEDIA_CMD_CLOSE: { value: 2, doc: "Close a session (no response)." },
  VIRTIO_MEDIA_CMD_IOCTL: { value: 3, doc: "Run a V4L2 ioctl on a session." },
  VIRTIO_MEDIA_CMD_MMAP: { value: 4, doc: "Map a MMAP buffer into shared memory region 0." },
  VIRTIO_MEDIA_CMD_MUNMAP: { value: 5, doc: "Unmap a MMAP buffer." },
}, { doc: "5.22.6.1.1: media command codes (VIRTIO_MEDIA_CMD_*)." });

/** 5.22.6.1.1: the header of every command. */
export const virtio_media_cmd_header: StructType = struct("virtio_media_cmd_header", {
  cmd: doc(le32, "Command code (VIRTIO_MEDIA_CMD_*)."),
  __reserved: doc(le32, "Reserved."),
}, { doc: "5.22.6.1.1: header of commands on the commandq." });

/** 5.22.6.1.1: the header of every response. */
export const virtio_media_resp_header: StructType = struct("virtio_media_resp_header", {
  status: doc(le32, "0 on success, else a Linux error code (EINVAL, ENOTTY...)."),
  __reserved: doc(le32, "Reserved."),
}, { doc: "5.22.6.1.1: header of responses on the commandq." });

/** 5.22.6.1.3: VIRTIO_MEDIA_CMD_OPEN command. */
export const virtio_media_cmd_open: StructType = struct("virtio_media_cmd_open", {
  hdr: doc(virtio_media_cmd_header, "cmd VIRTIO_MEDIA_CMD_OPEN."),
}, { doc: "5.22.6.1.3: open a session, like open() on a V4L2 device node." });

/** 5.22.6.1.3: VIRTIO_MEDIA_CMD_OPEN response. */
export const virtio_media_resp_open: StructType = struct("virtio_media_resp_open", {
  hdr: doc(virtio_media_resp_header, "Response header."),
  session_id: doc(le32, "Id of the new session, not used by any other open session."),
  __reserved: doc(le32, "Reserved."),
}, { doc: "5.22.6.1.3: the opened session." });

/** 5.22.6.1.4: VIRTIO_MEDIA_CMD_CLOSE command. */
export const virtio_media_cmd_close: StructType = struct("virtio_media_cmd_close", {
  hdr: doc(virtio_media_cmd_header, "cmd VIRTIO_MEDIA_CMD_CLOSE."),
  session_id: doc(le32, "Session to close."),
  __reserved: doc(le32, "Reserved."),
}, { doc: "5.22.6.1.4: close a session and free its resources; no response." });

/** 5.22.6.1.5: VIRTIO_MEDIA_CMD_IOCTL command. */
export const virtio_media_cmd_ioctl: StructType = struct("virtio_media_cmd_ioctl", {
  hdr: doc(virtio_media_cmd_header, "cmd VIRTIO_MEDIA_CMD_IOCTL."),
  session_id: doc(le32, "Session to run the ioctl on."),
  code: doc(le32, "Ioctl code: the number in the VIDIOC_* _IO* macro (VIDIOC_G_FMT is 4)."),
}, {
  doc: "5.22.6.1.5: run a VIDIOC_* ioctl; _IOW and _IOWR payloads follow in the " +
    "device-readable part.",
});

/** 5.22.6.1.5: VIRTIO_MEDIA_CMD_IOCTL response. */
export const virtio_media_resp_ioctl: StructType = struct("virtio_media_resp_ioctl", {
  hdr: doc(virtio_media_resp_header, "Response header."),
}, {
  doc: "5.22.6.1.5: ioctl result; _IOR and _IOWR payloads follow in the device-writable part.",
});

/** 5.22.6.1.5.6: a scatter-gather entry for a userspace pointer. */
export const virtio_media_sg_entry: StructType = struct("virtio_media_sg_entry", {
  start: addr(le64, "Guest-physical start of the memory chunk."),
  len: doc(le32, "Length of the chunk in bytes."),
  __reserved: doc(le32, "Reserved."),
}, {
  doc: "5.22.6.1.5.6: SG entry standing for memory behind m.userptr or v4l2_ext_control.ptr " +
    "(SHARED_PAGES); device-readable only.",
});

/** 5.22.6.1.6: flags of VIRTIO_MEDIA_CMD_MMAP. */
export const virtio_media_mmap_flags: ConstantGroup = flags("virtio_media_mmap_flags", {
  VIRTIO_MEDIA_MMAP_FLAG_RW: { value: 1 << 0, doc: "Map read-write (else read-only)." },
}, { doc: "5.22.6.1.6: MMAP command flags (masks)." });

/** 5.22.6.1.6: VIRTIO_MEDIA_CMD_MMAP command. */
export const virtio_media_cmd_mmap: StructType = struct("virtio_media_cmd_mmap", {
  hdr: doc(virtio_media_cmd_header, "cmd VIRTIO_MEDIA_CMD_MMAP."),
  session_id: doc(le32, "Session the buffer belongs to."),
  flags: doc(le32, "Mapping flags (VIRTIO_MEDIA_MMAP_FLAG_*)."),
  offset: field(le32, {
    accessor: "memOffset",
    doc: "The plane's m.mem_offset, as returned by VIDIOC_QUERYBUF (accessor `memOffset`: " +
      "the accessor class has an `offset` of its own).",
  }),
}, { doc: "5.22.6.1.6: map a MMAP buffer into shared memory region 0." });

/** 5.22.6.1.6: VIRTIO_MEDIA_CMD_MMAP response. */
export const virtio_media_resp_mmap: StructType = struct("virtio_media_resp_mmap", {
  hdr: doc(virtio_media_resp_header, "Response header."),
  driver_addr: doc(le64, "Offset of the mapping in shared memory region 0."),
  len: doc(le64, "Length of the mapping: the length of the buffer."),
}, { doc: "5.22.6.1.6: where the buffer was mapped." });

/** 5.22.6.1.7: VIRTIO_MEDIA_CMD_MUNMAP command. */
export const virtio_media_cmd_munmap: StructType = struct("virtio_media_cmd_munmap", {
  hdr: doc(virtio_media_cmd_header, "cmd VIRTIO_MEDIA_CMD_MUNMAP."),
  driver_addr: doc(le64, "Offset in shared memory region 0 returned by VIRTIO_MEDIA_CMD_MMAP."),
}, { doc: "5.22.6.1.7: unmap a previously mapped MMAP buffer." });

/** 5.22.6.1.7: VIRTIO_MEDIA_CMD_MUNMAP response. */
export const virtio_media_resp_munmap: StructType = struct("virtio_media_resp_munmap", {
  hdr: doc(virtio_media_resp_header, "Response header."),
}, { doc: "5.22.6.1.7: result of an unmap." });

/** 5.22.6.1.8: memory types (`enum virtio_media_memory`). */
export const virtio_media_memory: ConstantGroup = enumeration("virtio_media_memory", {
  VIRTIO_MEDIA_MMAP: { value: 1, doc: "V4L2_MEMORY_MMAP: buffers provisioned by the device." },
  VIRTIO_MEDIA_SHARED_PAGES: {
    value: 2,
    doc: "V4L2_MEMORY_USERPTR: driver guest pages, described by SG entries.",
  },
  VIRTIO_MEDIA_OBJECT: {
    value: 4,
    doc: "V4L2_MEMORY_DMABUF: virtio objects, as 16-byte UUIDs after the structure.",
  },
}, {
  doc: "5.22.6.1.8: memory types, equal to the V4L2_MEMORY_* values they stand for " +
    "(MMAP 1, USERPTR 2, DMABUF 4).",
});

/** 5.22.6.2.1: event types. */
export const virtio_media_evt: ConstantGroup = enumeration("virtio_media_evt", {
  VIRTIO_MEDIA_EVT_ERROR: { value: 0, doc: "Unrecoverable session error." },
  VIRTIO_MEDIA_EVT_DQBUF: { value: 1, doc: "A queued buffer is done (implicit VIDIOC_DQBUF)." },
  VIRTIO_MEDIA_EVT_EVENT: {
    value: 2,
    doc: "A subscribed V4L2 event fired (implicit VIDIOC_DQEVENT).",
  },
}, { doc: "5.22.6.2.1: media event types (VIRTIO_MEDIA_EVT_*)." });

/** 5.22.6.2.1: the header of every event. */
export const virtio_media_event_header: StructType = struct("virtio_media_event_header", {
  event: doc(le32, "Event type (VIRTIO_MEDIA_EVT_*)."),
  session_id: doc(le32, "Session the event applies to."),
}, { doc: "5.22.6.2.1: header of events on the eventq." });

/** 5.22.6.2.2: VIRTIO_MEDIA_EVT_ERROR event. */
export const virtio_media_event_error: StructType = struct("virtio_media_event_error", {
  hdr: doc(virtio_media_event_header, "event VIRTIO_MEDIA_EVT_ERROR."),
  errno: doc(le32, "Error code describing the error."),
  __reserved: doc(le32, "Reserved."),
}, { doc: "5.22.6.2.2: the session is invalid; the driver must close it." });

/** 5.22.6.2.3: the plane count of a dequeued buffer event. */
export const virtio_media_limits: ConstantGroup = enumeration("virtio_media_limits", {
  VIRTIO_MEDIA_MAX_PLANES: { value: 8, doc: "Planes in virtio_media_event_dqbuf." },
}, { doc: "5.22.6.2.3: media limits." });

/** 5.22.6.2.3: V4L2's 64-bit `struct timeval` (in v4l2_buffer), from videodev2.h. */
export const timeval: StructType = struct("timeval", {
  tv_sec: doc(le64, "Seconds (signed)."),
  tv_usec: doc(le64, "Microseconds (signed)."),
}, { doc: "5.22.6.2.3: 64-bit Linux struct timeval, as V4L2 payloads carry it." });

/** 5.22.6.2.4: V4L2's 64-bit `struct timespec` (in v4l2_event), from videodev2.h. */
export const timespec: StructType = struct("timespec", {
  tv_sec: doc(le64, "Seconds (signed)."),
  tv_nsec: doc(le64, "Nanoseconds (signed)."),
}, { doc: "5.22.6.2.4: 64-bit Linux struct timespec, as V4L2 payloads carry it." });

/** 5.22.6.2.3: V4L2 `struct v4l2_timecode` (in v4l2_buffer), from videodev2.h. */
export const v4l2_timecode: StructType = struct("v4l2_timecode", {
  type: doc(le32, "Frame rate type (V4L2_TC_TYPE_*)."),
  flags: doc(le32, "V4L2_TC_FLAG_* flags."),
  frames: doc(u8, "Frames."),
  seconds: doc(u8, "Seconds."),
  minutes: doc(u8, "Minutes."),
  hours: doc(u8, "Hours."),
  userbits: doc(array(u8, 4), "User bits."),
}, { doc: "5.22.6.2.3: V4L2 SMPTE timecode (videodev2.h)." });

/** 5.22.6.2.3: the `m` union of V4L2 `struct v4l2_buffer`, from videodev2.h. */
export const v4l2_buffer_m: UnionType = union("v4l2_buffer_m", {
  offset: field(le32, {
    accessor: "memOffset",
    doc: "MMAP: offset of the buffer (accessor `memOffset`).",
  }),
  userptr: doc(le64, "USERPTR (SHARED_PAGES): userspace pointer, SG entries follow."),
  planes: doc(le64, "Multi-planar: pointer to the planes; they follow the buffer."),
  fd: doc(le32, "DMABUF: file descriptor placeholder (signed); a UUID follows."),
}, { doc: "5.22.6.2.3: location of a v4l2_buffer's memory, by memory type." });

/** 5.22.6.2.3: V4L2 `struct v4l2_buffer`, 64-bit layout, from videodev2.h. */
export const v4l2_buffer: StructType = struct("v4l2_buffer", {
  index: doc(le32, "Buffer index."),
  type: doc(le32, "Buffer type (V4L2_BUF_TYPE_*)."),
  bytesused: doc(le32, "Bytes of data in the buffer (single-planar)."),
  flags: doc(le32, "V4L2_BUF_FLAG_* flags."),
  field: doc(le32, "Field order (V4L2_FIELD_*)."),
  timestamp: field(timeval, { offset: 24, doc: "Timestamp (8-aligned: bytes 20..23 unused)." }),
  timecode: doc(v4l2_timecode, "Timecode."),
  sequence: doc(le32, "Frame sequence number."),
  memory: doc(le32, "Memory type (V4L2_MEMORY_*, see virtio_media_memory)."),
  m: doc(v4l2_buffer_m, "Memory location, by memory type."),
  length: doc(le32, "Buffer size in bytes (single-planar) or number of planes."),
  reserved2: doc(le32, "Reserved."),
  request_fd: doc(le32, "Request fd (signed), in an anonymous union with `reserved`."),
}, {
  size: 88,
  doc: "5.22.6.2.3: V4L2 buffer descriptor in its 64-bit little-endian C layout " +
    "(videodev2.h), 88 bytes with alignment gaps.",
});

/** 5.22.6.2.3: the `m` union of V4L2 `struct v4l2_plane`, from videodev2.h. */
export const v4l2_plane_m: UnionType = union("v4l2_plane_m", {
  mem_offset: doc(le32, "MMAP: offset of the plane."),
  userptr: doc(le64, "USERPTR (SHARED_PAGES): userspace pointer, SG entries follow."),
  fd: doc(le32, "DMABUF: file descriptor placeholder (signed)."),
}, { doc: "5.22.6.2.3: location of a v4l2_plane's memory, by memory type." });

/** 5.22.6.2.3: V4L2 `struct v4l2_plane`, 64-bit layout, from videodev2.h. */
export const v4l2_plane: StructType = struct("v4l2_plane", {
  bytesused: doc(le32, "Bytes of data in the plane."),
  length: doc(le32, "Plane size in bytes."),
  m: doc(v4l2_plane_m, "Memory location, by memory type."),
  data_offset: doc(le32, "Offset of the data from the start of the plane."),
  reserved: doc(array(le32, 11), "Reserved."),
}, { doc: "5.22.6.2.3: V4L2 plane descriptor in its 64-bit little-endian C layout." });

/** 5.22.6.2.4: V4L2 `struct v4l2_event`, 64-bit layout, from videodev2.h. */
export const v4l2_event: StructType = struct("v4l2_event", {
  type: doc(le32, "Event type (V4L2_EVENT_*)."),
  u: field(array(u8, 64), {
    offset: 8,
    doc: "Event payload: V4L2's union of vsync, ctrl, frame_sync, src_change, motion_det " +
      "and data[64]; 8-aligned (bytes 4..7 unused).",
  }),
  pending: doc(le32, "Number of pending events."),
  sequence: doc(le32, "Event sequence number."),
  timestamp: doc(timespec, "Event timestamp."),
  id: doc(le32, "Id of the event source."),
  reserved: doc(array(le32, 8), "Reserved."),
}, {
  size: 136,
  doc: "5.22.6.2.4: V4L2 event in its 64-bit little-endian C layout (videodev2.h), 136 " +
    "bytes with alignment gaps.",
});

/** 5.22.6.2.3: VIRTIO_MEDIA_EVT_DQBUF event. */
export const virtio_media_event_dqbuf: StructType = struct("virtio_media_event_dqbuf", {
  hdr: doc(virtio_media_event_header, "event VIRTIO_MEDIA_EVT_DQBUF."),
  buffer: doc(v4l2_buffer, "The dequeued buffer; pointer values are meaningless."),
  planes: doc(
    array(v4l2_plane, 8),
    "Planes of a multi-planar buffer (VIRTIO_MEDIA_MAX_PLANES); no SG entries follow.",
  ),
}, { doc: "5.22.6.2.3: a queued buffer is done and returned to the driver." });

/** 5.22.6.2.4: VIRTIO_MEDIA_EVT_EVENT event. */
export const virtio_media_event_event: StructType = struct("virtio_media_event_event", {
  hdr: doc(virtio_media_event_header, "event VIRTIO_MEDIA_EVT_EVENT."),
  event: doc(v4l2_event, "The V4L2 event that occurred."),
}, { doc: "5.22.6.2.4: a subscribed V4L2 event fired." });
