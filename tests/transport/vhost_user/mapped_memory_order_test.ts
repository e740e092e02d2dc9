// The ring words of vhost-user memory (MappedGuestMemory: an mmap another
// process also maps, seen as a plain ArrayBuffer) hand over in order.
//
// Both ends of a ring write one word and then read another: the device
// writes avail_event (or clears NO_NOTIFY) and then reads the available
// index; the driver writes the index and then reads avail_event (2.7.10).
// If either read could pass its own write, both could miss the other and a
// request would wait for a kick that never comes. The engine's accessors for
// shared ring words (store16 / load16 of src/virtqueue/_ring_util.ts, used
// whenever GuestMemory.shared is true, as for every vhost-user mapping) must
// keep that order on foreign memory too, where Atomics has no
// SharedArrayBuffer to promise it. This is the store-buffering litmus test,
// run on two threads over one memfd mapped twice. The control, plain DataView
// accesses, shows that the test sees the reordering when it is there.

import assert from "node:assert/strict";
import { closeFd, memfdCreate } from "../../../src/transport/vhost_user/_libc.ts";

const ROUNDS = 100_000;

async function bothStale(mode: "ring" | "plain"): Promise<number> {
  const fd = memfdCreate("typed-virtio-litmus", 4096);
  const sync = new SharedArrayBuffer(16);
  const workers = [0, 1].map(() =>
    new Worker(new URL("./_litmus_worker.ts", import.meta.url), { type: "module" })
  );
  try {
    const stale = await Promise.all(
      workers.map((w, side) =>
        new Promise<Uint8Array>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<Uint8Array>) => resolve(e.data);
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
          w.postMessage({ fd, side, mode, rounds: ROUNDS, sync });
        })
      ),
    );
    let both = 0;
    for (let i = 0; i < ROUNDS; i++) both += stale[0][i] & stale[1][i];
    return both;
  } finally {
    for (const w of workers) w.terminate();
    closeFd(fd);
  }
}

Deno.test("mapped memory: plain DataView accesses let a read pass the write before it (the litmus sees reordering)", async () => {
  assert.ok(
    navigator.hardwareConcurrency >= 2,
    `the litmus needs two CPUs at once; this machine has ${navigator.hardwareConcurrency}`,
  );
  // About 10% of rounds on the 2-CPU machines here.
  const both = await bothStale("plain");
  assert.ok(both > 0, `no round of ${ROUNDS} had both sides read the stale word`);
});

Deno.test("mapped memory: the ring-word accessors never let both sides read the other's stale word", async () => {
  assert.equal(await bothStale("ring"), 0);
});
