// A driver probes and uses the null device over every transport.

import assert from "node:assert/strict";
import { DeviceStatus, VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { KINDS } from "./_kinds.ts";
import { buffers, rig } from "./_rig.ts";

for (const kind of KINDS) {
  Deno.test(`${kind}: the null driver binds, negotiates and completes requests`, async () => {
    const r = rig(kind);
    const drv = nullDriver({ deviceId: r.device.deviceId });
    const dev = await r.bus.addDevice(r.transport);
    await r.bus.registerDriver(drv);
    assert.equal(dev.driver, drv);
    const S = DeviceStatus;
    const legacy = kind === "mmio-v1" || kind === "pci-legacy";
    assert.equal(r.transport.legacy, legacy);
    const want = S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK | (legacy ? 0 : S.FEATURES_OK);
    assert.equal(dev.getStatus(), want);
    assert.equal(dev.hasFeature(VIRTIO_F_VERSION_1), !legacy);
    assert.equal(r.device.activations, 1);
    assert.equal(r.device.negotiated, dev.features);

    const st = drv.states.get(dev);
    assert.ok(st);
    const bufs = buffers(r, 32);
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      for (const b of bufs) st.vq.addSgs([{ addr: b, len: 64 }], [], sent++);
      st.vq.kick();
    }
    assert.equal(st.completed.length, sent);
    assert.deepEqual(st.completed, Array.from({ length: sent }, (_, i) => i));
    assert.equal(r.device.completed, sent);
    assert.deepEqual(r.logs, []);
  });

  Deno.test(`${kind}: a config change reaches the driver and reads are consistent`, async () => {
    const r = rig(kind);
    const drv = nullDriver({ deviceId: r.device.deviceId });
    await r.bus.registerDriver(drv);
    const dev = await r.bus.addDevice(r.transport);
    r.device.setValue(0x1_2345_6789n);
    assert.equal(drv.states.get(dev)?.configChanges, 1);
    assert.equal(dev.readConfig((c) => c.le64(0)), 0x1_2345_6789n);
    assert.equal(new DataView(dev.configSnapshot(8).buffer).getBigUint64(0, true), 0x1_2345_6789n);
  });
}
