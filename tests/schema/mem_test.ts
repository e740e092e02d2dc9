// Memory device layouts (spec 5.15), typed in by hand from the spec's C
// structs; the spec itself states requests are 24 bytes, responses 10.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as m from "../../schema/devices/mem.ts";

const blockReq = { addr: 0, nb_blocks: 8, padding: 10 };
// struct: [size, {field: offset}]
const table: [StructType | UnionType, number, Record<string, number>][] = [
  [m.virtio_mem_config, 56, {
    block_size: 0,
    node_id: 8,
    padding: 10,
    addr: 16,
    region_size: 24,
    usable_region_size: 32,
    plugged_size: 40,
    requested_size: 48,
  }],
  [m.virtio_mem_req_plug, 16, blockReq],
  [m.virtio_mem_req_unplug, 16, blockReq],
  [m.virtio_mem_req_state, 16, blockReq],
  [m.virtio_mem_req_u, 16, { plug: 0, unplug: 0, state: 0 }],
  [m.virtio_mem_req, 24, { type: 0, padding: 2, u: 8 }],
  [m.virtio_mem_resp_state, 2, { type: 0 }],
  [m.virtio_mem_resp_u, 2, { state: 0 }],
  [m.virtio_mem_resp, 10, { type: 0, padding: 2, u: 8 }],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

Deno.test("mem layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  const addrField = layout(m.virtio_mem_config).fields.find((f) => f.def.name === "addr");
  assert.equal(addrField?.def.asNumber, true);
});

Deno.test("mem constants match the spec", () => {
  assert.deepEqual(values(m.virtio_mem_features), {
    VIRTIO_MEM_F_ACPI_PXM: 0,
    VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE: 1,
    VIRTIO_MEM_F_PERSISTENT_SUSPEND: 2,
  });
  assert.deepEqual(values(m.virtio_mem_req_type), {
    VIRTIO_MEM_REQ_PLUG: 0,
    VIRTIO_MEM_REQ_UNPLUG: 1,
    VIRTIO_MEM_REQ_UNPLUG_ALL: 2,
    VIRTIO_MEM_REQ_STATE: 3,
  });
  assert.deepEqual(values(m.virtio_mem_resp_type), {
    VIRTIO_MEM_RESP_ACK: 0,
    VIRTIO_MEM_RESP_NACK: 1,
    VIRTIO_MEM_RESP_BUSY: 2,
    VIRTIO_MEM_RESP_ERROR: 3,
  });
  assert.deepEqual(values(m.virtio_mem_state), {
    VIRTIO_MEM_STATE_PLUGGED: 0,
    VIRTIO_MEM_STATE_UNPLUGGED: 1,
    VIRTIO_MEM_STATE_MIXED: 2,
  });
});
