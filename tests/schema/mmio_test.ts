// virtio-mmio register maps, typed in by hand from the spec's register
// tables (4.2.2 and 4.2.4), checked against the schema's layout.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as m from "../../schema/mmio.ts";

type Access = "r" | "w" | "rw";

// register: [offset, width, access]
const maps: [StructType, number, Record<string, [number, number, Access]>][] = [
  [m.virtio_mmio, 0x100, {
    MagicValue: [0x000, 4, "r"],
    Version: [0x004, 4, "r"],
    DeviceID: [0x008, 4, "r"],
    VendorID: [0x00c, 4, "r"],
    DeviceFeatures: [0x010, 4, "r"],
    DeviceFeaturesSel: [0x014, 4, "w"],
    DriverFeatures: [0x020, 4, "w"],
    DriverFeaturesSel: [0x024, 4, "w"],
    QueueSel: [0x030, 4, "w"],
    QueueSizeMax: [0x034, 4, "r"],
    QueueSize: [0x038, 4, "w"],
    QueueReady: [0x044, 4, "rw"],
    QueueNotify: [0x050, 4, "w"],
    InterruptStatus: [0x060, 4, "r"],
    InterruptACK: [0x064, 4, "w"],
    Status: [0x070, 4, "rw"],
    QueueDescLow: [0x080, 4, "w"],
    QueueDescHigh: [0x084, 4, "w"],
    QueueDriverLow: [0x090, 4, "w"],
    QueueDriverHigh: [0x094, 4, "w"],
    QueueDeviceLow: [0x0a0, 4, "w"],
    QueueDeviceHigh: [0x0a4, 4, "w"],
    SHMSel: [0x0ac, 4, "w"],
    SHMLenLow: [0x0b0, 4, "r"],
    SHMLenHigh: [0x0b4, 4, "r"],
    SHMBaseLow: [0x0b8, 4, "r"],
    SHMBaseHigh: [0x0bc, 4, "r"],
    QueueReset: [0x0c0, 4, "rw"],
    ConfigGeneration: [0x0fc, 4, "r"],
  }],
  [m.virtio_mmio_legacy, 0x100, {
    MagicValue: [0x000, 4, "r"],
    Version: [0x004, 4, "r"],
    DeviceID: [0x008, 4, "r"],
    VendorID: [0x00c, 4, "r"],
    HostFeatures: [0x010, 4, "r"],
    HostFeaturesSel: [0x014, 4, "w"],
    GuestFeatures: [0x020, 4, "w"],
    GuestFeaturesSel: [0x024, 4, "w"],
    GuestPageSize: [0x028, 4, "w"],
    QueueSel: [0x030, 4, "w"],
    QueueSizeMax: [0x034, 4, "r"],
    QueueSize: [0x038, 4, "w"],
    QueueAlign: [0x03c, 4, "w"],
    QueuePFN: [0x040, 4, "rw"],
    QueueNotify: [0x050, 4, "w"],
    InterruptStatus: [0x060, 4, "r"],
    InterruptACK: [0x064, 4, "w"],
    Status: [0x070, 4, "rw"],
  }],
];

Deno.test("virtio-mmio register maps match the spec tables", () => {
  for (const [map, size, regs] of maps) {
    const l = layout(map);
    assert.equal(l.size, size, map.name);
    assert.equal(map.registerMap, true, map.name);
    const got = Object.fromEntries(
      l.fields.map((f) => [f.def.name, [f.offset, f.size, f.def.access]]),
    );
    assert.deepEqual(got, regs, map.name);
    for (const f of l.fields) assert.equal(f.def.type.kind, "scalar", f.def.name);
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("virtio-mmio constants match the spec", () => {
  assert.deepEqual(values(m.virtio_mmio_magic), { VIRTIO_MMIO_MAGIC: 0x74726976 });
  // "virt" as little-endian bytes
  const magic = new DataView(new TextEncoder().encode("virt").buffer).getUint32(0, true);
  assert.equal(magic, 0x74726976);
  assert.deepEqual(values(m.virtio_mmio_version), {
    VIRTIO_MMIO_VERSION_LEGACY: 1,
    VIRTIO_MMIO_VERSION_MODERN: 2,
  });
  assert.deepEqual(values(m.virtio_mmio_interrupt), {
    VIRTIO_MMIO_INT_VRING: 1,
    VIRTIO_MMIO_INT_CONFIG: 2,
  });
  assert.equal(m.virtio_mmio_interrupt.constantKind, "flags");
  assert.deepEqual(values(m.virtio_mmio_layout), { VIRTIO_MMIO_CONFIG: 0x100 });
});
