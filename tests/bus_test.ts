// The virtio bus: matching, modalias, registration order, handshake
// failures (FAILED), and hot unplug with buffers in flight.

import assert from "node:assert/strict";
import { DeviceStatus } from "../src/generated/common.ts";
import { modalias, VIRTIO_DEV_ANY_ID } from "../src/bus.ts";
import type { DriverDevice, VirtioDriver } from "../src/driver.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import { nullDriver } from "../src/devices/null/driver.ts";
import { KINDS } from "./transport/_kinds.ts";
import { buffers, rig } from "./transport/_rig.ts";
import { ArgumentError } from "../src/errors.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";

const S = DeviceStatus;

Deno.test("modalias is virtio:d%08Xv%08X", () => {
  assert.equal(modalias(2, 0x1af4), "virtio:d00000002v00001AF4");
  assert.equal(modalias(0xffffffff, 0), "virtio:dFFFFFFFFv00000000");
});

Deno.test("devices and drivers bind in any registration order", async () => {
  for (const driverFirst of [true, false]) {
    const r = rig("mmio-v2");
    const drv = nullDriver();
    let dev: DriverDevice;
    if (driverFirst) {
      await r.bus.registerDriver(drv);
      dev = await r.bus.addDevice(r.transport);
    } else {
      dev = await r.bus.addDevice(r.transport);
      assert.equal(dev.getStatus(), S.ACKNOWLEDGE, "waits for a driver");
      await r.bus.registerDriver(drv);
    }
    assert.equal(dev.driver, drv);
    assert.equal(dev.modalias, "virtio:d0000003Fv00001AF4");
  }
});

Deno.test("id tables: exact ids, vendor, VIRTIO_DEV_ANY_ID; no match leaves the device alone", async () => {
  const r = rig("mmio-v2");
  const calls: string[] = [];
  const mk = (name: string, device: number, vendor?: number): VirtioDriver => ({
    name,
    idTable: [{ device, vendor }],
    featureTable: [],
    probe: () => void calls.push(name),
    remove: (d) => {
      d.reset();
    },
  });
  await r.bus.registerDriver(mk("wrong-id", 5));
  await r.bus.registerDriver(mk("wrong-vendor", NullDevice.DEVICE_ID, 0x1234));
  const dev = await r.bus.addDevice(r.transport);
  assert.deepEqual(calls, []);
  assert.equal(dev.driver, undefined);
  await r.bus.registerDriver(mk("any", VIRTIO_DEV_ANY_ID, VIRTIO_DEV_ANY_ID));
  assert.deepEqual(calls, ["any"]);
});

Deno.test("unregistering a driver removes it and offers the device to the next driver", async () => {
  const r = rig("pci-modern");
  const a = nullDriver();
  const b = nullDriver();
  await r.bus.registerDriver(a);
  await r.bus.registerDriver(b);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver, a);
  await r.bus.unregisterDriver(a);
  assert.equal(dev.driver, b);
  assert.equal(r.device.activations, 2);
  assert.ok(dev.getStatus() & S.DRIVER_OK);
});

Deno.test("handshake failure: FEATURES_OK not accepted sets FAILED and skips probe", async () => {
  const r = rig("mmio-v2");
  const m = r.host;
  // A device that refuses every feature set: its core clears FEATURES_OK.
  m.core.writeStatus = ((orig) =>
    function (this: typeof m.core, reg: string, v: number) {
      orig.call(this, reg, v & ~S.FEATURES_OK);
    })(m.core.writeStatus);
  let probed = false;
  const drv = { ...nullDriver(), probe: () => void (probed = true) };
  await r.bus.registerDriver(drv);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(probed, false);
  assert.equal(dev.driver, undefined);
  assert.ok(dev.getStatus() & S.FAILED);
  assert.match(r.logs.join("\n"), /FEATURES_OK unset/);
});

Deno.test("handshake failure: a modern device without VERSION_1 is FAILED", async () => {
  const r = rig("pci-modern", { features: 1n << 29n });
  await r.bus.registerDriver(nullDriver());
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver, undefined);
  assert.ok(dev.getStatus() & S.FAILED);
  assert.match(r.logs.join("\n"), /VIRTIO_F_VERSION_1/);
});

Deno.test("handshake failure: probe throws -> FAILED, queues freed, next driver may bind", async () => {
  const r = rig("mmio-v2");
  const used = r.dma.bytesUsed;
  await r.bus.registerDriver(nullDriver({ failProbe: true }));
  const dev = await r.bus.addDevice(r.transport);
  assert.ok(dev.getStatus() & S.FAILED);
  assert.equal(dev.driver, undefined);
  assert.equal(r.dma.bytesUsed, used);
  const good = nullDriver();
  await r.bus.registerDriver(good);
  assert.equal(dev.driver, good);
  assert.equal(dev.getStatus() & S.FAILED, 0, "reset before the retry");
});

for (const kind of KINDS) {
  Deno.test(`${kind}: hot unplug with buffers in flight returns every buffer`, async () => {
    const r = rig(kind, { hold: true });
    const drv = nullDriver();
    Object.assign(drv, { idTable: [{ device: r.device.deviceId }] });
    await r.bus.registerDriver(drv);
    const dev = await r.bus.addDevice(r.transport);
    const st = drv.states.get(dev);
    assert.ok(st);
    const bufs = buffers(r, 10);
    bufs.forEach((b, i) => st.vq.addSgs([{ addr: b, len: 64 }], [], `req${i}`));
    st.vq.kick();
    // The device takes 4 of them and completes 2, then goes away.
    const q = r.device.context?.queues[0];
    assert.ok(q);
    const c0 = q.pop();
    const c1 = q.pop();
    q.pop();
    q.pop();
    assert.ok(c0 && c1);
    r.device.context?.notifyUsed(0); // nothing used yet: the callback finds nothing
    q.addUsed(c0, 0);
    q.addUsed(c1, 0);
    const used = r.dma.bytesUsed;
    const left = await r.bus.removeDevice(dev);
    assert.deepEqual(left, [], "the driver's remove reclaimed them");
    const got = [...st.completed, ...st.reclaimed].sort();
    assert.deepEqual(got, bufs.map((_, i) => `req${i}`).sort());
    assert.equal(r.device.context, undefined, "device reset");
    assert.equal(dev.getStatus(), 0);
    assert.ok(r.dma.bytesUsed < used, "ring memory freed");
    assert.ok(st.vq.broken);
    assert.throws(() => st.vq.addSgs([{ addr: bufs[0], len: 1 }], [], "late"));
  });
}

Deno.test("hot unplug of a driver that leaves buffers: the bus returns them", async () => {
  const r = rig("mmio-v2", { hold: true });
  let vqRef: import("../src/driver.ts").Virtqueue | undefined;
  const lazy: VirtioDriver = {
    name: "lazy",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [],
    probe(dev) {
      [vqRef] = dev.findVqs([{ name: "q" }]);
    },
    remove() {},
  };
  await r.bus.registerDriver(lazy);
  const dev = await r.bus.addDevice(r.transport);
  const [a, b] = buffers(r, 2);
  vqRef?.addSgs([{ addr: a, len: 8 }], [], 1);
  vqRef?.addSgs([], [{ addr: b, len: 8 }], 2);
  vqRef?.kick();
  assert.deepEqual((await r.bus.removeDevice(dev)).sort(), [1, 2]);
});

Deno.test("a probe that found nothing: a typed error, and no device index used", async () => {
  const r = rig("mmio-v2");
  await assert.rejects(
    r.bus.addDevice(undefined),
    (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_NO_DEVICE",
  );
  // What a user writes: the probe of a window without a device.
  const empty = probeMmio(new MmioDevice(new NullDevice({ deviceId: 0 }), r.memory));
  await assert.rejects(r.bus.addDevice(empty), ArgumentError);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.name, "virtio0", "the failed adds used no index");
  assert.equal(r.bus.devices.length, 1);
});

Deno.test("registering a driver twice is an ArgumentError with a code", async () => {
  const r = rig("mmio-v2");
  const drv = nullDriver();
  await r.bus.registerDriver(drv);
  await assert.rejects(
    r.bus.registerDriver(drv),
    (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_DRIVER_REGISTERED",
  );
});
