// Interop: our vhost-user-scsi back-end (examples/vhost_user_scsi.ts, the
// virtio-scsi device model and its SCSI target behind the vhost-user
// transport) serving a real Linux guest under QEMU 7.2's vhost-user-scsi-pci:
// Linux's virtio_scsi and sd drivers see a SCSI disk, mkfs and mount it, and a
// LUN added while the guest runs appears. Under CI=true a missing QEMU, kernel
// or busybox is a failure, not a skip (scripts/install_interop_deps.sh
// installs them).

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest } from "./_guest.ts";
import { startBackend } from "./_backend.ts";

const skip = interopSkipReason();
const mustRun = Deno.env.get("CI") === "true";
if (skip !== undefined) console.log(`vhost_user_scsi_test: ${skip}`);

const MODULES = ["virtio_pci", "virtio_scsi", "sd_mod"];
const MiB = 1024 * 1024;

function scsiArgs(socket: string): string[] {
  return ["-chardev", `socket,id=c0,path=${socket}`, "-device", "vhost-user-scsi-pci,chardev=c0"];
}

async function makeImage(path: string, sizeMiB: number, fill?: Uint8Array): Promise<void> {
  const f = await Deno.open(path, { create: true, write: true, truncate: true });
  if (fill !== undefined) await f.write(fill);
  await f.truncate(sizeMiB * MiB);
  f.close();
}

/** Fails when the interop tools are missing under CI; returns false (nothing to run) elsewhere. */
function canRun(): boolean {
  if (skip === undefined) return true;
  if (mustRun) throw new Error(`CI=true but ${skip}`);
  return false;
}

// The guest: finds the disk, checks what sd made of our INQUIRY / READ
// CAPACITY / VPD answers, makes an ext2 file system, writes a file, then
// asks the host for a second LUN and waits for it to appear (hotplug event),
// and finally rescans through sysfs.
const SCRIPT = `
i=0; while [ ! -b /dev/sda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "@@sda=$([ -b /dev/sda ] && echo 1 || echo 0)"
echo "@@size=$(cat /sys/block/sda/size)"
echo "@@vendor=$(cat /sys/block/sda/device/vendor | tr -d ' ')"
echo "@@model=$(cat /sys/block/sda/device/model | tr -d ' ')"
echo "@@rotational=$(cat /sys/block/sda/queue/rotational)"
echo "@@discard_max=$(cat /sys/block/sda/queue/discard_max_bytes)"
echo "@@provisioning=$(cat /sys/block/sda/device/scsi_disk/*/provisioning_mode)"
echo "@@cache=$(cat /sys/block/sda/device/scsi_disk/*/cache_type)"
echo "@@lun0=$(ls /sys/class/scsi_device/ | tr '\\n' ' ')"
mke2fs -q /dev/sda >/tmp/mkfs.log 2>&1 && echo "@@mkfs=ok" || { echo "@@mkfs=fail"; cat /tmp/mkfs.log; }
mount -t ext2 /dev/sda /mnt && echo "@@mount=ok" || echo "@@mount=fail"
echo "hello from the guest over virtio-scsi" > /mnt/hello.txt
dd if=/dev/urandom of=/mnt/blob bs=4096 count=64 2>/dev/null
echo "@@blob=$(sha256sum /mnt/blob | cut -d' ' -f1)"
umount /mnt && echo "@@umount=ok"
sync
echo 3 > /proc/sys/vm/drop_caches
mount -t ext2 -o ro /dev/sda /mnt && echo "@@reread=$(cat /mnt/hello.txt)"
umount /mnt
echo "@@hotplug_request=1"
i=0; while [ ! -b /dev/sdb ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "@@sdb_event=$([ -b /dev/sdb ] && echo 1 || echo 0)"
for h in /sys/class/scsi_host/host*; do echo "- - -" > $h/scan; done
i=0; while [ ! -b /dev/sdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "@@sdb=$([ -b /dev/sdb ] && echo 1 || echo 0)"
echo "@@sdb_size=$(cat /sys/block/sdb/size)"
echo "@@sdb_head=$(dd if=/dev/sdb bs=512 count=1 2>/dev/null | head -c 16)"
echo "@@luns=$(ls /sys/class/scsi_device/ | tr '\\n' ' ')"
echo "@@remove_request=1"
i=0; while [ -b /dev/sdb ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "@@sdb_gone=$([ -b /dev/sdb ] && echo 0 || echo 1)"
echo "@@luns_after=$(ls /sys/class/scsi_device/ | tr '\\n' ' ')"
`;

/** How many commands the back-end has answered with "ok" so far. */
function backendOks(backend: { output(): string }): number {
  return backend.output().split("\n").filter((l) => l.trim() === "ok").length;
}

/** Polls `done` until it holds, failing after 30 s (a hang, not a timing). */
async function waitFor(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!done()) throw new Error(`${what}: not done within 30 s`);
}

Deno.test({
  name: "vhost-user-scsi: Linux sees a SCSI disk, mkfs.ext2 + mount work, files land in the " +
    "image, and a LUN added at run time appears and goes",
  ignore: skip !== undefined && !mustRun,
  fn: async () => {
    if (!canRun()) return;
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuscsi-" });
    try {
      const image = `${dir}/disk.img`;
      const image2 = `${dir}/disk2.img`;
      await makeImage(image, 32);
      await makeImage(image2, 8, new TextEncoder().encode("SECOND-LUN-HEAD!"));
      const socket = `${dir}/scsi.sock`;
      const backend = await startBackend(
        "vhost_user_scsi.ts",
        socket,
        ["--image", image],
        30_000,
        true,
      );
      try {
        let asked = false;
        const sendErrors: string[] = [];
        let removed = false;
        const r = await runGuest({
          script: SCRIPT,
          modules: MODULES,
          qemuArgs: scsiArgs(socket),
          timeoutMs: 180_000,
          onLine: (line) => {
            if (!asked && line.includes("@@hotplug_request=1")) {
              asked = true;
              backend.send(`add 1 ${image2}\n`).catch((e) => sendErrors.push(String(e)));
            }
            if (!removed && line.includes("@@remove_request=1")) {
              removed = true;
              backend.send("remove 1\n").catch((e) => sendErrors.push(String(e)));
            }
          },
        });
        const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
        assert.equal(r.scriptStatus, 0, why);
        assert.deepEqual(sendErrors, [], why);
        assert.equal(r.markers.get("sda"), "1", why);
        // 32 MiB in 512-byte sectors, as sd reports it from READ CAPACITY.
        assert.equal(r.markers.get("size"), String(32 * 2048), why);
        assert.equal(r.markers.get("vendor"), "TYPEDVIO", why);
        assert.equal(r.markers.get("model"), "VIRTIO-SCSI", why);
        // VPD 0xb1 says non-rotating.
        assert.equal(r.markers.get("rotational"), "0", why);
        // The back-end's PosixFileStorage cannot discard: no LBPME in READ CAPACITY(16), no LBPU
        // in VPD 0xb2, so sd keeps the disk fully provisioned, without discard.
        assert.equal(r.markers.get("provisioning"), "full", why);
        assert.equal(r.markers.get("discard_max"), "0", why);
        assert.equal(r.markers.get("cache"), "write back", why);
        assert.equal(r.markers.get("mkfs"), "ok", why);
        assert.equal(r.markers.get("mount"), "ok", why);
        assert.equal(r.markers.get("umount"), "ok", why);
        assert.equal(r.markers.get("reread"), "hello from the guest over virtio-scsi", why);
        // The second LUN arrived by the hotplug event, before any rescan.
        assert.equal(r.markers.get("sdb_event"), "1", why);
        assert.equal(r.markers.get("sdb"), "1", why);
        assert.equal(r.markers.get("sdb_size"), String(8 * 2048), why);
        assert.equal(r.markers.get("sdb_head"), "SECOND-LUN-HEAD!", why);
        // Exactly LUNs 0 and 1: the event's LUN and the rescan's REPORT LUNS name the same unit.
        assert.equal(r.markers.get("luns")?.trim(), "0:0:0:0 0:0:0:1", why);
        // LUN 1 removed on the back-end: the REMOVED event takes sdb away.
        assert.equal(r.markers.get("sdb_gone"), "1", why);
        assert.equal(r.markers.get("luns_after")?.trim(), "0:0:0:0", why);
        // The independent truth: the image itself, read on the host after the guest is gone.
        const img = await Deno.readFile(image);
        // ext2 superblock at byte 1024: s_magic (0xEF53, little-endian) at offset 56.
        assert.equal(img[1024 + 56] | (img[1024 + 57] << 8), 0xef53, why);
        const text = new TextEncoder().encode("hello from the guest over virtio-scsi\n");
        assert.ok(indexOf(img, text) >= 0, "the file's bytes are in the image\n" + why);
      } finally {
        await backend.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test({
  name: "vhost-user-scsi: with --discard, Linux's blkdiscard sends UNMAP and the range is zero " +
    "in the image",
  ignore: skip !== undefined && !mustRun,
  fn: async () => {
    if (!canRun()) return;
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuscsi-" });
    try {
      const image = `${dir}/disk.img`;
      await makeImage(image, 8, new Uint8Array(8 * MiB).fill(0xaa));
      const socket = `${dir}/scsi.sock`;
      const backend = await startBackend("vhost_user_scsi.ts", socket, [
        "--image",
        image,
        "--discard",
      ]);
      try {
        const r = await runGuest({
          script: `
i=0; while [ ! -b /dev/sda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "@@provisioning=$(cat /sys/block/sda/device/scsi_disk/*/provisioning_mode)"
echo "@@discard_max=$(cat /sys/block/sda/queue/discard_max_bytes)"
blkdiscard -o 1048576 -l 1048576 /dev/sda && echo "@@blkdiscard=ok"
sync
`,
          modules: MODULES,
          qemuArgs: scsiArgs(socket),
          timeoutMs: 120_000,
        });
        const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
        assert.equal(r.scriptStatus, 0, why);
        // LBPME in READ CAPACITY(16) and LBPU in VPD 0xb2, with the block limits: sd uses UNMAP.
        assert.equal(r.markers.get("provisioning"), "unmap", why);
        assert.notEqual(r.markers.get("discard_max"), "0", why);
        assert.equal(r.markers.get("blkdiscard"), "ok", why);
        const img = await Deno.readFile(image);
        assert.ok(img.subarray(MiB, 2 * MiB).every((b) => b === 0), "the discarded MiB is zero");
        assert.ok(img.subarray(0, MiB).every((b) => b === 0xaa), "before it unchanged");
        assert.ok(img.subarray(2 * MiB).every((b) => b === 0xaa), "after it unchanged");
      } finally {
        await backend.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "vhost-user-scsi: without hotplug (hotplug=off), a LUN added at run time appears after " +
    "a sysfs rescan",
  ignore: skip !== undefined && !mustRun,
  fn: async () => {
    if (!canRun()) return;
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuscsi-" });
    try {
      const image = `${dir}/disk.img`;
      const image2 = `${dir}/disk2.img`;
      await makeImage(image, 8);
      await makeImage(image2, 4, new TextEncoder().encode("RESCANNED-LUN-3!"));
      const socket = `${dir}/scsi.sock`;
      const backend = await startBackend(
        "vhost_user_scsi.ts",
        socket,
        ["--image", image],
        30_000,
        true,
      );
      try {
        let asked = false;
        const sendErrors: string[] = [];
        const r = await runGuest({
          script: `
i=0; while [ ! -b /dev/sda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = "0x0008" ] && echo "@@features=$(cat $d/features)"; done
echo "@@add_request=1"
read -r added < /dev/ttyS0
echo "@@sdb_before_scan=$([ -b /dev/sdb ] && echo 1 || echo 0)"
for h in /sys/class/scsi_host/host*; do echo "- - -" > $h/scan; done
i=0; while [ ! -b /dev/sdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "@@sdb_head=$(dd if=/dev/sdb bs=512 count=1 2>/dev/null | head -c 16)"
echo "@@luns=$(ls /sys/class/scsi_device/ | tr '\\n' ' ')"
`,
          modules: MODULES,
          qemuArgs: [
            "-chardev",
            `socket,id=c0,path=${socket}`,
            "-device",
            "vhost-user-scsi-pci,chardev=c0,hotplug=off",
          ],
          timeoutMs: 120_000,
          input: true,
          onLine: (line, reply) => {
            if (!asked && line.includes("@@add_request=1")) {
              asked = true;
              // The guest looks for the LUN only once the back-end has said it is added.
              const oks = backendOks(backend);
              backend.send(`add 3 ${image2}\n`)
                .then(() => waitFor(() => backendOks(backend) > oks, "the back-end adds LUN 3"))
                .then(() => reply("added\n"))
                .catch((e) => sendErrors.push(String(e)));
            }
          },
        });
        const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
        assert.equal(r.scriptStatus, 0, why);
        assert.deepEqual(sendErrors, [], why);
        // The guest's view of the features: bit 1 (VIRTIO_SCSI_F_HOTPLUG) not negotiated.
        assert.equal(r.markers.get("features")?.[1], "0", why);
        assert.equal(r.markers.get("sdb_before_scan"), "0", "no event: nothing before the rescan");
        assert.equal(r.markers.get("sdb_head"), "RESCANNED-LUN-3!", why);
        assert.equal(r.markers.get("luns")?.trim(), "0:0:0:0 0:0:0:3", why);
      } finally {
        await backend.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
