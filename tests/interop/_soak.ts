// The soak with faults (issue 18), run by tests/interop/soak_test.ts, which
// asserts on its report; the clocks of its schedule and deadlines live here.
//
// Soak with faults: a Linux guest (QEMU, TCG) on our vhost-user-blk
// back-end (tests/interop/_soak_backend.ts) runs mixed I/O with checksums for
// TYPED_VIRTIO_SOAK_SECONDS (default 120) while a seeded fault injector kills
// and restarts the back-end (QEMU reconnects, inflight tracking resumes the
// ring), drops and delays kicks and calls, and makes the storage full
// (ENOSPC). Then every acknowledged write is checked, by the guest and in the
// image file on the host.
//
// The guest's checked I/O (writers that own blocks, generations with
// checksums, read-backs, the final verification) and the host's check of the
// image are shared with the v86 soak: tests/interop/_soak_io.ts.
//
// What must hold: 0 acknowledged writes lost, no guest hang (a deadline per
// phase, and no progress for STALL_MS is a hang), the guest saw I/O errors
// (VIRTIO_BLK_S_IOERR) while the storage was full and the back-end survived
// them, and the last back-end process's RSS did not grow past RSS_GROWTH_KIB
// after warm-up.

import { describe, type GuestResult, runGuest } from "./_guest.ts";
import { type BackendProcess, startBackend } from "./_backend.ts";
import { mulberry32 } from "./_soak_faults.ts";
import {
  growth,
  type GuestIoPlan,
  guestScript,
  sleepUnless as sleep,
  SoakLedger,
} from "./_soak_io.ts";

/** How long the guest writes, in seconds. */
export const SECONDS: number = Number(Deno.env.get("TYPED_VIRTIO_SOAK_SECONDS") ?? "120");
/** The fault injector's seed (logged; the same seed gives the same fault plan). */
export const SEED: number = Number(Deno.env.get("TYPED_VIRTIO_SOAK_SEED") ?? "1818");
const WRITERS = 3;
const PER_WRITER = 32;
/** Blocks the guest writes and verifies. */
export const BLOCKS: number = WRITERS * PER_WRITER;
/** The guest's one disk. */
const DISK = "vda";
const PLAN: GuestIoPlan = {
  seconds: SECONDS,
  disks: [DISK],
  writers: WRITERS,
  perWriter: PER_WRITER,
};
/** No acknowledged or failed write for this long while writing is a hang. */
const STALL_MS = 90_000;
/** Deadlines of the phases: boot to the start marker, the writers' end past SECONDS, verification. */
const BOOT_MS = 90_000;
const RUN_SLACK_MS = 120_000;
const VERIFY_MS = 120_000;
/** Growth of the last back-end's RSS after warm-up that fails the test (generous: V8's heap breathes). */
export const RSS_GROWTH_KIB: number = 64 * 1024;
/**
 * Growth of the last back-end's heap after a full collection, after warm-up,
 * that fails the test: the rise of the least-squares line through its
 * samples. What legitimately remains is the JIT's code for paths first
 * compiled late (a few hundred KiB in a young process at the soak's rate);
 * a leak of 100 bytes a request reaches it within an hour's second half.
 */
export const HEAP_GROWTH_KIB: number = 2 * 1024;
/** Back-end kills happen in this first fraction of the run; the rest measures one process's memory. */
const KILL_WINDOW = 0.5;

/** One RSS sample of a back-end process, from `/proc/<pid>/status`. */
export interface RssSample {
  /** Milliseconds since the soak started. */
  readonly t: number;
  readonly pid: number;
  /** `VmRSS`: everything resident, in KiB. */
  readonly kib: number;
  /**
   * Its parts (KiB): `RssAnon` (private memory: V8's heap, malloc),
   * `RssFile` (file pages: mostly the text of the deno executable, paged in
   * as code paths first run) and `RssShmem` (shared memory: the pages of the
   * guest's RAM the back-end has touched through its mapping).
   */
  readonly anon: number;
  readonly file: number;
  readonly shmem: number;
}

/** One `soak-heap` line of a back-end: post-collection heap figures, in bytes. */
export interface HeapSample {
  /** Milliseconds since the soak started. */
  readonly t: number;
  readonly pid: number;
  /** Whether a full collection ran before it (`--expose-gc`). */
  readonly gc: boolean;
  readonly heapUsed: number;
  readonly external: number;
  readonly malloced: number;
  readonly rss: number;
}

/** The `soak-heap` lines of one back-end's output, with times relative to `t0` (ms since the epoch). */
export function parseHeapLines(output: string, pid: number, t0: number): HeapSample[] {
  const out: HeapSample[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("soak-heap ")) continue;
    const num = (k: string) => Number(new RegExp(` ${k}=(\\d+)`).exec(line)?.[1] ?? NaN);
    const sample = {
      t: num("at") - t0,
      pid,
      gc: num("gc") === 1,
      heapUsed: num("heapUsed"),
      external: num("external"),
      malloced: num("malloced"),
      rss: num("rss"),
    };
    if (Object.values(sample).every((v) => typeof v === "boolean" || Number.isFinite(v))) {
      out.push(sample);
    }
  }
  return out;
}

/** The least-squares line through points (x, y): its slope in y per x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) * (x - mx);
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

/** How one figure of the last back-end moved after warm-up. */
export interface Trend {
  /** Samples after warm-up. */
  readonly samples: number;
  /** Seconds from the first to the last of them. */
  readonly seconds: number;
  /** The least-squares slope, in KiB per minute. */
  readonly kibPerMinute: number;
  /** That slope over the window: how much the fitted line rose, in KiB. */
  readonly fittedGrowthKib: number;
  /** The first and the last sample, in KiB. */
  readonly firstKib: number;
  readonly lastKib: number;
}

/** The trend of `value` (bytes) over samples with times `t` (ms); undefined for fewer than 4. */
export function trend<S extends { readonly t: number }>(
  samples: readonly S[],
  value: (s: S) => number,
): Trend | undefined {
  if (samples.length < 4) return undefined;
  const points = samples.map((s) => [s.t / 60_000, value(s) / 1024] as const);
  const perMinute = slope(points);
  const minutes = (samples[samples.length - 1].t - samples[0].t) / 60_000;
  return {
    samples: samples.length,
    seconds: Math.round(minutes * 60),
    kibPerMinute: perMinute,
    fittedGrowthKib: perMinute * minutes,
    firstKib: Math.round(value(samples[0]) / 1024),
    lastKib: Math.round(value(samples[samples.length - 1]) / 1024),
  };
}

/** The RSS figures of `/proc/<pid>/status` (a process that is gone: undefined). */
export function rssOf(pid: number, t: number): RssSample | undefined {
  let s: string;
  try {
    s = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  const sample = {
    t,
    pid,
    kib: field("VmRSS"),
    anon: field("RssAnon"),
    file: field("RssFile"),
    shmem: field("RssShmem"),
  };
  return Number.isFinite(sample.kib) ? sample : undefined;
}

/** What a soak run saw; soak_test.ts asserts on it. */
export interface SoakReport {
  /** The guest run. */
  readonly result: GuestResult;
  /** The phase in which the guest hung, if it did. */
  readonly hang: string | undefined;
  /** Blocks of the image that lost an acknowledged write or are torn. */
  readonly problems: readonly string[];
  /** Writes the guest saw succeed, and fail. */
  readonly acks: number;
  readonly errors: number;
  /** Of the failed writes, those the guest saw fail with EIO. */
  readonly errorsEio: number;
  /** Read-backs that failed. */
  readonly readErrors: number;
  /** Back-end restarts by the injector. */
  readonly restarts: number;
  /** Writes the back-ends refused with ENOSPC (their own count). */
  readonly refused: number;
  /** The last back-end's exit code. */
  readonly lastCode: number;
  /** Every back-end's output, oldest first. */
  readonly outputs: readonly string[];
  /** RSS of the last back-end after warm-up: lowest early, highest late (KiB); undefined with too few samples. */
  readonly rssGrowth: { early: number; late: number } | undefined;
  /** Every back-end's `soak-heap` samples, oldest first. */
  readonly heap: readonly HeapSample[];
  /**
   * The last back-end's heap in use after a full collection, after warm-up
   * (its first quarter of `soak-heap` samples); undefined with fewer than 4.
   */
  readonly heapTrend: Trend | undefined;
  /** The last back-end's `VmRSS` and `RssAnon` after warm-up (its first quarter of RSS samples). */
  readonly rssTrend: Trend | undefined;
  readonly anonTrend: Trend | undefined;
  /** Everything to print when an assertion fails. */
  readonly why: string;
}

/** Runs the soak for {@link SECONDS} with {@link SEED}, logging as it goes. */
export async function runSoak(): Promise<SoakReport> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-soak-" });
  const image = `${dir}/disk.img`;
  const f = await Deno.open(image, { create: true, write: true });
  await f.truncate(4 * 1024 * 1024);
  f.close();
  const socket = `${dir}/blk.sock`;
  const random = mulberry32(SEED);
  const log: string[] = [];
  const t0 = Date.now();
  const note = (s: string) => {
    const line = `[soak +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`;
    log.push(line);
    console.log(line);
  };
  note(`seed ${SEED}, ${SECONDS} s, ${WRITERS} writers x ${PER_WRITER} blocks`);
  let restarts = 0;
  const start = () =>
    startBackend(
      "../tests/interop/_soak_backend.ts",
      socket,
      ["--image", image, "--seed", String(SEED + restarts)],
      60_000,
      true,
      // `gc()` for the `heap` command: post-collection heap figures.
      ["--v8-flags=--expose-gc"],
    );
  let backend: BackendProcess = await start();
  const backends: BackendProcess[] = [backend];
  const rss: RssSample[] = [];
  const stop = { stopped: false };

  // What the guest reported, with host-side bookkeeping per block.
  const ledger = new SoakLedger();
  let hang: string | undefined;
  let started: () => void = () => {};
  const guestStarted = new Promise<void>((r) => (started = r));
  let enospcOn = false;
  let errorsWhileFull = 0;
  let errorsOutsideFull = 0;

  const injector = (async () => {
    await guestStarted;
    const runStart = Date.now();
    const until = runStart + SECONDS * 1000 - 5_000;
    // The first three faults are one of each kind; then at random.
    const plan: string[] = ["kill", "enospc", "notify"];
    while (!stop.stopped && Date.now() < until) {
      await sleep(3_000 + random() * 5_000, stop);
      if (stop.stopped || Date.now() >= until) break;
      const mayKill = Date.now() < runStart + KILL_WINDOW * SECONDS * 1000;
      let kind = plan.shift();
      if (kind === undefined) {
        const x = random();
        kind = x < 0.3 && mayKill ? "kill" : x < 0.65 ? "enospc" : "notify";
      }
      if (kind === "kill" && !mayKill) kind = "notify";
      if (kind === "kill") {
        note(`fault: SIGKILL back-end pid ${backend.pid}`);
        Deno.kill(backend.pid, "SIGKILL");
        await backend.stop();
        restarts++;
        backend = await start();
        backends.push(backend);
        note(`fault: back-end restarted, pid ${backend.pid} (restart ${restarts})`);
      } else if (kind === "enospc") {
        const ms = 2_000 + Math.floor(random() * 3_000);
        note(`fault: storage full (ENOSPC) for ${ms} ms`);
        enospcOn = true;
        await backend.send("enospc on\n");
        await sleep(ms, stop);
        await backend.send("enospc off\n");
        enospcOn = false;
        note(`fault: storage no longer full`);
      } else {
        const ms = 4_000 + Math.floor(random() * 6_000);
        note(`fault: kicks and calls dropped and delayed for ${ms} ms`);
        await backend.send("notify on\n");
        await sleep(ms, stop);
        await backend.send("notify off\n");
        note(`fault: notifications delivered again`);
      }
    }
    note(`fault injector done (${restarts} restart(s))`);
  })();

  const sampler = (async () => {
    const every = Math.max(2_000, Math.floor((SECONDS * 1000) / 60));
    while (!stop.stopped) {
      const sample = rssOf(backend.pid, Date.now() - t0);
      if (sample !== undefined) rss.push(sample);
      // A full collection, then the heap's figures, as a `soak-heap` line of its output.
      const pid = backend.pid;
      // A back-end the injector killed meanwhile cannot answer; said in the log, not hidden.
      await backend.send("heap\n").catch((e) => note(`no heap sample from pid ${pid}: ${e}`));
      await sleep(every, stop);
    }
  })();

  let result;
  try {
    result = await runGuest({
      script: guestScript(PLAN),
      modules: ["virtio_pci", "virtio_blk"],
      qemuArgs: [
        "-chardev",
        `socket,id=c0,path=${socket},reconnect=1`,
        "-device",
        "vhost-user-blk-pci,chardev=c0,num-queues=1",
      ],
      timeoutMs: BOOT_MS + SECONDS * 1000 + RUN_SLACK_MS + VERIFY_MS,
      onLine: (line) => {
        const key = ledger.line(line);
        if (key === "err") {
          if (enospcOn) errorsWhileFull++;
          else errorsOutsideFull++;
        } else if (key === "start") {
          note("guest started writing");
          started();
        } else if (key === "writers_done") {
          note(`guest writers done: ${ledger.acks} acknowledged, ${ledger.errors} failed writes`);
        }
      },
      // The per-phase deadlines (the heartbeat gives a line every 5 s).
      killWhen: () => {
        const now = Date.now();
        const { phase, phaseSince, lastProgress } = ledger;
        if (phase === "boot" && now - phaseSince > BOOT_MS) hang = "boot";
        if (phase === "run" && now - phaseSince > SECONDS * 1000 + RUN_SLACK_MS) hang = "run";
        if (phase === "run" && now - lastProgress > STALL_MS) hang = "run (no progress)";
        if (phase === "verify" && now - phaseSince > VERIFY_MS) hang = "verify";
        return hang !== undefined;
      },
    });
  } finally {
    stop.stopped = true;
    started();
    await injector.catch((e) => note(`injector failed: ${e}`));
    await sampler;
  }
  const last = backend;
  const lastRss = rss.filter((s) => s.pid === last.pid);
  try {
    await backend.send("stats\n");
  } catch {
    // A dead last back-end shows in lastCode, asserted by the test.
  }
  const lastCode = await backend.stop();
  for (const b of backends) await b.stop();

  const outputs = backends.map((b, i) => `--- back-end ${i} (pid ${b.pid}) ---\n${b.output()}`)
    .join("\n");
  // The back-end's own counts: writes it refused with ENOSPC, notifications it played with.
  let refused = 0;
  const faultCounts = { kicksDropped: 0, kicksDelayed: 0, callsDropped: 0, callsDelayed: 0 };
  for (const b of backends) {
    const lines = b.output().split("\n").filter((l) => l.startsWith("soak-stats"));
    const l = lines[lines.length - 1];
    if (l === undefined) continue;
    const num = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(l)?.[1] ?? 0);
    refused += num("refused");
    for (const k of Object.keys(faultCounts) as (keyof typeof faultCounts)[]) {
      faultCounts[k] += num(k);
    }
  }

  // The host's own check of the image: every acknowledged write is there.
  const img = await Deno.readFile(image);
  const problems = ledger.checkImage(DISK, img, BLOCKS);
  const lost = problems.filter((p) => !p.endsWith("torn or foreign")).length;
  const torn = problems.length - lost;
  await Deno.remove(dir, { recursive: true });

  note(
    `result: ${ledger.acks} acknowledged writes, ${ledger.errors} failed writes ` +
      `(${errorsWhileFull} while the storage was full, ${errorsOutsideFull} outside or at its ` +
      `edges; ${ledger.errorsEio} of them EIO), ${ledger.reads} read-backs ` +
      `verified, ${restarts} back-end restart(s), ${refused} writes refused with ENOSPC, ` +
      `faults ${JSON.stringify(faultCounts)}; image: ${lost} lost, ${torn} torn; guest ` +
      `verified ${result.markers.get("verified")} blocks, ` +
      `${result.markers.get("verify_failures")} failures`,
  );
  note(
    `RSS samples (s:pid:VmRSS=RssAnon+RssFile+RssShmem, KiB): ` +
      rss.map((s) => `${s.t / 1000 | 0}:${s.pid}:${s.kib}=${s.anon}+${s.file}+${s.shmem}`)
        .join(" "),
  );

  // Memory: the last process (it lives through the second half, faults but no kills).
  const warm = lastRss.slice(Math.floor(lastRss.length / 4));
  const rssGrowth = growth(lastRss.map((s) => s.kib));
  if (rssGrowth !== undefined) {
    note(
      `RSS of the last back-end after warm-up: ${rssGrowth.early} KiB early, ` +
        `${rssGrowth.late} KiB late`,
    );
  } else {
    note(`too few RSS samples of the last back-end (${lastRss.length}) to judge growth`);
  }
  const heap = backends.flatMap((b) => parseHeapLines(b.output(), b.pid, t0));
  const lastHeap = heap.filter((s) => s.pid === last.pid);
  const warmHeap = lastHeap.slice(Math.floor(lastHeap.length / 4));
  const heapTrend = trend(warmHeap, (s) => s.heapUsed);
  const rssTrend = trend(warm, (s) => s.kib * 1024);
  const anonTrend = trend(warm, (s) => s.anon * 1024);
  const kib = (n: number) => Math.round(n / 1024);
  note(
    `heap samples after a full collection (s, pid, heapUsed/external/malloced/rss KiB, gc): ` +
      heap.map((s) =>
        `${s.t / 1000 | 0}:${s.pid}:${kib(s.heapUsed)}/${kib(s.external)}/${kib(s.malloced)}/` +
        `${kib(s.rss)}${s.gc ? "" : ":nogc"}`
      ).join(" "),
  );
  const show = (t: Trend | undefined) =>
    t === undefined
      ? "too few samples"
      : `${t.firstKib} -> ${t.lastKib} KiB over ${t.seconds} s (${t.samples} samples), slope ` +
        `${t.kibPerMinute.toFixed(2)} KiB/min, fitted growth ${t.fittedGrowthKib.toFixed(0)} KiB`;
  note(
    `last back-end after warm-up: post-GC heapUsed ${show(heapTrend)}; VmRSS ${show(rssTrend)}; ` +
      `RssAnon ${show(anonTrend)}`,
  );
  return {
    result,
    hang,
    problems,
    acks: ledger.acks,
    errors: ledger.errors,
    errorsEio: ledger.errorsEio,
    readErrors: ledger.readErrors,
    restarts,
    refused,
    lastCode,
    outputs: backends.map((b) => b.output()),
    rssGrowth,
    heap,
    heapTrend,
    rssTrend,
    anonTrend,
    // After the last note, so that a failure shows the figures too.
    why: `${describe(result)}\n${log.join("\n")}\n${outputs}`,
  };
}
