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
// Beside them, the C peer (bench/c/ring_threads.c, built with gcc at start;
// gcc is required): the same split ring per request in C, in one thread
// (driver and device alternating, as the bare engine) and in two (as the NAPI
// case, with queues of 256 and 1024), so that the two-thread cost of a ring
// whose cache lines move between cores can be told from our own. Its threads
// run where the scheduler puts them (as our worker's), and, to tell the two
// cases apart, pinned to two CPUs and to one. It runs as many requests per
// run as the bare engine and times itself, CPU time of its whole process
// (both threads), and reports where the time went (_c_ring_peer.ts).
//
// Run: deno run -A bench/_worker_compare.ts [runs=5] [rounds=20000] [batch=64] [--json]
import process from "node:process";
import {
  buildRingPeer,
  type RingPeerPlacement,
  type RingPeerResult,
  type RingPeerRun,
  runRingPeer,
} from "./_c_ring_peer.ts";
import { positional, reportRow } from "./_report_rows.ts";
import { bareRig, BATCH, workerRig } from "./_transport_rigs.ts";

const args = positional();
const runs = Number(args[0] ?? 5);
const rounds = Number(args[1] ?? 20_000);
const batch = Number(args[2] ?? BATCH);
const workerRounds = Math.max(1, Math.floor(rounds / 10));

/** Seconds of CPU time and wall clock a case measured itself (the C peer, in its own process). */
interface Timed {
  cpu: number;
  wall: number;
}
interface Case {
  name: string;
  rounds: number;
  run: (n: number) => void | Promise<void> | Promise<Timed>;
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
// The C peer: one thread (queue 256, as the bare engine), two threads as the NAPI case.
const tmp = await Deno.makeTempDir({ prefix: "typed-virtio-ring-peer-" });
const ringPeer = await buildRingPeer(tmp);
/** Every measured result of each C case, for where its time went. */
const peerResults = new Map<string, RingPeerResult[]>();
const peer = (name: string, run: Omit<RingPeerRun, "batch" | "requests">): Case => {
  const results: RingPeerResult[] = [];
  peerResults.set(name, results);
  return mk(name, rounds, async (n) => {
    const r = await runRingPeer(ringPeer, { ...run, batch, requests: n * batch });
    results.push(r);
    return { cpu: r.cpu_ns / 1e9, wall: r.wall_ns / 1e9 };
  });
};
const peers: Case[] = [
  peer("C split ring, one thread (queue 256)", { queue: 256, mode: "single" }),
];
const placements: [string, RingPeerPlacement][] = [
  ["two threads", "any"],
  ["two threads pinned to two CPUs", "split"],
];
for (const [label, placement] of placements) {
  for (const queue of [256, 1024]) {
    peers.push(
      peer(`C split ring, ${label}, queue ${queue} (${queue / batch} batches in flight)`, {
        queue,
        mode: "threads",
        placement,
      }),
    );
  }
}
peers.push(
  peer(
    `C split ring, two threads pinned to one CPU, queue 1024 (${1024 / batch} batches in flight)`,
    {
      queue: 1024,
      mode: "threads",
      placement: "same",
    },
  ),
);
const all = [...cases, ...peers];
for (const c of all) await c.run(Math.max(1, c.rounds / 4));
for (const results of peerResults.values()) results.length = 0;
for (let k = 0; k < runs; k++) {
  for (let j = 0; j < all.length; j++) {
    const c = all[(j + k) % all.length];
    const w0 = performance.now();
    const t0 = process.cpuUsage();
    const timed = await c.run(c.rounds);
    const t = process.cpuUsage(t0);
    const cpu = timed ? timed.cpu : (t.user + t.system) / 1e6;
    const wall = timed ? timed.wall : (performance.now() - w0) / 1e3;
    const reqs = c.rounds * batch;
    c.cpu.push(reqs / cpu);
    c.wall.push(reqs / wall);
    c.best = Math.max(c.best, reqs / cpu);
    c.bestWall = Math.max(c.bestWall, reqs / wall);
  }
}
await Deno.remove(tmp, { recursive: true });
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

/** Table rows of `list` against `baseline`, and their report rows. */
function table(list: Case[], baseline: Case, label: string): void {
  console.log(
    `| case | CPU time | cost vs ${label} (CPU) | wall clock | cost vs ${label} (wall) |`,
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const c of list) {
    const cpu = baseline.best / c.best, wall = baseline.bestWall / c.bestWall;
    const cpuMed = median(baseline.cpu) / median(c.cpu);
    const wallMed = median(baseline.wall) / median(c.wall);
    console.log(
      `| ${c.name} | ${m(c.best)} | ${cpu.toFixed(2)}x (${cpuMed.toFixed(2)}x) | ${
        m(c.bestWall)
      } | ${wall.toFixed(2)}x (${wallMed.toFixed(2)}x) |`,
    );
    if (c !== baseline) {
      reportRow({
        area: "transports",
        case: `${c.name}, batch ${batch}`,
        baseline: baseline.name,
        ratio: cpu,
        detail: `wall clock ${wall.toFixed(2)}x`,
      });
    }
  }
}
table(cases, base, "bare");

const ns = (rate: number) => `${(1e9 / rate).toFixed(1)} ns`;
const cBase = peers[0];
console.log("\nC peer (bench/c/ring_threads.c, gcc -O2), against its own one-thread run:");
table(peers, cBase, "C one thread");
console.log(
  `C one thread: ${ns(cBase.best)} CPU per request (median ${ns(median(cBase.cpu))}); ` +
    `the bare engine: ${ns(base.best)} (median ${ns(median(base.cpu))}), ` +
    `${(cBase.best / base.best).toFixed(2)}x C's cost`,
);
reportRow({
  area: "transports",
  case: `${cBase.name}, batch ${batch}`,
  baseline: base.name,
  ratio: base.best / cBase.best,
  detail: `wall clock ${(base.bestWall / cBase.bestWall).toFixed(2)}x`,
});
// Where the C peer's time went, in its median run (by CPU time).
console.log(
  "\n| C case (median run), ns per request | CPU | driver thread | device thread | " +
    "ring work, driver | ring work, device | rest (waits, wakes, control block) | " +
    "kicks / interrupts / driver sleeps / device sleeps per 1000 requests |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [name, results] of peerResults) {
  const r = [...results].sort((a, b) => a.cpu_ns - b.cpu_ns)[results.length >> 1];
  const per = (x: number) => (x / r.requests).toFixed(1);
  const k = (x: number) => (x * 1000 / r.requests).toFixed(2);
  console.log(
    `| ${name} | ${per(r.cpu_ns)} | ${per(r.driver_cpu_ns)} | ${per(r.device_cpu_ns)} | ${
      per(r.driver_ring_ns)
    } | ${per(r.device_ring_ns)} | ${per(r.cpu_ns - r.driver_ring_ns - r.device_ring_ns)} | ${
      k(r.kicks)
    } / ${k(r.interrupts)} / ${k(r.driver_sleeps)} / ${k(r.device_sleeps)} |`,
  );
}
Deno.exit(0);
