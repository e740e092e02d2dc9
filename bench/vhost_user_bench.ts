/**
 * vhost-user-blk benchmark: a Linux guest under QEMU (TCG) reads the same
 * raw image from our back-end (examples/vhost_user_blk.ts) and from
 * qemu-storage-daemon's vhost-user-blk export, with identical QEMU
 * arguments, and prints sequential read MB/s, 4 KiB random read ops/s and
 * the ratio ours / qemu-storage-daemon.
 *
 * Not a `deno bench` file (one guest boot per measurement). Run:
 *
 * ```
 * deno run --allow-all bench/vhost_user_bench.ts [--rounds N] [--seq-mib N] [--seq-passes N] [--reads N]
 * ```
 *
 * The guest measures with /proc/uptime (10 ms resolution) and reads with
 * `dd iflag=direct` so the page cache is out of the way. Each random read
 * is one `dd` process, so the guest's fork/exec under TCG is a large part of
 * the per-read time for both back-ends alike.
 *
 * @module
 */

import { interopSkipReason, runGuest } from "../tests/interop/_guest.ts";
import { startBackend } from "../tests/interop/_backend.ts";
import { startStorageDaemon } from "../tests/interop/_qsd.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const ROUNDS = arg("rounds", 3);
const SEQ_MIB = arg("seq-mib", 256);
/** The sequential read is repeated so it lasts long enough for /proc/uptime's resolution. */
const SEQ_PASSES = arg("seq-passes", 4);
const READS = arg("reads", 1000);
const IMAGE_MIB = Math.max(SEQ_MIB, 64);

const SCRIPT = `
up() { cut -d' ' -f1 /proc/uptime | tr -d .; }
dd if=/dev/vda of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null
t0=$(up)
p=0
while [ $p -lt ${SEQ_PASSES} ]; do
  dd if=/dev/vda of=/dev/null bs=1M count=${SEQ_MIB} iflag=direct 2>/dev/null || echo "@@failed=seq"
  p=$((p + 1))
done
t1=$(up)
echo "@@seq_cs=$((t1 - t0))"
n=0
blocks=$((${IMAGE_MIB} * 256))
seed=12345
t0=$(up)
while [ $n -lt ${READS} ]; do
  seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
  dd if=/dev/vda of=/dev/null bs=4096 count=1 skip=$((seed % blocks)) iflag=direct 2>/dev/null
  n=$((n + 1))
done
t1=$(up)
echo "@@rand_cs=$((t1 - t0))"
`;

interface Result {
  seqMBs: number;
  randOps: number;
}

async function measure(socket: string): Promise<Result> {
  const r = await runGuest({
    script: SCRIPT,
    modules: ["virtio_pci", "virtio_blk"],
    qemuArgs: [
      "-chardev",
      `socket,id=c0,path=${socket}`,
      "-device",
      "vhost-user-blk-pci,chardev=c0,num-queues=1",
    ],
    timeoutMs: 600_000,
  });
  const seq = Number(r.markers.get("seq_cs"));
  const rand = Number(r.markers.get("rand_cs"));
  if (r.scriptStatus !== 0 || !(seq > 0) || !(rand > 0) || r.markers.has("failed")) {
    throw new Error(`guest run failed:\n${r.output.slice(-2000)}\n${r.qemuStderr}`);
  }
  return { seqMBs: (SEQ_PASSES * SEQ_MIB * 1.048576) / (seq / 100), randOps: READS / (rand / 100) };
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
    // Random contents, so neither side can shortcut zero or sparse blocks.
    const f = await Deno.open(image, { create: true, write: true });
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < IMAGE_MIB; i++) {
      for (let o = 0; o < chunk.length; o += 65536) {
        crypto.getRandomValues(chunk.subarray(o, o + 65536));
      }
      await f.write(chunk);
    }
    f.close();
    const ours: Result[] = [];
    const qsd: Result[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const be = await startBackend("vhost_user_blk.ts", `${dir}/ours.sock`, ["--image", image]);
      try {
        ours.push(await measure(be.socket));
      } finally {
        await be.stop();
      }
      const d = await startStorageDaemon(image, `${dir}/qsd.sock`);
      try {
        qsd.push(await measure(d.socket));
      } finally {
        await d.stop();
      }
      console.error(`round ${round + 1}/${ROUNDS} done`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const o = { seq: median(ours.map((r) => r.seqMBs)), rand: median(ours.map((r) => r.randOps)) };
    const q = { seq: median(qsd.map((r) => r.seqMBs)), rand: median(qsd.map((r) => r.randOps)) };
    console.log(
      `guest: TCG, 1 vCPU, virtio-blk 1 queue, ${SEQ_PASSES} x ${SEQ_MIB} MiB sequential ` +
        `(dd bs=1M iflag=direct), ` +
        `${READS} random 4 KiB reads (dd iflag=direct), median of ${ROUNDS} round(s)\n`,
    );
    console.log("| back-end                | seq read MB/s | 4 KiB random read ops/s |");
    console.log("| ----------------------- | ------------: | ----------------------: |");
    console.log(
      `| typed-virtio (Deno)     | ${o.seq.toFixed(1).padStart(13)} | ${
        o.rand.toFixed(0).padStart(23)
      } |`,
    );
    console.log(
      `| qemu-storage-daemon     | ${q.seq.toFixed(1).padStart(13)} | ${
        q.rand.toFixed(0).padStart(23)
      } |`,
    );
    console.log(
      `| ratio ours / qsd        | ${(o.seq / q.seq).toFixed(2).padStart(13)} | ${
        (o.rand / q.rand).toFixed(2).padStart(23)
      } |`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
