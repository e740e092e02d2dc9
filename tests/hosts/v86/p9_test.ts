// Linux's own 9P client (9pnet_virtio + 9p, version=9p2000.L) in the v86
// guest mounts a host directory through our P9Device and does what a user
// does: create, write, read, rename, mkdir, ls, symlink, stat, unlink, a
// file larger than msize, and shell jobs in parallel. The host then reads
// the directory with Deno's own API: it holds exactly those changes. Links
// planted on the host that point outside the export (absolute, and `..`)
// resolve inside the guest, never to the host file they name. One boot per
// boot of its own (not the shared scenarios' boot) with two devices: the
// full scenario over PCI modern, a shorter one over MMIO v2.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { P9Device } from "../../../src/devices/p9/mod.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { VIRTIO_ID_9P } from "../../../src/generated/common.ts";
import { kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";

const ready = await kitOrSkip();
const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const SECRET = "host-secret-4f1e9b outside the export";

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

{
  Deno.test({
    name:
      "v86 + Linux 9p over PCI modern and MMIO v2: the guest's changes land in the host directory",
    ignore: !ready,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const outer = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-v86-" });
      const dir = `${outer}/export`;
      Deno.mkdirSync(dir);
      Deno.writeTextFileSync(`${outer}/secret`, SECRET);
      Deno.writeTextFileSync(`${dir}/host.txt`, "written by the host\n");
      const seeded = new Uint8Array(300_007).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
      Deno.writeFileSync(`${dir}/seeded.bin`, seeded);
      Deno.symlinkSync(`${outer}/secret`, `${dir}/abs-escape`);
      Deno.symlinkSync("../secret", `${dir}/rel-escape`);
      const dir2 = `${outer}/export2`;
      Deno.mkdirSync(dir2);
      const device = new P9Device({ tag: "hostshare", fs: new HostDirFileSystem(dir) });
      const device2 = new P9Device({ tag: "mmioshare", fs: new HostDirFileSystem(dir2) });
      const log = new Log();
      const m = await bootV86({
        devices: [{ device, transport: "pci" }, { device: device2, transport: "mmio" }],
        log: log.fn,
        onSerial: Deno.env.get("TV_V86_SERIAL")
          ? (b) => Deno.stderr.writeSync(Uint8Array.of(b))
          : undefined,
      });
      const sh = async (cmd: string) => (await m.run(cmd)).trim();
      try {
        await t.step("modprobe 9pnet_virtio 9p; mount -t 9p the tag", async () => {
          const out = await sh(
            "modprobe 9pnet_virtio && modprobe 9p && mkdir -p /mnt && " +
              "mount -t 9p -o trans=virtio,version=9p2000.L hostshare /mnt && echo MOUNTED; " +
              "grep ' /mnt ' /proc/mounts",
          );
          assert.match(out, /MOUNTED/);
          assert.match(out, /hostshare \/mnt 9p .*trans=virtio/);
          const sys = await sysfsDevice(m, VIRTIO_ID_9P);
          // Linux's mount_tag attribute shows the tag with its terminating NUL.
          assert.match(await sh(`cat ${sys}/mount_tag`), /^(hostshare|mmioshare)\0?$/);
          assert.notEqual(await negotiated(m, sys), 0n);
          assert.ok(device.server.versioned);
        });

        await t.step("read what the host wrote, one file larger than msize", async () => {
          assert.equal(await sh("cat /mnt/host.txt"), "written by the host");
          const sum = (await sh("sha256sum /mnt/seeded.bin")).split(/\s+/)[0];
          assert.equal(sum, sha256(seeded));
          assert.ok(seeded.length > device.server.msize, `msize ${device.server.msize}`);
        });

        await t.step("create, write, read, rename, mkdir, symlink, stat, unlink", async () => {
          const out = await sh(
            "set -e; cd /mnt; echo hello > a.txt; cat a.txt; mv a.txt b.txt; mkdir d; " +
              "echo inner > d/inner.txt; ln -s ../b.txt d/link; cat d/link; " +
              "stat -c '%s %F' b.txt; stat -c '%F' d/link; echo tmp > gone.txt; rm gone.txt; " +
              "ls -1 /mnt | tr '\\n' ' '",
          );
          const lines = out.split("\n");
          assert.deepEqual(lines.slice(0, 5), [
            "hello",
            "hello",
            "6 regular file",
            "symbolic link",
            "abs-escape b.txt d host.txt rel-escape seeded.bin",
          ]);
        });

        await t.step("a file larger than msize written by the guest", async () => {
          const sum = await sh(
            "dd if=/dev/urandom of=/tmp/big bs=65536 count=16 2>/dev/null && " +
              "cp /tmp/big /mnt/d/big && sync && sha256sum /tmp/big",
          );
          assert.equal(sum.split(/\s+/)[0], sha256(Deno.readFileSync(`${dir}/d/big`)));
          assert.equal(Deno.statSync(`${dir}/d/big`).size, 1 << 20);
        });

        await t.step("parallel shell jobs, then wait", async () => {
          const out = await sh(
            "mkdir /mnt/par; for i in 1 2 3 4 5 6; do " +
              "( for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do " +
              "echo $i-$j >> /mnt/par/f$i; done; mkdir /mnt/par/d$i; " +
              "cat /mnt/seeded.bin > /mnt/par/d$i/copy; ls /mnt/par > /dev/null ) & " +
              "done; wait; echo DONE",
          );
          assert.match(out, /DONE/);
          for (let i = 1; i <= 6; i++) {
            const want = Array.from({ length: 20 }, (_, j) => `${i}-${j + 1}\n`).join("");
            assert.equal(Deno.readTextFileSync(`${dir}/par/f${i}`), want);
            assert.equal(sha256(Deno.readFileSync(`${dir}/par/d${i}/copy`)), sha256(seeded));
          }
        });

        await t.step("links pointing outside the export resolve in the guest", async () => {
          const out = await sh(
            "readlink /mnt/abs-escape; readlink /mnt/rel-escape; " +
              "cat /mnt/abs-escape 2>&1; cat /mnt/rel-escape 2>&1; cat /mnt/../secret 2>&1; true",
          );
          assert.ok(!out.includes(SECRET), out);
          assert.match(out, new RegExp(`^${outer}/secret\n\\.\\./secret\n`));
          assert.match(out, /No such file/);
        });

        await t.step("MMIO v2: a second tag, mounted, written and read", async () => {
          const out = await sh(
            "set -e; mkdir -p /mnt2; " +
              "mount -t 9p -o trans=virtio,version=9p2000.L,msize=16384 mmioshare /mnt2; " +
              "cp /mnt/seeded.bin /mnt2/copy.bin; mkdir /mnt2/sub; echo two > /mnt2/sub/t; " +
              "sha256sum /mnt2/copy.bin; cat /mnt2/sub/t; ls /mnt2 | tr '\\n' ' '; umount /mnt2",
          );
          assert.deepEqual(out.split("\n").map((l) => l.trim()), [
            `${sha256(seeded)}  /mnt2/copy.bin`,
            "two",
            "copy.bin sub",
          ]);
          assert.equal(device2.server.msize, 16384);
          assert.deepEqual(names(dir2), ["copy.bin", "sub"]);
          assert.equal(sha256(Deno.readFileSync(`${dir2}/copy.bin`)), sha256(seeded));
          assert.equal(device2.server.fidCount, 0);
        });

        await t.step("umount: every fid clunked, no host descriptor left", async () => {
          assert.equal(await sh("umount /mnt && echo UNMOUNTED"), "UNMOUNTED");
          assert.equal(device.server.fidCount, 0);
          assert.equal(device.server.openHandles, 0);
        });

        // The host's own view: exactly the changes the guest made.
        assert.deepEqual(names(dir), [
          "abs-escape",
          "b.txt",
          "d",
          "host.txt",
          "par",
          "rel-escape",
          "seeded.bin",
        ]);
        assert.equal(Deno.readTextFileSync(`${dir}/b.txt`), "hello\n");
        assert.deepEqual(names(`${dir}/d`), ["big", "inner.txt", "link"]);
        assert.equal(Deno.readLinkSync(`${dir}/d/link`), "../b.txt");
        assert.equal(Deno.readTextFileSync(`${dir}/d/inner.txt`), "inner\n");
        assert.deepEqual(
          names(`${dir}/par`),
          [
            ...[1, 2, 3, 4, 5, 6].map((i) => `d${i}`),
            ...[1, 2, 3, 4, 5, 6].map((i) => `f${i}`),
          ].sort(),
        );
        assert.equal(Deno.readTextFileSync(`${outer}/secret`), SECRET);
        assert.deepEqual(names(outer), ["export", "export2", "secret"]);
        // The host logged no refusal of a 9P device's queue or config access.
        assert.deepEqual(log.lines.filter((l) => /queue|config space|needs.reset/i.test(l)), []);
      } finally {
        m.stop();
        Deno.removeSync(outer, { recursive: true });
      }
    },
  });
}
