// Requests per second through the full stack (driver API, transport, null
// device) per transport, against the bare virtqueue engine in the same run.
// Each iteration sends BATCH requests of one 64-byte readable buffer: add
// them all, kick once, the device completes them, the driver collects them.
// `deno bench` prints each transport's cost relative to the baseline.

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { allocateQueue, queueOptionsFromFeatures } from "../src/virtqueue/layout.ts";
import { createDeviceQueue, createDriverQueue } from "../src/virtqueue/queue.ts";
import { VirtioBus } from "../src/bus.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import type { VirtioDriver, Virtqueue } from "../src/driver.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio.ts";
import { PciFunction, probePci } from "../src/transport/pci.ts";
import type { Transport } from "../src/transport/transport.ts";
import { spawnWorkerDevice } from "../src/transport/worker.ts";

const BATCH = 64;
const SIZE = 1 << 20;
// The same features the bus negotiates with the null device.
const FEATURES = (1n << 32n) | (1n << 29n) | (1n << 28n);

// ---- bare engine ----
{
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(SIZE));
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const opts = queueOptionsFromFeatures(FEATURES, 0);
  const addrs = allocateQueue(dma, 256, false);
  const drv = createDriverQueue<number>(memory, addrs, opts, dma);
  const devq = createDeviceQueue(memory, addrs, opts);
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  const slot = { token: undefined as number | undefined, len: 0 };
  Deno.bench("bare virtqueue engine", { group: "requests", baseline: true, n: 20000 }, () => {
    for (let i = 0; i < BATCH; i++) drv.addSgs(sg, none, i);
    if (drv.kick()) {
      for (let c = devq.pop(); c !== null; c = devq.pop()) devq.addUsed(c, 0);
      devq.needsNotification();
    }
    // What the driver's interrupt path does: drain, then re-arm.
    let n = 0;
    while (drv.getBufInto(slot)) n++;
    drv.enableCb();
    if (n !== BATCH) throw new Error("lost requests");
  });
}

/** A driver whose callback drains the queue without allocating, like a real one. */
function benchDriver(count: () => void): VirtioDriver & { vq?: Virtqueue<number> } {
  const slot = { token: undefined as number | undefined, len: 0 };
  const d: VirtioDriver & { vq?: Virtqueue<number> } = {
    name: "bench",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [],
    probe(dev) {
      [d.vq] = dev.findVqs<number>([{
        name: "requests",
        callback: (q) => {
          while (q.queue.getBufInto(slot)) count();
        },
      }]);
    },
    remove(dev) {
      dev.reset();
      dev.delVqs();
    },
  };
  return d;
}

// ---- full stack, synchronous transports ----
async function stack(name: string, make: (d: NullDevice, m: GuestMemory) => Transport | undefined) {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(SIZE));
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const device = new NullDevice();
  const transport = make(device, memory);
  if (transport === undefined) throw new Error(`${name}: probe failed`);
  const bus = new VirtioBus({ memory, dma });
  let completed = 0;
  const drv = benchDriver(() => completed++);
  await bus.registerDriver(drv);
  await bus.addDevice(transport);
  const vq = drv.vq;
  if (vq === undefined) throw new Error(`${name}: not bound`);
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  Deno.bench(name, { group: "requests", n: 20000 }, () => {
    const before = completed;
    for (let i = 0; i < BATCH; i++) vq.addSgs(sg, none, i);
    vq.kick();
    if (completed - before !== BATCH) throw new Error(`${name}: lost requests`);
  });
}

await stack("mmio v2", (d, m) => probeMmio(new MmioDevice(d, m)));
await stack("mmio v1 (legacy)", (d, m) => probeMmio(new MmioDevice(d, m, { version: 1 })));
await stack("pci modern (MSI-X)", (d, m) => probePci(new PciFunction(d, m)));
await stack("pci modern (INTx)", (d, m) => probePci(new PciFunction(d, m), { msix: false }));

// ---- worker: device in another thread ----
{
  const sab = new SharedArrayBuffer(SIZE);
  const memory = GuestMemory.fromBuffer(sab);
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const host = await spawnWorkerDevice({
    module: new URL("../src/devices/null/device.ts", import.meta.url).href,
    exportName: "NullDevice",
    memory: sab,
  });
  const transport = host.probe();
  if (transport === undefined) throw new Error("worker: probe failed");
  const bus = new VirtioBus({ memory, dma });
  let wake: () => void = () => {};
  let completed = 0;
  const drv = benchDriver(() => {
    completed++;
    wake();
  });
  await bus.registerDriver(drv);
  await bus.addDevice(transport);
  const vq = drv.vq;
  if (vq === undefined) throw new Error("worker: not bound");
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  Deno.bench("worker (mmio over Atomics)", { group: "requests", n: 2000 }, async () => {
    const target = completed + BATCH;
    for (let i = 0; i < BATCH; i++) vq.addSgs(sg, none, i);
    vq.kick();
    while (completed < target) await new Promise<void>((res) => (wake = res));
  });
  globalThis.addEventListener("unload", () => host.terminate());
}
