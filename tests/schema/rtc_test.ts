// RTC device layouts (spec 5.23), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as r from "../../schema/devices/rtc.ts";

const clockReq = { head: 0, clock_id: 8, reserved: 10 };
const counterReq = { head: 0, clock_id: 8, hw_counter: 10, reserved: 11 };
// struct: [size, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [r.virtio_rtc_req_head, 8, { msg_type: 0, reserved: 2 }],
  [r.virtio_rtc_resp_head, 8, { status: 0, reserved: 1 }],
  [r.virtio_rtc_req_cfg, 8, { head: 0 }],
  [r.virtio_rtc_resp_cfg, 16, { head: 0, num_clocks: 8, reserved: 10 }],
  [r.virtio_rtc_req_clock_cap, 16, clockReq],
  [r.virtio_rtc_resp_clock_cap, 16, {
    head: 0,
    type: 8,
    leap_second_smearing: 9,
    flags: 10,
    reserved: 11,
  }],
  [r.virtio_rtc_req_cross_cap, 16, counterReq],
  [r.virtio_rtc_resp_cross_cap, 16, { head: 0, flags: 8, reserved: 9 }],
  [r.virtio_rtc_req_read, 16, clockReq],
  [r.virtio_rtc_resp_read, 16, { head: 0, clock_reading: 8 }],
  [r.virtio_rtc_req_read_cross, 16, counterReq],
  [r.virtio_rtc_resp_read_cross, 24, { head: 0, clock_reading: 8, counter_cycles: 16 }],
  [r.virtio_rtc_req_read_alarm, 16, clockReq],
  [r.virtio_rtc_resp_read_alarm, 24, { head: 0, alarm_time: 8, flags: 16, reserved: 17 }],
  [r.virtio_rtc_req_set_alarm, 24, {
    head: 0,
    alarm_time: 8,
    clock_id: 16,
    flags: 18,
    reserved: 19,
  }],
  [r.virtio_rtc_resp_set_alarm, 8, { head: 0 }],
  [r.virtio_rtc_req_set_alarm_enabled, 16, { head: 0, clock_id: 8, flags: 10, reserved: 11 }],
  [r.virtio_rtc_resp_set_alarm_enabled, 8, { head: 0 }],
  [r.virtio_rtc_notif_head, 8, { msg_type: 0, reserved: 2 }],
  [r.virtio_rtc_notif_alarm, 16, clockReq],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("rtc layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
});

Deno.test("rtc constants match the spec", () => {
  assert.deepEqual(values(r.virtio_rtc_features), { VIRTIO_RTC_F_ALARM: 0 });
  assert.deepEqual(values(r.virtio_rtc_status), {
    VIRTIO_RTC_S_OK: 0,
    VIRTIO_RTC_S_EOPNOTSUPP: 2,
    VIRTIO_RTC_S_ENODEV: 3,
    VIRTIO_RTC_S_EINVAL: 4,
    VIRTIO_RTC_S_EIO: 5,
  });
  assert.deepEqual(values(r.virtio_rtc_clock_type), {
    VIRTIO_RTC_CLOCK_UTC: 0,
    VIRTIO_RTC_CLOCK_TAI: 1,
    VIRTIO_RTC_CLOCK_MONOTONIC: 2,
    VIRTIO_RTC_CLOCK_UTC_SMEARED: 3,
    VIRTIO_RTC_CLOCK_UTC_MAYBE_SMEARED: 4,
  });
  assert.deepEqual(values(r.virtio_rtc_smear), {
    VIRTIO_RTC_SMEAR_UNSPECIFIED: 0,
    VIRTIO_RTC_SMEAR_NOON_LINEAR: 1,
    VIRTIO_RTC_SMEAR_UTC_SLS: 2,
  });
  assert.deepEqual(values(r.virtio_rtc_counter), {
    VIRTIO_RTC_COUNTER_ARM_VCT: 0,
    VIRTIO_RTC_COUNTER_X86_TSC: 1,
    VIRTIO_RTC_COUNTER_INVALID: 0xff,
  });
  assert.deepEqual(values(r.virtio_rtc_req_type), {
    VIRTIO_RTC_REQ_READ: 0x0001,
    VIRTIO_RTC_REQ_READ_CROSS: 0x0002,
    VIRTIO_RTC_REQ_CFG: 0x1000,
    VIRTIO_RTC_REQ_CLOCK_CAP: 0x1001,
    VIRTIO_RTC_REQ_CROSS_CAP: 0x1002,
    VIRTIO_RTC_REQ_READ_ALARM: 0x1003,
    VIRTIO_RTC_REQ_SET_ALARM: 0x1004,
    VIRTIO_RTC_REQ_SET_ALARM_ENABLED: 0x1005,
  });
  assert.deepEqual(values(r.virtio_rtc_notif_type), { VIRTIO_RTC_NOTIF_ALARM: 0x2000 });
  assert.equal(values(r.virtio_rtc_clock_cap_flags).VIRTIO_RTC_FLAG_ALARM_CAP, 1);
  assert.equal(values(r.virtio_rtc_cross_cap_flags).VIRTIO_RTC_FLAG_CROSS_CAP, 1);
  assert.equal(values(r.virtio_rtc_alarm_flags).VIRTIO_RTC_FLAG_ALARM_ENABLED, 1);
});
