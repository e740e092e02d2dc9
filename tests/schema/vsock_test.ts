// Socket device layouts (spec 5.10), sizes and offsets typed in by hand from
// the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as s from "../../schema/devices/vsock.ts";

// struct: [size at parameter 0, {field: offset}, {parameter: bytes per unit}]
const expected: [StructType, number, Record<string, number>, Record<string, number>?][] = [
  [s.virtio_vsock_config, 8, { guest_cid: 0 }],
  [s.virtio_vsock_hdr, 44, {
    src_cid: 0,
    dst_cid: 8,
    src_port: 16,
    dst_port: 20,
    len: 24,
    type: 28,
    op: 30,
    flags: 32,
    buf_alloc: 36,
    fwd_cnt: 40,
  }],
  [s.virtio_vsock_packet, 44, { hdr: 0, data: 44 }, { data_len: 1 }],
  [s.virtio_vsock_event, 4, { id: 0 }],
];

Deno.test("vsock structs match the spec's sizes and offsets", () => {
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

Deno.test("vsock constants", () => {
  assert.deepEqual(values(s.virtio_vsock_features), {
    VIRTIO_VSOCK_F_STREAM: 0,
    VIRTIO_VSOCK_F_SEQPACKET: 1,
    VIRTIO_VSOCK_F_NO_IMPLIED_STREAM: 2,
  });
  assert.deepEqual(values(s.virtio_vsock_op), {
    VIRTIO_VSOCK_OP_INVALID: 0,
    VIRTIO_VSOCK_OP_REQUEST: 1,
    VIRTIO_VSOCK_OP_RESPONSE: 2,
    VIRTIO_VSOCK_OP_RST: 3,
    VIRTIO_VSOCK_OP_SHUTDOWN: 4,
    VIRTIO_VSOCK_OP_RW: 5,
    VIRTIO_VSOCK_OP_CREDIT_UPDATE: 6,
    VIRTIO_VSOCK_OP_CREDIT_REQUEST: 7,
  });
  assert.deepEqual(values(s.virtio_vsock_type), {
    VIRTIO_VSOCK_TYPE_STREAM: 1,
    VIRTIO_VSOCK_TYPE_SEQPACKET: 2,
  });
  // The shutdown flags are bit numbers in the spec; the seqpacket ones are masks.
  assert.equal(s.virtio_vsock_shutdown_flags.constantKind, "bits");
  assert.deepEqual(values(s.virtio_vsock_shutdown_flags), {
    VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE: 0,
    VIRTIO_VSOCK_SHUTDOWN_F_SEND: 1,
  });
  assert.equal(s.virtio_vsock_seq_flags.constantKind, "flags");
  assert.deepEqual(values(s.virtio_vsock_seq_flags), {
    VIRTIO_VSOCK_SEQ_EOM: 1,
    VIRTIO_VSOCK_SEQ_EOR: 2,
  });
  assert.deepEqual(values(s.virtio_vsock_event_id), { VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: 0 });
});
