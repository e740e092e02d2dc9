/**
 * `deno task fuzz`: runs the registered fuzzers for a number of cases or a
 * time, prints cases per second, and writes a reproducer file for every
 * failure (fuzzer, seed, case index, error and the case's input).
 *
 * ```sh
 * deno task fuzz --seconds 60            # every registered fuzzer, 60 s each
 * deno task fuzz --cases 1000000 --only rings --seed 7
 * deno task fuzz --only rings --seed 7 --first 1234 --cases 1   # replay one case
 * deno task fuzz --fuzzer ./my_fuzz.ts#fuzzThing --cases 100      # an ad hoc fuzzer
 * ```
 *
 * Options: `--seconds N` or `--cases N` (default `--cases 2000`), `--seed S`
 * (default: from the clock, printed), `--first I` (first case index),
 * `--batch B` (cases per batch, default 1000), `--timeout T` (seconds a
 * batch may take before it counts as a hang, default 120), `--out DIR`
 * (reproducers, default `fuzz-failures/`), `--only NAME` (repeatable).
 *
 * A fuzzer is a function `({ seed, cases, first? }) => { cases, failures }`
 * (or a promise of it), each failure an object with at least `error`, and
 * ideally `case` and `input`. Batch `k` of a run with seed `S` runs with
 * seed `S + k`, so fuzzers that ignore `first` still see new cases. Each
 * batch runs in a worker: one that does not finish within the timeout is a
 * hang, reported with its seed and case range. A long run prints a progress
 * line (cases so far, rate, failures) at most once a minute, between batches.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A fuzzer the entry point knows about; registered only if its module exists. */
interface Registered {
  name: string;
  /** Path relative to the repository root. */
  module: string;
  fn: string;
}

/** The registry: add a line for a new fuzzer. */
export const FUZZERS: Registered[] = [
  { name: "rings", module: "tests/fuzz/ring_fuzz.ts", fn: "fuzzRings" },
  { name: "mmio", module: "tests/fuzz/register_fuzz.ts", fn: "fuzzMmio" },
  { name: "pci", module: "tests/fuzz/register_fuzz.ts", fn: "fuzzPci" },
  { name: "hostile-device", module: "tests/fuzz/register_fuzz.ts", fn: "fuzzHostileDevice" },
  { name: "vhost-user", module: "tests/fuzz/vhost_user_fuzz.ts", fn: "fuzzVhostUser" },
  { name: "9p", module: "tests/fuzz/p9_fuzz.ts", fn: "fuzzP9" },
  { name: "fuse", module: "tests/fuzz/fuse_fuzz.ts", fn: "fuzzFuse" },
];

/** A progress line at most this often (long runs), between batches. */
const PROGRESS_MS = 60_000;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Args {
  seconds?: number;
  cases?: number;
  seed: number;
  first: number;
  batch: number;
  timeout: number;
  out: string;
  only: string[];
  extra: Registered[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    seed: Date.now() % 2 ** 31,
    first: 0,
    batch: 1000,
    timeout: 120,
    out: "fuzz-failures",
    only: [],
    extra: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k}: not a number: ${v}`);
      return n;
    };
    if (k === "--seconds") a.seconds = num();
    else if (k === "--cases") a.cases = Math.floor(num());
    else if (k === "--seed") a.seed = Math.floor(num());
    else if (k === "--first") a.first = Math.floor(num());
    else if (k === "--batch") a.batch = Math.max(1, Math.floor(num()));
    else if (k === "--timeout") a.timeout = num();
    else if (k === "--out") a.out = v;
    else if (k === "--only") a.only.push(v);
    else if (k === "--fuzzer") {
      const [file, fn] = v.split("#");
      a.extra.push({ name: fn ?? file, module: resolve(Deno.cwd(), file), fn: fn ?? "fuzz" });
    } else throw new Error(`unknown option ${k}`);
  }
  if (a.seconds === undefined && a.cases === undefined) a.cases = 2000;
  return a;
}

interface Failure {
  case?: number;
  error?: string;
  input?: unknown;
  [k: string]: unknown;
}

/** A worker that runs batches; replaced after a hang. */
class Runner {
  #worker: Worker | undefined;

  /** Runs one batch; a hang or a crash is reported as a failure of the whole range. */
  async batch(
    moduleUrl: string,
    fn: string,
    seed: number,
    cases: number,
    first: number,
    timeoutMs: number,
  ): Promise<{ cases: number; failures: Failure[] }> {
    const worker = this.#worker ??= new Worker(new URL("./_fuzz_worker.ts", import.meta.url), {
      type: "module",
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await new Promise<
      { ok?: { cases: number; failures: Failure[] }; error?: string }
    >((resolve) => {
      timer = setTimeout(
        () => resolve({ error: `hang: no result after ${timeoutMs / 1000} s` }),
        timeoutMs,
      );
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        resolve({ error: `worker error: ${e.message}` });
      };
      worker.postMessage({ module: moduleUrl, fn, seed, cases, first });
    });
    clearTimeout(timer);
    if (reply.ok) return reply.ok;
    this.close();
    return {
      cases,
      failures: [{ case: first, lastCase: first + cases - 1, error: reply.error ?? "no result" }],
    };
  }

  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const all = [...FUZZERS, ...args.extra];
  const chosen: Registered[] = [];
  for (const f of all) {
    if (args.only.length > 0 && !args.only.includes(f.name)) continue;
    const path = f.module.startsWith("/") ? f.module : resolve(ROOT, f.module);
    if (!(await exists(path))) continue;
    const mod = await import(pathToFileURL(path).href);
    if (typeof mod[f.fn] !== "function") continue;
    chosen.push({ ...f, module: pathToFileURL(path).href });
  }
  if (chosen.length === 0) {
    console.error("no fuzzer selected");
    return 2;
  }
  console.log(`seed ${args.seed}`);
  let failed = 0;
  const runner = new Runner();
  for (const f of chosen) {
    const start = performance.now();
    let done = 0;
    let k = 0;
    let failures = 0;
    let lastProgress = start;
    for (;;) {
      const elapsed = (performance.now() - start) / 1000;
      if (args.cases !== undefined && done >= args.cases) break;
      if (args.seconds !== undefined && elapsed >= args.seconds) break;
      const n = args.cases !== undefined ? Math.min(args.batch, args.cases - done) : args.batch;
      const seed = args.seed + k;
      const first = args.first;
      const r = await runner.batch(f.module, f.fn, seed, n, first, args.timeout * 1000);
      done += r.cases;
      for (const fail of r.failures) {
        failures++;
        const index = typeof fail.case === "number" ? fail.case : first;
        const file = join(args.out, `${f.name}-seed${seed}-case${index}.json`);
        await Deno.mkdir(args.out, { recursive: true });
        await Deno.writeTextFile(
          file,
          JSON.stringify(
            {
              fuzzer: f.name,
              seed,
              case: index,
              replay: `deno task fuzz --only ${f.name} --seed ${seed} --first ${index} --cases 1`,
              ...fail,
            },
            null,
            2,
          ) + "\n",
        );
        console.log(
          `FAIL ${f.name} seed ${seed} case ${index}: ${String(fail.error).split("\n")[0]}`,
        );
        console.log(`  reproducer: ${file}`);
      }
      k++;
      if (performance.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = performance.now();
        const secs = (lastProgress - start) / 1000;
        console.log(
          `  ${f.name}: ${done} cases, ${secs.toFixed(0)} s, ${
            Math.round(done / Math.max(secs, 1e-3))
          } cases/s, ${failures} failures so far`,
        );
      }
    }
    const secs = (performance.now() - start) / 1000;
    console.log(
      `${f.name}: ${done} cases in ${secs.toFixed(1)} s, ${
        Math.round(done / Math.max(secs, 1e-3))
      } cases/s, ${failures} failures`,
    );
    failed += failures;
  }
  runner.close();
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
