// A driver and a device on one queue in plain memory, for the scenario,
// property and fuzz tests.
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  type DeviceQueue,
  type DriverQueue,
  type QueueAddresses,
  type QueueOptions,
} from "../../src/virtqueue/mod.ts";

export interface Pair {
  mem: GuestMemory;
  alloc: DmaAllocator;
  addrs: QueueAddresses;
  opts: QueueOptions;
  driver: DriverQueue<number>;
  device: DeviceQueue;
}

export interface PairConfig {
  size?: number;
  packed?: boolean;
  eventIdx?: boolean;
  indirect?: boolean;
  inOrder?: boolean;
  memSize?: number;
  shared?: boolean;
  /** Give the driver no allocator for indirect tables. */
  noAlloc?: boolean;
  /** The driver's `preferDirect` option. */
  preferDirect?: boolean;
}

export function pair(cfg: PairConfig = {}): Pair {
  const memSize = cfg.memSize ?? 1 << 20;
  const buffer = cfg.shared ? new SharedArrayBuffer(memSize) : new ArrayBuffer(memSize);
  const mem = GuestMemory.fromBuffer(buffer, 0x10000);
  const alloc = new DmaAllocator(0x10000, memSize);
  const opts: QueueOptions = {
    packed: cfg.packed ?? false,
    eventIdx: cfg.eventIdx ?? false,
    indirect: cfg.indirect ?? false,
    inOrder: cfg.inOrder ?? false,
    index: 3,
  };
  const addrs = allocateQueue(alloc, cfg.size ?? 8, opts.packed);
  const driver = createDriverQueue<number>(
    mem,
    addrs,
    cfg.preferDirect ? { ...opts, preferDirect: true } : opts,
    cfg.noAlloc ? undefined : alloc,
  );
  const device = createDeviceQueue(mem, addrs, opts);
  return { mem, alloc, addrs, opts, driver, device };
}

/** Every combination of layout and ring features. */
export const CONFIGS: PairConfig[] = [];
for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    for (const indirect of [false, true]) {
      for (const inOrder of [false, true]) CONFIGS.push({ packed, eventIdx, indirect, inOrder });
    }
  }
}

export function label(c: PairConfig): string {
  const f = [c.packed ? "packed" : "split"];
  if (c.eventIdx) f.push("EVENT_IDX");
  if (c.indirect) f.push("INDIRECT");
  if (c.inOrder) f.push("IN_ORDER");
  return f.join("+");
}
