// Two virtio-net devices joined back to back, each driven by the net driver
// over a different transport: ping a frame across, show a checksum offload
// carried through virtio_net_hdr, take the link down and up, use the
// control queue. Run: deno run examples/net.ts
//
// For frames that leave the process, give each device a DatagramBackend
// (loopback UDP, needs --allow-net and, for Deno.listenDatagram,
// --unstable-net; without that flag node:dgram is used).

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { connectBackToBack, NetDevice, NetDriver } from "../src/devices/net/mod.ts";

const MEM = 8 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
const driver = new NetDriver();
await bus.registerDriver(driver);

const [left, right] = connectBackToBack();
const devA = new NetDevice({ backend: left, mac: "52:54:00:00:00:01" });
const devB = new NetDevice({ backend: right, mac: "52:54:00:00:00:02" });
const tA = probeMmio(new MmioDevice(devA, memory));
const tB = probePci(new PciFunction(devB, memory));
if (!tA || !tB) throw new Error("probe failed");
const a = driver.interfaceOf(await bus.addDevice(tA));
const b = driver.interfaceOf(await bus.addDevice(tB));
if (!a || !b) throw new Error("driver did not bind");
console.log(
  `a: ${a.macString} over MMIO, b: ${b.macString} over PCI, link ${b.linkUp ? "up" : "down"}`,
);

b.onFrame((frame, info) => {
  const type = ((frame[12] << 8) | frame[13]).toString(16);
  console.log(
    `b got ${frame.length} bytes, ethertype 0x${type}, flags ${info.flags}, ` +
      `${info.numBuffers} buffer(s) on queue ${info.queue}`,
  );
});

const frame = new Uint8Array(60);
frame.set(b.mac, 0);
frame.set(a.mac, 6);
frame.set([0x88, 0xb5], 12); // local experimental ethertype
frame.set(new TextEncoder().encode("hello over virtio-net"), 14);
await a.send(frame);

// A partial checksum: b's driver negotiated GUEST_CSUM, so it arrives with NEEDS_CSUM (flags 1).
await a.send(frame, { csum: { start: 14, offset: 4 } });

// A 6000-byte frame spreads over mergeable receive buffers.
const big = new Uint8Array(6000);
big.set(frame.subarray(0, 14));
await a.send(big);

b.onLinkChange((up) => console.log(`b: link ${up ? "up" : "down"}`));
devB.setLinkUp(false);
devB.setLinkUp(true);

await b.setPromisc(false);
await b.addVlan(100);
await b.setMacTable([], ["01:00:5e:00:00:fb"]);
console.log("b's device now filters:", devB.macTable, "VLAN 100:", devB.hasVlan(100));

for (const dev of [...bus.devices]) await bus.removeDevice(dev);
console.log("removed both devices");
