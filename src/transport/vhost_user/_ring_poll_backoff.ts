/**
 * When looking at the rings pays (`VhostUserBackendOptions.pollRingUs`).
 *
 * @module
 */

/** The longest pause: waits in a row that sleep without looking. */
export const MAX_RING_POLL_PAUSE = 32;

/**
 * A clock jump between two of a look's clock reads (32 rounds over the
 * rings apart, about a microsecond of work) longer than this, in
 * milliseconds, means the thread was off its CPU for a scheduler's time
 * slice: other threads want it. Shorter jumps (a virtual machine's own
 * hiccups, 20-200 µs on the machines here) do not count.
 */
export const PREEMPTED_MS = 0.5;

/**
 * Backs off from looking at the rings when it does not pay. A look that
 * ends empty (the driver's next request came later than the window, or not
 * at all), or that finds its thread was preempted (on a machine with no
 * core to spare, a busy loop takes the CPU the guest's own threads need),
 * makes the next waits sleep on the kick without looking: 1 wait after the
 * first such look, then 2, 4, up to {@link MAX_RING_POLL_PAUSE} after more
 * in a row. Each look that finds a request halves the pause again.
 */
export class RingPollBackoff {
  #pause = 0;
  #skip = 0;
  /** Looks given up: ended empty or preempted. */
  givenUp = 0;
  /** Waits that slept without looking. */
  skipped = 0;

  /** Whether this wait may look at the rings (false counts a wait that does not). */
  mayLook(): boolean {
    if (this.#skip === 0) return true;
    this.#skip--;
    this.skipped++;
    return false;
  }

  /** A look found a request. */
  found(): void {
    this.#pause >>= 1;
  }

  /** A look ended empty or preempted: the next waits do not look. */
  gaveUp(): void {
    this.givenUp++;
    this.#pause = Math.min(MAX_RING_POLL_PAUSE, Math.max(1, 2 * this.#pause));
    this.#skip = this.#pause;
  }
}
