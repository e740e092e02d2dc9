// Offsets and sizes of the SCSI host device layouts, typed in by hand from
// the spec's C structs (5.6.4, 5.6.6.1-5.6.6.3), plus constant values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as scsi from "../../schema/devices/scsi.ts";

/** A field's offset, or its offset at parameters 0 with the bytes added per parameter unit. */
type Off = number | [number, Record<string, number>];

function check(t: StructType, size: Off, fields: Record<string, Off>): void {
  const l = layout(t);
  const [s, sTerms] = typeof size === "number" ? [size, {}] : size;
  assert.equal(l.size, s, `${t.name} size`);
  assert.deepEqual({ ...l.paramTerms }, sTerms, `${t.name} size terms`);
  const got: Record<string, Off> = {};
  for (const f of l.fields) {
    const terms = { ...f.paramTerms };
    got[f.def.name] = Object.keys(terms).length === 0 ? f.offset : [f.offset, terms];
  }
  assert.deepEqual(got, fields, `${t.name} offsets`);
}

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

// Bytes each parameter-length array of virtio_scsi_req_cmd adds, cumulatively.
const c = { cdb_size: 1 };
const cp = { ...c, pi_out_len: 1 };
const cpd = { ...cp, dataout_len: 1 };
const cpds = { ...cpd, sense_size: 1 };
const cpdsp = { ...cpds, pi_in_len: 1 };

const expected: [StructType, Off, Record<string, Off>][] = [
  [scsi.virtio_scsi_config, 36, {
    num_queues: 0,
    seg_max: 4,
    max_sectors: 8,
    cmd_per_lun: 12,
    event_info_size: 16,
    sense_size: 20,
    cdb_size: 24,
    max_channel: 28,
    max_target: 30,
    max_lun: 32,
  }],
  [scsi.virtio_scsi_req_cmd, [39, { ...cpdsp, datain_len: 1 }], {
    lun: 0,
    id: 8,
    task_attr: 16,
    prio: 17,
    crn: 18,
    cdb: 19,
    pi_bytesout: [19, c],
    pi_bytesin: [23, c],
    pi_out: [27, c],
    dataout: [27, cp],
    sense_len: [27, cpd],
    residual: [31, cpd],
    status_qualifier: [35, cpd],
    status: [37, cpd],
    response: [38, cpd],
    sense: [39, cpd],
    pi_in: [39, cpds],
    datain: [39, cpdsp],
  }],
  [scsi.virtio_scsi_ctrl, [5, { fields_len: 1 }], {
    type: 0,
    fields: 4,
    response: [4, { fields_len: 1 }],
  }],
  [scsi.virtio_scsi_ctrl_tmf, 25, { type: 0, subtype: 4, lun: 8, id: 16, response: 24 }],
  [scsi.virtio_scsi_ctrl_an, 21, {
    type: 0,
    lun: 4,
    event_requested: 12,
    event_actual: 16,
    response: 20,
  }],
  [scsi.virtio_scsi_event, 16, { event: 0, lun: 4, reason: 12 }],
  // The fixed starts of 5.6.6.1's request (lun, id, task_attr, prio, crn) and response
  // (sense_len, residual, status_qualifier, status, response), and SAM's flat-space lun field.
  [scsi.virtio_scsi_cmd_req_hdr, 19, { lun: 0, id: 8, task_attr: 16, prio: 17, crn: 18 }],
  [scsi.virtio_scsi_cmd_resp_hdr, 12, {
    sense_len: 0,
    residual: 4,
    status_qualifier: 8,
    status: 10,
    response: 11,
  }],
  [scsi.virtio_scsi_lun, 8, { addressing: 0, target: 1, single_level: 2, lun_reserved: 4 }],
];

Deno.test("SCSI host device layouts match the spec", () => {
  for (const [t, size, fields] of expected) check(t, size, fields);
  const exported = Object.values(scsi).filter((v) => v.kind !== "constants").map((v) => v.name);
  assert.deepEqual(exported.sort(), expected.map(([t]) => t.name).sort());
});

Deno.test("SCSI host device constants match the spec", () => {
  assert.deepEqual(values(scsi.virtio_scsi_queues), { controlq: 0, eventq: 1, request_queues: 2 });
  assert.deepEqual(values(scsi.virtio_scsi_features), {
    VIRTIO_SCSI_F_INOUT: 0,
    VIRTIO_SCSI_F_HOTPLUG: 1,
    VIRTIO_SCSI_F_CHANGE: 2,
    VIRTIO_SCSI_F_T10_PI: 3,
  });
  assert.deepEqual(values(scsi.virtio_scsi_response), {
    VIRTIO_SCSI_S_OK: 0,
    VIRTIO_SCSI_S_OVERRUN: 1,
    VIRTIO_SCSI_S_ABORTED: 2,
    VIRTIO_SCSI_S_BAD_TARGET: 3,
    VIRTIO_SCSI_S_RESET: 4,
    VIRTIO_SCSI_S_BUSY: 5,
    VIRTIO_SCSI_S_TRANSPORT_FAILURE: 6,
    VIRTIO_SCSI_S_TARGET_FAILURE: 7,
    VIRTIO_SCSI_S_NEXUS_FAILURE: 8,
    VIRTIO_SCSI_S_FAILURE: 9,
    VIRTIO_SCSI_S_INCORRECT_LUN: 12,
  });
  assert.deepEqual(values(scsi.virtio_scsi_task_attr), {
    VIRTIO_SCSI_S_SIMPLE: 0,
    VIRTIO_SCSI_S_ORDERED: 1,
    VIRTIO_SCSI_S_HEAD: 2,
    VIRTIO_SCSI_S_ACA: 3,
  });
  assert.deepEqual(values(scsi.virtio_scsi_ctrl_type), {
    VIRTIO_SCSI_T_TMF: 0,
    VIRTIO_SCSI_T_AN_QUERY: 1,
    VIRTIO_SCSI_T_AN_SUBSCRIBE: 2,
  });
  const tmf = values(scsi.virtio_scsi_tmf_subtype);
  assert.equal(tmf.VIRTIO_SCSI_T_TMF_ABORT_TASK, 0);
  assert.equal(tmf.VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 4);
  assert.equal(tmf.VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 7);
  assert.deepEqual(values(scsi.virtio_scsi_tmf_response), {
    VIRTIO_SCSI_S_FUNCTION_COMPLETE: 0,
    VIRTIO_SCSI_S_FUNCTION_SUCCEEDED: 10,
    VIRTIO_SCSI_S_FUNCTION_REJECTED: 11,
  });
  const an = values(scsi.virtio_scsi_evt_async);
  assert.equal(an.VIRTIO_SCSI_EVT_ASYNC_OPERATIONAL_CHANGE, 2);
  assert.equal(an.VIRTIO_SCSI_EVT_ASYNC_DEVICE_BUSY, 64);
  assert.deepEqual(values(scsi.virtio_scsi_event_type), {
    VIRTIO_SCSI_T_NO_EVENT: 0,
    VIRTIO_SCSI_T_TRANSPORT_RESET: 1,
    VIRTIO_SCSI_T_ASYNC_NOTIFY: 2,
    VIRTIO_SCSI_T_PARAM_CHANGE: 3,
  });
  assert.equal(values(scsi.virtio_scsi_event_flags).VIRTIO_SCSI_T_EVENTS_MISSED, 0x80000000);
  assert.deepEqual(values(scsi.virtio_scsi_evt_reset), {
    VIRTIO_SCSI_EVT_RESET_HARD: 0,
    VIRTIO_SCSI_EVT_RESET_RESCAN: 1,
    VIRTIO_SCSI_EVT_RESET_REMOVED: 2,
  });
});
