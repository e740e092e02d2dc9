/**
 * Adaptive polling for the worker transport's two waiting loops (the
 * worker's doorbell, the driver side's interrupt counter), after the halt
 * polling of Linux's KVM: a loop polls before it sleeps only while waits
 * have lately been short enough for polling to pay.
 *
 * Polling saves a sleep and a wake-up when the other side answers within
 * microseconds, and wastes the whole window of CPU time when it does not:
 * on a loaded machine the other thread is often not even running, and fixed
 * windows on both sides cost several times the work they wait for. So each
 * wait is timed from the moment the loop ran out of work: one that ended
 * within half the maximum window (polling would have caught it, for less
 * than a wake-up costs) widens the window (to max/8, then doubling up to
 * the maximum); one that outlasted the maximum halves it, to 0 below max/16.
 *
 * @module
 */

/** The polling window of one waiting loop. */
export class AdaptivePoll {
  /** The largest window, ms. */
  readonly max: number;
  /** The current window, ms (0: sleep at once). */
  window: number;

  /** A window of at most `max` ms, starting at the maximum. */
  constructor(max: number) {
    this.max = max > 0 ? max : 0;
    this.window = this.max;
  }

  /** Record that a wait took `ms` (from running out of work to the event). */
  observe(ms: number): void {
    if (this.max === 0) return;
    if (ms <= this.max / 2) {
      this.window = Math.min(this.max, Math.max(this.window * 2, this.max / 8));
    } else if (ms > this.max) {
      const w = this.window / 2;
      this.window = w < this.max / 16 ? 0 : w;
    }
  }
}
