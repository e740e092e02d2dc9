// virtio-scsi end to end, in one process: a SCSI host with two LUNs backed by
// blk storages, driven over PCI by our driver as a guest would: REPORT LUNS,
// INQUIRY, block I/O, a CHECK CONDITION with its sense, a LUN hot-added and its
// event, and task management. Run: deno run examples/scsi.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { MemoryStorage } from "../src/devices/blk/mod.ts";
import { ScsiCommandError, ScsiDevice, scsiDriver } from "../src/devices/scsi/mod.ts";
import {
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
} from "../src/generated/devices/scsi.ts";

const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const disk0 = new Uint8Array(1 << 20);
const device = new ScsiDevice({
  luns: [
    { lun: 0, storage: new MemoryStorage(disk0), serial: "DISK0" },
    { lun: 1, storage: new MemoryStorage(new Uint8Array(256 << 10)), readOnly: true },
  ],
});
const driver = scsiDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (transport === undefined) throw new Error("no virtio-pci device found");
await bus.addDevice(transport);
const host = await driver.nextHost();
host.onEvent((e) => {
  const what = e.event === VIRTIO_SCSI_T_TRANSPORT_RESET ? "transport reset" : `event ${e.event}`;
  console.log(`event: ${what} on LUN ${e.lun}, reason ${e.reason}${e.missed ? " (missed)" : ""}`);
});

console.log("LUNs:", await host.reportLuns());
const inq = await host.inquiry(0);
console.log(`LUN 0: ${inq.vendor} ${inq.product} ${inq.revision}, serial ${inq.serial}`);

const disk = await host.disk(0);
console.log(
  `LUN 0: ${disk.blocks} blocks of ${disk.blockSize} bytes, write cache ${disk.writeback}`,
);
const text = new TextEncoder().encode("Hello from a virtio-scsi LUN!\n");
const block = new Uint8Array(disk.blockSize);
block.set(text);
await disk.write(10, block);
await disk.flush();
console.log(
  "in the storage:",
  JSON.stringify(new TextDecoder().decode(disk0.subarray(5120, 5120 + text.length))),
);

// A write to the read-only LUN 1, sent as a raw CDB: CHECK CONDITION, DATA PROTECT.
try {
  await host.execute(1, Uint8Array.of(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), { dataOut: block });
} catch (e) {
  if (!(e instanceof ScsiCommandError)) throw e;
  console.log(`LUN 1 refused the write: sense key ${e.senseKey}, ASC 0x${e.asc.toString(16)}`);
}

// A LUN added while the driver runs: the host hears of it on the event queue.
device.addLun(2, { storage: new MemoryStorage(new Uint8Array(64 << 10)) });
await new Promise((r) => setTimeout(r, 0));
console.log("LUNs now:", await host.reportLuns());
console.log("LUN reset:", await host.taskManagement(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 2));
