/**
 * The I2C adapter device (spec 5.16): the request of the request queue
 * (an out header, an optional data buffer, an in header), its flag bits and
 * status codes. There is no device configuration space.
 *
 * Queues: 0 requestq.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le16,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.16.2: virtqueue indices. */
export const virtio_i2c_queues: ConstantGroup = enumeration("virtio_i2c_queues", {
  requestq: { value: 0, doc: "I2C requests." },
}, { doc: "5.16.2: virtqueue indices of the I2C adapter.", exportMembers: false });

/** 5.16.3: feature bits. */
export const virtio_i2c_features: ConstantGroup = featureBits("virtio_i2c_features", {
  VIRTIO_I2C_F_ZERO_LENGTH_REQUEST: {
    value: 0,
    doc: "Zero-length requests and the VIRTIO_I2C_FLAGS_M_RD flag; mandatory.",
  },
}, { doc: "5.16.3: I2C adapter feature bits." });

/** 5.16.6.1: bits of `virtio_i2c_out_hdr.flags` (bit numbers). */
export const virtio_i2c_flags: ConstantGroup = featureBits("virtio_i2c_flags", {
  VIRTIO_I2C_FLAGS_FAIL_NEXT: {
    value: 0,
    doc: "Groups requests: set on all but the last; if this request fails, fail the next too.",
  },
  VIRTIO_I2C_FLAGS_M_RD: {
    value: 1,
    doc: "Set for a read request (device writes buf), clear for a write request.",
  },
}, {
  doc: "5.16.6.1: request flag bit numbers (the mask is 1 << bit); other bits are reserved, zero.",
});

/** 5.16.6.1: request status codes. */
export const virtio_i2c_msg_status: ConstantGroup = enumeration("virtio_i2c_msg_status", {
  VIRTIO_I2C_MSG_OK: { value: 0, doc: "The request succeeded." },
  VIRTIO_I2C_MSG_ERR: { value: 1, doc: "The request failed." },
}, { doc: "5.16.6.1: I2C request status (VIRTIO_I2C_MSG_*)." });

/** 5.16.6.1: the device-readable header of a request. */
export const virtio_i2c_out_hdr: StructType = struct("virtio_i2c_out_hdr", {
  addr: doc(
    le16,
    "Address of the I2C device. 7-bit mode: A6..A0 in bits 7..1. 10-bit mode: A7..A0 in " +
      "bits 15..8, 0b11110 in bits 7..3, A9..A8 in bits 2..1. Bit 0 is 0.",
  ),
  padding: doc(le16, "Pads the header to a full dword."),
  flags: doc(le32, "Request flags (1 << VIRTIO_I2C_FLAGS_*)."),
}, { doc: "5.16.6.1: I2C request header, written by the driver." });

/** 5.16.6.1: the device-writable trailer of a request. */
export const virtio_i2c_in_hdr: StructType = struct("virtio_i2c_in_hdr", {
  status: doc(u8, "VIRTIO_I2C_MSG_OK or VIRTIO_I2C_MSG_ERR."),
}, { doc: "5.16.6.1: I2C request status, written by the device." });

/** 5.16.6.1: a whole request: header, data, status. */
export const virtio_i2c_req: StructType = struct("virtio_i2c_req", {
  out_hdr: doc(virtio_i2c_out_hdr, "Device-readable header."),
  buf: doc(
    array(u8, "buf_len"),
    "One segment of the transfer: read by the device for a write request, written for a " +
      "read request; absent (length 0) for a zero-length request.",
  ),
  in_hdr: doc(virtio_i2c_in_hdr, "Device-writable status."),
}, { doc: "5.16.6.1: an I2C request as laid out in the descriptor chain." });
