/**
 * The rpmsg device (device id 7, `VIRTIO_ID_RPMSG`): the virtio remote
 * processor messaging bus. The virtio spec reserves the id (5, "Device
 * Types") but gives the device no section; the layouts and numbers here are
 * those of Linux's `include/linux/rpmsg.h`, `include/linux/rpmsg/ns.h`,
 * `include/uapi/linux/rpmsg.h` and `drivers/rpmsg/virtio_rpmsg_bus.c` (6.1),
 * which are the protocol's reference (OpenAMP's remote side follows them).
 *
 * There is no configuration space. Two queues: 0 carries messages from the
 * device (the remote processor) to the driver, 1 from the driver to the
 * device. Every buffer holds one message: a 16-byte `rpmsg_hdr` and its
 * payload, in fixed-size buffers (512 bytes in Linux). The `__rpmsg16/32`
 * fields are little-endian with VIRTIO_F_VERSION_1 (and in the native byte
 * order of a legacy device, which is little-endian on the machines here).
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

/** virtio_rpmsg_bus.c: the rpmsg device's feature bits. */
export const virtio_rpmsg_features: ConstantGroup = featureBits("virtio_rpmsg_features", {
  VIRTIO_RPMSG_F_NS: {
    value: 0,
    doc: "The remote processor supports name-service announcements (channel 53).",
  },
}, { doc: "virtio_rpmsg_bus.c: rpmsg feature bits." });

/** include/linux/rpmsg.h: the header in front of every message. */
export const rpmsg_hdr: StructType = struct("rpmsg_hdr", {
  src: doc(le32, "Source address (the sender's endpoint)."),
  dst: doc(le32, "Destination address (the receiver's endpoint)."),
  reserved: doc(le32, "Reserved, zero."),
  len: doc(le16, "Payload length in bytes."),
  flags: doc(le16, "Message flags, zero."),
}, { doc: "rpmsg.h: message header (packed, 16 bytes)." });

/** A message: header and payload, as it sits in one buffer. */
export const rpmsg_msg: StructType = struct("rpmsg_msg", {
  hdr: rpmsg_hdr,
  data: doc(array(u8, "data_len"), "Payload; hdr.len bytes."),
}, { doc: "rpmsg.h: a message in one buffer (`struct rpmsg_hdr` with its `data[]`)." });

/** include/linux/rpmsg/ns.h: the payload of a name-service message (to address 53). */
export const rpmsg_ns_msg: StructType = struct("rpmsg_ns_msg", {
  name: doc(array(u8, 32), "Service name, NUL-padded (RPMSG_NAME_SIZE)."),
  addr: doc(le32, "Address of the service's endpoint."),
  flags: doc(le32, "RPMSG_NS_CREATE or RPMSG_NS_DESTROY."),
}, { doc: "ns.h: name-service announcement (packed, 40 bytes)." });

/** include/linux/rpmsg/ns.h: values of `rpmsg_ns_msg.flags`. */
export const rpmsg_ns_flags: ConstantGroup = enumeration("rpmsg_ns_flags", {
  RPMSG_NS_CREATE: { value: 0, doc: "A new remote service was just created." },
  RPMSG_NS_DESTROY: { value: 1, doc: "A known remote service was just destroyed." },
}, { doc: "ns.h: name-service announcement kinds." });

/** The bus's fixed numbers (rpmsg.h, ns.h, virtio_rpmsg_bus.c). */
export const rpmsg_limits: ConstantGroup = enumeration("rpmsg_limits", {
  RPMSG_NS_ADDR: { value: 53, doc: "Address of the name-service endpoint." },
  RPMSG_ADDR_ANY: { value: 0xffffffff, doc: "Any address (let the bus choose one)." },
  RPMSG_RESERVED_ADDRESSES: {
    value: 1024,
    doc: "Addresses below this are reserved; dynamic ones start here.",
  },
  RPMSG_NAME_SIZE: { value: 32, doc: "Size of a channel or endpoint name, with its NUL." },
  RPMSG_BUF_SIZE: { value: 512, doc: "Linux's buffer size (MAX_RPMSG_BUF_SIZE), header included." },
  RPMSG_MAX_NUM_BUFS: {
    value: 512,
    doc: "Linux's buffers for both directions at most (MAX_RPMSG_NUM_BUFS).",
  },
}, { doc: "rpmsg: addresses, name size and Linux's buffer sizes." });
