// The worker transport against the bare engine, in more detail than
// _transport_compare.ts: one batch in flight (ping-pong) and several
// (streaming), each with the default polling windows and with none
// (spinMs / irqSpinMs 0: both sides sleep at once); and the driver as Linux's
// NAPI drivers run (`poll`: interrupts off while it has work, used buffers
// collected without waiting, blocking interrupt waits with
// `interruptWait: "blocking"` when it has nothing left to do, the device
// worker in a blocking wait too), with a 256- and a 1024-entry queue. Also
// the bare engine over a SharedArrayBuffer (same thread): what shared memory
// alone costs, the floor of any transport whose sides are two threads.
// CPU time counts both threads (process.cpuUsage is the process's);
// interleaved, best of N (and the median), the order rotating from run to run.
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
  /** Requests per second of CPU time and of wall clock, one per run. */
  cpu: number[];
  wall: number[];
}
const mk = (name: string, rounds: number, run: Case["run"]): Case => ({
  name,
  rounds,
  run,
  best: 0,
  bestWall: 0,
  cpu: [],
  wall: [],
});
const cases: Case[] = [
  mk("bare virtqueue engine", rounds, bareRig(batch)),
  mk("bare virtqueue engine over shared memory", rounds, bareRig(batch, { shared: true })),
];
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
  cases.push(mk(`worker, one batch in flight, ${label}`, workerRounds, w.run));
  cases.push(
    mk(`worker, streaming (3 batches in flight), ${label}`, workerRounds, (n) => w.stream(n, 3)),
  );
}
// NAPI: no polling windows (a blocked thread costs nothing), blocking waits on both sides.
for (const queueSize of [256, 1024]) {
  const depth = queueSize / batch;
  const w = await workerRig(batch, {
    queueSize,
    spinMs: 0,
    irqSpinMs: 0,
    blockingWait: true,
    interruptWait: "blocking",
  });
  hosts.push(w.host);
  cases.push(
    mk(
      `worker, NAPI driver, blocking waits on both sides, queue ${queueSize} (${depth} batches in flight)`,
      rounds / 2,
      (n) => w.poll(n, depth),
    ),
  );
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
    c.cpu.push(reqs / ((t.user + t.system) / 1e6));
    c.wall.push(reqs / wall);
    c.best = Math.max(c.best, reqs / ((t.user + t.system) / 1e6));
    c.bestWall = Math.max(c.bestWall, reqs / wall);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const h of hosts) h.terminate();

// The floor: a bare cross-thread round trip (this thread and a worker, each
// blocking in Atomics.wait on a counter the other bumps), in CPU time of both.
const pingSrc = `onmessage = (e) => {
  const c = new Int32Array(e.data);
  postMessage(0);
  for (let seen = 0;;) {
    Atomics.wait(c, 0, seen);
    seen = Atomics.load(c, 0);
    if (seen < 0) return;
    Atomics.store(c, 1, seen);
    Atomics.notify(c, 1);
  }
};`;
const pinger = new Worker(
  URL.createObjectURL(new Blob([pingSrc], { type: "text/javascript" })),
  { type: "module" },
);
const pc = new Int32Array(new SharedArrayBuffer(8));
await new Promise((res) => {
  pinger.onmessage = res;
  pinger.postMessage(pc.buffer);
});
let ping = 0;
const trips = Math.max(1000, workerRounds);
const pingCpu: number[] = [];
for (let k = 0; k < runs; k++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < trips; i++) {
    Atomics.store(pc, 0, ++ping);
    Atomics.notify(pc, 0);
    // Wait on the value just compared: loading it again for the wait could
    // read the reply itself, and wait for a change that never comes.
    for (let seen = Atomics.load(pc, 1); seen !== ping; seen = Atomics.load(pc, 1)) {
      Atomics.wait(pc, 1, seen);
    }
  }
  const t = process.cpuUsage(t0);
  pingCpu.push((t.user + t.system) / trips);
}
Atomics.store(pc, 0, -1);
Atomics.notify(pc, 0);
pinger.terminate();
const m = (r: number) => `${(r / 1e6).toFixed(2)} M/s`;
const base = cases[0];
const tripUs = median(pingCpu);
console.log(
  `cross-thread round trip (Atomics.wait on both sides): ${
    tripUs.toFixed(1)
  } µs CPU (median of ${runs}); ` +
    `the bare engine does ${(tripUs * median(base.cpu) / 1e6).toFixed(0)} requests in that time, ` +
    `so 1.5x needs at least ${
      (2 * tripUs * median(base.cpu) / 1e6).toFixed(0)
    } requests per round trip ` +
    `even with no other cost`,
);
console.log(
  `best of ${runs} (median in brackets), batch ${batch} (load ${Deno.loadavg()[0].toFixed(1)})`,
);
console.log("| case | CPU time | cost vs bare (CPU) | wall clock | cost vs bare (wall) |");
console.log("| --- | --- | --- | --- | --- |");
for (const c of cases) {
  const cpu = base.best / c.best, wall = base.bestWall / c.bestWall;
  const cpuMed = median(base.cpu) / median(c.cpu), wallMed = median(base.wall) / median(c.wall);
  console.log(
    `| ${c.name} | ${m(c.best)} | ${cpu.toFixed(2)}x (${cpuMed.toFixed(2)}x) | ${m(c.bestWall)} | ${
      wall.toFixed(2)
    }x (${wallMed.toFixed(2)}x) |`,
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
