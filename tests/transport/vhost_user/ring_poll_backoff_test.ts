// RingPollBackoff: when the vhost-user back-end's look at the rings
// (pollRingUs) backs off, and how it comes back.

import assert from "node:assert/strict";
import {
  MAX_RING_POLL_PAUSE,
  RingPollBackoff,
} from "../../../src/transport/vhost_user/_ring_poll_backoff.ts";

/** How many waits in a row do not look, starting now. */
function pauseLength(b: RingPollBackoff): number {
  let n = 0;
  while (!b.mayLook()) n++;
  return n;
}

Deno.test("ring poll back-off: looks until one gives up, then pauses 1, 2, 4 ... waits, capped", () => {
  const b = new RingPollBackoff();
  for (let i = 0; i < 100; i++) assert.equal(b.mayLook(), true);
  const pauses: number[] = [];
  for (let i = 0; i < 9; i++) {
    b.gaveUp();
    pauses.push(pauseLength(b));
  }
  assert.deepEqual(
    pauses,
    [1, 2, 4, 8, 16, 32, 32, 32, 32].map((p) => Math.min(p, MAX_RING_POLL_PAUSE)),
  );
  assert.equal(b.givenUp, 9);
  assert.equal(b.skipped, pauses.reduce((a, p) => a + p, 0));
});

Deno.test("ring poll back-off: each find halves the next pause; finds alone never pause", () => {
  const b = new RingPollBackoff();
  for (let i = 0; i < 5; i++) b.gaveUp();
  assert.equal(pauseLength(b), 16);
  b.found();
  b.found();
  b.gaveUp();
  assert.equal(pauseLength(b), 8, "16 halved twice is 4; the next give-up doubles it");
  for (let i = 0; i < 10; i++) b.found();
  for (let i = 0; i < 1000; i++) {
    assert.equal(b.mayLook(), true);
    b.found();
  }
  b.gaveUp();
  assert.equal(pauseLength(b), 1, "back to the first pause");
});
