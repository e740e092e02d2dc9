// virtio-scsi against a racing writer: guest memory in a SharedArrayBuffer and a
// worker (_racer_worker.ts) that keeps rewriting a field of the request while the
// device serves it again and again. The device copies the request header and CDB
// once (and the target the UNMAP parameter list once), checks the copy and uses
// only it: whatever the writer does, no byte outside the block the request named
// is touched, and every request ends GOOD or CHECK CONDITION. Deno only (a Web
// Worker).

import assert from "node:assert/strict";
import type { BlockStorage } from "../../src/devices/blk/storage.ts";
import { ScsiDevice } from "../../src/devices/scsi/mod.ts";
import type { DeviceContext } from "../../src/device.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import type { RacerJob } from "./_racer_worker.ts";
import { startRacer } from "./_race.ts";

const BLOCK = 512;
const BLOCKS = 128;
const TARGET = 100;
const EACH_WAY = 20_000;
// 5.6.6.1 sizes: header 19 bytes + 32-byte CDB readable; 12-byte response + 96 sense writable.
const REQ = 19 + 32;
const RESP = 12 + 96;
const GOOD = 0, CHECK_CONDITION = 2;

/** Storage that records every call outside block TARGET, and grows like a file when written past its end. */
class FileLikeStorage implements BlockStorage {
  bytes = new Uint8Array(BLOCKS * BLOCK).fill(0xa5);
  stray: string[] = [];
  get size(): number {
    return BLOCKS * BLOCK;
  }
  #touch(what: string, offset: number, length: number): void {
    if (offset < TARGET * BLOCK || offset + length > (TARGET + 1) * BLOCK) {
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
}

/** A big-endian 32-bit value as the le32 the racer writes (it stores little-endian words). */
function beAsLe32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

async function race(kind: "write10" | "unmap") {
  const sab = new SharedArrayBuffer(1 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (1 << 20) - 0x1000);
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const opts = queueOptionsFromFeatures(features, 2);
  const addrs = allocateQueue(alloc, 16, false);
  const driver = createDriverQueue<number>(memory, addrs, opts);
  const storage = new FileLikeStorage();
  const device = new ScsiDevice({ luns: [{ lun: 0, storage }] });
  const ctx: DeviceContext = {
    memory,
    features,
    queues: [undefined, undefined, createDeviceQueue(memory, addrs, opts)],
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => {
      throw e;
    },
  };
  device.activate(ctx);

  // The request, built once. The CDB's LBA (bytes 2-5) must sit on a 4-byte boundary for
  // the racer: the header starts 3 bytes past one (19 + 2 = 21).
  const reqAt = alloc.alloc(REQ + 8, 8) + 3;
  const dataAt = alloc.alloc(BLOCK, 16);
  const respAt = alloc.alloc(RESP, 8);
  const req = memory.bytes(reqAt, REQ);
  req.set([1, 0, 0x40, 0, 0, 0, 0, 0]); // target 0, LUN 0
  const fields: RacerJob["fields"] = [];
  let out: { addr: number; len: number }[];
  if (kind === "write10") {
    // WRITE(10), 1 block at TARGET; the writer flips the LBA to 1000 (past the 128 blocks).
    req.set([0x2a, 0, 0, 0, 0, TARGET, 0, 0, 1, 0], 19);
    memory.bytes(dataAt, BLOCK).fill(0x11);
    fields.push({ addr: reqAt + 21, a: beAsLe32(TARGET), b: beAsLe32(1000) });
    out = [{ addr: reqAt, len: REQ }, { addr: dataAt, len: BLOCK }];
  } else {
    // UNMAP with one descriptor: 1 block at TARGET; the writer flips the LBA's low word to 1000.
    req.set([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], 19);
    const list = memory.bytes(dataAt, 24);
    list.set([0, 22, 0, 16, 0, 0, 0, 0]);
    list.set([0, 0, 0, 0, 0, 0, 0, TARGET, 0, 0, 0, 1, 0, 0, 0, 0], 8);
    fields.push({ addr: dataAt + 12, a: beAsLe32(TARGET), b: beAsLe32(1000) });
    out = [{ addr: reqAt, len: REQ }, { addr: dataAt, len: 24 }];
  }
  const inp = [{ addr: respAt, len: RESP }];

  const racer = await startRacer(sab, fields);
  const statuses = new Map<number, number>();
  let requests = 0;
  try {
    const count = (s: number) => statuses.get(s) ?? 0;
    while (
      storage.stray.length === 0 && requests < 1_000_000 &&
      (count(GOOD) < EACH_WAY || count(CHECK_CONDITION) < EACH_WAY)
    ) {
      memory.writeUint8(respAt + 10, 0xff);
      driver.addSgs(out, inp, requests);
      driver.kick();
      device.queueNotify(2);
      assert.equal(driver.getBuf()?.token, requests);
      // virtio_scsi_cmd_resp: response (byte 11) OK, status (byte 10) GOOD or CHECK CONDITION.
      assert.equal(memory.readUint8(respAt + 11), 0);
      const s = memory.readUint8(respAt + 10);
      statuses.set(s, count(s) + 1);
      requests++;
    }
  } finally {
    await racer.stop();
  }
  assert.deepEqual(storage.stray, [], `after ${requests} requests`);
  assert.equal(storage.bytes.length, BLOCKS * BLOCK, "the image grew");
  const outside = [
    ...storage.bytes.subarray(0, TARGET * BLOCK),
    ...storage.bytes.subarray((TARGET + 1) * BLOCK),
  ];
  assert.ok(outside.every((b) => b === 0xa5), "a byte outside the checked block changed");
  assert.deepEqual([...statuses.keys()].filter((s) => s !== GOOD && s !== CHECK_CONDITION), []);
  assert.ok(statuses.get(GOOD)! >= EACH_WAY, "the writer never ran beside the device");
  assert.ok(statuses.get(CHECK_CONDITION)! >= EACH_WAY, "the writer never ran beside the device");
}

Deno.test("scsi race: a WRITE(10) LBA rewritten while served never writes outside the checked block", async () => {
  await race("write10");
});

Deno.test("scsi race: an UNMAP descriptor rewritten while served never unmaps outside the checked block", async () => {
  await race("unmap");
});
