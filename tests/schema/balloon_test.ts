// Offsets and sizes of the balloon device layouts, typed in by hand from the
// spec's C structs (5.5.4, 5.5.6.3), plus constant values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as b from "../../schema/devices/balloon.ts";

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

const expected: [StructType, number, Record<string, number>][] = [
  [b.virtio_balloon_config, 16, {
    num_pages: 0,
    actual: 4,
    free_page_hint_cmd_id: 8,
    poison_val: 12,
  }],
  // __attribute__((packed)): 10 bytes, val right after the 2-byte tag.
  [b.virtio_balloon_stat, 10, { tag: 0, val: 2 }],
];

Deno.test("balloon device layouts match the spec", () => {
  for (const [t, size, offsets] of expected) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.params, [], t.name);
    assert.deepEqual(Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])), offsets);
  }
  const exported = Object.values(b).filter((v) => v.kind !== "constants").map((v) => v.name);
  assert.deepEqual(exported.sort(), expected.map(([t]) => t.name).sort());
});

Deno.test("balloon device constants match the spec", () => {
  assert.deepEqual(values(b.virtio_balloon_queues), {
    inflateq: 0,
    deflateq: 1,
    statsq: 2,
    free_page_vq: 3,
    reporting_vq: 4,
  });
  assert.deepEqual(values(b.virtio_balloon_features), {
    VIRTIO_BALLOON_F_MUST_TELL_HOST: 0,
    VIRTIO_BALLOON_F_STATS_VQ: 1,
    VIRTIO_BALLOON_F_DEFLATE_ON_OOM: 2,
    VIRTIO_BALLOON_F_FREE_PAGE_HINT: 3,
    VIRTIO_BALLOON_F_PAGE_POISON: 4,
    VIRTIO_BALLOON_F_PAGE_REPORTING: 5,
  });
  assert.deepEqual(values(b.virtio_balloon_stat_tag), {
    VIRTIO_BALLOON_S_SWAP_IN: 0,
    VIRTIO_BALLOON_S_SWAP_OUT: 1,
    VIRTIO_BALLOON_S_MAJFLT: 2,
    VIRTIO_BALLOON_S_MINFLT: 3,
    VIRTIO_BALLOON_S_MEMFREE: 4,
    VIRTIO_BALLOON_S_MEMTOT: 5,
    VIRTIO_BALLOON_S_AVAIL: 6,
    VIRTIO_BALLOON_S_CACHES: 7,
    VIRTIO_BALLOON_S_HTLB_PGALLOC: 8,
    VIRTIO_BALLOON_S_HTLB_PGFAIL: 9,
  });
  assert.deepEqual(values(b.virtio_balloon_cmd_id), {
    VIRTIO_BALLOON_CMD_ID_STOP: 0,
    VIRTIO_BALLOON_CMD_ID_DONE: 1,
  });
});
