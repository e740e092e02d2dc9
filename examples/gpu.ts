// virtio-gpu: draw through our driver's framebuffer API into our device over PCI, watch the
// frames arrive on the host side, and save the scanout as a PNG file.
// Run: deno run --allow-write examples/gpu.ts [out.png]

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { GpuDevice, gpuDriver } from "../src/devices/gpu/mod.ts";

const out = Deno.args[0] ?? "gpu.png";
const MEM = 8 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
const device = new GpuDevice({ scanouts: [{ width: 320, height: 200 }] });
device.onFlush(({ scanout, rect }) =>
  console.log(
    `host: scanout ${scanout.id} flushed ${rect.width}x${rect.height} at ${rect.x},${rect.y}`,
  )
);
const driver = gpuDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (transport === undefined) throw new Error("no virtio PCI function found");
const dev = await bus.addDevice(transport);
const display = driver.displayOf(dev);
if (display === undefined) throw new Error("the gpu driver did not bind");
const mode = display.scanouts[0];
console.log(
  `guest: scanout 0 is ${mode.width}x${mode.height}, EDID of ${display.edid(0)?.length} bytes`,
);

// A framebuffer the size of the scanout, shown on it.
const fb = await display.createFramebuffer();
await fb.show(0);

// Eight colour bars, then a checkerboard in the lower third.
const bars = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000];
const barWidth = fb.width / bars.length;
bars.forEach((c, i) => fb.fillRect(Math.round(i * barWidth), 0, Math.ceil(barWidth), 134, c));
for (let y = 134; y < fb.height; y += 11) {
  for (let x = 0; x < fb.width; x += 11) {
    fb.fillRect(x, y, 11, 11, (x / 11 + (y - 134) / 11) % 2 ? 0x202020 : 0xe0e0e0);
  }
}
await fb.flush(); // TRANSFER_TO_HOST_2D + RESOURCE_FLUSH of the whole framebuffer

// A partial update: only the rectangle flushed reaches the host.
fb.fillRect(140, 80, 40, 40, 0xff8000);
await fb.flush({ x: 140, y: 80, width: 40, height: 40 });

// A 64x64 cursor image on the cursor queue.
const cursor = await display.createFramebuffer({ width: 64, height: 64 });
cursor.fill(0x000000);
cursor.fillRect(0, 0, 16, 16, 0xffffff);
await cursor.flush();
await display.updateCursor(cursor, { x: 100, y: 50, hotX: 0, hotY: 0 });
await display.moveCursor(0, 120, 60);
console.log(
  `host: cursor at ${device.cursor.x},${device.cursor.y} from resource ${device.cursor.resourceId}`,
);

const png = device.scanouts[0].png();
if (png === undefined) throw new Error("scanout 0 shows nothing");
await Deno.writeFile(out, png);
console.log(`host: saved ${out} (${png.length} bytes, ${device.scanouts[0].flushes} flushes)`);
console.log(`guest: ${display.fencesCompleted} fenced commands completed`);

await cursor.destroy();
await fb.destroy();
await bus.removeDevice(dev);
