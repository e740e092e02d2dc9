// The C peer of the worker rows of bench/_worker_compare.ts:
// bench/c/ring_threads.c, the same split-ring protocol per request as our
// bare engine and our worker transport's NAPI case, written in C. Built with
// gcc when the bench starts (into a temporary directory), run one process per
// measurement; the program times itself (wall clock, and CPU time of the
// whole process: both threads) and prints one RING_RESULT line.

/** How the C program runs the ring: one thread alternating, or driver and device in two. */
export type RingPeerMode = "single" | "threads";

/**
 * Where its threads run: `any` where the scheduler puts them (as our worker's
 * threads), `split` pinned to two CPUs (driver on the first the process may
 * use, device on the second), `same` both pinned to the first.
 */
export type RingPeerPlacement = "any" | "split" | "same";

/** One run of the C program. */
export interface RingPeerRun {
  readonly queue: number;
  readonly batch: number;
  readonly requests: number;
  readonly mode: RingPeerMode;
  readonly placement?: RingPeerPlacement;
}

/**
 * What one run of the C program measured (its measured run only, after its
 * warm-up): times in ns, counts over the run.
 */
export interface RingPeerResult {
  readonly mode: RingPeerMode;
  readonly placement: RingPeerPlacement;
  readonly queue: number;
  readonly batch: number;
  readonly requests: number;
  /** Wall clock. */
  readonly wall_ns: number;
  /** CPU time of the process (all threads). */
  readonly cpu_ns: number;
  /** CPU time of the driver's thread (in one thread: all of it) and of the device's. */
  readonly driver_cpu_ns: number;
  readonly device_cpu_ns: number;
  /**
   * Ring work proper of each side (TSC-timed sections with no system call
   * inside): the driver's adds, kick_prepare, collecting and re-arming; the
   * device's serving passes less the interrupts they raise.
   */
  readonly driver_ring_ns: number;
  readonly device_ring_ns: number;
  /** Kicks that reached the device (notifications it asked for). */
  readonly kicks: number;
  /** Used-buffer interrupts the device raised. */
  readonly interrupts: number;
  /** Futex sleeps of the driver (waiting for an interrupt) and of the device (for a kick). */
  readonly driver_sleeps: number;
  readonly device_sleeps: number;
}

const SOURCE = new URL("./c/ring_threads.c", import.meta.url).pathname;

/**
 * Compiles bench/c/ring_threads.c into `dir` with `gcc -O2 -pthread` and
 * returns the program's path. Throws when gcc is missing or fails: the C rows
 * are part of the comparison, not optional.
 */
export async function buildRingPeer(dir: string): Promise<string> {
  const out = `${dir}/ring_threads`;
  let r: Deno.CommandOutput;
  try {
    r = await new Deno.Command("gcc", {
      args: ["-O2", "-pthread", "-Wall", "-o", out, SOURCE],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "gcc not found: bench/_worker_compare.ts builds its C peer (bench/c/ring_threads.c) " +
          "with gcc; install gcc (Debian: apt-get install gcc) and run it again",
      );
    }
    throw e;
  }
  if (!r.success) {
    throw new Error(
      `gcc failed to build ${SOURCE}:\n${new TextDecoder().decode(r.stderr)}`,
    );
  }
  return out;
}

/** One run of the C program built by {@link buildRingPeer}. */
export async function runRingPeer(program: string, run: RingPeerRun): Promise<RingPeerResult> {
  const args = [String(run.queue), String(run.batch), String(run.requests), run.mode];
  if (run.placement !== undefined && run.placement !== "any") args.push(run.placement);
  const r = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout);
  const line = text.split("\n").find((l) => l.startsWith("RING_RESULT "));
  if (!r.success || line === undefined) {
    throw new Error(
      `${program} ${args.join(" ")} failed (exit ${r.code}): ${
        new TextDecoder().decode(r.stderr).trim() || text.trim()
      }`,
    );
  }
  return JSON.parse(line.slice("RING_RESULT ".length)) as RingPeerResult;
}
