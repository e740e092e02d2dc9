// virtio-rng: the driver against the device model over MMIO and PCI.

import assert from "node:assert/strict";
import fc from "fast-check";
import { RngDevice, type RngDeviceOptions, rngDriver } from "../../src/devices/rng/mod.ts";
import { ArgumentError, DeviceError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { type Kind, KINDS, MAIN_KINDS } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { VirtioBus } from "../../src/bus.ts";

/** An rng device that counts kicks and serves none of them. */
class HeldRngDevice extends RngDevice {
  notified = 0;
  override queueNotify(_index: number): void {
    this.notified++;
  }
}

async function setup(kind: Kind, opts: RngDeviceOptions = {}, chunk?: number) {
  const device = new RngDevice(opts);
  const r = rig(kind, device);
  const driver = rngDriver({ chunk });
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-rng", r.logs.join("; "));
  return { r, device, dev, rng: await driver.nextSource() };
}

for (const kind of KINDS) {
  Deno.test(`rng ${kind}: reads random bytes of any length`, async () => {
    const t = await setup(kind);
    for (const n of [1, 7, 64, 4096, 10000]) {
      const b = await t.rng.read(n);
      assert.equal(b.length, n);
    }
    const big = await t.rng.read(4096);
    // 4096 random bytes are not all one value (probability ~2^-32760).
    assert.ok(new Set(big).size > 100);
    assert.equal(t.device.bytesServed, t.rng.bytesReceived);
    assert.deepEqual(t.r.logs, []);
  });
}

for (const kind of MAIN_KINDS) {
  Deno.test(`rng ${kind}: bytes come from the configured source`, async () => {
    let counter = 0;
    const t = await setup(kind, { source: (b) => b.forEach((_, i) => b[i] = counter++ & 0xff) });
    assert.deepEqual([...await t.rng.read(4)], [0, 1, 2, 3]);
  });

  Deno.test(`rng ${kind}: a device that gives fewer bytes per request is asked again`, async () => {
    const t = await setup(kind, { maxBytesPerRequest: 3 }, 16);
    const b = await t.rng.read(40);
    assert.equal(b.length, 40);
    assert.ok(t.device.requests >= 14);
    const one = await t.rng.request(100);
    assert.equal(one.length, 3, "the used length tells how many bytes came (5.4.6.1)");
  });

  Deno.test(`rng ${kind}: many requests in flight beyond the queue size`, async () => {
    const t = await setup(kind, { queueSize: 8 });
    const all = await Promise.all(Array.from({ length: 50 }, () => t.rng.request(32)));
    assert.equal(all.length, 50);
    assert.ok(all.every((b) => b.length === 32));
  });

  Deno.test(`rng ${kind}: readable buffers are ignored, a buffer without room gets 0 bytes`, async () => {
    const t = await setup(kind);
    const vq = t.rng.vq;
    const a = t.r.dma.alloc(64, 8);
    const lens: number[] = [];
    const done = { complete: (len: number) => lens.push(len), fail: () => {} };
    t.r.memory.bytes(a, 64).fill(0);
    vq.submit([{ addr: a, len: 16 }], [{ addr: a + 16, len: 16 }], done);
    vq.kick();
    assert.ok(t.r.memory.bytes(a, 16).every((b) => b === 0), "readable part untouched");
    const b = t.r.dma.alloc(16, 8);
    vq.submit([{ addr: b, len: 16 }], [], done);
    vq.kick();
    assert.deepEqual(lens, [16, 0]);
    assert.ok(!t.dev.needsReset);
    assert.equal((await t.rng.read(8)).length, 8);
  });

  Deno.test(`rng ${kind}: a malformed chain sets DEVICE_NEEDS_RESET`, async () => {
    const t = await setup(kind);
    const vq = t.rng.vq;
    // A buffer outside guest memory.
    vq.submit([], [{ addr: 0x7fff_f000, len: 16 }], { complete: () => {}, fail: () => {} });
    vq.kick();
    assert.ok(t.dev.needsReset);
  });

  Deno.test(`rng ${kind}: removal fails outstanding reads, in the ring and waiting for room`, async () => {
    // A device that holds its requests: nothing completes before the removal.
    const device = new HeldRngDevice({ queueSize: 4 });
    const r = rig(kind, device);
    const driver = rngDriver();
    await r.bus.registerDriver(driver);
    const dev = await r.bus.addDevice(r.transport);
    const rng = await driver.nextSource();
    const idle = r.dma.bytesUsed;
    // 4 requests fill the ring, 6 more wait for room
    const outcomes = Array.from({ length: 10 }, () =>
      rng.request(16).then(
        (b) => `resolved with ${b.length} bytes`,
        (e: unknown) => e,
      ));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(device.bytesServed, 0, "the device served nothing");
    assert.ok(device.notified > 0, "the driver kicked: requests are in the ring");
    assert.ok(r.dma.bytesUsed >= idle + 4 * 16, "the ring's requests hold DMA memory");
    await r.bus.removeDevice(dev);
    for (const [i, o] of (await Promise.all(outcomes)).entries()) {
      assert.ok(o instanceof DeviceError, `read ${i}: ${o}`);
      assert.match(o.message, /removed/);
    }
    assert.ok(r.dma.bytesUsed <= idle, "the outstanding requests' memory is freed");
    await assert.rejects(rng.read(4), coded(DeviceError, "ERR_VIRTIO_DEVICE_REMOVED"));
  });
}

Deno.test("rng: a length that is not an integer from 0 is an ArgumentError, not a RangeError", async () => {
  const t = await setup(MAIN_KINDS[0]);
  for (const n of [-1, 1.5, NaN]) {
    await assert.rejects(
      t.rng.read(n),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_RNG_LENGTH", /cannot read .* bytes/),
    );
  }
  assert.equal((await t.rng.read(3)).length, 3);
});

Deno.test("device options out of range are DeviceErrors with the device's option code", () => {
  assert.throws(
    () => new RngDevice({ maxBytesPerRequest: 0 }),
    coded(DeviceError, "ERR_VIRTIO_DEVICE_RNG_OPTION"),
  );
  assert.throws(
    () => new RngDevice({ queueSize: 0 }),
    coded(
      ArgumentError,
      "ERR_VIRTIO_ARGUMENT_QUEUE_SIZE",
      /queue size 0 is not an integer in 1\.\.32768/,
    ),
  );
});

Deno.test("rng property: any mix of buffer sizes gets min(size, cap) bytes, never more", async () => {
  const t = await setup("pci-modern", { maxBytesPerRequest: 100 });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
      async (sizes) => {
        const got = await Promise.all(sizes.map((s) => t.rng.request(s)));
        got.forEach((g, i) => assert.equal(g.length, Math.min(sizes[i], 100)));
      },
    ),
    { numRuns: 50, seed: 32 },
  );
});

Deno.test("rng: guest memory in a resizable ArrayBuffer reaches the source through a private buffer", async () => {
  // v86's memory in a browser page is a resizable buffer, and Chromium's
  // crypto.getRandomValues refuses views of one: this source refuses them too.
  const size = 1 << 20;
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(size, { maxByteLength: 2 * size }));
  const refused: number[] = [];
  const device = new RngDevice({
    source: (b) => {
      if ((b.buffer as ArrayBuffer).resizable) {
        refused.push(b.length);
        throw new TypeError("The provided ArrayBufferView value must not be resizable.");
      }
      b.fill(0x5a);
    },
  });
  const logs: string[] = [];
  const host = new MmioDevice(device, memory, { version: 2, log: (m) => logs.push(m) });
  const transport = probeMmio(host);
  assert.ok(transport !== undefined);
  const bus = new VirtioBus({
    memory,
    dma: new DmaAllocator(0x1000, size - 0x1000),
    log: (m) => logs.push(m),
  });
  const driver = rngDriver();
  await bus.registerDriver(driver);
  await bus.addDevice(transport);
  const rng = await driver.nextSource();
  assert.deepEqual([...await rng.read(16)], new Array(16).fill(0x5a));
  assert.deepEqual(refused, []);
  assert.deepEqual(logs, []);
});
