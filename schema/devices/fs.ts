/**
 * The file system device (spec 5.11): FUSE over virtio. Its configuration
 * (5.11.4) and feature bits (5.11.3). The request and notification
 * buffers (`virtio_fs_req`, `virtio_fs_notify`, 5.11.6) wrap FUSE's own
 * headers in a byte order the driver picks per session at FUSE_INIT, and
 * those headers are defined by FUSE, not by this spec; they are not
 * described here.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  featureBits,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.11.3: file system device feature bits. */
export const virtio_fs_features: ConstantGroup = featureBits("virtio_fs_features", {
  VIRTIO_FS_F_NOTIFICATION: {
    value: 0,
    doc: "FUSE notify messages are supported; virtqueue 1 is the notification queue.",
  },
}, { doc: "5.11.3: file system device feature bits." });

/** 5.11.4: the file system device's configuration layout. */
export const virtio_fs_config: StructType = struct("virtio_fs_config", {
  tag: doc(
    array(u8, 36),
    "Name of the file system (char[36]), UTF-8, NUL-padded; no NUL when it fills the field.",
  ),
  num_request_queues: doc(le32, "Number of request virtqueues, 1 or more."),
  notify_buf_size: doc(
    le32,
    "With VIRTIO_FS_F_NOTIFICATION: minimum size in bytes of each notification queue buffer.",
  ),
}, { doc: "5.11.4: file system device configuration; read-only for the driver." });
