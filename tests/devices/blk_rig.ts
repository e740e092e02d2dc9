// Shared by the blk, rng and balloon tests.
// Wires any device model to the bus over MMIO (v1, v2) or PCI (modern, INTx, legacy),
// like tests/transport/_harness.ts does for the null device.

import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import type { VirtioDevice } from "../../src/device.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio.ts";
import { PciFunction, probePci } from "../../src/transport/pci.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { VirtioBus } from "../../src/bus.ts";

export type Kind = "mmio-v1" | "mmio-v2" | "pci-modern" | "pci-intx" | "pci-legacy";
export const KINDS: readonly Kind[] = [
  "mmio-v1",
  "mmio-v2",
  "pci-modern",
  "pci-intx",
  "pci-legacy",
];
/** The two transports every device test runs on. */
export const MAIN_KINDS: readonly Kind[] = ["mmio-v2", "pci-modern"];

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
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(memSize));
  const dma = new DmaAllocator(0x1000, memSize - 0x1000);
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  let host: MmioDevice | PciFunction;
  let transport: Transport | undefined;
  if (kind === "mmio-v1" || kind === "mmio-v2") {
    const m = new MmioDevice(device, memory, { version: kind === "mmio-v1" ? 1 : 2, log });
    host = m;
    transport = probeMmio(m);
  } else {
    const p = new PciFunction(device, memory, { transitional: kind === "pci-legacy", log });
    host = p;
    transport = probePci(p, { forceLegacy: kind === "pci-legacy", msix: kind !== "pci-intx" });
  }
  if (transport === undefined) throw new Error(`probe failed for ${kind}`);
  const bus = new VirtioBus({ memory, dma, log });
  return { memory, dma, device, host, transport, logs, bus };
}
