// Runs the cases of a `deno bench` file the way the bench/_*_compare.ts
// scripts do: interleaved (the order rotates from run to run, so load on a
// shared machine hits every case alike), timed by the process's CPU time
// (user + system, all threads), best of N runs. `Deno.bench` is replaced
// before the file is imported, so its registrations are collected instead
// of run; each group's cost is then printed relative to its baseline.
// `deno bench` itself measures wall-clock means, which swing a lot on a
// loaded 2-core machine.
//
// Run: deno run -A bench/_bench_compare.ts <bench file> [runs=7] [ms per run=150] [--json]
//   [--group=<text>] (only the groups whose name contains <text>) [--area=<name>] (the area
//   its rows are filed under; default the file's name without _bench.ts)
import process from "node:process";
import { positional, reportRow } from "./_report_rows.ts";

const args = positional();
const file = args[0];
const runs = Number(args[1] ?? 7);
const ms = Number(args[2] ?? 150);
if (file === undefined || !(runs >= 1) || !(ms > 0)) {
  console.error("usage: _bench_compare.ts <bench file> [runs >= 1] [ms per run > 0] [--json]");
  Deno.exit(2);
}

const area = Deno.args.find((a) => a.startsWith("--area="))?.slice("--area=".length);
const only = Deno.args.find((a) => a.startsWith("--group="))?.slice("--group=".length);

interface Registered {
  name: string;
  group: string;
  baseline: boolean;
  fn: () => unknown;
  iterations: number;
  best: number; // µs of CPU time per iteration
}

type BenchFn = () => unknown;
type BenchOptions = {
  name?: string;
  group?: string;
  baseline?: boolean;
  ignore?: boolean;
  fn?: BenchFn;
};
const cases: Registered[] = [];
function register(a: unknown, b?: unknown, c?: unknown): void {
  let opts: BenchOptions = {};
  let fn: BenchFn | undefined;
  if (typeof a === "string") {
    opts.name = a;
    if (typeof b === "function") fn = b as BenchFn;
    else {
      opts = { ...(b as BenchOptions), name: a };
      fn = c as BenchFn;
    }
  } else if (typeof a === "function") {
    fn = a as BenchFn;
    opts.name = (a as { name: string }).name;
  } else {
    opts = { ...(a as BenchOptions) };
    fn = typeof b === "function" ? b as BenchFn : opts.fn;
  }
  if (opts.ignore || fn === undefined) return;
  if (only !== undefined && !(opts.group ?? "").includes(only)) return;
  cases.push({
    name: opts.name ?? "(unnamed)",
    group: opts.group ?? "",
    baseline: opts.baseline ?? false,
    fn,
    iterations: 1,
    best: Infinity,
  });
}
(Deno as unknown as { bench: typeof register }).bench = register;

await import(new URL(file, `file://${Deno.cwd()}/`).href);

async function cpuOf(c: Registered, n: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = c.fn();
    if (r instanceof Promise) await r;
  }
  const t = process.cpuUsage(t0);
  return t.user + t.system;
}

// Warm up, and size each case's run to about `ms` of CPU time.
for (const c of cases) {
  let n = 1;
  for (;;) {
    const us = await cpuOf(c, n);
    if (us >= ms * 100 || n >= 1 << 20) {
      c.iterations = Math.max(1, Math.round(n * (ms * 1000) / Math.max(us, 1)));
      break;
    }
    n *= 4;
  }
}
for (let k = 0; k < runs; k++) {
  for (let j = 0; j < cases.length; j++) {
    const c = cases[(j + k) % cases.length];
    const us = (await cpuOf(c, c.iterations)) / c.iterations;
    if (us < c.best) c.best = us;
  }
}

const fmt = (us: number) => us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(2)} µs`;
console.log(
  `${file}: best of ${runs} runs of ~${ms} ms CPU time per case (load ${
    Deno.loadavg()[0].toFixed(1)
  })`,
);
console.log("| group | case | CPU time per iteration | cost vs baseline |");
console.log("| --- | --- | --- | --- |");
const groups = [...new Set(cases.map((c) => c.group))];
for (const g of groups) {
  const inGroup = cases.filter((c) => c.group === g);
  const base = inGroup.find((c) => c.baseline);
  for (const c of inGroup) {
    const ratio = base === undefined ? undefined : c.best / base.best;
    console.log(
      `| ${g} | ${c.name} | ${fmt(c.best)} | ${
        ratio === undefined ? "-" : `${ratio.toFixed(2)}x`
      } |`,
    );
    if (base !== undefined && c !== base) {
      reportRow({
        area: area ?? file.replace(/^.*\//, "").replace(/_bench\.ts$/, ""),
        case: c.name,
        baseline: base.name,
        ratio: c.best / base.best,
        detail: `${fmt(c.best)} vs ${fmt(base.best)}`,
      });
    }
  }
}
Deno.exit(0);
