// The in-process blk stack the blk benchmarks measure (blk driver over PCI
// modern over BlkDevice, split ring of 128, 8 MiB of guest memory) and the
// pseudo-random block offsets they share, so every benchmark against
// pread/pwrite measures the same stack at the same positions.

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { BlkDevice, type BlkDisk, blkDriver, type BlockStorage } from "../src/devices/blk/mod.ts";

/** A disk of the in-process stack over `storage`. */
export async function blkStack(storage: BlockStorage): Promise<BlkDisk> {
  const mem = 8 << 20;
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(mem));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, mem - 0x1000) });
  const driver = blkDriver();
  await bus.registerDriver(driver);
  const device = new BlkDevice({ storage, queueSize: 128, packed: false });
  const t = probePci(new PciFunction(device, memory));
  if (t === undefined) throw new Error("no device");
  await bus.addDevice(t);
  return await driver.nextDisk();
}

/** A function giving 4096 pseudo-random `block`-aligned offsets in an `image`-byte image, in a loop. */
export function blockOffsets(image: number, block: number): () => number {
  const offsets = new Float64Array(4096);
  let seed = 12345;
  for (let i = 0; i < offsets.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    offsets[i] = (seed % (image / block)) * block;
  }
  let pos = 0;
  return () => offsets[pos++ & (offsets.length - 1)];
}
