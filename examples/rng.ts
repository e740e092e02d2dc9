// virtio-rng: read random bytes from an entropy device over MMIO.
// Run: deno run examples/rng.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { RngDevice, rngDriver } from "../src/devices/rng/mod.ts";

const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
const device = new RngDevice();
const driver = rngDriver();
await bus.registerDriver(driver);
const transport = probeMmio(new MmioDevice(device, memory));
if (transport === undefined) throw new Error("no virtio-mmio device found");
const dev = await bus.addDevice(transport);
const rng = await driver.nextSource();

const bytes = await rng.read(32);
console.log("32 random bytes:", [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""));
const many = await rng.read(1 << 16);
const counts = new Uint32Array(256);
for (const b of many) counts[b]++;
console.log(
  `64 KiB: byte values seen ${counts.filter((c) => c > 0).length}/256, ` +
    `min count ${Math.min(...counts)}, max count ${Math.max(...counts)}`,
);
console.log(`device served ${device.bytesServed} bytes in ${device.requests} requests`);
await bus.removeDevice(dev);
