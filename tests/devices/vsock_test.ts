// virtio-vsock: our driver (the guest end) against our device model (the host end) over
// MMIO and PCI, and the connection layer on its own. Payloads are a counter pattern checked
// byte by byte on arrival; sizes are chosen past every buffer (rx buffers of 4 KiB, a
// buf_alloc of 64 KiB) so credit updates must flow for the transfer to finish.

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { DeviceError } from "../../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import {
  type VsockConnection,
  VsockEndpoint,
  type VsockPacket,
} from "../../src/devices/vsock/connection.ts";
import { VsockDevice } from "../../src/devices/vsock/device.ts";
import { VsockDriver } from "../../src/devices/vsock/driver.ts";
import { VirtioVsockConfig } from "../../src/generated/devices/vsock.ts";

function counter(n: number, start: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (start + i * 7) & 0xff;
  return b;
}

async function readAll(c: VsockConnection): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of c) parts.push(p);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

async function writeAndClose(c: VsockConnection, data: Uint8Array, chunk = 10_000) {
  const w = c.writable.getWriter();
  for (let o = 0; o < data.length; o += chunk) await w.write(data.subarray(o, o + chunk));
  await w.close();
}

for (const kind of ["mmio", "pci"] as const) {
  Deno.test(`vsock over ${kind}: streams both ways, a guest listener, RST, transport reset`, async () => {
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(8 << 20));
    const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (8 << 20) - 0x1000) });
    const driver = new VsockDriver({ bufAlloc: 64 * 1024, rxBuffers: 16 });
    await bus.registerDriver(driver);
    const device = new VsockDevice({ guestCid: 42, bufAlloc: 64 * 1024 });
    const transport = kind === "mmio"
      ? probeMmio(new MmioDevice(device, memory))
      : probePci(new PciFunction(device, memory));
    assert.ok(transport);
    const dev = await bus.addDevice(transport);
    const guest = driver.vsockOf(dev);
    assert.ok(guest);
    assert.equal(guest.guestCid, 42);
    assert.equal(VirtioVsockConfig.SIZE, 8); // 5.10.4: one le64

    // Guest to host port 1234: 300 000 bytes each way at once (an echo that also checks).
    const listener = device.listen(1234);
    const up = counter(300_000, 1);
    const [host, client] = await Promise.all([listener.accept(), guest.connect(1234)]);
    assert.ok(host);
    assert.equal(host.peerCid, 42);
    assert.equal(host.peerPort, client.localPort);
    assert.equal(client.peerCid, 2);
    const down = counter(300_000, 99);
    const [gotUp, gotDown] = await Promise.all([
      readAll(host),
      readAll(client),
      writeAndClose(client, up),
      writeAndClose(host, down),
    ]);
    assert.deepEqual(gotUp, up);
    assert.deepEqual(gotDown, down);

    // Host to a guest listener, three connections at once.
    const gl = guest.listen(5000);
    const conns = await Promise.all([1, 2, 3].map(() => device.connect(5000)));
    const accepted = await Promise.all([1, 2, 3].map(() => gl.accept()));
    await Promise.all(conns.map((c, i) => writeAndClose(c, counter(20_000 * (i + 1), i))));
    const lengths = await Promise.all(accepted.map(async (a) => {
      assert.ok(a);
      const got = await readAll(a);
      return got.length;
    }));
    assert.deepEqual(lengths.sort(), [20_000, 40_000, 60_000]);

    // A port nobody listens on: RST, the connect fails.
    await assert.rejects(
      guest.connect(9),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_REFUSED",
    );
    await assert.rejects(
      device.connect(9),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_REFUSED",
    );

    // Seqpacket (negotiated: our device offers it, our driver takes it): each write is one
    // message, read whole on the other side, across 4 KiB rx buffers; a stream REQUEST to a
    // seqpacket listener is refused; a message over the peer's buf_alloc is refused.
    const sl = device.listen(6000, { seqpacket: true });
    const [hs, gs] = await Promise.all([sl.accept(), guest.connect(6000, 2, { seqpacket: true })]);
    assert.ok(hs);
    const sizes = [1, 5000, 60_000, 3];
    const gw = gs.writable.getWriter();
    const sent = Promise.all(sizes.map((n, i) => gw.write(counter(n, i))));
    const hr = hs.readable.getReader();
    for (const [i, n] of sizes.entries()) {
      const { value } = await hr.read();
      assert.deepEqual(value, counter(n, i), `message ${i} of ${n} bytes`);
    }
    await sent;
    await assert.rejects(
      gw.write(new Uint8Array(64 * 1024 + 1)),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_MSGSIZE",
    );
    await assert.rejects(
      guest.connect(6000),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_REFUSED",
    );
    gs.close();

    // Transport reset with a new CID: both ends lose their connections, the guest re-reads
    // guest_cid.
    const [h2, c2] = await Promise.all([listener.accept(), guest.connect(1234)]);
    assert.ok(h2);
    device.transportReset(77);
    await assert.rejects(
      c2.writable.getWriter().write(new Uint8Array(1)),
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_TRANSPORT_RESET",
    );
    assert.equal(h2.state, "closed");
    assert.equal(guest.transportResets, 1);
    assert.equal(guest.guestCid, 77);
    const [h3, c3] = await Promise.all([listener.accept(), guest.connect(1234)]);
    assert.equal(h3?.peerCid, 77);
    c3.close();
    h3?.close();

    await bus.removeDevice(dev);
    assert.equal(device.endpoint.badPackets, 0);
    assert.equal(device.droppedPackets, 0);
  });
}

Deno.test("vsock connection layer: credit limits what is in flight; reading lets the rest through", async () => {
  const inFlight: VsockPacket[] = [];
  const a = new VsockEndpoint({ localCid: 2, onOutput: () => {} });
  const b = new VsockEndpoint({ localCid: 3, bufAlloc: 1000, onOutput: () => {} });
  const pump = (from: VsockEndpoint, to: VsockEndpoint) => {
    let bytes = 0;
    for (let p = from.nextPacket(300); p; p = from.nextPacket(300)) {
      inFlight.push(p);
      bytes += p.data.length;
      to.receive(p);
    }
    return bytes;
  };
  const l = b.listen(7);
  const connecting = a.connect(3, 7);
  pump(a, b);
  pump(b, a);
  const ca = await connecting;
  const cb = await l.accept();
  assert.ok(cb);
  const w = ca.writable.getWriter();
  const wrote = w.write(counter(2500, 0));
  await Promise.resolve();
  assert.equal(pump(a, b), 1000, "only buf_alloc bytes before the reader reads");
  assert.ok(inFlight.every((p) => p.data.length <= 300));
  const r = cb.readable.getReader();
  let got = 0;
  while (got < 2500) {
    const { value } = await r.read();
    got += value?.length ?? 0;
    pump(b, a); // credit updates
    pump(a, b);
  }
  await wrote;
  assert.equal(got, 2500);
  assert.equal(a.badPackets + b.badPackets, 0);
});
