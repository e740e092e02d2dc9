// The worker transport against the bare engine, in more detail than
// _transport_compare.ts: one batch in flight (ping-pong) and several
// (streaming), each with the default polling windows and with none
// (spinMs / irqSpinMs 0: both sides sleep at once). CPU time counts both
// threads; interleaved, best of N, the order rotating from run to run.
//
// Run: deno run -A bench/_worker_compare.ts [runs=5] [rounds=20000] [batch=64] [--json]
import process from "node:process";
import { positional, reportRow } from "./_report_rows.ts";
import { bareRig, BATCH, workerRig } from "./_transport_rigs.ts";

const args = positional();
const runs = Number(args[0] ?? 5);
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
const hosts: { terminate(): void }[] = [];
const variants: [string, { spinMs?: number; irqSpinMs?: number; blockingWait?: boolean }][] = [
  ["default polling", {}],
  ["no polling", { spinMs: 0, irqSpinMs: 0 }],
  ["default polling, blocking wait in the worker", { blockingWait: true }],
  ["no polling, blocking wait in the worker", { spinMs: 0, irqSpinMs: 0, blockingWait: true }],
];
for (const [label, opts] of variants) {
  const w = await workerRig(batch, opts);
  hosts.push(w.host);
  cases.push({
    name: `worker, one batch in flight, ${label}`,
    rounds: workerRounds,
    run: w.run,
    best: 0,
    bestWall: 0,
  });
  cases.push({
    name: `worker, streaming (3 batches in flight), ${label}`,
    rounds: workerRounds,
    run: (n) => w.stream(n, 3),
    best: 0,
    bestWall: 0,
  });
}
for (const c of cases) await c.run(Math.max(1, c.rounds / 4));
for (let k = 0; k < runs; k++) {
  for (let j = 0; j < cases.length; j++) {
    const c = cases[(j + k) % cases.length];
    const w0 = performance.now();
    const t0 = process.cpuUsage();
    await c.run(c.rounds);
    const t = process.cpuUsage(t0);
    const wall = (performance.now() - w0) / 1e3;
    const reqs = c.rounds * batch;
    c.best = Math.max(c.best, reqs / ((t.user + t.system) / 1e6));
    c.bestWall = Math.max(c.bestWall, reqs / wall);
  }
}
for (const h of hosts) h.terminate();
const m = (r: number) => `${(r / 1e6).toFixed(2)} M/s`;
const base = cases[0];
console.log(`best of ${runs}, batch ${batch} (load ${Deno.loadavg()[0].toFixed(1)})`);
console.log("| case | CPU time | cost vs bare (CPU) | wall clock | cost vs bare (wall) |");
console.log("| --- | --- | --- | --- | --- |");
for (const c of cases) {
  const cpu = base.best / c.best, wall = base.bestWall / c.bestWall;
  console.log(
    `| ${c.name} | ${m(c.best)} | ${cpu.toFixed(2)}x | ${m(c.bestWall)} | ${wall.toFixed(2)}x |`,
  );
  if (c !== base) {
    reportRow({
      area: "transports",
      case: `${c.name}, batch ${batch}`,
      baseline: base.name,
      ratio: cpu,
      detail: `wall clock ${wall.toFixed(2)}x`,
    });
  }
}
Deno.exit(0);
