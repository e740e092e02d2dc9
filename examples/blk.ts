// virtio-blk end to end: format a tiny disk image with an MBR partition table
// and a small filesystem-like superblock, then read it back through the
// driver, over PCI, as a guest would. Run: deno run --allow-read --allow-write examples/blk.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { BlkDevice, blkDriver, FileStorage } from "../src/devices/blk/mod.ts";

const SIZE = 1 << 20; // a 1 MiB disk
const path = await Deno.makeTempFile({ prefix: "typed-virtio-", suffix: ".img" });
await Deno.writeFile(path, new Uint8Array(SIZE));

const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const storage = new FileStorage(path);
const device = new BlkDevice({ storage, serial: "example-disk", queues: 2, packed: false });
const driver = blkDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (transport === undefined) throw new Error("no virtio-pci device found");
const dev = await bus.addDevice(transport);
const disk = await driver.nextDisk();
console.log(`disk "${await disk.getId()}": ${disk.capacity} sectors, geometry`, disk.geometry);

// Sector 0: an MBR with one Linux partition starting at sector 8.
const mbr = new Uint8Array(512);
const entry = new DataView(mbr.buffer, 446, 16);
entry.setUint8(4, 0x83); // partition type: Linux
entry.setUint32(8, 8, true); // first LBA
entry.setUint32(12, disk.capacity - 8, true); // sectors
mbr[510] = 0x55;
mbr[511] = 0xaa;
await disk.write(0, mbr);

// Sector 8: a superblock of our own "tvfs", and a file's data at sector 16.
const enc = new TextEncoder();
const sb = new Uint8Array(512);
sb.set(enc.encode("TVFS"), 0);
new DataView(sb.buffer).setUint32(4, disk.capacity - 8, true);
sb.set(enc.encode("hello.txt"), 16);
new DataView(sb.buffer).setUint32(48, 16, true); // data sector
const text = enc.encode("Hello from a virtio-blk disk!\n");
new DataView(sb.buffer).setUint32(52, text.length, true);
const data = new Uint8Array(512);
data.set(text);
await Promise.all([disk.write(8, sb), disk.write(16, data)]);
await disk.flush(); // fdatasync on the image
await disk.writeZeroes(64, 64); // and zero a range, as mkfs would

// Read everything back through the driver.
const back = new Uint8Array(512 * 17);
await disk.read(0, back);
const view = new DataView(back.buffer);
if (back[510] !== 0x55 || back[511] !== 0xaa) throw new Error("no MBR signature");
const p = new DataView(back.buffer, 446, 16);
console.log(
  `partition 1: type 0x${p.getUint8(4).toString(16)}, start ${p.getUint32(8, true)}, ` +
    `${p.getUint32(12, true)} sectors`,
);
const magic = new TextDecoder().decode(back.subarray(8 * 512, 8 * 512 + 4));
const name = new TextDecoder().decode(back.subarray(8 * 512 + 16, 8 * 512 + 25));
const at = view.getUint32(8 * 512 + 48, true);
const len = view.getUint32(8 * 512 + 52, true);
const file = new TextDecoder().decode(back.subarray(at * 512, at * 512 + len));
console.log(`filesystem ${magic}: ${name} (${len} bytes): ${file.trim()}`);
console.log(`device stats:`, device.stats);

await bus.removeDevice(dev);
storage.close();
await Deno.remove(path);
