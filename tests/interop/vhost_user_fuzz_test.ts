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
