// The virtqueue engine against a minimal hand-written split ring on a raw
// DataView (the limit for TypeScript), in the same run: `deno bench` prints
// each case's ratio to the group's baseline. The floor (`_virtqueue_floor.ts`)
// is the engine's interface with no validation and no features. Each iteration is 1024
// requests; requests/s = 1024 / (time per iteration).
//
// Run: deno bench --allow-read bench/virtqueue_bench.ts
// Heap growth (no allocation per descriptor): deno run bench/virtqueue_heap.ts
// Best-of-N ratios timed by CPU time (steadier on a loaded machine):
//   deno run --allow-sys bench/_virtqueue_compare.ts
import { DmaAllocator } from "../src/memory.ts";
import { allocateQueue } from "../src/virtqueue/mod.ts";
import { QUEUE_SIZE, rawRig, rig, runBatched, runRaw, runSingle } from "./_virtqueue_loops.ts";
import { floorRig } from "./_virtqueue_floor.ts";

const N = 1024;
let sink = 0;

for (const descs of [1, 3]) {
  for (const batch of [1, 32]) {
    const group = `${descs}-descriptor requests, ${
      batch === 1 ? "one at a time" : "batches of 32"
    }`;
    const raw = rawRig(descs);
    Deno.bench({
      name: `raw DataView split loop (${descs}d, batch ${batch})`,
      group,
      baseline: true,
      fn() {
        sink += runRaw(raw, N, batch);
      },
    });
    const floor = floorRig(descs);
    Deno.bench({
      name: `floor: the interface with no checks (${descs}d, batch ${batch})`,
      group,
      fn() {
        sink += batch === 1 ? runSingle(floor, N) : runBatched(floor, N, batch);
      },
    });
    for (const packed of [false, true]) {
      const r = rig(packed, descs);
      Deno.bench({
        name: `engine ${packed ? "packed" : "split"} (${descs}d, batch ${batch})`,
        group,
        fn() {
          sink += batch === 1 ? runSingle(r, N) : runBatched(r, N, batch);
        },
      });
    }
  }
}

// Two workers over a SharedArrayBuffer: the driver in one, the device in the
// other, kicks and interrupts through Atomics, EVENT_IDX suppression on.
// The baseline: the same requests with driver and device in one thread.
const W = 4096;
const oneThread = rig(false, 1);
Deno.bench({
  name: `one thread, split, ${W} requests, batch 32`,
  group: "two workers over SharedArrayBuffer",
  baseline: true,
  fn() {
    sink += runBatched(oneThread, W, 32);
  },
});
for (const packed of [false, true]) {
  const memory = new SharedArrayBuffer(1 << 20);
  const signals = new SharedArrayBuffer(8);
  const alloc = new DmaAllocator(0, 1 << 20);
  const addrs = allocateQueue(alloc, QUEUE_SIZE, packed);
  const buf = alloc.alloc(256, 64);
  const workers = (["driver", "device"] as const).map((role) => {
    const w = new Worker(new URL("./_virtqueue_worker.ts", import.meta.url), { type: "module" });
    w.postMessage({ init: { role, memory, signals, addrs, packed, buf } });
    return w;
  });
  const run = (batch: number) =>
    Promise.all(workers.map((w) =>
      new Promise<void>((resolve) => {
        w.onmessage = () => resolve();
        w.postMessage({ count: W, batch });
      })
    ));
  for (const batch of [1, 32]) {
    Deno.bench({
      name: `two workers, ${packed ? "packed" : "split"}, ${W} requests, batch ${batch}`,
      group: "two workers over SharedArrayBuffer",
      async fn() {
        await run(batch);
      },
    });
  }
  globalThis.addEventListener("unload", () => workers.forEach((w) => w.terminate()));
}

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
