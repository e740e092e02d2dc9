// Interop: our virtio-blk driver over the vhost-user front-end transport
// (src/transport/vhost_user/frontend.ts) driving qemu-storage-daemon's
// vhost-user-blk export, and our own vhost-user-blk back-end process. Data
// written through the driver is read back from the image file on its own,
// and data put in the image beforehand is read through the driver. Skips,
// with the reason printed, when qemu-storage-daemon is not installed.

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { blkDriver } from "../../src/devices/blk/driver.ts";
import { VIRTIO_ID_BLOCK } from "../../src/generated/common.ts";
import { VhostUserFrontend } from "../../src/transport/vhost_user/frontend.ts";
import { startBackend } from "./_backend.ts";
import { haveStorageDaemon, skipUnlessCi } from "./_guest.ts";
import { startStorageDaemon, type StorageDaemon } from "./_qsd.ts";
import { deadline } from "./_deadline.ts";

const skip = skipUnlessCi(
  "frontend_qsd_test",
  Deno.build.os !== "linux"
    ? "vhost-user needs Linux"
    : haveStorageDaemon()
    ? undefined
    : "qemu-storage-daemon not installed (run scripts/install_interop_deps.sh)",
);

const MiB = 1024 * 1024;

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Writes, reads and checks through the driver; the image file is checked by the caller. */
async function driveDisk(socket: string, image: string, sizeMiB: number): Promise<void> {
  const fe = await VhostUserFrontend.connect({ socketPath: socket, deviceId: VIRTIO_ID_BLOCK });
  try {
    const bus = new VirtioBus(fe.dmaContext);
    const driver = blkDriver();
    await bus.registerDriver(driver);
    const dev = await bus.addDevice(fe);
    const disk = await deadline(driver.nextDisk(), 10_000, "the disk to probe");
    assert.equal(disk.capacity, sizeMiB * 2048, "capacity from GET_CONFIG");

    // Data put in the image before: read through the driver.
    const before = new Uint8Array(8192);
    await disk.read(64, before);
    assert.deepEqual(before, pattern(8192, 7), "pre-written data read through the driver");

    // Many writes in flight at once, including ones larger than a page.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 32; i++) writes.push(disk.write(1024 + i * 8, pattern(4096, 100 + i)));
    writes.push(disk.write(4096, pattern(256 * 1024, 999)));
    await Promise.all(writes);
    if (disk.hasFeature(9)) await disk.flush(); // VIRTIO_BLK_F_FLUSH

    const back = new Uint8Array(256 * 1024);
    await disk.read(4096, back);
    assert.deepEqual(back, pattern(256 * 1024, 999), "read back through the driver");

    await bus.removeDevice(dev);
  } finally {
    fe.close();
    await fe.closed();
  }
  const img = await Deno.readFile(image);
  for (let i = 0; i < 32; i++) {
    const at = (1024 + i * 8) * 512;
    assert.deepEqual(
      img.subarray(at, at + 4096),
      pattern(4096, 100 + i),
      `write ${i} in the image`,
    );
  }
  assert.deepEqual(
    img.subarray(4096 * 512, 4096 * 512 + 256 * 1024),
    pattern(256 * 1024, 999),
    "the large write in the image",
  );
}

async function withImage(fn: (dir: string, image: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-fe-" });
  const image = `${dir}/disk.img`;
  try {
    const f = await Deno.open(image, { create: true, write: true });
    await f.truncate(8 * MiB);
    await f.seek(64 * 512, Deno.SeekMode.Start);
    await f.write(pattern(8192, 7));
    f.close();
    await fn(dir, image);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "vhost-user front-end: our blk driver drives qemu-storage-daemon; the image file agrees",
  ignore: skip !== undefined,
  sanitizeResources: false,
  fn: () =>
    withImage(async (dir, image) => {
      const qsd: StorageDaemon = await startStorageDaemon(image, `${dir}/qsd.sock`);
      try {
        await deadline(driveDisk(qsd.socket, image, 8), 30_000, "the disk I/O");
      } finally {
        await qsd.stop();
      }
    }),
});

Deno.test({
  name: "vhost-user front-end: our blk driver drives our own vhost-user-blk back-end process",
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  fn: () =>
    withImage(async (dir, image) => {
      const be = await startBackend("vhost_user_blk.ts", `${dir}/be.sock`, ["--image", image]);
      try {
        await deadline(driveDisk(be.socket, image, 8), 30_000, "the disk I/O");
      } finally {
        await be.stop();
      }
    }),
});
