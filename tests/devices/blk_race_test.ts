// virtio-blk against a racing writer (issue 18, defect 3): guest memory in a
// SharedArrayBuffer and a worker (_racer_worker.ts) that keeps rewriting a
// field of the request while the device serves it. The device must read each
// guest-controlled value once, check it and use that copy: whatever the
// writer does, nothing outside the range the device checked is touched, and
// the image never grows past the capacity. Deno only (a Web Worker).

import assert from "node:assert/strict";
import { BlkDevice, type BlockStorage } from "../../src/devices/blk/mod.ts";
import type { DeviceContext } from "../../src/device.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlkDiscardWriteZeroes,
  VirtioBlkOuthdr,
} from "../../src/generated/devices/blk.ts";
import type { RacerJob } from "./_racer_worker.ts";
import { startRacer } from "./_race.ts";

const SECTOR = 512;
/** The image: 128 sectors, every byte 0xa5. */
const IMAGE_SECTORS = 128;
/** The one sector the requests name when the writer has not changed them. */
const TARGET = 100;
/** Requests that must end each way (OK: the good value was read; IOERR: the bad one) before the test ends. */
const EACH_WAY = 50_000;

/**
 * Storage that behaves like an image file: a write or a write zeroes past
 * its end makes it longer. It records every call that touches bytes outside
 * `allowed` (the range the request named before the writer changed it).
 */
class FileLikeStorage implements BlockStorage {
  bytes = new Uint8Array(IMAGE_SECTORS * SECTOR).fill(0xa5);
  stray: string[] = [];
  constructor(readonly allowed: readonly [number, number]) {}
  get size(): number {
    return this.bytes.length;
  }
  #touch(what: string, offset: number, length: number): void {
    if (offset < this.allowed[0] || offset + length > this.allowed[1]) {
      this.stray.push(`${what} ${offset}+${length}`);
    }
    if (offset + length > this.bytes.length) {
      const grown = new Uint8Array(offset + length);
      grown.set(this.bytes);
      this.bytes = grown;
    }
  }
  read(offset: number, dst: Uint8Array): void {
    this.#touch("read", offset, dst.length);
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }
  write(offset: number, src: Uint8Array): void {
    this.#touch("write", offset, src.length);
    this.bytes.set(src, offset);
  }
  flush(): void {}
  discard(offset: number, length: number): void {
    this.#touch("discard", offset, length);
    this.bytes.fill(0, offset, offset + length);
  }
  writeZeroes(offset: number, length: number): void {
    this.#touch("write zeroes", offset, length);
    this.bytes.fill(0, offset, offset + length);
  }
}

interface RaceCase {
  /** Request type. */
  type: number;
  /** The field the writer flips: "numSectors" or "sector" of the segment, or the header's "sector". */
  field: "numSectors" | "sector" | "header.sector";
  /** The value the request is built with (inside the capacity) and the one the writer puts in. */
  good: number;
  bad: number;
}

/**
 * Serves one request again and again while the writer flips `c.field`
 * between `c.good` and `c.bad`, until the device has ended it EACH_WAY
 * times with OK (it read the good value) and with IOERR (the bad one),
 * which shows the writer really ran beside it (counted in requests, not in
 * time), or until a request touched a stray byte.
 */
async function race(c: RaceCase) {
  const sab = new SharedArrayBuffer(1 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (1 << 20) - 0x1000);
  const features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (1n << BigInt(VIRTIO_BLK_F_FLUSH)) |
    (1n << BigInt(VIRTIO_BLK_F_DISCARD)) | (1n << BigInt(VIRTIO_BLK_F_WRITE_ZEROES));
  const opts = queueOptionsFromFeatures(features, 0);
  const addrs = allocateQueue(alloc, 16, false);
  const driver = createDriverQueue<number>(memory, addrs, opts);
  const storage = new FileLikeStorage([TARGET * SECTOR, (TARGET + 1) * SECTOR]);
  const device = new BlkDevice({ storage });
  const ctx: DeviceContext = {
    memory,
    features,
    queues: [createDeviceQueue(memory, addrs, opts)],
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => {
      throw e;
    },
  };
  device.activate(ctx);

  // One request, built once: header, one segment (or 512 bytes of data for IN), status.
  const hdrAt = alloc.alloc(VirtioBlkOuthdr.SIZE, 16);
  const segAt = alloc.alloc(SECTOR, 16);
  const statusAt = alloc.alloc(1, 1);
  const view = new DataView(sab);
  const hdr = new VirtioBlkOuthdr(view, hdrAt);
  hdr.type = c.type;
  const dwz = c.type !== VIRTIO_BLK_T_IN;
  hdr.sector = dwz ? 0 : c.good;
  const fields: RacerJob["fields"] = [];
  if (dwz) {
    const seg = new VirtioBlkDiscardWriteZeroes(view, segAt);
    seg.sector = c.field === "sector" ? c.good : TARGET;
    seg.numSectors = c.field === "numSectors" ? c.good : 1;
    seg.flags = 0;
    const at = segAt +
      VirtioBlkDiscardWriteZeroes.OFFSETS[c.field === "sector" ? "sector" : "numSectors"];
    fields.push({ addr: at, a: c.good, b: c.bad });
  } else {
    fields.push({ addr: hdrAt + VirtioBlkOuthdr.OFFSETS.sector, a: c.good, b: c.bad });
  }
  const out = dwz
    ? [{ addr: hdrAt, len: VirtioBlkOuthdr.SIZE }, {
      addr: segAt,
      len: VirtioBlkDiscardWriteZeroes.SIZE,
    }]
    : [{ addr: hdrAt, len: VirtioBlkOuthdr.SIZE }];
  const inp = dwz
    ? [{ addr: statusAt, len: 1 }]
    : [{ addr: segAt, len: SECTOR }, { addr: statusAt, len: 1 }];

  const racer = await startRacer(sab, fields);

  const statuses = new Map<number, number>();
  let requests = 0;
  try {
    // Until the writer's race showed both ways many times (so it really ran beside the device),
    // with a cap so that a writer that never gets a core cannot hang the test.
    const count = (status: number) => statuses.get(status) ?? 0;
    while (
      storage.stray.length === 0 && requests < 2_000_000 &&
      (count(VIRTIO_BLK_S_OK) < EACH_WAY || count(VIRTIO_BLK_S_IOERR) < EACH_WAY)
    ) {
      memory.writeUint8(statusAt, 0xff);
      driver.addSgs(out, inp, requests);
      driver.kick();
      device.queueNotify(0);
      assert.equal(driver.getBuf()?.token, requests);
      const s = memory.readUint8(statusAt);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
      requests++;
    }
  } finally {
    await racer.stop();
  }
  return { storage, statuses, requests };
}

function assertContained(r: Awaited<ReturnType<typeof race>>) {
  assert.deepEqual(r.storage.stray, [], `after ${r.requests} requests`);
  assert.equal(r.storage.size, IMAGE_SECTORS * SECTOR, "the image grew");
  const outside = [
    ...r.storage.bytes.subarray(0, TARGET * SECTOR),
    ...r.storage.bytes.subarray((TARGET + 1) * SECTOR),
  ];
  assert.ok(outside.every((b) => b === 0xa5), "a byte outside the checked sector changed");
  // Only OK (the good value was read) or IOERR (the bad one was read) are possible.
  assert.deepEqual(
    [...r.statuses.keys()].filter((s) => s !== VIRTIO_BLK_S_OK && s !== VIRTIO_BLK_S_IOERR),
    [],
  );
  // The writer raced: the device saw each value many times.
  assert.ok(
    (r.statuses.get(VIRTIO_BLK_S_OK) ?? 0) >= EACH_WAY,
    "the writer never ran beside the device",
  );
  assert.ok(
    (r.statuses.get(VIRTIO_BLK_S_IOERR) ?? 0) >= EACH_WAY,
    "the writer never ran beside the device",
  );
}

Deno.test("blk race: WRITE_ZEROES num_sectors rewritten while served never reaches past the capacity", async () => {
  // 1 sector at 100 is inside; 60 sectors at 100 end at 160, past the 128 of the image.
  assertContained(
    await race({ type: VIRTIO_BLK_T_WRITE_ZEROES, field: "numSectors", good: 1, bad: 60 }),
  );
});

Deno.test("blk race: DISCARD num_sectors rewritten while served never reaches past the capacity", async () => {
  assertContained(
    await race({ type: VIRTIO_BLK_T_DISCARD, field: "numSectors", good: 1, bad: 60 }),
  );
});

Deno.test("blk race: WRITE_ZEROES sector rewritten while served never touches another range", async () => {
  assertContained(
    await race({ type: VIRTIO_BLK_T_WRITE_ZEROES, field: "sector", good: TARGET, bad: 1000 }),
  );
});

Deno.test("blk race: an IN header's sector rewritten while served reads only the checked sector", async () => {
  assertContained(
    await race({ type: VIRTIO_BLK_T_IN, field: "header.sector", good: TARGET, bad: 1000 }),
  );
});
