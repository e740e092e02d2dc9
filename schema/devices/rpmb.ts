/**
 * The RPMB device (spec 5.12): an eMMC-style Replay Protected Memory
 * Block. Configuration (5.12.4), request and response types (5.12.6), and
 * the 512-byte big-endian frame with its result codes (5.12.6.1). The
 * device has no feature bits.
 *
 * @module
 */
import {
  array,
  be16,
  be32,
  type ConstantGroup,
  doc,
  enumeration,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.12.4: the RPMB device's configuration layout. */
export const virtio_rpmb_config: StructType = struct("virtio_rpmb_config", {
  capacity: doc(u8, "Capacity in 128 KiB units, 0x00 to 0x80."),
  max_wr_cnt: doc(u8, "Maximum 256-byte blocks per write request; 0 means no limit."),
  max_rd_cnt: doc(u8, "Maximum 256-byte blocks per read request; 0 means no limit."),
}, { doc: "5.12.4: RPMB device configuration; read-only for the driver." });

/** 5.12.6: request types in `req_resp`. */
export const virtio_rpmb_req_type: ConstantGroup = enumeration("virtio_rpmb_req_type", {
  VIRTIO_RPMB_REQ_PROGRAM_KEY: { value: 0x0001, doc: "Program the authentication key." },
  VIRTIO_RPMB_REQ_GET_WRITE_COUNTER: { value: 0x0002, doc: "Read the write counter." },
  VIRTIO_RPMB_REQ_DATA_WRITE: { value: 0x0003, doc: "Authenticated data write." },
  VIRTIO_RPMB_REQ_DATA_READ: { value: 0x0004, doc: "Authenticated data read." },
  VIRTIO_RPMB_REQ_RESULT_READ: {
    value: 0x0005,
    doc: "Ask for the result of a preceding PROGRAM_KEY or DATA_WRITE.",
  },
}, { doc: "5.12.6: RPMB request types." });

/** 5.12.6: response types in `req_resp`. */
export const virtio_rpmb_resp_type: ConstantGroup = enumeration("virtio_rpmb_resp_type", {
  VIRTIO_RPMB_RESP_PROGRAM_KEY: { value: 0x0100, doc: "Response to PROGRAM_KEY." },
  VIRTIO_RPMB_RESP_GET_COUNTER: { value: 0x0200, doc: "Response to GET_WRITE_COUNTER." },
  VIRTIO_RPMB_RESP_DATA_WRITE: { value: 0x0300, doc: "Response to DATA_WRITE." },
  VIRTIO_RPMB_RESP_DATA_READ: { value: 0x0400, doc: "Response to DATA_READ." },
}, { doc: "5.12.6: RPMB response types." });

/** 5.12.6.1: the RPMB frame, used for every request and response. */
export const virtio_rpmb_frame: StructType = struct("virtio_rpmb_frame", {
  stuff: doc(array(u8, 196), "Padding."),
  key_mac: doc(
    array(u8, 32),
    "Authentication key (PROGRAM_KEY) or HMAC SHA-256 MAC of the frame without stuff and MAC.",
  ),
  data: doc(array(u8, 256), "Data written or read."),
  nonce: doc(array(u8, 16), "Random number from the requester, echoed in the response."),
  write_counter: doc(be32, "Count of successful authenticated writes."),
  address: doc(be16, "Address of the data, in 256-byte half sectors."),
  block_count: doc(be16, "Number of 256-byte blocks to read or write."),
  result: doc(be16, "Result of the access (VIRTIO_RPMB_RES_*), written by the device."),
  req_resp: doc(be16, "Request or response type (VIRTIO_RPMB_REQ_*, VIRTIO_RPMB_RESP_*)."),
}, { doc: "5.12.6.1: a 512-byte RPMB frame, big-endian as in eMMC." });

/** 5.12.6.1: values of `result`. */
export const virtio_rpmb_result: ConstantGroup = enumeration("virtio_rpmb_result", {
  VIRTIO_RPMB_RES_OK: { value: 0x0000, doc: "Success." },
  VIRTIO_RPMB_RES_GENERAL_FAILURE: { value: 0x0001, doc: "General failure." },
  VIRTIO_RPMB_RES_AUTH_FAILURE: { value: 0x0002, doc: "MAC mismatch." },
  VIRTIO_RPMB_RES_COUNT_FAILURE: { value: 0x0003, doc: "Write counter mismatch." },
  VIRTIO_RPMB_RES_ADDR_FAILURE: { value: 0x0004, doc: "Address out of range." },
  VIRTIO_RPMB_RES_WRITE_FAILURE: { value: 0x0005, doc: "Write failed." },
  VIRTIO_RPMB_RES_READ_FAILURE: { value: 0x0006, doc: "Read failed." },
  VIRTIO_RPMB_RES_NO_AUTH_KEY: {
    value: 0x0007,
    doc: "The authentication key is not programmed yet.",
  },
  VIRTIO_RPMB_RES_WRITE_COUNTER_EXPIRED: {
    value: 0x0080,
    doc: "The write counter has reached its maximum.",
  },
}, { doc: "5.12.6.1: RPMB operation results." });
