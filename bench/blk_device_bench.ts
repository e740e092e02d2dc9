// virtio-blk device model alone: how much the request path costs per request
// (the header and segment copies of the device, the ring work), served from a
// split queue in memory with a MemoryStorage, against the floor of the same
// bytes copied by hand, in the same run. Each iteration serves 32 requests:
// 4 KiB reads, or write zeroes of 8 segments of 8 sectors. `deno bench`
// prints each line's cost relative to its group's baseline; compare that
// ratio between two trees to see what a change of the request path costs.
//
// Run: deno bench bench/blk_device_bench.ts

import type { DeviceContext } from "../src/device.ts";
import { BlkDevice, MemoryStorage } from "../src/devices/blk/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../src/generated/common.ts";
import {
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlkDiscardWriteZeroes,
  VirtioBlkReq,
} from "../src/generated/devices/blk.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
  type Sg,
} from "../src/virtqueue/mod.ts";

const PER_ITER = 32;
const BLOCK = 4096;
const SEGS = 8;
const IMAGE = 16 << 20;

const mem = 4 << 20;
const buffer = new ArrayBuffer(mem);
const memory = GuestMemory.fromBuffer(buffer);
const view = new DataView(buffer);
const alloc = new DmaAllocator(0x1000, mem - 0x1000);
const features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (1n << BigInt(VIRTIO_BLK_F_FLUSH)) |
  (1n << BigInt(VIRTIO_BLK_F_WRITE_ZEROES));
const opts = queueOptionsFromFeatures(features, 0);
const addrs = allocateQueue(alloc, 128, false);
const driver = createDriverQueue<number>(memory, addrs, opts);
const storage = new MemoryStorage(new Uint8Array(IMAGE));
const device = new BlkDevice({ storage, queueSize: 128, packed: false });
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

// Request i: header at hdr[i], 4 KiB of data (or SEGS segments) at data[i], status at st[i].
const HDR = VirtioBlkReq.OFFSETS.data;
const hdr: number[] = [];
const data: number[] = [];
const st: number[] = [];
for (let i = 0; i < PER_ITER; i++) {
  hdr.push(alloc.alloc(HDR, 16));
  data.push(alloc.alloc(BLOCK, 64));
  st.push(alloc.alloc(1, 1));
}
const sectors = Array.from({ length: PER_ITER }, (_, i) => ((i * 977) % (IMAGE / BLOCK)) * 8);

function fill(type: number): [Sg[], Sg[]][] {
  return hdr.map((h, i) => {
    view.setUint32(h + VirtioBlkReq.OFFSETS.type, type, true);
    view.setUint32(h + VirtioBlkReq.OFFSETS.reserved, 0, true);
    view.setBigUint64(h + VirtioBlkReq.OFFSETS.sector, BigInt(sectors[i]), true);
    if (type === VIRTIO_BLK_T_IN) {
      return [[{ addr: h, len: HDR }], [{ addr: data[i], len: BLOCK }, { addr: st[i], len: 1 }]];
    }
    const O = VirtioBlkDiscardWriteZeroes.OFFSETS;
    for (let s = 0; s < SEGS; s++) {
      const at = data[i] + s * VirtioBlkDiscardWriteZeroes.SIZE;
      view.setBigUint64(at + O.sector, BigInt(sectors[i] + s * 8), true);
      view.setUint32(at + O.numSectors, 8, true);
      view.setUint32(at + O.flags, 0, true);
    }
    const len = SEGS * VirtioBlkDiscardWriteZeroes.SIZE;
    return [[{ addr: h, len: HDR }, { addr: data[i], len }], [{ addr: st[i], len: 1 }]];
  });
}

function serve(reqs: [Sg[], Sg[]][]): void {
  for (let i = 0; i < PER_ITER; i++) driver.addSgs(reqs[i][0], reqs[i][1], i);
  driver.kick();
  device.queueNotify(0);
  for (let n = 0; n < PER_ITER; n++) {
    if (driver.getBuf() === null) throw new Error("a request did not complete");
  }
}

const reads = fill(VIRTIO_BLK_T_IN);
const zeroes = fill(VIRTIO_BLK_T_WRITE_ZEROES);
const guest = memory.bytes(data[0], BLOCK);

Deno.bench("read: floor, 32 x 4 KiB copied by hand", { group: "read", baseline: true }, () => {
  for (let i = 0; i < PER_ITER; i++) storage.read(sectors[i] * 512, guest);
});
Deno.bench("read: 32 x 4 KiB through the device model", { group: "read" }, () => serve(reads));

Deno.bench("zeroes: floor, 32 x 8 ranges filled by hand", {
  group: "zeroes",
  baseline: true,
}, () => {
  for (let i = 0; i < PER_ITER; i++) {
    for (let s = 0; s < SEGS; s++) storage.writeZeroes((sectors[i] + s * 8) * 512, BLOCK, false);
  }
});
Deno.bench(
  "zeroes: 32 x 8 ranges through the device model",
  { group: "zeroes" },
  () => serve(zeroes),
);
