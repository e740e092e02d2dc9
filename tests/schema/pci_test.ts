// virtio-over-PCI layouts, typed in by hand from the spec's C structs and
// tables (4.1.2, 4.1.4, 4.1.4.3-4.1.4.10, 4.1.5.1.2), checked against the
// schema's layout.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as p from "../../schema/pci.ts";

const structs: [StructType, number, Record<string, number>][] = [
  [p.virtio_pci_cap, 16, {
    cap_vndr: 0,
    cap_next: 1,
    cap_len: 2,
    cfg_type: 3,
    bar: 4,
    id: 5,
    padding: 6,
    offset: 8,
    length: 12,
  }],
  [p.virtio_pci_cap64, 24, { cap: 0, offset_hi: 16, length_hi: 20 }],
  [p.virtio_pci_notify_cap, 20, { cap: 0, notify_off_multiplier: 16 }],
  [p.virtio_pci_cfg_cap, 20, { cap: 0, pci_cfg_data: 16 }],
  [p.virtio_pci_vndr_data, 6, {
    cap_vndr: 0,
    cap_next: 1,
    cap_len: 2,
    cfg_type: 3,
    vendor_id: 4,
  }],
  [p.virtio_pci_common_cfg, 64, {
    device_feature_select: 0,
    device_feature: 4,
    driver_feature_select: 8,
    driver_feature: 12,
    config_msix_vector: 16,
    num_queues: 18,
    device_status: 20,
    config_generation: 21,
    queue_select: 22,
    queue_size: 24,
    queue_msix_vector: 26,
    queue_enable: 28,
    queue_notify_off: 30,
    queue_desc: 32,
    queue_driver: 40,
    queue_device: 48,
    queue_notif_config_data: 56,
    queue_reset: 58,
    admin_queue_index: 60,
    admin_queue_num: 62,
  }],
  // 4.1.4.10: 32, 32, 32, 16, 16, 16, 8, 8 bits, then the two MSI-X vectors.
  [p.virtio_pci_legacy, 24, {
    device_feature: 0,
    driver_feature: 4,
    queue_address: 8,
    queue_size: 12,
    queue_select: 14,
    queue_notify: 16,
    device_status: 18,
    isr_status: 19,
    config_msix_vector: 20,
    queue_msix_vector: 22,
  }],
];

Deno.test("virtio PCI structures match the spec", () => {
  for (const [s, size, offsets] of structs) {
    const l = layout(s);
    assert.equal(l.size, size, s.name);
    assert.deepEqual(Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])), offsets);
  }
});

Deno.test("driver-side access follows the spec's comments and table", () => {
  const access = (s: StructType) => Object.fromEntries(s.fields.map((f) => [f.name, f.access]));
  const ro = ["device_feature", "num_queues", "config_generation", "queue_notify_off"];
  const ro2 = ["queue_notif_config_data", "admin_queue_index", "admin_queue_num"];
  for (const [name, a] of Object.entries(access(p.virtio_pci_common_cfg))) {
    assert.equal(a, [...ro, ...ro2].includes(name) ? "r" : "rw", name);
  }
  assert.deepEqual(access(p.virtio_pci_legacy), {
    device_feature: "r",
    driver_feature: "rw",
    queue_address: "rw",
    queue_size: "r",
    queue_select: "rw",
    queue_notify: "rw",
    device_status: "rw",
    isr_status: "r",
    config_msix_vector: "rw",
    queue_msix_vector: "rw",
  });
  assert.equal(p.virtio_pci_legacy.registerMap, true);
  const addrs = p.virtio_pci_common_cfg.fields.filter((f) => f.asNumber).map((f) => f.name);
  assert.deepEqual(addrs, ["queue_desc", "queue_driver", "queue_device"]);
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("virtio PCI constants match the spec", () => {
  assert.deepEqual(values(p.virtio_pci_cap_cfg_type), {
    VIRTIO_PCI_CAP_COMMON_CFG: 1,
    VIRTIO_PCI_CAP_NOTIFY_CFG: 2,
    VIRTIO_PCI_CAP_ISR_CFG: 3,
    VIRTIO_PCI_CAP_DEVICE_CFG: 4,
    VIRTIO_PCI_CAP_PCI_CFG: 5,
    VIRTIO_PCI_CAP_SHARED_MEMORY_CFG: 8,
    VIRTIO_PCI_CAP_VENDOR_CFG: 9,
  });
  assert.deepEqual(values(p.virtio_pci_cap_id), { PCI_CAP_ID_VNDR: 9 });
  assert.deepEqual(values(p.virtio_pci_isr), { VIRTIO_PCI_ISR_QUEUE: 1, VIRTIO_PCI_ISR_CONFIG: 2 });
  const ids = values(p.virtio_pci_id);
  assert.equal(ids.VIRTIO_PCI_VENDOR_ID, 0x1af4);
  // 4.1.2: the network device (id 1) is 0x1041, or transitionally 0x1000.
  assert.equal(ids.VIRTIO_PCI_DEVICE_ID_BASE + 1, 0x1041);
  assert.equal(ids.VIRTIO_PCI_DEVICE_ID_MIN, 0x1000);
  assert.equal(ids.VIRTIO_PCI_DEVICE_ID_MAX, 0x107f);
  assert.equal(ids.VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MIN, 0x1000);
  assert.equal(ids.VIRTIO_PCI_TRANSITIONAL_DEVICE_ID_MAX, 0x103f);
  assert.deepEqual(values(p.virtio_pci_transitional_device_id), {
    VIRTIO_PCI_TRANSITIONAL_ID_NET: 0x1000,
    VIRTIO_PCI_TRANSITIONAL_ID_BLOCK: 0x1001,
    VIRTIO_PCI_TRANSITIONAL_ID_BALLOON: 0x1002,
    VIRTIO_PCI_TRANSITIONAL_ID_CONSOLE: 0x1003,
    VIRTIO_PCI_TRANSITIONAL_ID_SCSI: 0x1004,
    VIRTIO_PCI_TRANSITIONAL_ID_RNG: 0x1005,
    VIRTIO_PCI_TRANSITIONAL_ID_9P: 0x1009,
  });
  assert.deepEqual(values(p.virtio_pci_msix), {
    VIRTIO_MSI_NO_VECTOR: 0xffff,
    VIRTIO_MSI_VECTOR_MAX: 0x7ff,
  });
  assert.deepEqual(values(p.virtio_pci_legacy_layout), {
    VIRTIO_PCI_LEGACY_CONFIG_OFF: 20,
    VIRTIO_PCI_LEGACY_CONFIG_OFF_MSIX: 24,
    VIRTIO_PCI_QUEUE_ADDR_SHIFT: 12,
    VIRTIO_PCI_VRING_ALIGN: 4096,
  });
  // The MSI-X layout's config offset is the end of the header map.
  assert.equal(layout(p.virtio_pci_legacy).size, 24);
});
