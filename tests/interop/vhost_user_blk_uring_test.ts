// Interop: our vhost-user-blk back-end over UringFileStorage (io_uring through Deno FFI;
// examples/vhost_user_blk.ts --storage uring, 2 queues) serving Linux's virtio-blk driver in a
// real guest under QEMU. The guest runs a static program built here from
// tests/interop/guest/blk_verify.c (busybox has no O_DIRECT and no AIO): one process pinned to
// each of its 2 vCPUs (so each drives its own virtqueue) submits all its requests at once with
// Linux AIO and O_DIRECT, so the back-end takes several from a queue in one pass and sends them
// to the kernel in one io_uring_enter. The same run again over the default PosixFileStorage,
// whose SequentialBatch makes a pass's preadv/pwritev calls back to back.
// - Patterned writes of 512 B to 2 MiB at aligned, odd and end-of-disk offsets, a FLUSH, then
//   the same ranges read back by the other vCPU; then writes and reads mixed in the same
//   passes; every request's result and FNV-1a checksum checked against this file's own
//   pattern, and the image's bytes checked on the host afterwards (the pattern where written,
//   zeroes everywhere else).
// - Error path: the image opened read-only while the disk is offered writable
//   (tests/interop/_ro_image_backend.ts): the guest's writes fail with EIO (in a pass of
//   several, from their io_uring completions; alone, from pwritev), its reads in the same
//   passes succeed, and the image is unchanged.
// Fails, not skips, under CI=true when QEMU, the kernel or gcc is missing.

import assert from "node:assert/strict";
import {
  describe,
  type GuestResult,
  interopSkipReason,
  runGuest,
  skipUnlessCi,
  which,
} from "./_guest.ts";
import { startBackend } from "./_backend.ts";
import { parseBlkArgs } from "../../examples/vhost_user_blk.ts";
import { blkVerifyPattern as pattern } from "./_blk_pattern.ts";

const skip = interopSkipReason("vhost_user_blk_uring_test") ??
  skipUnlessCi(
    "vhost_user_blk_uring_test",
    which("gcc") === undefined
      ? "gcc not installed (run scripts/install_interop_deps.sh)"
      : undefined,
  );

const KiB = 1024;
const MiB = 1024 * KiB;
const MODULES = ["virtio_pci", "virtio_blk"];
const QUEUES = 2;

/** FNV-1a, 32 bits, as 8 hex digits. */
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** One request of blk_verify: `kind:seed:offset:length`. */
interface Req {
  readonly kind: "w" | "r";
  readonly seed: number;
  readonly offset: number;
  readonly length: number;
}

const spec = (r: Req) => `${r.kind}:${r.seed}:${r.offset}:${r.length}`;

/** `/blk_verify` running `reqs` as phase `phase` on the disk the script found as `$d`. */
const verifyCmd = (phase: string, reqs: readonly Req[]) =>
  `/blk_verify $d ${phase} ${reqs.map(spec).join(" ")} || echo "@@failed=${phase}"`;

async function buildGuestProgram(dir: string): Promise<string> {
  const src = new URL("./guest/blk_verify.c", import.meta.url).pathname;
  const out = `${dir}/blk_verify`;
  const r = await new Deno.Command("gcc", {
    args: ["-static", "-O2", "-Wall", "-Werror", "-o", out, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(r.success, `gcc failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

function blkArgs(socket: string): string[] {
  return [
    "-chardev",
    `socket,id=c0,path=${socket}`,
    "-device",
    `vhost-user-blk-pci,chardev=c0,num-queues=${QUEUES}`,
  ];
}

/** The script's preamble: the disk, what the guest sees of it. */
const FIND_DISK = `
d=/dev/vda
[ -b $d ] || { echo "@@failed=nodev"; exit 1; }
echo "@@size=$(cat /sys/block/vda/size)"
echo "@@ro=$(cat /sys/block/vda/ro)"
echo "@@queues=$(ls /sys/block/vda/mq | wc -l)"
`;

/** Asserts phase `phase`'s result for request `i` of `reqs`: `result` and the pattern's FNV. */
function expectResult(
  r: GuestResult,
  phase: string,
  reqs: readonly Req[],
  i: number,
  result: string,
  why: string,
): void {
  const req = reqs[i];
  const got = r.markers.get(`${phase}_${i}`);
  const what = `${phase} request ${i} (${spec(req)})`;
  if (result !== "ok") {
    assert.equal(got?.split(" ")[0], result, `${what}: ${got}\n${why}`);
    return;
  }
  const sum = fnv(pattern(req.seed, req.offset, req.length));
  assert.equal(got, `ok ${sum}`, `${what}: ${got}\n${why}`);
}

/** Non-overlapping ranges: sizes from 512 B to 2 MiB, 4 KiB-aligned, odd and at the disk's end. */
function ranges(diskBytes: number): { offset: number; length: number }[] {
  const out = [
    { offset: 0, length: 512 },
    { offset: 4 * KiB, length: 4 * KiB },
    { offset: 25 * 512, length: 9 * 512 },
    { offset: 64 * KiB, length: 64 * KiB },
    { offset: 256 * KiB + 512, length: 128 * KiB + 512 },
    { offset: 1 * MiB, length: 1 * MiB },
    { offset: 3 * MiB, length: 2 * MiB },
    { offset: 8 * MiB + 7 * 512, length: 32 * KiB },
    { offset: 16 * MiB, length: 256 * KiB },
    { offset: 24 * MiB - 4 * KiB, length: 8 * KiB },
    { offset: 28 * MiB, length: 512 * KiB },
  ];
  // Sixteen 4 KiB requests spread over 1 MiB, half of them off 4 KiB alignment.
  for (let k = 0; k < 16; k++) {
    out.push({ offset: 20 * MiB + k * 64 * KiB + (k % 2) * 1536, length: 4 * KiB });
  }
  out.push({ offset: diskBytes - 4 * KiB, length: 4 * KiB });
  return out;
}

// Both storages that batch a pass: io_uring (one io_uring_enter), and the default PosixFileStorage
// (its SequentialBatch: the pass's preadv/pwritev calls back to back).
for (const kind of ["uring", "posix"] as const) {
  Deno.test({
    name:
      `vhost-user-blk --storage ${kind}: a Linux guest writes patterns over 2 queues with O_DIRECT AIO, flushes, reads them back; mixed passes; the image holds them`,
    ignore: skip !== undefined,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuuring-" });
      try {
        const program = await buildGuestProgram(dir);
        const diskBytes = 32 * MiB;
        const image = `${dir}/disk.img`;
        const f = await Deno.open(image, { create: true, write: true });
        await f.truncate(diskBytes);
        f.close();
        const rs = ranges(diskBytes);
        // wr: everything with seed 1. rd: read back, dealt so that the other vCPU reads each
        // range (blk_verify deals request i to CPU i % 2; the list is rotated by one).
        const wr: Req[] = rs.map((x) => ({ kind: "w", seed: 1, ...x }));
        const rd: Req[] = [...wr.slice(1), wr[0]].map((x) => ({ ...x, kind: "r" }));
        // mix: ranges 0, 1, 4, 5, 8, ... rewritten with seed 2 while the others are read, in the
        // same passes (each vCPU gets both kinds).
        const rewritten = (i: number) => Math.floor(i / 2) % 2 === 0;
        const mix: Req[] = rs.map((x, i) =>
          rewritten(i) ? { kind: "w", seed: 2, ...x } : { kind: "r", seed: 1, ...x }
        );
        const finalSeed = (i: number) => (rewritten(i) ? 2 : 1);
        const fin: Req[] = rs.map((x, i) => ({ kind: "r", seed: finalSeed(i), ...x }));

        const socket = `${dir}/blk.sock`;
        const backend = await startBackend("vhost_user_blk.ts", socket, [
          "--image",
          image,
          "--queues",
          String(QUEUES),
          "--storage",
          kind,
        ]);
        let r: GuestResult;
        try {
          if (kind === "uring") assert.match(backend.output(), /uring storage/);
          r = await runGuest({
            script: FIND_DISK + [
              verifyCmd("wr", wr),
              verifyCmd("rd", rd),
              verifyCmd("mix", mix),
              verifyCmd("fin", fin),
            ].join("\n"),
            modules: MODULES,
            qemuArgs: blkArgs(socket),
            cpus: QUEUES,
            files: { "/blk_verify": program },
            timeoutMs: 240_000,
          });
        } finally {
          await backend.stop();
        }
        const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
        assert.equal(r.scriptStatus, 0, why);
        assert.equal(r.markers.get("failed"), undefined, why);
        assert.equal(r.markers.get("size"), String(diskBytes / 512), why);
        assert.equal(r.markers.get("ro"), "0", why);
        assert.equal(r.markers.get("queues"), String(QUEUES), why);
        for (const [phase, reqs] of [["wr", wr], ["rd", rd], ["mix", mix], ["fin", fin]] as const) {
          reqs.forEach((_, i) => expectResult(r, phase, reqs, i, "ok", why));
        }
        for (const phase of ["wr", "mix"]) {
          for (let cpu = 0; cpu < QUEUES; cpu++) {
            assert.equal(r.markers.get(`${phase}_sync${cpu}`), "0", `${phase} fdatasync\n${why}`);
          }
        }
        // The back-end saw them all (each guest request may be split, never merged across phases).
        const m = /reads (\d+), writes (\d+), flushes (\d+)/.exec(backend.output());
        assert.ok(m !== null, why);
        assert.ok(Number(m[1]) >= rd.length + fin.length + rs.length / 2, why);
        assert.ok(Number(m[2]) >= wr.length + rs.length / 2, why);
        assert.ok(Number(m[3]) >= 2, why);
        // Requests shared passes and went through the storage's batch, more than one per pass
        // (uring: per io_uring_enter).
        const batch = kind === "uring"
          ? /io_uring: (\d+) requests in (\d+) submissions/.exec(backend.output())
          : /batched: (\d+) requests in (\d+) passes/.exec(backend.output());
        assert.ok(batch !== null, why);
        assert.ok(Number(batch[1]) >= 8 && Number(batch[1]) > Number(batch[2]), why);

        // The host's own check of the image: the pattern where written, zeroes elsewhere.
        const img = await Deno.readFile(image);
        assert.equal(img.length, diskBytes);
        const covered = new Uint8Array(img.length / 512);
        rs.forEach((x, i) => {
          const want = pattern(finalSeed(i), x.offset, x.length);
          const got = img.subarray(x.offset, x.offset + x.length);
          assert.equal(fnv(got), fnv(want), `image bytes of range ${i} (${x.offset}+${x.length})`);
          assert.deepEqual(got, want, `image bytes of range ${i}`);
          covered.fill(1, x.offset / 512, (x.offset + x.length) / 512);
        });
        for (let s = 0; s < covered.length; s++) {
          if (covered[s] === 1) continue;
          const sector = img.subarray(s * 512, (s + 1) * 512);
          assert.ok(sector.every((b) => b === 0), `sector ${s} was never written, yet is not zero`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "vhost-user-blk over UringFileStorage, image opened read-only: the guest's writes fail with EIO, its reads in the same passes succeed; the image is unchanged",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuuring-ro-" });
    try {
      const program = await buildGuestProgram(dir);
      const diskBytes = 8 * MiB;
      const image = `${dir}/disk.img`;
      const before = pattern(7, 0, diskBytes);
      await Deno.writeFile(image, before);
      // Several writes and reads in flight together on each vCPU: the writes' io_uring
      // completions carry the error.
      const batch: Req[] = [];
      for (let k = 0; k < 12; k++) {
        const offset = k * 256 * KiB + (k % 3) * 512;
        const length = [4 * KiB, 64 * KiB, 512][k % 3];
        batch.push({ kind: k % 4 < 2 ? "w" : "r", seed: k % 4 < 2 ? 9 : 7, offset, length });
      }
      // One write alone in its pass (one pwritev, not the ring), then one read alone.
      const lone: Req[] = [{ kind: "w", seed: 9, offset: 6 * MiB, length: 4 * KiB }];
      const loneRead: Req[] = [{ kind: "r", seed: 7, offset: 6 * MiB, length: 8 * KiB }];
      const socket = `${dir}/blk.sock`;
      const backend = await startBackend("../tests/interop/_ro_image_backend.ts", socket, [
        "--image",
        image,
        "--queues",
        String(QUEUES),
      ]);
      let r: GuestResult;
      try {
        r = await runGuest({
          script: FIND_DISK + [
            verifyCmd("batch", batch),
            verifyCmd("lone", lone),
            verifyCmd("loneread", loneRead),
          ].join("\n"),
          modules: MODULES,
          qemuArgs: blkArgs(socket),
          cpus: QUEUES,
          files: { "/blk_verify": program },
          timeoutMs: 180_000,
        });
      } finally {
        await backend.stop();
      }
      const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(r.scriptStatus, 0, why);
      assert.equal(r.markers.get("failed"), undefined, why);
      // The disk is offered writable: the guest sends its writes.
      assert.equal(r.markers.get("ro"), "0", why);
      assert.equal(r.markers.get("queues"), String(QUEUES), why);
      batch.forEach((q, i) =>
        expectResult(r, "batch", batch, i, q.kind === "w" ? "err:5" : "ok", why)
      );
      expectResult(r, "lone", lone, 0, "err:5", why);
      expectResult(r, "loneread", loneRead, 0, "ok", why);
      const m = /reads (\d+), writes (\d+), errors (\d+)/.exec(backend.output());
      assert.ok(m !== null, why);
      assert.equal(Number(m[2]), 0, `no write succeeded\n${why}`);
      assert.ok(Number(m[3]) >= 7, `every write (6 + 1) answered IOERR\n${why}`);
      assert.ok(Number(m[1]) >= 7, why);
      // Some of the failing writes shared a pass: their errors came from io_uring completions.
      const ring = /io_uring: (\d+) requests in (\d+) submissions/.exec(backend.output());
      assert.ok(ring !== null && Number(ring[1]) >= 2, why);
      assert.deepEqual(await Deno.readFile(image), before, "the image is unchanged");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("vhost_user_blk.ts: --storage uring is parsed; a bad --storage names the choices", () => {
  const base = ["--socket", "/tmp/s", "--image", "/tmp/i"];
  assert.equal(parseBlkArgs([...base, "--storage", "uring"]).storage, "uring");
  assert.equal(parseBlkArgs([...base, "--storage=uring"]).storage, "uring");
  assert.equal(parseBlkArgs(base).storage, "posix");
  assert.throws(
    () => parseBlkArgs([...base, "--storage", "io_uring"]),
    /bad --storage io_uring \(one of posix, threaded, deno, uring\)/,
  );
  assert.throws(() => parseBlkArgs([...base, "--storage"]), /--storage needs a value/);
});

Deno.test("vhost_user_blk.ts --storage uring: a missing image is one line and exit status 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuuring-arg-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        new URL("../../examples/vhost_user_blk.ts", import.meta.url).pathname,
        "--socket",
        `${dir}/s.sock`,
        "--image",
        `${dir}/missing.img`,
        "--storage",
        "uring",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 1, err);
    assert.match(err, /^vhost-user-blk: .*missing\.img.*ENOENT/);
    assert.equal(err.split("\n").length, 1, err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
