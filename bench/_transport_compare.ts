// Best-of-N throughput of the full stack per transport against the bare
// virtqueue engine, in one process, the cases interleaved so that load on
// a shared machine hits them alike (as bench/_virtqueue_compare.ts does for
// the engine), in an order that rotates from run to run. Time is the
// process's CPU time (user + system), which other jobs disturb far less
// than wall-clock time. The worker case runs on two threads: its CPU time
// counts both, so its wall-clock best is shown too. One process can compile
// the engine better or worse than another: compare several processes.
//
// Run: deno run -A bench/_transport_compare.ts [runs=7] [rounds=20000] [batch=64]
// (one round = `batch` requests, one kick, one interrupt; batch 1 shows the
// cost of the kick and interrupt path itself)
import process from "node:process";
import { positional, reportRow } from "./_report_rows.ts";
import { bareRig, BATCH, stackRig, STACKS, workerRig } from "./_transport_rigs.ts";

const args = positional();
const runs = Number(args[0] ?? 7);
const rounds = Number(args[1] ?? 20_000);
const batch = Number(args[2] ?? BATCH);
const workerRounds = Math.max(1, Math.floor(rounds / 10));

interface Case {
  name: string;
  rounds: number;
  run: (n: number) => void | Promise<void>;
  best: number;
  bestWall: number;
}

const cases: Case[] = [{
  name: "bare virtqueue engine",
  rounds,
  run: bareRig(batch),
  best: 0,
  bestWall: 0,
}];
for (const kind of STACKS) {
  cases.push({ name: kind.name, rounds, run: await stackRig(kind, batch), best: 0, bestWall: 0 });
}
const worker = await workerRig(batch);
cases.push({
  name: "worker (mmio over Atomics)",
  rounds: workerRounds,
  run: worker.run,
  best: 0,
  bestWall: 0,
});

for (const c of cases) await c.run(Math.max(1, c.rounds / 4)); // warm up
// The order rotates from run to run: a case measured right after another
// one runs measurably faster or slower (caches, the previous case's
// background work), so no case may keep the same place.
for (let k = 0; k < runs; k++) {
  for (let j = 0; j < cases.length; j++) {
    const c = cases[(j + k) % cases.length];
    const w0 = performance.now();
    const t0 = process.cpuUsage();
    await c.run(c.rounds);
    const t = process.cpuUsage(t0);
    const wall = (performance.now() - w0) / 1e3;
    const reqs = c.rounds * batch;
    const rate = reqs / ((t.user + t.system) / 1e6);
    if (rate > c.best) c.best = rate;
    if (reqs / wall > c.bestWall) c.bestWall = reqs / wall;
  }
}
worker.host.terminate();

const m = (r: number) => `${(r / 1e6).toFixed(2)} M/s`;
const base = cases[0];
console.log(
  `best of ${runs} runs of ${rounds} rounds x ${batch} requests (worker: ${workerRounds} rounds; load ${
    Deno.loadavg()[0].toFixed(1)
  })`,
);
console.log("| case | CPU time | cost vs bare (CPU) | wall clock | cost vs bare (wall) |");
console.log("| --- | --- | --- | --- | --- |");
for (const c of cases) {
  console.log(
    `| ${c.name} | ${m(c.best)} | ${(base.best / c.best).toFixed(2)}x | ${m(c.bestWall)} | ${
      (base.bestWall / c.bestWall).toFixed(2)
    }x |`,
  );
  if (c !== base) {
    reportRow({
      area: "transports",
      case: `${c.name}, batch ${batch}`,
      baseline: base.name,
      ratio: base.best / c.best,
      detail: `wall clock ${(base.bestWall / c.bestWall).toFixed(2)}x; ${m(c.best)} CPU`,
    });
  }
}
Deno.exit(0);
