// virtio rpmsg: our driver (Linux's end) against our device model (the remote processor's end)
// over every transport of MAIN_KINDS. Expected numbers come from Linux's virtio_rpmsg_bus.c
// (512-byte buffers, 256 receive buffers at most, dynamic addresses from 1024, the name service
// at 53), not from the code under test.

import assert from "node:assert/strict";
import { ArgumentError, DeviceError } from "../../src/errors.ts";
import { RpmsgDevice } from "../../src/devices/rpmsg/device.ts";
import { type Rpmsg, rpmsgDriver } from "../../src/devices/rpmsg/driver.ts";
import type { RpmsgChannel, RpmsgChannelEvent } from "../../src/devices/rpmsg/endpoint.ts";
import { MAIN_KINDS } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function up(kind: (typeof MAIN_KINDS)[number], device: RpmsgDevice) {
  const r = rig(kind, device, 4 << 20);
  const driver = rpmsgDriver();
  await r.bus.registerDriver(driver);
  await r.bus.addDevice(r.transport);
  const rpmsg: Rpmsg = await driver.nextRpmsg();
  return { ...r, driver, rpmsg };
}

for (const kind of MAIN_KINDS) {
  Deno.test(`rpmsg over ${kind}: announcements, endpoints, messages both ways`, async () => {
    const device = new RpmsgDevice({ queueSize: 64 });
    // Created before the driver is up: announced at DRIVER_OK.
    const echo = device.createEndpoint("echo", 0x400);
    echo.onMessage((m) => void echo.sendTo(m.src, m.data.map((b) => b ^ 0xff)));
    const { rpmsg } = await up(kind, device);
    assert.equal(rpmsg.rxBuffers, 64);
    assert.equal(rpmsg.maxPayload, 512 - 16);
    const ch = await rpmsg.waitChannel("echo");
    assert.deepEqual(ch, { name: "echo", addr: 0x400 });

    // A quiet endpoint of the driver (as /dev/rpmsg_ctrl makes), dynamic address 1024.
    const ep = rpmsg.createEndpoint("", undefined, { remote: ch.addr });
    assert.equal(ep.addr, 1024);
    for (const text of ["ping", "", "x".repeat(496)]) {
      await ep.send(enc.encode(text));
      const m = await ep.receive();
      assert.equal(m.src, 0x400);
      assert.equal(m.dst, 1024);
      assert.deepEqual(m.data, enc.encode(text).map((b) => b ^ 0xff));
    }
    assert.equal(echo.received, 3);

    // An announced endpoint of the device after DRIVER_OK, then withdrawn.
    const events: [RpmsgChannel, RpmsgChannelEvent][] = [];
    rpmsg.onChannel((c, e) => events.push([c, e]));
    const late = device.createEndpoint("late");
    assert.equal(late.addr, 1025); // the device's own dynamic range; echo is at 0x400 = 1024
    await rpmsg.waitChannel("late");
    late.close();
    // The DESTROY arrives through the ring: wait for it by a message after it.
    const marker = device.createEndpoint("marker", 0x500);
    await rpmsg.waitChannel("marker");
    assert.deepEqual(events, [
      [{ name: "late", addr: 1025 }, "create"],
      [{ name: "late", addr: 1025 }, "destroy"],
      [{ name: "marker", addr: 0x500 }, "create"],
    ]);
    assert.deepEqual(rpmsg.channels.map((c) => c.name).sort(), ["echo", "marker"]);
    marker.close();

    // The driver announces a named endpoint; the device discovers it and writes to it first.
    const svc = rpmsg.createEndpoint("from-linux", 0x700);
    const seen = await device.waitChannel("from-linux");
    assert.equal(seen.addr, 0x700);
    const talker = device.createEndpoint("", undefined, { remote: seen.addr });
    await talker.send(enc.encode("hello linux"));
    const got = await svc.receive();
    assert.equal(dec.decode(got.data), "hello linux");
    assert.equal(svc.remote, talker.addr); // learned from the first message
    await svc.send(enc.encode("hello remote"));
    assert.equal(dec.decode((await talker.receive()).data), "hello remote");

    // Sizes and addresses refused at the API's edge.
    await assert.rejects(
      ep.send(new Uint8Array(497)),
      (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RPMSG_MSGSIZE",
    );
    assert.throws(
      () => device.createEndpoint("x", 53),
      (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RPMSG_ADDR",
    );
    assert.throws(
      () => device.createEndpoint("echo2", 0x400),
      (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RPMSG_ADDR",
    );
    assert.throws(
      () => device.createEndpoint("n".repeat(32)),
      (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RPMSG_NAME",
    );
    await assert.rejects(
      device.createEndpoint("").send(new Uint8Array(1)),
      (e) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RPMSG_NO_REMOTE",
    );
    // Unknown destinations are counted on both ends.
    await ep.sendTo(0x9999, enc.encode("nobody"));
    assert.equal(device.unknownDst, 1);
    await talker.sendTo(0x9999, enc.encode("nobody"));
    assert.equal(rpmsg.unknownDst, 1);
    assert.equal(device.badMessages, 0);
    assert.equal(rpmsg.badMessages, 0);
  });

  Deno.test(`rpmsg over ${kind}: more messages than buffers, in order; reset fails what is queued`, async () => {
    const device = new RpmsgDevice({ queueSize: 8 });
    const src = device.createEndpoint("burst", 0x400);
    const { rpmsg, bus } = await up(kind, device);
    const ch = await rpmsg.waitChannel("burst");
    const ep = rpmsg.createEndpoint("", undefined, { remote: ch.addr });
    const n = 100; // 8 receive buffers: the device waits for each to come back
    const sent = Array.from({ length: n }, (_, i) => src.sendTo(ep.addr, Uint8Array.of(i)));
    for (let i = 0; i < n; i++) assert.deepEqual((await ep.receive()).data, Uint8Array.of(i));
    await Promise.all(sent);
    // Driver to device: more than the tx queue holds.
    const back = Array.from({ length: n }, (_, i) => ep.send(Uint8Array.of(i)));
    await Promise.all(back);
    for (let i = 0; i < n; i++) assert.deepEqual((await src.receive()).data, Uint8Array.of(i));

    // The driver goes away; messages sent meanwhile wait for a driver, and a reset fails them.
    const [dev] = [...bus.devices];
    await bus.removeDevice(dev);
    assert.equal(device.active, false);
    assert.deepEqual(rpmsg.channels, []);
    const stuck = Array.from({ length: 3 }, () => src.sendTo(ep.addr, Uint8Array.of(1)));
    device.reset();
    for (const r of await Promise.allSettled(stuck)) {
      assert.equal(r.status, "rejected");
      const e = (r as PromiseRejectedResult).reason;
      assert.ok(e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET", String(e));
    }
  });
}

Deno.test("rpmsg without the name service: nothing is announced, addresses still work", async () => {
  const device = new RpmsgDevice({ nameService: false, queueSize: 16 });
  const ep0 = device.createEndpoint("quiet", 0x400);
  const { rpmsg } = await up("pci-modern", device);
  const ep = rpmsg.createEndpoint("also-quiet", undefined, { remote: 0x400 });
  await ep.send(enc.encode("hi"));
  assert.equal(dec.decode((await ep0.receive()).data), "hi");
  assert.deepEqual(rpmsg.channels, []);
  assert.deepEqual(device.channels, []);
  // Address 53 is an ordinary (unknown) address without the name service.
  await ep.sendTo(53, new Uint8Array(40));
  assert.equal(device.unknownDst, 1);
});

Deno.test("rpmsg driver: a buffer size that cannot hold a header fails the probe", async () => {
  const r = rig("pci-modern", new RpmsgDevice({ queueSize: 8 }), 1 << 20);
  const driver = rpmsgDriver({ bufferSize: 16 });
  await r.bus.registerDriver(driver);
  await r.bus.addDevice(r.transport);
  assert.equal(driver.devices.size, 0);
  assert.ok(
    r.logs.some((l) =>
      l.includes("ERR_VIRTIO_ARGUMENT_RPMSG_BUFFER_SIZE") || l.includes("17..65536")
    ),
    r.logs.join("\n"),
  );
});
