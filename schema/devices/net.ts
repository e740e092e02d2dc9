/**
 * The network device (spec 5.1): its configuration layout, the header that
 * precedes every packet, the control virtqueue's commands and their data,
 * device statistics, flow filter objects, and every constant the spec
 * defines for them. Everything is little-endian.
 *
 * Several control-queue layouts end in, or contain, arrays whose length the
 * driver or device chooses; those are parameter-length arrays here
 * (`hash_key_data_len`, `command_specific_data_len`...).
 *
 * @module
 */
import {
  array,
  bits,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  field,
  flags,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

/**
 * 5.1.2: virtqueue indices. Queue pair n (from 1) uses receiveqn at
 * 2(n-1) and transmitqn at 2(n-1)+1; the controlq follows the last pair at
 * 2N, where N is max_virtqueue_pairs with VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS
 * and 1 otherwise (so 2 without them).
 */
export const virtio_net_queues: ConstantGroup = enumeration("virtio_net_queues", {
  receiveq1: { value: 0, doc: "Receive queue of the first pair." },
  transmitq1: { value: 1, doc: "Transmit queue of the first pair." },
}, {
  doc: "5.1.2: virtqueue indices of the network device: receiveqn = 2(n-1), transmitqn = " +
    "2(n-1)+1, controlq = 2N (only with VIRTIO_NET_F_CTRL_VQ).",
  exportMembers: false,
});

// ---------------------------------------------------------------------------
// 5.1.3 Feature bits

/** 5.1.3: network device feature bits, with the legacy ones of 5.1.3.2. */
export const virtio_net_features: ConstantGroup = featureBits("virtio_net_features", {
  VIRTIO_NET_F_CSUM: { value: 0, doc: "Device handles packets with partial checksum offload." },
  VIRTIO_NET_F_GUEST_CSUM: { value: 1, doc: "Driver handles packets with partial checksum." },
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS: {
    value: 2,
    doc: "Offloads can be reconfigured through the control queue.",
  },
  VIRTIO_NET_F_MTU: { value: 3, doc: "Device reports its maximum MTU in mtu." },
  VIRTIO_NET_F_MAC: { value: 5, doc: "Device has given a MAC address in mac." },
  VIRTIO_NET_F_GSO: {
    value: 6,
    doc: "Legacy: device handles packets with any GSO type.",
  },
  VIRTIO_NET_F_GUEST_TSO4: { value: 7, doc: "Driver can receive TSOv4." },
  VIRTIO_NET_F_GUEST_TSO6: { value: 8, doc: "Driver can receive TSOv6." },
  VIRTIO_NET_F_GUEST_ECN: { value: 9, doc: "Driver can receive TSO with ECN." },
  VIRTIO_NET_F_GUEST_UFO: { value: 10, doc: "Driver can receive UFO." },
  VIRTIO_NET_F_HOST_TSO4: { value: 11, doc: "Device can receive TSOv4." },
  VIRTIO_NET_F_HOST_TSO6: { value: 12, doc: "Device can receive TSOv6." },
  VIRTIO_NET_F_HOST_ECN: { value: 13, doc: "Device can receive TSO with ECN." },
  VIRTIO_NET_F_HOST_UFO: { value: 14, doc: "Device can receive UFO." },
  VIRTIO_NET_F_MRG_RXBUF: { value: 15, doc: "Driver can merge receive buffers." },
  VIRTIO_NET_F_STATUS: { value: 16, doc: "The status configuration field is available." },
  VIRTIO_NET_F_CTRL_VQ: { value: 17, doc: "The control virtqueue is available." },
  VIRTIO_NET_F_CTRL_RX: { value: 18, doc: "Control queue RX mode support." },
  VIRTIO_NET_F_CTRL_VLAN: { value: 19, doc: "Control queue VLAN filtering." },
  VIRTIO_NET_F_CTRL_RX_EXTRA: { value: 20, doc: "Control queue extra RX mode support." },
  VIRTIO_NET_F_GUEST_ANNOUNCE: { value: 21, doc: "Driver can send gratuitous packets." },
  VIRTIO_NET_F_MQ: {
    value: 22,
    doc: "Device supports multiqueue with automatic receive steering.",
  },
  VIRTIO_NET_F_CTRL_MAC_ADDR: {
    value: 23,
    doc: "The MAC address can be set through the control queue.",
  },
  VIRTIO_NET_F_GUEST_RSC4: {
    value: 41,
    doc: "Legacy: device coalesces TCP/IPv4 packets (kept for an old Windows driver).",
  },
  VIRTIO_NET_F_GUEST_RSC6: {
    value: 42,
    doc: "Legacy: device coalesces TCP/IPv6 packets.",
  },
  VIRTIO_NET_F_DEVICE_STATS: {
    value: 50,
    doc: "Device statistics can be read through the control queue.",
  },
  VIRTIO_NET_F_HASH_TUNNEL: {
    value: 51,
    doc: "Device can hash the inner headers of encapsulated packets.",
  },
  VIRTIO_NET_F_VQ_NOTF_COAL: {
    value: 52,
    doc: "Device supports per-virtqueue notification coalescing.",
  },
  VIRTIO_NET_F_NOTF_COAL: { value: 53, doc: "Device supports notification coalescing." },
  VIRTIO_NET_F_GUEST_USO4: { value: 54, doc: "Driver can receive USOv4 packets." },
  VIRTIO_NET_F_GUEST_USO6: { value: 55, doc: "Driver can receive USOv6 packets." },
  VIRTIO_NET_F_HOST_USO: {
    value: 56,
    doc: "Device can receive USO packets (UDP segmentation, each segment with its own header).",
  },
  VIRTIO_NET_F_HASH_REPORT: {
    value: 57,
    doc: "Device can report a per-packet hash value and hash type.",
  },
  VIRTIO_NET_F_GUEST_HDRLEN: {
    value: 59,
    doc: "Driver provides the exact hdr_len value.",
  },
  VIRTIO_NET_F_RSS: {
    value: 60,
    doc: "Device supports receive-side scaling with a configurable Toeplitz hash.",
  },
  VIRTIO_NET_F_RSC_EXT: {
    value: 61,
    doc: "Device reports coalesced segments and duplicated ACKs.",
  },
  VIRTIO_NET_F_STANDBY: {
    value: 62,
    doc: "Device may act as standby for a primary device with the same MAC address.",
  },
  VIRTIO_NET_F_SPEED_DUPLEX: { value: 63, doc: "Device reports speed and duplex." },
  VIRTIO_NET_F_RSS_CONTEXT: { value: 64, doc: "Device supports multiple RSS contexts." },
  VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO: {
    value: 65,
    doc: "Driver can receive GSO packets carried by a UDP tunnel.",
  },
  VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO_CSUM: {
    value: 66,
    doc: "Driver handles UDP-tunnelled packets with a partial outer checksum.",
  },
  VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO: {
    value: 67,
    doc: "Device can receive GSO packets carried by a UDP tunnel.",
  },
  VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM: {
    value: 68,
    doc: "Device handles UDP-tunnelled packets with a partial outer checksum.",
  },
  VIRTIO_NET_F_OUT_NET_HEADER: {
    value: 69,
    doc: "Driver can provide outer_nh_offset.",
  },
  VIRTIO_NET_F_IPSEC: {
    value: 70,
    doc: "Device supports inline IPsec; virtio_net_hdr extends up to ipsec_resource_hdr.",
  },
}, { doc: "5.1.3: network device feature bits (bit numbers)." });

// ---------------------------------------------------------------------------
// 5.1.4 Device configuration layout

/** 5.1.4: the network device's configuration layout. */
export const virtio_net_config: StructType = struct("virtio_net_config", {
  mac: doc(array(u8, 6), "MAC address; always present, valid with VIRTIO_NET_F_MAC."),
  status: doc(le16, "With VIRTIO_NET_F_STATUS: VIRTIO_NET_S_* bits."),
  max_virtqueue_pairs: doc(
    le16,
    "With VIRTIO_NET_F_MQ or VIRTIO_NET_F_RSS: maximum number of receive/transmit queue pairs " +
      "(1 to 0x8000).",
  ),
  mtu: doc(le16, "With VIRTIO_NET_F_MTU: maximum MTU for the driver (68 to 65535)."),
  speed: doc(
    le32,
    "With VIRTIO_NET_F_SPEED_DUPLEX: speed in Mbit/s, 0 to 0x7fffffff, or 0xffffffff for unknown.",
  ),
  duplex: doc(u8, "With VIRTIO_NET_F_SPEED_DUPLEX: duplex state; 0xff for unknown."),
  rss_max_key_size: doc(
    u8,
    "With VIRTIO_NET_F_RSS or VIRTIO_NET_F_HASH_REPORT: maximum RSS key length in bytes.",
  ),
  rss_max_indirection_table_length: doc(
    le16,
    "With VIRTIO_NET_F_RSS: maximum number of 16-bit entries in the indirection table.",
  ),
  supported_hash_types: doc(
    le32,
    "With VIRTIO_NET_F_RSS or VIRTIO_NET_F_HASH_REPORT: VIRTIO_NET_HASH_TYPE_* bitmask.",
  ),
  supported_tunnel_types: doc(
    le32,
    "With VIRTIO_NET_F_HASH_TUNNEL: VIRTIO_NET_HASH_TUNNEL_TYPE_* bitmask.",
  ),
}, { doc: "5.1.4: network device configuration layout (read-only for the driver)." });

/** 5.1.4: bits of `virtio_net_config.status`. */
export const virtio_net_status: ConstantGroup = flags("virtio_net_status", {
  VIRTIO_NET_S_LINK_UP: { value: 1, doc: "The link is up." },
  VIRTIO_NET_S_ANNOUNCE: {
    value: 2,
    doc: "The device asks the driver to send gratuitous packets.",
  },
}, { doc: "5.1.4: link status bits of the status configuration field." });

// ---------------------------------------------------------------------------
// 5.1.6 - 5.1.8 capabilities, resource objects, device parts

/** 5.1.6: device capability ids of the network device (admin commands). */
export const virtio_net_cap_id: ConstantGroup = enumeration("virtio_net_cap_id", {
  VIRTIO_NET_FF_RESOURCE_CAP: { value: 0x0800, doc: "Flow filter resource capability." },
  VIRTIO_NET_FF_SELECTOR_CAP: { value: 0x0801, doc: "Flow filter classifier capability." },
  VIRTIO_NET_FF_ACTION_CAP: { value: 0x0802, doc: "Flow filter action capability." },
  VIRTIO_NET_IPSEC_RESOURCE_CAP: { value: 0x0803, doc: "IPsec resource capability." },
  VIRTIO_NET_IPSEC_SA_CAP: { value: 0x0804, doc: "IPsec security association capability." },
}, { doc: "5.1.6: network device and driver capability ids." });

/** 5.1.7: resource object types of the network device. */
export const virtio_net_resource_obj_type: ConstantGroup = enumeration(
  "virtio_net_resource_obj_type",
  {
    VIRTIO_NET_RESOURCE_OBJ_FF_GROUP: { value: 0x0200, doc: "Flow filter group." },
    VIRTIO_NET_RESOURCE_OBJ_FF_CLASSIFIER: { value: 0x0201, doc: "Flow filter classifier." },
    VIRTIO_NET_RESOURCE_OBJ_FF_RULE: { value: 0x0202, doc: "Flow filter rule." },
    VIRTIO_NET_RESOURCE_OBJ_IPSEC_OUTB_SA: { value: 0x0203, doc: "IPsec outbound SA." },
    VIRTIO_NET_RESOURCE_OBJ_IPSEC_INB_SA: { value: 0x0204, doc: "IPsec inbound SA." },
  },
  { doc: "5.1.7: network device resource object types." },
);

/** 5.1.8: device part types of the network device. */
export const virtio_net_dev_part_type: ConstantGroup = enumeration("virtio_net_dev_part_type", {
  VIRTIO_NET_DEV_PART_CVQ_CFG_PART: {
    value: 0x200,
    doc: "Configuration done through one control virtqueue command (0x201-0x5ff reserved).",
  },
}, { doc: "5.1.8: network device part types." });

/** 5.1.8.1: the selector of a VIRTIO_NET_DEV_PART_CVQ_CFG_PART device part. */
export const virtio_net_dev_part_cvq_selector: StructType = struct(
  "virtio_net_dev_part_cvq_selector",
  {
    class: doc(u8, "Control class (VIRTIO_NET_CTRL_*) of the recorded command."),
    command: doc(u8, "Command within the class."),
    reserved: doc(array(u8, 6), "Reserved, zero."),
  },
  { doc: "5.1.8.1: selector identifying a control-queue configuration device part." },
);

// ---------------------------------------------------------------------------
// 5.1.9 Device operation: the packet header

/** 5.1.9: the IPsec resource reference inside `virtio_net_hdr`. */
export const ipsec_resource_hdr: StructType = struct("ipsec_resource_hdr", {
  resource_id: doc(le32, "Id of the IPsec SA resource object to apply."),
  resource_type: doc(le16, "Type of that resource object."),
}, {
  doc: "5.1.9: IPsec resource reference of virtio_net_hdr (6 bytes; no padding, unlike C).",
});

/**
 * 5.1.9: the anonymous union that ends `virtio_net_hdr`. The spec leaves
 * it unnamed; the union's name and its field name in the header are ours.
 */
export const virtio_net_hdr_ipsec_union: UnionType = union("virtio_net_hdr_ipsec_union", {
  padding_reserved_2: doc(array(u8, 6), "Reserved (with VIRTIO_NET_F_OUT_NET_HEADER)."),
  ipsec_resource_hdr: doc(ipsec_resource_hdr, "With VIRTIO_NET_F_IPSEC: the SA to use."),
}, {
  doc: "5.1.9: last 6 bytes of virtio_net_hdr (anonymous in the spec; name is ours), present " +
    "with VIRTIO_NET_F_OUT_NET_HEADER or VIRTIO_NET_F_IPSEC.",
});

/** 5.1.9: the header before every packet on the receive and transmit queues. */
export const virtio_net_hdr: StructType = struct("virtio_net_hdr", {
  flags: doc(u8, "VIRTIO_NET_HDR_F_* bits."),
  gso_type: doc(
    u8,
    "VIRTIO_NET_HDR_GSO_* type, ORed with VIRTIO_NET_HDR_GSO_ECN / _UDP_TUNNEL_* bits.",
  ),
  hdr_len: doc(
    le16,
    "Length of the headers to replicate per segment (exact with VIRTIO_NET_F_GUEST_HDRLEN).",
  ),
  gso_size: doc(le16, "Maximum segment size beyond the headers (MSS)."),
  csum_start: doc(
    le16,
    "Where checksumming starts; with VIRTIO_NET_HDR_F_RSC_INFO: number of coalesced segments.",
  ),
  csum_offset: doc(
    le16,
    "Where the checksum goes, after csum_start; with VIRTIO_NET_HDR_F_RSC_INFO: duplicated ACKs.",
  ),
  num_buffers: doc(le16, "Receive: number of buffers the packet spans. Transmit: zero."),
  hash_value: doc(le32, "With VIRTIO_NET_F_HASH_REPORT: the calculated hash."),
  hash_report: doc(
    le16,
    "With VIRTIO_NET_F_HASH_REPORT: VIRTIO_NET_HASH_REPORT_* type of the hash.",
  ),
  padding_reserved: doc(le16, "With VIRTIO_NET_F_HASH_REPORT: reserved."),
  outer_th_offset: doc(
    le16,
    "With VIRTIO_NET_F_{HOST,GUEST}_UDP_TUNNEL_GSO: offset of the outer transport header.",
  ),
  inner_nh_offset: doc(
    le16,
    "With VIRTIO_NET_F_{HOST,GUEST}_UDP_TUNNEL_GSO: offset of the inner network header.",
  ),
  outer_nh_offset: doc(
    le16,
    "With VIRTIO_NET_F_OUT_NET_HEADER: offset of the outer network header (0: not given).",
  ),
  ipsec_union: doc(
    virtio_net_hdr_ipsec_union,
    "With VIRTIO_NET_F_OUT_NET_HEADER or VIRTIO_NET_F_IPSEC: padding_reserved_2 or " +
      "ipsec_resource_hdr (an anonymous union in the spec).",
  ),
}, {
  doc: "5.1.9: virtio-net packet header. Its size depends on the features: 12 bytes, 20 with " +
    "VIRTIO_NET_F_HASH_REPORT, 24 with UDP tunnel GSO, 32 with VIRTIO_NET_F_OUT_NET_HEADER or " +
    "VIRTIO_NET_F_IPSEC.",
});

/** 5.1.9: bits of `virtio_net_hdr.flags`. */
export const virtio_net_hdr_flags: ConstantGroup = flags("virtio_net_hdr_flags", {
  VIRTIO_NET_HDR_F_NEEDS_CSUM: {
    value: 1,
    doc: "Checksum from csum_start, stored at csum_offset, is still to be computed.",
  },
  VIRTIO_NET_HDR_F_DATA_VALID: { value: 2, doc: "Receive: the device validated the checksum." },
  VIRTIO_NET_HDR_F_RSC_INFO: {
    value: 4,
    doc: "Receive: csum_start and csum_offset hold coalescing counts (VIRTIO_NET_F_RSC_EXT).",
  },
  VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM: {
    value: 8,
    doc: "The outer UDP checksum of a tunnelled packet is offloaded or validated.",
  },
  VIRTIO_NET_HDR_F_SECURITY: { value: 16, doc: "The packet went through IPsec processing." },
  VIRTIO_NET_HDR_F_SECURITY_ERR: { value: 32, doc: "IPsec processing hit an error." },
  VIRTIO_NET_HDR_F_SECURITY_SA_SOFT_EXPIRY_WARN: {
    value: 64,
    doc: "The SA of resource_id reached its soft lifetime limit.",
  },
}, { doc: "5.1.9: virtio_net_hdr flags." });

/** 5.1.9: GSO types in the low bits of `virtio_net_hdr.gso_type`. */
export const virtio_net_hdr_gso_type: ConstantGroup = enumeration("virtio_net_hdr_gso_type", {
  VIRTIO_NET_HDR_GSO_NONE: { value: 0, doc: "Not a GSO packet." },
  VIRTIO_NET_HDR_GSO_TCPV4: { value: 1, doc: "TCPv4 segmentation." },
  VIRTIO_NET_HDR_GSO_UDP: { value: 3, doc: "UDP fragmentation (UFO)." },
  VIRTIO_NET_HDR_GSO_TCPV6: { value: 4, doc: "TCPv6 segmentation." },
  VIRTIO_NET_HDR_GSO_UDP_L4: { value: 5, doc: "UDP segmentation (USO)." },
}, { doc: "5.1.9: GSO type codes of virtio_net_hdr.gso_type." });

/** 5.1.9: bits ORed into `virtio_net_hdr.gso_type`. */
export const virtio_net_hdr_gso_flags: ConstantGroup = flags("virtio_net_hdr_gso_flags", {
  VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4: {
    value: 0x20,
    doc: "GSO inside a UDP tunnel; inner network header is IPv4.",
  },
  VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6: {
    value: 0x40,
    doc: "GSO inside a UDP tunnel; inner network header is IPv6.",
  },
  VIRTIO_NET_HDR_GSO_ECN: { value: 0x80, doc: "The TCP packet has the ECN bit set." },
}, { doc: "5.1.9: flag bits of virtio_net_hdr.gso_type." });

// ---------------------------------------------------------------------------
// 5.1.9.4 Hashing of incoming packets

/** 5.1.9.4.3.1: hash types (supported_hash_types, hash_types). */
export const virtio_net_hash_types: ConstantGroup = flags("virtio_net_hash_types", {
  VIRTIO_NET_HASH_TYPE_IPv4: { value: 1 << 0, doc: "IPv4 source and destination addresses." },
  VIRTIO_NET_HASH_TYPE_TCPv4: { value: 1 << 1, doc: "IPv4 addresses and TCP ports." },
  VIRTIO_NET_HASH_TYPE_UDPv4: { value: 1 << 2, doc: "IPv4 addresses and UDP ports." },
  VIRTIO_NET_HASH_TYPE_IPv6: {
    value: 1 << 3,
    doc: "IPv6 addresses (no extension headers).",
  },
  VIRTIO_NET_HASH_TYPE_TCPv6: {
    value: 1 << 4,
    doc: "IPv6 addresses and TCP ports (no extension headers).",
  },
  VIRTIO_NET_HASH_TYPE_UDPv6: {
    value: 1 << 5,
    doc: "IPv6 addresses and UDP ports (no extension headers).",
  },
  VIRTIO_NET_HASH_TYPE_IP_EX: {
    value: 1 << 6,
    doc: "IPv6 addresses from extension headers where present.",
  },
  VIRTIO_NET_HASH_TYPE_TCP_EX: {
    value: 1 << 7,
    doc: "IPv6 extension-header addresses and TCP ports.",
  },
  VIRTIO_NET_HASH_TYPE_UDP_EX: {
    value: 1 << 8,
    doc: "IPv6 extension-header addresses and UDP ports.",
  },
}, { doc: "5.1.9.4.3.1: supported/enabled hash type bits." });

/** 5.1.9.4.4: the data of VIRTIO_NET_CTRL_HASH_TUNNEL_SET. */
export const virtnet_hash_tunnel: StructType = struct("virtnet_hash_tunnel", {
  enabled_tunnel_types: doc(
    le32,
    "VIRTIO_NET_HASH_TUNNEL_TYPE_* bits for which the inner header is hashed (0 disables).",
  ),
}, { doc: "5.1.9.4.4: inner header hash configuration (read-only for the device)." });

/** 5.1.9.4.4.2: encapsulation types for inner header hash. */
export const virtio_net_hash_tunnel_types: ConstantGroup = flags("virtio_net_hash_tunnel_types", {
  VIRTIO_NET_HASH_TUNNEL_TYPE_GRE_2784: { value: 1 << 0, doc: "GRE, RFC 2784." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_GRE_2890: {
    value: 1 << 1,
    doc: "GRE with key and sequence, RFC 2890.",
  },
  VIRTIO_NET_HASH_TUNNEL_TYPE_GRE_7676: { value: 1 << 2, doc: "GRE over IPv6, RFC 7676." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_GRE_UDP: { value: 1 << 3, doc: "GRE-in-UDP, RFC 8086." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_VXLAN: { value: 1 << 4, doc: "VXLAN." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_VXLAN_GPE: { value: 1 << 5, doc: "VXLAN-GPE." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_GENEVE: { value: 1 << 6, doc: "GENEVE." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_IPIP: { value: 1 << 7, doc: "IP-in-IP." },
  VIRTIO_NET_HASH_TUNNEL_TYPE_NVGRE: { value: 1 << 8, doc: "NVGRE." },
}, { doc: "5.1.9.4.4.2: encapsulation type bits (supported_tunnel_types, enabled_tunnel_types)." });

/** 5.1.9.4.5: values of `virtio_net_hdr.hash_report`. */
export const virtio_net_hash_report: ConstantGroup = enumeration("virtio_net_hash_report", {
  VIRTIO_NET_HASH_REPORT_NONE: { value: 0, doc: "No hash was calculated." },
  VIRTIO_NET_HASH_REPORT_IPv4: { value: 1, doc: "Hash of type VIRTIO_NET_HASH_TYPE_IPv4." },
  VIRTIO_NET_HASH_REPORT_TCPv4: { value: 2, doc: "Hash of type VIRTIO_NET_HASH_TYPE_TCPv4." },
  VIRTIO_NET_HASH_REPORT_UDPv4: { value: 3, doc: "Hash of type VIRTIO_NET_HASH_TYPE_UDPv4." },
  VIRTIO_NET_HASH_REPORT_IPv6: { value: 4, doc: "Hash of type VIRTIO_NET_HASH_TYPE_IPv6." },
  VIRTIO_NET_HASH_REPORT_TCPv6: { value: 5, doc: "Hash of type VIRTIO_NET_HASH_TYPE_TCPv6." },
  VIRTIO_NET_HASH_REPORT_UDPv6: { value: 6, doc: "Hash of type VIRTIO_NET_HASH_TYPE_UDPv6." },
  VIRTIO_NET_HASH_REPORT_IPv6_EX: { value: 7, doc: "Hash of type VIRTIO_NET_HASH_TYPE_IP_EX." },
  VIRTIO_NET_HASH_REPORT_TCPv6_EX: {
    value: 8,
    doc: "Hash of type VIRTIO_NET_HASH_TYPE_TCP_EX.",
  },
  VIRTIO_NET_HASH_REPORT_UDPv6_EX: {
    value: 9,
    doc: "Hash of type VIRTIO_NET_HASH_TYPE_UDP_EX.",
  },
}, { doc: "5.1.9.4.5: reported hash types; VIRTIO_NET_HASH_TYPE_X = 1 << (REPORT_X - 1)." });

// ---------------------------------------------------------------------------
// 5.1.9.5 Control virtqueue

/** 5.1.9.5: a control virtqueue command. */
export const virtio_net_ctrl: StructType = struct("virtio_net_ctrl", {
  class: doc(u8, "Command class: VIRTIO_NET_CTRL_* (virtio_net_ctrl_class)."),
  command: doc(u8, "Command within the class."),
  command_specific_data: doc(
    array(u8, "command_specific_data_len"),
    "Command data set by the driver (`command-specific-data` in the spec).",
  ),
  ack: doc(u8, "Written by the device: VIRTIO_NET_OK or VIRTIO_NET_ERR."),
  command_specific_result: doc(
    array(u8, "command_specific_result_len"),
    "Optional result written by the device (`command-specific-result` in the spec).",
  ),
}, { doc: "5.1.9.5: control virtqueue command layout." });

/** 5.1.9.5: values of `virtio_net_ctrl.ack`. */
export const virtio_net_ctrl_ack: ConstantGroup = enumeration("virtio_net_ctrl_ack", {
  VIRTIO_NET_OK: { value: 0, doc: "The command succeeded." },
  VIRTIO_NET_ERR: { value: 1, doc: "The command failed." },
}, { doc: "5.1.9.5: control command ack values." });

/** 5.1.9.5: control command classes (`virtio_net_ctrl.class`). */
export const virtio_net_ctrl_class: ConstantGroup = enumeration("virtio_net_ctrl_class", {
  VIRTIO_NET_CTRL_RX: { value: 0, doc: "Receive filtering modes (5.1.9.5.1)." },
  VIRTIO_NET_CTRL_MAC: { value: 1, doc: "MAC address filtering (5.1.9.5.2)." },
  VIRTIO_NET_CTRL_VLAN: { value: 2, doc: "VLAN filtering (5.1.9.5.3)." },
  VIRTIO_NET_CTRL_ANNOUNCE: { value: 3, doc: "Gratuitous packet sending (5.1.9.5.4)." },
  VIRTIO_NET_CTRL_MQ: { value: 4, doc: "Multiqueue, RSS and hash configuration (5.1.9.5.5)." },
  VIRTIO_NET_CTRL_GUEST_OFFLOADS: { value: 5, doc: "Offloads state (5.1.9.5.9)." },
  VIRTIO_NET_CTRL_NOTF_COAL: { value: 6, doc: "Notification coalescing (5.1.9.5.10)." },
  VIRTIO_NET_CTRL_HASH_TUNNEL: { value: 7, doc: "Inner header hash (5.1.9.4.4)." },
  VIRTIO_NET_CTRL_STATS: { value: 8, doc: "Device statistics (5.1.9.5.11)." },
  VIRTNET_RSS_CTX_CTRL: { value: 9, doc: "RSS contexts (5.1.9.5.8)." },
}, { doc: "5.1.9.5: control virtqueue command classes." });

/** 5.1.9.5.1: commands of class VIRTIO_NET_CTRL_RX. */
export const virtio_net_ctrl_rx_cmd: ConstantGroup = enumeration("virtio_net_ctrl_rx_cmd", {
  VIRTIO_NET_CTRL_RX_PROMISC: {
    value: 0,
    doc: "Promiscuous mode; data is one byte, 0 off or 1 on (VIRTIO_NET_F_CTRL_RX).",
  },
  VIRTIO_NET_CTRL_RX_ALLMULTI: {
    value: 1,
    doc: "All-multicast receive; data is one byte, 0 off or 1 on (VIRTIO_NET_F_CTRL_RX).",
  },
  VIRTIO_NET_CTRL_RX_ALLUNI: {
    value: 2,
    doc: "All-unicast receive; data is one byte, 0 off or 1 on (VIRTIO_NET_F_CTRL_RX_EXTRA).",
  },
  VIRTIO_NET_CTRL_RX_NOMULTI: {
    value: 3,
    doc: "Suppress multicast receive; one byte, 1 suppresses (VIRTIO_NET_F_CTRL_RX_EXTRA).",
  },
  VIRTIO_NET_CTRL_RX_NOUNI: {
    value: 4,
    doc: "Suppress unicast receive; one byte, 1 suppresses (VIRTIO_NET_F_CTRL_RX_EXTRA).",
  },
  VIRTIO_NET_CTRL_RX_NOBCAST: {
    value: 5,
    doc: "Suppress broadcast receive; one byte, 1 suppresses (VIRTIO_NET_F_CTRL_RX_EXTRA).",
  },
}, { doc: "5.1.9.5.1: packet receive filtering commands." });

/**
 * 5.1.9.5.2: one 6-byte MAC address of a `virtio_net_ctrl_mac` table.
 * The spec writes the table as `u8 macs[entries][6]`; this element type
 * and its name are ours, since the DSL has no arrays of arrays.
 */
export const virtio_net_ctrl_mac_addr: StructType = struct("virtio_net_ctrl_mac_addr", {
  addr: doc(array(u8, 6), "The MAC address, first byte first."),
}, {
  doc: "5.1.9.5.2: a 6-byte MAC address (element of virtio_net_ctrl_mac.macs; name is ours). " +
    "Also the data of VIRTIO_NET_CTRL_MAC_ADDR_SET.",
});

/** 5.1.9.5.2: a MAC filtering table. */
export const virtio_net_ctrl_mac: StructType = struct("virtio_net_ctrl_mac", {
  entries: doc(le32, "Number of MAC addresses that follow."),
  macs: doc(
    array(virtio_net_ctrl_mac_addr, "macs_len"),
    "The addresses (`u8 macs[entries][6]`); macs_len equals entries.",
  ),
}, {
  doc: "5.1.9.5.2: MAC filtering table. VIRTIO_NET_CTRL_MAC_TABLE_SET sends two of them: " +
    "unicast addresses, then multicast addresses.",
});

/** 5.1.9.5.2: commands of class VIRTIO_NET_CTRL_MAC. */
export const virtio_net_ctrl_mac_cmd: ConstantGroup = enumeration("virtio_net_ctrl_mac_cmd", {
  VIRTIO_NET_CTRL_MAC_TABLE_SET: {
    value: 0,
    doc: "Set the filter: a unicast then a multicast virtio_net_ctrl_mac table.",
  },
  VIRTIO_NET_CTRL_MAC_ADDR_SET: {
    value: 1,
    doc: "Set the default MAC address; data is the 6-byte address.",
  },
}, { doc: "5.1.9.5.2: MAC address filtering commands." });

/** 5.1.9.5.3: commands of class VIRTIO_NET_CTRL_VLAN. */
export const virtio_net_ctrl_vlan_cmd: ConstantGroup = enumeration("virtio_net_ctrl_vlan_cmd", {
  VIRTIO_NET_CTRL_VLAN_ADD: {
    value: 0,
    doc: "Add a VLAN to the filter table; data is a le16 VLAN id.",
  },
  VIRTIO_NET_CTRL_VLAN_DEL: {
    value: 1,
    doc: "Remove a VLAN from the filter table; data is a le16 VLAN id.",
  },
}, { doc: "5.1.9.5.3: VLAN filtering commands." });

/** 5.1.9.5.4: commands of class VIRTIO_NET_CTRL_ANNOUNCE. */
export const virtio_net_ctrl_announce_cmd: ConstantGroup = enumeration(
  "virtio_net_ctrl_announce_cmd",
  {
    VIRTIO_NET_CTRL_ANNOUNCE_ACK: {
      value: 0,
      doc: "The driver saw VIRTIO_NET_S_ANNOUNCE; the device clears it.",
    },
  },
  { doc: "5.1.9.5.4: gratuitous packet sending commands." },
);

/** 5.1.9.5.5: commands of class VIRTIO_NET_CTRL_MQ. */
export const virtio_net_ctrl_mq_cmd: ConstantGroup = enumeration("virtio_net_ctrl_mq_cmd", {
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: {
    value: 0,
    doc: "Automatic receive steering; data is virtio_net_ctrl_mq_pairs_set.",
  },
  VIRTIO_NET_CTRL_MQ_RSS_CONFIG: {
    value: 1,
    doc: "Configurable receive steering; data is virtio_net_rss_config.",
  },
  VIRTIO_NET_CTRL_MQ_HASH_CONFIG: {
    value: 2,
    doc: "Configurable hash calculation; data is virtio_net_hash_config.",
  },
}, { doc: "5.1.9.5.5: multiqueue mode commands." });

/** 5.1.9.5.6: the data of VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET. */
export const virtio_net_ctrl_mq_pairs_set: StructType = struct("virtio_net_ctrl_mq_pairs_set", {
  virtqueue_pairs: doc(
    le16,
    "Number of queue pairs to use, 1 to max_virtqueue_pairs (1 disables multiqueue).",
  ),
}, { doc: "5.1.9.5.6: automatic receive steering: number of queue pairs." });

/** 5.1.9.5.6: limits of `virtio_net_ctrl_mq_pairs_set.virtqueue_pairs`. */
export const virtio_net_ctrl_mq_vq_pairs_limits: ConstantGroup = enumeration(
  "virtio_net_ctrl_mq_vq_pairs_limits",
  {
    VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN: { value: 1, doc: "Smallest number of queue pairs." },
    VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX: { value: 0x8000, doc: "Largest number of queue pairs." },
  },
  { doc: "5.1.9.5.6: bounds of virtqueue_pairs." },
);

/** 5.1.9.5.6.4: the data of VIRTIO_NET_CTRL_MQ_HASH_CONFIG. */
export const virtio_net_hash_config: StructType = struct("virtio_net_hash_config", {
  hash_types: doc(le32, "Enabled VIRTIO_NET_HASH_TYPE_* bits."),
  reserved: doc(array(le16, 4), "Zero; keeps the layout in step with virtio_net_rss_config."),
  hash_key_length: doc(u8, "Length of hash_key_data in bytes."),
  hash_key_data: doc(
    array(u8, "hash_key_data_len"),
    "The hash key (`hash_key_data[hash_key_length]`); hash_key_data_len equals hash_key_length.",
  ),
}, { doc: "5.1.9.5.6.4: hash calculation parameters without RSS." });

/** 5.1.9.5.7.1: a receive virtqueue id as used by RSS. */
export const rss_rq_id: StructType = struct("rss_rq_id", {
  rq_id: bits(le16, {
    vq_index_1_16: {
      width: 15,
      doc: "Bits 1 to 16 of the receive virtqueue index (3 means index 6, receiveq4).",
    },
    reserved: { width: 1, doc: "Zero." },
  }),
}, {
  doc: "5.1.9.5.7.1: RSS receive queue id: a le16 of bitfields (the word's name rq_id is ours).",
});

/** 5.1.9.5.7.1: the data of VIRTIO_NET_CTRL_MQ_RSS_CONFIG. */
export const virtio_net_rss_config: StructType = struct("virtio_net_rss_config", {
  hash_types: doc(le32, "Enabled VIRTIO_NET_HASH_TYPE_* bits."),
  indirection_table_mask: doc(
    le16,
    "Mask applied to the hash to index indirection_table; the table has mask + 1 entries.",
  ),
  unclassified_queue: doc(rss_rq_id, "Receive queue for packets with no hash."),
  indirection_table: doc(
    array(rss_rq_id, "indirection_table_length"),
    "Receive queue ids indexed by the masked hash (indirection_table_mask + 1 entries).",
  ),
  max_tx_vq: doc(le16, "Number of transmit queues the driver may use."),
  hash_key_length: doc(u8, "Length of hash_key_data in bytes."),
  hash_key_data: doc(
    array(u8, "hash_key_data_len"),
    "The Toeplitz key (`hash_key_data[hash_key_length]`); hash_key_data_len equals " +
      "hash_key_length.",
  ),
}, { doc: "5.1.9.5.7.1: receive-side scaling parameters." });

/** 5.1.9.5.8.1: commands of class VIRTNET_RSS_CTX_CTRL. */
export const virtnet_rss_ctx_ctrl_cmd: ConstantGroup = enumeration("virtnet_rss_ctx_ctrl_cmd", {
  VIRTNET_RSS_CTX_CTRL_CAP_GET: {
    value: 0,
    doc: "Read the RSS context capability (virtnet_rss_ctx_cap).",
  },
  VIRTNET_RSS_CTX_CTRL_ADD: { value: 1, doc: "Add an RSS context (virtnet_rss_ctx_add_modify)." },
  VIRTNET_RSS_CTX_CTRL_MOD: {
    value: 2,
    doc: "Modify an RSS context (virtnet_rss_ctx_add_modify).",
  },
  VIRTNET_RSS_CTX_CTRL_DEL: { value: 3, doc: "Delete an RSS context (virtnet_rss_ctx_del)." },
}, { doc: "5.1.9.5.8.1: RSS context commands." });

/** 5.1.9.5.8.1: the result of VIRTNET_RSS_CTX_CTRL_CAP_GET. */
export const virtnet_rss_ctx_cap: StructType = struct("virtnet_rss_ctx_cap", {
  max_rss_contexts: doc(le16, "Maximum number of RSS contexts besides the default one."),
}, { doc: "5.1.9.5.8.1: RSS context capability (written by the device)." });

/** 5.1.9.5.8.2: the data of VIRTNET_RSS_CTX_CTRL_ADD and _MOD. */
export const virtnet_rss_ctx_add_modify: StructType = struct("virtnet_rss_ctx_add_modify", {
  rss_ctx_id: doc(le16, "RSS context id, 1 to max_rss_contexts."),
  reserved: doc(array(u8, 6), "Reserved; ignored by the device."),
  rss: doc(
    array(u8, "rss_len"),
    "A struct virtio_net_rss_config (variable length, so held here as its bytes).",
  ),
}, { doc: "5.1.9.5.8.2: add or modify an RSS context." });

/** 5.1.9.5.8.2: the data of VIRTNET_RSS_CTX_CTRL_DEL. */
export const virtnet_rss_ctx_del: StructType = struct("virtnet_rss_ctx_del", {
  rss_ctx_id: doc(le16, "Id of the RSS context to delete."),
}, { doc: "5.1.9.5.8.2: delete an RSS context." });

/** 5.1.9.5.9.1: commands of class VIRTIO_NET_CTRL_GUEST_OFFLOADS. */
export const virtio_net_ctrl_guest_offloads_cmd: ConstantGroup = enumeration(
  "virtio_net_ctrl_guest_offloads_cmd",
  {
    VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: {
      value: 0,
      doc:
        "Apply a new offloads configuration; data is a le64 bitmask (virtio_net_guest_offloads).",
    },
  },
  { doc: "5.1.9.5.9.1: offloads state commands." },
);

/**
 * 5.1.9.5.9.1: bit numbers in the le64 `offloads` mask of
 * VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET. The names are the feature bits' but
 * two values differ (the UDP tunnel offloads are bits 46 and 47 here, 65
 * and 66 as features), so the members are not exported on their own.
 */
export const virtio_net_guest_offloads: ConstantGroup = featureBits("virtio_net_guest_offloads", {
  VIRTIO_NET_F_GUEST_CSUM: { value: 1, doc: "Receive partial checksums." },
  VIRTIO_NET_F_GUEST_TSO4: { value: 7, doc: "Receive TSOv4." },
  VIRTIO_NET_F_GUEST_TSO6: { value: 8, doc: "Receive TSOv6." },
  VIRTIO_NET_F_GUEST_ECN: { value: 9, doc: "Receive TSO with ECN." },
  VIRTIO_NET_F_GUEST_UFO: { value: 10, doc: "Receive UFO." },
  VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO: {
    value: 46,
    doc: "Receive GSO in UDP tunnels (feature bit 65).",
  },
  VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO_CSUM: {
    value: 47,
    doc: "Receive UDP-tunnelled packets with partial outer checksum (feature bit 66).",
  },
  VIRTIO_NET_F_GUEST_USO4: { value: 54, doc: "Receive USOv4." },
  VIRTIO_NET_F_GUEST_USO6: { value: 55, doc: "Receive USOv6." },
}, {
  doc: "5.1.9.5.9.1: offload bit numbers of VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (names shared " +
    "with the feature bits, so not exported one by one).",
  exportMembers: false,
});

/** 5.1.9.5.10: notification coalescing parameters. */
export const virtio_net_ctrl_coal: StructType = struct("virtio_net_ctrl_coal", {
  max_packets: doc(le32, "Packets to send or receive before a notification (0: every packet)."),
  max_usecs: doc(le32, "Microseconds to delay a notification (0: no delay)."),
}, {
  doc: "5.1.9.5.10: coalescing parameters (VIRTIO_NET_CTRL_NOTF_COAL_TX_SET / _RX_SET).",
});

/** 5.1.9.5.10: per-virtqueue notification coalescing parameters. */
export const virtio_net_ctrl_coal_vq: StructType = struct("virtio_net_ctrl_coal_vq", {
  vq_index: doc(le16, "Index of an enabled transmit or receive virtqueue."),
  reserved: doc(le16, "Reserved; ignored by the device."),
  coal: doc(virtio_net_ctrl_coal, "The parameters (device-written for _VQ_GET)."),
}, {
  doc: "5.1.9.5.10: per-virtqueue coalescing (VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET / _VQ_GET).",
});

/** 5.1.9.5.10: commands of class VIRTIO_NET_CTRL_NOTF_COAL. */
export const virtio_net_ctrl_notf_coal_cmd: ConstantGroup = enumeration(
  "virtio_net_ctrl_notf_coal_cmd",
  {
    VIRTIO_NET_CTRL_NOTF_COAL_TX_SET: {
      value: 0,
      doc: "Set coalescing of all transmit queues (virtio_net_ctrl_coal).",
    },
    VIRTIO_NET_CTRL_NOTF_COAL_RX_SET: {
      value: 1,
      doc: "Set coalescing of all receive queues (virtio_net_ctrl_coal).",
    },
    VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET: {
      value: 2,
      doc: "Set coalescing of one virtqueue (virtio_net_ctrl_coal_vq).",
    },
    VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET: {
      value: 3,
      doc: "Get coalescing of one virtqueue (virtio_net_ctrl_coal_vq).",
    },
  },
  { doc: "5.1.9.5.10: notification coalescing commands." },
);

/** 5.1.9.4.4: commands of class VIRTIO_NET_CTRL_HASH_TUNNEL. */
export const virtio_net_ctrl_hash_tunnel_cmd: ConstantGroup = enumeration(
  "virtio_net_ctrl_hash_tunnel_cmd",
  {
    VIRTIO_NET_CTRL_HASH_TUNNEL_SET: {
      value: 0,
      doc: "Set the encapsulation types hashed on the inner header (virtnet_hash_tunnel).",
    },
  },
  { doc: "5.1.9.4.4: inner header hash commands." },
);

// ---------------------------------------------------------------------------
// 5.1.9.5.11 Device statistics

/** 5.1.9.5.11.1: commands of class VIRTIO_NET_CTRL_STATS. */
export const virtio_net_ctrl_stats_cmd: ConstantGroup = enumeration("virtio_net_ctrl_stats_cmd", {
  VIRTIO_NET_CTRL_STATS_QUERY: {
    value: 0,
    doc: "Query the supported statistics (result: virtio_net_stats_capabilities).",
  },
  VIRTIO_NET_CTRL_STATS_GET: {
    value: 1,
    doc: "Get statistics (data: virtio_net_ctrl_queue_stats; result: replies).",
  },
}, { doc: "5.1.9.5.11.1: device statistics commands." });

/** 5.1.9.5.11.1: statistic type bits of `supported_stats_types` and `types_bitmap`. */
export const virtio_net_stats_types: ConstantGroup = flags("virtio_net_stats_types", {
  VIRTIO_NET_STATS_TYPE_RX_BASIC: { value: 1 << 0, doc: "virtio_net_stats_rx_basic." },
  VIRTIO_NET_STATS_TYPE_RX_CSUM: { value: 1 << 1, doc: "virtio_net_stats_rx_csum." },
  VIRTIO_NET_STATS_TYPE_RX_GSO: { value: 1 << 2, doc: "virtio_net_stats_rx_gso." },
  VIRTIO_NET_STATS_TYPE_RX_SPEED: { value: 1 << 3, doc: "virtio_net_stats_rx_speed." },
  VIRTIO_NET_STATS_TYPE_TX_BASIC: { value: 1 << 16, doc: "virtio_net_stats_tx_basic." },
  VIRTIO_NET_STATS_TYPE_TX_CSUM: { value: 1 << 17, doc: "virtio_net_stats_tx_csum." },
  VIRTIO_NET_STATS_TYPE_TX_GSO: { value: 1 << 18, doc: "virtio_net_stats_tx_gso." },
  VIRTIO_NET_STATS_TYPE_TX_SPEED: { value: 1 << 19, doc: "virtio_net_stats_tx_speed." },
  VIRTIO_NET_STATS_TYPE_CVQ: {
    value: 2 ** 32,
    doc: "virtio_net_stats_cvq (bit 32 of the le64 mask).",
  },
}, { doc: "5.1.9.5.11.1: statistic type masks for the le64 bitmaps." });

/** 5.1.9.5.11.1: the result of VIRTIO_NET_CTRL_STATS_QUERY. */
export const virtio_net_stats_capabilities: StructType = struct("virtio_net_stats_capabilities", {
  supported_stats_types: doc(
    array(le64, 1),
    "VIRTIO_NET_STATS_TYPE_* bits of every statistic the device supports.",
  ),
}, { doc: "5.1.9.5.11.1: statistic capabilities." });

/**
 * 5.1.9.5.11.2: one entry of `virtio_net_ctrl_queue_stats.stats`. The
 * spec declares the element as an anonymous struct; the name is ours.
 */
export const virtio_net_ctrl_queue_stats_entry: StructType = struct(
  "virtio_net_ctrl_queue_stats_entry",
  {
    vq_index: doc(le16, "The virtqueue whose statistics are wanted."),
    reserved: doc(array(le16, 3), "Reserved."),
    types_bitmap: doc(array(le64, 1), "VIRTIO_NET_STATS_TYPE_* bits of the statistics wanted."),
  },
  { doc: "5.1.9.5.11.2: one statistics request (anonymous in the spec; name is ours)." },
);

/** 5.1.9.5.11.2: the data of VIRTIO_NET_CTRL_STATS_GET. */
export const virtio_net_ctrl_queue_stats: StructType = struct("virtio_net_ctrl_queue_stats", {
  stats: doc(
    array(virtio_net_ctrl_queue_stats_entry, "stats_len"),
    "The requests, one per virtqueue.",
  ),
}, { doc: "5.1.9.5.11.2: statistics request." });

/** 5.1.9.5.11.2: the header of every statistics reply. */
export const virtio_net_stats_reply_hdr: StructType = struct("virtio_net_stats_reply_hdr", {
  type: doc(u8, "VIRTIO_NET_STATS_TYPE_REPLY_* type of this reply."),
  reserved: doc(u8, "Reserved."),
  vq_index: doc(le16, "The virtqueue the statistics belong to."),
  reserved1: doc(le16, "Reserved."),
  size: field(le16, {
    accessor: "replySize",
    doc: "Bytes of this reply including this header (accessor `replySize`).",
  }),
}, { doc: "5.1.9.5.11.2: statistics reply header." });

/** 5.1.9.5.11.2: values of `virtio_net_stats_reply_hdr.type`. */
export const virtio_net_stats_reply_types: ConstantGroup = enumeration(
  "virtio_net_stats_reply_types",
  {
    VIRTIO_NET_STATS_TYPE_REPLY_RX_BASIC: { value: 0, doc: "virtio_net_stats_rx_basic." },
    VIRTIO_NET_STATS_TYPE_REPLY_RX_CSUM: { value: 1, doc: "virtio_net_stats_rx_csum." },
    VIRTIO_NET_STATS_TYPE_REPLY_RX_GSO: { value: 2, doc: "virtio_net_stats_rx_gso." },
    VIRTIO_NET_STATS_TYPE_REPLY_RX_SPEED: { value: 3, doc: "virtio_net_stats_rx_speed." },
    VIRTIO_NET_STATS_TYPE_REPLY_TX_BASIC: { value: 16, doc: "virtio_net_stats_tx_basic." },
    VIRTIO_NET_STATS_TYPE_REPLY_TX_CSUM: { value: 17, doc: "virtio_net_stats_tx_csum." },
    VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO: { value: 18, doc: "virtio_net_stats_tx_gso." },
    VIRTIO_NET_STATS_TYPE_REPLY_TX_SPEED: { value: 19, doc: "virtio_net_stats_tx_speed." },
    VIRTIO_NET_STATS_TYPE_REPLY_CVQ: { value: 32, doc: "virtio_net_stats_cvq." },
  },
  { doc: "5.1.9.5.11.2: statistics reply types (bit numbers of the type masks)." },
);

const reply_hdr = doc(virtio_net_stats_reply_hdr, "Reply header.");

/** 5.1.9.5.11.3: controlq statistics. */
export const virtio_net_stats_cvq: StructType = struct("virtio_net_stats_cvq", {
  hdr: reply_hdr,
  command_num: doc(le64, "Commands received, including the current one."),
  ok_num: doc(le64, "Commands completed successfully, including the current one."),
}, { doc: "5.1.9.5.11.3: controlq statistics (VIRTIO_NET_STATS_TYPE_CVQ)." });

/** 5.1.9.5.11.4: receiveq basic statistics. */
export const virtio_net_stats_rx_basic: StructType = struct("virtio_net_stats_rx_basic", {
  hdr: reply_hdr,
  rx_notifications: doc(le64, "Driver notifications received for this receiveq."),
  rx_packets: doc(le64, "Packets passed to the driver."),
  rx_bytes: doc(le64, "Bytes of packets passed to the driver."),
  rx_interrupts: doc(le64, "Interrupts generated for this receiveq."),
  rx_drops: doc(le64, "Packets dropped, for any reason."),
  rx_drop_overruns: doc(le64, "Packets dropped because no descriptors were available."),
}, { doc: "5.1.9.5.11.4: receiveq basic statistics (VIRTIO_NET_STATS_TYPE_RX_BASIC)." });

/** 5.1.9.5.11.5: transmitq basic statistics. */
export const virtio_net_stats_tx_basic: StructType = struct("virtio_net_stats_tx_basic", {
  hdr: reply_hdr,
  tx_notifications: doc(le64, "Driver notifications received for this transmitq."),
  tx_packets: doc(le64, "Packets sent by the device."),
  tx_bytes: doc(le64, "Bytes sent by the device."),
  tx_interrupts: doc(le64, "Interrupts generated for this transmitq."),
  tx_drops: doc(le64, "Packets dropped, for any reason."),
  tx_drop_malformed: doc(le64, "Packets dropped because of malformed descriptors."),
}, { doc: "5.1.9.5.11.5: transmitq basic statistics (VIRTIO_NET_STATS_TYPE_TX_BASIC)." });

/** 5.1.9.5.11.6: receiveq checksum statistics. */
export const virtio_net_stats_rx_csum: StructType = struct("virtio_net_stats_rx_csum", {
  hdr: reply_hdr,
  rx_csum_valid: doc(le64, "Packets with VIRTIO_NET_HDR_F_DATA_VALID."),
  rx_needs_csum: doc(le64, "Packets with VIRTIO_NET_HDR_F_NEEDS_CSUM."),
  rx_csum_none: doc(le64, "Packets without hardware checksum (not recognised as TCP/UDP)."),
  rx_csum_bad: doc(le64, "Packets with a checksum mismatch."),
}, { doc: "5.1.9.5.11.6: receiveq checksum statistics (VIRTIO_NET_STATS_TYPE_RX_CSUM)." });

/** 5.1.9.5.11.7: transmitq checksum statistics. */
export const virtio_net_stats_tx_csum: StructType = struct("virtio_net_stats_tx_csum", {
  hdr: reply_hdr,
  tx_csum_none: doc(le64, "Packets that need no hardware checksum."),
  tx_needs_csum: doc(le64, "Packets whose checksum the device computes."),
}, { doc: "5.1.9.5.11.7: transmitq checksum statistics (VIRTIO_NET_STATS_TYPE_TX_CSUM)." });

/** 5.1.9.5.11.8: receiveq GSO statistics. */
export const virtio_net_stats_rx_gso: StructType = struct("virtio_net_stats_rx_gso", {
  hdr: reply_hdr,
  rx_gso_packets: doc(le64, "GSO packets received."),
  rx_gso_bytes: doc(le64, "Bytes of GSO packets received, headers included."),
  rx_gso_packets_coalesced: doc(le64, "GSO packets coalesced by the device."),
  rx_gso_bytes_coalesced: doc(le64, "Bytes of GSO packets coalesced, headers included."),
}, { doc: "5.1.9.5.11.8: receiveq GSO statistics (VIRTIO_NET_STATS_TYPE_RX_GSO)." });

/** 5.1.9.5.11.9: transmitq GSO statistics. */
export const virtio_net_stats_tx_gso: StructType = struct("virtio_net_stats_tx_gso", {
  hdr: reply_hdr,
  tx_gso_packets: doc(le64, "GSO packets sent."),
  tx_gso_bytes: doc(le64, "Bytes of GSO packets sent."),
  tx_gso_segments: doc(le64, "Segments made from GSO packets."),
  tx_gso_segments_bytes: doc(le64, "Bytes of segments made from GSO packets."),
  tx_gso_packets_noseg: doc(le64, "GSO packets sent without segmentation."),
  tx_gso_bytes_noseg: doc(le64, "Bytes of GSO packets sent without segmentation."),
}, { doc: "5.1.9.5.11.9: transmitq GSO statistics (VIRTIO_NET_STATS_TYPE_TX_GSO)." });

/** 5.1.9.5.11.10: receiveq speed statistics. */
export const virtio_net_stats_rx_speed: StructType = struct("virtio_net_stats_rx_speed", {
  hdr: reply_hdr,
  rx_packets_allowance_exceeded: doc(le64, "Packets dropped for exceeding the speed."),
  rx_bytes_allowance_exceeded: doc(le64, "Bytes dropped for exceeding the speed."),
}, { doc: "5.1.9.5.11.10: receiveq speed statistics (VIRTIO_NET_STATS_TYPE_RX_SPEED)." });

/** 5.1.9.5.11.11: transmitq speed statistics. */
export const virtio_net_stats_tx_speed: StructType = struct("virtio_net_stats_tx_speed", {
  hdr: reply_hdr,
  tx_packets_allowance_exceeded: doc(le64, "Packets dropped for exceeding the speed."),
  tx_bytes_allowance_exceeded: doc(le64, "Bytes dropped for exceeding the speed."),
}, { doc: "5.1.9.5.11.11: transmitq speed statistics (VIRTIO_NET_STATS_TYPE_TX_SPEED)." });

// ---------------------------------------------------------------------------
// 5.1.9.6 Flow filter

/** 5.1.9.6.2.1: the data of capability VIRTIO_NET_FF_RESOURCE_CAP. */
export const virtio_net_ff_cap_data: StructType = struct("virtio_net_ff_cap_data", {
  groups_limit: doc(le32, "Maximum number of flow filter groups."),
  classifiers_limit: doc(le32, "Maximum number of classifiers."),
  rules_limit: doc(le32, "Maximum number of rules across all groups."),
  rules_per_group_limit: doc(le32, "Maximum number of rules in one group."),
  last_rule_priority: doc(u8, "Highest priority a rule can have."),
  selectors_per_classifier_limit: doc(u8, "Maximum number of selectors in a classifier."),
  reserved: doc(array(u8, 2), "Reserved, zero."),
}, { doc: "5.1.9.6.2.1: flow filter resource limits." });

/** 5.1.9.6.2.2: a flow filter selector: a header type and a mask. */
export const virtio_net_ff_selector: StructType = struct("virtio_net_ff_selector", {
  type: doc(u8, "VIRTIO_NET_FF_MASK_TYPE_* header type."),
  flags: doc(u8, "VIRTIO_NET_FF_MASK_F_* bits."),
  reserved: doc(array(u8, 2), "Reserved, zero."),
  length: doc(u8, "Length of mask in bytes."),
  reserved1: doc(array(u8, 3), "Reserved, zero."),
  mask: doc(
    array(u8, "mask_len"),
    "Which header bits match, in network byte order; mask_len equals length.",
  ),
}, { doc: "5.1.9.6.2.2: flow filter selector." });

/** 5.1.9.6.2.2: the data of capability VIRTIO_NET_FF_SELECTOR_CAP. */
export const virtio_net_ff_cap_mask_data: StructType = struct("virtio_net_ff_cap_mask_data", {
  count: doc(u8, "Number of selectors."),
  reserved: doc(array(u8, 7), "Reserved, zero."),
  selectors: doc(
    array(u8, "selectors_len"),
    "count virtio_net_ff_selector entries back to back, ordered by type (each is variable " +
      "length, so held here as bytes).",
  ),
}, { doc: "5.1.9.6.2.2: supported selectors." });

/** 5.1.9.6.2.2: values of `virtio_net_ff_selector.flags`. */
export const virtio_net_ff_mask_flags: ConstantGroup = flags("virtio_net_ff_mask_flags", {
  VIRTIO_NET_FF_MASK_F_PARTIAL_MASK: {
    value: 1 << 0,
    doc: "Any subset of a field's bits may be matched.",
  },
}, { doc: "5.1.9.6.2.2: selector flags." });

/** 5.1.9.6.2.2: values of `virtio_net_ff_selector.type`. */
export const virtio_net_ff_mask_type: ConstantGroup = enumeration("virtio_net_ff_mask_type", {
  VIRTIO_NET_FF_MASK_TYPE_ETH: { value: 0x1, doc: "14-byte Ethernet header." },
  VIRTIO_NET_FF_MASK_TYPE_IPV4: { value: 0x2, doc: "20-byte IPv4 header." },
  VIRTIO_NET_FF_MASK_TYPE_IPV6: { value: 0x3, doc: "40-byte IPv6 header." },
  VIRTIO_NET_FF_MASK_TYPE_TCP: { value: 0x4, doc: "20-byte TCP header." },
  VIRTIO_NET_FF_MASK_TYPE_UDP: { value: 0x5, doc: "8-byte UDP header." },
  VIRTIO_NET_FF_MASK_TYPE_ESP: { value: 0x6, doc: "8-byte ESP header." },
}, { doc: "5.1.9.6.2.2: flow filter selector types (0 and 0x7-0xff reserved)." });

/** 5.1.9.6.2.3: the data of capability VIRTIO_NET_FF_ACTION_CAP. */
export const virtio_net_ff_actions: StructType = struct("virtio_net_ff_actions", {
  count: doc(u8, "Number of actions."),
  reserved: doc(array(u8, 7), "Reserved, zero."),
  actions: doc(
    array(u8, "actions_len"),
    "VIRTIO_NET_FF_ACTION_* values, ascending, each once; actions_len equals count.",
  ),
}, {
  doc: "5.1.9.6.2.3: supported flow filter actions (the text calls it virtio_net_ff_cap_actions).",
});

/** 5.1.9.6.2.3: flow filter rule actions. */
export const virtio_net_ff_action: ConstantGroup = enumeration("virtio_net_ff_action", {
  VIRTIO_NET_FF_ACTION_DROP: { value: 0x1, doc: "Drop the packet." },
  VIRTIO_NET_FF_ACTION_DIRECT_RX_VQ: { value: 0x2, doc: "Direct the packet to vq_index." },
  VIRTIO_NET_FF_ACTION_IPSEC: { value: 0x3, doc: "Apply IPsec processing." },
  VIRTIO_NET_FF_ACTION_IPSEC_RECIRCULATE: {
    value: 0x4,
    doc: "Apply IPsec processing, then the flow filter rules once more.",
  },
}, { doc: "5.1.9.6.2.3: flow filter rule actions (0 and 0x5-0xff reserved)." });

/** 5.1.9.6.3.1: a flow filter group resource object. */
export const virtio_net_resource_obj_ff_group: StructType = struct(
  "virtio_net_resource_obj_ff_group",
  {
    group_priority: doc(le16, "Priority of the group; higher groups are tried first."),
  },
  { doc: "5.1.9.6.3.1: flow filter group object." },
);

/** 5.1.9.6.3.2: a flow filter classifier resource object. */
export const virtio_net_resource_obj_ff_classifier: StructType = struct(
  "virtio_net_resource_obj_ff_classifier",
  {
    count: doc(u8, "Number of selectors."),
    reserved: doc(array(u8, 7), "Reserved, zero."),
    selectors: doc(
      array(u8, "selectors_len"),
      "count virtio_net_ff_selector entries back to back (ETH, then IPv4/IPv6, then " +
        "TCP/UDP/ESP), held here as bytes.",
    ),
  },
  { doc: "5.1.9.6.3.2: flow filter classifier object." },
);

/** 5.1.9.6.3.3: a flow filter rule resource object. */
export const virtio_net_resource_obj_ff_rule: StructType = struct(
  "virtio_net_resource_obj_ff_rule",
  {
    group_id: doc(le32, "Id of the group the rule belongs to."),
    classifier_id: doc(le32, "Id of the classifier that matches the key."),
    rule_priority: doc(u8, "Priority within the group; higher rules are tried first."),
    key_length: doc(u8, "Total length of keys in bytes."),
    action: doc(u8, "VIRTIO_NET_FF_ACTION_* to take on a match."),
    reserved: doc(u8, "Reserved, zero."),
    vq_index: doc(le16, "Receive virtqueue for VIRTIO_NET_FF_ACTION_DIRECT_RX_VQ."),
    reserved1: doc(array(u8, 2), "Reserved, zero."),
    keys: doc(
      array(u8, "keys_len"),
      "One key per classifier selector, back to back (`u8 keys[][]`); keys_len equals " +
        "key_length.",
    ),
  },
  { doc: "5.1.9.6.3.3: flow filter rule object." },
);
