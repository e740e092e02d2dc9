// What a member's legacy config access costs through its group owner's
// administration virtqueue (spec 2.12.1.2), against the same access through
// the member's own legacy I/O BAR0 in the same run. Each iteration reads the
// 4-byte `num_pages` of a virtio-balloon member: through the owner, that is
// one command (driver request, notify, device copy and checks, the member's
// legacy header, used entry, interrupt, promise); through BAR0, one register
// read. `deno bench` prints the ratio against the baseline.

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import type { VirtioDriver } from "../src/driver.ts";
import { BalloonDevice } from "../src/devices/balloon/device.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import { VIRTIO_F_ADMIN_VQ } from "../src/generated/common.ts";
import { VirtioBalloonConfig } from "../src/generated/devices/balloon.ts";
import { VIRTIO_PCI_LEGACY_CONFIG_OFF } from "../src/generated/pci.ts";
import {
  type AdminQueue,
  findAdminQueue,
  PciFunction,
  probePci,
} from "../src/transport/pci/mod.ts";
import { PCI_COMMAND, PCI_COMMAND_IO } from "../src/transport/pci/_pci_header.ts";

const MEM = 1 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const balloon = new BalloonDevice();
balloon.setTarget(1234);
const vf = new PciFunction(balloon, memory, { transitional: true });
vf.configWrite(PCI_COMMAND, 2, PCI_COMMAND_IO);
const pf = new PciFunction(new NullDevice(), memory, { groupMembers: [vf] });
let admin: AdminQueue | undefined;
const driver: VirtioDriver = {
  name: "owner",
  idTable: [{ device: NullDevice.DEVICE_ID }],
  featureTable: [VIRTIO_F_ADMIN_VQ],
  probe(dev) {
    admin = findAdminQueue(dev, [{ name: "q0" }]).admin;
  },
  remove(dev) {
    dev.reset();
    dev.delVqs();
  },
};
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
await bus.registerDriver(driver);
await bus.addDevice(probePci(pf)!);
const q = admin!;
await q.listUse(await q.listQuery());
const at = VirtioBalloonConfig.OFFSETS.numPages;
let sink = 0;

Deno.bench("member BAR0 read (legacy I/O)", { group: "legacy read", baseline: true }, () => {
  sink ^= vf.barRead(0, VIRTIO_PCI_LEGACY_CONFIG_OFF + at, 4);
});

Deno.bench("through the owner's admin queue", { group: "legacy read" }, async () => {
  sink ^= (await q.legacyDevCfgRead(1, at, 4))[0];
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
