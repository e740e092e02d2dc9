// The chains of one queue pass that wait for a storage batch (io_uring):
// queued on the batch as the device takes them, answered together when the
// pass ends, in the order they were taken.
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/mod.ts";
import type { BlockBatch } from "./storage.ts";

/**
 * Answers one held chain once its batch ran: `ok` when the request moved all
 * its bytes; `written` is the bytes a read put in the guest's buffers (-1
 * for a write). Returns the chain's used length.
 */
export type HeldAnswer = (
  c: DescriptorChain,
  statusAt: number,
  ok: boolean,
  written: number,
) => number;

/** Held chains of the current pass (parallel arrays, reused pass after pass). */
export class HeldBatch {
  readonly #batch: BlockBatch;
  readonly #chains: DescriptorChain[] = [];
  readonly #statusAt: number[] = [];
  readonly #written: number[] = [];
  readonly #slot: number[] = [];

  constructor(batch: BlockBatch) {
    this.#batch = batch;
  }

  /** Chains held now. */
  get size(): number {
    return this.#chains.length;
  }

  /**
   * Queues a read (`written`: the bytes it fills) or a write (`write`) of
   * `segs` at `off` on the batch and holds `c` until {@link HeldBatch.end};
   * the guest buffers stay the device's until then. Empties `segs`.
   */
  hold(
    c: DescriptorChain,
    statusAt: number,
    written: number,
    write: boolean,
    segs: Uint8Array[],
    off: number,
  ): void {
    let slot: number;
    try {
      slot = write ? this.#batch.writev(off, segs) : this.#batch.readv(off, segs);
    } finally {
      // Emptied by popping: the array keeps its backing store for the next request.
      while (segs.length > 0) segs.pop();
    }
    this.#chains.push(c);
    this.#statusAt.push(statusAt);
    this.#written.push(write ? -1 : written);
    this.#slot.push(slot);
  }

  /**
   * Runs the batch (one `io_uring_enter` for `UringFileStorage`), answers
   * each held chain and stages it as used on `q`; returns how many. A batch
   * that fails as a whole fails each of its requests.
   */
  end(q: DeviceQueue, answer: HeldAnswer): number {
    const chains = this.#chains;
    const n = chains.length;
    let failed = false;
    try {
      this.#batch.submit();
    } catch {
      failed = true;
    }
    for (let i = 0; i < n; i++) {
      const ok = !failed && this.#batch.result(this.#slot[i]) >= 0;
      const c = chains[i];
      q.pushUsed(c, answer(c, this.#statusAt[i], ok, this.#written[i]));
    }
    chains.length = 0;
    this.#statusAt.length = 0;
    this.#written.length = 0;
    this.#slot.length = 0;
    return n;
  }
}
