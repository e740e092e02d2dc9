// Requests per second through the full stack (driver API, transport, null
// device) per transport, against the bare virtqueue engine in the same run.
// Each iteration sends BATCH requests of one 64-byte readable buffer: add
// them all, kick once, the device completes them, the driver collects them.
// `deno bench` prints each transport's cost relative to the baseline; on a
// shared machine prefer bench/_transport_compare.ts (CPU time, best of N).

import { bareRig, stackRig, STACKS, workerRig } from "./_transport_rigs.ts";

const bare = bareRig();
Deno.bench("bare virtqueue engine", { group: "requests", baseline: true, n: 20000 }, () => bare(1));

for (const kind of STACKS) {
  const run = await stackRig(kind);
  Deno.bench(kind.name, { group: "requests", n: 20000 }, () => run(1));
}

const worker = await workerRig();
Deno.bench("worker (mmio over Atomics)", { group: "requests", n: 2000 }, () => worker.run(1));
globalThis.addEventListener("unload", () => worker.host.terminate());
