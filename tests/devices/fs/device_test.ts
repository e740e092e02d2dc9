// virtio-fs: the driver against the device model over MMIO and PCI, with
// the backing tree read directly as the truth; hostile chains on the device
// side; a reset closes the host descriptors the guest had open.

import assert from "node:assert/strict";
import {
  type FileSystem,
  FsDevice,
  fsDriver,
  FsError,
  MemoryFileSystem,
  OPEN_FLAGS,
} from "../../../src/devices/fs/mod.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import {
  FUSE_GETATTR,
  FUSE_INIT,
  FUSE_OPEN,
  FuseInHeader,
  FuseInitIn,
  FuseOpenIn,
  FuseOutHeader,
  VirtioFsConfig,
} from "../../../src/generated/devices/fs.ts";
import { type Kind, MAIN_KINDS } from "../../transport/_kinds.ts";
import { rig } from "../_rig.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function setup<F extends FileSystem>(kind: Kind, fs: F) {
  const device = new FsDevice({ tag: "typed", fs, maxIo: 64 * 1024, requestQueues: 2 });
  const r = rig(kind, device, 16 << 20);
  const driver = fsDriver();
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-fs", r.logs.join("; "));
  return { r, device, dev, fs, mount: await driver.nextMount() };
}

for (const kind of MAIN_KINDS) {
  Deno.test(`fs ${kind}: the driver's file API reaches the tree the device shares`, async () => {
    const t = await setup(kind, new MemoryFileSystem());
    assert.equal(t.mount.tag, "typed");
    assert.equal(t.mount.numRequestQueues, 2);
    assert.equal(t.mount.client.minor, 31);
    await t.mount.mkdir("a");
    const data = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
    await t.mount.writeFile("a/data.bin", data);
    // The tree itself, read without FUSE.
    const h = t.fs.open("a/data.bin", OPEN_FLAGS.O_RDONLY);
    const back = new Uint8Array(data.length + 10);
    assert.equal(h.read(back, 0), data.length);
    h.close();
    assert.deepEqual(back.subarray(0, data.length), data);
    assert.deepEqual(await t.mount.readFile("a/data.bin"), data);
    assert.equal((await t.mount.stat("a/data.bin")).size, data.length);
    const many = Array.from({ length: 150 }, (_, i) => `f${i}`);
    await Promise.all(many.map((n) => t.mount.writeFile(`a/${n}`, enc.encode(n))));
    assert.equal(t.fs.readdir("a").length, 151);
    assert.deepEqual((await t.mount.readdir("a")).sort(), [...many, "data.bin"].sort());
    await t.mount.rename("a/f7", "seven");
    assert.equal(t.fs.stat("seven").size, 2);
    assert.equal(dec.decode(await t.mount.readFile("seven")), "f7");
    await t.mount.unlink("seven");
    await assert.rejects(() => t.mount.stat("seven"), (e) => e instanceof FsError && e.errno === 2);
    await assert.rejects(() => t.mount.rmdir("a"), (e) => e instanceof FsError && e.errno === 39);
    assert.ok(!t.dev.needsReset);
    assert.equal(t.device.server.openHandles, 0);
    assert.deepEqual(t.r.logs, []);
  });
}

Deno.test("fs: config space holds the tag and num_request_queues (5.11.4)", () => {
  const d = new FsDevice({ tag: "x".repeat(36), fs: new MemoryFileSystem(), requestQueues: 3 });
  assert.equal(d.configSize, 44);
  assert.equal(d.readConfig(VirtioFsConfig.OFFSETS.numRequestQueues, 4), 3);
  assert.equal(d.readConfig(VirtioFsConfig.OFFSETS.tag + 35, 1), 0x78);
  assert.deepEqual(d.queueMaxSizes, [256, 256, 256, 256]);
  assert.throws(() => new FsDevice({ tag: "", fs: new MemoryFileSystem() }), /tag/);
  assert.throws(() => new FsDevice({ tag: "y".repeat(37), fs: new MemoryFileSystem() }), /tag/);
});

Deno.test("fs: hostile chains get EINVAL or no reply, and the device stays up", async () => {
  const t = await setup("mmio-v2", new MemoryFileSystem());
  const vq = t.mount.requestVq;
  const request = (reqLen: number, fill: (v: DataView) => void, cap: number) => {
    const req = new Uint8Array(reqLen);
    fill(new DataView(req.buffer));
    return vq.request(req, cap);
  };
  const header = (op: number, len: number, nodeid = 1) => (v: DataView) => {
    const h = new FuseInHeader(v);
    h.len = len;
    h.opcode = op;
    h.unique = 1234n;
    h.nodeid = nodeid;
  };
  const outHeader = (r: Uint8Array) => new FuseOutHeader(new DataView(r.buffer, r.byteOffset));
  // Larger than the server accepts: EINVAL.
  const big = t.device.server.maxRequest + 4096;
  const r1 = await request(big, header(FUSE_GETATTR, big), 64);
  assert.equal(r1.length, FuseOutHeader.SIZE);
  assert.equal(outHeader(r1).error | 0, -22);
  assert.equal(outHeader(r1).unique, 1234n);
  // No room for a reply header: used with 0 bytes.
  const small = FuseInHeader.SIZE + 16;
  assert.equal((await request(small, header(FUSE_GETATTR, small), 8)).length, 0);
  // No writable part at all.
  assert.equal((await request(small, header(FUSE_GETATTR, small), 0)).length, 0);
  // A second INIT restarts the session.
  const r4 = await request(small, (v) => {
    header(FUSE_INIT, small, 0)(v);
    const i = new FuseInitIn(v, FuseInHeader.SIZE);
    i.major = 7;
    i.minor = 31;
  }, 80);
  assert.equal(outHeader(r4).error, 0);
  assert.ok(!t.dev.needsReset);
  // The driver's own session still works afterwards (the root is always node 1).
  assert.deepEqual(await t.mount.readdir(""), []);
});

Deno.test("fs: a device reset closes every host descriptor the guest had open", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fsdev-" });
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  try {
    for (let i = 0; i < 10; i++) Deno.writeTextFileSync(`${dir}/f${i}`, String(i));
    const t = await setup("pci-modern", new HostDirFileSystem(dir));
    const before = fds();
    for (let i = 0; i < 10; i++) {
      const { nodeid } = await t.mount.client.lookup(1, `f${i}`);
      await t.mount.client.call(FUSE_OPEN, nodeid, FuseOpenIn.SIZE, () => {}, 16);
    }
    assert.equal(t.device.server.openHandles, 10);
    assert.equal(fds(), before + 10);
    t.device.reset();
    assert.equal(t.device.server.openHandles, 0);
    assert.equal(fds(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
