// Interop fault tests: a peer is killed (SIGKILL) while the guest has writes
// in flight to a disk served by our vhost-user-blk back-end. Four writers
// keep the disk busy, and the first back-end (tests/interop/_soak_backend.ts
// with --hold-after-writes) hangs after a number of writes: from the next
// write on it holds every request, so the guest's writes stay in flight for
// as long as needed. A peer is killed once the back-end holds a write and the
// guest reports write requests in flight at the device
// (/sys/block/vda/inflight): no race with how fast the guest is. No
// acknowledged write may be lost: every block whose write the guest saw
// complete (with conv=fsync, so a flush too) is in the image.
//
// 1. QEMU is killed; the back-end drops the session and serves the next
//    QEMU, which reads the acknowledged blocks back.
// 2. The back-end is killed and a new one started on the same socket; QEMU
//    reconnects, the new back-end serves the held requests again (inflight
//    area), and the running guest finishes all its writes.

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest } from "./_guest.ts";
import { type BackendProcess, startBackend } from "./_backend.ts";

const skip = interopSkipReason("vhost_user_fault_test");

/** Blocks acknowledged before the hang (test 1), writes before it (test 2). */
const KILL_AFTER = 24;
const enc = new TextEncoder();
/**
 * Deadlines that only turn a hang into a failure: nothing here races a clock
 * (the hang decides when to kill), but a TCG guest on a shared 2-core machine
 * with a load of 20 took over 90 s to boot and write its first blocks.
 */
const GUEST_TIMEOUT_MS = 300_000;
/** The back-end with a storage that can hang (`--hold-after-writes N`, `release`). */
const HOLD_BACKEND = "../tests/interop/_soak_backend.ts";

/** Writers of PARALLEL_WRITES, and the blocks each writes (block `w * PER_WRITER + i`). */
const WRITERS = 4;
const PER_WRITER = 100;
const BLOCKS = WRITERS * PER_WRITER;

/**
 * Four writers at once, each block after block with a flush, printing each
 * block done; meanwhile the guest watches the disk's in-flight counters and
 * prints `@@inflight=N` each time the number N of write requests at the
 * device changes (0 included, so the last line is the count now). Ends with
 * `@@writers_done` once every writer finished.
 */
const PARALLEL_WRITES = `
writer() {
  i=0
  while [ $i -lt ${PER_WRITER} ]; do
    b=$(($1 * ${PER_WRITER} + i))
    yes "typed-virtio-$b" | head -c 4096 > /tmp/b$1
    dd if=/tmp/b$1 of=/dev/vda bs=4096 seek=$b count=1 conv=fsync 2>/dev/null || echo "@@failed=$b"
    echo "@@done=$b"
    i=$((i+1))
  done
  touch /tmp/fin$1
}
w=0
while [ $w -lt ${WRITERS} ]; do writer $w & w=$((w+1)); done
last=0
while [ "$(ls /tmp/fin* 2>/dev/null | wc -l)" -lt ${WRITERS} ]; do
  read r n < /sys/block/vda/inflight
  [ "$n" != "$last" ] && echo "@@inflight=$n"
  last=$n
done
echo "@@writers_done=1"
`;

/**
 * Calls `kill` (once, with the guest's report) as soon as `backend` holds a
 * write and the guest's latest `@@inflight` line has writes in flight, and
 * `ready()`. The hang keeps all three true once they are, so whichever comes
 * last fires it: a guest line (pass each to the function returned) or the
 * back-end's `soak-held write` line.
 */
function killOnHold(
  backend: BackendProcess,
  ready: () => boolean,
  kill: (report: string) => void,
): (line: string) => void {
  let held = false;
  let report = "";
  let fired = false;
  const check = () => {
    if (fired || !held || !/@@inflight=[1-9]/.test(report) || !ready()) return;
    fired = true;
    kill(report);
  };
  void backend.waitFor(/soak-held write/).then((seen) => {
    held = seen;
    check();
  });
  return (line) => {
    if (/@@inflight=\d+/.test(line)) report = line;
    check();
  };
}

/** What the guest writes to block `i`: `typed-virtio-<i>\n` repeated over 4 KiB. */
function blockBytes(i: number): Uint8Array {
  const line = enc.encode(`typed-virtio-${i}\n`);
  const b = new Uint8Array(4096);
  for (let o = 0; o < b.length; o += line.length) b.set(line.subarray(0, b.length - o), o);
  return b;
}

/** A 4 MiB image of zeroes in `dir`. */
async function emptyImage(dir: string): Promise<string> {
  const image = `${dir}/disk.img`;
  const f = await Deno.open(image, { create: true, write: true });
  await f.truncate(4 * 1024 * 1024);
  f.close();
  return image;
}

Deno.test({
  name: "vhost-user-blk fault: QEMU killed with writes in flight; the back-end serves the " +
    "next QEMU; acknowledged writes are on disk",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vufault-" });
    const image = await emptyImage(dir);
    const socket = `${dir}/blk.sock`;
    // Each writer has at most one block written but not acknowledged, so once
    // KILL_AFTER + WRITERS writes passed, at least KILL_AFTER blocks are acknowledged.
    const hang = ["--hold-after-writes", String(KILL_AFTER + WRITERS)];
    const backend = await startBackend(
      HOLD_BACKEND,
      socket,
      ["--image", image, ...hang],
      30_000,
      true,
    );
    const qemuArgs = [
      "-chardev",
      `socket,id=c0,path=${socket}`,
      "-device",
      "vhost-user-blk-pci,chardev=c0,num-queues=1",
    ];
    try {
      const done = new Set<number>();
      let killedAt = "";
      const kill = new AbortController();
      // Killed while the guest has write requests at the device, once enough
      // blocks were acknowledged to check.
      const watch = killOnHold(backend, () => done.size >= KILL_AFTER, (report) => {
        killedAt = report;
        kill.abort();
      });
      const first = await runGuest({
        script: PARALLEL_WRITES,
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs,
        timeoutMs: GUEST_TIMEOUT_MS,
        onLine: (line) => {
          const m = /@@done=(\d+)/.exec(line);
          if (m) done.add(Number(m[1]));
          watch(line);
        },
        killSignal: kill.signal,
      });
      const why1 = describe(first) + `\n--- back-end ---\n${backend.output()}`;
      assert.ok(first.killed, `QEMU was killed\n${why1}`);
      assert.match(killedAt, /@@inflight=[1-9]/, `killed with writes in flight\n${why1}`);
      assert.equal(first.markers.get("writers_done"), undefined, `the writers were still going`);
      assert.equal(first.markers.get("failed"), undefined, why1);
      assert.ok(done.size >= KILL_AFTER, why1);
      assert.match(backend.output(), /soak-held write/, why1);

      // The hung disk answers again: its held requests fail into the session
      // that is gone (they never reach the image), and new ones pass.
      await backend.send("release\n");
      assert.ok(await backend.waitFor(/soak-command release/), backend.output());

      // Every acknowledged block is in the image file.
      const img = await Deno.readFile(image);
      for (const i of done) {
        assert.deepEqual(img.subarray(i * 4096, (i + 1) * 4096), blockBytes(i), `block ${i}`);
      }

      // The back-end dropped the session and serves the next QEMU, which
      // reads the acknowledged blocks.
      const some = [...done].sort((x, y) => x - y);
      const check = [some[0], some[some.length >> 1], some[some.length - 1]];
      const second = await runGuest({
        script: check.map((b) =>
          `echo "@@b${b}=$(dd if=/dev/vda bs=4096 skip=${b} count=1 2>/dev/null | head -n 1)"`
        ).join("\n"),
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs,
        timeoutMs: GUEST_TIMEOUT_MS,
      });
      const why2 = describe(second) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(second.scriptStatus, 0, why2);
      for (const b of check) assert.equal(second.markers.get(`b${b}`), `typed-virtio-${b}`, why2);
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /stopped after 2 session\(s\)/);
  },
});

Deno.test({
  name:
    "vhost-user-blk reconnection: the back-end killed with writes in flight and restarted; QEMU " +
    "reconnects, the running guest's I/O resumes, and every block is on disk",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vureconnect-" });
    const image = await emptyImage(dir);
    const socket = `${dir}/blk.sock`;
    const args = ["--image", image];
    let backend = await startBackend(HOLD_BACKEND, socket, [
      ...args,
      "--hold-after-writes",
      String(KILL_AFTER),
    ]);
    const first = backend;
    let restarted: Promise<void> | undefined;
    const done = new Set<number>();
    let killedAt = "";
    // Killed while it holds a write and the guest has write requests at the
    // device; the next back-end is the plain example, which hangs on nothing.
    const watch = killOnHold(first, () => true, (report) => {
      killedAt = report;
      Deno.kill(first.pid, "SIGKILL");
      restarted = (async () => {
        await first.stop();
        backend = await startBackend("vhost_user_blk.ts", socket, args);
      })();
    });
    try {
      const r = await runGuest({
        // The guest never learns of the restart: its dd calls stall while the
        // back-end is away and complete on the next one.
        script: `${PARALLEL_WRITES}echo 3 > /proc/sys/vm/drop_caches
echo "@@first=$(dd if=/dev/vda bs=4096 count=1 2>/dev/null | head -n 1)"
echo "@@last=$(dd if=/dev/vda bs=4096 skip=${BLOCKS - 1} count=1 2>/dev/null | head -n 1)"
`,
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs: [
          "-chardev",
          `socket,id=c0,path=${socket},reconnect=1`,
          "-device",
          "vhost-user-blk-pci,chardev=c0,num-queues=1",
        ],
        timeoutMs: 2 * GUEST_TIMEOUT_MS,
        onLine: (line) => {
          const d = /@@done=(\d+)/.exec(line);
          if (d) done.add(Number(d[1]));
          watch(line);
        },
      });
      await restarted;
      await backend.stop();
      const why = describe(r) + `\n--- first back-end ---\n${first.output()}` +
        `\n--- second back-end ---\n${backend === first ? "(not started)" : backend.output()}`;
      assert.ok(restarted !== undefined, `the back-end was restarted\n${why}`);
      assert.match(killedAt, /@@inflight=[1-9]/, `killed with writes in flight\n${why}`);
      assert.match(first.output(), /soak-held write/, `the first back-end held a write\n${why}`);
      assert.equal(r.markers.get("writers_done"), "1", why);
      assert.equal(done.size, BLOCKS, `every block acknowledged\n${why}`);
      assert.equal(r.scriptStatus, 0, why);
      assert.equal(r.markers.get("failed"), undefined, why);
      assert.equal(r.markers.get("first"), "typed-virtio-0", why);
      assert.equal(r.markers.get("last"), `typed-virtio-${BLOCKS - 1}`, why);
      // The second back-end served the session that resumed the ring mid-way.
      assert.match(backend.output(), /stopped after 1 session\(s\)/, why);
      const img = await Deno.readFile(image);
      for (let i = 0; i < BLOCKS; i++) {
        assert.deepEqual(img.subarray(i * 4096, (i + 1) * 4096), blockBytes(i), `block ${i}`);
      }
    } finally {
      await first.stop();
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
