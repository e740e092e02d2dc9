/**
 * Device parts (spec 2.14): a device's state as a list of parts, each a
 * header and a value, that the administration commands of `admin.ts` get
 * from and set on a member device (for migration, say).
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

/** 2.14: `selector.pci_common_cfg` of a part header (anonymous in the spec). */
export const virtio_dev_part_hdr_selector_pci_common_cfg: StructType = struct(
  "virtio_dev_part_hdr_selector_pci_common_cfg",
  {
    offset: field(le32, {
      accessor: "fieldOffset",
      doc: "Offset of the field in the PCI common configuration (4.1.4.3).",
    }),
    reserved: doc(le32, "Reserved."),
  },
  { doc: "2.14: the selector of a VIRTIO_DEV_PART_PCI_COMMON_CFG part (anonymous struct)." },
);

/** 2.14: `selector.vq_index` of a part header (anonymous in the spec). */
export const virtio_dev_part_hdr_selector_vq_index: StructType = struct(
  "virtio_dev_part_hdr_selector_vq_index",
  {
    index: doc(le16, "The virtqueue's index."),
    reserved: doc(array(u8, 6), "Reserved."),
  },
  { doc: "2.14: the selector of the VQ_CFG and VQ_NOTIFY_CFG parts (anonymous struct)." },
);

/** 2.14: `selector` of a part header (anonymous in the spec). */
export const virtio_dev_part_hdr_selector: UnionType = union("virtio_dev_part_hdr_selector", {
  pci_common_cfg: doc(virtio_dev_part_hdr_selector_pci_common_cfg, "For PCI_COMMON_CFG."),
  vq_index: doc(virtio_dev_part_hdr_selector_vq_index, "For VQ_CFG and VQ_NOTIFY_CFG."),
  device_type_raw: doc(array(u8, 8), "For device-type specific parts: their own format."),
}, { doc: "2.14: what a part is about, by part type." });

/** 2.14: the header of a device part. */
export const virtio_dev_part_hdr: StructType = struct("virtio_dev_part_hdr", {
  part_type: doc(le16, "VIRTIO_DEV_PART_* (0x200-0x5ff: device-type specific)."),
  flags: doc(u8, "VIRTIO_DEV_PART_F_* bits."),
  reserved: doc(u8, "Reserved."),
  selector: doc(virtio_dev_part_hdr_selector, "Which instance of the part type."),
  length: doc(le32, "Length of the part's value, in bytes."),
}, { doc: "2.14: a device part's header." });

/** 2.14: bits of `flags` in `virtio_dev_part_hdr`. */
export const virtio_dev_part_flags: ConstantGroup = featureBits("virtio_dev_part_flags", {
  VIRTIO_DEV_PART_F_OPTIONAL: {
    value: 0,
    doc: "The part is optional: a receiving device may ignore it.",
  },
}, { doc: "2.14: device part flag bits." });

/** 2.14: a device part: header and value. */
export const virtio_dev_part: StructType = struct("virtio_dev_part", {
  hdr: doc(virtio_dev_part_hdr, "The header; `hdr.length` is the value's length."),
  value: doc(array(u8, "value_len"), "The part's value, by part type."),
}, { doc: "2.14: a device part." });

/** 2.14.1: the common part types. */
export const virtio_dev_part_type: ConstantGroup = enumeration("virtio_dev_part_type", {
  VIRTIO_DEV_PART_DEV_FEATURES: {
    value: 0x100,
    doc: "Device features (struct virtio_dev_part_features).",
  },
  VIRTIO_DEV_PART_DRV_FEATURES: {
    value: 0x101,
    doc: "Driver features (struct virtio_dev_part_features).",
  },
  VIRTIO_DEV_PART_PCI_COMMON_CFG: {
    value: 0x102,
    doc: "A field of the PCI common configuration, selected by offset.",
  },
  VIRTIO_DEV_PART_DEVICE_STATUS: { value: 0x103, doc: "The device status (u8)." },
  VIRTIO_DEV_PART_VQ_CFG: {
    value: 0x104,
    doc: "A virtqueue's configuration (struct virtio_dev_part_vq_cfg).",
  },
  VIRTIO_DEV_PART_VQ_NOTIFY_CFG: {
    value: 0x105,
    doc: "A virtqueue's notification configuration (struct virtio_dev_part_vq_notify_data).",
  },
}, { doc: "2.14.1: common device part types." });

/** 2.14.1.1: the value of the DEV_FEATURES and DRV_FEATURES parts. */
export const virtio_dev_part_features: StructType = struct("virtio_dev_part_features", {
  feature_bits: doc(
    array(le64, "feature_bits_len"),
    "Feature bits, 64 per word, bit 0 of word 0 first.",
  ),
}, { doc: "2.14.1.1: device or driver features." });

/** 2.14.1.5: the value of a VIRTIO_DEV_PART_VQ_CFG part. */
export const virtio_dev_part_vq_cfg: StructType = struct("virtio_dev_part_vq_cfg", {
  queue_size: doc(le16, "Queue size."),
  vector: doc(le16, "MSI-X vector."),
  enabled: doc(le16, "1 if the queue is enabled."),
  reserved: doc(le16, "Reserved."),
  queue_desc: doc(le64, "Descriptor area address."),
  queue_driver: doc(le64, "Driver area address."),
  queue_device: doc(le64, "Device area address."),
}, { doc: "2.14.1.5: a virtqueue's configuration." });

/** 2.14.1.6: the value of a VIRTIO_DEV_PART_VQ_NOTIFY_CFG part. */
export const virtio_dev_part_vq_notify_data: StructType = struct(
  "virtio_dev_part_vq_notify_data",
  {
    queue_notify_off: doc(le16, "The queue's notification offset (PCI)."),
    queue_notif_config_data: doc(le16, "The queue's notification config data."),
    reserved: doc(array(u8, 4), "Reserved."),
  },
  { doc: "2.14.1.6: a virtqueue's notification configuration." },
);
