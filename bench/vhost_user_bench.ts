/**
 * vhost-user-blk benchmark: one Linux guest under QEMU (TCG) reads the same
 * raw image through three `vhost-user-blk-pci` devices with identical
 * arguments, served by our back-end (examples/vhost_user_blk.ts), by our
 * back-end as it was before the latency work ("before": `--poll-us 0
 * --storage deno`, no brief blocking wait for the next kick and a seek and a
 * read per data segment) and by qemu-storage-daemon's
 * vhost-user-blk export. It prints sequential read MB/s, 4 KiB random read
 * ops/s, 4 KiB depth-1 read latency and the ratios to qemu-storage-daemon.
 *
 * All three back-ends serve the same guest in the same boot, and the guest
 * alternates between them in short blocks (the first device of a block
 * rotates), so the guest's speed under TCG, which varies by tens of percent
 * from boot to boot and with the load on the host, cancels out of the
 * ratios. Which device sits in which PCI slot rotates from round to round.
 *
 * Not a `deno bench` file (one guest boot per round). Run:
 *
 * ```
 * deno run --allow-all bench/vhost_user_bench.ts [--rounds N] [--seq-mib N] [--seq-passes N] \
 *   [--reads N] [--qd1-reads N]
 * ```
 *
 * The guest measures with /proc/uptime (10 ms resolution, summed over
 * blocks) and reads with `dd iflag=direct` so the page cache is out of the
 * way. Each random read is one `dd` process, so the guest's fork/exec under
 * TCG is most of the per-read time for every back-end alike; the depth-1
 * latency comes from `dd bs=4096` processes reading `--qd1-reads` blocks
 * each, one request at a time, which leaves mostly the request's round trip.
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

const ROUNDS = arg("rounds", 3);
const SEQ_MIB = arg("seq-mib", 256);
const SEQ_PASSES = arg("seq-passes", 4);
const READS = arg("reads", 1000);
const QD1_READS = arg("qd1-reads", 2048);
/** Depth-1 passes per device, alternating between the devices. */
const QD1_PASSES = 12;
/** Random reads per device per block: blocks alternate between the devices. */
const BLOCK = 50;
const IMAGE_MIB = Math.max(SEQ_MIB, 64, Math.ceil((QD1_PASSES * QD1_READS) / 256));

/** The back-ends, in the order of the result table. */
const NAMES = ["typed-virtio (Deno)", "typed-virtio, before", "qemu-storage-daemon"] as const;
const N = NAMES.length;

/**
 * The guest script. `slots` lists the PCI slot (hex, two digits) of back-end
 * 0, 1, 2; the script finds each one's /dev/vdX through sysfs and prints the
 * summed centiseconds per back-end: `@@seq_<i>`, `@@rand_<i>`, `@@qd1_<i>`.
 */
function script(slots: readonly string[]): string {
  const blocks = Math.max(1, Math.round(READS / BLOCK));
  return `
up() { cut -d' ' -f1 /proc/uptime | tr -d .; }
${slots.map((s, i) => `slot_${i}=${s}`).join("; ")}
for v in /sys/block/vd*; do
  p=$(readlink -f $v/device)
  for i in 0 1 2; do
    eval s=\\$slot_$i
    case "$p" in */0000:00:$s.0/*) eval dev_$i=/dev/\${v##*/};; esac
  done
done
for i in 0 1 2; do
  eval d=\\$dev_$i
  [ -b "$d" ] || { echo "@@failed=nodev$i"; exit 1; }
  echo "@@serial_$i=$(cat /sys/block/\${d#/dev/}/serial)"
  dd if=$d of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null
  eval seq_$i=0 rand_$i=0 qd1_$i=0
done
p=0
while [ $p -lt ${SEQ_PASSES} ]; do
  for j in 0 1 2; do
    i=$(( (p + j) % 3 )); eval d=\\$dev_$i
    t0=$(up)
    dd if=$d of=/dev/null bs=1M count=${SEQ_MIB} iflag=direct 2>/dev/null || echo "@@failed=seq"
    t1=$(up); eval seq_$i=\\$\\(\\( seq_$i + t1 - t0 \\)\\)
  done
  p=$((p + 1))
done
b=0
while [ $b -lt ${blocks} ]; do
  for j in 0 1 2; do
    i=$(( (b + j) % 3 )); eval d=\\$dev_$i
    seed=$((b + 1)); n=0
    t0=$(up)
    while [ $n -lt ${BLOCK} ]; do
      seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
      dd if=$d of=/dev/null bs=4096 count=1 skip=$((seed % ${
    IMAGE_MIB * 256
  })) iflag=direct 2>/dev/null
      n=$((n + 1))
    done
    t1=$(up); eval rand_$i=\\$\\(\\( rand_$i + t1 - t0 \\)\\)
  done
  b=$((b + 1))
done
p=0
while [ $p -lt ${QD1_PASSES} ]; do
  for j in 0 1 2; do
    i=$(( (p + j) % 3 )); eval d=\\$dev_$i
    t0=$(up)
    dd if=$d of=/dev/null bs=4096 count=${QD1_READS} skip=$((p * ${QD1_READS})) iflag=direct 2>/dev/null || echo "@@failed=qd1"
    t1=$(up); eval qd1_$i=\\$\\(\\( qd1_$i + t1 - t0 \\)\\)
  done
  p=$((p + 1))
done
for i in 0 1 2; do
  eval echo "@@seq_$i=\\$seq_$i"; eval echo "@@rand_$i=\\$rand_$i"; eval echo "@@qd1_$i=\\$qd1_$i"
done
`;
}

/** One back-end's figures in one round. */
interface Result {
  seqMBs: number;
  randOps: number;
  qd1Us: number;
}

async function measure(sockets: readonly string[], round: number): Promise<Result[]> {
  // Back-end i goes into PCI slot 0x10 + (i + round) % N.
  const slotOf = sockets.map((_, i) => 0x10 + (i + round) % N);
  const qemuArgs: string[] = [];
  sockets.forEach((s, i) => {
    qemuArgs.push(
      "-chardev",
      `socket,id=c${i},path=${s}`,
      "-device",
      `vhost-user-blk-pci,chardev=c${i},num-queues=1,addr=0x${slotOf[i].toString(16)}`,
    );
  });
  const blocks = Math.max(1, Math.round(READS / BLOCK));
  const r = await runGuest({
    script: script(slotOf.map((s) => s.toString(16).padStart(2, "0"))),
    modules: ["virtio_pci", "virtio_blk"],
    qemuArgs,
    timeoutMs: 1_800_000,
  });
  if (r.scriptStatus !== 0 || r.markers.has("failed")) {
    throw new Error(`guest run failed:\n${r.output.slice(-2000)}\n${r.qemuStderr}`);
  }
  // Our back-end answers GET_ID with "typed-virtio": check the slot mapping.
  const serials = sockets.map((_, i) => r.markers.get(`serial_${i}`));
  if (serials[0] !== "typed-virtio" || serials[1] !== "typed-virtio" || serials[2] === serials[0]) {
    throw new Error(`devices found in the wrong slots (serials ${serials.join(", ")})`);
  }
  return sockets.map((_, i) => {
    const seq = Number(r.markers.get(`seq_${i}`));
    const rand = Number(r.markers.get(`rand_${i}`));
    const qd1 = Number(r.markers.get(`qd1_${i}`));
    if (!(seq > 0) || !(rand > 0) || !(qd1 > 0)) {
      throw new Error(`guest printed no timings for back-end ${i}:\n${r.output.slice(-2000)}`);
    }
    return {
      seqMBs: (SEQ_PASSES * SEQ_MIB * 1.048576) / (seq / 100),
      randOps: (blocks * BLOCK) / (rand / 100),
      qd1Us: (qd1 * 10_000) / (QD1_PASSES * QD1_READS),
    };
  });
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
    const results: Result[][] = NAMES.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const ours = await startBackend("vhost_user_blk.ts", `${dir}/ours.sock`, ["--image", image]);
      const old = await startBackend("vhost_user_blk.ts", `${dir}/old.sock`, [
        "--image",
        image,
        "--poll-us",
        "0",
        "--storage",
        "deno",
      ]);
      const qsd = await startStorageDaemon(image, `${dir}/qsd.sock`);
      try {
        const r = await measure([ours.socket, old.socket, qsd.socket], round);
        r.forEach((x, i) => results[i].push(x));
        const ratio = (i: number, k: keyof Result) =>
          (k === "qd1Us" ? r[2][k] / r[i][k] : r[i][k] / r[2][k]).toFixed(2);
        console.error(
          `round ${round + 1}/${ROUNDS}: / qsd (higher is better): ` +
            [0, 1].map((i) =>
              `${i === 0 ? "ours" : "before"}: seq ${ratio(i, "seqMBs")}, ` +
              `random ${ratio(i, "randOps")}, depth-1 ${ratio(i, "qd1Us")}`
            ).join("; "),
        );
      } finally {
        await ours.stop();
        await old.stop();
        await qsd.stop();
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const m = results.map((rs) => ({
      seq: median(rs.map((r) => r.seqMBs)),
      rand: median(rs.map((r) => r.randOps)),
      qd1: median(rs.map((r) => r.qd1Us)),
    }));
    console.log(
      `guest: TCG, 1 vCPU, three vhost-user-blk devices (1 queue each) in one guest, ` +
        `${SEQ_PASSES} x ${SEQ_MIB} MiB sequential (dd bs=1M iflag=direct), ` +
        `${Math.max(1, Math.round(READS / BLOCK)) * BLOCK} random 4 KiB reads ` +
        `(one dd iflag=direct each), ${QD1_PASSES} x ${QD1_READS} 4 KiB reads at depth 1 ` +
        `(one dd each), per back-end; medians of ${ROUNDS} round(s), ratios the median ` +
        `of each round's ratio (back-ends in one round share the guest and the host load)\n`,
    );
    console.log(
      "| back-end                  | seq read MB/s | 4 KiB random read ops/s | 4 KiB depth-1 read µs |",
    );
    console.log(
      "| ------------------------- | ------------: | ----------------------: | --------------------: |",
    );
    const row = (name: string, a: string, b: string, c: string) =>
      console.log(
        `| ${name.padEnd(25)} | ${a.padStart(13)} | ${b.padStart(23)} | ${c.padStart(21)} |`,
      );
    m.forEach((x, i) => row(NAMES[i], x.seq.toFixed(1), x.rand.toFixed(0), x.qd1.toFixed(1)));
    for (let i = 0; i < N - 1; i++) {
      const ratio = (f: (r: Result, q: Result) => number) =>
        median(results[i].map((r, k) => f(r, results[2][k]))).toFixed(2);
      row(
        `ratio ${i === 0 ? "ours" : "before"} / qsd`,
        ratio((r, q) => r.seqMBs / q.seqMBs),
        ratio((r, q) => r.randOps / q.randOps),
        // Latency: lower is better, so qsd / ours keeps "higher is better".
        ratio((r, q) => q.qd1Us / r.qd1Us),
      );
      // For bench/report.ts: cost (time) over qemu-storage-daemon's, the inverse of the rates.
      const cost = (f: (r: Result, q: Result) => number) =>
        1 / median(results[i].map((r, k) => f(r, results[2][k])));
      const who = i === 0 ? "vhost-user-blk (ours)" : "vhost-user-blk (ours, before)";
      const base = "qemu-storage-daemon, same guest";
      reportRow({
        area: "vhost-user",
        case: `${who}: sequential read`,
        baseline: base,
        ratio: cost((r, q) => r.seqMBs / q.seqMBs),
      });
      reportRow({
        area: "vhost-user",
        case: `${who}: 4 KiB random reads`,
        baseline: base,
        ratio: cost((r, q) => r.randOps / q.randOps),
      });
      reportRow({
        area: "vhost-user",
        case: `${who}: 4 KiB depth-1 latency`,
        baseline: base,
        ratio: cost((r, q) => q.qd1Us / r.qd1Us),
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
