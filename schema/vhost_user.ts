/**
 * The vhost-user protocol's messages, as QEMU's `docs/interop/vhost-user.rst`
 * specifies them: a 12-byte header (request, flags, size) and one payload
 * layout per request. The protocol uses the machine's native byte order;
 * these layouts are little-endian, as on every host typed-virtio supports
 * (x86-64, Arm64).
 *
 * @module
 */
import {
  addr,
  array,
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
} from "./dsl.ts";

/** Message header: request code, flags (version, reply, need_reply) and payload size. */
export const vhost_user_header: StructType = struct("vhost_user_header", {
  request: doc(le32, "The request code (VHOST_USER_* or VHOST_USER_BACKEND_*)."),
  flags: doc(le32, "Bits 0-1: version (1); bit 2: reply; bit 3: need_reply."),
  size: field(le32, {
    accessor: "payloadSize",
    doc: "Size of the payload that follows, in bytes.",
  }),
}, { doc: "The header that starts every vhost-user message." });

/** A single 64-bit integer payload (features, a vring index with the no-fd flag, a status...). */
export const vhost_user_u64: StructType = struct("vhost_user_u64", {
  u64: doc(le64, "The value."),
}, { doc: "A payload of one 64-bit integer." });

/** Vring state description: a ring index and a number (size, base, enable). */
export const vhost_vring_state: StructType = struct("vhost_vring_state", {
  index: doc(le32, "The vring index."),
  num: doc(le32, "The number: queue size, available index base, or enable flag."),
}, { doc: "A vring state description." });

/** Vring address description: the ring's three areas as front-end user addresses. */
export const vhost_vring_addr: StructType = struct("vhost_vring_addr", {
  index: doc(le32, "The vring index."),
  flags: doc(le32, "Vring flags: bit 0 (VHOST_VRING_F_LOG) asks for used-ring logging."),
  desc_user_addr: addr(le64, "Front-end user address of the descriptor table (area)."),
  used_user_addr: addr(le64, "Front-end user address of the used ring (device area)."),
  avail_user_addr: addr(le64, "Front-end user address of the available ring (driver area)."),
  log_guest_addr: addr(le64, "Guest address for logging used-ring writes."),
}, { doc: "A vring address description." });

/** One region of a memory table. */
export const vhost_user_memory_region: StructType = struct("vhost_user_memory_region", {
  guest_phys_addr: addr(le64, "Guest-physical address of the region."),
  memory_size: addr(le64, "Size of the region in bytes."),
  userspace_addr: addr(le64, "The front-end's user (virtual) address of the region."),
  mmap_offset: addr(le64, "Offset of the region's start in the file descriptor."),
}, { doc: "A memory region description." });

/** Most regions one SET_MEM_TABLE carries. */
export const VHOST_MEMORY_BASELINE_NREGIONS: number = 8;

/** The memory table of SET_MEM_TABLE: a count, padding and up to 8 regions. */
export const vhost_user_memory: StructType = struct("vhost_user_memory", {
  nregions: doc(le32, "Number of regions that follow (at most 8)."),
  padding: doc(le32, "Padding."),
  regions: array(vhost_user_memory_region, VHOST_MEMORY_BASELINE_NREGIONS),
}, { doc: "A memory regions description (SET_MEM_TABLE)." });

/** A single memory region for ADD_MEM_REG / REM_MEM_REG. */
export const vhost_user_memory_single: StructType = struct("vhost_user_memory_single", {
  padding: doc(le64, "Padding."),
  region: vhost_user_memory_region,
}, { doc: "A single memory region description (ADD_MEM_REG, REM_MEM_REG)." });

/** Log description of SET_LOG_BASE. */
export const vhost_user_log: StructType = struct("vhost_user_log", {
  mmap_size: addr(le64, "Size of the log area."),
  mmap_offset: addr(le64, "Offset of the log in the file descriptor."),
}, { doc: "A log description (SET_LOG_BASE)." });

/** Largest device config space GET_CONFIG / SET_CONFIG carry. */
export const VHOST_USER_MAX_CONFIG_SIZE: number = 256;

/** The limits above as constants of the generated module (so run-time code needs no schema). */
export const vhost_user_limits: ConstantGroup = enumeration("vhost_user_limits", {
  VHOST_MEMORY_BASELINE_NREGIONS: {
    value: VHOST_MEMORY_BASELINE_NREGIONS,
    doc: "Most regions one SET_MEM_TABLE carries.",
  },
  VHOST_USER_MAX_CONFIG_SIZE: {
    value: VHOST_USER_MAX_CONFIG_SIZE,
    doc: "Largest device config space GET_CONFIG / SET_CONFIG carry.",
  },
}, { doc: "Sizes the protocol limits." });

/** Config space access header of GET_CONFIG / SET_CONFIG; the bytes follow it. */
export const vhost_user_config: StructType = struct("vhost_user_config", {
  offset: field(le32, { accessor: "configOffset", doc: "Offset in the device config space." }),
  size: field(le32, { accessor: "configSize", doc: "Number of config bytes that follow." }),
  flags: doc(le32, "0: a writable field from the front-end; 1: live migration."),
}, { doc: "A virtio device config space access header; `size` bytes follow." });

/** Inflight description of GET_INFLIGHT_FD / SET_INFLIGHT_FD. */
export const vhost_user_inflight: StructType = struct("vhost_user_inflight", {
  mmap_size: addr(le64, "Size of the area that tracks inflight I/O."),
  mmap_offset: addr(le64, "Offset of that area in the file descriptor."),
  num_queues: doc(le16, "Number of virtqueues."),
  queue_size: doc(le16, "Size of each virtqueue."),
  padding: doc(array(u8, 4), "The padding of the front-end's C struct (a payload is 24 bytes)."),
}, { doc: "An inflight description." });

/**
 * One descriptor's state in a split ring's inflight region ("Inflight I/O
 * tracking" in QEMU's vhost-user document): whether the back-end took it,
 * the batch link and the order it was taken in.
 */
export const desc_state_split: StructType = struct("desc_state_split", {
  inflight: doc(u8, "1 while the descriptor chain headed here is taken and not yet used."),
  padding: doc(array(u8, 5), "Padding."),
  next: doc(le16, "The next head of the last batch of used chains (a list through the heads)."),
  counter: field(le64, {
    asNumber: true,
    doc: "The order the chain was taken in (resubmit in ascending order).",
  }),
}, { doc: "The inflight state of one descriptor of a split ring." });

/**
 * A split ring's inflight region: a header and one {@link desc_state_split}
 * per descriptor. In the shared area, queue `i`'s region starts at
 * `i × (size rounded up to VHOST_USER_INFLIGHT_ALIGNMENT)`.
 */
export const queue_region_split: StructType = struct("queue_region_split", {
  features: doc(le64, "Reserved for feature bits of the region (0)."),
  version: doc(le16, "Layout version (VHOST_USER_INFLIGHT_VERSION); 0 while the area is blank."),
  desc_num: doc(le16, "Number of descriptors: the queue size."),
  last_batch_head: doc(le16, "Head of the last batch of used chains."),
  used_idx: doc(le16, "The used index the region's state corresponds to."),
  desc: doc(array(desc_state_split, "queue_size"), "The state of each descriptor."),
}, { doc: "The inflight region of one split ring." });

/** Constants of the inflight area. */
export const vhost_user_inflight_constants: ConstantGroup = enumeration(
  "vhost_user_inflight_constants",
  {
    VHOST_USER_INFLIGHT_VERSION: { value: 1, doc: "The region layout this is." },
    VHOST_USER_INFLIGHT_ALIGNMENT: {
      value: 64,
      doc: "Each queue's region is rounded up to a multiple of this many bytes.",
    },
  },
  { doc: "The version and alignment of inflight regions." },
);

/** IOTLB message of IOTLB_MSG / BACKEND_IOTLB_MSG. */
export const vhost_iotlb_msg: StructType = struct("vhost_iotlb_msg", {
  iova: addr(le64, "I/O virtual address."),
  size: field(le64, { accessor: "rangeSize", asNumber: true, doc: "Size of the range." }),
  uaddr: addr(le64, "User address."),
  perm: doc(u8, "Permissions: 1 read, 2 write, 3 both."),
  type: doc(u8, "1 miss, 2 update, 3 invalidate, 4 access fail."),
}, { doc: "An IOTLB message." });

/** Header flag bits. */
export const vhost_user_header_flags: ConstantGroup = flags("vhost_user_header_flags", {
  VHOST_USER_VERSION_MASK: { value: 0x3, doc: "The version field (bits 0-1)." },
  VHOST_USER_VERSION: { value: 0x1, doc: "The protocol version this is." },
  VHOST_USER_REPLY_MASK: { value: 0x4, doc: "Set on every reply from the back-end." },
  VHOST_USER_NEED_REPLY_MASK: {
    value: 0x8,
    doc: "The sender asks for a reply (REPLY_ACK protocol feature).",
  },
}, { doc: "Bits of the header's flags field." });

/** Flags in the u64 payload of SET_VRING_KICK / CALL / ERR. */
export const vhost_user_vring_fd_flags: ConstantGroup = flags("vhost_user_vring_fd_flags", {
  VHOST_USER_VRING_IDX_MASK: { value: 0xff, doc: "Bits 0-7: the vring index." },
  VHOST_USER_VRING_NOFD_MASK: {
    value: 0x100,
    doc: "No file descriptor comes with the message (poll instead).",
  },
}, { doc: "The vring index and no-fd flag of SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR." });

/** Virtio feature bits with a vhost-user meaning. */
export const vhost_user_features: ConstantGroup = featureBits("vhost_user_features", {
  VHOST_USER_F_PROTOCOL_FEATURES: {
    value: 30,
    doc: "The back-end supports GET/SET_PROTOCOL_FEATURES (reuses the reserved bit 30).",
  },
  VHOST_F_LOG_ALL: { value: 26, doc: "The front-end logs dirty pages (live migration)." },
}, { doc: "Feature bits of GET_FEATURES / SET_FEATURES that belong to vhost-user itself." });

/** Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
export const vhost_user_protocol_features: ConstantGroup = featureBits(
  "vhost_user_protocol_features",
  {
    VHOST_USER_PROTOCOL_F_MQ: { value: 0, doc: "GET_QUEUE_NUM: the back-end's queue count." },
    VHOST_USER_PROTOCOL_F_LOG_SHMFD: { value: 1, doc: "The dirty log comes as a shared fd." },
    VHOST_USER_PROTOCOL_F_RARP: { value: 2, doc: "SEND_RARP after migration." },
    VHOST_USER_PROTOCOL_F_REPLY_ACK: { value: 3, doc: "The need_reply flag is honoured." },
    VHOST_USER_PROTOCOL_F_NET_MTU: { value: 4, doc: "NET_SET_MTU." },
    VHOST_USER_PROTOCOL_F_BACKEND_REQ: { value: 5, doc: "A back-end to front-end channel." },
    VHOST_USER_PROTOCOL_F_CROSS_ENDIAN: { value: 6, doc: "SET_VRING_ENDIAN." },
    VHOST_USER_PROTOCOL_F_CRYPTO_SESSION: { value: 7, doc: "Crypto sessions." },
    VHOST_USER_PROTOCOL_F_PAGEFAULT: { value: 8, doc: "Postcopy migration." },
    VHOST_USER_PROTOCOL_F_CONFIG: { value: 9, doc: "GET_CONFIG / SET_CONFIG." },
    VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD: { value: 10, doc: "The back-end may send fds." },
    VHOST_USER_PROTOCOL_F_HOST_NOTIFIER: { value: 11, doc: "Host notifiers." },
    VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD: { value: 12, doc: "Inflight I/O tracking." },
    VHOST_USER_PROTOCOL_F_RESET_DEVICE: { value: 13, doc: "RESET_DEVICE." },
    VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS: { value: 14, doc: "In-band kicks and calls." },
    VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS: { value: 15, doc: "ADD_MEM_REG / REM_MEM_REG." },
    VHOST_USER_PROTOCOL_F_STATUS: { value: 16, doc: "SET_STATUS / GET_STATUS." },
    VHOST_USER_PROTOCOL_F_XEN_MMAP: { value: 17, doc: "Xen memory mapping." },
    VHOST_USER_PROTOCOL_F_SHARED_OBJECT: { value: 18, doc: "Shared objects." },
    VHOST_USER_PROTOCOL_F_DEVICE_STATE: { value: 19, doc: "Device state transfer." },
  },
  { doc: "Protocol feature bits." },
);

/** Front-end request codes. */
export const vhost_user_request: ConstantGroup = enumeration("vhost_user_request", {
  VHOST_USER_GET_FEATURES: { value: 1, doc: "Reply: u64 features." },
  VHOST_USER_SET_FEATURES: { value: 2, doc: "Payload: u64 features." },
  VHOST_USER_SET_OWNER: { value: 3, doc: "Session start." },
  VHOST_USER_RESET_OWNER: { value: 4, doc: "Deprecated: disable all rings." },
  VHOST_USER_SET_MEM_TABLE: { value: 5, doc: "Payload: memory table; one fd per region." },
  VHOST_USER_SET_LOG_BASE: { value: 6, doc: "Payload: log description." },
  VHOST_USER_SET_LOG_FD: { value: 7, doc: "An fd to signal log changes." },
  VHOST_USER_SET_VRING_NUM: { value: 8, doc: "Payload: vring state (size)." },
  VHOST_USER_SET_VRING_ADDR: { value: 9, doc: "Payload: vring address." },
  VHOST_USER_SET_VRING_BASE: { value: 10, doc: "Payload: vring state (next avail index)." },
  VHOST_USER_GET_VRING_BASE: { value: 11, doc: "Stop the ring; reply: vring state." },
  VHOST_USER_SET_VRING_KICK: { value: 12, doc: "Payload: u64 index/no-fd; fd: kick eventfd." },
  VHOST_USER_SET_VRING_CALL: { value: 13, doc: "Payload: u64 index/no-fd; fd: call eventfd." },
  VHOST_USER_SET_VRING_ERR: { value: 14, doc: "Payload: u64 index/no-fd; fd: error eventfd." },
  VHOST_USER_GET_PROTOCOL_FEATURES: { value: 15, doc: "Reply: u64 protocol features." },
  VHOST_USER_SET_PROTOCOL_FEATURES: { value: 16, doc: "Payload: u64 protocol features." },
  VHOST_USER_GET_QUEUE_NUM: { value: 17, doc: "Reply: u64 queue count." },
  VHOST_USER_SET_VRING_ENABLE: { value: 18, doc: "Payload: vring state (enable)." },
  VHOST_USER_SEND_RARP: { value: 19, doc: "Payload: u64 with a MAC address." },
  VHOST_USER_NET_SET_MTU: { value: 20, doc: "Payload: u64 MTU." },
  VHOST_USER_SET_BACKEND_REQ_FD: { value: 21, doc: "fd: back-end request channel." },
  VHOST_USER_IOTLB_MSG: { value: 22, doc: "Payload: IOTLB message." },
  VHOST_USER_SET_VRING_ENDIAN: { value: 23, doc: "Payload: vring state (endianness)." },
  VHOST_USER_GET_CONFIG: { value: 24, doc: "Payload and reply: config access." },
  VHOST_USER_SET_CONFIG: { value: 25, doc: "Payload: config access." },
  VHOST_USER_CREATE_CRYPTO_SESSION: { value: 26, doc: "Crypto session." },
  VHOST_USER_CLOSE_CRYPTO_SESSION: { value: 27, doc: "Crypto session." },
  VHOST_USER_POSTCOPY_ADVISE: { value: 28, doc: "Postcopy." },
  VHOST_USER_POSTCOPY_LISTEN: { value: 29, doc: "Postcopy." },
  VHOST_USER_POSTCOPY_END: { value: 30, doc: "Postcopy." },
  VHOST_USER_GET_INFLIGHT_FD: { value: 31, doc: "Payload: inflight description." },
  VHOST_USER_SET_INFLIGHT_FD: { value: 32, doc: "Payload: inflight description." },
  VHOST_USER_GPU_SET_SOCKET: { value: 33, doc: "fd: GPU protocol socket." },
  VHOST_USER_RESET_DEVICE: { value: 34, doc: "Reset all rings and device state." },
  VHOST_USER_VRING_KICK: { value: 35, doc: "In-band kick; payload: vring state." },
  VHOST_USER_GET_MAX_MEM_SLOTS: { value: 36, doc: "Reply: u64 slot count." },
  VHOST_USER_ADD_MEM_REG: { value: 37, doc: "Payload: single region; one fd." },
  VHOST_USER_REM_MEM_REG: { value: 38, doc: "Payload: single region." },
  VHOST_USER_SET_STATUS: { value: 39, doc: "Payload: u64 device status." },
  VHOST_USER_GET_STATUS: { value: 40, doc: "Reply: u64 device status." },
}, { doc: "Requests the front-end sends." });

/** Back-end request codes (on the back-end request channel). */
export const vhost_user_backend_request: ConstantGroup = enumeration(
  "vhost_user_backend_request",
  {
    VHOST_USER_BACKEND_IOTLB_MSG: { value: 1, doc: "IOTLB miss or access failure." },
    VHOST_USER_BACKEND_CONFIG_CHANGE_MSG: { value: 2, doc: "The config space changed." },
    VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG: { value: 3, doc: "Host notifier area." },
  },
  { doc: "Requests the back-end sends on its channel." },
);
