/**
 * Virtio over channel I/O (spec 4.3): the virtio-specific channel commands
 * and the structures they carry. Channel I/O is big-endian except where the
 * spec says otherwise (feature words and configuration are little-endian).
 *
 * @module
 */
import {
  array,
  be16,
  be32,
  be64,
  type ConstantGroup,
  doc,
  enumeration,
  field,
  le32,
  struct,
  type StructType,
  u8,
} from "./dsl.ts";

/** 4.3.1.2: the virtio-specific channel command codes. */
export const virtio_ccw_cmd: ConstantGroup = enumeration("virtio_ccw_cmd", {
  CCW_CMD_SET_VQ: { value: 0x13, doc: "Configure a virtqueue (vq_info_block)." },
  CCW_CMD_VDEV_RESET: { value: 0x33, doc: "Reset the device." },
  CCW_CMD_SET_IND: { value: 0x43, doc: "Set up classic queue indicators." },
  CCW_CMD_SET_CONF_IND: { value: 0x53, doc: "Set up configuration change indicators." },
  CCW_CMD_SET_IND_ADAPTER: {
    value: 0x73,
    doc: "Set up two-stage queue indicators (virtio_thinint_area).",
  },
  CCW_CMD_READ_FEAT: { value: 0x12, doc: "Read 32 device feature bits (virtio_feature_desc)." },
  CCW_CMD_WRITE_FEAT: {
    value: 0x11,
    doc: "Write 32 driver feature bits (virtio_feature_desc).",
  },
  CCW_CMD_READ_CONF: { value: 0x22, doc: "Read the device configuration." },
  CCW_CMD_WRITE_CONF: { value: 0x21, doc: "Write the device configuration." },
  CCW_CMD_WRITE_STATUS: { value: 0x31, doc: "Write the device status byte." },
  CCW_CMD_READ_VQ_CONF: { value: 0x32, doc: "Read a virtqueue's maximum size (vq_config_block)." },
  CCW_CMD_SET_VIRTIO_REV: { value: 0x83, doc: "Select the transport revision (virtio_rev_info)." },
  CCW_CMD_READ_STATUS: { value: 0x72, doc: "Read the device status byte (revision 2)." },
}, { doc: "4.3.1.2: virtio-ccw channel commands." });

/** 4.3.1: how a virtio-ccw proxy device identifies itself (SENSE ID). */
export const virtio_ccw_ids: ConstantGroup = enumeration("virtio_ccw_ids", {
  VIRTIO_CCW_CU_TYPE: {
    value: 0x3832,
    doc: "Control unit type of every virtio-ccw device; the model is the virtio device id.",
  },
  VIRTIO_CCW_CHPID_TYPE: { value: 0x32, doc: "Type of the virtual channel path." },
}, { doc: "4.3.1: virtio-ccw identification." });

/** 4.3.2.1: transport revisions. */
export const virtio_ccw_revision: ConstantGroup = enumeration("virtio_ccw_revision", {
  VIRTIO_CCW_REV_LEGACY: { value: 0, doc: "The legacy interface (transitional devices only)." },
  VIRTIO_CCW_REV_1: { value: 1, doc: "Virtio 1." },
  VIRTIO_CCW_REV_2: { value: 2, doc: "Virtio 1 with CCW_CMD_READ_STATUS." },
}, { doc: "4.3.2.1: virtio-ccw revisions (each with length 0 and no data)." });

/** 4.3.2.1: CCW_CMD_SET_VIRTIO_REV's data. */
export const virtio_rev_info: StructType = struct("virtio_rev_info", {
  revision: doc(be16, "The revision the driver asks for (VIRTIO_CCW_REV_*)."),
  length: doc(be16, "Length of `data`."),
  data: doc(array(u8, "data_len"), "Revision-dependent options."),
}, { doc: "4.3.2.1: the transport revision the driver selects." });

/** 4.3.2.2: CCW_CMD_READ_VQ_CONF's data. */
export const vq_config_block: StructType = struct("vq_config_block", {
  index: doc(be16, "The virtqueue (written by the driver)."),
  max_queue_size: doc(be16, "Its maximum size (written by the device; was max_num)."),
}, { doc: "4.3.2.2: a virtqueue's maximum size." });

/** 4.3.2.2: CCW_CMD_SET_VQ's data (revision 1 and up). */
export const vq_info_block: StructType = struct("vq_info_block", {
  desc: doc(be64, "Descriptor area address."),
  res0: doc(be32, "Reserved."),
  index: doc(be16, "The virtqueue's index."),
  size: field(be16, { accessor: "queueSize", doc: "Queue size (was num)." }),
  driver: doc(be64, "Driver area address."),
  device: doc(be64, "Device area address."),
}, { doc: "4.3.2.2: a virtqueue's configuration." });

/** 4.3.2.2.1: CCW_CMD_SET_VQ's data in revision 0 (legacy). */
export const vq_info_block_legacy: StructType = struct("vq_info_block_legacy", {
  queue: doc(be64, "Guest address of the whole legacy ring."),
  align: doc(be32, "Alignment of the used ring (4096)."),
  index: doc(be16, "The virtqueue's index."),
  size: field(be16, { accessor: "queueSize", doc: "Queue size (was num)." }),
}, { doc: "4.3.2.2.1: a legacy virtqueue's configuration." });

/** 4.3.2.4: CCW_CMD_READ_FEAT and CCW_CMD_WRITE_FEAT's data. */
export const virtio_feature_desc: StructType = struct("virtio_feature_desc", {
  features: doc(le32, "32 feature bits (little-endian, unlike the rest of channel I/O)."),
  index: doc(u8, "Which 32 bits: features 32*index to 32*index+31."),
}, { doc: "4.3.2.4: 32 feature bits; 5 bytes." });

/** 4.3.2.6.3: CCW_CMD_SET_IND_ADAPTER's data. */
export const virtio_thinint_area: StructType = struct("virtio_thinint_area", {
  summary_indicator: doc(be64, "Guest address of the 8-bit summary indicator."),
  indicator: doc(be64, "Guest address of the queue indicator area."),
  bit_nr: doc(be64, "The device's first indicator bit (bit 0 is the first byte's MSB)."),
  isc: doc(u8, "The I/O interruption subclass for adapter interrupts."),
}, { doc: "4.3.2.6.3: two-stage queue indicators; exactly 25 bytes." });
