// virtio-scsi, virtio-vsock and virtio-fs driven by Linux in v86 over our own
// transports (the same device models tests/interop/ proves under QEMU over
// vhost-user): one boot per transport with all of them attached, each device
// a step. The guest loads their drivers with modprobe (kit v5).
import assert from "node:assert/strict";
import type { V86Machine } from "../../../src/hosts/v86/machine.ts";
import type { V86Transport } from "../../../src/hosts/v86/host.ts";
import { MemoryStorage } from "../../../src/devices/blk/mod.ts";
import { ScsiDevice } from "../../../src/devices/scsi/mod.ts";
import { type VsockConnection, VsockDevice } from "../../../src/devices/vsock/mod.ts";
import { FsDevice, HostDirFileSystem } from "../../../src/devices/fs/mod.ts";
import { VIRTIO_ID_FS, VIRTIO_ID_SCSI, VIRTIO_ID_VSOCK } from "../../../src/generated/common.ts";
import {
  VIRTIO_SCSI_F_CHANGE,
  VIRTIO_SCSI_F_HOTPLUG,
} from "../../../src/generated/devices/scsi.ts";
import { VIRTIO_VSOCK_F_SEQPACKET } from "../../../src/generated/devices/vsock.ts";
import { VIRTIO_F_VERSION_1 } from "../../../src/generated/common.ts";
import { boot, kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";

const MiB = 1 << 20;
const TAG = "typedfs";
const GUEST_CID = 3;

/** The devices of one boot. */
export interface Rig {
  /** LUN 0 of `scsi`. */
  readonly image: Uint8Array;
  /** virtio-scsi with hotplug events (the default). */
  readonly scsi: ScsiDevice;
  /** virtio-scsi without VIRTIO_SCSI_F_HOTPLUG: new LUNs show only after a rescan. */
  readonly scsiQuiet: ScsiDevice;
  readonly vsock: VsockDevice;
  /** The host directory the guest mounts. */
  readonly shared: string;
  readonly fs: FsDevice;
  /** The guest's vsock program (also known bytes for the disk and the shared directory). */
  readonly program: Uint8Array;
}

async function makeRig(program: Uint8Array): Promise<Rig> {
  const image = new Uint8Array(16 * MiB);
  const shared = await Deno.makeTempDir({ prefix: "typed-virtio-v86fs-" });
  return {
    image,
    scsi: new ScsiDevice({ luns: [{ lun: 0, storage: new MemoryStorage(image) }] }),
    scsiQuiet: new ScsiDevice({
      hotplug: false,
      luns: [{ lun: 0, storage: new MemoryStorage(new Uint8Array(MiB)) }],
    }),
    vsock: new VsockDevice({ guestCid: GUEST_CID }),
    shared,
    fs: new FsDevice({ tag: TAG, fs: new HostDirFileSystem(shared) }),
    program,
  };
}

const bit = (n: number): bigint => 1n << BigInt(n);
const has = (f: bigint, n: number): boolean => (f & bit(n)) !== 0n;

/**
 * What the guest's driver negotiated (sysfs) for the device in `dir`: Linux
 * 6.1's drivers take every feature these devices offer (VERSION_1, the ring
 * features, and the device's own), so negotiated equals offered.
 */
async function checkNegotiated(m: V86Machine, dir: string, offered: bigint): Promise<bigint> {
  const f = await negotiated(m, dir);
  assert.ok(has(f, VIRTIO_F_VERSION_1), `${dir}: VIRTIO_F_VERSION_1`);
  assert.equal(f.toString(2), offered.toString(2), `${dir}: negotiated = offered`);
  return f;
}

/** Copies `path` out of an ext2 image with e2fsprogs' debugfs: the host's own look at the disk. */
async function debugfsDump(image: Uint8Array, path: string): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-v86scsi-" });
  try {
    await Deno.writeFile(`${dir}/disk.img`, image);
    const r = await new Deno.Command("debugfs", {
      args: ["-R", `dump ${path} ${dir}/out`, `${dir}/disk.img`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    return await Deno.readFile(`${dir}/out`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const sha256 = async (b: Uint8Array): Promise<string> =>
  Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>)),
    (x) => x.toString(16).padStart(2, "0"),
  ).join("");

/** Polls (in the guest, at most 30 s) until `test` holds; the command fails otherwise. */
const guestWait = (test: string): string =>
  `i=0; until ${test}; do [ $i -ge 300 ] && exit 1; sleep 0.1; i=$((i+1)); done`;

/** The block device name (`sdX`) of SCSI address `addr` (H:C:T:L), once it exists. */
async function blockOf(m: V86Machine, addr: string): Promise<string> {
  const dir = `/sys/class/scsi_device/${addr}/device/block`;
  const name = (await m.run(`${guestWait(`[ -n "$(ls ${dir} 2>/dev/null)" ]`)}; ls ${dir}`))
    .trim();
  assert.match(name, /^sd[a-z]+$/, `block device of ${addr}`);
  await m.run(guestWait(`[ -b /dev/${name} ]`));
  return name;
}

/** A LUN's storage of `size` bytes that starts with `head` (then zeroes). */
function headed(size: number, head: string): MemoryStorage {
  const bytes = new Uint8Array(size);
  bytes.set(new TextEncoder().encode(head));
  return new MemoryStorage(bytes);
}

/**
 * scsi: Linux's virtio_scsi and sd find LUN 0 as a SCSI disk; mkfs.ext2,
 * mount, files written, unmount; the host finds the files in the image. A
 * LUN added on the host appears by the hotplug event and goes on removal;
 * on the device without hotplug, a LUN added appears only after a rescan.
 */
export async function scsiScenario(
  m: V86Machine,
  rig: Rig,
  transport: V86Transport,
): Promise<void> {
  const failuresAtBoot = [rig.scsi.stats.failures, rig.scsiQuiet.stats.failures];
  await m.run("modprobe virtio_scsi && modprobe sd_mod");
  // The two devices in sysfs, each with its SCSI host (a child of the virtio device).
  const found = (await m.run(
    `for d in /sys/bus/virtio/devices/*; do if [ $(cat $d/device) = 0x${
      VIRTIO_ID_SCSI.toString(16).padStart(4, "0")
    } ]; then ` +
      `echo $d $(basename $(ls -d $d/host*)); fi; done`,
  )).trim().split("\n").map((l) => l.split(" "));
  assert.equal(found.length, 2, `two virtio-scsi devices: ${JSON.stringify(found)}`);
  const hosts: string[] = [];
  for (const [dir, host] of found) {
    const quiet = !has(await negotiated(m, dir), VIRTIO_SCSI_F_HOTPLUG);
    const dev = quiet ? rig.scsiQuiet : rig.scsi;
    const f = await checkNegotiated(m, dir, dev.features);
    assert.equal(has(f, VIRTIO_SCSI_F_CHANGE), true);
    assert.match(host, /^host\d+$/);
    hosts[quiet ? 1 : 0] = host.slice(4);
  }
  const [h, hq] = hosts;
  assert.ok(h !== undefined && hq !== undefined, "one device with hotplug, one without");

  const sd = await blockOf(m, `${h}:0:0:0`);
  assert.equal(
    Number((await m.run(`cat /sys/block/${sd}/size`)).trim()) * 512,
    rig.image.length,
    "sd's size from READ CAPACITY",
  );
  assert.equal((await m.run(`cat /sys/block/${sd}/device/vendor`)).trim(), "TYPEDVIO");
  assert.equal((await m.run(`cat /sys/block/${sd}/device/model`)).trim(), "VIRTIO-SCSI");
  await m.run(`mkfs.ext2 -q /dev/${sd}`);
  await m.run(
    `mkdir -p /mnt/scsi && mount -t ext2 /dev/${sd} /mnt/scsi && ` +
      `echo 'written by Linux over virtio-scsi, ${transport}' > /mnt/scsi/greeting && ` +
      "mkdir /mnt/scsi/dir && seq 1 10000 > /mnt/scsi/dir/numbers && " +
      "cp /bin/vsock_test /mnt/scsi/blob",
  );
  await m.run("umount /mnt/scsi && sync");
  assert.equal(
    text(await debugfsDump(rig.image, "/greeting")),
    `written by Linux over virtio-scsi, ${transport}\n`,
  );
  const numbers = text(await debugfsDump(rig.image, "/dir/numbers")).trim().split("\n");
  assert.equal(numbers.length, 10000);
  assert.equal(numbers.at(-1), "10000");
  const blob = await debugfsDump(rig.image, "/blob");
  assert.equal(await sha256(blob), await sha256(rig.program), "the host reads the copied program");
  // Read back in the guest from a cold cache: the disk gives what was written.
  await m.run(
    `echo 3 > /proc/sys/vm/drop_caches && mount -t ext2 -o ro /dev/${sd} /mnt/scsi && ` +
      "cmp /mnt/scsi/blob /bin/vsock_test && umount /mnt/scsi",
  );

  // Hotplug: LUN 1 added on the host arrives by the event, no rescan; removed, it goes.
  const eventsBefore = rig.scsi.stats.events;
  rig.scsi.addLun(1, { storage: headed(4 * MiB, "HOTPLUGGED-LUN-1") });
  const sd1 = await blockOf(m, `${h}:0:0:1`);
  assert.equal(
    (await m.run(`dd if=/dev/${sd1} bs=512 count=1 2>/dev/null | head -c 16`)).trim(),
    "HOTPLUGGED-LUN-1",
  );
  rig.scsi.removeLun(1);
  await m.run(guestWait(`[ ! -e /sys/class/scsi_device/${h}:0:0:1 ]`));
  assert.equal(rig.scsi.stats.events - eventsBefore, 2, "two events: rescan and removed");
  assert.equal(rig.scsi.stats.eventsMissed, 0);

  // No hotplug: LUN 3 added is not seen until the guest rescans its host.
  rig.scsiQuiet.addLun(3, { storage: headed(2 * MiB, "RESCANNED-LUN-3!") });
  assert.equal(rig.scsiQuiet.stats.events, 0, "no event without VIRTIO_SCSI_F_HOTPLUG");
  assert.equal(
    (await m.run(`ls /sys/class/scsi_device/ | grep '^${hq}:' | tr '\\n' ' '`)).trim(),
    `${hq}:0:0:0`,
    "nothing new before the rescan",
  );
  await m.run(`echo "- - -" > /sys/class/scsi_host/host${hq}/scan`);
  const sd3 = await blockOf(m, `${hq}:0:0:3`);
  assert.equal(
    (await m.run(`dd if=/dev/${sd3} bs=512 count=1 2>/dev/null | head -c 16`)).trim(),
    "RESCANNED-LUN-3!",
  );
  assert.equal(Number((await m.run(`cat /sys/block/${sd3}/size`)).trim()), 2 * MiB / 512);
  // SeaBIOS probes targets 1..255 of each device at boot (BAD_TARGET each); Linux reads
  // max_target (0) and sends nothing that fails.
  assert.deepEqual([rig.scsi.stats.failures, rig.scsiQuiet.stats.failures], failuresAtBoot);
}

/** vsock_test.c's pattern: xorshift32 from `seed`, the low byte of each step. */
function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** FNV-1a, 32 bits, as 8 hex digits (vsock_test.c prints the same). */
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Reads `c` to its end. */
async function readAll(c: VsockConnection): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of c.readable) parts.push(chunk);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

/** Writes `data` in 64 KiB pieces, then shuts down sending. */
async function writeAll(c: VsockConnection, data: Uint8Array): Promise<void> {
  const w = c.writable.getWriter();
  for (let o = 0; o < data.length; o += 65536) await w.write(data.subarray(o, o + 65536));
  await w.close();
}

/**
 * The guest half of the vsock test (tests/interop/guest/vsock_test.c), built
 * for i386 (gcc -m32 -static: gcc-multilib, from scripts/install_interop_deps.sh).
 * Outside CI a missing toolchain skips the test (undefined); under CI=true it fails.
 */
async function buildVsockProgram(): Promise<Uint8Array | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-v86vsock-" });
  try {
    const src = new URL("../../interop/guest/vsock_test.c", import.meta.url).pathname;
    const out = `${dir}/vsock_test`;
    let why: string;
    try {
      const r = await new Deno.Command("gcc", {
        args: ["-m32", "-static", "-O2", "-Wall", "-o", out, src],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (r.success) return await Deno.readFile(out);
      why = new TextDecoder().decode(r.stderr);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      why = "gcc not installed";
    }
    why = `gcc -m32 -static cannot build the guest's vsock program ` +
      `(run scripts/install_interop_deps.sh): ${why}`;
    if (Deno.env.get("CI") === "true") throw new Error(`CI=true and ${why}`);
    console.warn(`skipping: ${why}`);
    return undefined;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * vsock: the guest's program connects to the host (CID 2) and streams 2 MiB
 * that the host echoes (four more connections at once beside it), the host
 * connects to a listener in the guest and they exchange 2 MiB each way, a
 * connection to a closed port is refused, and seqpacket messages keep their
 * bounds. Each side checks what it received against the pattern.
 */
export async function vsockScenario(m: V86Machine, rig: Rig): Promise<void> {
  await m.run("modprobe vmw_vsock_virtio_transport");
  const f = await checkNegotiated(
    m,
    await sysfsDevice(m, VIRTIO_ID_VSOCK),
    rig.vsock.features,
  );
  assert.ok(has(f, VIRTIO_VSOCK_F_SEQPACKET));

  // Host port 1234: an echo that records each connection's bytes.
  const echoed: string[] = [];
  const conns: Promise<void>[] = [];
  const listener = rig.vsock.listen(1234);
  const echoing = (async () => {
    for await (const c of listener) {
      conns.push((async () => {
        const w = c.writable.getWriter();
        const got: Uint8Array[] = [];
        for await (const chunk of c.readable) {
          got.push(chunk.slice());
          await w.write(chunk);
        }
        await w.close();
        const all = new Uint8Array(got.reduce((a, p) => a + p.length, 0));
        let o = 0;
        for (const p of got) (all.set(p, o), o += p.length);
        echoed.push(`${all.length}:${fnv(all)}`);
      })());
    }
    await Promise.all(conns);
  })();
  // Port 1235: a seqpacket echo, message by message.
  const seqListener = rig.vsock.listen(1235, { seqpacket: true });
  const seqEchoing = (async () => {
    for await (const c of seqListener) {
      const w = c.writable.getWriter();
      for await (const msg of c.readable) await w.write(msg.slice());
      await w.close();
    }
  })();
  try {
    const out = await m.run(
      `vsock_test send big 1234 ${2 * MiB} 1 && ` +
        "for i in 1 2 3 4; do vsock_test send par$i 1234 131072 $((100 + i)) & done; wait",
    );
    const marker = (name: string) => new RegExp(`@@${name}=(.*)`).exec(out)?.[1]?.trim();
    assert.equal(marker("big"), `${2 * MiB} ${fnv(pattern(2 * MiB, 1))} ok`, out);
    for (let i = 1; i <= 4; i++) {
      assert.equal(marker(`par${i}`), `131072 ${fnv(pattern(131072, 100 + i))} ok`, out);
    }
    const expected = [`${2 * MiB}:${fnv(pattern(2 * MiB, 1))}`];
    for (let i = 1; i <= 4; i++) expected.push(`131072:${fnv(pattern(131072, 100 + i))}`);
    // The guest saw each echo end, so each of the five connections was accepted and is closing.
    assert.equal(conns.length, 5);
    await Promise.all(conns);
    assert.deepEqual(echoed.sort(), expected.sort(), "what the host's echo received");

    // The host connects to a listener in the guest: 2 MiB each way.
    await m.run(
      `vsock_test serve fromhost 5000 ${2 * MiB} 7 >/tmp/serve.out 2>&1 & ` +
        guestWait("grep -q '@@listening=5000' /tmp/serve.out"),
    );
    const c = await rig.vsock.connect(5000);
    const [got] = await Promise.all([readAll(c), writeAll(c, pattern(2 * MiB, 8))]);
    assert.equal(got.length, 2 * MiB);
    assert.equal(fnv(got), fnv(pattern(2 * MiB, 7)), "what the guest sent the host");
    const served = await m.run(
      `${guestWait("grep -q '@@fromhost=' /tmp/serve.out")}; cat /tmp/serve.out`,
    );
    assert.match(served, new RegExp(`@@fromhost=${2 * MiB} ${fnv(pattern(2 * MiB, 8))} ok`));

    // Nobody listens on host port 4321: REQUEST answered with RST.
    assert.match(
      await m.run("vsock_test refused closed 4321"),
      /@@closed=Connection reset by peer/,
    );
    // Seqpacket: 20 messages of up to 20 000 bytes, each read back whole.
    let seqBytes = 0;
    for (let i = 0; i < 20; i++) seqBytes += (i * 7919) % 20000 + 1;
    assert.match(await m.run("vsock_test seq seq 1235 20"), new RegExp(`@@seq=20 ${seqBytes} ok`));
  } finally {
    listener.close();
    seqListener.close();
  }
  await echoing;
  await seqEchoing;
  assert.equal(rig.vsock.droppedPackets, 0);
}

/**
 * fs: `mount -t virtiofs`; create, write, read, rename, readdir, unlink, a
 * large file each way, many small files, two writers at once; after the
 * unmount the host directory holds the same tree.
 */
export async function fsScenario(m: V86Machine, rig: Rig, transport: V86Transport): Promise<void> {
  const dir = rig.shared;
  await Deno.writeTextFile(`${dir}/fromhost.txt`, `made on the host, ${transport}`);
  const hostBig = pattern(2 * MiB + 4321, 99);
  await Deno.writeFile(`${dir}/hostbig.bin`, hostBig);

  await m.run(`modprobe virtiofs && mkdir -p /mnt/fs && mount -t virtiofs ${TAG} /mnt/fs`);
  await checkNegotiated(m, await sysfsDevice(m, VIRTIO_ID_FS), rig.fs.features);
  const run = async (cmd: string) => (await m.run(`cd /mnt/fs && ${cmd}`)).trim();
  assert.equal(await run("cat fromhost.txt"), `made on the host, ${transport}`);
  assert.equal((await run("sha256sum hostbig.bin")).split(/\s+/)[0], await sha256(hostBig));
  await run(
    "echo 'hello from the guest' > hello.txt && mkdir dir && mv hello.txt dir/renamed.txt && " +
      "echo temporary > gone.txt && rm gone.txt",
  );
  assert.equal((await run("ls -1")).split("\n").join(" "), "dir fromhost.txt hostbig.bin");
  assert.equal(await run("cat dir/renamed.txt"), "hello from the guest");
  const big = (await run(
    "cat /bin/vsock_test /bin/vsock_test /bin/vsock_test /bin/vsock_test > big.bin && sync && " +
      "echo 3 > /proc/sys/vm/drop_caches && sha256sum big.bin",
  )).split(/\s+/)[0];
  await run(
    'mkdir small && i=0; while [ $i -lt 100 ]; do echo "small $i" > small/f$i; i=$((i+1)); done',
  );
  assert.equal((await run("ls -1 small | wc -l")).trim(), "100");
  // Two writers and two readers at once.
  const conc = await run(
    "mkdir conc && { " +
      '( i=0; while [ $i -lt 40 ]; do echo "a $i" > conc/a$i; i=$((i+1)); done; ' +
      "sha256sum big.bin > /tmp/suma ) & " +
      '( i=0; while [ $i -lt 40 ]; do echo "b $i" > conc/b$i; i=$((i+1)); done; ' +
      "sha256sum hostbig.bin > /tmp/sumb ) & wait; } && ls -1 conc | wc -l && " +
      "cat /tmp/suma /tmp/sumb",
  );
  const [count, suma, , sumb] = conc.split(/\s+/);
  assert.equal(count, "80", conc);
  assert.equal(suma, big, conc);
  assert.equal(sumb, await sha256(hostBig), conc);
  await run("rm small/f0 && rm small/f1");
  await m.run("sync && umount /mnt/fs");

  // The host's own look at the shared directory.
  assert.equal(await sha256(await Deno.readFile(`${dir}/big.bin`)), big);
  const four = new Uint8Array(4 * rig.program.length);
  for (let i = 0; i < 4; i++) four.set(rig.program, i * rig.program.length);
  assert.equal(big, await sha256(four), "the guest read back the big file it wrote");
  assert.equal((await Deno.stat(`${dir}/big.bin`)).size, four.length);
  assert.equal(await Deno.readTextFile(`${dir}/dir/renamed.txt`), "hello from the guest\n");
  const names = async (d: string) => {
    const out = [];
    for await (const e of Deno.readDir(d)) out.push(e.name);
    return out.sort();
  };
  assert.deepEqual(await names(dir), [
    "big.bin",
    "conc",
    "dir",
    "fromhost.txt",
    "hostbig.bin",
    "small",
  ]);
  assert.equal((await names(`${dir}/small`)).length, 98);
  assert.equal(await Deno.readTextFile(`${dir}/small/f73`), "small 73\n");
  assert.equal((await names(`${dir}/conc`)).length, 80);
  assert.equal(await Deno.readTextFile(`${dir}/conc/a37`), "a 37\n");
  assert.equal(await Deno.readTextFile(`${dir}/conc/b39`), "b 39\n");
}

/**
 * Declares the test of one transport: one boot with the three device types
 * attached (two virtio-scsi functions), each a step. Skipped (outside CI)
 * without the kit or without gcc's i386 support; under CI=true either fails.
 */
export async function scsiVsockFsTest(transport: V86Transport, title: string): Promise<void> {
  const program = await kitOrSkip() ? await buildVsockProgram() : undefined;
  Deno.test({
    name: `v86 + Linux over ${title}: virtio-scsi, virtio-vsock and virtio-fs`,
    ignore: program === undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      if (program === undefined) throw new Error("unreachable: the test is ignored");
      const rig = await makeRig(program);
      const log = new Log();
      try {
        const m = await boot(
          transport,
          [rig.scsi, rig.scsiQuiet, rig.vsock, rig.fs],
          log,
          "",
          { "/bin/vsock_test": program },
        );
        try {
          await t.step(
            "scsi: a SCSI disk, mkfs.ext2 + mount + files the host reads; hotplug and rescan",
            () => scsiScenario(m, rig, transport),
          );
          await t.step(
            "vsock: MiBs both ways, host to guest and guest to host; RST; seqpacket",
            () => vsockScenario(m, rig),
          );
          await t.step(
            "fs: mount -t virtiofs; the host directory holds the guest's tree",
            () => fsScenario(m, rig, transport),
          );
        } finally {
          m.stop();
        }
      } finally {
        await Deno.remove(rig.shared, { recursive: true });
      }
    },
  });
}
