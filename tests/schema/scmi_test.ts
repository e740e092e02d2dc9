// SCMI device layouts (spec 5.17), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/scmi.ts";

// struct: [size at length 0, {field: offset}, parameter of the trailing array]
const table: [StructType, number, Record<string, number>, string][] = [
  [s.virtio_scmi_request, 4, { hdr: 0, params: 4 }, "params_len"],
  [s.virtio_scmi_response, 4, { hdr: 0, ret_values: 4 }, "ret_values_len"],
  [s.virtio_scmi_event_msg, 4, { hdr: 0, payload: 4 }, "payload_len"],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("scmi layouts match the spec", () => {
  for (const [t, size, offsets, param] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
    assert.deepEqual(l.paramTerms, { [param]: 1 }, `${t.name} grows by one byte per unit`);
  }
});

Deno.test("scmi constants match the spec", () => {
  assert.deepEqual(values(s.virtio_scmi_features), {
    VIRTIO_SCMI_F_P2A_CHANNELS: 0,
    VIRTIO_SCMI_F_SHARED_MEMORY: 1,
  });
  const shm = values(s.virtio_scmi_shmid);
  assert.equal(shm.VIRTIO_SCMI_SHMID_POWER_STATE_STATS, 1);
  assert.equal(shm.VIRTIO_SCMI_SHMID_PERF_DOMAIN_STATS, 2);
  assert.equal(shm.VIRTIO_SCMI_SHMID_SENSOR_VALUES, 3);
  assert.equal(shm.VIRTIO_SCMI_SHMID_VENDOR_FIRST, 0x80);
  assert.equal(shm.VIRTIO_SCMI_SHMID_VENDOR_LAST, 0xff);
});
