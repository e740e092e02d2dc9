// virtio-balloon against a racing writer: a worker keeps rewriting the page
// frame number of an inflate buffer between a page of guest memory and one
// far outside it while the device serves that buffer again and again. The
// device reads each PFN once, checks it and uses the copy: the balloon only
// ever holds the real page, and zeroing a reclaimed page never goes outside
// guest memory (which would be a MemoryError and a device reset). Deno only
// (a Web Worker).

import assert from "node:assert/strict";
import { BalloonDevice } from "../../src/devices/balloon/mod.ts";
import type { DeviceContext } from "../../src/device.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { startRacer } from "./_race.ts";

const PAGE = 4096;
/** Times the device must have seen each value before the test ends. */
const EACH_WAY = 50_000;

Deno.test("balloon race: an inflate PFN rewritten while served is either the checked page or ignored", async () => {
  const sab = new SharedArrayBuffer(1 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (1 << 20) - 0x1000);
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const inflateAddrs = allocateQueue(alloc, 16, false);
  const deflateAddrs = allocateQueue(alloc, 16, false);
  const inflate = createDriverQueue<number>(
    memory,
    inflateAddrs,
    queueOptionsFromFeatures(features, 0),
  );
  const deflate = createDriverQueue<number>(
    memory,
    deflateAddrs,
    queueOptionsFromFeatures(features, 1),
  );
  // reclaim: inflated pages are zeroed, so a PFN used unchecked would touch memory.
  const device = new BalloonDevice({ reclaim: true, packed: false });
  const resets: unknown[] = [];
  const ctx: DeviceContext = {
    memory,
    features,
    queues: [
      createDeviceQueue(memory, inflateAddrs, queueOptionsFromFeatures(features, 0)),
      createDeviceQueue(memory, deflateAddrs, queueOptionsFromFeatures(features, 1)),
    ],
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => resets.push(e),
  };
  device.activate(ctx);

  const real = alloc.alloc(PAGE, PAGE) / PAGE;
  // 8 TiB up, in no region of the 1 MiB guest. Only the top byte differs from `real`, so a read
  // torn between the writer's two values (unoptimised code reads DataView words byte by byte) is
  // still one of them: any other page the balloon holds is a double fetch, not a torn read.
  const outside = real + 0x7f00_0000;
  const racing = alloc.alloc(4, 4); // the PFN the writer flips
  const back = alloc.alloc(4, 4); // a PFN the writer leaves alone: deflates the real page
  memory.writeUint32(racing, real);
  memory.writeUint32(back, real);
  const racer = await startRacer(sab, [{ addr: racing, a: real, b: outside }]);
  let requests = 0;
  try {
    while (
      resets.length === 0 && requests < 2_000_000 &&
      (device.counters.inflated < EACH_WAY || device.counters.ignoredPfns < EACH_WAY)
    ) {
      inflate.addSgs([{ addr: racing, len: 4 }], [], requests);
      inflate.kick();
      device.queueNotify(0);
      assert.equal(inflate.getBuf()?.token, requests);
      assert.ok(
        [...device.pages].every((p) => p === real),
        `the balloon holds ${[...device.pages]} after ${requests} requests`,
      );
      if (device.pages.size > 0) {
        deflate.addSgs([{ addr: back, len: 4 }], [], requests);
        deflate.kick();
        device.queueNotify(1);
        assert.equal(deflate.getBuf()?.token, requests);
      }
      requests++;
    }
  } finally {
    await racer.stop();
  }
  assert.deepEqual(resets, []);
  assert.ok(device.counters.inflated >= EACH_WAY, "the writer never ran beside the device");
  assert.ok(device.counters.ignoredPfns >= EACH_WAY, "the writer never ran beside the device");
});
