/**
 * The SCMI device (spec 5.17): the message layouts of the command and event
 * queues and the shared memory region ids. There is no device
 * configuration space; message headers and payloads follow the Arm SCMI
 * specification.
 *
 * Queues: 0 cmdq, 1 eventq (only with VIRTIO_SCMI_F_P2A_CHANNELS).
 *
 * @module
 */
import {
  array,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le32,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.17.2: virtqueue indices. */
export const virtio_scmi_queues: ConstantGroup = enumeration("virtio_scmi_queues", {
  cmdq: { value: 0, doc: "Commands and their (non-delayed) responses." },
  eventq: {
    value: 1,
    doc: "Notifications and delayed responses; only with VIRTIO_SCMI_F_P2A_CHANNELS.",
  },
}, { doc: "5.17.2: virtqueue indices of the SCMI device.", exportMembers: false });

/** 5.17.3: feature bits. */
export const virtio_scmi_features: ConstantGroup = featureBits("virtio_scmi_features", {
  VIRTIO_SCMI_F_P2A_CHANNELS: {
    value: 0,
    doc: "The device implements notifications or delayed responses (the eventq exists).",
  },
  VIRTIO_SCMI_F_SHARED_MEMORY: {
    value: 1,
    doc: "The device implements SCMI statistics shared memory regions.",
  },
}, { doc: "5.17.3: SCMI device feature bits." });

/** 5.17.6.1: a command on the cmdq. */
export const virtio_scmi_request: StructType = struct("virtio_scmi_request", {
  hdr: doc(le32, "SCMI message header (device-readable)."),
  params: doc(array(u8, "params_len"), "SCMI message parameters (device-readable)."),
}, { doc: "5.17.6.1: SCMI command, the device-readable part of a cmdq buffer." });

/** 5.17.6.1: a response on the cmdq. */
export const virtio_scmi_response: StructType = struct("virtio_scmi_response", {
  hdr: doc(le32, "SCMI message header (device-writable)."),
  ret_values: doc(
    array(u8, "ret_values_len"),
    "SCMI return values (device-writable); only the status on failure.",
  ),
}, { doc: "5.17.6.1: SCMI response, the device-writable part of a cmdq buffer." });

/** 5.17.6.3: a message on the eventq. */
export const virtio_scmi_event_msg: StructType = struct("virtio_scmi_event_msg", {
  hdr: doc(le32, "SCMI message header (device-writable)."),
  payload: doc(
    array(u8, "payload_len"),
    "SCMI notification or delayed response payload (device-writable).",
  ),
}, { doc: "5.17.6.3: SCMI notification or delayed response in an eventq buffer." });

/** 5.17.6.4: virtio shared memory region ids of SCMI statistics regions (names ours). */
export const virtio_scmi_shmid: ConstantGroup = enumeration("virtio_scmi_shmid", {
  VIRTIO_SCMI_SHMID_RESERVED: { value: 0, doc: "Reserved (invalid)." },
  VIRTIO_SCMI_SHMID_POWER_STATE_STATS: {
    value: 1,
    doc: "Power state statistics shared memory region.",
  },
  VIRTIO_SCMI_SHMID_PERF_DOMAIN_STATS: {
    value: 2,
    doc: "Performance domain statistics shared memory region.",
  },
  VIRTIO_SCMI_SHMID_SENSOR_VALUES: { value: 3, doc: "Sensor values shared memory." },
  VIRTIO_SCMI_SHMID_VENDOR_FIRST: {
    value: 0x80,
    doc: "First vendor-specific statistics region (0x80..0xff); 4..0x7f and 0x100+ reserved.",
  },
  VIRTIO_SCMI_SHMID_VENDOR_LAST: { value: 0xff, doc: "Last vendor-specific statistics region." },
}, {
  doc: "5.17.6.4: shmid of each SCMI statistics shared memory region. The spec's table " +
    "has no constant names; these are ours.",
});
