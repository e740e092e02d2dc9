// Shared setup for transport, bus and driver tests: guest memory, a null
// device behind each transport, and a log that collects refused accesses.

import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import type { VirtioDevice } from "../../src/device.ts";
import { NullDevice, type NullDeviceOptions } from "../../src/devices/null/device.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { VirtioBus } from "../../src/bus.ts";
import type { Kind } from "./_kinds.ts";

export const MEM_SIZE = 1 << 20;

export interface Rig {
  memory: GuestMemory;
  dma: DmaAllocator;
  device: NullDevice;
  host: MmioDevice | PciFunction;
  transport: Transport;
  logs: string[];
  bus: VirtioBus;
}

export function rig(kind: Kind, options: NullDeviceOptions = {}): Rig {
  // Legacy PCI needs a device type with a transitional id: borrow rng (4).
  const device = new NullDevice(
    kind === "pci-legacy" ? { deviceId: 4, ...options } : options,
  );
  return rigFor(kind, device, MEM_SIZE);
}

/** Any device model behind transport `kind`, with guest memory, a DMA allocator, a bus and a log. */
export function rigFor<D extends VirtioDevice>(
  kind: Kind,
  device: D,
  memSize: number,
): Omit<Rig, "device"> & { device: D } {
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

/** Lay out `n` request buffers of 64 bytes in guest memory. */
export function buffers(r: Rig, n: number): number[] {
  return Array.from({ length: n }, () => r.dma.alloc(64, 8));
}
