/**
 * Virtqueue layouts: the split ring (spec 2.7) and the packed ring
 * (spec 2.8), with their flag bits.
 *
 * @module
 */
import {
  addr,
  array,
  bits,
  type ConstantGroup,
  doc,
  flags,
  le16,
  le32,
  struct,
  type StructType,
} from "./dsl.ts";

/** 2.7.5: one entry of the descriptor table. */
export const virtq_desc: StructType = struct("virtq_desc", {
  addr: addr(undefined, "Address (guest-physical)."),
  len: doc(le32, "Length."),
  flags: doc(le16, "VIRTQ_DESC_F_* flags."),
  next: doc(le16, "Next field if flags & NEXT."),
}, { doc: "2.7.5: a descriptor of the split virtqueue's descriptor table." });

/** 2.7.6: the available ring, written by the driver. */
export const virtq_avail: StructType = struct("virtq_avail", {
  flags: doc(le16, "VIRTQ_AVAIL_F_* flags."),
  idx: doc(le16, "Where the driver puts the next entry (modulo the queue size); free-running."),
  ring: doc(array(le16, "queue_size"), "Heads of available descriptor chains."),
  used_event: doc(
    le16,
    "Only if VIRTIO_F_EVENT_IDX: the used index at which the driver wants an interrupt.",
  ),
}, { doc: "2.7.6: the split virtqueue's available ring." });

/** 2.7.8: one element of the used ring. */
export const virtq_used_elem: StructType = struct("virtq_used_elem", {
  id: doc(le32, "Index of the start of the used descriptor chain (le32 for padding reasons)."),
  len: doc(le32, "Bytes written into the device-writable part of the buffer."),
}, { doc: "2.7.8: an element of the split virtqueue's used ring." });

/** 2.7.8: the used ring, written by the device. */
export const virtq_used: StructType = struct("virtq_used", {
  flags: doc(le16, "VIRTQ_USED_F_* flags."),
  idx: doc(le16, "Where the device puts the next entry (modulo the queue size); free-running."),
  ring: doc(array(virtq_used_elem, "queue_size"), "Used descriptor chains."),
  avail_event: doc(
    le16,
    "Only if VIRTIO_F_EVENT_IDX: the available index at which the device wants a notification.",
  ),
}, { doc: "2.7.8: the split virtqueue's used ring." });

/** 2.7.5 flags of `virtq_desc`. */
export const virtq_desc_flags: ConstantGroup = flags("virtq_desc_flags", {
  VIRTQ_DESC_F_NEXT: { value: 1, doc: "The buffer continues via the next field." },
  VIRTQ_DESC_F_WRITE: {
    value: 2,
    doc: "The buffer is device write-only (otherwise device read-only).",
  },
  VIRTQ_DESC_F_INDIRECT: { value: 4, doc: "The buffer contains a list of buffer descriptors." },
}, { doc: "2.7.5: descriptor flags, shared by the split and packed rings." });

/** 2.7.6 flags of `virtq_avail`. */
export const virtq_avail_flags: ConstantGroup = flags("virtq_avail_flags", {
  VIRTQ_AVAIL_F_NO_INTERRUPT: {
    value: 1,
    doc: "The driver does not want used buffer notifications (without VIRTIO_F_EVENT_IDX).",
  },
}, { doc: "2.7.6: available ring flags." });

/** 2.7.8 flags of `virtq_used`. */
export const virtq_used_flags: ConstantGroup = flags("virtq_used_flags", {
  VIRTQ_USED_F_NO_NOTIFY: {
    value: 1,
    doc: "The device does not want available buffer notifications (without VIRTIO_F_EVENT_IDX).",
  },
}, { doc: "2.7.8: used ring flags." });

/** 2.8.13: a descriptor of the packed ring (also the indirect table entry). */
export const pvirtq_desc: StructType = struct("pvirtq_desc", {
  addr: addr(undefined, "Buffer address."),
  len: doc(le32, "Buffer length."),
  id: doc(le16, "Buffer ID."),
  flags: doc(le16, "The flags depending on descriptor type."),
}, { doc: "2.8.13: a descriptor of the packed virtqueue's descriptor ring." });

/** 2.8.14: the driver and device event suppression structures. */
export const pvirtq_event_suppress: StructType = struct("pvirtq_event_suppress", {
  desc: bits(le16, {
    desc_event_off: { width: 15, doc: "Descriptor Ring Change Event Offset." },
    desc_event_wrap: { width: 1, doc: "Descriptor Ring Change Event Wrap Counter." },
  }),
  flags: bits(le16, {
    desc_event_flags: { width: 2, doc: "Descriptor Ring Change Event Flags (RING_EVENT_FLAGS_*)." },
    reserved: { width: 14, doc: "Reserved, set to 0." },
  }),
}, { doc: "2.8.14: packed virtqueue event suppression structure." });

/** 2.8.1 and 2.8.14: packed ring flag bits. */
export const pvirtq_desc_flags: ConstantGroup = flags("pvirtq_desc_flags", {
  VIRTQ_DESC_F_AVAIL: {
    value: 1 << 7,
    doc: "Matches the driver's ring wrap counter when made available.",
  },
  VIRTQ_DESC_F_USED: { value: 1 << 15, doc: "Matches the device's ring wrap counter when used." },
}, { doc: "2.8.1: packed descriptor AVAIL and USED bits." });

/** 2.8.14: values of `desc_event_flags`. */
export const pvirtq_event_flags: ConstantGroup = flags("pvirtq_event_flags", {
  RING_EVENT_FLAGS_ENABLE: { value: 0x0, doc: "Enable events." },
  RING_EVENT_FLAGS_DISABLE: { value: 0x1, doc: "Disable events." },
  RING_EVENT_FLAGS_DESC: {
    value: 0x2,
    doc: "Enable events for a specific descriptor (with VIRTIO_F_EVENT_IDX).",
  },
}, { doc: "2.8.14: event suppression flag values." });

/** 2.9: the notification data word sent with VIRTIO_F_NOTIFICATION_DATA (MMIO QueueNotify, PCI notify). */
export const virtio_notification_data: StructType = struct("virtio_notification_data", {
  data: bits(le32, {
    vq_index: {
      width: 16,
      doc:
        "Virtqueue index, or the device's notification config data (VIRTIO_F_NOTIF_CONFIG_DATA).",
    },
    next_off: {
      width: 15,
      doc:
        "Split: bits 0..14 of the available index. Packed: offset of the next available descriptor.",
    },
    next_wrap: {
      width: 1,
      doc: "Split: bit 15 of the available index. Packed: the driver's wrap counter.",
    },
  }),
}, { doc: "2.9: driver notification data, little-endian (the spec's notifications-le layout)." });
