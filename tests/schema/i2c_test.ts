// I2C adapter layouts (spec 5.16), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as i from "../../schema/devices/i2c.ts";

// struct: [size at buf_len 0, {field: offset at buf_len 0}]
const table: [StructType, number, Record<string, number>][] = [
  [i.virtio_i2c_out_hdr, 8, { addr: 0, padding: 2, flags: 4 }],
  [i.virtio_i2c_in_hdr, 1, { status: 0 }],
  [i.virtio_i2c_req, 9, { out_hdr: 0, buf: 8, in_hdr: 8 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("i2c layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  // in_hdr follows the variable-length buf: 8 + buf_len.
  const req = layout(i.virtio_i2c_req);
  assert.deepEqual(req.fields.find((f) => f.def.name === "in_hdr")?.paramTerms, { buf_len: 1 });
  assert.deepEqual(req.paramTerms, { buf_len: 1 });
});

Deno.test("i2c constants match the spec", () => {
  assert.deepEqual(values(i.virtio_i2c_features), { VIRTIO_I2C_F_ZERO_LENGTH_REQUEST: 0 });
  assert.deepEqual(values(i.virtio_i2c_flags), {
    VIRTIO_I2C_FLAGS_FAIL_NEXT: 0,
    VIRTIO_I2C_FLAGS_M_RD: 1,
  });
  assert.deepEqual(values(i.virtio_i2c_msg_status), {
    VIRTIO_I2C_MSG_OK: 0,
    VIRTIO_I2C_MSG_ERR: 1,
  });
});
