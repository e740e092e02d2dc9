// CAN device layouts (spec 5.20), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as c from "../../schema/devices/can.ts";

const frame = {
  msg_type: 0,
  length: 2,
  reserved_classic_dlc: 4,
  padding: 5,
  reserved_xl_priority: 6,
  flags: 8,
  can_id: 12,
  sdu: 16,
};
// struct: [size at sdu_len 0, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [c.virtio_can_config, 2, { status: 0 }],
  [c.virtio_can_control_out, 2, { msg_type: 0 }],
  [c.virtio_can_control_in, 1, { result: 0 }],
  [c.virtio_can_tx_out, 16, frame],
  [c.virtio_can_tx_in, 1, { result: 0 }],
  [c.virtio_can_rx, 16, frame],
];

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((k) => [k.name, k.value]));
}

Deno.test("can layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  assert.deepEqual(layout(c.virtio_can_tx_out).paramTerms, { sdu_len: 1 });
  assert.deepEqual(layout(c.virtio_can_rx).paramTerms, { sdu_len: 1 });
});

Deno.test("can constants match the spec", () => {
  assert.deepEqual(values(c.virtio_can_features), {
    VIRTIO_CAN_F_CAN_CLASSIC: 0,
    VIRTIO_CAN_F_CAN_FD: 1,
    VIRTIO_CAN_F_RTR_FRAMES: 2,
    VIRTIO_CAN_F_LATE_TX_ACK: 3,
  });
  assert.deepEqual(values(c.virtio_can_config_status), { VIRTIO_CAN_S_CTRL_BUSOFF: 1 });
  assert.deepEqual(values(c.virtio_can_result), {
    VIRTIO_CAN_RESULT_OK: 0,
    VIRTIO_CAN_RESULT_NOT_OK: 1,
  });
  assert.deepEqual(values(c.virtio_can_msg_type), {
    VIRTIO_CAN_TX: 0x0001,
    VIRTIO_CAN_RX: 0x0101,
    VIRTIO_CAN_SET_CTRL_MODE_START: 0x0201,
    VIRTIO_CAN_SET_CTRL_MODE_STOP: 0x0202,
  });
  assert.deepEqual(values(c.virtio_can_flags), {
    VIRTIO_CAN_FLAGS_RTR: 0x2000,
    VIRTIO_CAN_FLAGS_FD: 0x4000,
    VIRTIO_CAN_FLAGS_EXTENDED: 0x8000,
  });
});
