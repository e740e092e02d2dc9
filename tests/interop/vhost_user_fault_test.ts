// Interop fault test: QEMU is killed (SIGKILL) while the guest has writes in
// flight to a disk served by our vhost-user-blk back-end: four writers keep
// the disk busy, and QEMU is killed as soon as the guest reports write
// requests in flight at the device (/sys/block/vda/inflight) after enough
// blocks were acknowledged. The back-end must notice, drop the session and
// accept the next QEMU, and no acknowledged write may be lost: every block
// whose write the guest saw complete (with conv=fsync, so a flush too) is in
// the image, checked on the host and by a new guest.

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest } from "./_guest.ts";
import { startBackend } from "./_backend.ts";

const skip = interopSkipReason("vhost_user_fault_test");

const KILL_AFTER = 24;
const enc = new TextEncoder();

/** Writers of PARALLEL_WRITES, and the blocks each writes (block `w * PER_WRITER + i`). */
const WRITERS = 4;
const PER_WRITER = 100;
const BLOCKS = WRITERS * PER_WRITER;

/**
 * Four writers at once, each block after block with a flush, printing each
 * block done; meanwhile the guest watches the disk's in-flight counters and
 * prints `@@inflight=N` when N write requests are at the device (each time N
 * changes). Ends with `@@writers_done` once every writer finished.
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
  [ "$n" -gt 0 ] && [ "$n" != "$last" ] && echo "@@inflight=$n"
  last=$n
done
echo "@@writers_done=1"
`;

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
    const backend = await startBackend("vhost_user_blk.ts", socket, ["--image", image]);
    const qemuArgs = [
      "-chardev",
      `socket,id=c0,path=${socket}`,
      "-device",
      "vhost-user-blk-pci,chardev=c0,num-queues=1",
    ];
    try {
      const done = new Set<number>();
      let killedAt = "";
      const first = await runGuest({
        script: PARALLEL_WRITES,
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs,
        timeoutMs: 90_000,
        onLine: (line) => {
          const m = /@@done=(\d+)/.exec(line);
          if (m) done.add(Number(m[1]));
        },
        // Killed while the guest has write requests at the device, once
        // enough blocks were acknowledged to check.
        killWhen: (line) => {
          const m = /@@inflight=(\d+)/.exec(line);
          if (m === null || Number(m[1]) === 0 || done.size < KILL_AFTER) return false;
          killedAt = line;
          return true;
        },
      });
      const why1 = describe(first) + `\n--- back-end ---\n${backend.output()}`;
      assert.ok(first.killed, `QEMU was killed\n${why1}`);
      assert.match(killedAt, /@@inflight=[1-9]/, `killed with writes in flight\n${why1}`);
      assert.equal(first.markers.get("writers_done"), undefined, `the writers were still going`);
      assert.equal(first.markers.get("failed"), undefined, why1);
      assert.ok(done.size >= KILL_AFTER, why1);

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
        timeoutMs: 90_000,
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
    let backend = await startBackend("vhost_user_blk.ts", socket, args);
    const first = backend;
    let restarted: Promise<void> | undefined;
    const done = new Set<number>();
    let killedAt = "";
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
        timeoutMs: 120_000,
        onLine: (line) => {
          const d = /@@done=(\d+)/.exec(line);
          if (d) done.add(Number(d[1]));
          // Killed while the guest has write requests at the device.
          const m = /@@inflight=(\d+)/.exec(line);
          if (
            restarted === undefined && m !== null && Number(m[1]) > 0 && done.size >= KILL_AFTER
          ) {
            killedAt = line;
            Deno.kill(first.pid, "SIGKILL");
            restarted = (async () => {
              await first.stop();
              backend = await startBackend("vhost_user_blk.ts", socket, args);
            })();
          }
        },
      });
      await restarted;
      await backend.stop();
      const why = describe(r) + `\n--- first back-end ---\n${first.output()}` +
        `\n--- second back-end ---\n${backend === first ? "(not started)" : backend.output()}`;
      assert.ok(restarted !== undefined, `the back-end was restarted\n${why}`);
      assert.match(killedAt, /@@inflight=[1-9]/, `killed with writes in flight\n${why}`);
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
