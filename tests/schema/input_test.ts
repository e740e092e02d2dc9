// Input device layouts (spec 5.8), sizes and offsets typed in by hand from
// the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/input.ts";

const expected: [StructType | UnionType, number, Record<string, number>][] = [
  [s.virtio_input_absinfo, 20, { min: 0, max: 4, fuzz: 8, flat: 12, res: 16 }],
  [s.virtio_input_devids, 8, { bustype: 0, vendor: 2, product: 4, version: 6 }],
  [s.virtio_input_config_u, 128, { string: 0, bitmap: 0, abs: 0, ids: 0 }],
  [s.virtio_input_config, 136, { select: 0, subsel: 1, size: 2, reserved: 3, u: 8 }],
  [s.virtio_input_event, 8, { type: 0, code: 2, value: 4 }],
];

Deno.test("input structs match the spec's sizes and offsets", () => {
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
    if (v.kind !== "constants") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("input config select values", () => {
  assert.deepEqual(values(s.virtio_input_config_select), {
    VIRTIO_INPUT_CFG_UNSET: 0x00,
    VIRTIO_INPUT_CFG_ID_NAME: 0x01,
    VIRTIO_INPUT_CFG_ID_SERIAL: 0x02,
    VIRTIO_INPUT_CFG_ID_DEVIDS: 0x03,
    VIRTIO_INPUT_CFG_PROP_BITS: 0x10,
    VIRTIO_INPUT_CFG_EV_BITS: 0x11,
    VIRTIO_INPUT_CFG_ABS_INFO: 0x12,
  });
});

Deno.test("input config `size` gets a usable accessor name", () => {
  const f = s.virtio_input_config.fields.find((x) => x.name === "size");
  assert.equal(f?.accessor, "infoSize");
});
