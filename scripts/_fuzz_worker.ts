// Runs one batch of one fuzzer for scripts/fuzz.ts, inside a worker so that
// the main thread can stop a batch that hangs.
/// <reference lib="deno.worker" />

interface Job {
  module: string;
  fn: string;
  seed: number;
  cases: number;
  first: number;
}

self.onmessage = async (e: MessageEvent<Job>) => {
  const job = e.data;
  try {
    const mod = await import(job.module);
    const fuzz = mod[job.fn] as (o: { seed: number; cases: number; first?: number }) => unknown;
    const result = await fuzz({ seed: job.seed, cases: job.cases, first: job.first });
    self.postMessage({ ok: result });
  } catch (err) {
    self.postMessage({
      error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err),
    });
  }
};
