// virtio-gpu device model: what a frame costs. One TRANSFER_TO_HOST_2D of a whole 1024x768
// XRGB8888 frame (3 MiB) through the controlq, from a backing of 768 scatter-list entries of
// 4 KiB (as Linux attaches shmem pages), against the baseline of one plain copy of the same
// 3 MiB out of guest memory: the ratio is the device's overhead per frame (request parsing,
// row-by-row copies across entries). A second group does what fbcon does per character: a
// 8x16 rectangle transferred and flushed, against one request the device answers at once
// (GET_DISPLAY_INFO) as the baseline.
//
// Run: deno bench bench/gpu_bench.ts

import type { DeviceContext } from "../src/device.ts";
import { GpuDevice } from "../src/devices/gpu/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../src/generated/common.ts";
import {
  VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
  VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
  VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
  VIRTIO_GPU_CMD_RESOURCE_FLUSH,
  VIRTIO_GPU_CMD_SET_SCANOUT,
  VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
  VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
  VirtioGpuCtrlHdr,
  VirtioGpuMemEntry,
  VirtioGpuResourceAttachBacking,
  VirtioGpuResourceCreate2d,
  VirtioGpuResourceFlush,
  VirtioGpuRespDisplayInfo,
  VirtioGpuSetScanout,
  VirtioGpuTransferToHost2d,
} from "../src/generated/devices/gpu.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../src/virtqueue/mod.ts";

const W = 1024, H = 768, FRAME = W * H * 4, PAGE = 4096;
const MEM = 16 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const alloc = new DmaAllocator(0x1000, MEM - 0x1000);
const features = 1n << BigInt(VIRTIO_F_VERSION_1);
const opts = queueOptionsFromFeatures(features, 0);
const addrs = allocateQueue(alloc, 64, false);
const driver = createDriverQueue<number>(memory, addrs, opts);
const device = new GpuDevice({ scanouts: [{ width: W, height: H }], queueSize: 64 });
const ctx: DeviceContext = {
  memory,
  features,
  queues: [createDeviceQueue(memory, addrs, opts), undefined],
  notifyUsed: () => {},
  configChanged: () => {},
  needsReset: (e) => {
    throw e;
  },
};
device.activate(ctx);
const reqAt = alloc.alloc(64 * 1024, 16);
const respAt = alloc.alloc(VirtioGpuRespDisplayInfo.SIZE, 16);

/** Writes `req` into guest memory, serves it, and checks the response is `ok`. */
function send(req: Uint8Array, respLen = VirtioGpuCtrlHdr.SIZE): void {
  memory.write(reqAt, req);
  driver.addSgs([{ addr: reqAt, len: req.length }], [{ addr: respAt, len: respLen }], 0);
  driver.kick();
  device.queueNotify(0);
  driver.getBuf();
  const type = new VirtioGpuCtrlHdr(memory.view(respAt, VirtioGpuCtrlHdr.SIZE)).type;
  if (type !== 0x1100 && type !== 0x1101) throw new Error(`response 0x${type.toString(16)}`);
}

function request<A extends { readonly hdr: VirtioGpuCtrlHdr }>(
  accessor: { new (v: DataView): A; readonly SIZE: number },
  type: number,
  fill: (a: A) => void,
  extra = 0,
): Uint8Array {
  const b = new Uint8Array(accessor.SIZE + extra);
  const a = new accessor(new DataView(b.buffer));
  a.hdr.type = type;
  fill(a);
  return b;
}

// The framebuffer: a resource with 768 page-sized entries of backing, shown on scanout 0.
const fb = alloc.alloc(FRAME, PAGE);
memory.bytes(fb, FRAME).fill(0x5a);
send(request(VirtioGpuResourceCreate2d, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, (a) => {
  a.resourceId = 1;
  a.format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;
  a.width = W;
  a.height = H;
}));
const n = FRAME / PAGE;
const attach = request(
  VirtioGpuResourceAttachBacking,
  VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
  (a) => {
    a.resourceId = 1;
    a.nrEntries = n;
  },
  n * VirtioGpuMemEntry.SIZE,
);
const entry = new VirtioGpuMemEntry(new DataView(attach.buffer));
for (let i = 0; i < n; i++) {
  entry.at(VirtioGpuResourceAttachBacking.SIZE + i * VirtioGpuMemEntry.SIZE).write(
    fb + i * PAGE,
    PAGE,
    0,
  );
}
send(attach);
send(request(VirtioGpuSetScanout, VIRTIO_GPU_CMD_SET_SCANOUT, (a) => {
  a.resourceId = 1;
  a.r.write(0, 0, W, H);
}));

const fullTransfer = request(VirtioGpuTransferToHost2d, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, (a) => {
  a.resourceId = 1;
  a.r.write(0, 0, W, H);
});
const glyphTransfer = request(
  VirtioGpuTransferToHost2d,
  VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
  (a) => {
    a.resourceId = 1;
    a.r.write(80, 32, 8, 16);
    a.resourceOffset = BigInt(32 * W * 4 + 80 * 4);
  },
);
const glyphFlush = request(VirtioGpuResourceFlush, VIRTIO_GPU_CMD_RESOURCE_FLUSH, (a) => {
  a.resourceId = 1;
  a.r.write(80, 32, 8, 16);
});
const displayInfo = new Uint8Array(VirtioGpuCtrlHdr.SIZE);
new VirtioGpuCtrlHdr(new DataView(displayInfo.buffer)).type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO;
const host = new Uint8Array(FRAME);

Deno.bench({
  name: "baseline: copy 3 MiB out of guest memory",
  group: "a 1024x768 frame",
  baseline: true,
  fn: () => host.set(memory.bytes(fb, FRAME)),
});

Deno.bench({
  name: "TRANSFER_TO_HOST_2D of the frame from 768 page entries",
  group: "a 1024x768 frame",
  fn: () => send(fullTransfer),
});

Deno.bench({
  name: "baseline: GET_DISPLAY_INFO",
  group: "one request",
  baseline: true,
  fn: () => send(displayInfo, VirtioGpuRespDisplayInfo.SIZE),
});

Deno.bench({
  name: "an 8x16 glyph: TRANSFER_TO_HOST_2D + RESOURCE_FLUSH",
  group: "one request",
  fn: () => {
    send(glyphTransfer);
    send(glyphFlush);
  },
});
