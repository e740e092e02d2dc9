/**
 * The memory device, virtio-mem (spec 5.15): configuration, the 24-byte
 * requests and 10-byte responses of the guest-request queue, and their
 * codes.
 *
 * Queues: 0 guest-request.
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
  le16,
  le64,
  struct,
  type StructType,
  u8,
  union,
  type UnionType,
} from "../dsl.ts";

/** 5.15.2: virtqueue indices. */
export const virtio_mem_queues: ConstantGroup = enumeration("virtio_mem_queues", {
  guest_request: { value: 0, doc: "The guest-request queue (spec name `guest-request`)." },
}, { doc: "5.15.2: virtqueue indices of the memory device.", exportMembers: false });

/** 5.15.3: feature bits. */
export const virtio_mem_features: ConstantGroup = featureBits("virtio_mem_features", {
  VIRTIO_MEM_F_ACPI_PXM: {
    value: 0,
    doc: "node_id is valid and corresponds to an ACPI PXM.",
  },
  VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE: {
    value: 1,
    doc: "The driver must not access unplugged memory.",
  },
  VIRTIO_MEM_F_PERSISTENT_SUSPEND: {
    value: 2,
    doc: "The driver may let the guest suspend (deep sleep, suspend-to-RAM).",
  },
}, { doc: "5.15.3: memory device feature bits." });

/** 5.15.4: device configuration layout (all fields read-only for the driver). */
export const virtio_mem_config: StructType = struct("virtio_mem_config", {
  block_size: doc(le64, "Size and alignment of a memory block in bytes (a power of two)."),
  node_id: doc(le16, "ACPI PXM of the memory; meaningful only with VIRTIO_MEM_F_ACPI_PXM."),
  padding: doc(array(u8, 6), "Reserved; ignored by the driver (the spec writes `le8`)."),
  addr: addr(le64, "Guest-physical start of the device-managed memory region."),
  region_size: doc(le64, "Size of the device-managed memory region in bytes."),
  usable_region_size: doc(
    le64,
    "Size of the usable part of the region; grows up to region_size, shrinks only on UNPLUG ALL.",
  ),
  plugged_size: doc(le64, "Bytes of plugged memory in the usable region."),
  requested_size: doc(le64, "Bytes of plugged memory the device asks the driver for."),
}, { doc: "5.15.4: memory device configuration space." });

/** 5.15.6: request types. */
export const virtio_mem_req_type: ConstantGroup = enumeration("virtio_mem_req_type", {
  VIRTIO_MEM_REQ_PLUG: { value: 0, doc: "Plug consecutive unplugged memory blocks." },
  VIRTIO_MEM_REQ_UNPLUG: { value: 1, doc: "Unplug consecutive plugged memory blocks." },
  VIRTIO_MEM_REQ_UNPLUG_ALL: { value: 2, doc: "Unplug all plugged memory blocks." },
  VIRTIO_MEM_REQ_STATE: { value: 3, doc: "Query the state of consecutive memory blocks." },
}, { doc: "5.15.6: memory device request types (VIRTIO_MEM_REQ_*)." });

/** 5.15.6: response types. */
export const virtio_mem_resp_type: ConstantGroup = enumeration("virtio_mem_resp_type", {
  VIRTIO_MEM_RESP_ACK: { value: 0, doc: "The request succeeded." },
  VIRTIO_MEM_RESP_NACK: { value: 1, doc: "The request was rejected." },
  VIRTIO_MEM_RESP_BUSY: { value: 2, doc: "The request cannot be processed now." },
  VIRTIO_MEM_RESP_ERROR: { value: 3, doc: "The request was invalid." },
}, { doc: "5.15.6: memory device response types (VIRTIO_MEM_RESP_*)." });

/** 5.15.6.6: memory block states in a STATE response. */
export const virtio_mem_state: ConstantGroup = enumeration("virtio_mem_state", {
  VIRTIO_MEM_STATE_PLUGGED: { value: 0, doc: "All requested blocks are plugged." },
  VIRTIO_MEM_STATE_UNPLUGGED: { value: 1, doc: "All requested blocks are unplugged." },
  VIRTIO_MEM_STATE_MIXED: { value: 2, doc: "Some blocks are plugged, some unplugged." },
}, { doc: "5.15.6.6: memory block states (VIRTIO_MEM_STATE_*)." });

/** 5.15.6.3: PLUG request data. */
export const virtio_mem_req_plug: StructType = struct("virtio_mem_req_plug", {
  addr: addr(le64, "Guest-physical address of the first memory block."),
  nb_blocks: doc(le16, "Number of consecutive memory blocks."),
  padding: doc(array(le16, 3), "Ignored by the device."),
}, { doc: "5.15.6.3: request-specific data of a PLUG request." });

/** 5.15.6.4: UNPLUG request data. */
export const virtio_mem_req_unplug: StructType = struct("virtio_mem_req_unplug", {
  addr: addr(le64, "Guest-physical address of the first memory block."),
  nb_blocks: doc(le16, "Number of consecutive memory blocks."),
  padding: doc(array(le16, 3), "Ignored by the device."),
}, { doc: "5.15.6.4: request-specific data of an UNPLUG request." });

/** 5.15.6.6: STATE request data. */
export const virtio_mem_req_state: StructType = struct("virtio_mem_req_state", {
  addr: addr(le64, "Guest-physical address of the first memory block."),
  nb_blocks: doc(le16, "Number of consecutive memory blocks."),
  padding: doc(array(le16, 3), "Ignored by the device."),
}, { doc: "5.15.6.6: request-specific data of a STATE request." });

/** 5.15.6: the request-specific union `u` of `virtio_mem_req` (anonymous in the spec). */
export const virtio_mem_req_u: UnionType = union("virtio_mem_req_u", {
  plug: doc(virtio_mem_req_plug, "For VIRTIO_MEM_REQ_PLUG."),
  unplug: doc(virtio_mem_req_unplug, "For VIRTIO_MEM_REQ_UNPLUG."),
  state: doc(virtio_mem_req_state, "For VIRTIO_MEM_REQ_STATE."),
}, { doc: "5.15.6: request-specific data, by request type (UNPLUG ALL has none)." });

/** 5.15.6: a request on the guest-request queue (always 24 bytes). */
export const virtio_mem_req: StructType = struct("virtio_mem_req", {
  type: doc(le16, "Request type (VIRTIO_MEM_REQ_*)."),
  padding: doc(array(le16, 3), "Ignored by the device."),
  u: doc(virtio_mem_req_u, "Request-specific data."),
}, { doc: "5.15.6: memory device request." });

/** 5.15.6.6: STATE response data. */
export const virtio_mem_resp_state: StructType = struct("virtio_mem_resp_state", {
  type: doc(le16, "State of the blocks (VIRTIO_MEM_STATE_*)."),
}, { doc: "5.15.6.6: response-specific data of a STATE response." });

/** 5.15.6: the response-specific union `u` of `virtio_mem_resp` (anonymous in the spec). */
export const virtio_mem_resp_u: UnionType = union("virtio_mem_resp_u", {
  state: doc(virtio_mem_resp_state, "For VIRTIO_MEM_REQ_STATE."),
}, { doc: "5.15.6: response-specific data, by request type." });

/** 5.15.6: a response on the guest-request queue (always 10 bytes). */
export const virtio_mem_resp: StructType = struct("virtio_mem_resp", {
  type: doc(le16, "Response type (VIRTIO_MEM_RESP_*)."),
  padding: doc(array(le16, 3), "Ignored by the driver."),
  u: doc(virtio_mem_resp_u, "Response-specific data (only STATE has any)."),
}, { doc: "5.15.6: memory device response." });
