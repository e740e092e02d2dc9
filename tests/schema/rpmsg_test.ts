// rpmsg layouts and numbers, typed in by hand from Linux's C (the virtio spec
// reserves device id 7 but gives rpmsg no section): include/linux/rpmsg.h
// (struct rpmsg_hdr, __packed), include/linux/rpmsg/ns.h (struct
// rpmsg_ns_msg, __packed; enum rpmsg_ns_flags; RPMSG_NS_ADDR),
// include/uapi/linux/rpmsg.h (RPMSG_ADDR_ANY), drivers/rpmsg/virtio_rpmsg_bus.c
// (VIRTIO_RPMSG_F_NS, MAX_RPMSG_NUM_BUFS, MAX_RPMSG_BUF_SIZE,
// RPMSG_RESERVED_ADDRESSES).
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/rpmsg.ts";

// struct: [size at parameter 0, {field: offset}, {parameter: bytes per unit}]
const expected: [StructType, number, Record<string, number>, Record<string, number>?][] = [
  [s.rpmsg_hdr, 16, { src: 0, dst: 4, reserved: 8, len: 12, flags: 14 }],
  [s.rpmsg_msg, 16, { hdr: 0, data: 16 }, { data_len: 1 }],
  [s.rpmsg_ns_msg, 40, { name: 0, addr: 32, flags: 36 }],
];

Deno.test("rpmsg structs match Linux's sizes and offsets", () => {
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
    if (v.kind === "struct") assert.ok(checked.has(v.name), `${v.name} is not checked`);
  }
});

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("rpmsg constants", () => {
  assert.deepEqual(values(s.virtio_rpmsg_features), { VIRTIO_RPMSG_F_NS: 0 });
  assert.deepEqual(values(s.rpmsg_ns_flags), { RPMSG_NS_CREATE: 0, RPMSG_NS_DESTROY: 1 });
  assert.deepEqual(values(s.rpmsg_limits), {
    RPMSG_NS_ADDR: 53,
    RPMSG_ADDR_ANY: 0xffffffff,
    RPMSG_RESERVED_ADDRESSES: 1024,
    RPMSG_NAME_SIZE: 32,
    RPMSG_BUF_SIZE: 512,
    RPMSG_MAX_NUM_BUFS: 512,
  });
});
