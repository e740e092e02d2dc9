// Offsets and sizes of the console device layouts, typed in by hand from the
// spec's C structs (5.3.4, 5.3.6.2), plus constant values.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as con from "../../schema/devices/console.ts";

function values(g: ConstantGroup): Record<string, number> {
  return Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
}

const expected: [StructType, number, Record<string, number>][] = [
  [con.virtio_console_config, 12, { cols: 0, rows: 2, max_nr_ports: 4, emerg_wr: 8 }],
  [con.virtio_console_control, 8, { id: 0, event: 4, value: 6 }],
  [con.virtio_console_resize, 4, { cols: 0, rows: 2 }],
];

Deno.test("console device layouts match the spec", () => {
  for (const [t, size, offsets] of expected) {
    const l = layout(t);
    assert.equal(l.size, size, t.name);
    assert.deepEqual(l.params, [], t.name);
    assert.deepEqual(Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])), offsets);
  }
  const exported = Object.values(con).filter((v) => v.kind !== "constants").map((v) => v.name);
  assert.deepEqual(exported.sort(), expected.map(([t]) => t.name).sort());
});

Deno.test("console device constants match the spec", () => {
  assert.deepEqual(values(con.virtio_console_queues), {
    receiveq_port0: 0,
    transmitq_port0: 1,
    control_receiveq: 2,
    control_transmitq: 3,
    receiveq_port1: 4,
    transmitq_port1: 5,
  });
  assert.deepEqual(values(con.virtio_console_features), {
    VIRTIO_CONSOLE_F_SIZE: 0,
    VIRTIO_CONSOLE_F_MULTIPORT: 1,
    VIRTIO_CONSOLE_F_EMERG_WRITE: 2,
  });
  assert.deepEqual(values(con.virtio_console_control_event), {
    VIRTIO_CONSOLE_DEVICE_READY: 0,
    VIRTIO_CONSOLE_DEVICE_ADD: 1,
    VIRTIO_CONSOLE_DEVICE_REMOVE: 2,
    VIRTIO_CONSOLE_PORT_READY: 3,
    VIRTIO_CONSOLE_CONSOLE_PORT: 4,
    VIRTIO_CONSOLE_RESIZE: 5,
    VIRTIO_CONSOLE_PORT_OPEN: 6,
    VIRTIO_CONSOLE_PORT_NAME: 7,
  });
});
