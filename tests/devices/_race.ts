// Shared by the *_race_test.ts files: starts the racing writer (_racer_worker.ts) on shared
// guest memory and stops it. Deno only (a Web Worker from a module URL).

import { Ctl, type RacerJob } from "./_racer_worker.ts";

/** A running writer: stop it (always, in a finally) before the test ends. */
export interface Racer {
  /** Stops the writer and waits until it has. */
  stop(): Promise<void>;
}

/** Starts a worker that keeps flipping each of `fields` (le32, 4-byte aligned) between a and b. */
export async function startRacer(
  memory: SharedArrayBuffer,
  fields: RacerJob["fields"],
): Promise<Racer> {
  const control = new SharedArrayBuffer(16);
  const ctl = new Int32Array(control);
  const worker = new Worker(new URL("./_racer_worker.ts", import.meta.url), { type: "module" });
  const stopped = new Promise<void>((resolve) => worker.onmessage = () => resolve());
  const job: RacerJob = { memory, control, fields };
  worker.postMessage(job);
  await Atomics.waitAsync(ctl, Ctl.RUNNING, 0).value;
  return {
    async stop() {
      Atomics.store(ctl, Ctl.STOP, 1);
      await stopped;
      worker.terminate();
    },
  };
}
