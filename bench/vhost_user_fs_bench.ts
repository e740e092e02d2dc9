/**
 * vhost-user-fs benchmark: a Linux guest under QEMU (TCG) reads a file
 * sequentially and does metadata work (create, stat through `ls -l`,
 * unlink) on a directory shared by our back-end (examples/vhost_user_fs.ts)
 * with `mount -t virtiofs`; the same busybox script then does the same work
 * on the host directory directly, and the guest does it once more on its own
 * tmpfs. It prints MB/s and operations per second for each, and the ratios
 * of the guest's virtio-fs numbers to the host directory's (what the issue
 * asks) and to the guest's tmpfs (the share of TCG in that ratio).
 *
 * Not a `deno bench` file (one guest boot per round). Run:
 *
 * ```
 * deno run --allow-all bench/vhost_user_fs_bench.ts [--rounds N] [--seq-mib N] [--files N]
 * ```
 *
 * Both sides time with /proc/uptime (10 ms resolution) around the same
 * shell loops. The guest drops its page cache before each sequential pass,
 * so every pass goes through virtio-fs (the host's page cache serves both
 * sides). The guest caches names and attributes for 1 s, as the back-end
 * tells it. `FSBENCH_LOG=1` prints the back-end's output (its request count)
 * after each round.
 *
 * @module
 */

import { interopSkipReason, runGuest } from "../tests/interop/_guest.ts";
import { startBackend } from "../tests/interop/_backend.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const ROUNDS = arg("rounds", 1);
const SEQ_MIB = arg("seq-mib", 64);
const PASSES = 3;
const FILES = arg("files", 500);
const TAG = "benchfs";

/** The work, on directory `$1`; `$2` is a command run before each sequential pass. */
const WORK = `
d=$1
t() { cut -d' ' -f1 /proc/uptime | tr -d .; }
s=$(t); i=0
while [ $i -lt ${PASSES} ]; do $2; cat $d/seq.bin > /dev/null; i=$((i+1)); done
e=$(t); echo "@@$3_seq_cs=$((e-s))"
mkdir $d/meta
s=$(t); i=0
while [ $i -lt ${FILES} ]; do : > $d/meta/f$i; i=$((i+1)); done
ls -l $d/meta > /dev/null
rm -r $d/meta
e=$(t); echo "@@$3_meta_cs=$((e-s))"
`;

interface Result {
  seqMBs: number;
  metaOps: number;
}

function result(markers: ReadonlyMap<string, string>, k: string): Result {
  const seq = Number(markers.get(`${k}_seq_cs`)) / 100;
  const meta = Number(markers.get(`${k}_meta_cs`)) / 100;
  return {
    seqMBs: (PASSES * SEQ_MIB * 1.048576) / Math.max(seq, 0.01),
    metaOps: (3 * FILES) / Math.max(meta, 0.01),
  };
}

async function round(): Promise<{ guest: Result; host: Result; tmpfs: Result }> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-fsbench-" });
  const shared = `${dir}/shared`;
  await Deno.mkdir(shared);
  const seq = new Uint8Array(SEQ_MIB << 20);
  for (let o = 0; o < seq.length; o += 65536) crypto.getRandomValues(seq.subarray(o, o + 65536));
  await Deno.writeFile(`${shared}/seq.bin`, seq);
  await Deno.writeTextFile(`${dir}/work.sh`, WORK);
  const backend = await startBackend(
    "vhost_user_fs.ts",
    `${dir}/fs.sock`,
    [
      "--shared-dir",
      shared,
      "--tag",
      TAG,
    ],
    30_000,
    false,
    ["--allow-sys=statfs"],
  );
  try {
    const script = `
cat > /work.sh <<'WORK_EOF'
${WORK}
WORK_EOF
mount -t virtiofs ${TAG} /mnt || exit 1
mkdir -p /tmp/t && mount -t tmpfs -o size=${SEQ_MIB + 32}m tmpfs /tmp/t
cp /mnt/seq.bin /tmp/t/seq.bin
sh /work.sh /mnt "eval echo 3 > /proc/sys/vm/drop_caches" fs
sh /work.sh /tmp/t true tmpfs
umount /mnt
`;
    const r = await runGuest({
      script,
      modules: ["virtio_pci", "virtiofs"],
      memoryMiB: 512 + SEQ_MIB,
      qemuArgs: [
        "-chardev",
        `socket,id=fs0,path=${dir}/fs.sock`,
        "-device",
        `vhost-user-fs-pci,chardev=fs0,tag=${TAG}`,
      ],
      timeoutMs: 900_000,
    });
    if (r.scriptStatus !== 0 || !r.markers.has("tmpfs_meta_cs")) {
      throw new Error(`guest failed:\n${r.output.slice(-3000)}\n${backend.output()}`);
    }
    const host = await new Deno.Command("busybox", {
      args: ["sh", `${dir}/work.sh`, shared, "true", "host"],
      stdout: "piped",
    }).output();
    const markers = new Map(r.markers);
    for (const line of new TextDecoder().decode(host.stdout).split("\n")) {
      const m = /^@@(\w+)=(\d+)/.exec(line);
      if (m !== null) markers.set(m[1], m[2]);
    }
    return {
      guest: result(markers, "fs"),
      host: result(markers, "host"),
      tmpfs: result(markers, "tmpfs"),
    };
  } finally {
    await backend.stop();
    if (Deno.env.get("FSBENCH_LOG")) console.error(backend.output());
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const skip = interopSkipReason();
  if (skip !== undefined) {
    console.error(skip);
    Deno.exit(1);
  }
  for (let i = 0; i < ROUNDS; i++) {
    const { guest, host, tmpfs } = await round();
    const f = (n: number) => n.toFixed(n < 10 ? 2 : 0);
    console.log(
      `round ${i + 1}: ${SEQ_MIB} MiB x ${PASSES} sequential reads, ${FILES} files ` +
        `(create, ls -l, rm -r)\n` +
        `  guest over virtio-fs: ${f(guest.seqMBs)} MB/s, ${f(guest.metaOps)} metadata ops/s\n` +
        `  host directory:       ${f(host.seqMBs)} MB/s, ${f(host.metaOps)} metadata ops/s\n` +
        `  guest tmpfs:          ${f(tmpfs.seqMBs)} MB/s, ${f(tmpfs.metaOps)} metadata ops/s\n` +
        `  ratio virtio-fs / host directory: seq ${(guest.seqMBs / host.seqMBs).toFixed(3)}x, ` +
        `metadata ${(guest.metaOps / host.metaOps).toFixed(3)}x\n` +
        `  ratio virtio-fs / guest tmpfs:    seq ${(guest.seqMBs / tmpfs.seqMBs).toFixed(3)}x, ` +
        `metadata ${(guest.metaOps / tmpfs.metaOps).toFixed(3)}x`,
    );
  }
}
