/**
 * The CAN device (spec 5.20): configuration, controller mode messages of
 * the control queue, CAN frames of the transmit and receive queues, and
 * their codes and flags.
 *
 * Queues: 0 Txq, 1 Rxq, 2 Controlq.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  flags,
  le16,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.20.2: virtqueue indices. */
export const virtio_can_queues: ConstantGroup = enumeration("virtio_can_queues", {
  Txq: { value: 0, doc: "CAN frames to send." },
  Rxq: { value: 1, doc: "Received CAN frames." },
  Controlq: { value: 2, doc: "Controller state changes." },
}, { doc: "5.20.2: virtqueue indices of the CAN device.", exportMembers: false });

/** 5.20.3: feature bits. */
export const virtio_can_features: ConstantGroup = featureBits("virtio_can_features", {
  VIRTIO_CAN_F_CAN_CLASSIC: { value: 0, doc: "Classic CAN frames (payload up to 8 bytes)." },
  VIRTIO_CAN_F_CAN_FD: { value: 1, doc: "CAN FD frames (payload up to 64 bytes)." },
  VIRTIO_CAN_F_RTR_FRAMES: {
    value: 2,
    doc: "RTR (remote transmission request) frames; requires VIRTIO_CAN_F_CAN_CLASSIC.",
  },
  VIRTIO_CAN_F_LATE_TX_ACK: {
    value: 3,
    doc: "Txq requests are used only once the frame was transmitted on the bus.",
  },
}, {
  doc: "5.20.3: CAN device feature bits; at least one of CAN_CLASSIC and CAN_FD is " +
    "negotiated.",
});

/** 5.20.4: bits of `virtio_can_config.status`. */
export const virtio_can_config_status: ConstantGroup = flags("virtio_can_config_status", {
  VIRTIO_CAN_S_CTRL_BUSOFF: {
    value: 1 << 0,
    doc: "The controller stopped on its own after a bus-off condition.",
  },
}, { doc: "5.20.4: CAN configuration status bits (masks)." });

/** 5.20.4: device configuration layout. */
export const virtio_can_config: StructType = struct("virtio_can_config", {
  status: doc(le16, "Status bits (VIRTIO_CAN_S_*), read-only for the driver."),
}, { doc: "5.20.4: CAN device configuration space." });

/** 5.20.5: operation results. */
export const virtio_can_result: ConstantGroup = enumeration("virtio_can_result", {
  VIRTIO_CAN_RESULT_OK: { value: 0, doc: "Success." },
  VIRTIO_CAN_RESULT_NOT_OK: { value: 1, doc: "Failure; any other value means the same." },
}, { doc: "5.20.5: CAN operation results (VIRTIO_CAN_RESULT_*)." });

/** 5.20.5.1, 5.20.5.2, 5.20.5.3: message types. */
export const virtio_can_msg_type: ConstantGroup = enumeration("virtio_can_msg_type", {
  VIRTIO_CAN_TX: { value: 0x0001, doc: "A frame to transmit (Txq)." },
  VIRTIO_CAN_RX: { value: 0x0101, doc: "A received frame (Rxq)." },
  VIRTIO_CAN_SET_CTRL_MODE_START: {
    value: 0x0201,
    doc: "Start the controller: join bus communication (Controlq).",
  },
  VIRTIO_CAN_SET_CTRL_MODE_STOP: {
    value: 0x0202,
    doc: "Stop the controller: leave bus communication (Controlq).",
  },
}, { doc: "5.20.5: CAN message types (`msg_type` values)." });

/** 5.20.5.2: bits of the `flags` of a CAN frame. */
export const virtio_can_flags: ConstantGroup = flags("virtio_can_flags", {
  VIRTIO_CAN_FLAGS_RTR: { value: 0x2000, doc: "Remote transmission request frame." },
  VIRTIO_CAN_FLAGS_FD: { value: 0x4000, doc: "CAN FD frame." },
  VIRTIO_CAN_FLAGS_EXTENDED: {
    value: 0x8000,
    doc: "Extended 29-bit CAN id (otherwise standard 11-bit).",
  },
}, { doc: "5.20.5.2: CAN frame flags (masks), shared by transmitted and received frames." });

/** 5.20.5.1: a Controlq request. */
export const virtio_can_control_out: StructType = struct("virtio_can_control_out", {
  msg_type: doc(le16, "VIRTIO_CAN_SET_CTRL_MODE_START or VIRTIO_CAN_SET_CTRL_MODE_STOP."),
}, { doc: "5.20.5.1: controller mode request." });

/** 5.20.5.1: a Controlq response. */
export const virtio_can_control_in: StructType = struct("virtio_can_control_in", {
  result: doc(u8, "VIRTIO_CAN_RESULT_OK if the transition succeeded."),
}, { doc: "5.20.5.1: controller mode result, written once the transition completed." });

/** 5.20.5.2: a frame to transmit on the Txq. */
export const virtio_can_tx_out: StructType = struct("virtio_can_tx_out", {
  msg_type: doc(le16, "VIRTIO_CAN_TX."),
  length: doc(le16, "Payload length: 0..8 classic, 0..64 CAN FD, 0..2048 CAN XL (12 bits)."),
  reserved_classic_dlc: doc(u8, "Reserved: DLC 8..15 for a classic frame of length 8."),
  padding: doc(u8, "Padding."),
  reserved_xl_priority: doc(le16, "Reserved for CAN XL priority."),
  flags: doc(le32, "Frame flags (VIRTIO_CAN_FLAGS_*)."),
  can_id: doc(le32, "CAN id; the 3 most significant bits are 0."),
  sdu: doc(array(u8, "sdu_len"), "Payload, `length` bytes."),
}, { doc: "5.20.5.2: CAN frame transmit request, written by the driver." });

/** 5.20.5.2: the result of a transmission. */
export const virtio_can_tx_in: StructType = struct("virtio_can_tx_in", {
  result: doc(u8, "VIRTIO_CAN_RESULT_OK if the frame was sent (or scheduled)."),
}, { doc: "5.20.5.2: transmit result, written by the device." });

/** 5.20.5.3: a received frame on the Rxq. */
export const virtio_can_rx: StructType = struct("virtio_can_rx", {
  msg_type: doc(le16, "VIRTIO_CAN_RX."),
  length: doc(le16, "Payload length: 0..8 classic, 0..64 CAN FD, 0..2048 CAN XL (12 bits)."),
  reserved_classic_dlc: doc(u8, "Reserved: DLC 8..15 for a classic frame of length 8."),
  padding: doc(u8, "Padding."),
  reserved_xl_priority: doc(le16, "Reserved for CAN XL priority."),
  flags: doc(le32, "Frame flags (VIRTIO_CAN_FLAGS_*)."),
  can_id: doc(le32, "CAN id; the 3 most significant bits are 0."),
  sdu: doc(
    array(u8, "sdu_len"),
    "Payload, `length` bytes (at most 64 with VIRTIO_CAN_F_CAN_FD, else 8).",
  ),
}, { doc: "5.20.5.3: received CAN frame, written by the device." });
