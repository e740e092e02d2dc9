/**
 * Layout-independent basics of every virtio device: the device status
 * bits (spec 2.1), the reserved feature bits (spec 6) and the device id
 * table (spec 5).
 *
 * @module
 */
import { type ConstantGroup, enumeration, featureBits, flags } from "./dsl.ts";

/** 2.1: bits of the device status field. */
export const device_status: ConstantGroup = flags("device_status", {
  ACKNOWLEDGE: {
    value: 1,
    doc: "The guest OS has found the device and recognized it as a valid virtio device.",
  },
  DRIVER: { value: 2, doc: "The guest OS knows how to drive the device." },
  DRIVER_OK: { value: 4, doc: "The driver is set up and ready to drive the device." },
  FEATURES_OK: {
    value: 8,
    doc: "The driver has acknowledged all the features it understands; negotiation is complete.",
  },
  SUSPEND: {
    value: 16,
    doc: "With VIRTIO_F_SUSPEND: the device has been suspended by the driver.",
  },
  DEVICE_NEEDS_RESET: {
    value: 64,
    doc: "The device has experienced an error from which it can't recover.",
  },
  FAILED: {
    value: 128,
    doc: "Something went wrong in the guest; the driver has given up on the device.",
  },
}, { doc: "2.1: device status bits.", exportMembers: false });

/** 6: feature bits reserved for the queue and negotiation (device-independent). */
export const virtio_features: ConstantGroup = featureBits("virtio_features", {
  VIRTIO_F_NOTIFY_ON_EMPTY: {
    value: 24,
    doc: "Legacy: notify when the device runs out of available descriptors.",
  },
  VIRTIO_F_ANY_LAYOUT: {
    value: 27,
    doc: "Legacy: the device accepts arbitrary descriptor layouts.",
  },
  VIRTIO_F_INDIRECT_DESC: {
    value: 28,
    doc: "The driver can use descriptors with VIRTQ_DESC_F_INDIRECT.",
  },
  VIRTIO_F_EVENT_IDX: { value: 29, doc: "Enables the used_event and avail_event fields." },
  VIRTIO_F_UNUSED: {
    value: 30,
    doc: "Legacy: bit 30, used by QEMU to detect broken early drivers; not to be negotiated.",
  },
  VIRTIO_F_VERSION_1: { value: 32, doc: "Compliance with this specification." },
  VIRTIO_F_ACCESS_PLATFORM: {
    value: 33,
    doc: "The device can be used on a platform where access to memory is limited or translated.",
  },
  VIRTIO_F_RING_PACKED: { value: 34, doc: "Support for the packed virtqueue layout." },
  VIRTIO_F_IN_ORDER: {
    value: 35,
    doc: "All buffers are used by the device in the order they were made available.",
  },
  VIRTIO_F_ORDER_PLATFORM: {
    value: 36,
    doc: "Memory accesses are ordered in a platform-specific way.",
  },
  VIRTIO_F_SR_IOV: { value: 37, doc: "The device supports Single Root I/O Virtualization." },
  VIRTIO_F_NOTIFICATION_DATA: {
    value: 38,
    doc: "The driver passes extra data in its device notifications.",
  },
  VIRTIO_F_NOTIF_CONFIG_DATA: {
    value: 39,
    doc: "The driver uses device-supplied data for notifications.",
  },
  VIRTIO_F_RING_RESET: { value: 40, doc: "The driver can reset a queue individually." },
  VIRTIO_F_ADMIN_VQ: {
    value: 41,
    doc: "The device exposes one or more administration virtqueues.",
  },
  VIRTIO_F_SUSPEND: { value: 43, doc: "The driver can suspend the device." },
}, { doc: "6: reserved feature bits." });

/** 5: device ids. */
export const virtio_device_id: ConstantGroup = enumeration("virtio_device_id", {
  VIRTIO_ID_NET: { value: 1, doc: "Network device." },
  VIRTIO_ID_BLOCK: { value: 2, doc: "Block device." },
  VIRTIO_ID_CONSOLE: { value: 3, doc: "Console." },
  VIRTIO_ID_RNG: { value: 4, doc: "Entropy source." },
  VIRTIO_ID_BALLOON: { value: 5, doc: "Memory ballooning (traditional)." },
  VIRTIO_ID_IOMEM: { value: 6, doc: "ioMemory." },
  VIRTIO_ID_RPMSG: { value: 7, doc: "rpmsg." },
  VIRTIO_ID_SCSI: { value: 8, doc: "SCSI host." },
  VIRTIO_ID_9P: { value: 9, doc: "9P transport." },
  VIRTIO_ID_MAC80211_WLAN: { value: 10, doc: "mac80211 wlan." },
  VIRTIO_ID_RPROC_SERIAL: { value: 11, doc: "rproc serial." },
  VIRTIO_ID_CAIF: { value: 12, doc: "virtio CAIF." },
  VIRTIO_ID_MEMORY_BALLOON: { value: 13, doc: "Memory balloon." },
  VIRTIO_ID_GPU: { value: 16, doc: "GPU device." },
  VIRTIO_ID_CLOCK: { value: 17, doc: "RTC (Real Time Clock) device." },
  VIRTIO_ID_INPUT: { value: 18, doc: "Input device." },
  VIRTIO_ID_VSOCK: { value: 19, doc: "Socket device." },
  VIRTIO_ID_CRYPTO: { value: 20, doc: "Crypto device." },
  VIRTIO_ID_SIGNAL_DIST: { value: 21, doc: "Signal Distribution Module." },
  VIRTIO_ID_PSTORE: { value: 22, doc: "pstore device." },
  VIRTIO_ID_IOMMU: { value: 23, doc: "IOMMU device." },
  VIRTIO_ID_MEM: { value: 24, doc: "Memory device." },
  VIRTIO_ID_SOUND: { value: 25, doc: "Sound device." },
  VIRTIO_ID_FS: { value: 26, doc: "File system device." },
  VIRTIO_ID_PMEM: { value: 27, doc: "PMEM device." },
  VIRTIO_ID_RPMB: { value: 28, doc: "RPMB device." },
  VIRTIO_ID_MAC80211_HWSIM: { value: 29, doc: "mac80211 hwsim wireless simulation device." },
  VIRTIO_ID_VIDEO_ENCODER: { value: 30, doc: "Video encoder device." },
  VIRTIO_ID_VIDEO_DECODER: { value: 31, doc: "Video decoder device." },
  VIRTIO_ID_SCMI: { value: 32, doc: "SCMI device." },
  VIRTIO_ID_NITRO_SEC_MOD: { value: 33, doc: "NitroSecureModule." },
  VIRTIO_ID_I2C_ADAPTER: { value: 34, doc: "I2C adapter." },
  VIRTIO_ID_WATCHDOG: { value: 35, doc: "Watchdog." },
  VIRTIO_ID_CAN: { value: 36, doc: "CAN device." },
  VIRTIO_ID_PARAM_SERV: { value: 38, doc: "Parameter Server." },
  VIRTIO_ID_AUDIO_POLICY: { value: 39, doc: "Audio policy device." },
  VIRTIO_ID_BT: { value: 40, doc: "Bluetooth device." },
  VIRTIO_ID_GPIO: { value: 41, doc: "GPIO device." },
  VIRTIO_ID_RDMA: { value: 42, doc: "RDMA device." },
  VIRTIO_ID_CAMERA: { value: 43, doc: "Camera device." },
  VIRTIO_ID_ISM: { value: 44, doc: "ISM device." },
  VIRTIO_ID_SPI: { value: 45, doc: "SPI controller." },
  VIRTIO_ID_TEE: { value: 46, doc: "TEE device." },
  VIRTIO_ID_CPU_BALLOON: { value: 47, doc: "CPU balloon device." },
  VIRTIO_ID_MEDIA: { value: 48, doc: "Media device." },
  VIRTIO_ID_USB: { value: 49, doc: "USB controller." },
}, { doc: "5: device ids." });
