// Best-of-N throughput of the engine against the raw DataView loop, in one
// process, the cases interleaved so that load on a shared machine hits them
// alike. `deno bench`'s mean is dominated by pauses on a loaded machine; the
// best of several long runs is the steadier figure (used in docs/virtqueue.md).
// Time is the process's CPU time (user + system), which other jobs on the
// machine disturb far less than wall-clock time; the loops are one-threaded.
//
// Run: deno run --allow-sys bench/_virtqueue_compare.ts [runs=7] [requests=200000]
import process from "node:process";
import { rawRig, rig, runBatched, runRaw, runSingle } from "./_virtqueue_loops.ts";

const runs = Number(Deno.args[0] ?? 7);
const requests = Number(Deno.args[1] ?? 200_000);
let sink = 0;

interface Case {
  name: string;
  descs: number;
  batch: number;
  run: (n: number) => number;
  best: number;
}

const cases: Case[] = [];
for (const descs of [1, 3]) {
  for (const batch of [1, 32]) {
    const raw = rawRig(descs);
    cases.push({ name: "raw", descs, batch, run: (n) => runRaw(raw, n, batch), best: 0 });
    for (const packed of [false, true]) {
      const r = rig(packed, descs);
      cases.push({
        name: packed ? "packed" : "split",
        descs,
        batch,
        run: (n) => batch === 1 ? runSingle(r, n) : runBatched(r, n, batch),
        best: 0,
      });
    }
  }
}

for (const c of cases) sink += c.run(50_000); // warm up
for (let k = 0; k < runs; k++) {
  for (const c of cases) {
    const t0 = process.cpuUsage();
    sink += c.run(requests);
    const t = process.cpuUsage(t0);
    const rate = requests / ((t.user + t.system) / 1e6);
    if (rate > c.best) c.best = rate;
  }
}

const m = (r: number) => `${(r / 1e6).toFixed(1)} M/s`;
console.log(`best of ${runs} runs of ${requests} requests (load ${Deno.loadavg()[0].toFixed(1)})`);
for (let i = 0; i < cases.length; i += 3) {
  const [raw, split, packed] = cases.slice(i, i + 3);
  const label = `${raw.descs} descriptor${raw.descs > 1 ? "s" : ""}, ${
    raw.batch === 1 ? "single" : "batch 32"
  }`;
  console.log(
    `| ${label.padEnd(23)} | ${m(raw.best).padEnd(9)} | ${m(split.best)} (${
      (raw.best / split.best).toFixed(1)
    }×) | ${m(packed.best)} (${(raw.best / packed.best).toFixed(1)}×) |`,
  );
}
if (sink === 0.5) console.log(sink);
