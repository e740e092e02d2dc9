// A racing writer for the double-fetch tests (blk_race_test.ts): inside a
// worker, it keeps rewriting le32 fields of shared guest memory, each between
// two values, while the device on the main thread serves requests that hold
// them. It stops when the control word `STOP` becomes non-zero.

/** Indices of the control words (an Int32Array over `control`). */
export const enum Ctl {
  /** Set by the test to stop the writer. */
  STOP = 0,
  /** Set by the writer once it runs. */
  RUNNING = 1,
}

/** What the test sends: the memory, the control words and the fields to flip. */
export interface RacerJob {
  memory: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** Guest addresses of le32 fields (4-byte aligned) with the two values each takes in turn. */
  fields: { addr: number; a: number; b: number }[];
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<RacerJob>) => void) | null;
  postMessage(m: unknown): void;
}

const scope = self as unknown as WorkerScope;
scope.onmessage = (e: MessageEvent<RacerJob>) => {
  const { memory, control, fields } = e.data;
  const words = new Uint32Array(memory);
  const ctl = new Int32Array(control);
  Atomics.store(ctl, Ctl.RUNNING, 1);
  Atomics.notify(ctl, Ctl.RUNNING);
  while (Atomics.load(ctl, Ctl.STOP) === 0) {
    for (let i = 0; i < 256; i++) {
      for (const f of fields) {
        // Atomic stores, so that no compiler folds the two into one (little-endian host: x86, arm).
        Atomics.store(words, f.addr >>> 2, f.a);
        Atomics.store(words, f.addr >>> 2, f.b);
      }
    }
  }
  scope.postMessage("stopped");
};
