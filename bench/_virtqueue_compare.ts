// Best-of-N throughput of the engine against the raw DataView loop, in one
// process, the cases interleaved so that load on a shared machine hits them
// alike. `deno bench`'s mean is dominated by pauses on a loaded machine; the
// best of several long runs is the steadier figure (used in docs/virtqueue.md).
// Time is the process's CPU time (user + system), which other jobs on the
// machine disturb far less than wall-clock time; the loops are one-threaded.
//
// Beside the engine runs the floor (`_virtqueue_floor.ts`): the engine's
// interface with no validation and no features, the best any engine with
// that interface could do. `only` keeps the raw loop and one of split,
// packed or floor, so that the shared request loops see one queue class
// (V8 then specialises them for it).
//
// Run: deno run --allow-sys bench/_virtqueue_compare.ts [runs=7] [requests=200000] [only]
import process from "node:process";
import { positional, reportRow } from "./_report_rows.ts";
import { rawRig, rig, runBatched, runRaw, runSingle } from "./_virtqueue_loops.ts";
import { floorRig } from "./_virtqueue_floor.ts";

const args = positional();
const runs = Number(args[0] ?? 7);
const requests = Number(args[1] ?? 200_000);
const only = args[2];
const kinds = ["split", "packed", "floor"].filter((k) => only === undefined || k === only);
if (!(runs >= 1 && requests >= 1) || kinds.length === 0) {
  console.error("usage: _virtqueue_compare.ts [runs >= 1] [requests >= 1] [split|packed|floor]");
  Deno.exit(2);
}
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
    for (const kind of kinds) {
      let run: (n: number) => number;
      if (kind === "floor") {
        const r = floorRig(descs);
        run = (n) => batch === 1 ? runSingle(r, n) : runBatched(r, n, batch);
      } else {
        const r = rig(kind === "packed", descs);
        run = (n) => batch === 1 ? runSingle(r, n) : runBatched(r, n, batch);
      }
      cases.push({ name: kind, descs, batch, run, best: 0 });
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
console.log(`| case | raw | ${kinds.join(" | ")} |`);
const step = kinds.length + 1;
for (let i = 0; i < cases.length; i += step) {
  const [raw, ...rest] = cases.slice(i, i + step);
  const label = `${raw.descs} descriptor${raw.descs > 1 ? "s" : ""}, ${
    raw.batch === 1 ? "single" : "batch 32"
  }`;
  const cells = rest.map((c) => `${m(c.best)} (${(raw.best / c.best).toFixed(1)}×)`);
  console.log(`| ${label.padEnd(23)} | ${m(raw.best).padEnd(9)} | ${cells.join(" | ")} |`);
  const floor = rest.find((c) => c.name === "floor");
  for (const c of rest) {
    const engine = c.name === "floor" ? "floor (the interface, no checks)" : `engine ${c.name}`;
    reportRow({
      area: "engine",
      case: `${engine}, ${label}`,
      baseline: "raw DataView split loop",
      ratio: raw.best / c.best,
      detail: m(c.best),
    });
    if (floor !== undefined && c !== floor) {
      reportRow({
        area: "engine",
        case: `engine ${c.name}, ${label}`,
        baseline: "its interface floor",
        ratio: floor.best / c.best,
        detail: m(c.best),
      });
    }
  }
}
if (sink === 0.5) console.log(sink);
