// Offsets and sizes of the ring layouts, typed in from the spec's C structs
// (2.7.5, 2.7.6, 2.7.8, 2.8.13, 2.8.14), checked against the schema and the
// generated classes.
import assert from "node:assert/strict";
import { layout } from "../../schema/dsl.ts";
import * as v from "../../schema/virtqueue.ts";
import * as c from "../../schema/common.ts";
import {
  PvirtqDesc,
  PvirtqEventSuppress,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
  VirtqUsedElem,
} from "../../src/generated/virtqueue.ts";

function offsets(t: Parameters<typeof layout>[0]): Record<string, number> {
  return Object.fromEntries(layout(t).fields.map((f) => [f.def.name, f.offset]));
}

Deno.test("split ring layouts match the spec", () => {
  assert.equal(layout(v.virtq_desc).size, 16);
  assert.deepEqual(offsets(v.virtq_desc), { addr: 0, len: 8, flags: 12, next: 14 });
  assert.equal(layout(v.virtq_used_elem).size, 8);
  assert.deepEqual(offsets(v.virtq_used_elem), { id: 0, len: 4 });
  // avail: flags, idx, ring[qs] (2 bytes each), used_event
  for (const qs of [1, 8, 256, 32768]) {
    assert.equal(VirtqAvail.size(qs), 2 + 2 + 2 * qs + 2);
    assert.equal(
      new VirtqAvail(new DataView(new ArrayBuffer(8 + 2 * qs)), 0, qs).ringOffset(qs - 1),
      4 + 2 * (qs - 1),
    );
    assert.equal(VirtqUsed.size(qs), 2 + 2 + 8 * qs + 2);
  }
  const used = layout(v.virtq_used).fields.find((f) => f.def.name === "avail_event");
  assert.deepEqual(used?.paramTerms, { queue_size: 8 });
  assert.equal(VirtqDesc.SIZE, 16);
  assert.equal(VirtqUsedElem.SIZE, 8);
  assert.deepEqual({ ...VirtqDesc.OFFSETS }, { addr: 0, len: 8, flags: 12, next: 14 });
});

Deno.test("packed ring layouts match the spec", () => {
  assert.equal(PvirtqDesc.SIZE, 16);
  assert.deepEqual({ ...PvirtqDesc.OFFSETS }, { addr: 0, len: 8, id: 12, flags: 14 });
  assert.equal(PvirtqEventSuppress.SIZE, 4);
  assert.deepEqual({ ...PvirtqEventSuppress.OFFSETS }, { desc: 0, flags: 2 });
  assert.equal(
    v.pvirtq_desc_flags.constants.find((k) => k.name === "VIRTQ_DESC_F_AVAIL")?.value,
    0x80,
  );
  assert.equal(
    v.pvirtq_desc_flags.constants.find((k) => k.name === "VIRTQ_DESC_F_USED")?.value,
    0x8000,
  );
});

Deno.test("status bits, reserved feature bits and device ids match the spec", () => {
  const status = Object.fromEntries(c.device_status.constants.map((k) => [k.name, k.value]));
  assert.deepEqual(status, {
    ACKNOWLEDGE: 1,
    DRIVER: 2,
    DRIVER_OK: 4,
    FEATURES_OK: 8,
    SUSPEND: 16,
    DEVICE_NEEDS_RESET: 64,
    FAILED: 128,
  });
  const f = Object.fromEntries(c.virtio_features.constants.map((k) => [k.name, k.value]));
  assert.equal(f.VIRTIO_F_INDIRECT_DESC, 28);
  assert.equal(f.VIRTIO_F_EVENT_IDX, 29);
  assert.equal(f.VIRTIO_F_VERSION_1, 32);
  assert.equal(f.VIRTIO_F_ACCESS_PLATFORM, 33);
  assert.equal(f.VIRTIO_F_RING_PACKED, 34);
  assert.equal(f.VIRTIO_F_IN_ORDER, 35);
  assert.equal(f.VIRTIO_F_NOTIFICATION_DATA, 38);
  assert.equal(f.VIRTIO_F_RING_RESET, 40);
  const ids = Object.fromEntries(c.virtio_device_id.constants.map((k) => [k.name, k.value]));
  assert.equal(ids.VIRTIO_ID_NET, 1);
  assert.equal(ids.VIRTIO_ID_BLOCK, 2);
  assert.equal(ids.VIRTIO_ID_INPUT, 18);
  assert.equal(ids.VIRTIO_ID_FS, 26);
  assert.equal(ids.VIRTIO_ID_USB, 49);
  assert.equal(c.virtio_device_id.constants.length, 46, "every id of the spec's table");
});
