// Device parts (spec 2.14): sizes and offsets typed in by hand from the spec's
// C structs (no padding), and its table of common part types.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType, type UnionType } from "../../schema/dsl.ts";
import * as s from "../../schema/device_parts.ts";

const expected: [
  StructType | UnionType,
  number,
  Record<string, number>,
  Record<string, number>?,
][] = [
  [s.virtio_dev_part_hdr_selector_pci_common_cfg, 8, { offset: 0, reserved: 4 }],
  [s.virtio_dev_part_hdr_selector_vq_index, 8, { index: 0, reserved: 2 }],
  [s.virtio_dev_part_hdr_selector, 8, { pci_common_cfg: 0, vq_index: 0, device_type_raw: 0 }],
  [s.virtio_dev_part_hdr, 16, { part_type: 0, flags: 2, reserved: 3, selector: 4, length: 12 }],
  [s.virtio_dev_part, 16, { hdr: 0, value: 16 }, { value_len: 1 }],
  [s.virtio_dev_part_features, 0, { feature_bits: 0 }, { feature_bits_len: 8 }],
  [s.virtio_dev_part_vq_cfg, 32, {
    queue_size: 0,
    vector: 2,
    enabled: 4,
    reserved: 6,
    queue_desc: 8,
    queue_driver: 16,
    queue_device: 24,
  }],
  [s.virtio_dev_part_vq_notify_data, 8, {
    queue_notify_off: 0,
    queue_notif_config_data: 2,
    reserved: 4,
  }],
];

Deno.test("device part structs match the spec's sizes and offsets", () => {
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
    if (v.kind === "struct" || v.kind === "union") {
      assert.ok(checked.has(v.name), `${v.name} is not checked`);
    }
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("device part constants", () => {
  assert.deepEqual(values(s.virtio_dev_part_type), {
    VIRTIO_DEV_PART_DEV_FEATURES: 0x100,
    VIRTIO_DEV_PART_DRV_FEATURES: 0x101,
    VIRTIO_DEV_PART_PCI_COMMON_CFG: 0x102,
    VIRTIO_DEV_PART_DEVICE_STATUS: 0x103,
    VIRTIO_DEV_PART_VQ_CFG: 0x104,
    VIRTIO_DEV_PART_VQ_NOTIFY_CFG: 0x105,
  });
  assert.equal(s.virtio_dev_part_flags.constantKind, "bits");
  assert.deepEqual(values(s.virtio_dev_part_flags), { VIRTIO_DEV_PART_F_OPTIONAL: 0 });
});
