// virtio-echo, the tutorial's first device: driver against device over MMIO and PCI.
// Run: deno test --allow-all examples/echo/echo_test.ts (part of `deno task test`).

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { DeviceError } from "../../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import { EchoDevice } from "./device.ts";
import { echoDriver } from "./driver.ts";

for (const kind of ["mmio", "pci"] as const) {
  Deno.test(`virtio-echo over ${kind}: bytes come back; a reset fails what is pending`, async () => {
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
    const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
    const driver = echoDriver();
    await bus.registerDriver(driver);
    const device = new EchoDevice();
    const transport = kind === "mmio"
      ? probeMmio(new MmioDevice(device, memory))
      : probePci(new PciFunction(device, memory));
    assert.ok(transport);
    const dev = await bus.addDevice(transport);
    const echo = driver.bound.get(dev);
    assert.ok(echo);

    const hello = new TextEncoder().encode("hello, virtio");
    assert.deepEqual(await echo.echo(hello), hello);
    const many = await Promise.all([1, 2, 3].map((n) => echo.echo(new Uint8Array(n).fill(n))));
    assert.deepEqual(many.map((b) => [...b]), [[1], [2, 2], [3, 3, 3]]);

    dev.reset();
    await assert.rejects(
      echo.echo(hello),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET",
    );
    await bus.removeDevice(dev);
  });
}
