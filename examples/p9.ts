// virtio-9p: a host directory shared with a guest (our driver) over PCI, as Linux's
// `mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt` would see it. The guest writes,
// lists, renames and reads back; the host reads the same directory with Deno's API.
// Run: deno run --allow-read --allow-write examples/p9.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { P9Device, p9Driver } from "../src/devices/p9/mod.ts";
import { HostDirFileSystem } from "../src/devices/fs/host_dir_fs.ts";

const dir = await Deno.makeTempDir({ prefix: "typed-virtio-p9-example-" });
try {
  await Deno.writeTextFile(`${dir}/from-host.txt`, "hello from the host\n");
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(8 << 20));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (8 << 20) - 0x1000) });
  const driver = p9Driver({ msize: 65536 });
  await bus.registerDriver(driver);
  const device = new P9Device({ tag: "hostshare", fs: new HostDirFileSystem(dir) });
  const transport = probePci(new PciFunction(device, memory));
  if (transport === undefined) throw new Error("no virtio-pci function found");
  await bus.addDevice(transport);
  const share = await driver.nextMount();
  console.log(`mounted tag "${share.tag}", msize ${share.client.msize}`);

  // The guest side.
  console.log(new TextDecoder().decode(await share.readFile("from-host.txt")).trim());
  await share.mkdir("docs");
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff); // several messages
  await share.writeFile("docs/big.bin", big);
  await share.rename("docs/big.bin", "docs/data.bin");
  await share.symlink("data.bin", "docs/latest");
  console.log("guest sees:", (await share.readdir("docs")).sort().join(", "));
  const back = await share.readFile("docs/data.bin");
  if (back.length !== big.length || back.some((b, i) => b !== big[i])) {
    throw new Error("read back differs");
  }

  // The host side: the same files.
  const host = [...Deno.readDirSync(`${dir}/docs`)].map((e) => e.name).sort();
  console.log("host sees: ", host.join(", "));
  console.log(`host: docs/latest -> ${Deno.readLinkSync(`${dir}/docs/latest`)}`);
  if (Deno.statSync(`${dir}/docs/data.bin`).size !== big.length) throw new Error("size differs");
  console.log(
    `requests served: ${device.requests}, open host handles: ${device.server.openHandles}`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
