// virtio-thermo, the tutorial's device and driver, against each other over MMIO and PCI.
// Run: deno test --allow-all examples/custom_device/thermo_test.ts (part of `deno task test`).

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { DeviceError } from "../../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import {
  VIRTIO_THERMO_S_NO_SENSOR,
  VIRTIO_THERMO_S_OK,
  VirtioThermoConfig,
} from "./generated/schema.ts";
import { ThermoDevice } from "./device.ts";
import { thermoDriver } from "./driver.ts";

for (const kind of ["mmio", "pci"] as const) {
  Deno.test(`virtio-thermo over ${kind}`, async () => {
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
    const logs: string[] = [];
    const log = (m: string) => logs.push(m);
    const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
    const driver = thermoDriver();
    await bus.registerDriver(driver);
    const device = new ThermoDevice([21_500, 19_250]);
    const transport = kind === "mmio"
      ? probeMmio(new MmioDevice(device, memory, { log }))
      : probePci(new PciFunction(device, memory, { log }));
    assert.ok(transport);
    const dev = await bus.addDevice(transport);
    const thermo = driver.bound.get(dev);
    assert.ok(thermo);
    assert.equal(thermo.name, "greenhouse");
    assert.equal(thermo.sensors, 2);
    assert.deepEqual(await thermo.read(1), {
      sensor: 1,
      status: VIRTIO_THERMO_S_OK,
      millidegrees: 19_250,
      timestampNs: 1_000_000n,
    });
    assert.equal((await thermo.read(7)).status, VIRTIO_THERMO_S_NO_SENSOR);

    // Config: the polling interval is writable, the sensor count is not.
    dev.writeConfig(VirtioThermoConfig.OFFSETS.pollIntervalMs, 2, 1000);
    dev.writeConfig(VirtioThermoConfig.OFFSETS.numSensors, 2, 9);
    assert.equal(device.cfg.pollIntervalMs, 1000);
    assert.equal(device.cfg.numSensors, 2);

    // A hostile request: no room for the reading. The device refuses, the driver sees it.
    const buf = dev.dmaContext.dma.alloc(2, 2);
    thermo.vq.submit([{ addr: buf, len: 2 }], [], { complete: () => {}, fail: () => {} });
    thermo.vq.kick();
    assert.ok(dev.needsReset);
    assert.match(logs.join("\n"), /too short/);
    // From then on the driver fails fast instead of waiting for an answer.
    await assert.rejects(
      thermo.read(0),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_NEEDS_RESET",
    );
    await bus.removeDevice(dev);
  });
}
