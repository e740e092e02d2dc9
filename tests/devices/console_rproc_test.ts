// virtio-console in rproc-serial mode (device id 11, Linux's virtio_rproc_serial in
// drivers/char/virtio_console.c): one port that is not a console, no features of its own, data
// both ways; our driver in the same mode, over MMIO and PCI. Expected ids and features are
// Linux's (VIRTIO_ID_RPROC_SERIAL 11; rproc_serial_features empty).

import assert from "node:assert/strict";
import { ConsoleDevice, ConsoleDriver } from "../../src/devices/console/mod.ts";
import { DeviceError } from "../../src/errors.ts";
import { MAIN_KINDS } from "../transport/_kinds.ts";
import { dec, enc, readBytes, rig } from "./_console_rig.ts";

const VERSION_1 = 32;

for (const kind of MAIN_KINDS) {
  Deno.test(`console/${kind} rproc-serial: one plain port, both directions`, async () => {
    const { device, con, dev } = await rig(kind, { rprocSerial: true }, { rprocSerial: true });
    assert.equal(device.deviceId, 11);
    assert.equal(dev.deviceId, 11);
    // Only transport features: no SIZE (0), MULTIPORT (1) or EMERG_WRITE (2) offered.
    assert.equal(device.features & 0b111n, 0n);
    assert.ok(dev.hasFeature(VERSION_1));
    assert.equal(con.multiport, false);
    const p = con.port(0);
    assert.ok(p);
    assert.equal(p.isConsole, false);
    assert.equal(device.port(0)?.console, false);
    const devPort = device.port(0);
    assert.ok(devPort?.ready);
    await p.writable.getWriter().write(enc("to the remote processor"));
    assert.equal(dec(await readBytes(devPort.readable.getReader(), 23)), "to the remote processor");
    const big = Uint8Array.from({ length: 9000 }, (_, i) => (i * 3) & 0xff);
    const sent = devPort.writable.getWriter().write(big);
    assert.deepEqual(await readBytes(p.readable.getReader(), big.length), big);
    await sent;
  });
}

Deno.test("console rproc-serial: a plain console driver does not bind it, nor the reverse", () => {
  assert.deepEqual(new ConsoleDriver().idTable, [{ device: 3 }]);
  assert.deepEqual(new ConsoleDriver({ rprocSerial: true }).idTable, [{ device: 11 }]);
  assert.deepEqual(new ConsoleDriver({ rprocSerial: true }).featureTable, []);
});

Deno.test("console rproc-serial: more than one port is refused", () => {
  for (const o of [{ maxPorts: 2 }, { ports: [{}, {}] }]) {
    assert.throws(
      () => new ConsoleDevice({ rprocSerial: true, ...o }),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_CONSOLE_OPTION",
    );
  }
});
