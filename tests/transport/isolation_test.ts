// Two transport rules found by the device work: a driver's interrupt handler
// that throws is the driver's bug, not the device's; and packed rings need
// only 4-byte alignment for their event suppression areas (2.8.10.1).
import assert from "node:assert/strict";
import {
  DeviceStatus,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
} from "../../src/generated/common.ts";
import { VirtioMmio } from "../../src/generated/mmio.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { MmioDevice } from "../../src/transport/mmio/mod.ts";
import { GuestMemory } from "../../src/memory.ts";
import { buffers, rig } from "./_rig.ts";

for (const kind of ["mmio-v2", "pci-modern", "pci-intx"] as const) {
  Deno.test(`${kind}: a throwing interrupt handler is logged, the device stays healthy`, async () => {
    const r = rig(kind);
    const drv = nullDriver({ deviceId: r.device.deviceId });
    const dev = await r.bus.addDevice(r.transport);
    await r.bus.registerDriver(drv);
    const st = drv.states.get(dev);
    assert.ok(st);
    let calls = 0;
    r.transport.setInterruptHandlers({
      vring() {
        calls++;
        throw new Error("driver bug");
      },
      config() {},
    });
    const [b] = buffers(r, 1);
    st.vq.addSgs([{ addr: b, len: 64 }], [], 1);
    st.vq.kick();
    assert.equal(calls, 1, "the handler ran");
    assert.equal(dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0, "no DEVICE_NEEDS_RESET");
    assert.ok(r.logs.some((l) => /interrupt handler threw.*driver bug/.test(l)), r.logs.join("\n"));
    assert.equal(r.device.completed, 1);
  });
}

Deno.test("mmio-v2: packed queue areas at 16/4/4 alignment are accepted, 2-aligned refused", () => {
  const features = (1n << BigInt(VIRTIO_F_VERSION_1)) | (1n << BigInt(VIRTIO_F_RING_PACKED));
  const logs: string[] = [];
  const m = new MmioDevice(
    new NullDevice({ queues: 2, features }),
    GuestMemory.fromBuffer(new ArrayBuffer(1 << 16)),
    { log: (l) => logs.push(l) },
  );
  const O = VirtioMmio.OFFSETS;
  const S = DeviceStatus;
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  m.write(O.driverFeaturesSel, 4, 1);
  m.write(O.driverFeatures, 4, Number(features >> 32n));
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  assert.ok(m.read(O.status, 4) & S.FEATURES_OK);
  const setup = (sel: number, desc: number, driver: number, device: number) => {
    m.write(O.queueSel, 4, sel);
    m.write(O.queueSize, 4, 8);
    m.write(O.queueDescLow, 4, desc);
    m.write(O.queueDriverLow, 4, driver);
    m.write(O.queueDeviceLow, 4, device);
    m.write(O.queueReady, 4, 1);
    return m.read(O.queueReady, 4);
  };
  assert.equal(setup(0, 0x1000, 0x1080, 0x1084), 1, "queue 0: driver area at +0x80 (4-aligned)");
  assert.equal(setup(1, 0x2000, 0x2084, 0x2088), 1, "queue 1: 4-aligned areas");
  assert.deepEqual(logs, []);
  m.write(O.status, 4, 0); // reset
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  m.write(O.driverFeaturesSel, 4, 1);
  m.write(O.driverFeatures, 4, Number(features >> 32n));
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  assert.equal(setup(0, 0x1000, 0x1082, 0x1084), 0, "a 2-aligned driver area is refused");
  assert.ok(logs.some((l) => /misaligned/.test(l)));
});

Deno.test("mmio-v2: a device may refuse the accepted features at FEATURES_OK (3.1.1)", () => {
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const seen: bigint[] = [];
  const device = new NullDevice({ features });
  const refusing = Object.assign(device, {
    acceptFeatures(f: bigint): boolean {
      seen.push(f);
      return seen.length > 1; // refuse the first attempt only
    },
  });
  const logs: string[] = [];
  const m = new MmioDevice(refusing, GuestMemory.fromBuffer(new ArrayBuffer(1 << 16)), {
    log: (l) => logs.push(l),
  });
  const O = VirtioMmio.OFFSETS;
  const S = DeviceStatus;
  const handshake = () => {
    m.write(O.status, 4, 0);
    m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER);
    m.write(O.driverFeaturesSel, 4, 1);
    m.write(O.driverFeatures, 4, 1);
    m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    return m.read(O.status, 4) & S.FEATURES_OK;
  };
  assert.equal(handshake(), 0, "refused: FEATURES_OK stays clear");
  assert.ok(logs.some((l) => /refuses features 0x100000000/.test(l)), logs.join("\n"));
  assert.equal(handshake(), S.FEATURES_OK, "accepted on the second try");
  assert.deepEqual(seen, [features, features]);
});
