/**
 * The SCSI host device (spec 5.6): its configuration layout, the command
 * request of the request queues, the control queue's task management and
 * asynchronous notification requests, the event of the eventq, and their
 * codes. Everything is little-endian.
 *
 * `virtio_scsi_req_cmd` is the spec's single struct for both the
 * device-readable and the device-writable parts, with the T10 protection
 * information fields included (they are present only with
 * VIRTIO_SCSI_F_T10_PI).
 *
 * @module
 */
import {
  array,
  be16,
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

/** 5.6.2: virtqueue indices. */
export const virtio_scsi_queues: ConstantGroup = enumeration("virtio_scsi_queues", {
  controlq: { value: 0, doc: "Task management and asynchronous notification requests." },
  eventq: { value: 1, doc: "Events from the device." },
  request_queues: {
    value: 2,
    doc: "First request queue; request queue i (from 0) is at 2 + i, up to num_queues.",
  },
}, { doc: "5.6.2: virtqueue indices of the SCSI host device.", exportMembers: false });

/** 5.6.3: SCSI host device feature bits. */
export const virtio_scsi_features: ConstantGroup = featureBits("virtio_scsi_features", {
  VIRTIO_SCSI_F_INOUT: {
    value: 0,
    doc: "A request may have both device-readable and device-writable data buffers.",
  },
  VIRTIO_SCSI_F_HOTPLUG: {
    value: 1,
    doc: "Hot-plug and hot-unplug events for LUNs and targets are reported.",
  },
  VIRTIO_SCSI_F_CHANGE: {
    value: 2,
    doc: "LUN parameter changes are reported with VIRTIO_SCSI_T_PARAM_CHANGE.",
  },
  VIRTIO_SCSI_F_T10_PI: {
    value: 3,
    doc: "The request header has the T10 protection information (DIF/DIX) fields.",
  },
}, { doc: "5.6.3: SCSI host device feature bits (bit numbers)." });

/** 5.6.4: the SCSI host device's configuration layout. */
export const virtio_scsi_config: StructType = struct("virtio_scsi_config", {
  num_queues: doc(le32, "Number of request virtqueues."),
  seg_max: doc(le32, "Maximum segments in a command (each way for bidirectional commands)."),
  max_sectors: doc(le32, "Hint: maximum transfer size."),
  cmd_per_lun: doc(le32, "Maximum linked commands to one LUN."),
  event_info_size: doc(le32, "Maximum bytes the device writes into an eventq buffer."),
  sense_size: doc(le32, "Maximum sense data size; 96 after reset, driver-writable."),
  cdb_size: doc(le32, "Maximum CDB size; 32 after reset, driver-writable."),
  max_channel: doc(le16, "Hint: highest channel number (should be 0)."),
  max_target: doc(le16, "Hint: highest target number (should be at most 255)."),
  max_lun: doc(le32, "Hint: highest LUN (should be at most 16383)."),
}, { doc: "5.6.4: SCSI host configuration layout." });

/** 5.6.6.1: a command request on a request queue. */
export const virtio_scsi_req_cmd: StructType = struct("virtio_scsi_req_cmd", {
  lun: doc(
    array(u8, 8),
    "Logical unit: 1, target, 2-byte single level LUN, 4 zero bytes; or 0xC1 0x01 and six " +
      "zeroes for the REPORT LUNS well-known LU.",
  ),
  id: doc(le64, "Command identifier (tag)."),
  task_attr: doc(u8, "Task attribute: VIRTIO_SCSI_S_SIMPLE, _ORDERED, _HEAD or _ACA."),
  prio: doc(u8, "Command priority (should be 0)."),
  crn: doc(u8, "Command reference number (should be 0)."),
  cdb: doc(array(u8, "cdb_size"), "The CDB; cdb_size from the configuration space."),
  pi_bytesout: doc(le32, "With VIRTIO_SCSI_F_T10_PI: size of pi_out in bytes."),
  pi_bytesin: doc(le32, "With VIRTIO_SCSI_F_T10_PI: size of pi_in in bytes."),
  pi_out: doc(
    array(u8, "pi_out_len"),
    "With VIRTIO_SCSI_F_T10_PI: outgoing protection information; pi_out_len equals " +
      "pi_bytesout.",
  ),
  dataout: doc(array(u8, "dataout_len"), "Data output buffer (end of the device-readable part)."),
  sense_len: doc(le32, "Device-writable from here: bytes written to sense."),
  residual: doc(le32, "Data length minus bytes transferred."),
  status_qualifier: doc(le16, "SCSI status qualifier."),
  status: doc(u8, "SCSI status code (SAM)."),
  response: doc(u8, "VIRTIO_SCSI_S_* response (virtio_scsi_response)."),
  sense: doc(array(u8, "sense_size"), "Sense data; sense_size from the configuration space."),
  pi_in: doc(
    array(u8, "pi_in_len"),
    "With VIRTIO_SCSI_F_T10_PI: incoming protection information; pi_in_len equals pi_bytesin.",
  ),
  datain: doc(array(u8, "datain_len"), "Data input buffer."),
}, {
  doc: "5.6.6.1: command request, device-readable part (lun to dataout) then device-writable " +
    "part (sense_len to datain). pi_bytesout, pi_bytesin, pi_out and pi_in exist only with " +
    "VIRTIO_SCSI_F_T10_PI.",
});

/** 5.6.6.1: values of `virtio_scsi_req_cmd.response` and of the controlq responses. */
export const virtio_scsi_response: ConstantGroup = enumeration("virtio_scsi_response", {
  VIRTIO_SCSI_S_OK: { value: 0, doc: "Completed; status holds the SCSI status." },
  VIRTIO_SCSI_S_OVERRUN: { value: 1, doc: "The CDB needs more data than the buffers hold." },
  VIRTIO_SCSI_S_ABORTED: { value: 2, doc: "Cancelled by ABORT TASK or ABORT TASK SET." },
  VIRTIO_SCSI_S_BAD_TARGET: { value: 3, doc: "The target in lun does not exist." },
  VIRTIO_SCSI_S_RESET: { value: 4, doc: "Cancelled by a bus or device reset." },
  VIRTIO_SCSI_S_BUSY: { value: 5, doc: "Failed; retrying on the same path will likely work." },
  VIRTIO_SCSI_S_TRANSPORT_FAILURE: {
    value: 6,
    doc: "Failed: problem in the host-target connection.",
  },
  VIRTIO_SCSI_S_TARGET_FAILURE: {
    value: 7,
    doc: "Target failure; do not retry on other paths.",
  },
  VIRTIO_SCSI_S_NEXUS_FAILURE: {
    value: 8,
    doc: "Nexus failure; other paths may give another result.",
  },
  VIRTIO_SCSI_S_FAILURE: { value: 9, doc: "Other host or driver error." },
  VIRTIO_SCSI_S_INCORRECT_LUN: { value: 12, doc: "Controlq: incorrect LUN." },
}, { doc: "5.6.6.1, 5.6.6.2: request and controlq response values." });

/** 5.6.6.1: values of `virtio_scsi_req_cmd.task_attr`. */
export const virtio_scsi_task_attr: ConstantGroup = enumeration("virtio_scsi_task_attr", {
  VIRTIO_SCSI_S_SIMPLE: { value: 0, doc: "Simple task." },
  VIRTIO_SCSI_S_ORDERED: { value: 1, doc: "Ordered task." },
  VIRTIO_SCSI_S_HEAD: { value: 2, doc: "Head of queue task." },
  VIRTIO_SCSI_S_ACA: { value: 3, doc: "ACA task." },
}, { doc: "5.6.6.1: task attributes (the device may treat all as SIMPLE)." });

/** 5.6.6.2: the start and end every controlq request shares. */
export const virtio_scsi_ctrl: StructType = struct("virtio_scsi_ctrl", {
  type: doc(le32, "VIRTIO_SCSI_T_* request type; identifies the fields that follow."),
  fields: doc(
    array(u8, "fields_len"),
    "The type-specific fields (elided as `...` in the spec; this name is ours).",
  ),
  response: doc(u8, "Written by the device: VIRTIO_SCSI_S_* response."),
}, { doc: "5.6.6.2: generic controlq request." });

/** 5.6.6.2: controlq request types (`virtio_scsi_ctrl.type`). */
export const virtio_scsi_ctrl_type: ConstantGroup = enumeration("virtio_scsi_ctrl_type", {
  VIRTIO_SCSI_T_TMF: { value: 0, doc: "Task management function (virtio_scsi_ctrl_tmf)." },
  VIRTIO_SCSI_T_AN_QUERY: {
    value: 1,
    doc: "Asynchronous notification query (virtio_scsi_ctrl_an).",
  },
  VIRTIO_SCSI_T_AN_SUBSCRIBE: {
    value: 2,
    doc: "Asynchronous notification subscription (virtio_scsi_ctrl_an).",
  },
}, { doc: "5.6.6.2: controlq request types." });

/** 5.6.6.2: a task management function request. */
export const virtio_scsi_ctrl_tmf: StructType = struct("virtio_scsi_ctrl_tmf", {
  type: doc(le32, "VIRTIO_SCSI_T_TMF."),
  subtype: doc(le32, "The function: VIRTIO_SCSI_T_TMF_*."),
  lun: doc(array(u8, 8), "Logical unit, as for request queues."),
  id: doc(le64, "For functions on one command: its id on the request queue."),
  response: doc(u8, "Written by the device: VIRTIO_SCSI_S_FUNCTION_* or another VIRTIO_SCSI_S_*."),
}, { doc: "5.6.6.2: task management function request (25 bytes, no padding)." });

/** 5.6.6.2: values of `virtio_scsi_ctrl_tmf.subtype`. */
export const virtio_scsi_tmf_subtype: ConstantGroup = enumeration("virtio_scsi_tmf_subtype", {
  VIRTIO_SCSI_T_TMF_ABORT_TASK: { value: 0, doc: "Abort task." },
  VIRTIO_SCSI_T_TMF_ABORT_TASK_SET: { value: 1, doc: "Abort task set." },
  VIRTIO_SCSI_T_TMF_CLEAR_ACA: { value: 2, doc: "Clear ACA." },
  VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET: { value: 3, doc: "Clear task set." },
  VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET: { value: 4, doc: "I_T nexus reset." },
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET: { value: 5, doc: "Logical unit reset." },
  VIRTIO_SCSI_T_TMF_QUERY_TASK: { value: 6, doc: "Query task." },
  VIRTIO_SCSI_T_TMF_QUERY_TASK_SET: { value: 7, doc: "Query task set." },
}, { doc: "5.6.6.2: task management functions." });

/** 5.6.6.2: task management function responses. */
export const virtio_scsi_tmf_response: ConstantGroup = enumeration("virtio_scsi_tmf_response", {
  VIRTIO_SCSI_S_FUNCTION_COMPLETE: { value: 0, doc: "Function complete." },
  VIRTIO_SCSI_S_FUNCTION_SUCCEEDED: { value: 10, doc: "Function succeeded." },
  VIRTIO_SCSI_S_FUNCTION_REJECTED: { value: 11, doc: "Function rejected." },
}, { doc: "5.6.6.2: task management specific response values (SAM)." });

/** 5.6.6.2: an asynchronous notification query or subscription. */
export const virtio_scsi_ctrl_an: StructType = struct("virtio_scsi_ctrl_an", {
  type: doc(le32, "VIRTIO_SCSI_T_AN_QUERY or VIRTIO_SCSI_T_AN_SUBSCRIBE."),
  lun: doc(array(u8, 8), "Logical unit."),
  event_requested: doc(le32, "VIRTIO_SCSI_EVT_ASYNC_* events the driver is interested in."),
  event_actual: doc(le32, "Written by the device: the events it supports."),
  response: doc(u8, "Written by the device: VIRTIO_SCSI_S_* response."),
}, { doc: "5.6.6.2: asynchronous notification query / subscription (21 bytes, no padding)." });

/** 5.6.6.2: asynchronous event bits (`event_requested`, `event_actual`, event `reason`). */
export const virtio_scsi_evt_async: ConstantGroup = flags("virtio_scsi_evt_async", {
  VIRTIO_SCSI_EVT_ASYNC_OPERATIONAL_CHANGE: { value: 2, doc: "Operational change." },
  VIRTIO_SCSI_EVT_ASYNC_POWER_MGMT: { value: 4, doc: "Power management." },
  VIRTIO_SCSI_EVT_ASYNC_EXTERNAL_REQUEST: { value: 8, doc: "External request." },
  VIRTIO_SCSI_EVT_ASYNC_MEDIA_CHANGE: { value: 16, doc: "Media change." },
  VIRTIO_SCSI_EVT_ASYNC_MULTI_HOST: { value: 32, doc: "Multi-host." },
  VIRTIO_SCSI_EVT_ASYNC_DEVICE_BUSY: { value: 64, doc: "Device busy." },
}, { doc: "5.6.6.2: asynchronous notification event bits (SCSI MMC)." });

/** 5.6.6.3: an event on the eventq. */
export const virtio_scsi_event: StructType = struct("virtio_scsi_event", {
  event: doc(
    le32,
    "VIRTIO_SCSI_T_* event, with VIRTIO_SCSI_T_EVENTS_MISSED (bit 31) if events were lost.",
  ),
  lun: doc(array(u8, 8), "Logical unit the event is about."),
  reason: doc(
    le32,
    "Event-specific: VIRTIO_SCSI_EVT_RESET_*, VIRTIO_SCSI_EVT_ASYNC_* bits, or for " +
      "PARAM_CHANGE the ASC in bits 0-7 and ASCQ in bits 8-15.",
  ),
}, { doc: "5.6.6.3: eventq event (device-writable)." });

/** 5.6.6.3: values of `virtio_scsi_event.event` (bit 31 aside). */
export const virtio_scsi_event_type: ConstantGroup = enumeration("virtio_scsi_event_type", {
  VIRTIO_SCSI_T_NO_EVENT: {
    value: 0,
    doc: "No event (short buffer, or only reporting missed events).",
  },
  VIRTIO_SCSI_T_TRANSPORT_RESET: {
    value: 1,
    doc: "A logical unit was reset, appeared or disappeared.",
  },
  VIRTIO_SCSI_T_ASYNC_NOTIFY: { value: 2, doc: "An asynchronous event the driver subscribed to." },
  VIRTIO_SCSI_T_PARAM_CHANGE: { value: 3, doc: "A logical unit's parameters changed." },
}, { doc: "5.6.6.3: eventq event types." });

/** 5.6.6.3: flag bit of `virtio_scsi_event.event`. */
export const virtio_scsi_event_flags: ConstantGroup = flags("virtio_scsi_event_flags", {
  VIRTIO_SCSI_T_EVENTS_MISSED: {
    value: 0x80000000,
    doc: "Events were lost for lack of eventq buffers.",
  },
}, { doc: "5.6.6.3: eventq event flag." });

/** 5.6.6.3: `virtio_scsi_event.reason` values of VIRTIO_SCSI_T_TRANSPORT_RESET. */
export const virtio_scsi_evt_reset: ConstantGroup = enumeration("virtio_scsi_evt_reset", {
  VIRTIO_SCSI_EVT_RESET_HARD: { value: 0, doc: "LUN hard reset; still present." },
  VIRTIO_SCSI_EVT_RESET_RESCAN: {
    value: 1,
    doc: "Target or LUN appeared; rescan (with VIRTIO_SCSI_F_HOTPLUG).",
  },
  VIRTIO_SCSI_EVT_RESET_REMOVED: {
    value: 2,
    doc: "Target or LUN removed (with VIRTIO_SCSI_F_HOTPLUG).",
  },
}, { doc: "5.6.6.3: transport reset reasons." });

/** 5.6.6.1: the LUN field of requests and events, as the spec encodes it. */
export const virtio_scsi_lun: StructType = struct("virtio_scsi_lun", {
  addressing: doc(u8, "1 for a target LUN; 0xC1 for the REPORT LUNS well-known LU."),
  target: doc(u8, "Target number."),
  single_level: bits(be16, {
    lun_id: { width: 14, doc: "The LUN (0..16383)." },
    lun_address_method: { width: 2, doc: "1: flat space addressing, as the spec asks." },
  }),
  lun_reserved: doc(array(u8, 4), "Zero."),
}, { doc: "5.6.6.1: the 8-byte lun field (big-endian within, as SAM has it)." });

/** 5.6.6.1: the device-readable header of a command request, before the CDB. */
export const virtio_scsi_cmd_req_hdr: StructType = struct("virtio_scsi_cmd_req_hdr", {
  lun: doc(array(u8, 8), "Logical unit (virtio_scsi_lun)."),
  id: doc(le64, "Command identifier (tag)."),
  task_attr: doc(u8, "VIRTIO_SCSI_S_SIMPLE, _ORDERED, _HEAD or _ACA."),
  prio: doc(u8, "Command priority."),
  crn: doc(u8, "Command reference number."),
}, {
  doc: "5.6.6.1: the start of virtio_scsi_req_cmd's device-readable part (19 bytes); the CDB " +
    "of cdb_size bytes and the data-out follow (without VIRTIO_SCSI_F_T10_PI).",
});

/** 5.6.6.1: the device-writable header of a command request, before the sense data. */
export const virtio_scsi_cmd_resp_hdr: StructType = struct("virtio_scsi_cmd_resp_hdr", {
  sense_len: doc(le32, "Bytes written to sense."),
  residual: doc(le32, "Data length minus bytes transferred."),
  status_qualifier: doc(le16, "SCSI status qualifier."),
  status: doc(u8, "SCSI status code (SAM)."),
  response: doc(u8, "VIRTIO_SCSI_S_* response."),
}, {
  doc: "5.6.6.1: the start of virtio_scsi_req_cmd's device-writable part (12 bytes); sense " +
    "of sense_size bytes and the data-in follow (without VIRTIO_SCSI_F_T10_PI).",
});
