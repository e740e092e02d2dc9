// virtio-fs against a racing writer: guest memory in a SharedArrayBuffer and
// a worker (_racer_worker.ts) that keeps rewriting fields of a FUSE WRITE
// request while the device serves it. The device copies each request once and
// the server parses only the copy: whatever the writer does, a reply is either
// the good request's (8 bytes written at offset 0) or the bad one's
// (EINVAL: a size past the request), and the file never receives a byte past
// the 8 the good request names. Deno only (a Web Worker).

import assert from "node:assert/strict";
import type { DeviceContext } from "../../src/device.ts";
import { FsDevice, FuseClient, MemoryFileSystem, OPEN_FLAGS } from "../../src/devices/fs/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  FUSE_CREATE,
  FUSE_WRITE,
  FuseCreateIn,
  FuseEntryOut,
  FuseInHeader,
  FuseOpenOut,
  FuseOutHeader,
  FuseWriteIn,
  FuseWriteOut,
} from "../../src/generated/devices/fs.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { startRacer } from "./_race.ts";

/** Replies that must come back each way before the test ends. */
const EACH_WAY = 2_000;
/** The good request's data length; the bad size is far past the request. */
const GOOD = 8;
const BAD = 0x10000;

Deno.test("fs race: a WRITE's size and offset rewritten while served never write past the checked range", async () => {
  const sab = new SharedArrayBuffer(1 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (1 << 20) - 0x1000);
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const opts = queueOptionsFromFeatures(features, 0);
  const hiprio = allocateQueue(alloc, 16, false);
  const requests = allocateQueue(alloc, 16, false);
  const driver = createDriverQueue<number>(memory, requests, opts);
  const fs = new MemoryFileSystem();
  const device = new FsDevice({ tag: "race", fs });
  const ctx: DeviceContext = {
    memory,
    features,
    queues: [createDeviceQueue(memory, hiprio, opts), createDeviceQueue(memory, requests, opts)],
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => {
      throw e;
    },
  };
  device.activate(ctx);

  // INIT and CREATE through the server directly: the race is about the WRITE.
  const server = device.server;
  const client = new FuseClient((req, cap) => {
    server.request(req.length).set(req);
    const n = server.handle(req.length, cap);
    return Promise.resolve(server.reply.slice(0, n));
  });
  await client.init();
  const name = new TextEncoder().encode("f\0");
  const created = await client.call(FUSE_CREATE, 1, FuseCreateIn.SIZE + name.length, (v, at, b) => {
    const c = new FuseCreateIn(v, at);
    c.flags = OPEN_FLAGS.O_RDWR;
    c.mode = 0o100644;
    b.set(name, at + FuseCreateIn.SIZE);
  }, FuseEntryOut.SIZE + FuseOpenOut.SIZE);
  const view = new DataView(created.buffer, created.byteOffset);
  const nodeid = new FuseEntryOut(view).nodeid;
  const fh = new FuseOpenOut(view, FuseEntryOut.SIZE).fh;

  // One WRITE, built once in guest memory: header, fuse_write_in, 8 bytes of data; then the reply.
  const reqLen = FuseInHeader.SIZE + FuseWriteIn.SIZE + GOOD;
  const replyLen = FuseOutHeader.SIZE + FuseWriteOut.SIZE;
  const reqAt = alloc.alloc(reqLen, 16);
  const replyAt = alloc.alloc(replyLen, 16);
  const gview = new DataView(sab);
  const h = new FuseInHeader(gview, reqAt);
  h.len = reqLen;
  h.opcode = FUSE_WRITE;
  h.unique = 2n;
  h.nodeid = nodeid;
  const w = new FuseWriteIn(gview, reqAt + FuseInHeader.SIZE);
  w.fh = fh;
  w.writeOffset = 0;
  w.writeSize = GOOD;
  memory.bytes(reqAt + FuseInHeader.SIZE + FuseWriteIn.SIZE, GOOD).fill(0x5a);
  const sizeAt = reqAt + FuseInHeader.SIZE + FuseWriteIn.OFFSETS.writeSize;
  const offsetAt = reqAt + FuseInHeader.SIZE + FuseWriteIn.OFFSETS.writeOffset;

  const racer = await startRacer(sab, [
    { addr: sizeAt, a: GOOD, b: BAD },
    // The offset's low word: 0, or 1 MiB (a write there would grow the file).
    { addr: offsetAt, a: 0, b: 1 << 20 },
  ]);
  const outcomes = new Map<string, number>();
  const out = new FuseOutHeader(gview, replyAt);
  const wout = new FuseWriteOut(gview, replyAt + FuseOutHeader.SIZE);
  let rounds = 0;
  try {
    while (
      ((outcomes.get("ok") ?? 0) < EACH_WAY || (outcomes.get("einval") ?? 0) < EACH_WAY) &&
      rounds < 2_000_000
    ) {
      rounds++;
      driver.addSgs([{ addr: reqAt, len: reqLen }], [{ addr: replyAt, len: replyLen }], 0);
      driver.kick();
      device.queueNotify(1);
      const used = driver.getBuf();
      assert.ok(used !== null);
      const err = out.error | 0;
      const key = err === 0 ? `ok ${wout.written}` : `errno ${-err}`;
      const k = key === `ok ${GOOD}` ? "ok" : key === "errno 22" ? "einval" : key;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    }
  } finally {
    await racer.stop();
  }
  // Only the two outcomes of the two values the device may have copied.
  assert.deepEqual([...outcomes.keys()].sort(), ["einval", "ok"], JSON.stringify([...outcomes]));
  assert.ok((outcomes.get("einval") ?? 0) >= EACH_WAY, "the writer ran beside the device");
  // The file: at most offset 1 MiB + 8 (a good size at the bad offset), never 64 KiB of anything.
  const size = fs.stat("f").size;
  assert.ok(size === GOOD || size === (1 << 20) + GOOD, `file size ${size}`);
  assert.equal(device.server.openHandles, 1);
});
