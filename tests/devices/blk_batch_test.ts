// blk's SequentialBatch (synchronous storage whose requests of one queue pass are made back to
// back) on its own and under the device: calls in queue order, a failing call failing only its own
// request, storage that is not synchronous refused or failed, and the device's rule that a request
// alone in its pass skips the batch while a pass of several goes through it.

import assert from "node:assert/strict";
import {
  BlkRequestError,
  type BlockStorage,
  MemoryStorage,
  SequentialBatch,
} from "../../src/devices/blk/mod.ts";
import { VIRTIO_BLK_S_IOERR } from "../../src/generated/devices/blk.ts";
import { DeviceError } from "../../src/errors.ts";
import { countBatches, DISK, pattern, setup } from "./_blk_rig.ts";

/** Synchronous storage over `bytes` that logs every call; `fail(offset)` makes a call throw. */
function logged(
  bytes: Uint8Array,
  opts: { vectored?: boolean; fail?: (offset: number) => boolean } = {},
) {
  const mem = new MemoryStorage(bytes);
  const log: string[] = [];
  const check = (call: string, off: number) => {
    log.push(`${call} ${off}`);
    if (opts.fail?.(off)) throw new Error(`${call} at ${off} fails`);
  };
  const storage: BlockStorage & { batch: SequentialBatch } = {
    size: bytes.length,
    read(off, dst) {
      check("read", off);
      mem.read(off, dst);
    },
    write(off, src) {
      check("write", off);
      mem.write(off, src);
    },
    flush() {
      log.push("flush");
    },
    batch: undefined as unknown as SequentialBatch,
  };
  if (opts.vectored) {
    storage.readv = (off, dsts) => {
      check(`readv[${dsts.length}]`, off);
      let pos = off;
      for (const d of dsts) {
        mem.read(pos, d);
        pos += d.length;
      }
    };
    storage.writev = (off, srcs) => {
      check(`writev[${srcs.length}]`, off);
      let pos = off;
      for (const s of srcs) {
        mem.write(pos, s);
        pos += s.length;
      }
    };
  }
  storage.batch = new SequentialBatch(storage);
  return { storage, log, bytes };
}

Deno.test("SequentialBatch: the queued requests' calls run at submit, in order, each to its slot", () => {
  const { storage, log, bytes } = logged(pattern(8192, 1));
  const b = storage.batch;
  const out = new Uint8Array(512);
  const w = pattern(1024, 9);
  const s0 = b.readv(512, [out]);
  const s1 = b.writev(1024, [w.subarray(0, 512), w.subarray(512)]); // two segments, no writev
  const s2 = b.readv(0, []); // nothing to move
  assert.deepEqual([s0, s1, s2], [0, 1, 2]);
  assert.deepEqual(log, [], "nothing runs before submit");
  b.submit();
  assert.deepEqual(log, ["read 512", "write 1024", "write 1536"]);
  assert.deepEqual([b.result(s0), b.result(s1), b.result(s2)], [0, 0, 0]);
  assert.deepEqual(out, pattern(8192, 1).subarray(512, 1024));
  assert.deepEqual(bytes.subarray(1024, 2048), w);
  b.submit(); // nothing queued: no call
  assert.equal(log.length, 3);
  assert.deepEqual([b.requests, b.submissions], [3, 1], "an empty submit is not a batch");
  // The next batch starts over at slot 0; a slot it does not have is an error.
  assert.equal(b.readv(0, [new Uint8Array(512)]), 0);
  b.submit();
  assert.equal(b.result(0), 0);
  assert.equal(b.result(1), -5);
  assert.equal(b.result(-1), -5);
});

Deno.test("SequentialBatch: storage with readv/writev gets one call per request of many segments", () => {
  const { storage, log } = logged(new Uint8Array(8192), { vectored: true });
  const b = storage.batch;
  const segs = [new Uint8Array(512), new Uint8Array(1024), new Uint8Array(512)];
  b.writev(0, segs);
  b.readv(4096, [new Uint8Array(512), new Uint8Array(512)]);
  b.readv(2048, [new Uint8Array(512)]); // one segment: read
  b.submit();
  assert.deepEqual(log, ["writev[3] 0", "readv[2] 4096", "read 2048"]);
});

Deno.test("SequentialBatch: a call that throws fails its own request; the others run", () => {
  const { storage, log, bytes } = logged(new Uint8Array(8192), { fail: (off) => off === 1024 });
  const b = storage.batch;
  const ok = pattern(512, 3);
  b.writev(0, [pattern(512, 2)]);
  b.writev(1024, [pattern(512, 4)]);
  b.writev(2048, [ok]);
  b.submit();
  assert.deepEqual(log, ["write 0", "write 1024", "write 2048"]);
  assert.deepEqual([b.result(0), b.result(1), b.result(2)], [0, -5, 0]);
  assert.deepEqual(bytes.subarray(2048, 2560), ok);
});

Deno.test("SequentialBatch: asynchronous storage is refused; a promise from a call fails its request", async () => {
  assert.throws(
    () => new SequentialBatch({ isAsync: true, read: async () => {}, write: async () => {} }),
    (e: unknown) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_BLK_OPTION",
  );
  let rejected = 0;
  const b = new SequentialBatch({
    read: () => {
      rejected++;
      return Promise.reject(new Error("late failure"));
    },
    write: () => {},
  });
  b.readv(0, [new Uint8Array(512)]);
  b.writev(0, [new Uint8Array(512)]);
  b.submit();
  assert.deepEqual([b.result(0), b.result(1)], [-5, 0]);
  assert.equal(rejected, 1);
  // The rejection is handled: an unhandled one would fail this test.
  await new Promise((r) => setTimeout(r, 10));
});

Deno.test("blk: a request alone skips the batch; 32 in flight are one batch; data and order kept", async () => {
  const { storage: s, log } = logged(new Uint8Array(DISK));
  const { storage, sizes } = countBatches(s);
  const t = await setup("pci-modern", { storage, queueSize: 128 });
  await t.disk.write(8, pattern(4096, 1));
  const one = new Uint8Array(4096);
  await t.disk.read(8, one);
  assert.deepEqual(one, pattern(4096, 1));
  assert.deepEqual(sizes, [], "a request alone is served at once");
  log.length = 0;
  await Promise.all(
    Array.from({ length: 32 }, (_, i) => t.disk.write(16 + 8 * i, pattern(4096, i))),
  );
  assert.deepEqual(sizes, [32], "one pass, one batch of 32");
  // In the order the driver published them.
  assert.deepEqual(log, Array.from({ length: 32 }, (_, i) => `write ${(16 + 8 * i) * 512}`));
  const backs = Array.from({ length: 32 }, () => new Uint8Array(4096));
  await Promise.all(backs.map((b, i) => t.disk.read(16 + 8 * i, b)));
  backs.forEach((b, i) => assert.deepEqual(b, pattern(4096, i), `block ${i}`));
  assert.deepEqual(sizes, [32, 32]);
  assert.equal(t.device.stats.writes, 33);
  assert.equal(t.device.stats.reads, 33);
});

Deno.test("blk: a flush among batched writes comes after the writes before it", async () => {
  const { storage: s, log } = logged(new Uint8Array(DISK));
  const { storage } = countBatches(s);
  const t = await setup("pci-modern", { storage, queueSize: 128 });
  await Promise.all([
    t.disk.write(0, pattern(512, 1)),
    t.disk.write(8, pattern(512, 2)),
    t.disk.flush(),
    t.disk.write(16, pattern(512, 3)),
  ]);
  assert.deepEqual(log, ["write 0", "write 4096", "flush", "write 8192"]);
});

Deno.test("blk: a failing storage call in a batch fails that request alone (IOERR)", async () => {
  const { storage: s } = logged(new Uint8Array(DISK), { fail: (off) => off === 24 * 512 });
  const { storage, sizes } = countBatches(s);
  const t = await setup("pci-modern", { storage, queueSize: 128 });
  const results = await Promise.allSettled(
    [0, 8, 16, 24, 32].map((sector) => t.disk.write(sector, pattern(4096, sector))),
  );
  assert.deepEqual(sizes, [5]);
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  const err = (results[3] as PromiseRejectedResult).reason;
  assert.ok(err instanceof BlkRequestError && err.status === VIRTIO_BLK_S_IOERR, String(err));
  assert.equal(t.device.stats.writes, 4);
  assert.equal(t.device.stats.errors, 1);
  // The device keeps serving.
  await t.disk.write(40, pattern(4096, 40));
});

Deno.test("SequentialBatch: a batch of 5000 buffers runs whole, and the next batch after it", () => {
  const { storage, log, bytes } = logged(new Uint8Array(5000 * 512));
  const b = storage.batch;
  for (let i = 0; i < 2500; i++) {
    b.writev(i * 1024, [pattern(512, i), pattern(512, i + 1)]);
  }
  b.submit();
  assert.equal(log.length, 5000);
  for (let i = 0; i < 2500; i++) assert.equal(b.result(i), 0);
  assert.deepEqual(bytes.subarray(2499 * 1024, 2499 * 1024 + 512), pattern(512, 2499));
  const out = new Uint8Array(512);
  assert.equal(b.readv(2499 * 1024 + 512, [out]), 0);
  b.submit();
  assert.equal(b.result(0), 0);
  assert.deepEqual(out, pattern(512, 2500));
});
