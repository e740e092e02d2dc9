// RPMB device layouts (spec 5.12), sizes and offsets typed in by hand from
// the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/rpmb.ts";

const expected: [StructType, number, Record<string, number>][] = [
  [s.virtio_rpmb_config, 3, { capacity: 0, max_wr_cnt: 1, max_rd_cnt: 2 }],
  [s.virtio_rpmb_frame, 512, {
    stuff: 0,
    key_mac: 196,
    data: 228,
    nonce: 484,
    write_counter: 500,
    address: 504,
    block_count: 506,
    result: 508,
    req_resp: 510,
  }],
];

Deno.test("rpmb structs match the spec's sizes and offsets", () => {
  for (const [t, size, offsets] of expected) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.params, [], t.name);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      t.name,
    );
  }
  const checked = new Set(expected.map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind === "struct") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

Deno.test("the rpmb frame's integers are big-endian", () => {
  for (const f of s.virtio_rpmb_frame.fields) {
    const t = f.type;
    if (t.kind === "scalar") assert.ok(!t.littleEndian && t.size > 1, f.name);
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("rpmb constants", () => {
  assert.deepEqual(values(s.virtio_rpmb_req_type), {
    VIRTIO_RPMB_REQ_PROGRAM_KEY: 1,
    VIRTIO_RPMB_REQ_GET_WRITE_COUNTER: 2,
    VIRTIO_RPMB_REQ_DATA_WRITE: 3,
    VIRTIO_RPMB_REQ_DATA_READ: 4,
    VIRTIO_RPMB_REQ_RESULT_READ: 5,
  });
  assert.deepEqual(values(s.virtio_rpmb_resp_type), {
    VIRTIO_RPMB_RESP_PROGRAM_KEY: 0x0100,
    VIRTIO_RPMB_RESP_GET_COUNTER: 0x0200,
    VIRTIO_RPMB_RESP_DATA_WRITE: 0x0300,
    VIRTIO_RPMB_RESP_DATA_READ: 0x0400,
  });
  const r = values(s.virtio_rpmb_result);
  assert.equal(r.VIRTIO_RPMB_RES_OK, 0);
  assert.equal(r.VIRTIO_RPMB_RES_NO_AUTH_KEY, 7);
  assert.equal(r.VIRTIO_RPMB_RES_WRITE_COUNTER_EXPIRED, 0x80);
  assert.equal(Object.keys(r).length, 9);
});
