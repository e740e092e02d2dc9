// virtio-gpu against a hostile driver: requests a hand-built driver puts on raw controlq and
// cursorq rings. Expected responses are the spec's numbers (5.7.6.7: OK_NODATA 0x1100,
// ERR_UNSPEC 0x1200, OUT_OF_MEMORY 0x1201, INVALID_SCANOUT_ID 0x1202, INVALID_RESOURCE_ID
// 0x1203, INVALID_PARAMETER 0x1205), not the code's constants. The device never needs a
// reset for any of this, and its state stays consistent: a property test keeps a model of
// the resources a random (and mutated) command stream creates and compares host memory.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { DeviceContext } from "../../src/device.ts";
import { GpuDevice, type GpuDeviceOptions } from "../../src/devices/gpu/device.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  VirtioGpuCtrlHdr,
  VirtioGpuGetEdid,
  VirtioGpuMemEntry,
  VirtioGpuResourceAttachBacking,
  VirtioGpuResourceCreate2d,
  VirtioGpuResourceDetachBacking,
  VirtioGpuResourceFlush,
  VirtioGpuResourceUnref,
  VirtioGpuSetScanout,
  VirtioGpuTransferToHost2d,
  VirtioGpuUpdateCursor,
} from "../../src/generated/devices/gpu.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";

// 5.7.6.7 command and response codes, typed in.
const GET_DISPLAY_INFO = 0x100, CREATE_2D = 0x101, UNREF = 0x102, SET_SCANOUT = 0x103;
const FLUSH = 0x104, TRANSFER = 0x105, ATTACH = 0x106, DETACH = 0x107, GET_CAPSET_INFO = 0x108;
const GET_EDID = 0x10a, CTX_CREATE = 0x200, UPDATE_CURSOR = 0x300, MOVE_CURSOR = 0x301;
const OK = 0x1100, OK_DISPLAY_INFO = 0x1101, OK_EDID = 0x1104;
const ERR_UNSPEC = 0x1200, ERR_OOM = 0x1201, ERR_SCANOUT = 0x1202, ERR_RESOURCE = 0x1203;
const ERR_PARAM = 0x1205;
const FLAG_FENCE = 1;
const B8G8R8X8 = 2;
const MEM = 4 << 20;

interface Sent {
  /** Response type, or undefined when the device wrote nothing. */
  type: number | undefined;
  len: number;
  hdr: VirtioGpuCtrlHdr | undefined;
  bytes: Uint8Array;
}

function gpuRig(options: GpuDeviceOptions = { scanouts: [{ width: 64, height: 32 }] }) {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const alloc = new DmaAllocator(0x1000, MEM - 0x1000);
  // VIRTIO_GPU_F_EDID is feature bit 1 (5.7.3).
  const features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (1n << 1n);
  const addrs = [0, 1].map(() => allocateQueue(alloc, 64, false));
  const drv = addrs.map((a, i) =>
    createDriverQueue<number>(memory, a, queueOptionsFromFeatures(features, i))
  );
  const device = new GpuDevice({ ...options, queueSize: 64 });
  const resets: unknown[] = [];
  const ctx: DeviceContext = {
    memory,
    features,
    queues: addrs.map((a, i) =>
      createDeviceQueue(memory, a, queueOptionsFromFeatures(features, i))
    ),
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => resets.push(e),
  };
  device.activate(ctx);
  const reqBuf = alloc.alloc(64 * 1024, 16);
  const respBuf = alloc.alloc(2048, 16);
  /** Raw segments on queue `q`; the response read back from `respAt`. */
  const raw = (
    q: number,
    out: { addr: number; len: number }[],
    in_: { addr: number; len: number }[],
  ): Sent => {
    if (in_.length) memory.bytes(in_[0].addr, in_[0].len).fill(0xee);
    drv[q].addSgs(out, in_, 1);
    drv[q].kick();
    device.queueNotify(q);
    const b = drv[q].getBuf();
    assert.ok(b, "the device used the buffer");
    const bytes = in_.length ? memory.bytes(in_[0].addr, b.len).slice() : new Uint8Array(0);
    const hdr = b.len >= 24 ? new VirtioGpuCtrlHdr(new DataView(bytes.buffer)) : undefined;
    return { type: hdr?.type, len: b.len, hdr, bytes };
  };
  /** A request (bytes) on the controlq with `respLen` bytes of room for the answer. */
  const send = (req: Uint8Array, respLen = 24, q = 0): Sent => {
    memory.write(reqBuf, req);
    return raw(
      q,
      [{ addr: reqBuf, len: req.length }],
      respLen ? [{ addr: respBuf, len: respLen }] : [],
    );
  };
  return { memory, alloc, device, resets, send, raw, reqBuf, respBuf };
}

/** A request of struct `A` with header `type` (and fence `fence` if given), fields by `fill`. */
function req<A extends { readonly hdr: VirtioGpuCtrlHdr }>(
  accessor: { new (v: DataView): A; readonly SIZE: number },
  type: number,
  fill: (a: A) => void = () => {},
  extra = 0,
  fence?: bigint,
): Uint8Array {
  const b = new Uint8Array(accessor.SIZE + extra);
  const a = new accessor(new DataView(b.buffer));
  a.hdr.type = type;
  if (fence !== undefined) {
    a.hdr.flags = FLAG_FENCE;
    a.hdr.fenceId = fence;
    a.hdr.ctxId = 7;
  }
  fill(a);
  return b;
}

/** A request that is a header alone (GET_DISPLAY_INFO), with fence `fence` if given. */
function bare(type: number, fence?: bigint): Uint8Array {
  const b = new Uint8Array(VirtioGpuCtrlHdr.SIZE);
  const h = new VirtioGpuCtrlHdr(new DataView(b.buffer));
  h.type = type;
  if (fence !== undefined) {
    h.flags = FLAG_FENCE;
    h.fenceId = fence;
    h.ctxId = 7;
  }
  return b;
}

const create = (id: number, w: number, h: number, format = B8G8R8X8) =>
  req(VirtioGpuResourceCreate2d, CREATE_2D, (a) => {
    a.resourceId = id;
    a.format = format;
    a.width = w;
    a.height = h;
  });

function attach(id: number, entries: [number, number][], nr = entries.length): Uint8Array {
  const b = req(VirtioGpuResourceAttachBacking, ATTACH, (a) => {
    a.resourceId = id;
    a.nrEntries = nr;
  }, entries.length * VirtioGpuMemEntry.SIZE);
  const e = new VirtioGpuMemEntry(new DataView(b.buffer));
  entries.forEach(([addr, len], i) =>
    e.at(VirtioGpuResourceAttachBacking.SIZE + i * VirtioGpuMemEntry.SIZE).write(addr, len, 0)
  );
  return b;
}

const transfer = (id: number, x: number, y: number, w: number, h: number, offset: bigint) =>
  req(VirtioGpuTransferToHost2d, TRANSFER, (a) => {
    a.resourceId = id;
    a.r.write(x, y, w, h);
    a.resourceOffset = offset;
  });

const setScanout = (scanout: number, id: number, x: number, y: number, w: number, h: number) =>
  req(VirtioGpuSetScanout, SET_SCANOUT, (a) => {
    a.scanoutId = scanout;
    a.resourceId = id;
    a.r.write(x, y, w, h);
  });

const flush = (id: number, x: number, y: number, w: number, h: number) =>
  req(VirtioGpuResourceFlush, FLUSH, (a) => {
    a.resourceId = id;
    a.r.write(x, y, w, h);
  });

const unref = (id: number) => req(VirtioGpuResourceUnref, UNREF, (a) => (a.resourceId = id));

Deno.test("gpu hostile: fences are echoed with ctx_id; without FLAG_FENCE the flags stay 0", () => {
  const r = gpuRig();
  const fenced = r.send(bare(GET_DISPLAY_INFO, 0x1234_5678_9abcn), 408);
  assert.equal(fenced.type, OK_DISPLAY_INFO);
  assert.equal(fenced.hdr?.flags, FLAG_FENCE);
  assert.equal(fenced.hdr?.fenceId, 0x1234_5678_9abcn);
  assert.equal(fenced.hdr?.ctxId, 7);
  const plain = r.send(create(1, 4, 4));
  assert.equal(plain.type, OK);
  assert.deepEqual([plain.hdr?.flags, plain.hdr?.fenceId], [0, 0n]);
  // An error response echoes the fence too: the driver's wait ends either way.
  const err = r.send(req(VirtioGpuResourceUnref, UNREF, (a) => (a.resourceId = 99), 0, 5n));
  assert.deepEqual([err.type, err.hdr?.flags, err.hdr?.fenceId], [ERR_RESOURCE, FLAG_FENCE, 5n]);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: short requests, short response buffers, unknown and 3D commands", () => {
  const r = gpuRig();
  // Shorter than a header, and shorter than the command's struct.
  assert.equal(r.send(new Uint8Array(10)).type, ERR_PARAM);
  assert.equal(r.send(create(1, 4, 4).subarray(0, 39)).type, ERR_PARAM);
  assert.equal(r.device.resourceCount, 0, "a truncated create creates nothing");
  // No room for a header: used with nothing written.
  const none = r.send(create(1, 4, 4), 23);
  assert.equal(none.len, 0);
  assert.equal(r.device.droppedRequests, 1);
  assert.equal(r.device.resourceCount, 0, "and the command did not run");
  // Room for a header but not for the display info: ERR_UNSPEC.
  const small = r.send(bare(GET_DISPLAY_INFO), 100);
  assert.deepEqual([small.type, small.len], [ERR_UNSPEC, 24]);
  const edid = r.send(req(VirtioGpuGetEdid, GET_EDID, (a) => (a.scanout = 0)), 1000);
  assert.equal(edid.type, ERR_UNSPEC);
  // Unknown, 3D (no VIRTIO_GPU_F_VIRGL) and capset commands (num_capsets 0).
  assert.equal(r.send(bare(0xdead)).type, ERR_UNSPEC);
  assert.equal(r.send(bare(CTX_CREATE), 24).type, ERR_UNSPEC);
  assert.equal(r.send(req(VirtioGpuGetEdid, GET_CAPSET_INFO)).type, ERR_PARAM);
  // EDID of a scanout that does not exist.
  const bad = r.send(req(VirtioGpuGetEdid, GET_EDID, (a) => (a.scanout = 1)), 1056);
  assert.equal(bad.type, ERR_SCANOUT);
  const good = r.send(req(VirtioGpuGetEdid, GET_EDID, (a) => (a.scanout = 0)), 1056);
  assert.equal(good.type, OK_EDID);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: RESOURCE_CREATE_2D with bad ids, formats, sizes and past the memory limit", () => {
  const r = gpuRig({
    scanouts: [{ width: 64, height: 32 }],
    maxHostMemory: 1 << 20,
    maxResources: 3,
  });
  assert.equal(r.send(create(0, 4, 4)).type, ERR_RESOURCE, "id 0 is never a resource");
  assert.equal(r.send(create(1, 4, 4)).type, OK);
  assert.equal(r.send(create(1, 4, 4)).type, ERR_RESOURCE, "an id in use");
  assert.equal(r.send(create(2, 4, 4, 5)).type, ERR_PARAM, "format 5 is not in the spec");
  assert.equal(r.send(create(2, 0, 4)).type, ERR_PARAM);
  assert.equal(r.send(create(2, 4, 0)).type, ERR_PARAM);
  // 0xffffffff squared times 4 overflows 64 bits; it must be refused, not wrapped.
  assert.equal(r.send(create(2, 0xffffffff, 0xffffffff)).type, ERR_OOM);
  assert.equal(r.send(create(2, 0x40000000, 4)).type, ERR_OOM);
  assert.equal(r.send(create(2, 512, 512)).type, ERR_OOM, "1 MiB on top of 64 bytes");
  assert.equal(r.send(create(2, 512, 511)).type, OK, "just fits");
  assert.equal(r.device.hostMemory, 64 + 512 * 511 * 4);
  assert.equal(r.send(create(3, 1, 1)).type, OK);
  assert.equal(r.send(create(4, 1, 1)).type, ERR_OOM, "maxResources 3");
  // 5.7.6.8: an unref is hdr, resource_id and padding (32 bytes); the padding says nothing.
  const padded = req(VirtioGpuResourceUnref, UNREF, (a) => {
    a.resourceId = 2;
    a.padding = 0xffffffff;
  });
  assert.equal(padded.length, 32);
  assert.equal(r.send(padded).type, OK);
  assert.equal(r.send(unref(2)).type, ERR_RESOURCE, "unref twice");
  assert.equal(r.device.hostMemory, 64 + 4);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: RESOURCE_ATTACH_BACKING with hostile scatter lists", () => {
  const r = gpuRig();
  const page = r.alloc.alloc(4096, 4096);
  assert.equal(r.send(create(1, 16, 16)).type, OK);
  assert.equal(r.send(attach(9, [[page, 1024]])).type, ERR_RESOURCE);
  assert.equal(r.send(attach(1, [])).type, ERR_PARAM, "no entries");
  // nr_entries far beyond what follows (and beyond the limit): refused before any allocation.
  assert.equal(r.send(attach(1, [[page, 1024]], 0xffffffff)).type, ERR_PARAM);
  assert.equal(r.send(attach(1, [[page, 1024]], 16385)).type, ERR_PARAM);
  assert.equal(r.send(attach(1, [[page, 1024]], 2)).type, ERR_PARAM, "2 entries, 1 sent");
  // Entries outside guest memory, crossing its end, at 2^64 - 2^11 (not a safe integer).
  for (
    const e of [[MEM, 16], [MEM - 8, 16], [2 ** 64 - 2048, 16], [2 ** 53, 1], [page, 0xffffffff]]
  ) {
    assert.equal(r.send(attach(1, [[page, 512], e as [number, number]])).type, ERR_PARAM, `${e}`);
  }
  // Nothing was attached by any of that: a transfer has no backing.
  assert.equal(r.send(transfer(1, 0, 0, 16, 16, 0n)).type, ERR_UNSPEC);
  assert.equal(r.send(attach(1, [[page, 1024]])).type, OK);
  assert.equal(r.send(attach(1, [[page, 1024]])).type, ERR_UNSPEC, "attached twice");
  assert.equal(
    r.send(req(VirtioGpuResourceDetachBacking, DETACH, (a) => (a.resourceId = 1))).type,
    OK,
  );
  assert.equal(
    r.send(req(VirtioGpuResourceDetachBacking, DETACH, (a) => (a.resourceId = 1))).type,
    ERR_UNSPEC,
  );
  assert.equal(
    r.send(req(VirtioGpuResourceDetachBacking, DETACH, (a) => (a.resourceId = 8))).type,
    ERR_RESOURCE,
  );
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: a scatter list split across descriptors, with empty entries, transfers right", () => {
  const r = gpuRig();
  // A 16x4 resource (256 bytes) backed by four pieces in a scrambled order of guest pages.
  const pages = [0, 1, 2].map(() => r.alloc.alloc(4096, 4096));
  const pieces: [number, number][] = [[pages[2] + 100, 100], [pages[0], 0], [pages[1] + 7, 56], [
    pages[0] + 300,
    100,
  ]];
  const image = new Uint8Array(256).map((_, i) => (i * 13 + 5) & 0xff);
  let o = 0;
  for (const [a, n] of pieces) (r.memory.write(a, image.subarray(o, o + n)), o += n);
  assert.equal(r.send(create(1, 16, 4, 67)).type, OK); // R8G8B8A8: bytes are R, G, B, A
  // The request header in one descriptor, the entries in another.
  const body = attach(1, pieces);
  r.memory.write(r.reqBuf, body);
  const split = r.raw(0, [
    { addr: r.reqBuf, len: VirtioGpuResourceAttachBacking.SIZE },
    {
      addr: r.reqBuf + VirtioGpuResourceAttachBacking.SIZE,
      len: body.length - VirtioGpuResourceAttachBacking.SIZE,
    },
  ], [{ addr: r.respBuf, len: 24 }]);
  assert.equal(split.type, OK);
  assert.equal(r.send(setScanout(0, 1, 0, 0, 16, 4)).type, OK);
  assert.equal(r.send(transfer(1, 0, 0, 16, 4, 0n)).type, OK);
  assert.deepEqual(
    r.device.scanouts[0].rgba(),
    image,
    "the resource holds the bytes in list order",
  );
  // The backing ends at 256 bytes: one byte more, anywhere, is refused and changes nothing.
  assert.equal(r.send(transfer(1, 0, 0, 16, 4, 1n)).type, ERR_PARAM);
  assert.equal(r.send(transfer(1, 1, 3, 15, 1, 256n - 60n + 1n)).type, ERR_PARAM);
  assert.equal(r.send(transfer(1, 1, 3, 15, 1, 256n - 60n)).type, OK);
  assert.equal(r.send(transfer(1, 0, 0, 1, 1, 0xffffffffffffffffn)).type, ERR_PARAM);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: rectangles that overflow 32 bits or leave the resource", () => {
  const r = gpuRig({ scanouts: [{ width: 64, height: 32 }, { width: 64, height: 32 }] });
  const page = r.alloc.alloc(64 * 32 * 4, 4096);
  assert.equal(r.send(create(1, 64, 32)).type, OK);
  assert.equal(r.send(attach(1, [[page, 64 * 32 * 4]])).type, OK);
  for (
    const [x, y, w, h] of [[0xffffffff, 0, 2, 1], [1, 0, 64, 1], [0, 0xfffffff0, 1, 0x20], [
      0,
      31,
      1,
      2,
    ], [0, 0, 65, 1]]
  ) {
    assert.equal(
      r.send(transfer(1, x, y, w, h, 0n)).type,
      ERR_PARAM,
      `transfer ${x},${y} ${w}x${h}`,
    );
    assert.equal(r.send(flush(1, x, y, w, h)).type, ERR_PARAM, `flush ${x},${y} ${w}x${h}`);
    assert.equal(
      r.send(setScanout(0, 1, x, y, w, h)).type,
      ERR_PARAM,
      `scanout ${x},${y} ${w}x${h}`,
    );
  }
  assert.equal(r.send(setScanout(0, 1, 0, 0, 0, 0)).type, ERR_PARAM, "an empty scanout rectangle");
  assert.equal(r.send(setScanout(2, 1, 0, 0, 8, 8)).type, ERR_SCANOUT);
  assert.equal(r.send(setScanout(0xffffffff, 1, 0, 0, 8, 8)).type, ERR_SCANOUT);
  assert.equal(r.send(setScanout(0, 5, 0, 0, 8, 8)).type, ERR_RESOURCE);
  assert.equal(r.send(flush(5, 0, 0, 1, 1)).type, ERR_RESOURCE);
  assert.equal(r.send(transfer(5, 0, 0, 1, 1, 0n)).type, ERR_RESOURCE);
  // None of it showed anything; a good scanout, then resource 0 turns it off.
  assert.equal(r.device.scanouts[0].resourceId, 0);
  assert.equal(r.send(setScanout(1, 1, 0, 0, 64, 32)).type, OK);
  assert.equal(r.device.scanouts[1].resourceId, 1);
  assert.equal(r.send(setScanout(1, 0, 0, 0, 0, 0)).type, OK);
  assert.equal(r.device.scanouts[1].resourceId, 0);
  assert.equal(r.device.scanouts[1].png(), undefined);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: cursor commands with bad scanouts and resources change nothing", () => {
  const r = gpuRig();
  const cursor = (type: number, scanout: number, id: number) =>
    req(VirtioGpuUpdateCursor, type, (a) => {
      a.pos.scanoutId = scanout;
      a.pos.x = 5;
      a.pos.y = 6;
      a.resourceId = id;
    });
  assert.equal(r.send(create(1, 64, 64)).type, OK);
  assert.equal(r.send(create(2, 32, 32)).type, OK);
  // Linux sends cursor commands with no response buffer; ours may add one.
  assert.equal(r.send(cursor(UPDATE_CURSOR, 0, 2), 0, 1).len, 0);
  assert.equal(r.device.cursor.resourceId, 0, "32x32 is not a cursor");
  assert.equal(r.send(cursor(UPDATE_CURSOR, 0, 3), 24, 1).type, ERR_PARAM, "no resource 3");
  assert.equal(r.send(cursor(MOVE_CURSOR, 4, 0), 24, 1).type, ERR_PARAM, "no scanout 4");
  assert.equal(r.send(cursor(UPDATE_CURSOR, 0, 1).subarray(0, 40), 24, 1).type, ERR_PARAM);
  assert.equal(r.send(cursor(0x1234, 0, 1), 24, 1).type, ERR_PARAM);
  assert.deepEqual([r.device.cursor.x, r.device.cursor.y, r.device.cursor.resourceId], [0, 0, 0]);
  assert.equal(r.send(cursor(UPDATE_CURSOR, 0, 1), 24, 1).type, OK);
  assert.deepEqual([r.device.cursor.x, r.device.cursor.y, r.device.cursor.resourceId], [5, 6, 1]);
  assert.equal(r.resets.length, 0);
});

Deno.test("gpu hostile: random and mutated command streams keep the device consistent", () => {
  const types = [CREATE_2D, UNREF, ATTACH, DETACH, SET_SCANOUT, TRANSFER, FLUSH, GET_DISPLAY_INFO];
  // Each mutation hits one command in three, so most streams also build state to check.
  const mutation = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: fc.constant(null), weight: 2 }, { arbitrary: arb, weight: 1 });
  // A width, height or length: mostly near the 64x32 scanout, else hostile.
  const size = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 80 }), weight: 4 },
    { arbitrary: fc.constant(0xffffffff), weight: 1 },
    { arbitrary: fc.nat(), weight: 1 },
  );
  const command = fc.record({
    type: fc.constantFrom(...types),
    id: fc.integer({ min: 0, max: 5 }),
    a: size,
    b: size,
    c: fc.integer({ min: 0, max: 70 }),
    d: fc.integer({ min: 0, max: 70 }),
    format: fc.constantFrom(1, 2, 3, 4, 67, 68, 121, 134, 0, 5),
    // Mutations: truncate the request, flip a byte.
    cut: mutation(fc.nat({ max: 60 })),
    flip: mutation(fc.tuple(fc.nat({ max: 60 }), fc.integer({ min: 1, max: 255 }))),
  });
  // How often the model changed: a run that never creates and unrefs checks nothing of it.
  const accepted = { creates: 0, unrefs: 0, mutated: 0 };
  fc.assert(
    fc.property(fc.array(command, { maxLength: 40, size: "max" }), (cmds) => {
      const r = gpuRig({ scanouts: [{ width: 64, height: 32 }], maxHostMemory: 64 * 1024 });
      const page = r.alloc.alloc(64 * 1024, 4096);
      const model = new Map<number, number>(); // id -> bytes, for creates the device accepted
      for (const c of cmds) {
        let body: Uint8Array;
        switch (c.type) {
          case CREATE_2D:
            body = create(c.id, c.a, c.b, c.format);
            break;
          case UNREF:
            body = unref(c.id);
            break;
          case ATTACH:
            body = attach(c.id, [[page + c.c, c.a * 4], [page + 32768, c.b]]);
            break;
          case DETACH:
            body = req(VirtioGpuResourceDetachBacking, DETACH, (q) => (q.resourceId = c.id));
            break;
          case SET_SCANOUT:
            body = setScanout(c.c % 2, c.id, c.c, c.d, c.a, c.b);
            break;
          case TRANSFER:
            body = transfer(c.id, c.c, c.d, c.a, c.b, BigInt(c.c * 7));
            break;
          case FLUSH:
            body = flush(c.id, c.c, c.d, c.a, c.b);
            break;
          default:
            body = bare(GET_DISPLAY_INFO);
        }
        body = body.slice(0, c.cut ?? body.length);
        if (c.flip && c.flip[0] < body.length) body[c.flip[0]] ^= c.flip[1];
        const hdr = body.length >= 24 ? new VirtioGpuCtrlHdr(new DataView(body.buffer)) : undefined;
        const sentType = hdr?.type;
        // The model reads what the device read: a create's fields from its 40-byte struct, an
        // unref's resource_id from its 32-byte one (5.7.6.8: hdr, resource_id, padding).
        const q = body.length >= VirtioGpuResourceCreate2d.SIZE
          ? new VirtioGpuResourceCreate2d(new DataView(body.buffer))
          : undefined;
        const u = body.length >= VirtioGpuResourceUnref.SIZE
          ? new VirtioGpuResourceUnref(new DataView(body.buffer))
          : undefined;
        const got = r.send(body, 408);
        if (c.cut !== null || c.flip !== null) accepted.mutated++;
        assert.ok(got.type !== undefined);
        assert.ok(
          [OK, OK_DISPLAY_INFO, ERR_UNSPEC, ERR_OOM, ERR_SCANOUT, ERR_RESOURCE, ERR_PARAM].includes(
            got.type,
          ),
          `response 0x${got.type.toString(16)}`,
        );
        if (got.type === OK && sentType === CREATE_2D && q) {
          model.set(q.resourceId, q.width * q.height * 4);
          accepted.creates++;
        }
        if (got.type === OK && sentType === UNREF && u) {
          model.delete(u.resourceId);
          accepted.unrefs++;
        }
      }
      assert.equal(r.resets.length, 0);
      assert.equal(r.device.resourceCount, model.size);
      assert.equal(r.device.hostMemory, [...model.values()].reduce((a, b) => a + b, 0));
      assert.ok(r.device.hostMemory <= 64 * 1024);
    }),
    // A fixed seed, as CI's other properties: the run that found the model's unref bug.
    { numRuns: 100, seed: 831538774 },
  );
  // With this seed: 42 creates and 12 unrefs accepted, 996 of 1779 commands mutated.
  assert.ok(
    accepted.creates > 0 && accepted.unrefs > 0 && accepted.mutated > 0,
    JSON.stringify(accepted),
  );
});
