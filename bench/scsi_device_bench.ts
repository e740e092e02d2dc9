// virtio-scsi device model against virtio-blk on the same storage (issue 14's
// benchmark): 32 READ(10)s of 4 KiB per iteration through the scsi device's
// request queue, and 32 VIRTIO_BLK_T_IN of 4 KiB through the blk device, both
// served from split queues in memory over one MemoryStorage. The blk line is
// the baseline: `deno bench` prints the scsi line's cost relative to it.
//
// Run: deno bench bench/scsi_device_bench.ts

import type { DeviceContext } from "../src/device.ts";
import { BlkDevice, MemoryStorage } from "../src/devices/blk/mod.ts";
import { ScsiDevice } from "../src/devices/scsi/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../src/generated/common.ts";
import { VIRTIO_BLK_T_IN, VirtioBlkOuthdr } from "../src/generated/devices/blk.ts";
import { VirtioScsiCmdReqHdr, VirtioScsiCmdRespHdr } from "../src/generated/devices/scsi.ts";
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
const mem = 8 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(mem));
const alloc = new DmaAllocator(0x1000, mem - 0x1000);
const features = 1n << BigInt(VIRTIO_F_VERSION_1);
const storage = new MemoryStorage(new Uint8Array(16 << 20));
const ctxFor = (queues: DeviceContext["queues"]): DeviceContext => ({
  memory,
  features,
  queues,
  notifyUsed: () => {},
  configChanged: () => {},
  needsReset: (e) => {
    throw e;
  },
});

// blk: header, 4 KiB, status.
const blkOpts = queueOptionsFromFeatures(features, 0);
const blkAddrs = allocateQueue(alloc, 128, false);
const blkDriver = createDriverQueue<number>(memory, blkAddrs, blkOpts);
const blk = new BlkDevice({ storage, queueSize: 128, packed: false });
blk.activate(ctxFor([createDeviceQueue(memory, blkAddrs, blkOpts)]));
const blkReqs: { out: Sg[]; in: Sg[] }[] = [];
for (let i = 0; i < PER_ITER; i++) {
  const hdr = alloc.alloc(VirtioBlkOuthdr.SIZE, 16);
  const h = new VirtioBlkOuthdr(memory.view(hdr, VirtioBlkOuthdr.SIZE));
  h.type = VIRTIO_BLK_T_IN;
  h.sector = i * 8;
  blkReqs.push({
    out: [{ addr: hdr, len: VirtioBlkOuthdr.SIZE }],
    in: [{ addr: alloc.alloc(BLOCK, 64), len: BLOCK }, { addr: alloc.alloc(1, 1), len: 1 }],
  });
}

// scsi: header + 32-byte CDB, response + 96-byte sense, 4 KiB.
const scsiOpts = queueOptionsFromFeatures(features, 2);
const scsiAddrs = allocateQueue(alloc, 128, false);
const scsiDriver = createDriverQueue<number>(memory, scsiAddrs, scsiOpts);
const scsi = new ScsiDevice({ luns: [{ lun: 0, storage }], queueSize: 128, packed: false });
scsi.activate(ctxFor([undefined, undefined, createDeviceQueue(memory, scsiAddrs, scsiOpts)]));
const REQ = VirtioScsiCmdReqHdr.SIZE + 32;
const RESP = VirtioScsiCmdRespHdr.SIZE + 96;
const scsiReqs: { out: Sg[]; in: Sg[] }[] = [];
for (let i = 0; i < PER_ITER; i++) {
  const req = alloc.alloc(REQ, 16);
  const b = memory.bytes(req, REQ);
  b.set([1, 0, 0x40, 0]); // target 0, LUN 0
  const lba = i * 8;
  b.set([0x28, 0, 0, 0, lba >> 8, lba & 0xff, 0, 0, 8, 0], VirtioScsiCmdReqHdr.SIZE); // READ(10)
  scsiReqs.push({
    out: [{ addr: req, len: REQ }],
    in: [{ addr: alloc.alloc(RESP, 16), len: RESP }, { addr: alloc.alloc(BLOCK, 64), len: BLOCK }],
  });
}

function round(
  driver: typeof blkDriver,
  reqs: { out: Sg[]; in: Sg[] }[],
  notify: () => void,
): void {
  for (let i = 0; i < PER_ITER; i++) driver.addSgs(reqs[i].out, reqs[i].in, i);
  driver.kick();
  notify();
  let n = 0;
  while (driver.getBuf() !== null) n++;
  if (n !== PER_ITER) throw new Error(`${n} of ${PER_ITER} completed`);
}

Deno.bench({
  name: "blk: 32 reads of 4 KiB",
  group: "4 KiB reads, device model",
  baseline: true,
  fn: () => round(blkDriver, blkReqs, () => blk.queueNotify(0)),
});

Deno.bench({
  name: "scsi: 32 READ(10)s of 4 KiB",
  group: "4 KiB reads, device model",
  fn: () => round(scsiDriver, scsiReqs, () => scsi.queueNotify(2)),
});
