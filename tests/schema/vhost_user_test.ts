// vhost-user's inflight layouts, typed in by hand from the C structs of
// QEMU's vhost-user document ("Inflight I/O tracking": DescStateSplit,
// QueueRegionSplit, and the 64-byte alignment of each queue's region).
import assert from "node:assert/strict";
import { layout, type StructType } from "../../schema/dsl.ts";
import * as v from "../../schema/vhost_user.ts";
import { DescStateSplit, QueueRegionSplit } from "../../src/generated/vhost_user.ts";

// struct: [size at queue_size 0, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [v.desc_state_split, 16, { inflight: 0, padding: 1, next: 6, counter: 8 }],
  [v.queue_region_split, 16, {
    features: 0,
    version: 8,
    desc_num: 10,
    last_batch_head: 12,
    used_idx: 14,
    desc: 16,
  }],
  // uint64 mmap_size, uint64 mmap_offset, uint16 num_queues, uint16 queue_size, and the
  // 4 bytes of padding of the unpacked C struct.
  [v.vhost_user_inflight, 24, {
    mmap_size: 0,
    mmap_offset: 8,
    num_queues: 16,
    queue_size: 18,
    padding: 20,
  }],
];

Deno.test("vhost-user inflight layouts match QEMU's vhost-user document", () => {
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

Deno.test("vhost-user inflight: a queue's region is its header and one entry per descriptor", () => {
  for (const n of [1, 16, 256, 1024]) assert.equal(QueueRegionSplit.size(n), 16 + 16 * n);
  // The generated accessors place descriptor 3's counter at 16 + 3 × 16 + 8.
  const view = new DataView(new ArrayBuffer(QueueRegionSplit.size(4)));
  new QueueRegionSplit(view, 0, 4).desc(3).counter = 2 ** 40 + 5;
  assert.equal(view.getBigUint64(16 + 3 * 16 + 8, true), 2n ** 40n + 5n);
  assert.equal(DescStateSplit.SIZE, 16);
});
