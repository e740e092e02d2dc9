// Sequential read of an 8 MiB host file through virtio-9p, in one run. p9: our driver's
// readFile (Twalk, Tlopen, Tread after Tread of msize - 24 bytes, Tclunk) through our
// P9Device over PCI modern, both in this thread, on a HostDirFileSystem over a temporary
// directory; at Linux's default msize (128 KiB) and at 512 KiB. Baseline: Deno.readFile of
// the same file (and Deno.readFileSync, which skips the async thread pool). `deno bench` prints
// the 9P path's cost relative to the baseline.
// (The Linux guest in v86 reading through the mount is measured by
// bench/_p9_v86_compare.ts, which boots a guest.)

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { P9Device, p9Driver, type P9Mount } from "../src/devices/p9/mod.ts";
import { HostDirFileSystem } from "../src/devices/fs/host_dir_fs.ts";

const SIZE = 8 << 20;
const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-bench-" });
const data = new Uint8Array(SIZE).map((_, i) => (i * 7) & 0xff);
Deno.writeFileSync(`${dir}/file.bin`, data);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

async function mount(msize: number): Promise<P9Mount> {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(32 << 20));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (32 << 20) - 0x1000) });
  const driver = p9Driver({ msize });
  await bus.registerDriver(driver);
  const device = new P9Device({ tag: "bench", fs: new HostDirFileSystem(dir) });
  const t = probePci(new PciFunction(device, memory));
  if (t === undefined) throw new Error("no PCI function");
  await bus.addDevice(t);
  return await driver.nextMount();
}

Deno.bench("8 MiB: Deno.readFile", { group: "p9 sequential read", baseline: true }, async () => {
  const b = await Deno.readFile(`${dir}/file.bin`);
  if (b.length !== SIZE) throw new Error("short read");
});

Deno.bench("8 MiB: Deno.readFileSync", { group: "p9 sequential read" }, () => {
  const b = Deno.readFileSync(`${dir}/file.bin`);
  if (b.length !== SIZE) throw new Error("short read");
});

for (const msize of [128 * 1024, 512 * 1024]) {
  const m = await mount(msize);
  Deno.bench(`8 MiB: p9 driver over PCI, msize ${msize >> 10} KiB`, {
    group: "p9 sequential read",
  }, async () => {
    const b = await m.readFile("file.bin");
    if (b.length !== SIZE) throw new Error("short read");
  });
}
