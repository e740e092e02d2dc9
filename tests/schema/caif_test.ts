// CAIF device layouts: typed in by hand from Linux's include/linux/virtio_caif.h (v6.1), which is
// where the layout comes from (the OASIS spec only reserves device id 12).
import assert from "node:assert/strict";
import { isSchemaItem, layout, type StructType } from "../../schema/dsl.ts";
import * as c from "../../schema/devices/caif.ts";
import { VIRTIO_ID_CAIF } from "../../src/generated/common.ts";

// struct: [size, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [c.virtio_caif_transf_config, 12, { headroom: 0, tailroom: 2, mtu: 4, reserved: 8 }],
  [c.virtio_caif_config, 32, { uplink: 0, downlink: 12, reserved: 24 }],
];

Deno.test("caif layouts match Linux's virtio_caif.h", () => {
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

Deno.test("caif: every struct of the module is checked, and the queue indices are Linux's", () => {
  const structs = Object.values(c).filter(isSchemaItem).filter((i) => i.kind === "struct");
  assert.deepEqual(structs.map((s) => s.name).sort(), table.map(([t]) => t.name).sort());
  assert.deepEqual(c.virtio_caif_queues.constants.map((k) => [k.name, k.value]), [
    ["uplink", 0],
    ["downlink", 1],
  ]);
  assert.equal(VIRTIO_ID_CAIF, 12);
});
