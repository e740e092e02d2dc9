// virtio-blk over UringFileStorage (io_uring through Deno FFI, Linux): the requests of one queue
// pass submitted with one io_uring_enter, through the whole stack (driver, PCI transport, device)
// against a temporary image; a failing completion (-EBADF) as IOERR; close.

import assert from "node:assert/strict";
import { UringFileStorage } from "../../src/devices/blk/uring_file_storage.ts";
import { BlkRequestError } from "../../src/devices/blk/request.ts";
import { VIRTIO_BLK_S_IOERR } from "../../src/generated/devices/blk.ts";
import { DeviceError } from "../../src/errors.ts";
import { countBatches, DISK, pattern, setup } from "./_blk_rig.ts";

async function withImage(bytes: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("blk: UringFileStorage: writes, flush and reads through the stack reach the image", async () => {
  const before = pattern(DISK, 5);
  await withImage(before, async (path) => {
    const uring = new UringFileStorage(path);
    const { storage, sizes } = countBatches(uring);
    const t = await setup("pci-modern", { storage });
    await t.disk.write(3, pattern(4096, 4));
    await t.disk.flush();
    const back = new Uint8Array(4096);
    await t.disk.read(3, back);
    assert.deepEqual(back, pattern(4096, 4));
    const old = new Uint8Array(4096);
    await t.disk.read(64, old);
    assert.deepEqual(old, before.subarray(64 * 512, 64 * 512 + 4096));
    assert.equal(t.device.stats.reads, 2);
    assert.equal(t.device.stats.writes, 1);
    assert.equal(t.device.stats.flushes, 1);
    // A request alone in its pass (nothing else published) skips the batch: one preadv/pwritev.
    assert.deepEqual(sizes, [], `no batch for a request alone: ${sizes}`);
    assert.equal(uring.ringRequests, 0, "a request alone in its pass is one preadv/pwritev");
    assert.equal(uring.enters, 0);
    uring.close();
    const file = await Deno.readFile(path);
    assert.deepEqual(file.subarray(1536, 1536 + 4096), pattern(4096, 4));
    assert.deepEqual(file.subarray(0, 1536), before.subarray(0, 1536));
    assert.deepEqual(file.subarray(1536 + 4096), before.subarray(1536 + 4096));
  });
});

Deno.test("blk: UringFileStorage: 32 requests in flight are one submission; many segments (readv)", async () => {
  const before = pattern(DISK, 7);
  await withImage(before, async (path) => {
    const uring = new UringFileStorage(path, false, 8); // fewer SQEs than requests: rounds
    const { storage, sizes } = countBatches(uring);
    const t = await setup("pci-modern", { storage, queueSize: 128 });
    const writes = Array.from({ length: 32 }, (_, i) => t.disk.write(8 * i, pattern(4096, i)));
    await Promise.all(writes);
    // The driver kicks once for the 32: one pass, one submission (in rounds of 8 SQEs).
    assert.deepEqual(sizes, [32], "the 32 writes of a pass submitted together");
    assert.equal(uring.ringRequests, 32, "all 32 through the ring");
    assert.ok(uring.enters >= 4, `8 SQEs: at least 4 rounds, ${uring.enters} io_uring_enter`);
    const submitsAfterWrites = sizes.length;
    const backs = Array.from({ length: 32 }, () => new Uint8Array(4096));
    await Promise.all(backs.map((b, i) => t.disk.read(8 * i, b)));
    backs.forEach((b, i) => assert.deepEqual(b, pattern(4096, i), `block ${i}`));
    assert.equal(
      sizes.slice(submitsAfterWrites).reduce((a, b) => a + b, 0),
      32,
      "every read went through the batch",
    );
    assert.equal(sizes.length - submitsAfterWrites, 1, "one submission for the 32 reads");
    // A flush and GET_ID among writes in flight: served in the same passes, all complete.
    const mixed = [
      t.disk.write(300, pattern(4096, 40)),
      t.disk.flush(),
      t.disk.write(308, pattern(4096, 41)),
      t.disk.getId().then(() => {}),
    ];
    await Promise.all(mixed);
    uring.close();
    const file = await Deno.readFile(path);
    for (let i = 0; i < 32; i++) {
      assert.deepEqual(file.subarray(8 * i * 512, 8 * i * 512 + 4096), pattern(4096, i));
    }
    assert.deepEqual(file.subarray(300 * 512, 300 * 512 + 4096), pattern(4096, 40));
    assert.deepEqual(file.subarray(308 * 512, 308 * 512 + 4096), pattern(4096, 41));
  });
  await withImage(before, async (path) => {
    const uring = new UringFileStorage(path);
    // size_max 512: a 64 KiB transfer is one request of 128 data segments (IORING_OP_READV).
    const t = await setup("pci-modern", { storage: uring, sizeMax: 512 });
    const old = new Uint8Array(65536);
    await t.disk.read(16, old);
    assert.deepEqual(old, before.subarray(8192, 8192 + 65536));
    await t.disk.write(5, pattern(65536, 3));
    const back = new Uint8Array(65536);
    await t.disk.read(5, back);
    assert.deepEqual(back, pattern(65536, 3));
    uring.close();
  });
});

Deno.test("UringFileStorage: a batch used directly; a read past the end of the file reads zeroes", async () => {
  await withImage(pattern(10_000, 1), async (path) => {
    const s = new UringFileStorage(path);
    try {
      const a = new Uint8Array(100).fill(7);
      const tail = [new Uint8Array(1500).fill(7), new Uint8Array(1500).fill(7)];
      const sa = s.batch.readv(200, [a]);
      const sb = s.batch.readv(8000, tail);
      const sc = s.batch.writev(0, [new Uint8Array(4).fill(9), new Uint8Array(4).fill(8)]);
      s.batch.submit();
      assert.deepEqual([s.batch.result(sa), s.batch.result(sb), s.batch.result(sc)], [0, 0, 0]);
      const want = pattern(10_000, 1);
      assert.deepEqual(a, want.subarray(200, 300));
      assert.deepEqual(tail[0], want.subarray(8000, 9500));
      assert.deepEqual(tail[1].subarray(0, 500), want.subarray(9500));
      assert.ok(tail[1].subarray(500).every((b) => b === 0), "zeroes past the end");
    } finally {
      s.close();
    }
    const file = await Deno.readFile(path);
    assert.deepEqual(Array.from(file.subarray(0, 9)), [9, 9, 9, 9, 8, 8, 8, 8, pattern(9, 1)[8]]);
  });
});

Deno.test("blk: UringFileStorage: a failing completion (-EBADF) is IOERR; the device keeps serving", async () => {
  const before = pattern(DISK, 6);
  await withImage(before, async (path) => {
    // Opened read-only while the device offers writes: each write's CQE carries -EBADF.
    const uring = new UringFileStorage(path, true);
    const { storage, sizes } = countBatches(uring);
    try {
      const t = await setup("pci-modern", { storage });
      const ioerr = (e: unknown) =>
        e instanceof BlkRequestError && e.status === VIRTIO_BLK_S_IOERR &&
        e.code === "ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR";
      // Two failing writes and two reads in one pass: only the writes fail.
      const backs = [new Uint8Array(4096), new Uint8Array(4096)];
      const results = await Promise.allSettled([
        t.disk.write(8, pattern(4096, 1)),
        t.disk.read(8, backs[0]),
        t.disk.write(16, pattern(4096, 2)),
        t.disk.read(16, backs[1]),
      ]);
      assert.ok(results[0].status === "rejected" && ioerr(results[0].reason));
      assert.ok(results[2].status === "rejected" && ioerr(results[2].reason));
      assert.equal(results[1].status, "fulfilled");
      assert.equal(results[3].status, "fulfilled");
      assert.deepEqual(backs[0], before.subarray(8 * 512, 8 * 512 + 4096));
      assert.deepEqual(backs[1], before.subarray(16 * 512, 16 * 512 + 4096));
      assert.equal(t.device.stats.errors, 2);
      assert.equal(t.device.stats.reads, 2);
      assert.equal(t.device.stats.writes, 0);
      assert.equal(sizes.reduce((a, b) => a + b, 0), 4, "all four went through the batch");
      assert.equal(t.dev.needsReset, false);
      const slot = uring.batch.writev(0, [new Uint8Array(512)]);
      uring.batch.submit();
      assert.equal(uring.batch.result(slot), -9, "-EBADF");
    } finally {
      uring.close();
    }
    assert.deepEqual(await Deno.readFile(path), before, "the image is unchanged");
  });
});

Deno.test("UringFileStorage: close unmaps the ring and closes both descriptors; then calls throw", async () => {
  // Descriptors on the ring or the image, by what they link to (test files run side by side
  // in one process: a count of every descriptor would move with the neighbours').
  const fdsOn = (path: string) => {
    let n = 0;
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        const to = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
        if (to === path || to === "anon_inode:[io_uring]") n++;
      } catch {
        // closed meanwhile (the directory's own descriptor)
      }
    }
    return n;
  };
  const ringMaps = () =>
    Deno.readTextFileSync("/proc/self/maps").split("\n").filter((l) => l.includes("io_uring"))
      .length;
  await withImage(new Uint8Array(8192), (path) => {
    const fds = () => fdsOn(path);
    const fdsBefore = fds();
    const mapsBefore = ringMaps();
    const s = new UringFileStorage(path);
    assert.equal(fds(), fdsBefore + 2, "the image and the ring");
    assert.equal(ringMaps(), mapsBefore + 3, "SQ ring, CQ ring, SQEs");
    s.close();
    assert.equal(fds(), fdsBefore);
    assert.equal(ringMaps(), mapsBefore);
    s.close(); // twice is harmless
    const closed = (e: unknown) =>
      e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_BLK_CLOSED";
    assert.throws(() => s.read(0, new Uint8Array(512)), closed);
    assert.throws(() => s.batch.readv(0, [new Uint8Array(512)]), closed);
    return Promise.resolve();
  });
  assert.throws(
    () => new UringFileStorage("/nonexistent/typed-virtio.img"),
    (e: unknown) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_BLK_OPEN",
  );
  assert.throws(
    () => new UringFileStorage("/dev/null", false, 0),
    (e: unknown) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_BLK_OPTION",
  );
});
