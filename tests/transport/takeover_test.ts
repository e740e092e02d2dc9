// A driver takes over a device in whatever state a previous driver left it
// (issue 18, defect 4): MSI-X enabled or masked, INTx disabled in the PCI
// command register, status bits set, queues enabled, DEVICE_NEEDS_RESET.
// Our driver must bring it up and see every completion.

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { type PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { KINDS } from "./_kinds.ts";
import { buffers, type Rig, rig } from "./_rig.ts";

// PCI Local Bus 3.0, 6.2.2 (command register) and 6.8.2.3 (MSI-X message control).
const PCI_COMMAND = 0x04;
const PCI_COMMAND_IO = 0x1;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_INTX_DISABLE = 0x400;
const PCI_CAP_ID_MSIX = 0x11;
const MSIX_ENABLE = 0x8000;
const MSIX_MASKALL = 0x4000;

function msixCap(p: PciFunction): number {
  for (let at = p.configRead(0x34, 1); at !== 0; at = p.configRead(at + 1, 1)) {
    if (p.configRead(at, 1) === PCI_CAP_ID_MSIX) return at;
  }
  throw new Error("no MSI-X capability");
}

/** Bind the null driver over `transport` on a new bus and run `n` requests through it. */
async function drive(r: Rig, transport: Transport, n = 16) {
  const bus = new VirtioBus({ memory: r.memory, dma: r.dma, log: (m) => r.logs.push(m) });
  const drv = nullDriver({ deviceId: r.device.deviceId });
  await bus.registerDriver(drv);
  const dev = await bus.addDevice(transport);
  const st = drv.states.get(dev);
  assert.ok(st, "the driver bound");
  const bufs = buffers(r, n);
  bufs.forEach((b, i) => st.vq.addSgs([{ addr: b, len: 64 }], [], i));
  st.vq.kick();
  // Delivery is synchronous in-process: every completion is in by now.
  assert.deepEqual(st.completed, Array.from({ length: n }, (_, i) => i), "all requests completed");
  r.device.setValue(0x1122_3344_5566_7788n);
  assert.equal(st.configChanges, 1, "the config interrupt arrived");
  assert.equal(dev.readConfig((c) => c.le64(0)), 0x1122_3344_5566_7788n);
  return dev;
}

for (const kind of ["pci-intx", "pci-legacy"] as const) {
  const left: Array<[string, (p: PciFunction) => void]> = [
    ["MSI-X enabled and INTx disabled", (p) => {
      p.configWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE);
      p.configWrite(msixCap(p) + 2, 2, MSIX_ENABLE);
    }],
    ["MSI-X enabled", (p) => p.configWrite(msixCap(p) + 2, 2, MSIX_ENABLE | MSIX_MASKALL)],
    ["INTx disabled", (p) => p.configWrite(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE)],
  ];
  for (const [what, leave] of left) {
    Deno.test(`${kind}: an INTx driver takes over a function left with ${what}`, async () => {
      const r = rig(kind);
      const p = r.host as PciFunction;
      leave(p);
      const transport = probePci(p, { msix: false, forceLegacy: kind === "pci-legacy" });
      assert.ok(transport);
      await drive(r, transport);
      assert.equal(p.configRead(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE, 0);
      assert.equal(p.configRead(msixCap(p) + 2, 2) & (MSIX_ENABLE | MSIX_MASKALL), 0);
    });
  }
}

Deno.test("pci-modern: an MSI-X driver takes over a function left masked with INTx enabled", async () => {
  const r = rig("pci-modern");
  const p = r.host as PciFunction;
  p.configWrite(msixCap(p) + 2, 2, MSIX_MASKALL);
  p.barWrite(1, 12, 4, 1); // vector 0 masked
  const transport = probePci(p);
  assert.ok(transport);
  await drive(r, transport);
  const ctl = p.configRead(msixCap(p) + 2, 2);
  assert.equal(ctl & (MSIX_ENABLE | MSIX_MASKALL), MSIX_ENABLE);
  // As Linux does when it enables MSI-X: INTx off.
  assert.equal(p.configRead(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_INTX_DISABLE);
});

for (const kind of KINDS) {
  Deno.test(`${kind}: a new driver takes over a device a previous driver left running`, async () => {
    const r = rig(kind);
    // The previous driver: bound, queues enabled, DRIVER_OK, requests in flight, then gone
    // without a reset; the device has since set DEVICE_NEEDS_RESET.
    const drv = nullDriver({ deviceId: r.device.deviceId });
    await r.bus.registerDriver(drv);
    const old = await r.bus.addDevice(r.transport);
    const st = drv.states.get(old);
    assert.ok(st);
    for (const b of buffers(r, 4)) st.vq.addSgs([{ addr: b, len: 64 }], [], b);
    r.host.core.needsReset("the previous driver's session broke");
    const S = DeviceStatus;
    assert.equal(r.host.core.status & S.DRIVER_OK, S.DRIVER_OK);
    assert.ok(r.host.core.queues[0].ready);
    // A new driver probes the same device afresh.
    const transport = r.host instanceof MmioDevice
      ? probeMmio(r.host)
      : probePci(r.host, { forceLegacy: kind === "pci-legacy", msix: kind !== "pci-intx" });
    assert.ok(transport);
    const dev = await drive(r, transport);
    assert.equal(dev.getStatus() & S.DEVICE_NEEDS_RESET, 0);
    assert.equal(r.device.activations, 2);
  });
}
