// The worker transport's adaptive polling window (src/transport/_poll.ts):
// short waits open it, long ones close it, and a maximum of 0 never polls.
// No clock involved: the waits are given.

import assert from "node:assert/strict";
import { AdaptivePoll } from "../../src/transport/_poll.ts";

Deno.test("adaptive poll: starts at the maximum, closes after long waits", () => {
  const p = new AdaptivePoll(0.05);
  assert.equal(p.window, 0.05);
  p.observe(1); // a wait far past the window: polling would have wasted it
  assert.equal(p.window, 0.025);
  for (let i = 0; i < 8; i++) p.observe(1);
  assert.equal(p.window, 0);
});

Deno.test("adaptive poll: short waits open it again, up to the maximum", () => {
  const p = new AdaptivePoll(0.05);
  for (let i = 0; i < 8; i++) p.observe(1);
  assert.equal(p.window, 0);
  p.observe(0.01); // caught within half the maximum: polling pays
  assert.equal(p.window, 0.05 / 8);
  for (let i = 0; i < 8; i++) p.observe(0.01);
  assert.equal(p.window, 0.05);
});

Deno.test("adaptive poll: waits between half and the whole window leave it alone", () => {
  const p = new AdaptivePoll(0.05);
  p.observe(1);
  p.observe(0.04);
  assert.equal(p.window, 0.025);
});

Deno.test("adaptive poll: a maximum of 0 (or less) never polls", () => {
  for (const max of [0, -1]) {
    const p = new AdaptivePoll(max);
    assert.equal(p.window, 0);
    p.observe(0);
    assert.equal(p.window, 0);
  }
});
