/**
 * The socket device (spec 5.10): host/guest sockets addressed by
 * (cid, port). Configuration (5.10.4), the packet header with its
 * operations, socket types and flags (5.10.6), and the event queue's
 * event (5.10.6.7).
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
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.10.3: socket device feature bits. */
export const virtio_vsock_features: ConstantGroup = featureBits("virtio_vsock_features", {
  VIRTIO_VSOCK_F_STREAM: { value: 0, doc: "The stream socket type is supported." },
  VIRTIO_VSOCK_F_SEQPACKET: { value: 1, doc: "The seqpacket socket type is supported." },
  VIRTIO_VSOCK_F_NO_IMPLIED_STREAM: {
    value: 2,
    doc: "The stream socket type is not implied by the absence of other bits.",
  },
}, { doc: "5.10.3: socket device feature bits." });

/** 5.10.4: the socket device's configuration layout. */
export const virtio_vsock_config: StructType = struct("virtio_vsock_config", {
  guest_cid: doc(
    le64,
    "The guest's context id; the upper 32 bits are reserved and zero. " +
      "Never 0, 1, 2 (the host), 0xffffffff or 0xffffffffffffffff.",
  ),
}, { doc: "5.10.4: socket device configuration." });

/** 5.10.6: the header in front of every packet. */
export const virtio_vsock_hdr: StructType = struct("virtio_vsock_hdr", {
  src_cid: doc(le64, "Source context id; upper 32 bits reserved and zero."),
  dst_cid: doc(le64, "Destination context id; upper 32 bits reserved and zero."),
  src_port: doc(le32, "Source port."),
  dst_port: doc(le32, "Destination port."),
  len: doc(le32, "Payload size in bytes."),
  type: doc(le16, "Socket type (VIRTIO_VSOCK_TYPE_*)."),
  op: doc(le16, "Operation (VIRTIO_VSOCK_OP_*)."),
  flags: doc(
    le32,
    "SHUTDOWN: VIRTIO_VSOCK_SHUTDOWN_F_* bits; seqpacket RW: VIRTIO_VSOCK_SEQ_* bits.",
  ),
  buf_alloc: doc(le32, "Total receive buffer space of this socket, in bytes."),
  fwd_cnt: doc(le32, "Free-running count of bytes received."),
}, { doc: "5.10.6: socket packet header." });

/** 5.10.6: values of `op`. */
export const virtio_vsock_op: ConstantGroup = enumeration("virtio_vsock_op", {
  VIRTIO_VSOCK_OP_INVALID: { value: 0, doc: "Invalid." },
  VIRTIO_VSOCK_OP_REQUEST: { value: 1, doc: "Connect: request a connection." },
  VIRTIO_VSOCK_OP_RESPONSE: { value: 2, doc: "Connect: accept a connection." },
  VIRTIO_VSOCK_OP_RST: { value: 3, doc: "Refuse or forcibly close a connection." },
  VIRTIO_VSOCK_OP_SHUTDOWN: { value: 4, doc: "No more receiving and/or sending (see flags)." },
  VIRTIO_VSOCK_OP_RW: { value: 5, doc: "Payload." },
  VIRTIO_VSOCK_OP_CREDIT_UPDATE: { value: 6, doc: "Our credit (buf_alloc, fwd_cnt) for the peer." },
  VIRTIO_VSOCK_OP_CREDIT_REQUEST: { value: 7, doc: "Ask the peer for its credit." },
}, { doc: "5.10.6: packet operations." });

/** 5.10.6.2: values of `type`. */
export const virtio_vsock_type: ConstantGroup = enumeration("virtio_vsock_type", {
  VIRTIO_VSOCK_TYPE_STREAM: { value: 1, doc: "Stream socket." },
  VIRTIO_VSOCK_TYPE_SEQPACKET: { value: 2, doc: "Seqpacket socket." },
}, { doc: "5.10.6.2: socket types." });

/** 5.10.6.5: bit numbers in `flags` of a VIRTIO_VSOCK_OP_SHUTDOWN packet. */
export const virtio_vsock_shutdown_flags: ConstantGroup = featureBits(
  "virtio_vsock_shutdown_flags",
  {
    VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE: { value: 0, doc: "The peer will receive no more data." },
    VIRTIO_VSOCK_SHUTDOWN_F_SEND: { value: 1, doc: "The peer will send no more data." },
  },
  {
    doc: "5.10.6.5: shutdown hints; the spec defines these as bit numbers (0 and 1), " +
      "not masks.",
  },
);

/** 5.10.6.6.1: bits in `flags` of a seqpacket VIRTIO_VSOCK_OP_RW packet. */
export const virtio_vsock_seq_flags: ConstantGroup = flags("virtio_vsock_seq_flags", {
  VIRTIO_VSOCK_SEQ_EOM: { value: 1 << 0, doc: "Last packet of a message." },
  VIRTIO_VSOCK_SEQ_EOR: { value: 1 << 1, doc: "Last packet of a record (MSG_EOR)." },
}, { doc: "5.10.6.6.1: seqpacket message and record boundaries." });

/** 5.10.6.4: a packet: header and payload. */
export const virtio_vsock_packet: StructType = struct("virtio_vsock_packet", {
  hdr: virtio_vsock_hdr,
  data: doc(array(u8, "data_len"), "Payload; hdr.len bytes are used."),
}, { doc: "5.10.6.4: a packet on the rx or tx queue." });

/** 5.10.6.7: values of `virtio_vsock_event.id`. */
export const virtio_vsock_event_id: ConstantGroup = enumeration("virtio_vsock_event_id", {
  VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: {
    value: 0,
    doc: "Communication was interrupted (e.g. migration): reset connections, re-read guest_cid.",
  },
}, { doc: "5.10.6.7: event ids." });

/** 5.10.6.7: an event on the event queue. */
export const virtio_vsock_event: StructType = struct("virtio_vsock_event", {
  id: doc(le32, "VIRTIO_VSOCK_EVENT_*."),
}, { doc: "5.10.6.7: socket device event." });
