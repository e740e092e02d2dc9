// virtio-blk: 4 KiB random reads and writes at queue depth 1 and 32 through
// the whole stack (BlkDisk driver, PCI transport, BlkDevice, file storage)
// against plain positioned reads and writes on the same image file, in the
// same run. Each iteration moves 32 blocks of 4 KiB: at depth 1 one request
// at a time (each awaited), at depth 32 all 32 in flight at once. `deno
// bench` prints each line's cost relative to its group's baseline.
//
// Run: deno bench --allow-read --allow-write bench/blk_bench.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import {
  AsyncFileStorage,
  BlkDevice,
  type BlkDisk,
  blkDriver,
  type BlockStorage,
  FileStorage,
} from "../src/devices/blk/mod.ts";

const IMAGE = 64 << 20;
const BLOCK = 4096;
const PER_ITER = 32;
const path = await Deno.makeTempFile({ prefix: "blk-bench-", suffix: ".img" });
{
  const f = await Deno.open(path, { write: true });
  await f.truncate(IMAGE);
  f.close();
}
globalThis.addEventListener("unload", () => Deno.removeSync(path));

// The same pseudo-random block numbers for every line.
const BLOCKS = IMAGE / BLOCK;
const offsets = new Float64Array(4096);
let seed = 12345;
for (let i = 0; i < offsets.length; i++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  offsets[i] = (seed % BLOCKS) * BLOCK;
}
let pos = 0;
const nextOffset = () => offsets[pos++ & (offsets.length - 1)];

async function stack(storage: BlockStorage): Promise<BlkDisk> {
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

const plain = Deno.openSync(path, { read: true, write: true });
const plainAsync = Array.from(
  { length: 4 },
  () => Deno.openSync(path, { read: true, write: true }),
);
const syncDisk = await stack(new FileStorage(path));
const asyncDisk = await stack(new AsyncFileStorage(path, { handles: 4 }));
const bufs = Array.from({ length: PER_ITER }, () => new Uint8Array(BLOCK).fill(0x5a));

function plainRead(off: number, buf: Uint8Array): void {
  plain.seekSync(off, Deno.SeekMode.Start);
  let n = 0;
  while (n < buf.length) n += plain.readSync(buf.subarray(n)) ?? buf.length;
}
function plainWrite(off: number, buf: Uint8Array): void {
  plain.seekSync(off, Deno.SeekMode.Start);
  let n = 0;
  while (n < buf.length) n += plain.writeSync(buf.subarray(n));
}
async function plainAsyncOp(i: number, write: boolean): Promise<void> {
  const f = plainAsync[i & 3];
  // One outstanding op per handle at a time: chain on the handle.
  await f.seek(nextOffset(), Deno.SeekMode.Start);
  if (write) await f.write(bufs[i]);
  else await f.read(bufs[i]);
}

for (const write of [false, true]) {
  const op = write ? "write" : "read";
  const io = (d: BlkDisk, i: number) =>
    write ? d.write(nextOffset() / 512, bufs[i]) : d.read(nextOffset() / 512, bufs[i]);

  Deno.bench(`plain positioned ${op}, sync`, { group: `${op} qd1`, baseline: true }, () => {
    for (let i = 0; i < PER_ITER; i++) {
      write ? plainWrite(nextOffset(), bufs[i]) : plainRead(nextOffset(), bufs[i]);
    }
  });
  Deno.bench(`virtio-blk stack ${op}, FileStorage`, { group: `${op} qd1` }, async () => {
    for (let i = 0; i < PER_ITER; i++) await io(syncDisk, i);
  });
  Deno.bench(`virtio-blk stack ${op}, AsyncFileStorage`, { group: `${op} qd1` }, async () => {
    for (let i = 0; i < PER_ITER; i++) await io(asyncDisk, i);
  });

  Deno.bench(`plain positioned ${op}, sync x32`, { group: `${op} qd32`, baseline: true }, () => {
    for (let i = 0; i < PER_ITER; i++) {
      write ? plainWrite(nextOffset(), bufs[i]) : plainRead(nextOffset(), bufs[i]);
    }
  });
  Deno.bench(`plain positioned ${op}, async 4 handles`, { group: `${op} qd32` }, async () => {
    const chains: Promise<void>[] = [
      Promise.resolve(),
      Promise.resolve(),
      Promise.resolve(),
      Promise.resolve(),
    ];
    for (let i = 0; i < PER_ITER; i++) {
      chains[i & 3] = chains[i & 3].then(() => plainAsyncOp(i, write));
    }
    await Promise.all(chains);
  });
  Deno.bench(
    `virtio-blk stack ${op}, FileStorage, 32 in flight`,
    { group: `${op} qd32` },
    async () => {
      const all: Promise<void>[] = [];
      for (let i = 0; i < PER_ITER; i++) all.push(io(syncDisk, i));
      await Promise.all(all);
    },
  );
  Deno.bench(
    `virtio-blk stack ${op}, AsyncFileStorage, 32 in flight`,
    { group: `${op} qd32` },
    async () => {
      const all: Promise<void>[] = [];
      for (let i = 0; i < PER_ITER; i++) all.push(io(asyncDisk, i));
      await Promise.all(all);
    },
  );
}
