// virtio-caif: a CAIF link between a host (our driver, in the part of Linux's caif_virtio) and a
// modem (the device model) over PCI: frames both ways, with the configured headroom and tailroom.
// Run: deno run examples/caif.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { CaifDevice, caifDriver } from "../src/devices/caif/mod.ts";

const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const te = new TextEncoder();
const td = new TextDecoder();

// The modem echoes every uplink frame back on the downlink, upper-cased.
const modem = new CaifDevice({
  uplink: { headroom: 16, tailroom: 16, mtu: 1500 },
  onFrame: (frame) => modem.send(te.encode(td.decode(frame).toUpperCase())),
});
const driver = caifDriver({ downlinkSize: 16 });
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(modem, memory));
if (transport === undefined) throw new Error("no virtio PCI function found");
const dev = await bus.addDevice(transport);
const link = await driver.nextLink();
console.log(
  `link up: uplink ${JSON.stringify(link.uplink)}, ${modem.downlinkBuffers} downlink buffers lent`,
);

for (const word of ["hello", "modem", "caif"]) {
  await link.send(te.encode(word));
  console.log(`sent ${word}, got back ${td.decode(await link.nextFrame())}`);
}
console.log(`uplink frames ${modem.uplinkFrames}, downlink frames ${link.downlinkFrames}`);
await bus.removeDevice(dev);
