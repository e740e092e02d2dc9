// PMEM device layouts (spec 5.19), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as p from "../../schema/devices/pmem.ts";

// struct: [size, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [p.virtio_pmem_config, 16, { start: 0, size: 8 }],
  [p.virtio_pmem_req, 4, { type: 0 }],
  [p.virtio_pmem_resp, 4, { ret: 0 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("pmem layouts match the spec", () => {
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

Deno.test("pmem constants match the spec", () => {
  assert.deepEqual(values(p.virtio_pmem_features), { VIRTIO_PMEM_F_SHMEM_REGION: 0 });
  assert.deepEqual(values(p.virtio_pmem_req_type), { VIRTIO_PMEM_REQ_TYPE_FLUSH: 0 });
});
