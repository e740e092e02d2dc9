// Shared by the blk, rng and balloon tests.
// Wires any device model to the bus over MMIO (v1, v2) or PCI (modern, INTx, legacy),
// through tests/transport/_rig.ts (rigFor), which the null-device tests use too.

import type { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import type { VirtioDevice } from "../../src/device.ts";
import type { MmioDevice } from "../../src/transport/mmio/mod.ts";
import type { PciFunction } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import type { VirtioBus } from "../../src/bus.ts";
import type { Kind } from "../transport/_kinds.ts";
import { rigFor } from "../transport/_rig.ts";

export interface Rig<D extends VirtioDevice> {
  memory: GuestMemory;
  dma: DmaAllocator;
  device: D;
  host: MmioDevice | PciFunction;
  transport: Transport;
  logs: string[];
  bus: VirtioBus;
}

export function rig<D extends VirtioDevice>(kind: Kind, device: D, memSize = 4 << 20): Rig<D> {
  return rigFor(kind, device, memSize);
}
