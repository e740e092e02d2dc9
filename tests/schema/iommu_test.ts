// IOMMU device layouts (spec 5.13), sizes and offsets typed in by hand from
// the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/iommu.ts";

// struct: [size at parameter 0, {field: offset}, {parameter: bytes per unit}]
const expected: [StructType, number, Record<string, number>, Record<string, number>?][] = [
  [s.virtio_iommu_range_64, 16, { start: 0, end: 8 }],
  [s.virtio_iommu_range_32, 8, { start: 0, end: 4 }],
  [s.virtio_iommu_config, 40, {
    page_size_mask: 0,
    input_range: 8,
    domain_range: 24,
    probe_size: 32,
    bypass: 36,
    reserved: 37,
  }],
  [s.virtio_iommu_req_head, 4, { type: 0, reserved: 1 }],
  [s.virtio_iommu_req_tail, 4, { status: 0, reserved: 1 }],
  [s.virtio_iommu_req_attach, 24, {
    head: 0,
    domain: 4,
    endpoint: 8,
    flags: 12,
    reserved: 16,
    tail: 20,
  }],
  [s.virtio_iommu_req_detach, 24, { head: 0, domain: 4, endpoint: 8, reserved: 12, tail: 20 }],
  [s.virtio_iommu_req_map, 40, {
    head: 0,
    domain: 4,
    virt_start: 8,
    virt_end: 16,
    phys_start: 24,
    flags: 32,
    tail: 36,
  }],
  [s.virtio_iommu_req_unmap, 32, {
    head: 0,
    domain: 4,
    virt_start: 8,
    virt_end: 16,
    reserved: 24,
    tail: 28,
  }],
  // properties[probe_size] at 72, then the tail at 72 + probe_size.
  [s.virtio_iommu_req_probe, 76, {
    head: 0,
    endpoint: 4,
    reserved: 8,
    properties: 72,
    tail: 72,
  }, { probe_size: 1 }],
  [s.virtio_iommu_probe_property, 4, { type_reserved: 0, length: 2 }],
  [s.virtio_iommu_probe_resv_mem, 24, { head: 0, subtype: 4, reserved: 5, start: 8, end: 16 }],
  [s.virtio_iommu_fault, 24, {
    reason: 0,
    reserved: 1,
    flags: 4,
    endpoint: 8,
    reserved1: 12,
    address: 16,
  }],
];

Deno.test("iommu structs match the spec's sizes and offsets", () => {
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
  const tail = layout(s.virtio_iommu_req_probe).fields.find((f) => f.def.name === "tail");
  assert.deepEqual(tail?.paramTerms, { probe_size: 1 });
  const checked = new Set(expected.map(([t]) => t.name));
  for (const v of Object.values(s)) {
    if (v.kind === "struct") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

Deno.test("probe property type is the low 12 bits", () => {
  const word = s.virtio_iommu_probe_property.fields[0].type;
  assert.equal(word.kind, "bits");
  if (word.kind !== "bits") return;
  assert.deepEqual(word.fields.map((b) => [b.name, b.lsb, b.width]), [
    ["type", 0, 12],
    ["reserved", 12, 4],
  ]);
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("iommu constants", () => {
  assert.deepEqual(values(s.virtio_iommu_features), {
    VIRTIO_IOMMU_F_INPUT_RANGE: 0,
    VIRTIO_IOMMU_F_DOMAIN_RANGE: 1,
    VIRTIO_IOMMU_F_MAP_UNMAP: 2,
    VIRTIO_IOMMU_F_BYPASS: 3,
    VIRTIO_IOMMU_F_PROBE: 4,
    VIRTIO_IOMMU_F_MMIO: 5,
    VIRTIO_IOMMU_F_BYPASS_CONFIG: 6,
  });
  assert.deepEqual(values(s.virtio_iommu_req_type), {
    VIRTIO_IOMMU_T_ATTACH: 1,
    VIRTIO_IOMMU_T_DETACH: 2,
    VIRTIO_IOMMU_T_MAP: 3,
    VIRTIO_IOMMU_T_UNMAP: 4,
    VIRTIO_IOMMU_T_PROBE: 5,
  });
  const st = values(s.virtio_iommu_status);
  assert.equal(st.VIRTIO_IOMMU_S_OK, 0);
  assert.equal(st.VIRTIO_IOMMU_S_NOMEM, 8);
  assert.equal(Object.keys(st).length, 9);
  assert.deepEqual(values(s.virtio_iommu_map_flags), {
    VIRTIO_IOMMU_MAP_F_READ: 1,
    VIRTIO_IOMMU_MAP_F_WRITE: 2,
    VIRTIO_IOMMU_MAP_F_MMIO: 4,
  });
  assert.equal(values(s.virtio_iommu_attach_flags).VIRTIO_IOMMU_ATTACH_F_BYPASS, 1);
  assert.equal(values(s.virtio_iommu_probe_type).VIRTIO_IOMMU_PROBE_T_RESV_MEM, 1);
  assert.equal(values(s.virtio_iommu_resv_mem_subtype).VIRTIO_IOMMU_RESV_MEM_T_MSI, 1);
  assert.equal(values(s.virtio_iommu_fault_flags).VIRTIO_IOMMU_FAULT_F_ADDRESS, 0x100);
  assert.equal(values(s.virtio_iommu_fault_reason).VIRTIO_IOMMU_FAULT_R_MAPPING, 2);
});
