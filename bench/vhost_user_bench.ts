/**
 * vhost-user-blk benchmark: one Linux guest under QEMU (TCG, 2 vCPUs) reads
 * the same raw image through two `vhost-user-blk-pci` devices with identical
 * arguments (2 queues each), one served by our back-end
 * (examples/vhost_user_blk.ts, `--queues 2`) and one by
 * qemu-storage-daemon's vhost-user-blk export (`num-queues=2`). It measures
 * what issue 21 asks of our back-end against qemu-storage-daemon:
 *
 * - **rand QD1**: 4 KiB reads at random offsets, one at a time (ops/s);
 * - **sequential**: 1 MiB reads from the start, one at a time (MB/s);
 * - **QD32 over 2 queues**: 4 KiB random reads, 32 in flight, 16 from each
 *   vCPU (one process pinned to each, Linux AIO), so the guest's blk-mq
 *   sends each vCPU's requests to its own queue (ops/s).
 *
 * Both devices serve the same guest in the same boot, and the guest
 * alternates between them: each round measures every workload in
 * `--blocks` short blocks, one device then the other, the first device
 * alternating from block to block, so the
 * guest's speed under TCG (which varies by tens of percent between boots
 * and with the host's load) cancels out of each round's ratio. Which device
 * sits in which PCI slot alternates from boot to boot. Ratios are the
 * median over all rounds of the round's ours/qsd rate ratio (higher is
 * better for us).
 *
 * Beside the guest's clock it records each back-end's **host CPU time**
 * (user + system, all threads, `/proc/<pid>/stat`) over each measurement:
 * the guest stops before and after each one until the host has read both
 * processes' counters (a line typed on its serial console), so each back-end
 * is charged exactly for the requests it served. CPU per request is far
 * less disturbed by the shared machine than the rates are.
 *
 * The guest program is bench/guest/blk_load.c (O_DIRECT reads, wall-clock
 * time in the guest), built static with the host's gcc.
 *
 * Not a `deno bench` file (one guest boot per `--boots`). Run:
 *
 * ```
 * deno run --allow-all bench/vhost_user_bench.ts [--boots N] [--rounds N] [--blocks N] [--rand-reads N] \
 *   [--seq-mib N] [--qd-reads N] [--warmup-rand N] [--ours-args "--poll-us 0 ..."] [--qsd-iothread] [--json]
 * ```
 *
 * @module
 */

import { interopSkipReason, runGuest } from "../tests/interop/_guest.ts";
import { startBackend } from "../tests/interop/_backend.ts";
import { startStorageDaemon } from "../tests/interop/_qsd.ts";
import { reportRow } from "./_report_rows.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

function textArg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
}

const BOOTS = arg("boots", 2);
const ROUNDS = arg("rounds", 3);
const RAND_READS = arg("rand-reads", 2400);
const SEQ_MIB = arg("seq-mib", 256);
const QD_READS = arg("qd-reads", 9600);
/**
 * Random 4 KiB reads at depth 1 each device serves before the first round
 * (both devices alike; the depth-32 warm-up is twice this).
 */
const WARMUP_RAND = arg("warmup-rand", 200);
const DEPTH = 32;
/** Completions per timed group in blk_load's qd mode (`GROUP` in blk_load.c). */
const GROUP = 64;
/**
 * Each round's work on each device is split into this many blocks, and the
 * blocks alternate between the devices (the first one alternating too), so
 * both see the same moments of the host's load.
 */
const BLOCKS = arg("blocks", 8);
const QUEUES = 2;
const CPUS = 2;
const IMAGE_MIB = 256;
/** Extra arguments for our back-end (to compare its options). */
const OURS_ARGS = textArg("ours-args", "").split(" ").filter((a) => a !== "");
/**
 * Given, the second device is our back-end again with these arguments
 * instead of qemu-storage-daemon: an A/B comparison of two settings of ours
 * (`--versus "--poll-us 0"`), measured the same way.
 */
const VERSUS: string[] | undefined = Deno.args.includes("--versus")
  ? textArg("versus", "").split(" ").filter((a) => a !== "")
  : undefined;

/**
 * qemu-storage-daemon serves its export from an IOThread, which polls
 * before it sleeps (adaptively, up to 32 µs): the like-for-like peer when
 * ours runs with `--poll-ring-us`. Default: the main loop, which does not poll.
 */
const QSD_IOTHREAD = Deno.args.includes("--qsd-iothread");

const WORKLOADS = ["rand", "seq", "qd"] as const;
type Workload = typeof WORKLOADS[number];

/** Requests (or MiB, for seq) per block. */
const PER_BLOCK: Record<Workload, number> = {
  rand: Math.max(1, Math.round(RAND_READS / BLOCKS)),
  seq: Math.max(1, Math.round(SEQ_MIB / BLOCKS)),
  qd: Math.max(DEPTH, Math.round(QD_READS / BLOCKS)),
};
/** Requests (or MiB, for seq) per round and device. */
const UNITS: Record<Workload, number> = {
  rand: PER_BLOCK.rand * BLOCKS,
  seq: PER_BLOCK.seq * BLOCKS,
  qd: PER_BLOCK.qd * BLOCKS,
};

/**
 * The guest script. `slots` lists the PCI slot (hex, two digits) of back-end
 * 0 and 1; the script finds each one's /dev/vdX through sysfs. For each
 * measurement it prints `@@cpu=<label>` before and after and waits for the
 * host's line, and prints `@@t_<workload>_<device>_<round>=<µs>`.
 */
function script(slots: readonly string[]): string {
  const cmd: Record<Workload, string> = {
    rand: `/blk_load rand $d ${PER_BLOCK.rand} $((r * ${BLOCKS} + b + 1))`,
    seq: `/blk_load seq $d ${PER_BLOCK.seq}`,
    qd: `/blk_load qd $d ${DEPTH} ${PER_BLOCK.qd} $((r * ${BLOCKS} + b + 1))`,
  };
  return `
${slots.map((s, i) => `slot_${i}=${s}`).join("; ")}
for v in /sys/block/vd*; do
  p=$(readlink -f $v/device)
  for i in 0 1; do
    eval s=\\$slot_$i
    case "$p" in */0000:00:$s.0/*) eval dev_$i=/dev/\${v##*/};; esac
  done
done
sync_host() { echo "@@cpu=$1"; read -r _ < /dev/ttyS0; }
for i in 0 1; do
  eval d=\\$dev_$i
  [ -b "$d" ] || { echo "@@failed=nodev$i"; exit 1; }
  echo "@@serial_$i=$(cat /sys/block/\${d#/dev/}/serial)"
  echo "@@mq_$i=$(ls /sys/block/\${d#/dev/}/mq | wc -l)"
  /blk_load seq $d 16 >/dev/null && /blk_load rand $d ${WARMUP_RAND} 9 >/dev/null &&
    /blk_load qd $d ${DEPTH} ${
    2 * WARMUP_RAND
  } 9 >/dev/null || { echo "@@failed=warmup$i"; exit 1; }
done
r=0
while [ $r -lt ${ROUNDS} ]; do
  for w in ${WORKLOADS.join(" ")}; do
    b=0
    while [ $b -lt ${BLOCKS} ]; do
      for j in 0 1; do
        i=$(( (b + j) % 2 )); eval d=\\$dev_$i
        sync_host "\${w}_\${i}_\${r}_\${b}_a"
        case $w in
${WORKLOADS.map((w) => `          ${w}) t=$(${cmd[w]}) || t=failed;;`).join("\n")}
        esac
        sync_host "\${w}_\${i}_\${r}_\${b}_b"
        echo "@@t_\${w}_\${i}_\${r}_\${b}=$t"
      done
      b=$((b + 1))
    done
  done
  r=$((r + 1))
done
`;
}

/** User + system CPU time of process `pid` (all its threads, dead ones included), in ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ is 100 on Linux
}

/** One measurement: one workload on one back-end in one round. */
interface Sample {
  /**
   * Requests per second (MB/s for seq) from the median time of one request
   * (for qd: of 64 completions of one vCPU's worker, times the workers),
   * the median over the round's blocks of each block's median.
   */
  rate: number;
  /** Requests per second (MB/s for seq) from the round's total time: the mean. */
  meanRate: number;
  /** Host CPU milliseconds of the back-end's process over the measurement. */
  cpuMs: number;
  /**
   * rand only: one read's time in µs at the 10th, 50th, 90th and 99th
   * percentile, each the median over the round's blocks.
   */
  latencyUs?: readonly number[];
}

/** samples[workload][backend][round of all boots]. */
type Samples = Record<Workload, Sample[][]>;

/** A boot that never reached the guest script (nothing measured). */
class GuestDidNotBoot extends Error {
  override name = "GuestDidNotBoot";
}

/** Boots tried per `--boots` before giving up when the guest does not boot. */
const BOOT_ATTEMPTS = 3;

async function boot(
  program: string,
  sockets: readonly string[],
  pids: readonly number[],
  bootIndex: number,
  out: Samples,
): Promise<void> {
  // Back-end i goes into PCI slot 0x10 + (i + boot) % 2.
  const slotOf = sockets.map((_, i) => 0x10 + (i + bootIndex) % 2);
  const qemuArgs: string[] = [];
  sockets.forEach((s, i) => {
    qemuArgs.push(
      "-chardev",
      `socket,id=c${i},path=${s}`,
      "-device",
      `vhost-user-blk-pci,chardev=c${i},num-queues=${QUEUES},addr=0x${slotOf[i].toString(16)}`,
    );
  });
  const cpu = new Map<string, number[]>();
  const r = await runGuest({
    script: script(slotOf.map((s) => s.toString(16).padStart(2, "0"))),
    modules: ["virtio_pci", "virtio_blk"],
    qemuArgs,
    cpus: CPUS,
    files: { "/blk_load": program },
    input: true,
    timeoutMs: 1_800_000,
    onLine: (line, reply) => {
      const at = line.indexOf("@@cpu=");
      if (at < 0) return;
      cpu.set(line.slice(at + 6).trim(), pids.map(cpuMs));
      reply("\n").catch(() => {});
    },
  });
  if (!r.markers.has("booted")) {
    // Under heavy host load the guest kernel's IO-APIC timer check can fail at boot (a panic):
    // nothing was measured, so the boot is worth another try.
    throw new GuestDidNotBoot(`the guest did not boot:\n${r.output.slice(-1500)}`);
  }
  if (r.scriptStatus !== 0 || r.markers.has("failed")) {
    throw new Error(`guest run failed:\n${r.output.slice(-3000)}\n${r.qemuStderr}`);
  }
  // Our back-end answers GET_ID with "typed-virtio": check the slot mapping.
  const serials = sockets.map((_, i) => r.markers.get(`serial_${i}`));
  if (serials[0] !== "typed-virtio" || (VERSUS === undefined && serials[1] === serials[0])) {
    throw new Error(`devices found in the wrong slots (serials ${serials.join(", ")})`);
  }
  for (let i = 0; i < 2; i++) {
    if (r.markers.get(`mq_${i}`) !== String(QUEUES)) {
      throw new Error(`device ${i} has ${r.markers.get(`mq_${i}`)} blk-mq queues, not ${QUEUES}`);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of WORKLOADS) {
      for (let i = 0; i < 2; i++) {
        let us = 0;
        let ms = 0;
        const robust: number[] = [];
        const pct: number[][] = [[], [], [], []];
        for (let blk = 0; blk < BLOCKS; blk++) {
          // "<total µs> <median µs>" (qd: "<total µs> <median µs per 64 completions> <workers>";
          // rand: "<total µs> <median µs> <p10 µs> <p90 µs> <p99 µs>").
          const t = (r.markers.get(`t_${w}_${i}_${round}_${blk}`) ?? "").split(" ").map(Number);
          const a = cpu.get(`${w}_${i}_${round}_${blk}_a`);
          const b = cpu.get(`${w}_${i}_${round}_${blk}_b`);
          if (!(t[0] > 0) || !(t[1] > 0) || a === undefined || b === undefined) {
            throw new Error(`no timing for ${w} on back-end ${i}:\n${r.output.slice(-3000)}`);
          }
          us += t[0];
          ms += b[i] - a[i];
          const scale = w === "seq" ? 1.048576 : w === "qd" ? GROUP * t[2] : 1;
          robust.push((scale * 1e6) / t[1]);
          if (w === "rand") [t[2], t[1], t[3], t[4]].forEach((v, k) => pct[k].push(v));
        }
        const units = UNITS[w] * (w === "seq" ? 1.048576 : 1);
        out[w][i].push({
          rate: median(robust),
          meanRate: units / (us / 1e6),
          cpuMs: ms,
          latencyUs: w === "rand" ? pct.map(median) : undefined,
        });
      }
    }
  }
}

async function buildProgram(dir: string): Promise<string> {
  const src = new URL("./guest/blk_load.c", import.meta.url).pathname;
  const out = `${dir}/blk_load`;
  const r = await new Deno.Command("gcc", {
    args: ["-static", "-O2", "-Wall", "-o", out, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gcc failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const skip = interopSkipReason();
  if (skip !== undefined) {
    console.log(`vhost_user_bench: ${skip}`);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vubench-" });
  const image = `${dir}/disk.img`;
  try {
    const program = await buildProgram(dir);
    // Random contents, so no back-end can shortcut zero or sparse blocks.
    const f = await Deno.open(image, { create: true, write: true });
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < IMAGE_MIB; i++) {
      for (let o = 0; o < chunk.length; o += 65536) {
        crypto.getRandomValues(chunk.subarray(o, o + 65536));
      }
      await f.write(chunk);
    }
    f.close();
    const samples = Object.fromEntries(WORKLOADS.map((w) => [w, [[], []]])) as unknown as Samples;
    const loads: number[] = [];
    for (let b = 0; b < BOOTS; b++) {
      loads.push(Deno.loadavg()[0]);
      for (let attempt = 1;; attempt++) {
        const ours = await startBackend("vhost_user_blk.ts", `${dir}/ours.sock`, [
          "--image",
          image,
          "--queues",
          String(QUEUES),
          ...OURS_ARGS,
        ]);
        const qsd = VERSUS === undefined
          ? await startStorageDaemon(image, `${dir}/qsd.sock`, {
            queues: QUEUES,
            iothread: QSD_IOTHREAD,
          })
          : await startBackend("vhost_user_blk.ts", `${dir}/versus.sock`, [
            "--image",
            image,
            "--queues",
            String(QUEUES),
            ...VERSUS,
          ]);
        try {
          await boot(program, [ours.socket, qsd.socket], [ours.pid, qsd.pid], b, samples);
          break;
        } catch (e) {
          if (!(e instanceof GuestDidNotBoot) || attempt >= BOOT_ATTEMPTS) throw e;
          console.error(`boot ${b + 1}: the guest did not boot (attempt ${attempt}); again`);
        } finally {
          await ours.stop();
          await qsd.stop();
          // With --storage uring: how many requests shared an io_uring_enter.
          const ring = /io_uring: .*/.exec(ours.output());
          if (ring !== null) console.error(`boot ${b + 1}: ours ${ring[0]}`);
          // With --poll-ring-us: what the looks at the rings did.
          const looks = /\d+ pass\(es\) started by a kick.*/.exec(ours.output());
          if (looks !== null) console.error(`boot ${b + 1}: ours ${looks[0]}`);
        }
      }
      const last = (w: Workload, i: number) => samples[w][i].slice(-ROUNDS);
      console.error(
        `boot ${b + 1}/${BOOTS}: ours/qsd rates per round: ` +
          WORKLOADS.map((w) =>
            `${w} ${last(w, 0).map((s, k) => (s.rate / last(w, 1)[k].rate).toFixed(2)).join(" ")}`
          ).join("; ") +
          // Host CPU per depth-1 request, per round: a back-end still warming up (its JIT) shows
          // here first.
          `; rand CPU µs/req per round: ours ${
            last("rand", 0).map((s) => ((s.cpuMs * 1000) / UNITS.rand).toFixed(0)).join(" ")
          }, ${VERSUS === undefined ? "qsd" : "B"} ${
            last("rand", 1).map((s) => ((s.cpuMs * 1000) / UNITS.rand).toFixed(0)).join(" ")
          }`,
      );
    }
    loads.push(Deno.loadavg()[0]);
    const n = BOOTS * ROUNDS;
    const rateRatio = (w: Workload) => samples[w][0].map((s, k) => s.rate / samples[w][1][k].rate);
    const meanRatio = (w: Workload) =>
      samples[w][0].map((s, k) => s.meanRate / samples[w][1][k].meanRate);
    // CPU per unit: ours over qsd's, per round.
    const cpuRatio = (w: Workload) =>
      samples[w][0].map((s, k) => s.cpuMs / Math.max(10, samples[w][1][k].cpuMs));
    const label: Record<Workload, string> = {
      rand: "4 KiB random reads, depth 1",
      seq: "1 MiB sequential reads",
      qd: `4 KiB random reads, depth ${DEPTH} over ${QUEUES} queues`,
    };
    const unit: Record<Workload, string> = { rand: "ops/s", seq: "MB/s", qd: "ops/s" };
    const perUnit: Record<Workload, string> = { rand: "µs/req", seq: "µs/MiB", qd: "µs/req" };
    console.log(
      `guest: TCG, ${CPUS} vCPUs, two vhost-user-blk devices (${QUEUES} queues each) in one ` +
        `guest; per round and device, in ${BLOCKS} blocks alternating between the devices: ` +
        `${UNITS.rand} random 4 KiB reads at depth 1, ${UNITS.seq} x 1 MiB sequential reads, ` +
        `${UNITS.qd} random 4 KiB reads at depth ${DEPTH} (O_DIRECT, bench/guest/blk_load.c); ` +
        `warm-up ${WARMUP_RAND} random + ${2 * WARMUP_RAND} depth-${DEPTH} reads per device; ` +
        `${BOOTS} boot(s) x ${ROUNDS} rounds; ` +
        `medians of ${n} rounds; host load ${loads.map((l) => l.toFixed(1)).join(" → ")}` +
        (OURS_ARGS.length > 0 ? `; ours with ${OURS_ARGS.join(" ")}` : "") +
        (VERSUS === undefined ? "" : `; "qsd" is ours with ${VERSUS.join(" ")}`) +
        (QSD_IOTHREAD && VERSUS === undefined ? "; qsd with an IOThread (polling)" : "") + "\n",
    );
    const other = VERSUS === undefined ? "qsd" : "B";
    console.log(
      `| workload | ours rate | ${other} rate | ours/${other} rate (min-max) | from means | ` +
        `ours CPU | ${other} CPU | CPU ours/${other} (min-max) |`,
    );
    console.log("| --- | --: | --: | --: | --: | --: | --: | --: |");
    for (const w of WORKLOADS) {
      const rr = rateRatio(w);
      const cr = cpuRatio(w);
      const cpuPer = (i: number) =>
        median(samples[w][i].map((s) => (s.cpuMs * 1000) / UNITS[w])).toFixed(0);
      const span = (xs: number[]) =>
        `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
      const rate = (i: number) =>
        `${median(samples[w][i].map((s) => s.rate)).toFixed(0)} ${unit[w]}`;
      console.log(
        `| ${label[w]} | ${rate(0)} | ${rate(1)} | ${span(rr)} | ${
          median(meanRatio(w)).toFixed(2)
        } | ${cpuPer(0)} ${perUnit[w]} | ${cpuPer(1)} ${perUnit[w]} | ${span(cr)} |`,
      );
      if (VERSUS !== undefined) continue;
      const base = "qemu-storage-daemon, same guest";
      // For bench/report.ts: cost over qemu-storage-daemon's, the inverse of the rate ratio.
      reportRow({
        area: "vhost-user",
        case: `vhost-user-blk (ours): ${label[w]}`,
        baseline: base,
        ratio: 1 / median(rr),
        detail: `rate ours/qsd ${median(rr).toFixed(2)} (from means ${
          median(meanRatio(w)).toFixed(2)
        }), ${n} rounds`,
      });
      reportRow({
        area: "vhost-user",
        case: `vhost-user-blk (ours) host CPU: ${label[w]}`,
        baseline: `${base}, host CPU per request`,
        ratio: median(cr),
        detail: `${cpuPer(0)} against ${cpuPer(1)} ${perUnit[w]}`,
      });
    }
    // Where a depth-1 read's time goes beyond the median: the percentiles
    // of one read's time, each the median over the rounds.
    const pctNames = ["p10", "p50", "p90", "p99"];
    const lat = (i: number, k: number) => median(samples.rand[i].map((s) => s.latencyUs![k]));
    console.log(
      `\ndepth-1 read time in the guest, µs (median over ${n} rounds of each round's ` +
        `per-block percentile): ` +
        pctNames.map((p, k) =>
          `${p} ours ${lat(0, k).toFixed(0)} / ${other} ${lat(1, k).toFixed(0)} ` +
          `(${other}/ours ${(lat(1, k) / lat(0, k)).toFixed(2)})`
        ).join("; "),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
