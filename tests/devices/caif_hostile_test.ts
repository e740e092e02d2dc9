// virtio-caif against a hostile host (driver) and a hostile modem (device). The host lends the
// downlink buffers and returns them; it can lend buffers outside memory or too small, rewrite the
// lent list after DRIVER_OK, return ids it never got, and send uplink buffers of any length. The
// modem can publish writable or oversized downlink buffers. Nothing may throw out of either side;
// the device ends in DEVICE_NEEDS_RESET or counts and drops, the driver counts and drops.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CaifDevice,
  caifDriver,
  type CaifFraming,
  type CaifLink,
} from "../../src/devices/caif/mod.ts";
import type { DriverDevice, VirtioDriver } from "../../src/driver.ts";
import { DeviceStatus, VIRTIO_ID_CAIF } from "../../src/generated/common.ts";
import { VirtqDesc, VirtqUsed, VirtqUsedElem } from "../../src/generated/virtqueue.ts";
import { createDriverQueue, queueOptionsFromFeatures } from "../../src/virtqueue/mod.ts";
import { MAIN_KINDS, type MainKind } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const framing: CaifFraming = { headroom: 4, tailroom: 4, mtu: 128 };

/** A host that sets up the rings itself and lends whatever `lend` writes. */
async function handHost(
  kind: MainKind,
  lend: (d: VirtqDesc, size: number, alloc: (n: number) => number) => void,
) {
  const uplink: Uint8Array[] = [];
  const device = new CaifDevice({ uplink: framing, onFrame: (f) => uplink.push(f) });
  const r = rig(kind, device);
  let bound: DriverDevice | undefined;
  const driver: VirtioDriver = {
    name: "hand-caif",
    idTable: [{ device: VIRTIO_ID_CAIF }],
    featureTable: [],
    probe(dev) {
      dev.findVqs([{ name: "output" }]);
      dev.findVrh(1, {
        name: "downlink",
        size: 8,
        lend: (ring) =>
          lend(
            new VirtqDesc(r.memory.view(ring.desc, 16 * ring.size)),
            ring.size,
            (n) => r.dma.alloc(n, 8),
          ),
        callback: () => {},
      });
      dev.deviceReady();
      bound = dev;
    },
    remove() {},
  };
  await r.bus.registerDriver(driver);
  await r.bus.addDevice(r.transport);
  assert.ok(bound);
  return { r, device, dev: bound, uplink };
}

const needsReset = (dev: DriverDevice) => (dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0;

for (const kind of MAIN_KINDS) {
  Deno.test(`caif hostile ${kind}: a lent buffer outside guest memory sets DEVICE_NEEDS_RESET`, async () => {
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) d.at(16 * i).write(alloc(128), 128, 0, 0);
      d.at(16 * 3).write(2 ** 40, 128, 0, 0);
    });
    assert.ok(needsReset(t.dev), "needs reset");
    assert.equal(t.device.downlinkBuffers, 0);
    assert.ok(t.r.logs.some((l) => /outside|memory/i.test(l)), t.r.logs.join("\n"));
  });

  Deno.test(`caif hostile ${kind}: a lent buffer that cannot hold headroom + tailroom sets DEVICE_NEEDS_RESET`, async () => {
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) d.at(16 * i).write(alloc(128), i === 5 ? 8 : 128, 0, 0);
    });
    assert.ok(needsReset(t.dev));
    assert.ok(
      t.r.logs.some((l) =>
        l.includes("ERR_VIRTIO_DEVICE_CAIF_BUFFER") || l.includes("cannot hold")
      ),
    );
  });

  Deno.test(`caif hostile ${kind}: the lent list is read once; rewriting it after DRIVER_OK changes nothing`, async () => {
    const lent: number[] = [];
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) {
        lent.push(alloc(128));
        d.at(16 * i).write(lent[i], 128, 0, 0);
      }
    });
    assert.equal(t.device.downlinkBuffers, 8);
    // The host points every descriptor at address 0 (a place it did not lend) after DRIVER_OK.
    const vrh = t.dev.vrhs.get(1);
    assert.ok(vrh);
    const d = new VirtqDesc(t.r.memory.view(vrh.addresses.desc, 16 * 8));
    for (let i = 0; i < 8; i++) d.at(16 * i).write(0, 4096, 0, 0);
    const zero = t.r.memory.bytes(0, 64).slice();
    t.device.send(te.encode("still in a lent buffer"));
    assert.deepEqual(t.r.memory.bytes(0, 64), zero, "nothing written at 0");
    const c = vrh.queue.pop();
    assert.ok(c);
    assert.ok(lent.includes(c.addr(0)), "the frame is in a lent buffer");
    assert.equal(td.decode(c.bytes(0).subarray(4, c.len(0) - 4)), "still in a lent buffer");
    assert.ok(!needsReset(t.dev));
  });

  Deno.test(`caif hostile ${kind}: a used id the device never made available sets DEVICE_NEEDS_RESET`, async () => {
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) d.at(16 * i).write(alloc(128), 128, 0, 0);
    });
    const vrh = t.dev.vrhs.get(1);
    assert.ok(vrh);
    const used = new VirtqUsed(t.r.memory.view(vrh.addresses.device, VirtqUsed.size(8)), 0, 8);
    new VirtqUsedElem(used.view, used.ringOffset(0)).write(6, 0);
    used.idx = 1;
    vrh.notify();
    assert.ok(needsReset(t.dev));
  });

  Deno.test(`caif hostile ${kind}: uplink buffers of any length: bad ones counted, the link goes on`, async () => {
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) d.at(16 * i).write(alloc(128), 128, 0, 0);
    });
    const vq = t.dev.vqs[0];
    await vq.request(new Uint8Array(8), 0); // headroom + tailroom only: too short
    await vq.request(new Uint8Array(0), 16); // writable only: too short
    await vq.request(new Uint8Array(129), 0); // one past the mtu
    const good = new Uint8Array(4 + 2 + 4);
    good.set([7, 9], 4);
    await vq.request(good, 0);
    assert.deepEqual(t.device.uplinkErrors, { "too-short": 2, "too-long": 1 });
    assert.deepEqual(t.uplink.map((f) => [...f]), [[7, 9]]);
    assert.ok(!needsReset(t.dev));
  });

  Deno.test(`caif hostile ${kind}: property: random uplink buffers never throw, and every one is accounted for`, async () => {
    const t = await handHost(kind, (d, size, alloc) => {
      for (let i = 0; i < size; i++) d.at(16 * i).write(alloc(128), 128, 0, 0);
    });
    const vq = t.dev.vqs[0];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(300), fc.nat(40)), { maxLength: 12 }),
        async (bufs) => {
          const before = t.device.uplinkFrames + t.device.uplinkErrors["too-short"] +
            t.device.uplinkErrors["too-long"];
          for (const [out, inn] of bufs) {
            if (out + inn === 0) continue;
            await vq.request(new Uint8Array(out).fill(0xa5), inn);
          }
          const after = t.device.uplinkFrames + t.device.uplinkErrors["too-short"] +
            t.device.uplinkErrors["too-long"];
          assert.equal(after - before, bufs.filter(([o, i]) => o + i > 0).length);
          assert.ok(!needsReset(t.dev));
        },
      ),
      { numRuns: 40, seed: 0xca1f },
    );
    for (const f of t.uplink) {
      assert.ok(f.length >= 1 && f.length <= 120 && f.every((b) => b === 0xa5));
    }
  });

  Deno.test(`caif hostile ${kind}: the driver drops writable and oversized downlink buffers and goes on`, async () => {
    const device = new CaifDevice({ uplink: framing });
    const r = rig(kind, device);
    const driver = caifDriver({ downlinkSize: 8 });
    await r.bus.registerDriver(driver);
    await r.bus.addDevice(r.transport);
    const link: CaifLink = await driver.nextLink();
    // Play a hostile modem on the downlink ring by hand: our engine's driver side over it.
    const { createDriverQueue, queueOptionsFromFeatures } = await import(
      "../../src/virtqueue/mod.ts"
    );
    device.reset(); // the model lets go of the ring; the transport stays up
    const q = createDriverQueue<number>(
      r.memory,
      link.vrh.addresses,
      queueOptionsFromFeatures(link.dev.features, 1),
    );
    const a = r.dma.alloc(4096, 8);
    q.addSgs([], [{ addr: a, len: 32 }], 1); // writable: the host only reads
    q.addSgs([{ addr: a, len: 129 }], [], 2); // past the mtu
    q.addSgs([{ addr: a, len: 8 }], [], 3); // headroom + tailroom, no frame
    r.memory.bytes(a, 12).set([0, 0, 0, 0, 0x41, 0x42, 0x43, 0x44, 0, 0, 0, 0]);
    q.addSgs([{ addr: a, len: 12 }], [], 4);
    q.kick();
    link.vrh.interrupt();
    assert.deepEqual(link.downlinkErrors, { "too-short": 1, "too-long": 1, writable: 1 });
    assert.equal(td.decode(await link.nextFrame()), "ABCD");
    const back: number[] = [];
    for (let b = q.getBuf(); b !== null; b = q.getBuf()) back.push(b.token);
    assert.deepEqual(back, [1, 2, 3, 4], "every buffer is returned, the bad ones too");
  });
}
