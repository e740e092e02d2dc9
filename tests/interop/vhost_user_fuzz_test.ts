// A short fixed-seed pass of the vhost-user message fuzzer (tests/fuzz/; long runs
// go through the fuzz entry point): every hostile session ends with a typed
// error or a clean end, and a valid session is served after each.
import assert from "node:assert/strict";
import { fuzzVhostUser } from "../fuzz/vhost_user_fuzz.ts";

Deno.test({
  name: "vhost-user fuzz: 150 hostile sessions, seed 1818; typed errors only, served after each",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const r = await fuzzVhostUser({ seed: 1818, cases: 150 });
    assert.equal(r.cases, 150);
    assert.deepEqual(r.failures, [], JSON.stringify(r.failures.slice(0, 3), null, 1));
    // The cases reach the checks, not only the framing: several kinds of refusal.
    assert.ok(Object.keys(r.endings).length >= 5, JSON.stringify(r.endings));
    // And hostile rings reached the ring engine through the back-end.
    assert.ok(r.ringFaults > 0, `ring faults: ${r.ringFaults}`);
  },
});

Deno.test({
  name: "vhost-user fuzz: the same 150 sessions with pollRingUs 200; typed errors only, no hang",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const r = await fuzzVhostUser({ seed: 1818, cases: 150, pollRingUs: 200 });
    assert.equal(r.cases, 150);
    assert.deepEqual(r.failures, [], JSON.stringify(r.failures.slice(0, 3), null, 1));
    assert.ok(r.ringFaults > 0, `ring faults: ${r.ringFaults}`);
    // The hostile rings fail the device at their first chain, after which the back-end does not
    // look at them (a device waiting for a reset): nothing is served by looking.
    assert.equal(r.ringPolls, 0);
  },
});

Deno.test({
  name: "vhost-user fuzz: 150 sessions, seed 1819, storage with a batch; typed errors only",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // An odd seed gives the device's storage a SequentialBatch: hostile rings meet held chains.
    const r = await fuzzVhostUser({ seed: 1819, cases: 150 });
    assert.equal(r.cases, 150);
    assert.deepEqual(r.failures, [], JSON.stringify(r.failures.slice(0, 3), null, 1));
    assert.ok(Object.keys(r.endings).length >= 5, JSON.stringify(r.endings));
    assert.ok(r.ringFaults > 0, `ring faults: ${r.ringFaults}`);
    // The pairs of reads of the valid sessions with I/O (one in ten, or so) went through the batch.
    assert.ok(r.batched >= 10 && r.batched % 2 === 0, `batched: ${r.batched}`);
  },
});
