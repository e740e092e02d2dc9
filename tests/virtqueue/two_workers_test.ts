// A driver and a device of one queue in two real workers over a
// SharedArrayBuffer, kicks and interrupts through Atomics, each side honouring
// the other's notification suppression: every token comes back exactly once
// with its length and the device's reply (tests/virtqueue/_exchange_worker.ts
// checks each), for split and packed, EVENT_IDX off and on, batch 1 and 32,
// and no wake-up is lost: a wait for a kick or an interrupt that runs out
// (after a nap of CHECKED_NAP_MS) while work was waiting fails the test.
//
// The second test runs the same exchange in a child process with V8's
// optimising tiers off. There every `DataView` access is V8's byte-by-byte
// builtin, so ring words written and read with plain `DataView` calls tear (a
// used idx going 0x88ff -> 0x8900 read as 0x8800, a packed descriptor's flags
// half-overwritten by a late byte of the driver's store): before the engine
// accessed those words with Atomics on shared memory, about one run in ten
// per layout failed there ("used idx ... is 65281 ahead of ...", "available
// idx ... ahead", or a lost used descriptor and a hang), and rarely in
// optimised code too (the first requests of a fresh worker run unoptimised).
import assert from "node:assert/strict";
import { exchangeLayout } from "./_exchange.ts";

const REQUESTS = 200_000;

for (const layout of ["split", "packed"] as const) {
  Deno.test(`two workers, ${layout}: ${REQUESTS} requests, every token back once`, async () => {
    assert.deepEqual(await exchangeLayout(layout === "packed", REQUESTS), []);
  });

  Deno.test(
    `two workers, ${layout}, V8 interpreter and baseline tiers: ${REQUESTS} requests, every token back once`,
    async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--v8-flags=--no-opt,--no-maglev",
          "--allow-read",
          new URL("./_exchange.ts", import.meta.url).pathname,
          layout,
          String(REQUESTS),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), []);
    },
  );
}
