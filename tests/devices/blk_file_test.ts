// virtio-blk's file backends (Deno only: Deno's file API and FFI): FileStorage,
// PosixFileStorage (preadv/pwritev), AsyncFileStorage and ThreadedFileStorage, each
// on an image file, through the driver and directly.

import assert from "node:assert/strict";
import { AsyncFileStorage, FileStorage } from "../../src/devices/blk/file_storage.ts";
import { PosixFileStorage, ThreadedFileStorage } from "../../src/devices/blk/posix_file_storage.ts";
import { BlkRequestError } from "../../src/devices/blk/request.ts";
import { VIRTIO_BLK_S_IOERR } from "../../src/generated/devices/blk.ts";
import { DeviceError } from "../../src/errors.ts";
import type { BlockStorage } from "../../src/devices/blk/storage.ts";
import { countBatches, DISK, pattern, setup } from "./_blk_rig.ts";

/** Counts promises in flight: `most` is the largest number outstanding at one time. */
class InFlight {
  now = 0;
  most = 0;
  track<T>(r: T): T {
    if (r instanceof Promise) {
      this.most = Math.max(this.most, ++this.now);
      r.then(() => this.now--, () => this.now--);
    }
    return r;
  }
}

/** `storage` as the device sees it, with its calls counted while in flight. */
function counted<S extends BlockStorage>(storage: S, calls: InFlight): S {
  return new Proxy(storage, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => calls.track(v.apply(target, args));
    },
  });
}

// The system calls under the storages, counted while in flight:
// ThreadedFileStorage's `nonblocking` FFI calls (pread, pwrite, fdatasync on
// Deno's blocking-call threads) through a wrapped Deno.dlopen (its library is
// opened on first use, after this), and AsyncFileStorage's file writes.
const ffiCalls = new InFlight();
const dlopen = Deno.dlopen;
Object.assign(Deno, {
  dlopen(path: string | URL, symbols: Deno.ForeignLibraryInterface) {
    const lib = dlopen(path, symbols);
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(lib.symbols as Record<string, unknown>)) {
      wrapped[name] = typeof fn !== "function"
        ? fn
        : (...args: unknown[]) => ffiCalls.track(fn(...args));
    }
    return { symbols: wrapped, close: () => lib.close() };
  },
});

/** Runs `fn` with every `Deno.FsFile` write counted while in flight. */
async function countingFileWrites(calls: InFlight, fn: () => Promise<void>): Promise<void> {
  const proto = Deno.FsFile.prototype;
  const write = proto.write;
  proto.write = function (this: Deno.FsFile, p: Uint8Array) {
    return calls.track(write.call(this, p));
  };
  try {
    await fn();
  } finally {
    proto.write = write;
  }
}

Deno.test("blk: a file image (FileStorage) written, flushed and read back", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, new Uint8Array(DISK));
    const storage = new FileStorage(path);
    const t = await setup("pci-modern", { storage });
    await t.disk.write(3, pattern(4096, 4));
    await t.disk.flush();
    const back = new Uint8Array(4096);
    await t.disk.read(3, back);
    assert.deepEqual(back, pattern(4096, 4));
    storage.close();
    const file = await Deno.readFile(path);
    assert.deepEqual(file.subarray(1536, 1536 + 4096), pattern(4096, 4));
    assert.equal(file.length, DISK, "the image did not grow");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("FileStorage: positioned reads and writes (no seek: a handle's position stays), zeroes past the end", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, pattern(8192, 9));
    const storage = new FileStorage(path);
    try {
      const file = storage.file;
      file.seekSync(100, Deno.SeekMode.Start);
      storage.write(4096, pattern(512, 2));
      const back = new Uint8Array(4096).fill(0xee);
      storage.read(6144, back); // 2048 bytes of file, then the end
      assert.deepEqual(back.subarray(0, 2048), pattern(8192, 9).subarray(6144));
      assert.ok(back.subarray(2048).every((b) => b === 0), "zeroes past the end of the file");
      const head = new Uint8Array(512);
      storage.read(4096, head);
      assert.deepEqual(head, pattern(512, 2));
      assert.equal(file.seekSync(0, Deno.SeekMode.Current), 100, "no seek moved the handle");
      assert.equal(storage.size, 8192);
    } finally {
      storage.close();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("blk: PosixFileStorage serves requests of many segments (preadv/pwritev)", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    const before = pattern(DISK, 9);
    await Deno.writeFile(path, before);
    const storage = new PosixFileStorage(path);
    assert.equal(storage.size, DISK);
    // size_max 512: a 64 KiB transfer is one request of 128 data segments.
    const t = await setup("pci-modern", { storage, sizeMax: 512 });
    const old = new Uint8Array(65536);
    await t.disk.read(16, old);
    assert.deepEqual(old, before.subarray(8192, 8192 + 65536), "data in the image before");
    await t.disk.write(5, pattern(65536, 3));
    await t.disk.flush();
    const back = new Uint8Array(65536);
    await t.disk.read(5, back);
    assert.deepEqual(back, pattern(65536, 3));
    assert.equal(t.device.stats.reads, 2);
    storage.close();
    const file = await Deno.readFile(path);
    assert.deepEqual(file.subarray(2560, 2560 + 65536), pattern(65536, 3));
    assert.deepEqual(file.subarray(0, 2560), before.subarray(0, 2560), "bytes before untouched");
    assert.deepEqual(file.subarray(2560 + 65536), before.subarray(2560 + 65536), "bytes after");
    assert.throws(() => storage.read(0, new Uint8Array(1)), DeviceError);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("PosixFileStorage: more segments than one preadv takes, and reads past the end", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, pattern(10_000, 1));
    const storage = new PosixFileStorage(path);
    // 3000 one-byte segments: three preadv calls (1024 each at most).
    const ones = Array.from({ length: 3000 }, (_, i) => Uint8Array.of(i & 0xff));
    storage.writev(100, ones);
    const got = Array.from({ length: 3000 }, () => new Uint8Array(1));
    storage.readv(100, got);
    assert.deepEqual(got.map((b) => b[0]), ones.map((b) => b[0]));
    // Segments crossing the end of the file: the bytes there, then zeroes.
    const tail = [new Uint8Array(1500).fill(7), new Uint8Array(1500).fill(7)];
    storage.readv(8000, tail);
    const want = pattern(10_000, 1).subarray(8000);
    assert.deepEqual(tail[0], want.subarray(0, 1500));
    assert.deepEqual(tail[1].subarray(0, 500), want.subarray(1500));
    assert.ok(tail[1].subarray(500).every((b) => b === 0), "zeroes past the end");
    const one = new Uint8Array(16).fill(7);
    storage.read(9_992, one);
    assert.deepEqual(one.subarray(0, 8), want.subarray(1992));
    assert.ok(one.subarray(8).every((b) => b === 0));
    storage.close();
    const file = await Deno.readFile(path);
    assert.deepEqual(Array.from(file.subarray(100, 3100)), ones.map((b) => b[0]));
    assert.equal(file.length, 10_000);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("PosixFileStorage: a missing image is a DeviceError naming it; read-only refuses writes", async () => {
  assert.throws(
    () => new PosixFileStorage("/nonexistent/typed-virtio.img"),
    (e: unknown) => e instanceof DeviceError && e.message.includes("/nonexistent/typed-virtio.img"),
  );
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, new Uint8Array(4096));
    const ro = new PosixFileStorage(path, true);
    assert.throws(() => ro.write(0, new Uint8Array(512).fill(1)), DeviceError);
    assert.throws(() => ro.writev(0, [new Uint8Array(512).fill(1)]), DeviceError);
    ro.close();
    assert.ok((await Deno.readFile(path)).every((b) => b === 0));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("blk: async file storage serves many requests at once, through bounce buffers", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, new Uint8Array(DISK));
    const real = new AsyncFileStorage(path, { handles: 3 });
    const calls = new InFlight();
    const t = await setup("mmio-v2", { storage: counted(real, calls), queues: 2, packed: false });
    const fileWrites = new InFlight();
    await countingFileWrites(fileWrites, async () => {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => t.disk.write(i * 8, pattern(4096, i))),
      );
    });
    // "at once": the device had several writes at the storage before the first
    // completed, and the storage had writes outstanding on several handles
    assert.ok(calls.most > 1, `at most ${calls.most} request(s) at the storage at once`);
    assert.ok(fileWrites.most > 1, `at most ${fileWrites.most} file write(s) at once`);
    assert.ok(fileWrites.most <= 3, `${fileWrites.most} file writes at once on 3 handles`);
    await t.disk.flush();
    await t.disk.writeZeroes(0, 8);
    const bufs = Array.from({ length: 40 }, () => new Uint8Array(4096));
    await Promise.all(bufs.map((b, i) => t.disk.read(i * 8, b)));
    assert.ok(bufs[0].every((b) => b === 0));
    for (let i = 1; i < 40; i++) assert.deepEqual(bufs[i], pattern(4096, i));
    real.close();
    assert.equal((await Deno.stat(path)).size, DISK);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("blk: ThreadedFileStorage serves requests at once on FFI threads; read-only refuses writes", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, new Uint8Array(DISK));
    const storage = new ThreadedFileStorage(path);
    assert.equal(storage.isAsync, true);
    assert.equal(storage.size, DISK);
    const calls = new InFlight();
    const t = await setup("pci-modern", {
      storage: counted(storage, calls),
      queues: 2,
      sizeMax: 1024,
    });
    ffiCalls.most = 0;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => t.disk.write(i * 8, pattern(4096, i))),
    );
    // "at once": several requests at the storage, and several pwrite calls on
    // the blocking-call threads, before the first completed
    assert.ok(calls.most > 1, `at most ${calls.most} request(s) at the storage at once`);
    assert.ok(ffiCalls.most > 1, `at most ${ffiCalls.most} FFI call(s) on threads at once`);
    await t.disk.flush();
    const bufs = Array.from({ length: 40 }, () => new Uint8Array(4096));
    await Promise.all(bufs.map((b, i) => t.disk.read(i * 8, b)));
    for (let i = 0; i < 40; i++) assert.deepEqual(bufs[i], pattern(4096, i));
    // A read crossing the end of the file: the last bytes, then zeroes.
    await storage.write(DISK - 512, pattern(512, 77));
    const tail = new Uint8Array(1024).fill(9);
    await storage.read(DISK - 512, tail);
    assert.deepEqual(tail.subarray(0, 512), pattern(512, 77));
    assert.ok(tail.subarray(512).every((b) => b === 0));
    storage.close();
    await assert.rejects(storage.read(0, new Uint8Array(1)), DeviceError);
    const file = await Deno.readFile(path);
    for (let i = 0; i < 40; i++) {
      assert.deepEqual(file.subarray(i * 4096, (i + 1) * 4096), pattern(4096, i));
    }
    const ro = new ThreadedFileStorage(path, true);
    await assert.rejects(ro.write(0, new Uint8Array(512)), DeviceError);
    ro.close();
    assert.deepEqual((await Deno.readFile(path)).subarray(0, 4096), pattern(4096, 0));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("PosixFileStorage and ThreadedFileStorage: refreshSize after the image grew; setCapacity follows", async () => {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(path, new Uint8Array(DISK));
    const posix = new PosixFileStorage(path);
    const threaded = new ThreadedFileStorage(path);
    const t = await setup("mmio-v2", { storage: posix });
    assert.equal(t.device.capacity, DISK / 512);
    // The capacity cannot pass what the storage holds until it is re-read.
    assert.throws(() => t.device.setCapacity(DISK / 512 + 8), DeviceError);
    await Deno.truncate(path, DISK + 4096);
    assert.equal(posix.size, DISK);
    assert.equal(posix.refreshSize(), DISK + 4096);
    assert.equal(threaded.refreshSize(), DISK + 4096);
    assert.equal(threaded.size, DISK + 4096);
    t.device.setCapacity(DISK / 512 + 8);
    const back = new Uint8Array(512);
    await t.disk.read(DISK / 512 + 7, back);
    assert.ok(back.every((b) => b === 0), "the new sectors read as zeroes");
    posix.close();
    threaded.close();
    assert.throws(() => posix.refreshSize(), DeviceError);
  } finally {
    await Deno.remove(path);
  }
});

// Issue 18 (soak): a host error under each file storage (here EBADF: the image is opened
// read-only while the device offers writes) reaches the guest as VIRTIO_BLK_S_IOERR, the
// storage throws a typed error, and the device keeps serving.
const FILE_STORAGES = {
  FileStorage: (path: string) => new FileStorage(path, true),
  PosixFileStorage: (path: string) => new PosixFileStorage(path, true),
  AsyncFileStorage: (path: string) => new AsyncFileStorage(path, { readOnly: true }),
  ThreadedFileStorage: (path: string) => new ThreadedFileStorage(path, true),
};
for (const [name, open] of Object.entries(FILE_STORAGES)) {
  Deno.test(`blk: ${name}: a failing host write is IOERR to the guest; the device keeps serving`, async () => {
    const path = await Deno.makeTempFile({ suffix: ".img" });
    try {
      const before = pattern(DISK, 6);
      await Deno.writeFile(path, before);
      const storage = open(path);
      try {
        const t = await setup("pci-modern", { storage });
        const ioerr = (e: unknown) =>
          e instanceof BlkRequestError && e.status === VIRTIO_BLK_S_IOERR &&
          e.code === "ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR";
        await assert.rejects(t.disk.write(8, pattern(4096, 1)), ioerr);
        // Write zeroes on storage without writeZeroes: the device writes the zeroes itself.
        await assert.rejects(t.disk.writeZeroes(8, 8), ioerr);
        assert.equal(t.device.stats.errors, 2);
        const back = new Uint8Array(4096);
        await t.disk.read(8, back);
        assert.deepEqual(back, before.subarray(8 * 512, 8 * 512 + 4096));
        await t.disk.flush();
        assert.equal(t.dev.needsReset, false);
        // Called directly, the storage throws (or rejects with) a typed error.
        const direct = (async () => await storage.write(0, new Uint8Array(512)))();
        await assert.rejects(direct, (e: unknown) => {
          assert.ok(e instanceof DeviceError);
          assert.equal(e.code, "ERR_VIRTIO_DEVICE_BLK_IO", e.message);
          assert.match(e.message, new RegExp(`on image ${path}`));
          return true;
        });
      } finally {
        storage.close();
      }
      assert.deepEqual(await Deno.readFile(path), before, "the image is unchanged");
    } finally {
      await Deno.remove(path);
    }
  });
}

for (
  const [name, open] of [
    ["FileStorage", (p: string) => new FileStorage(p)],
    ["PosixFileStorage", (p: string) => new PosixFileStorage(p)],
  ] as const
) {
  Deno.test(`blk: ${name}: 32 requests in flight are one batch of system calls back to back`, async () => {
    const path = await Deno.makeTempFile({ suffix: ".img" });
    try {
      await Deno.writeFile(path, new Uint8Array(DISK));
      const file = open(path);
      const { storage, sizes } = countBatches(file);
      const t = await setup("pci-modern", { storage, queueSize: 128 });
      await Promise.all(
        Array.from({ length: 32 }, (_, i) => t.disk.write(8 * i, pattern(4096, i))),
      );
      await t.disk.flush();
      const backs = Array.from({ length: 32 }, () => new Uint8Array(4096));
      await Promise.all(backs.map((b, i) => t.disk.read(8 * i, b)));
      backs.forEach((b, i) => assert.deepEqual(b, pattern(4096, i), `block ${i}`));
      assert.deepEqual(sizes, [32, 32], "one batch for the writes, one for the reads");
      const image = await Deno.readFile(path);
      for (let i = 0; i < 32; i++) {
        assert.deepEqual(image.subarray(4096 * i, 4096 * (i + 1)), pattern(4096, i), `image ${i}`);
      }
      file.close();
    } finally {
      await Deno.remove(path);
    }
  });
}
