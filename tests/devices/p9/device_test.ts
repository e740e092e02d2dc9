// virtio-9p: the driver against the device model over MMIO and PCI, with
// the backing tree read directly as the truth (a host directory read with
// Deno's own API, or the in-memory tree read through its interface).

import assert from "node:assert/strict";
import { P9Device, p9Driver, P9Error } from "../../../src/devices/p9/mod.ts";
import {
  P9_QTDIR,
  P9_QTSYMLINK,
  Virtio9pConfig,
  VIRTIO_9P_MOUNT_TAG,
} from "../../../src/generated/devices/9p.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import { type FileSystem, MemoryFileSystem, OPEN_FLAGS } from "../../../src/devices/fs/mod.ts";
import { type Kind, MAIN_KINDS } from "../../transport/_kinds.ts";
import { rig } from "../_rig.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function setup<F extends FileSystem>(kind: Kind, fs: F, msize = 65536) {
  const device = new P9Device({ tag: "typed9", fs, maxMsize: 256 * 1024 });
  const r = rig(kind, device, 16 << 20);
  const driver = p9Driver({ msize });
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-9p", r.logs.join("; "));
  return { r, device, dev, fs, mount: await driver.nextMount() };
}

function readAll(fs: FileSystem, path: string): Uint8Array {
  const st = fs.stat(path);
  const h = fs.open(path, OPEN_FLAGS.O_RDONLY);
  const out = new Uint8Array(st.size);
  assert.equal(h.read(out, 0), st.size);
  h.close();
  return out;
}

for (const kind of MAIN_KINDS) {
  Deno.test(`p9 ${kind}: the driver's file API reaches the in-memory tree`, async () => {
    const t = await setup(kind, new MemoryFileSystem());
    assert.equal(t.mount.tag, "typed9");
    assert.equal(t.mount.client.msize, 65536);
    await t.mount.mkdir("a");
    // Larger than msize: several Twrite and Tread.
    const data = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
    await t.mount.writeFile("a/data.bin", data);
    assert.deepEqual(readAll(t.fs, "a/data.bin"), data);
    assert.deepEqual(await t.mount.readFile("a/data.bin"), data);
    assert.equal((await t.mount.stat("a/data.bin")).size, data.length);
    assert.equal((await t.mount.stat("a")).qid.type, P9_QTDIR);
    // Many names: Treaddir over several replies, many requests in flight.
    const many = Array.from({ length: 400 }, (_, i) => `file-with-a-long-name-${i}`);
    await Promise.all(many.map((n) => t.mount.writeFile(`a/${n}`, enc.encode(n))));
    assert.equal(t.fs.readdir("a").length, 401);
    assert.deepEqual((await t.mount.readdir("a")).sort(), [...many, "data.bin"].sort());
    await t.mount.rename("a/file-with-a-long-name-7", "seven");
    assert.equal(dec.decode(readAll(t.fs, "seven")), "file-with-a-long-name-7");
    await t.mount.symlink("/etc/passwd", "link");
    assert.equal(t.fs.readlink("link"), "/etc/passwd");
    assert.equal(await t.mount.readlink("link"), "/etc/passwd");
    assert.equal((await t.mount.stat("link")).qid.type, P9_QTSYMLINK);
    await t.mount.unlink("seven");
    await assert.rejects(() => t.mount.stat("seven"), (e) => e instanceof P9Error && e.errno === 2);
    await assert.rejects(() => t.mount.rmdir("a"), (e) => e instanceof P9Error && e.errno === 39);
    assert.ok(!t.dev.needsReset);
    assert.equal(t.device.server.openHandles, 0);
    assert.equal(t.device.server.fidCount, 1); // the root only
    assert.deepEqual(t.r.logs, []);
  });

  Deno.test(`p9 ${kind}: a host directory sees exactly the driver's changes`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-" });
    try {
      Deno.writeTextFileSync(`${dir}/old.txt`, "from the host");
      const t = await setup(kind, new HostDirFileSystem(dir), 8192);
      assert.equal(dec.decode(await t.mount.readFile("old.txt")), "from the host");
      await t.mount.mkdir("d");
      const big = new Uint8Array(50_000).map((_, i) => i % 251);
      await t.mount.writeFile("d/big", big);
      await t.mount.rename("old.txt", "d/new.txt");
      await t.mount.symlink("../new.txt", "d/ln");
      assert.deepEqual(Deno.readFileSync(`${dir}/d/big`), big);
      assert.equal(Deno.readTextFileSync(`${dir}/d/new.txt`), "from the host");
      assert.equal(Deno.readLinkSync(`${dir}/d/ln`), "../new.txt");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["d"]);
      assert.deepEqual((await t.mount.readdir("d")).sort(), ["big", "ln", "new.txt"]);
      await t.mount.unlink("d/big");
      assert.deepEqual([...Deno.readDirSync(`${dir}/d`)].map((e) => e.name).sort(), [
        "ln",
        "new.txt",
      ]);
      assert.equal(t.device.server.openHandles, 0);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("p9: config space holds tag_len and the tag; VIRTIO_9P_MOUNT_TAG offered", () => {
  const d = new P9Device({ tag: "héllo", fs: new MemoryFileSystem() });
  assert.equal(d.configSize, Virtio9pConfig.size(6));
  assert.equal(d.readConfig(Virtio9pConfig.OFFSETS.tagLen, 2), 6);
  assert.equal(d.readConfig(Virtio9pConfig.OFFSETS.tag, 1), 0x68);
  assert.equal(d.readConfig(Virtio9pConfig.OFFSETS.tag + 5, 1), 0x6f);
  assert.notEqual(d.features & (1n << BigInt(VIRTIO_9P_MOUNT_TAG)), 0n);
  assert.deepEqual(d.queueMaxSizes, [128]);
  assert.throws(() => new P9Device({ tag: "", fs: new MemoryFileSystem() }), /tag/);
  assert.throws(() => new P9Device({ tag: "a\0b", fs: new MemoryFileSystem() }), /tag/);
  assert.throws(() => new P9Device({ tag: "y".repeat(256), fs: new MemoryFileSystem() }), /tag/);
});

Deno.test("p9: a device reset closes every host descriptor the guest had open", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-p9dev-" });
  // Descriptors open on files of `dir` only: the process's total moves with tests running in
  // parallel beside this one (a CI run saw 62 against 64).
  const fds = () =>
    [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(`${dir}/`);
      } catch {
        return false; // closed between the listing and the readlink
      }
    }).length;
  try {
    for (let i = 0; i < 10; i++) Deno.writeTextFileSync(`${dir}/f${i}`, String(i));
    const t = await setup("pci-modern", new HostDirFileSystem(dir));
    const before = fds();
    assert.equal(before, 0);
    const c = t.mount.client;
    for (let i = 0; i < 10; i++) {
      const fid = await c.walk(c.root, [`f${i}`]);
      await c.lopen(fid, OPEN_FLAGS.O_RDONLY);
    }
    assert.equal(t.device.server.openHandles, 10);
    assert.equal(fds(), before + 10);
    t.device.reset();
    assert.equal(t.device.server.openHandles, 0);
    assert.equal(t.device.server.fidCount, 0);
    assert.equal(fds(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
