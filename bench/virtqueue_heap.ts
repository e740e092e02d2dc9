// Shows that the request path allocates nothing per descriptor: heap growth
// (sum of increases between samples) over a million requests, after warm-up.
// Run: deno run bench/virtqueue_heap.ts
import { rig, runBatched, runSingle } from "./_virtqueue_loops.ts";

/** Bytes of heap growth per request over `requests` requests of each kind. */
export function heapGrowthPerRequest(requests = 1_000_000): Record<string, number> {
  const result: Record<string, number> = {};
  for (const packed of [false, true]) {
    for (const descs of [1, 3]) {
      for (const batch of [1, 32]) {
        const r = rig(packed, descs);
        const run = (n: number) => batch === 1 ? runSingle(r, n) : runBatched(r, n, batch);
        run(50_000); // warm up and let the JIT settle
        const step = 10_000;
        let grown = 0;
        let last = Deno.memoryUsage().heapUsed;
        for (let done = 0; done < requests; done += step) {
          run(step);
          const now = Deno.memoryUsage().heapUsed;
          if (now > last) grown += now - last;
          last = now;
        }
        result[
          `${packed ? "packed" : "split"} ${descs}-desc ${batch === 1 ? "single" : "batch 32"}`
        ] = grown / requests;
      }
    }
  }
  return result;
}

if (import.meta.main) {
  console.log("heap growth over 1e6 requests, bytes per request (sampling adds ~0.01):");
  for (const [k, v] of Object.entries(heapGrowthPerRequest())) {
    console.log(`  ${k.padEnd(26)} ${v.toFixed(3)}`);
  }
}
