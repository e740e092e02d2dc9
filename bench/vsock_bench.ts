// Throughput of one virtio-vsock stream against a loopback TCP socket, in one run: each
// iteration moves 1 MiB from the writer to the reader. vsock: our driver (guest end) writes
// on a connection to our device model (host end) over MMIO, both in this thread, with
// 4 KiB + header rx buffers and credit updates flowing back. Baseline: the same 1 MiB
// through a TCP connection on 127.0.0.1 (the kernel's loopback). `deno bench` prints vsock's
// cost relative to the baseline.

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { type VsockConnection, VsockDevice, VsockDriver } from "../src/devices/vsock/mod.ts";

const MIB = 1 << 20;
const CHUNK = 64 * 1024;
const payload = new Uint8Array(CHUNK).fill(0x5a);

async function drain(c: VsockConnection, bytes: number): Promise<void> {
  const r = c.readable.getReader();
  let got = 0;
  while (got < bytes) {
    const { value, done } = await r.read();
    if (done) throw new Error("vsock stream ended early");
    got += value.length;
  }
  r.releaseLock();
}

// ---- baseline: loopback TCP ----
{
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await accepted;
  const buf = new Uint8Array(CHUNK);
  Deno.bench("1 MiB through loopback TCP", { group: "vsock stream", baseline: true }, async () => {
    const reading = (async () => {
      let got = 0;
      while (got < MIB) {
        const n = await server.read(buf);
        if (n === null) throw new Error("tcp ended early");
        got += n;
      }
    })();
    for (let o = 0; o < MIB; o += CHUNK) {
      for (let w = 0; w < CHUNK;) w += await client.write(payload.subarray(w));
    }
    await reading;
  });
  globalThis.addEventListener("unload", () => {
    client.close();
    server.close();
    listener.close();
  });
}

// ---- vsock over MMIO, guest to host ----
{
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(16 << 20));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (16 << 20) - 0x1000) });
  const driver = new VsockDriver();
  await bus.registerDriver(driver);
  const device = new VsockDevice({ guestCid: 3 });
  const transport = probeMmio(new MmioDevice(device, memory));
  if (transport === undefined) throw new Error("no virtio-mmio device");
  const dev = await bus.addDevice(transport);
  const guest = driver.vsockOf(dev);
  if (guest === undefined) throw new Error("the vsock driver did not bind");
  const listener = device.listen(1234);
  const [host, client] = await Promise.all([listener.accept(), guest.connect(1234)]);
  if (host === null) throw new Error("no connection");
  const w = client.writable.getWriter();
  Deno.bench("1 MiB through virtio-vsock (driver to device, MMIO)", {
    group: "vsock stream",
  }, async () => {
    const reading = drain(host, MIB);
    for (let o = 0; o < MIB; o += CHUNK) await w.write(payload);
    await reading;
  });
}
