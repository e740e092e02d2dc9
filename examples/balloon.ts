// virtio-balloon: the host asks for memory back, the guest driver gives pages
// from its allocator, reports statistics, answers a free page hinting round
// and reports free pages. Run: deno run examples/balloon.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { BalloonDevice, balloonDriver } from "../src/devices/balloon/mod.ts";
import { VirtioBalloonStatTag } from "../src/generated/devices/balloon.ts";

const MEM = 4 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const dma = new DmaAllocator(0x1000, MEM - 0x1000);
const bus = new VirtioBus({ memory, dma });
const device = new BalloonDevice({ packed: false, reclaim: true });
const driver = balloonDriver({ poison: 0 });
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (transport === undefined) throw new Error("no virtio-pci device found");
const dev = await bus.addDevice(transport);
const balloon = await driver.nextBalloon();
const kib = () => `${dma.bytesUsed >> 10} KiB of ${dma.size >> 10} KiB in use`;

console.log(`start: ${kib()}`);
device.setTarget(512); // the host wants 2 MiB back
await balloon.settled();
console.log(`inflated to ${device.actual} pages: ${kib()}`);

const names = Object.fromEntries(Object.entries(VirtioBalloonStatTag).map(([k, v]) => [v, k]));
const stats = await device.requestStats();
for (const [tag, val] of stats) console.log(`  ${names[tag]} = ${val}`);

device.setTarget(128);
await balloon.settled();
console.log(`deflated to ${device.actual} pages: ${kib()}`);

console.log(`out of memory: the guest takes back ${await balloon.oom(64)} pages (DEFLATE_ON_OOM)`);

const id = device.startHinting();
await balloon.settled();
console.log(`hinting round ${id}: ${device.hinted.size} pages hinted free`);
device.doneHinting();
await balloon.settled();

console.log(`reported ${await balloon.reportFreePages(32)} free pages; ${kib()}`);
await bus.removeDevice(dev);
console.log(`removed: ${kib()}`);
