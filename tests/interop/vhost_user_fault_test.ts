// Interop fault test: QEMU is killed (SIGKILL) while the guest writes to a
// disk served by our vhost-user-blk back-end. The back-end must notice,
// drop the session and accept the next QEMU, and no acknowledged write may
// be lost: every block whose write the guest saw complete (with conv=fsync,
// so a flush too) is in the image, checked on the host and by a new guest.

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest } from "./_guest.ts";
import { startBackend } from "./_backend.ts";

const skip = interopSkipReason("vhost_user_fault_test");

const BLOCKS = 400;
const KILL_AFTER = 24;
const enc = new TextEncoder();

/** What the guest writes to block `i`: `typed-virtio-<i>\n` repeated over 4 KiB. */
function blockBytes(i: number): Uint8Array {
  const line = enc.encode(`typed-virtio-${i}\n`);
  const b = new Uint8Array(4096);
  for (let o = 0; o < b.length; o += line.length) b.set(line.subarray(0, b.length - o), o);
  return b;
}

/** The guest writes block after block, each with a flush, printing each one done. */
const WRITE_BLOCKS = `
i=0
while [ $i -lt ${BLOCKS} ]; do
  yes "typed-virtio-$i" | head -c 4096 > /tmp/b
  dd if=/tmp/b of=/dev/vda bs=4096 seek=$i count=1 conv=fsync 2>/dev/null || echo "@@failed=$i"
  echo "@@done=$i"
  i=$((i+1))
done
`;

/** A 4 MiB image of zeroes in `dir`. */
async function emptyImage(dir: string): Promise<string> {
  const image = `${dir}/disk.img`;
  const f = await Deno.open(image, { create: true, write: true });
  await f.truncate(4 * 1024 * 1024);
  f.close();
  return image;
}

Deno.test({
  name: "vhost-user-blk fault: QEMU killed mid-write; the back-end serves the next QEMU; " +
    "acknowledged writes are on disk",
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
      let lastDone = -1;
      const first = await runGuest({
        script: WRITE_BLOCKS,
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs,
        timeoutMs: 90_000,
        onLine: (line) => {
          const m = /@@done=(\d+)/.exec(line);
          if (m) lastDone = Math.max(lastDone, Number(m[1]));
        },
        killWhen: (line) => line.includes(`@@done=${KILL_AFTER}`),
      });
      const why1 = describe(first) + `\n--- back-end ---\n${backend.output()}`;
      assert.ok(first.killed, `QEMU was killed mid-I/O\n${why1}`);
      assert.equal(first.markers.get("failed"), undefined, why1);
      assert.ok(lastDone >= KILL_AFTER, why1);

      // Every acknowledged block is in the image file.
      const img = await Deno.readFile(image);
      for (let i = 0; i <= lastDone; i++) {
        assert.deepEqual(img.subarray(i * 4096, (i + 1) * 4096), blockBytes(i), `block ${i}`);
      }

      // The back-end dropped the session and serves the next QEMU.
      const second = await runGuest({
        script: `
echo "@@first=$(dd if=/dev/vda bs=4096 count=1 2>/dev/null | head -n 1)"
echo "@@last=$(dd if=/dev/vda bs=4096 skip=${lastDone} count=1 2>/dev/null | head -n 1)"
`,
        modules: ["virtio_pci", "virtio_blk"],
        qemuArgs,
        timeoutMs: 90_000,
      });
      const why2 = describe(second) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(second.scriptStatus, 0, why2);
      assert.equal(second.markers.get("first"), "typed-virtio-0", why2);
      assert.equal(second.markers.get("last"), `typed-virtio-${lastDone}`, why2);
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /stopped after 2 session\(s\)/);
  },
});

Deno.test({
  name: "vhost-user-blk reconnection: the back-end killed mid-write and restarted; QEMU " +
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
    try {
      const r = await runGuest({
        // The guest never learns of the restart: its dd calls stall while the
        // back-end is away and complete on the next one.
        script: `${WRITE_BLOCKS}echo 3 > /proc/sys/vm/drop_caches
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
          if (restarted === undefined && line.includes(`@@done=${KILL_AFTER}`)) {
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
