// The entropy device (5.4) defines no feature bits, configuration or
// structures: the module exports its one virtqueue index and nothing else.
import assert from "node:assert/strict";
import { isSchemaItem } from "../../schema/dsl.ts";
import * as rng from "../../schema/devices/entropy.ts";

Deno.test("entropy device: one request queue, no layouts", () => {
  const q = rng.virtio_entropy_queues;
  assert.deepEqual(q.constants.map((c) => [c.name, c.value]), [["requestq", 0]]);
  assert.equal(q.exportMembers, false, "queue names are not spec constants");
  const items = Object.values(rng).filter(isSchemaItem);
  assert.deepEqual(items.map((i) => i.name), ["virtio_entropy_queues"]);
});
