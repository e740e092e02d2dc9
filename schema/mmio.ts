/**
 * The virtio-mmio transport (spec 4.2): the control register map of
 * version 2 devices (4.2.2), the register map of legacy version 1 devices
 * (4.2.4), and their constants. All registers are 32-bit little-endian;
 * the device-specific configuration space follows at offset 0x100.
 *
 * @module
 */
import {
  type ConstantGroup,
  enumeration,
  flags,
  le32,
  reg,
  registers,
  type StructType,
} from "./dsl.ts";

/** 4.2.2: the control registers of a virtio-mmio device (version 2). */
export const virtio_mmio: StructType = registers("virtio_mmio", {
  MagicValue: reg(0x000, le32, "r", 'Magic value: 0x74726976, "virt" in little-endian.'),
  Version: reg(0x004, le32, "r", "Device version number: 0x2 (legacy devices report 0x1)."),
  DeviceID: reg(
    0x008,
    le32,
    "r",
    "Virtio subsystem device id (5); 0 marks a placeholder the driver must ignore.",
  ),
  VendorID: reg(0x00c, le32, "r", "Virtio subsystem vendor id."),
  DeviceFeatures: reg(
    0x010,
    le32,
    "r",
    "Device feature bits DeviceFeaturesSel*32 to DeviceFeaturesSel*32+31.",
  ),
  DeviceFeaturesSel: reg(
    0x014,
    le32,
    "w",
    "Selects which 32 device feature bits DeviceFeatures shows.",
  ),
  DriverFeatures: reg(
    0x020,
    le32,
    "w",
    "Driver (activated) feature bits DriverFeaturesSel*32 to DriverFeaturesSel*32+31.",
  ),
  DriverFeaturesSel: reg(
    0x024,
    le32,
    "w",
    "Selects which 32 driver feature bits DriverFeatures sets.",
  ),
  QueueSel: reg(
    0x030,
    le32,
    "w",
    "Selects the virtqueue the Queue* registers (and QueueReset) apply to.",
  ),
  QueueSizeMax: reg(
    0x034,
    le32,
    "r",
    "Maximum size of the selected queue, 0 if it is not available (formerly QueueNumMax).",
  ),
  QueueSize: reg(
    0x038,
    le32,
    "w",
    "Size (number of elements) the driver will use for the selected queue (formerly QueueNum).",
  ),
  QueueReady: reg(
    0x044,
    le32,
    "rw",
    "Write 1 to let the device use the selected queue, 0 to stop; reads back the last value.",
  ),
  QueueNotify: reg(
    0x050,
    le32,
    "w",
    "Available buffer notification: the queue index, or the notification data " +
      "(vq_index, next_off, next_wrap) with VIRTIO_F_NOTIFICATION_DATA.",
  ),
  InterruptStatus: reg(
    0x060,
    le32,
    "r",
    "Events that asserted the interrupt: VIRTIO_MMIO_INT_* bits.",
  ),
  InterruptACK: reg(
    0x064,
    le32,
    "w",
    "Write the VIRTIO_MMIO_INT_* bits of the events handled.",
  ),
  Status: reg(
    0x070,
    le32,
    "rw",
    "Device status (2.1); writing 0 resets the device.",
  ),
  QueueDescLow: reg(
    0x080,
    le32,
    "w",
    "Low 32 bits of the selected queue's Descriptor Area address.",
  ),
  QueueDescHigh: reg(
    0x084,
    le32,
    "w",
    "High 32 bits of the selected queue's Descriptor Area address.",
  ),
  QueueDriverLow: reg(
    0x090,
    le32,
    "w",
    "Low 32 bits of the selected queue's Driver Area address.",
  ),
  QueueDriverHigh: reg(
    0x094,
    le32,
    "w",
    "High 32 bits of the selected queue's Driver Area address.",
  ),
  QueueDeviceLow: reg(
    0x0a0,
    le32,
    "w",
    "Low 32 bits of the selected queue's Device Area address.",
  ),
  QueueDeviceHigh: reg(
    0x0a4,
    le32,
    "w",
    "High 32 bits of the selected queue's Device Area address.",
  ),
  SHMSel: reg(
    0x0ac,
    le32,
    "w",
    "Selects the shared memory region the SHMLen and SHMBase registers describe.",
  ),
  SHMLenLow: reg(
    0x0b0,
    le32,
    "r",
    "Low 32 bits of the selected region's length (all ones, -1, for a missing region).",
  ),
  SHMLenHigh: reg(
    0x0b4,
    le32,
    "r",
    "High 32 bits of the selected region's length.",
  ),
  SHMBaseLow: reg(
    0x0b8,
    le32,
    "r",
    "Low 32 bits of the selected region's physical base address " +
      "(0xffffffffffffffff for a missing region).",
  ),
  SHMBaseHigh: reg(
    0x0bc,
    le32,
    "r",
    "High 32 bits of the selected region's physical base address.",
  ),
  QueueReset: reg(
    0x0c0,
    le32,
    "rw",
    "With VIRTIO_F_RING_RESET: write 1 to reset the selected queue; reads 1 until done.",
  ),
  ConfigGeneration: reg(
    0x0fc,
    le32,
    "r",
    "Configuration atomicity value: changes when the device configuration may have changed.",
  ),
}, {
  doc: "4.2.2: virtio-mmio control registers (version 2); the device " +
    "configuration space follows at VIRTIO_MMIO_CONFIG (0x100).",
  size: 0x100,
});

/** 4.2.4: the control registers of a legacy virtio-mmio device (version 1). */
export const virtio_mmio_legacy: StructType = registers("virtio_mmio_legacy", {
  MagicValue: reg(0x000, le32, "r", "Magic value: 0x74726976."),
  Version: reg(0x004, le32, "r", "Device version number: 0x1 for a legacy device."),
  DeviceID: reg(0x008, le32, "r", "Virtio subsystem device id."),
  VendorID: reg(0x00c, le32, "r", "Virtio subsystem vendor id."),
  HostFeatures: reg(
    0x010,
    le32,
    "r",
    "Device feature bits HostFeaturesSel*32 to HostFeaturesSel*32+31.",
  ),
  HostFeaturesSel: reg(
    0x014,
    le32,
    "w",
    "Selects which 32 device feature bits HostFeatures shows.",
  ),
  GuestFeatures: reg(
    0x020,
    le32,
    "w",
    "Driver (activated) feature bits GuestFeaturesSel*32 to GuestFeaturesSel*32+31.",
  ),
  GuestFeaturesSel: reg(
    0x024,
    le32,
    "w",
    "Selects which 32 driver feature bits GuestFeatures sets.",
  ),
  GuestPageSize: reg(
    0x028,
    le32,
    "w",
    "Guest page size in bytes (a power of 2), the unit of QueuePFN; written before queue setup.",
  ),
  QueueSel: reg(
    0x030,
    le32,
    "w",
    "Selects the virtqueue QueueSizeMax, QueueSize, QueueAlign and QueuePFN apply to.",
  ),
  QueueSizeMax: reg(
    0x034,
    le32,
    "r",
    "Maximum size of the selected queue, 0 if not available; read only while " +
      "QueuePFN is 0 (formerly QueueNumMax).",
  ),
  QueueSize: reg(
    0x038,
    le32,
    "w",
    "Size (number of elements) the driver will use for the selected queue (formerly QueueNum).",
  ),
  QueueAlign: reg(
    0x03c,
    le32,
    "w",
    "Alignment in bytes (a power of 2) of the used ring of the selected queue.",
  ),
  QueuePFN: reg(
    0x040,
    le32,
    "rw",
    "Guest page number (in GuestPageSize units) of the selected queue's descriptor " +
      "table; 0 means the queue is not in use.",
  ),
  QueueNotify: reg(0x050, le32, "w", "Available buffer notification: the queue index."),
  InterruptStatus: reg(
    0x060,
    le32,
    "r",
    "Events that asserted the interrupt: VIRTIO_MMIO_INT_* bits.",
  ),
  InterruptACK: reg(
    0x064,
    le32,
    "w",
    "Write the VIRTIO_MMIO_INT_* bits of the events handled.",
  ),
  Status: reg(
    0x070,
    le32,
    "rw",
    "Device status (2.1); writing 0 resets the device and sets every QueuePFN to 0.",
  ),
}, {
  doc: "4.2.4: legacy virtio-mmio control registers (version 1, page-based queue " +
    "addressing); the device configuration space follows at VIRTIO_MMIO_CONFIG (0x100).",
  size: 0x100,
});

/** 4.2.2: the value of the MagicValue register. */
export const virtio_mmio_magic: ConstantGroup = enumeration("virtio_mmio_magic", {
  VIRTIO_MMIO_MAGIC: {
    value: 0x74726976,
    doc: '"virt" read as a little-endian 32-bit word; any other value is not virtio-mmio.',
  },
}, { doc: "4.2.2: MagicValue of every virtio-mmio device." });

/** 4.2.2 and 4.2.4: values of the Version register. */
export const virtio_mmio_version: ConstantGroup = enumeration("virtio_mmio_version", {
  VIRTIO_MMIO_VERSION_LEGACY: {
    value: 0x1,
    doc: "Legacy device: register map virtio_mmio_legacy (4.2.4).",
  },
  VIRTIO_MMIO_VERSION_MODERN: {
    value: 0x2,
    doc: "Device conforming to this specification: register map virtio_mmio (4.2.2).",
  },
}, { doc: "4.2.2, 4.2.4: virtio-mmio device version numbers." });

/** 4.2.2: bits of InterruptStatus and InterruptACK. */
export const virtio_mmio_interrupt: ConstantGroup = flags("virtio_mmio_interrupt", {
  VIRTIO_MMIO_INT_VRING: {
    value: 1 << 0,
    doc: "Used Buffer Notification: the device has used a buffer in at least one active queue.",
  },
  VIRTIO_MMIO_INT_CONFIG: {
    value: 1 << 1,
    doc: "Configuration Change Notification: the device configuration has changed.",
  },
}, { doc: "4.2.2: virtio-mmio interrupt status bits." });

/** 4.2.2: where the device-specific configuration space starts. */
export const virtio_mmio_layout: ConstantGroup = enumeration("virtio_mmio_layout", {
  VIRTIO_MMIO_CONFIG: {
    value: 0x100,
    doc: "Offset of the device-specific configuration space, in both register layouts.",
  },
}, { doc: "4.2.2, 4.2.4: offsets in the virtio-mmio register window." });
