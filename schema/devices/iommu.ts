/**
 * The IOMMU device (spec 5.13): DMA remapping for endpoints. Configuration
 * (5.13.4), the request head and tail and the ATTACH, DETACH, MAP, UNMAP
 * and PROBE requests (5.13.6), probe properties (5.13.6.8) and fault
 * reports on the event queue (5.13.6.9), with all their codes.
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
  flags,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.13.3: IOMMU feature bits. */
export const virtio_iommu_features: ConstantGroup = featureBits("virtio_iommu_features", {
  VIRTIO_IOMMU_F_INPUT_RANGE: {
    value: 0,
    doc: "input_range describes the available virtual addresses.",
  },
  VIRTIO_IOMMU_F_DOMAIN_RANGE: {
    value: 1,
    doc: "domain_range describes the supported domain ids.",
  },
  VIRTIO_IOMMU_F_MAP_UNMAP: { value: 2, doc: "MAP and UNMAP requests are available." },
  VIRTIO_IOMMU_F_BYPASS: {
    value: 3,
    doc: "Endpoints not attached to a domain are in bypass mode (superseded by BYPASS_CONFIG).",
  },
  VIRTIO_IOMMU_F_PROBE: { value: 4, doc: "The PROBE request is available." },
  VIRTIO_IOMMU_F_MMIO: { value: 5, doc: "The VIRTIO_IOMMU_MAP_F_MMIO flag is available." },
  VIRTIO_IOMMU_F_BYPASS_CONFIG: {
    value: 6,
    doc: "The bypass config field and VIRTIO_IOMMU_ATTACH_F_BYPASS control bypass mode.",
  },
}, { doc: "5.13.3: IOMMU device feature bits." });

/** 5.13.4: a 64-bit inclusive range. */
export const virtio_iommu_range_64: StructType = struct("virtio_iommu_range_64", {
  start: doc(le64, "First value of the range."),
  end: doc(le64, "Last value of the range (inclusive)."),
}, { doc: "5.13.4: an inclusive 64-bit range (input_range)." });

/** 5.13.4: a 32-bit inclusive range. */
export const virtio_iommu_range_32: StructType = struct("virtio_iommu_range_32", {
  start: doc(le32, "First value of the range."),
  end: doc(le32, "Last value of the range (inclusive)."),
}, { doc: "5.13.4: an inclusive 32-bit range (domain_range)." });

/** 5.13.4: the IOMMU device's configuration layout. */
export const virtio_iommu_config: StructType = struct("virtio_iommu_config", {
  page_size_mask: doc(
    le64,
    "Page sizes that can be mapped; the lowest set bit is the mapping granularity.",
  ),
  input_range: doc(
    virtio_iommu_range_64,
    "With VIRTIO_IOMMU_F_INPUT_RANGE: virtual addresses the IOMMU can translate.",
  ),
  domain_range: doc(
    virtio_iommu_range_32,
    "With VIRTIO_IOMMU_F_DOMAIN_RANGE: valid domain ids.",
  ),
  probe_size: doc(
    le32,
    "With VIRTIO_IOMMU_F_PROBE: size in bytes of the properties of a PROBE request.",
  ),
  bypass: doc(
    u8,
    "With VIRTIO_IOMMU_F_BYPASS_CONFIG: 1 puts unattached endpoints in bypass mode; " +
      "the only field the driver may write.",
  ),
  reserved: doc(array(u8, 3), "Reserved."),
}, { doc: "5.13.4: IOMMU device configuration." });

/** 5.13.6: the device-readable head of every request. */
export const virtio_iommu_req_head: StructType = struct("virtio_iommu_req_head", {
  type: doc(u8, "Request type (VIRTIO_IOMMU_T_*)."),
  reserved: doc(array(u8, 3), "Reserved; the driver should set 0."),
}, { doc: "5.13.6: request head (device-readable)." });

/** 5.13.6: the device-writable tail of every request. */
export const virtio_iommu_req_tail: StructType = struct("virtio_iommu_req_tail", {
  status: doc(u8, "Request status (VIRTIO_IOMMU_S_*)."),
  reserved: doc(array(u8, 3), "Reserved; the driver ignores it."),
}, { doc: "5.13.6: request tail (device-writable)." });

/** 5.13.6: request types of `virtio_iommu_req_head.type`. */
export const virtio_iommu_req_type: ConstantGroup = enumeration("virtio_iommu_req_type", {
  VIRTIO_IOMMU_T_ATTACH: { value: 1, doc: "Attach an endpoint to a domain." },
  VIRTIO_IOMMU_T_DETACH: { value: 2, doc: "Detach an endpoint from a domain." },
  VIRTIO_IOMMU_T_MAP: { value: 3, doc: "Map a range." },
  VIRTIO_IOMMU_T_UNMAP: { value: 4, doc: "Unmap a range." },
  VIRTIO_IOMMU_T_PROBE: { value: 5, doc: "Probe the properties of an endpoint." },
}, { doc: "5.13.6: IOMMU request types." });

/** 5.13.6: status codes of `virtio_iommu_req_tail.status`. */
export const virtio_iommu_status: ConstantGroup = enumeration("virtio_iommu_status", {
  VIRTIO_IOMMU_S_OK: { value: 0, doc: "Success." },
  VIRTIO_IOMMU_S_IOERR: { value: 1, doc: "Virtio communication error." },
  VIRTIO_IOMMU_S_UNSUPP: { value: 2, doc: "Unsupported request." },
  VIRTIO_IOMMU_S_DEVERR: { value: 3, doc: "Internal device error." },
  VIRTIO_IOMMU_S_INVAL: { value: 4, doc: "Invalid parameters." },
  VIRTIO_IOMMU_S_RANGE: { value: 5, doc: "Out-of-range parameters." },
  VIRTIO_IOMMU_S_NOENT: { value: 6, doc: "Entry not found." },
  VIRTIO_IOMMU_S_FAULT: { value: 7, doc: "Bad address." },
  VIRTIO_IOMMU_S_NOMEM: { value: 8, doc: "Insufficient resources." },
}, { doc: "5.13.6: IOMMU request status codes." });

/** 5.13.6.3: the ATTACH request. */
export const virtio_iommu_req_attach: StructType = struct("virtio_iommu_req_attach", {
  head: virtio_iommu_req_head,
  domain: doc(le32, "Domain id; the domain is created if it does not exist."),
  endpoint: doc(le32, "Endpoint id (platform specific)."),
  flags: doc(le32, "VIRTIO_IOMMU_ATTACH_F_* flags."),
  reserved: doc(array(u8, 4), "Reserved, must be 0."),
  tail: virtio_iommu_req_tail,
}, { doc: "5.13.6.3: attach an endpoint to a domain." });

/** 5.13.6.3: flags of the ATTACH request. */
export const virtio_iommu_attach_flags: ConstantGroup = flags("virtio_iommu_attach_flags", {
  VIRTIO_IOMMU_ATTACH_F_BYPASS: {
    value: 1 << 0,
    doc: "With VIRTIO_IOMMU_F_BYPASS_CONFIG: a bypass domain; its endpoints are in bypass mode.",
  },
}, { doc: "5.13.6.3: ATTACH request flags." });

/** 5.13.6.4: the DETACH request. */
export const virtio_iommu_req_detach: StructType = struct("virtio_iommu_req_detach", {
  head: virtio_iommu_req_head,
  domain: doc(le32, "Domain id."),
  endpoint: doc(le32, "Endpoint id."),
  reserved: doc(array(u8, 8), "Reserved; the driver should set 0."),
  tail: virtio_iommu_req_tail,
}, { doc: "5.13.6.4: detach an endpoint from a domain." });

/** 5.13.6.5: the MAP request. */
export const virtio_iommu_req_map: StructType = struct("virtio_iommu_req_map", {
  head: virtio_iommu_req_head,
  domain: doc(le32, "Domain id."),
  virt_start: doc(le64, "First virtual address of the range."),
  virt_end: doc(le64, "Last virtual address of the range (inclusive)."),
  phys_start: doc(le64, "First guest-physical address the range maps to."),
  flags: doc(le32, "VIRTIO_IOMMU_MAP_F_* flags."),
  tail: virtio_iommu_req_tail,
}, { doc: "5.13.6.5: map virt_start..virt_end to phys_start in a domain." });

/** 5.13.6.5: flags of the MAP request. */
export const virtio_iommu_map_flags: ConstantGroup = flags("virtio_iommu_map_flags", {
  VIRTIO_IOMMU_MAP_F_READ: { value: 1 << 0, doc: "Read access is allowed." },
  VIRTIO_IOMMU_MAP_F_WRITE: { value: 1 << 1, doc: "Write access is allowed." },
  VIRTIO_IOMMU_MAP_F_MMIO: {
    value: 1 << 2,
    doc: "Accesses are to memory-mapped I/O (with VIRTIO_IOMMU_F_MMIO).",
  },
}, { doc: "5.13.6.5: MAP request flags." });

/** 5.13.6.6: the UNMAP request. */
export const virtio_iommu_req_unmap: StructType = struct("virtio_iommu_req_unmap", {
  head: virtio_iommu_req_head,
  domain: doc(le32, "Domain id."),
  virt_start: doc(le64, "First virtual address of the range."),
  virt_end: doc(le64, "Last virtual address of the range (inclusive)."),
  reserved: doc(array(u8, 4), "Reserved; the driver should set 0."),
  tail: virtio_iommu_req_tail,
}, { doc: "5.13.6.6: remove the mappings covered by virt_start..virt_end." });

/** 5.13.6.7: the PROBE request. */
export const virtio_iommu_req_probe: StructType = struct("virtio_iommu_req_probe", {
  head: virtio_iommu_req_head,
  endpoint: doc(le32, "Endpoint id (device-readable)."),
  reserved: doc(array(u8, 64), "Reserved for extensions of the device-readable part."),
  properties: doc(
    array(u8, "probe_size"),
    "Device-writable list of virtio_iommu_probe_property entries, zero-filled after the last.",
  ),
  tail: virtio_iommu_req_tail,
}, { doc: "5.13.6.7: ask for the properties of an endpoint (VIRTIO_IOMMU_F_PROBE)." });

/** 5.13.6.7: the header of each probe property. */
export const virtio_iommu_probe_property: StructType = struct("virtio_iommu_probe_property", {
  type_reserved: doc(
    bits(le16, {
      type: { width: 12, doc: "Property type (VIRTIO_IOMMU_PROBE_T_*); 0 ends the list." },
      reserved: { width: 4, doc: "Reserved; the driver ignores a property where it is nonzero." },
    }),
    "An unnamed le16 in the spec holding the type and reserved bitfields.",
  ),
  length: doc(le16, "Size of the property's value after this 4-byte header."),
}, { doc: "5.13.6.7: probe property header; the next property starts length + 4 bytes on." });

/** 5.13.6.8: probe property types. */
export const virtio_iommu_probe_type: ConstantGroup = enumeration("virtio_iommu_probe_type", {
  VIRTIO_IOMMU_PROBE_T_RESV_MEM: { value: 1, doc: "A reserved memory region." },
}, { doc: "5.13.6.8: probe property types." });

/** 5.13.6.8.1: the RESV_MEM probe property. */
export const virtio_iommu_probe_resv_mem: StructType = struct("virtio_iommu_probe_resv_mem", {
  head: virtio_iommu_probe_property,
  subtype: doc(u8, "VIRTIO_IOMMU_RESV_MEM_T_*."),
  reserved: doc(array(u8, 3), "Reserved."),
  start: doc(le64, "First reserved virtual address."),
  end: doc(le64, "Last reserved virtual address (inclusive)."),
}, { doc: "5.13.6.8.1: a reserved virtual address range of the endpoint." });

/** 5.13.6.8.1: subtypes of the RESV_MEM property. */
export const virtio_iommu_resv_mem_subtype: ConstantGroup = enumeration(
  "virtio_iommu_resv_mem_subtype",
  {
    VIRTIO_IOMMU_RESV_MEM_T_RESERVED: {
      value: 0,
      doc: "The addresses cannot be used in MAP requests.",
    },
    VIRTIO_IOMMU_RESV_MEM_T_MSI: {
      value: 1,
      doc: "An MSI doorbell; cannot be mapped either.",
    },
  },
  { doc: "5.13.6.8.1: reserved memory subtypes." },
);

/** 5.13.6.9: a fault report on the event queue. */
export const virtio_iommu_fault: StructType = struct("virtio_iommu_fault", {
  reason: doc(u8, "VIRTIO_IOMMU_FAULT_R_*."),
  reserved: doc(array(u8, 3), "Reserved; the driver ignores a report where it is nonzero."),
  flags: doc(le32, "VIRTIO_IOMMU_FAULT_F_* flags."),
  endpoint: doc(le32, "The endpoint causing the fault."),
  reserved1: doc(le32, "Reserved."),
  address: doc(le64, "With VIRTIO_IOMMU_FAULT_F_ADDRESS: the faulting address."),
}, { doc: "5.13.6.9: translation fault report." });

/** 5.13.6.9: flags of a fault report. */
export const virtio_iommu_fault_flags: ConstantGroup = flags("virtio_iommu_fault_flags", {
  VIRTIO_IOMMU_FAULT_F_READ: { value: 1 << 0, doc: "The faulting access was a read." },
  VIRTIO_IOMMU_FAULT_F_WRITE: { value: 1 << 1, doc: "The faulting access was a write." },
  VIRTIO_IOMMU_FAULT_F_ADDRESS: { value: 1 << 8, doc: "address is valid." },
}, { doc: "5.13.6.9: fault report flags." });

/** 5.13.6.9: values of the fault report's `reason`. */
export const virtio_iommu_fault_reason: ConstantGroup = enumeration(
  "virtio_iommu_fault_reason",
  {
    VIRTIO_IOMMU_FAULT_R_UNKNOWN: { value: 0, doc: "Internal or otherwise undescribed error." },
    VIRTIO_IOMMU_FAULT_R_DOMAIN: {
      value: 1,
      doc: "The endpoint accessed address without being attached to a domain.",
    },
    VIRTIO_IOMMU_FAULT_R_MAPPING: {
      value: 2,
      doc: "address is not mapped in the domain or lacks the needed protection flags.",
    },
  },
  { doc: "5.13.6.9: fault reasons." },
);
