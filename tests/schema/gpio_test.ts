// GPIO device layouts (spec 5.18), typed in by hand from the spec's C structs.
import assert from "node:assert/strict";
import { type ConstantGroup, layout, type StructType } from "../../schema/dsl.ts";
import * as g from "../../schema/devices/gpio.ts";

// struct: [size, {field: offset}]
const table: [StructType, number, Record<string, number>][] = [
  [g.virtio_gpio_config, 8, { ngpio: 0, padding: 2, gpio_names_size: 4 }],
  [g.virtio_gpio_request, 8, { type: 0, gpio: 2, value: 4 }],
  [g.virtio_gpio_response, 2, { status: 0, value: 1 }],
  [g.virtio_gpio_response_N, 1, { status: 0, value: 1 }],
  [g.virtio_gpio_irq_request, 2, { gpio: 0 }],
  [g.virtio_gpio_irq_response, 1, { status: 0 }],
];

function values(c: ConstantGroup): Record<string, number> {
  return Object.fromEntries(c.constants.map((k) => [k.name, k.value]));
}

Deno.test("gpio layouts match the spec", () => {
  for (const [t, size, offsets] of table) {
    const l = layout(t);
    assert.equal(l.size, size, `${t.name} size`);
    assert.deepEqual(
      Object.fromEntries(l.fields.map((f) => [f.def.name, f.offset])),
      offsets,
      `${t.name} offsets`,
    );
  }
  // response_N: 1 + N bytes, N = gpio_names_size.
  assert.deepEqual(layout(g.virtio_gpio_response_N).paramTerms, { gpio_names_size: 1 });
});

Deno.test("gpio constants match the spec", () => {
  assert.deepEqual(values(g.virtio_gpio_features), { VIRTIO_GPIO_F_IRQ: 0 });
  assert.deepEqual(values(g.virtio_gpio_msg_type), {
    VIRTIO_GPIO_MSG_GET_LINE_NAMES: 1,
    VIRTIO_GPIO_MSG_GET_DIRECTION: 2,
    VIRTIO_GPIO_MSG_SET_DIRECTION: 3,
    VIRTIO_GPIO_MSG_GET_VALUE: 4,
    VIRTIO_GPIO_MSG_SET_VALUE: 5,
    VIRTIO_GPIO_MSG_SET_IRQ_TYPE: 6,
  });
  assert.deepEqual(values(g.virtio_gpio_status), {
    VIRTIO_GPIO_STATUS_OK: 0,
    VIRTIO_GPIO_STATUS_ERR: 1,
  });
  assert.deepEqual(values(g.virtio_gpio_direction), {
    VIRTIO_GPIO_DIRECTION_NONE: 0,
    VIRTIO_GPIO_DIRECTION_OUT: 1,
    VIRTIO_GPIO_DIRECTION_IN: 2,
  });
  assert.deepEqual(values(g.virtio_gpio_irq_type), {
    VIRTIO_GPIO_IRQ_TYPE_NONE: 0,
    VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING: 1,
    VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING: 2,
    VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH: 3,
    VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH: 4,
    VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW: 8,
  });
  assert.deepEqual(values(g.virtio_gpio_irq_status), {
    VIRTIO_GPIO_IRQ_STATUS_INVALID: 0,
    VIRTIO_GPIO_IRQ_STATUS_VALID: 1,
  });
});
