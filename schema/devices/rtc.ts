/**
 * The RTC device (spec 5.23): request and response headers of the request
 * queue, the control, read and alarm control requests, alarm
 * notifications, and the clock, smearing, hardware counter and status codes.
 * There is no device configuration space.
 *
 * Queues: 0 requestq, 1 alarmq (only with VIRTIO_RTC_F_ALARM).
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
  le64,
  struct,
  type StructType,
  u8,
} from "../dsl.ts";

/** 5.23.2: virtqueue indices. */
export const virtio_rtc_queues: ConstantGroup = enumeration("virtio_rtc_queues", {
  requestq: { value: 0, doc: "Requests from the driver." },
  alarmq: { value: 1, doc: "Alarm notifications; only with VIRTIO_RTC_F_ALARM." },
}, { doc: "5.23.2: virtqueue indices of the RTC device.", exportMembers: false });

/** 5.23.3: feature bits. */
export const virtio_rtc_features: ConstantGroup = featureBits("virtio_rtc_features", {
  VIRTIO_RTC_F_ALARM: { value: 0, doc: "The device supports alarms (and the alarmq)." },
}, { doc: "5.23.3: RTC device feature bits." });

/** 5.23.6: response status codes. */
export const virtio_rtc_status: ConstantGroup = enumeration("virtio_rtc_status", {
  VIRTIO_RTC_S_OK: { value: 0, doc: "The request succeeded." },
  VIRTIO_RTC_S_EOPNOTSUPP: {
    value: 2,
    doc: "Not supported by the implementation, or unknown msg_type or hw_counter.",
  },
  VIRTIO_RTC_S_ENODEV: { value: 3, doc: "clock_id does not identify a clock." },
  VIRTIO_RTC_S_EINVAL: {
    value: 4,
    doc: "Invalid request values, or a buffer too small for the request or response.",
  },
  VIRTIO_RTC_S_EIO: { value: 5, doc: "An error not caused by the driver's input." },
}, { doc: "5.23.6: RTC response status (VIRTIO_RTC_S_*)." });

/** 5.23.6: the common request header. */
export const virtio_rtc_req_head: StructType = struct("virtio_rtc_req_head", {
  msg_type: doc(le16, "Message type (VIRTIO_RTC_REQ_*)."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6: common header of RTC requests." });

/** 5.23.6: the common response header. */
export const virtio_rtc_resp_head: StructType = struct("virtio_rtc_resp_head", {
  status: doc(u8, "Status (VIRTIO_RTC_S_*); other fields are meaningful only when OK."),
  reserved: doc(array(u8, 7), "Zero."),
}, { doc: "5.23.6: common header of RTC responses." });

/** 5.23.6.3.1: clock types. */
export const virtio_rtc_clock_type: ConstantGroup = enumeration("virtio_rtc_clock_type", {
  VIRTIO_RTC_CLOCK_UTC: {
    value: 0,
    doc: "UTC, Unix epoch; steps at the start of leap seconds.",
  },
  VIRTIO_RTC_CLOCK_TAI: { value: 1, doc: "TAI, epoch 1970-01-01 00:00 TAI." },
  VIRTIO_RTC_CLOCK_MONOTONIC: {
    value: 2,
    doc: "Monotonic physical time since an epoch before or during device reset.",
  },
  VIRTIO_RTC_CLOCK_UTC_SMEARED: {
    value: 3,
    doc: "UTC with leap seconds smeared instead of stepped.",
  },
  VIRTIO_RTC_CLOCK_UTC_MAYBE_SMEARED: {
    value: 4,
    doc: "UTC that may smear or step each leap second.",
  },
}, {
  doc: "5.23.6.3.1: RTC clock types (VIRTIO_RTC_CLOCK_*); 0xf0..0xff are " +
    "implementation-specific.",
});

/** 5.23.6.3.2: leap second smearing variants. */
export const virtio_rtc_smear: ConstantGroup = enumeration("virtio_rtc_smear", {
  VIRTIO_RTC_SMEAR_UNSPECIFIED: { value: 0, doc: "How leap seconds are smeared is unspecified." },
  VIRTIO_RTC_SMEAR_NOON_LINEAR: {
    value: 1,
    doc: "Linear smear from noon before to noon after the leap second.",
  },
  VIRTIO_RTC_SMEAR_UTC_SLS: { value: 2, doc: "Linear smear as per the UTC-SLS proposal." },
}, {
  doc: "5.23.6.3.2: RTC smearing variants (VIRTIO_RTC_SMEAR_*); 0xf0 and up are " +
    "implementation-specific.",
});

/** 5.23.6.3.3: hardware counter identifiers. */
export const virtio_rtc_counter: ConstantGroup = enumeration("virtio_rtc_counter", {
  VIRTIO_RTC_COUNTER_ARM_VCT: {
    value: 0,
    doc: "Arm Generic Timer virtual count register (CNTVCT_EL0).",
  },
  VIRTIO_RTC_COUNTER_X86_TSC: { value: 1, doc: "x86 Time-Stamp Counter." },
  VIRTIO_RTC_COUNTER_INVALID: { value: 0xff, doc: "Invalid." },
}, {
  doc: "5.23.6.3.3: RTC hardware counters (VIRTIO_RTC_COUNTER_*); 0xf0..0xfe are " +
    "implementation-specific.",
});

/** 5.23.6.4, 5.23.6.5, 5.23.6.6.2: request message types. */
export const virtio_rtc_req_type: ConstantGroup = enumeration("virtio_rtc_req_type", {
  VIRTIO_RTC_REQ_READ: { value: 0x0001, doc: "Read a clock." },
  VIRTIO_RTC_REQ_READ_CROSS: {
    value: 0x0002,
    doc: "Read a clock with a cross-timestamp of a hardware counter.",
  },
  VIRTIO_RTC_REQ_CFG: { value: 0x1000, doc: "Get the number of clocks." },
  VIRTIO_RTC_REQ_CLOCK_CAP: { value: 0x1001, doc: "Get a clock's capabilities." },
  VIRTIO_RTC_REQ_CROSS_CAP: {
    value: 0x1002,
    doc: "Ask whether a clock supports cross-timestamping with a hardware counter.",
  },
  VIRTIO_RTC_REQ_READ_ALARM: { value: 0x1003, doc: "Read a clock's alarm." },
  VIRTIO_RTC_REQ_SET_ALARM: { value: 0x1004, doc: "Set a clock's alarm time and state." },
  VIRTIO_RTC_REQ_SET_ALARM_ENABLED: {
    value: 0x1005,
    doc: "Enable or disable a clock's alarm.",
  },
}, { doc: "5.23.6: RTC request message types (VIRTIO_RTC_REQ_*)." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CFG request. */
export const virtio_rtc_req_cfg: StructType = struct("virtio_rtc_req_cfg", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_CFG; no parameters follow."),
}, { doc: "5.23.6.4: request for the number of clocks." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CFG response. */
export const virtio_rtc_resp_cfg: StructType = struct("virtio_rtc_resp_cfg", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  num_clocks: doc(le16, "Number of clocks; valid clock ids are below it."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.4: number of clocks." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CLOCK_CAP request. */
export const virtio_rtc_req_clock_cap: StructType = struct("virtio_rtc_req_clock_cap", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_CLOCK_CAP."),
  clock_id: doc(le16, "Clock id."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.4: request for a clock's capabilities." });

/** 5.23.6.4: `flags` of the VIRTIO_RTC_REQ_CLOCK_CAP response. */
export const virtio_rtc_clock_cap_flags: ConstantGroup = flags("virtio_rtc_clock_cap_flags", {
  VIRTIO_RTC_FLAG_ALARM_CAP: {
    value: 1 << 0,
    doc: "With VIRTIO_RTC_F_ALARM: the clock supports an alarm.",
  },
}, { doc: "5.23.6.4: clock capability flags (masks)." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CLOCK_CAP response. */
export const virtio_rtc_resp_clock_cap: StructType = struct("virtio_rtc_resp_clock_cap", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  type: doc(u8, "Clock type (VIRTIO_RTC_CLOCK_*)."),
  leap_second_smearing: doc(
    u8,
    "Smearing variant (VIRTIO_RTC_SMEAR_*) of a UTC_SMEARED clock; UNSPECIFIED for others.",
  ),
  flags: doc(u8, "Capability flags (VIRTIO_RTC_FLAG_ALARM_CAP)."),
  reserved: doc(array(u8, 5), "Zero."),
}, { doc: "5.23.6.4: a clock's capabilities." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CROSS_CAP request. */
export const virtio_rtc_req_cross_cap: StructType = struct("virtio_rtc_req_cross_cap", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_CROSS_CAP."),
  clock_id: doc(le16, "Clock id."),
  hw_counter: doc(u8, "Hardware counter (VIRTIO_RTC_COUNTER_*, or 0xf0..0xfe)."),
  reserved: doc(array(u8, 5), "Zero."),
}, { doc: "5.23.6.4: request asking whether a clock/counter pair supports cross-timestamping." });

/** 5.23.6.4: `flags` of the VIRTIO_RTC_REQ_CROSS_CAP response. */
export const virtio_rtc_cross_cap_flags: ConstantGroup = flags("virtio_rtc_cross_cap_flags", {
  VIRTIO_RTC_FLAG_CROSS_CAP: {
    value: 1 << 0,
    doc: "Cross-timestamping is supported for the clock and counter.",
  },
}, { doc: "5.23.6.4: cross-timestamp capability flags (masks)." });

/** 5.23.6.4: VIRTIO_RTC_REQ_CROSS_CAP response. */
export const virtio_rtc_resp_cross_cap: StructType = struct("virtio_rtc_resp_cross_cap", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  flags: doc(u8, "VIRTIO_RTC_FLAG_CROSS_CAP if supported."),
  reserved: doc(array(u8, 7), "Zero."),
}, { doc: "5.23.6.4: cross-timestamping support." });

/** 5.23.6.5: VIRTIO_RTC_REQ_READ request. */
export const virtio_rtc_req_read: StructType = struct("virtio_rtc_req_read", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_READ."),
  clock_id: doc(le16, "Clock id."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.5: request to read a clock." });

/** 5.23.6.5: VIRTIO_RTC_REQ_READ response. */
export const virtio_rtc_resp_read: StructType = struct("virtio_rtc_resp_read", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  clock_reading: doc(le64, "Clock reading in nanoseconds."),
}, { doc: "5.23.6.5: a clock reading." });

/** 5.23.6.5: VIRTIO_RTC_REQ_READ_CROSS request. */
export const virtio_rtc_req_read_cross: StructType = struct("virtio_rtc_req_read_cross", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_READ_CROSS."),
  clock_id: doc(le16, "Clock id."),
  hw_counter: doc(u8, "Hardware counter (VIRTIO_RTC_COUNTER_*)."),
  reserved: doc(array(u8, 5), "Zero."),
}, { doc: "5.23.6.5: request for a cross-timestamp." });

/** 5.23.6.5: VIRTIO_RTC_REQ_READ_CROSS response. */
export const virtio_rtc_resp_read_cross: StructType = struct("virtio_rtc_resp_read_cross", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  clock_reading: doc(le64, "Clock reading in nanoseconds."),
  counter_cycles: doc(le64, "Hardware counter value at the time of clock_reading."),
}, { doc: "5.23.6.5: a cross-timestamp: a clock reading and the matching counter value." });

/** 5.23.6.6.2: `flags` of the alarm requests and responses. */
export const virtio_rtc_alarm_flags: ConstantGroup = flags("virtio_rtc_alarm_flags", {
  VIRTIO_RTC_FLAG_ALARM_ENABLED: { value: 1 << 0, doc: "The alarm is (to be) enabled." },
}, { doc: "5.23.6.6.2: alarm flags (masks)." });

/** 5.23.6.6.2: VIRTIO_RTC_REQ_READ_ALARM request. */
export const virtio_rtc_req_read_alarm: StructType = struct("virtio_rtc_req_read_alarm", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_READ_ALARM."),
  clock_id: doc(le16, "Clock id."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.6.2: request to read a clock's alarm." });

/** 5.23.6.6.2: VIRTIO_RTC_REQ_READ_ALARM response. */
export const virtio_rtc_resp_read_alarm: StructType = struct("virtio_rtc_resp_read_alarm", {
  head: doc(virtio_rtc_resp_head, "Response header."),
  alarm_time: doc(le64, "Alarm time in nanoseconds."),
  flags: doc(u8, "VIRTIO_RTC_FLAG_ALARM_ENABLED if the alarm is enabled."),
  reserved: doc(array(u8, 7), "Zero."),
}, { doc: "5.23.6.6.2: a clock's alarm." });

/** 5.23.6.6.2: VIRTIO_RTC_REQ_SET_ALARM request. */
export const virtio_rtc_req_set_alarm: StructType = struct("virtio_rtc_req_set_alarm", {
  head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_SET_ALARM."),
  alarm_time: doc(le64, "Alarm time in nanoseconds."),
  clock_id: doc(le16, "Clock id."),
  flags: doc(u8, "VIRTIO_RTC_FLAG_ALARM_ENABLED to enable the alarm, clear to disable it."),
  reserved: doc(array(u8, 5), "Zero."),
}, { doc: "5.23.6.6.2: request to set a clock's alarm." });

/** 5.23.6.6.2: VIRTIO_RTC_REQ_SET_ALARM response. */
export const virtio_rtc_resp_set_alarm: StructType = struct("virtio_rtc_resp_set_alarm", {
  head: doc(virtio_rtc_resp_head, "Response header; no parameters follow."),
}, { doc: "5.23.6.6.2: result of setting an alarm." });

/** 5.23.6.6.2: VIRTIO_RTC_REQ_SET_ALARM_ENABLED request. */
export const virtio_rtc_req_set_alarm_enabled: StructType = struct(
  "virtio_rtc_req_set_alarm_enabled",
  {
    head: doc(virtio_rtc_req_head, "msg_type VIRTIO_RTC_REQ_SET_ALARM_ENABLED."),
    clock_id: doc(le16, "Clock id."),
    flags: doc(u8, "VIRTIO_RTC_FLAG_ALARM_ENABLED to enable the alarm, clear to disable it."),
    reserved: doc(array(u8, 5), "Zero."),
  },
  { doc: "5.23.6.6.2: request to enable or disable a clock's alarm." },
);

/** 5.23.6.6.2: VIRTIO_RTC_REQ_SET_ALARM_ENABLED response. */
export const virtio_rtc_resp_set_alarm_enabled: StructType = struct(
  "virtio_rtc_resp_set_alarm_enabled",
  {
    head: doc(virtio_rtc_resp_head, "Response header; no parameters follow."),
  },
  { doc: "5.23.6.6.2: result of enabling or disabling an alarm." },
);

/** 5.23.6.6.3: notification message types. */
export const virtio_rtc_notif_type: ConstantGroup = enumeration("virtio_rtc_notif_type", {
  VIRTIO_RTC_NOTIF_ALARM: { value: 0x2000, doc: "An alarm expired." },
}, { doc: "5.23.6.6.3: RTC notification message types (VIRTIO_RTC_NOTIF_*)." });

/** 5.23.6.6.3: the common notification header. */
export const virtio_rtc_notif_head: StructType = struct("virtio_rtc_notif_head", {
  msg_type: doc(le16, "Notification type (VIRTIO_RTC_NOTIF_*)."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.6.3: common header of alarmq notifications." });

/** 5.23.6.6.3: the alarm notification. */
export const virtio_rtc_notif_alarm: StructType = struct("virtio_rtc_notif_alarm", {
  head: doc(virtio_rtc_notif_head, "msg_type VIRTIO_RTC_NOTIF_ALARM."),
  clock_id: doc(le16, "Clock whose alarm expired."),
  reserved: doc(array(u8, 6), "Zero."),
}, { doc: "5.23.6.6.3: alarm expiration notification." });
