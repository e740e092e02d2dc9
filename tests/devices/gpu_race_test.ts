// virtio-gpu against a racing writer: guest memory in a SharedArrayBuffer and a worker
// (_racer_worker.ts) that keeps rewriting a field of a request while the device serves it
// again and again. The device copies each request (and a scatter list) once, checks the copy
// and uses only it: whatever the writer does, every response is the one the copy it checked
// deserves (OK or INVALID_PARAMETER, 5.7.6.7: 0x1100 / 0x1205), never ERR_UNSPEC from a
// copy that went out of bounds, and an accepted scatter list never points outside guest
// memory. Deno only (a Web Worker).

import assert from "node:assert/strict";
import type { DeviceContext } from "../../src/device.ts";
import { GpuDevice } from "../../src/devices/gpu/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  VirtioGpuCtrlHdr,
  VirtioGpuMemEntry,
  VirtioGpuRect,
  VirtioGpuResourceAttachBacking,
  VirtioGpuResourceCreate2d,
  VirtioGpuResourceDetachBacking,
  VirtioGpuTransferToHost2d,
} from "../../src/generated/devices/gpu.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { startRacer } from "./_race.ts";

const OK = 0x1100, ERR_PARAM = 0x1205;
const CREATE_2D = 0x101, TRANSFER = 0x105, ATTACH = 0x106, DETACH = 0x107;
const MEM = 1 << 20;
const EACH_WAY = 5_000;

function rig() {
  const sab = new SharedArrayBuffer(MEM);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, MEM - 0x1000);
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const opts = queueOptionsFromFeatures(features, 0);
  const addrs = allocateQueue(alloc, 16, false);
  const driver = createDriverQueue<number>(memory, addrs, opts);
  const device = new GpuDevice({ scanouts: [{ width: 16, height: 16 }] });
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
  const respAt = alloc.alloc(24, 8);
  let n = 0;
  /** Serves the request at `at` (`len` bytes) and returns the response type. */
  const serve = (at: number, len: number): number => {
    new VirtioGpuCtrlHdr(memory.view(respAt, VirtioGpuCtrlHdr.SIZE)).type = 0;
    driver.addSgs([{ addr: at, len }], [{ addr: respAt, len: 24 }], n);
    driver.kick();
    device.queueNotify(0);
    assert.equal(driver.getBuf()?.token, n++);
    return new VirtioGpuCtrlHdr(memory.view(respAt, 24)).type;
  };
  /** Writes a request built by `fill` at a fresh address and serves it; returns its address. */
  const put = <A extends { readonly hdr: VirtioGpuCtrlHdr }>(
    accessor: { new (v: DataView, o?: number): A; readonly SIZE: number },
    type: number,
    fill: (a: A) => void,
    extra = 0,
  ): number => {
    const at = alloc.alloc(accessor.SIZE + extra, 8);
    const a = new accessor(memory.view(at, accessor.SIZE + extra));
    a.hdr.type = type;
    fill(a);
    return at;
  };
  return { sab, memory, alloc, device, serve, put };
}

Deno.test("gpu race: a TRANSFER_TO_HOST_2D box rewritten while served is checked on one copy", async () => {
  const r = rig();
  // A 16x16 resource (1 KiB) with exactly 1 KiB of backing.
  const page = r.alloc.alloc(1024, 4096);
  const create = r.put(VirtioGpuResourceCreate2d, CREATE_2D, (a) => {
    a.resourceId = 1;
    a.format = 2;
    a.width = 16;
    a.height = 16;
  });
  assert.equal(r.serve(create, VirtioGpuResourceCreate2d.SIZE), OK);
  const attach = r.put(VirtioGpuResourceAttachBacking, ATTACH, (a) => {
    a.resourceId = 1;
    a.nrEntries = 1;
  }, VirtioGpuMemEntry.SIZE);
  new VirtioGpuMemEntry(r.memory.view(attach + VirtioGpuResourceAttachBacking.SIZE, 16))
    .write(page, 1024, 0);
  assert.equal(r.serve(attach, 48), OK);
  // The left half of the resource; the box's x flips between 0 and 0x7ffffff0.
  const transfer = r.put(VirtioGpuTransferToHost2d, TRANSFER, (a) => {
    a.resourceId = 1;
    a.r.write(0, 0, 8, 16);
  });
  const xAt = transfer + VirtioGpuTransferToHost2d.OFFSETS.r + VirtioGpuRect.OFFSETS.x;
  const racer = await startRacer(r.sab, [{ addr: xAt, a: 0, b: 0x7ffffff0 }]);
  const seen = new Map<number, number>();
  let requests = 0;
  try {
    const count = (t: number) => seen.get(t) ?? 0;
    while (requests < 1_000_000 && (count(OK) < EACH_WAY || count(ERR_PARAM) < EACH_WAY)) {
      const t = r.serve(transfer, VirtioGpuTransferToHost2d.SIZE);
      seen.set(t, count(t) + 1);
      requests++;
      if (t !== OK && t !== ERR_PARAM) break;
    }
  } finally {
    await racer.stop();
  }
  assert.deepEqual(
    [...seen.keys()].filter((t) => t !== OK && t !== ERR_PARAM),
    [],
    `after ${requests}`,
  );
  assert.ok((seen.get(OK) ?? 0) >= EACH_WAY, "the writer never ran beside the device");
  assert.ok((seen.get(ERR_PARAM) ?? 0) >= EACH_WAY, "the writer never ran beside the device");
  assert.equal(r.device.droppedRequests, 0);
});

Deno.test("gpu race: a scatter-list address rewritten while attached is checked on one copy", async () => {
  const r = rig();
  const page = r.alloc.alloc(1024, 4096);
  const create = r.put(VirtioGpuResourceCreate2d, CREATE_2D, (a) => {
    a.resourceId = 1;
    a.format = 2;
    a.width = 16;
    a.height = 16;
  });
  assert.equal(r.serve(create, VirtioGpuResourceCreate2d.SIZE), OK);
  const attach = r.put(VirtioGpuResourceAttachBacking, ATTACH, (a) => {
    a.resourceId = 1;
    a.nrEntries = 1;
  }, 16);
  const entry = new VirtioGpuMemEntry(
    r.memory.view(0, MEM),
    attach + VirtioGpuResourceAttachBacking.SIZE,
  );
  const entryAt = entry.offset + VirtioGpuMemEntry.OFFSETS.addr;
  new VirtioGpuMemEntry(r.memory.view(entryAt, VirtioGpuMemEntry.SIZE)).length = 1024;
  const transfer = r.put(VirtioGpuTransferToHost2d, TRANSFER, (a) => {
    a.resourceId = 1;
    a.r.write(0, 0, 16, 16);
  });
  const detach = r.put(VirtioGpuResourceDetachBacking, DETACH, (a) => (a.resourceId = 1));
  // The entry's address flips between the page and 0xfffff000, outside the 1 MiB of memory.
  const racer = await startRacer(r.sab, [{ addr: entryAt, a: page, b: 0xfffff000 }]);
  const seen = new Map<number, number>();
  let requests = 0;
  const bad: string[] = [];
  try {
    const count = (t: number) => seen.get(t) ?? 0;
    while (requests < 1_000_000 && (count(OK) < EACH_WAY || count(ERR_PARAM) < EACH_WAY)) {
      const t = r.serve(attach, 48);
      seen.set(t, count(t) + 1);
      requests++;
      if (t === OK) {
        // What was accepted must be usable: a transfer from it never fails.
        const tt = r.serve(transfer, VirtioGpuTransferToHost2d.SIZE);
        if (tt !== OK) bad.push(`transfer 0x${tt.toString(16)} after request ${requests}`);
        assert.equal(r.serve(detach, VirtioGpuResourceDetachBacking.SIZE), OK);
      } else if (t !== ERR_PARAM) bad.push(`attach 0x${t.toString(16)}`);
      if (bad.length) break;
    }
  } finally {
    await racer.stop();
  }
  assert.deepEqual(bad, [], `after ${requests} requests`);
  assert.ok((seen.get(OK) ?? 0) >= EACH_WAY, "the writer never ran beside the device");
  assert.ok((seen.get(ERR_PARAM) ?? 0) >= EACH_WAY, "the writer never ran beside the device");
});
