// virtio-vsock: a guest (our driver) and the host (our device model) talk over MMIO.
// The host listens on port 1234 and answers in upper case; the guest connects, sends a line
// and reads the answer; then the host connects to a guest listener.
// Run: deno run examples/vsock.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { VsockDevice, VsockDriver } from "../src/devices/vsock/mod.ts";

const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const driver = new VsockDriver();
await bus.registerDriver(driver);
const device = new VsockDevice({ guestCid: 3 });
const transport = probeMmio(new MmioDevice(device, memory));
if (transport === undefined) throw new Error("no virtio-mmio device found");
const dev = await bus.addDevice(transport);
const guest = driver.vsockOf(dev);
if (guest === undefined) throw new Error("the vsock driver did not bind");

// Host: an upper-casing service on port 1234.
const hostListener = device.listen(1234);
const service = (async () => {
  for await (const conn of hostListener) {
    const out = conn.writable.getWriter();
    for await (const chunk of conn) {
      await out.write(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase()));
    }
    await out.close();
  }
})();

// Guest: connect to the host (CID 2), send, half-close, read the answer.
const conn = await guest.connect(1234);
const w = conn.writable.getWriter();
await w.write(new TextEncoder().encode("hello from the guest"));
await w.close();
let answer = "";
for await (const chunk of conn) answer += new TextDecoder().decode(chunk);
console.log(`guest CID ${guest.guestCid} got: ${answer}`);
if (answer !== "HELLO FROM THE GUEST") throw new Error(`unexpected answer ${answer}`);

// Host to guest: the guest listens on port 5000.
const listener = guest.listen(5000);
const [fromHost, accepted] = await Promise.all([device.connect(5000), listener.accept()]);
if (accepted === null) throw new Error("no connection");
const hw = fromHost.writable.getWriter();
await hw.write(new TextEncoder().encode("hello from the host"));
await hw.close();
let got = "";
for await (const chunk of accepted) got += new TextDecoder().decode(chunk);
console.log(`guest listener got: ${got}`);
if (got !== "hello from the host") throw new Error(`unexpected ${got}`);

await bus.removeDevice(dev);
hostListener.close(); // listeners outlive device resets: close it to end the service
await service;
