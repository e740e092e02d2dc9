// Virtio over channel I/O (spec 4.3): sizes and offsets typed in by hand from
// the spec's C structs (no padding; virtio_thinint_area is "exactly 25 bytes",
// virtio_feature_desc 5), and its command codes.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/ccw.ts";

const expected: [StructType, number, Record<string, number>, Record<string, number>?][] = [
  [s.virtio_rev_info, 4, { revision: 0, length: 2, data: 4 }, { data_len: 1 }],
  [s.vq_config_block, 4, { index: 0, max_queue_size: 2 }],
  [s.vq_info_block, 32, { desc: 0, res0: 8, index: 12, size: 14, driver: 16, device: 24 }],
  [s.vq_info_block_legacy, 16, { queue: 0, align: 8, index: 12, size: 14 }],
  [s.virtio_feature_desc, 5, { features: 0, index: 4 }],
  [s.virtio_thinint_area, 25, { summary_indicator: 0, indicator: 8, bit_nr: 16, isc: 24 }],
];

Deno.test("virtio-ccw structs match the spec's sizes and offsets", () => {
  for (const [t, size, offsets, terms = {}] of expected) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.paramTerms, terms, t.name);
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

Deno.test("virtio-ccw is big-endian except the feature word", () => {
  const endian = (t: StructType) =>
    Object.fromEntries(
      layout(t).fields.filter((f) => f.def.type.kind === "scalar").map((f) => [
        f.def.name,
        (f.def.type as { littleEndian: boolean }).littleEndian,
      ]),
    );
  assert.deepEqual(endian(s.vq_info_block), {
    desc: false,
    res0: false,
    index: false,
    size: false,
    driver: false,
    device: false,
  });
  assert.deepEqual(endian(s.virtio_feature_desc), { features: true, index: true });
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("virtio-ccw constants", () => {
  assert.deepEqual(values(s.virtio_ccw_cmd), {
    CCW_CMD_SET_VQ: 0x13,
    CCW_CMD_VDEV_RESET: 0x33,
    CCW_CMD_SET_IND: 0x43,
    CCW_CMD_SET_CONF_IND: 0x53,
    CCW_CMD_SET_IND_ADAPTER: 0x73,
    CCW_CMD_READ_FEAT: 0x12,
    CCW_CMD_WRITE_FEAT: 0x11,
    CCW_CMD_READ_CONF: 0x22,
    CCW_CMD_WRITE_CONF: 0x21,
    CCW_CMD_WRITE_STATUS: 0x31,
    CCW_CMD_READ_VQ_CONF: 0x32,
    CCW_CMD_SET_VIRTIO_REV: 0x83,
    CCW_CMD_READ_STATUS: 0x72,
  });
  assert.deepEqual(values(s.virtio_ccw_ids), {
    VIRTIO_CCW_CU_TYPE: 0x3832,
    VIRTIO_CCW_CHPID_TYPE: 0x32,
  });
  assert.deepEqual(values(s.virtio_ccw_revision), {
    VIRTIO_CCW_REV_LEGACY: 0,
    VIRTIO_CCW_REV_1: 1,
    VIRTIO_CCW_REV_2: 2,
  });
});

Deno.test("the generated virtio-ccw accessors write channel I/O's byte order", async () => {
  const g = await import("../../src/generated/ccw.ts");
  const buf = new Uint8Array(32);
  const vq = new g.VqInfoBlock(new DataView(buf.buffer));
  vq.desc = 0x0102030405060708n;
  vq.index = 0x0a0b;
  vq.queueSize = 0x0100;
  assert.deepEqual([...buf.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...buf.subarray(12, 16)], [0x0a, 0x0b, 0x01, 0x00]);
  const feat = new Uint8Array(5);
  const fd = new g.VirtioFeatureDesc(new DataView(feat.buffer));
  fd.features = 0x11223344;
  fd.index = 1;
  assert.deepEqual([...feat], [0x44, 0x33, 0x22, 0x11, 1]);
});
