// virtio-net's UDP backend (left out of the npm build: Deno.listenDatagram or
// node:dgram): two devices, each driven by the net driver, joined over loopback UDP.

import assert from "node:assert/strict";
import { DatagramBackend } from "../../src/devices/net/datagram.ts";
import { DeviceError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { attach, netBus, tcp4, tcpChecksumOk } from "./_net_rig.ts";

Deno.test("net: datagram backend carries frames over loopback UDP", async () => {
  const { memory, bus, logs } = netBus();
  const ua = await DatagramBackend.open();
  const ub = await DatagramBackend.open({ peerPort: ua.localPort });
  ua.connect(ub.localPort);
  try {
    const a = await attach(bus, memory, logs, "mmio-v2", ua, {}, {});
    const b = await attach(bus, memory, logs, "pci-modern", ub, {}, {});
    b.nic.onFrame(undefined);
    const it = b.nic.frames();
    const f = tcp4(b.nic.mac, a.nic.mac, 200);
    await a.nic.send(f, { csum: { start: 34, offset: 16 } });
    const r = await it.next();
    assert.equal(r.done, false);
    assert.equal(r.value?.data.length, f.length);
    assert.ok(r.value && tcpChecksumOk(r.value.data), "completed before leaving the process");
    assert.equal(ua.sent, 1);
    assert.equal(ub.received, 1);
  } finally {
    ua.close();
    ub.close();
  }
  await assert.rejects(
    DatagramBackend.open({ hostname: "0.0.0.0" }),
    coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_BACKEND", /loopback only/),
  );
});
