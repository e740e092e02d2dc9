/**
 * The virtio-over-PCI transport (spec 4.1): the vendor-specific
 * capabilities that locate the virtio structures (4.1.4), the common
 * configuration structure (4.1.4.3), the notification, ISR and PCI
 * configuration access capabilities, the legacy I/O header of transitional
 * devices (4.1.4.10), and the PCI ids and constants. Everything is
 * little-endian.
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  field,
  flags,
  le16,
  le32,
  le64,
  reg,
  registers,
  struct,
  type StructType,
  u8,
} from "./dsl.ts";

/** 4.1.4: the vendor-specific PCI capability that locates one virtio structure. */
export const virtio_pci_cap: StructType = struct("virtio_pci_cap", {
  cap_vndr: doc(u8, "Generic PCI field: PCI_CAP_ID_VNDR (0x09), a vendor-specific capability."),
  cap_next: doc(u8, "Generic PCI field: config-space offset of the next capability."),
  cap_len: doc(
    u8,
    "Generic PCI field: length of the capability including extra data; may be larger.",
  ),
  cfg_type: doc(u8, "Which structure this locates: VIRTIO_PCI_CAP_* (virtio_pci_cap_cfg_type)."),
  bar: doc(u8, "BAR (0 to 5) mapping the structure; other values are reserved."),
  id: doc(
    u8,
    "Tells apart capabilities of one type where the device type defines it; else undefined.",
  ),
  padding: doc(array(u8, 2), "Pads to a full dword."),
  offset: field(le32, {
    accessor: "barOffset",
    doc: "Where the structure starts within the BAR (accessor `barOffset`: the accessor class " +
      "has an `offset` of its own).",
  }),
  length: doc(le32, "Length of the structure in bytes; may include padding or unused fields."),
}, {
  doc: "4.1.4: virtio structure PCI capability; read-only for the driver " +
    "(except in virtio_pci_cfg_cap).",
});

/** 4.1.4: the capability variant for offsets or lengths past 4 GiB. */
export const virtio_pci_cap64: StructType = struct("virtio_pci_cap64", {
  cap: doc(virtio_pci_cap, "The capability; cap.offset and cap.length hold the low 32 bits."),
  offset_hi: doc(le32, "High 32 bits of the offset within the BAR."),
  length_hi: doc(le32, "High 32 bits of the length."),
}, {
  doc: "4.1.4: 64-bit virtio structure PCI capability (used for shared memory regions).",
});

/** 4.1.4.3: the common configuration structure (VIRTIO_PCI_CAP_COMMON_CFG). */
export const virtio_pci_common_cfg: StructType = struct("virtio_pci_common_cfg", {
  device_feature_select: field(le32, {
    access: "rw",
    doc: "Selects the feature bits device_feature shows: 0 for bits 0-31, 1 for 32-63...",
  }),
  device_feature: field(le32, {
    access: "r",
    doc: "The device's offered feature bits, as selected by device_feature_select.",
  }),
  driver_feature_select: field(le32, {
    access: "rw",
    doc: "Selects the feature bits driver_feature holds: 0 for bits 0-31, 1 for 32-63...",
  }),
  driver_feature: field(le32, {
    access: "rw",
    doc: "The feature bits the driver accepts, as selected by driver_feature_select.",
  }),
  config_msix_vector: field(le16, {
    access: "rw",
    doc: "MSI-X vector for configuration change notifications, or VIRTIO_MSI_NO_VECTOR.",
  }),
  num_queues: field(le16, {
    access: "r",
    doc: "Maximum number of virtqueues, not counting administration virtqueues.",
  }),
  device_status: field(u8, {
    access: "rw",
    doc: "Device status (2.1); writing 0 resets the device.",
  }),
  config_generation: field(u8, {
    access: "r",
    doc: "Configuration atomicity value; changes when the configuration noticeably changes.",
  }),
  queue_select: field(le16, {
    access: "rw",
    doc: "Selects the virtqueue the queue_* fields below refer to.",
  }),
  queue_size: field(le16, {
    access: "rw",
    doc: "Queue size: the maximum on reset, the driver may lower it; 0 if unavailable.",
  }),
  queue_msix_vector: field(le16, {
    access: "rw",
    doc: "MSI-X vector for the selected queue's notifications, or VIRTIO_MSI_NO_VECTOR.",
  }),
  queue_enable: field(le16, {
    access: "rw",
    doc: "1 once the driver has enabled the selected queue; 0 when disabled.",
  }),
  queue_notify_off: field(le16, {
    access: "r",
    doc: "Notify address of the queue: cap.offset + queue_notify_off * notify_off_multiplier " +
      "(not a byte offset itself).",
  }),
  queue_desc: field(le64, {
    access: "rw",
    asNumber: true,
    doc: "Physical address of the selected queue's Descriptor Area.",
  }),
  queue_driver: field(le64, {
    access: "rw",
    asNumber: true,
    doc: "Physical address of the selected queue's Driver Area.",
  }),
  queue_device: field(le64, {
    access: "rw",
    asNumber: true,
    doc: "Physical address of the selected queue's Device Area.",
  }),
  queue_notif_config_data: field(le16, {
    access: "r",
    doc: "With VIRTIO_F_NOTIF_CONFIG_DATA: the value the driver sends in notifications for " +
      "the queue (formerly queue_notify_data).",
  }),
  queue_reset: field(le16, {
    access: "rw",
    doc: "With VIRTIO_F_RING_RESET: write 1 to reset the selected queue; reads 1 until done.",
  }),
  admin_queue_index: field(le16, {
    access: "r",
    doc: "With VIRTIO_F_ADMIN_VQ: index of the first administration virtqueue.",
  }),
  admin_queue_num: field(le16, {
    access: "r",
    doc: "With VIRTIO_F_ADMIN_VQ: number of administration virtqueues (0 if none).",
  }),
}, { doc: "4.1.4.3: virtio PCI common configuration structure." });

/** 4.1.4.4: the notification capability (VIRTIO_PCI_CAP_NOTIFY_CFG). */
export const virtio_pci_notify_cap: StructType = struct("virtio_pci_notify_cap", {
  cap: doc(virtio_pci_cap, "The capability; cap.offset is the start of the notify region."),
  notify_off_multiplier: doc(
    le32,
    "Multiplier for queue_notify_off; 0 means one notify address for all queues.",
  ),
}, {
  doc: "4.1.4.4: notification capability; a queue's notify address is " +
    "cap.offset + queue_notify_off * notify_off_multiplier.",
});

/** 4.1.4.8: the vendor data capability (VIRTIO_PCI_CAP_VENDOR_CFG). */
export const virtio_pci_vndr_data: StructType = struct("virtio_pci_vndr_data", {
  cap_vndr: doc(u8, "Generic PCI field: PCI_CAP_ID_VNDR (0x09)."),
  cap_next: doc(u8, "Generic PCI field: config-space offset of the next capability."),
  cap_len: doc(u8, "Generic PCI field: capability length, a multiple of 4."),
  cfg_type: doc(u8, "VIRTIO_PCI_CAP_VENDOR_CFG."),
  vendor_id: doc(
    le16,
    "PCI-SIG vendor id identifying the vendor-specific format; never 0x1AF4.",
  ),
}, {
  doc: "4.1.4.8: vendor data capability header; vendor-defined data follows up to " +
    "cap_len (a multiple of 4), readable without side effects.",
});

/** 4.1.4.9: the PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG). */
export const virtio_pci_cfg_cap: StructType = struct("virtio_pci_cfg_cap", {
  cap: doc(
    virtio_pci_cap,
    "The capability; the driver writes cap.bar, cap.length (1, 2 or 4) and cap.offset.",
  ),
  pci_cfg_data: doc(
    array(u8, 4),
    "Read-write window of cap.length bytes onto cap.bar at cap.offset.",
  ),
}, {
  doc: "4.1.4.9: PCI configuration access capability: a window onto the BARs " +
    "through PCI configuration space.",
});

/** 4.1.4.10: the legacy I/O header in BAR0 of transitional devices (MSI-X enabled). */
export const virtio_pci_legacy: StructType = registers("virtio_pci_legacy", {
  device_feature: reg(0, le32, "r", "Device feature bits 0 to 31."),
  driver_feature: reg(4, le32, "rw", "Driver feature bits 0 to 31."),
  queue_address: reg(
    8,
    le32,
    "rw",
    "Queue address: physical address of the selected queue divided by 4096 " +
      "(VIRTIO_PCI_QUEUE_ADDR_SHIFT); 0 when unused.",
  ),
  queue_size: reg(12, le16, "r", "Size of the selected queue (not negotiable)."),
  queue_select: reg(14, le16, "rw", "Selects the queue queue_address and queue_size refer to."),
  queue_notify: reg(16, le16, "rw", "Queue Notify: write the queue index to notify it."),
  device_status: reg(
    18,
    u8,
    "rw",
    "Device status (2.1); writing 0 resets the device.",
  ),
  isr_status: reg(
    19,
    u8,
    "r",
    "ISR status: VIRTIO_PCI_ISR_* bits; reading clears it.",
  ),
  config_msix_vector: reg(
    20,
    le16,
    "rw",
    "Only with MSI-X enabled: MSI-X vector for configuration changes.",
  ),
  queue_msix_vector: reg(
    22,
    le16,
    "rw",
    "Only with MSI-X enabled: MSI-X vector for the selected queue.",
  ),
}, {
  doc: "4.1.4.10: legacy virtio header in I/O BAR0, laid out with MSI-X enabled; " +
    "without MSI-X the two vector registers are absent and the device " +
    "configuration starts at 20 (VIRTIO_PCI_LEGACY_CONFIG_OFF) instead of 24 " +
    "(VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX).",
  size: 24,
});

/** 4.1.4: values of `cfg_type` in `virtio_pci_cap`. */
export const virtio_pci_cap_cfg_type: ConstantGroup = enumeration("virtio_pci_cap_cfg_type", {
  VIRTIO_PCI_CAP_COMMON_CFG: { value: 1, doc: "Common configuration." },
  VIRTIO_PCI_CAP_NOTIFY_CFG: { value: 2, doc: "Notifications." },
  VIRTIO_PCI_CAP_ISR_CFG: { value: 3, doc: "ISR status." },
  VIRTIO_PCI_CAP_DEVICE_CFG: { value: 4, doc: "Device-specific configuration." },
  VIRTIO_PCI_CAP_PCI_CFG: { value: 5, doc: "PCI configuration access." },
  VIRTIO_PCI_CAP_SHARED_MEMORY_CFG: { value: 8, doc: "Shared memory region." },
  VIRTIO_PCI_CAP_VENDOR_CFG: { value: 9, doc: "Vendor-specific data." },
}, { doc: "4.1.4: virtio structure types; other values are reserved." });

/** 4.1.4: the PCI capability id of virtio capabilities (`cap_vndr`). */
export const virtio_pci_cap_id: ConstantGroup = enumeration("virtio_pci_cap_id", {
  PCI_CAP_ID_VNDR: { value: 0x09, doc: "Vendor-specific PCI capability." },
}, { doc: "4.1.4: cap_vndr value of every virtio PCI capability." });

/** 4.1.4.5: bits of the ISR status byte. */
export const virtio_pci_isr: ConstantGroup = flags("virtio_pci_isr", {
  VIRTIO_PCI_ISR_QUEUE: {
    value: 1 << 0,
    doc: "Queue interrupt: a used buffer notification (without MSI-X).",
  },
  VIRTIO_PCI_ISR_CONFIG: {
    value: 1 << 1,
    doc: "Device configuration interrupt: the device configuration has changed.",
  },
}, { doc: "4.1.4.5: ISR status bits; bits 2 to 31 are reserved." });

/** 4.1.2: PCI vendor and device ids of virtio devices. */
export const virtio_pci_id: ConstantGroup = enumeration("virtio_pci_id", {
  VIRTIO_PCI_VENDOR_ID: { value: 0x1af4, doc: "PCI Vendor ID of every virtio device." },
  VIRTIO_PCI_DEVICE_ID_BASE: {
    value: 0x1040,
    doc: "A device's PCI Device ID is this plus its virtio device id.",
  },
  VIRTIO_PCI_DEVICE_ID_MIN: {
    value: 0x1000,
    doc: "First PCI Device ID of the virtio range (transitional ids included).",
  },
  VIRTIO_PCI_DEVICE_ID_MAX: { value: 0x107f, doc: "Last PCI Device ID of the virtio range." },
  VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MIN: {
    value: 0x1000,
    doc: "First Transitional PCI Device ID.",
  },
  VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX: {
    value: 0x103f,
    doc: "Last Transitional PCI Device ID.",
  },
}, { doc: "4.1.2: PCI ids: vendor id and device id ranges." });

/** 4.1.2.1: the Transitional PCI Device ID of each device type that has one. */
export const virtio_pci_transitional_device_id: ConstantGroup = enumeration(
  "virtio_pci_transitional_device_id",
  {
    VIRTIO_PCI_TRANSITIONAL_ID_NET: { value: 0x1000, doc: "Network device." },
    VIRTIO_PCI_TRANSITIONAL_ID_BLOCK: { value: 0x1001, doc: "Block device." },
    VIRTIO_PCI_TRANSITIONAL_ID_BALLOON: {
      value: 0x1002,
      doc: "Memory ballooning (traditional).",
    },
    VIRTIO_PCI_TRANSITIONAL_ID_CONSOLE: { value: 0x1003, doc: "Console." },
    VIRTIO_PCI_TRANSITIONAL_ID_SCSI: { value: 0x1004, doc: "SCSI host." },
    VIRTIO_PCI_TRANSITIONAL_ID_RNG: { value: 0x1005, doc: "Entropy source." },
    VIRTIO_PCI_TRANSITIONAL_ID_9P: { value: 0x1009, doc: "9P transport." },
  },
  {
    doc: "4.1.2.1: Transitional PCI Device IDs (transitional devices also have " +
      "PCI Revision ID 0 and the virtio device id as PCI Subsystem Device ID).",
  },
);

/** 4.1.5.1.2: MSI-X vector values. */
export const virtio_pci_msix: ConstantGroup = enumeration("virtio_pci_msix", {
  VIRTIO_MSI_NO_VECTOR: {
    value: 0xffff,
    doc: "Unmaps an event from MSI-X; read back when a mapping failed.",
  },
  VIRTIO_MSI_VECTOR_MAX: {
    value: 0x7ff,
    doc: "Largest valid MSI-X table entry number (a device has at most 0x800 vectors).",
  },
}, { doc: "4.1.5.1.2: values of config_msix_vector and queue_msix_vector." });

/** 4.1.4.10 and 4.1.5.1.3.1: offsets and units of the legacy I/O header. */
export const virtio_pci_legacy_layout: ConstantGroup = enumeration("virtio_pci_legacy_layout", {
  VIRTIO_PCI_LEGACY_CONFIG_OFF: {
    value: 20,
    doc: "Offset of the device-specific configuration with MSI-X disabled.",
  },
  VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX: {
    value: 24,
    doc: "Offset of the device-specific configuration with MSI-X enabled.",
  },
  VIRTIO_PCI_QUEUE_ADDR_SHIFT: {
    value: 12,
    doc: "queue_address holds the queue's physical address shifted right by this (4096 units).",
  },
  VIRTIO_PCI_VRING_ALIGN: {
    value: 4096,
    doc: "Alignment of the legacy virtqueue layout (2.7.2 legacy note) on PCI.",
  },
}, { doc: "4.1.4.10, 4.1.5.1.3.1: legacy PCI header offsets and queue address units." });
