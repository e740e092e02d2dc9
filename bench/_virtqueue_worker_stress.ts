// Stress for the two-worker virtqueue exchange: driver and device in two
// workers over a SharedArrayBuffer, split and packed, batch 1 and 32, with
// and without EVENT_IDX, many times over; counts failures and prints each
// one with both sides' ring state (avail idx, used idx, lastUsed, in flight,
// the tokens in flight).
//
// Two harnesses:
// - "check" (default): tests/virtqueue/_exchange_worker.ts, which checks
//   every token, length and reply and stops both sides on a fault;
// - "bench": bench/_virtqueue_worker.ts as virtqueue_bench.ts runs it (one
//   queue kept per worker across runs, EVENT_IDX on), errors counted.
//
// `fresh` takes new workers for every run, so that the first requests of each
// run go through V8's interpreter and baseline tiers, as in the benchmark's
// first iterations; otherwise a pair of workers serves all runs of a case.
//
// Run: deno run --allow-read bench/_virtqueue_worker_stress.ts [check|bench] [runs=20] [count=20000] [fresh=1] [split|packed]
import { DmaAllocator } from "../src/memory.ts";
import { allocateQueue } from "../src/virtqueue/mod.ts";
import {
  describeFailure,
  type ExchangeConfig,
  ExchangePair,
} from "../tests/virtqueue/_exchange.ts";

const mode = Deno.args[0] ?? "check";
const runs = Number(Deno.args[1] ?? 20);
const count = Number(Deno.args[2] ?? 20_000);
const fresh = (Deno.args[3] ?? "1") !== "0";
const layouts = Deno.args[4] === "split"
  ? [false]
  : Deno.args[4] === "packed"
  ? [true]
  : [false, true];

async function checkCase(cfg: ExchangeConfig): Promise<[number, number, string[]]> {
  let failures = 0, lost = 0;
  const notes: string[] = [];
  let pair = new ExchangePair();
  try {
    for (let k = 0; k < runs; k++) {
      if (fresh && k > 0) {
        pair.close();
        pair = new ExchangePair();
      }
      const r = await pair.run(cfg);
      lost += r.driver.lostWakeups + r.device.lostWakeups;
      if (!r.ok) {
        failures++;
        if (notes.length < 3) notes.push(`run ${k}: ${describeFailure(cfg, r)}`);
        // A failed run leaves the workers' state unknown: start afresh.
        pair.close();
        pair = new ExchangePair();
      }
    }
  } finally {
    pair.close();
  }
  return [failures, lost, notes];
}

/** The benchmark's own worker, used the way virtqueue_bench.ts uses it. */
async function benchCase(packed: boolean, batch: number): Promise<[number, number, string[]]> {
  let failures = 0;
  const notes: string[] = [];
  const start = () => {
    const memory = new SharedArrayBuffer(1 << 20);
    const signals = new SharedArrayBuffer(8);
    const alloc = new DmaAllocator(0, 1 << 20);
    const addrs = allocateQueue(alloc, 256, packed);
    const buf = alloc.alloc(256, 64);
    return (["driver", "device"] as const).map((role) => {
      const w = new Worker(new URL("./_virtqueue_worker.ts", import.meta.url), { type: "module" });
      w.postMessage({ init: { role, memory, signals, addrs, packed, buf } });
      return w;
    });
  };
  let workers = start();
  for (let k = 0; k < runs; k++) {
    if (fresh && k > 0) {
      workers.forEach((w) => w.terminate());
      workers = start();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      Promise.all(workers.map((w) =>
        new Promise<void>((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
          w.postMessage({ count, batch });
        })
      )).then(() => "ok"),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung for 10 s"), 10_000)),
    ]).catch((e: Error) => e.message);
    clearTimeout(timer);
    if (outcome !== "ok") {
      failures++;
      if (notes.length < 3) notes.push(`run ${k}: ${outcome}`);
      workers.forEach((w) => w.terminate());
      workers = start();
    }
  }
  workers.forEach((w) => w.terminate());
  return [failures, 0, notes];
}

console.log(
  `${mode}: ${runs} runs of ${count} requests per case, ${fresh ? "fresh" : "kept"} workers`,
);
let total = 0;
for (const packed of layouts) {
  for (const eventIdx of mode === "bench" ? [true] : [false, true]) {
    for (const batch of [1, 32]) {
      const t0 = performance.now();
      const [failures, lost, notes] = mode === "bench"
        ? await benchCase(packed, batch)
        : await checkCase({ packed, eventIdx, batch, count });
      total += failures;
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(
        `${packed ? "packed" : "split "} eventIdx=${eventIdx ? 1 : 0} batch=${
          String(batch).padStart(2)
        }: ${failures}/${runs} failed${
          mode === "bench" ? "" : `, ${lost} naps ended with work waiting`
        } (${secs} s)`,
      );
      for (const n of notes) console.log(`  ${n}`);
    }
  }
}
console.log(`total failures: ${total}`);
