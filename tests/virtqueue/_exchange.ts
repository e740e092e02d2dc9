// A driver and a device of one queue in two real workers over a
// SharedArrayBuffer (the worker side is _exchange_worker.ts), for the
// two-worker test and bench/_virtqueue_worker_stress.ts.
import { DmaAllocator } from "../../src/memory.ts";
import { allocateQueue } from "../../src/virtqueue/mod.ts";
import type { ExchangeJob, ExchangeReport } from "./_exchange_worker.ts";

export type { ExchangeReport } from "./_exchange_worker.ts";

/** One exchange: layout, suppression, batch size and number of requests. */
export interface ExchangeConfig {
  packed: boolean;
  eventIdx: boolean;
  batch: number;
  count: number;
  /** Queue size (default 256). */
  size?: number;
  /** How long a side may sleep without progress before it gives up (default 5000 ms). */
  hangMs?: number;
  /**
   * One wait for a kick or interrupt (default 20 ms, for the stress bench's
   * speed). The checked exchange uses {@link CHECKED_NAP_MS}, long enough that
   * a side descheduled between publishing and notifying is not taken for a
   * lost wake-up.
   */
  napMs?: number;
  /** A lost wake-up stops the exchange as a failure (default false: counted only). */
  lostWakeupFails?: boolean;
}

/** The nap of {@link exchangeLayout}: a lost wake-up there is a failure. */
export const CHECKED_NAP_MS = 1000;

/** Both sides' reports. */
export interface ExchangeResult {
  ok: boolean;
  driver: ExchangeReport;
  device: ExchangeReport;
}

/**
 * Two workers that run exchanges, each on a fresh queue in fresh shared
 * memory. Keep a pair for several runs (the engine's code is then already
 * optimised) or take a new one per run (the first requests then run in V8's
 * interpreter and baseline tiers, where a `DataView` access is byte by byte).
 */
export class ExchangePair {
  #workers: Worker[];

  constructor() {
    this.#workers = [0, 1].map(() =>
      new Worker(new URL("./_exchange_worker.ts", import.meta.url), { type: "module" })
    );
  }

  /** Runs one exchange to its end (or to the first fault of either side). */
  async run(cfg: ExchangeConfig): Promise<ExchangeResult> {
    const size = cfg.size ?? 256;
    const memSize = 1 << 20;
    const memory = new SharedArrayBuffer(memSize);
    const signals = new SharedArrayBuffer(16);
    const alloc = new DmaAllocator(0, memSize);
    const addrs = allocateQueue(alloc, size, cfg.packed);
    // One buffer slot per request that can be outstanding (two descriptors each).
    const slots = size;
    const buf = alloc.alloc(32 * slots, 64);
    const [driver, device] = await Promise.all(
      (["driver", "device"] as const).map((role, i) => {
        const w = this.#workers[i];
        const job: ExchangeJob = {
          role,
          memory,
          signals,
          addrs,
          packed: cfg.packed,
          eventIdx: cfg.eventIdx,
          batch: cfg.batch,
          count: cfg.count,
          buf,
          slots,
          hangMs: cfg.hangMs ?? 5000,
          napMs: cfg.napMs ?? 20,
          lostWakeupFails: cfg.lostWakeupFails ?? false,
        };
        return new Promise<ExchangeReport>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<ExchangeReport>) => resolve(e.data);
          w.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            reject(e.error ?? new Error(e.message));
          };
          w.postMessage(job);
        });
      }),
    );
    return { ok: driver.ok && device.ok, driver, device };
  }

  /** Ends both workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

/** A one-line account of a failed exchange. */
export function describeFailure(cfg: ExchangeConfig, r: ExchangeResult): string {
  const side = (x: ExchangeReport) =>
    `${x.role} ${x.ok ? "ok" : `FAILED: ${x.error}`} after ${x.done}, state ${
      JSON.stringify(x.state)
    }`;
  return `${cfg.packed ? "packed" : "split"} eventIdx=${cfg.eventIdx} batch=${cfg.batch}: ${
    side(r.driver)
  }; ${
    side(r.device)
  }; lost wake-ups: driver ${r.driver.lostWakeups}, device ${r.device.lostWakeups}`;
}

/**
 * Every configuration of one layout (EVENT_IDX off and on, batch 1 and 32),
 * `total` requests in all, on one pair of workers: the failures, described.
 * A run fails when a token is wrong or missing, or when either side lost a
 * wake-up (a missed kick or interrupt that only the nap recovered), with
 * naps of {@link CHECKED_NAP_MS}.
 */
export async function exchangeLayout(packed: boolean, total: number): Promise<string[]> {
  const failures: string[] = [];
  const pair = new ExchangePair();
  try {
    for (const eventIdx of [false, true]) {
      for (const batch of [1, 32]) {
        const cfg = {
          packed,
          eventIdx,
          batch,
          count: Math.ceil(total / 4),
          napMs: CHECKED_NAP_MS,
          hangMs: 5 * CHECKED_NAP_MS,
          lostWakeupFails: true,
        };
        const r = await pair.run(cfg);
        // The driver took every token once (it checks each), both sides
        // finished, and every wake-up came through the kick or interrupt.
        if (
          !r.ok || r.driver.done !== cfg.count || r.device.done !== cfg.count ||
          r.driver.lostWakeups > 0 || r.device.lostWakeups > 0
        ) {
          failures.push(describeFailure(cfg, r));
        }
      }
    }
  } finally {
    pair.close();
  }
  return failures;
}

// `deno run --allow-read _exchange.ts split|packed TOTAL`: the failures as JSON,
// for running the exchange under other V8 flags than the test's.
if (import.meta.main) {
  const failures = await exchangeLayout(Deno.args[0] === "packed", Number(Deno.args[1]));
  console.log(JSON.stringify(failures));
}
