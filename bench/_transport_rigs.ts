// Rigs shared by bench/transport_bench.ts and bench/_transport_compare.ts:
// the bare virtqueue engine and the full stack (bus, driver API, transport,
// null device) per transport. One "round" sends BATCH requests of one
// 64-byte readable buffer: add them all, kick once, the device completes
// them, the driver's callback collects them.

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { allocateQueue, queueOptionsFromFeatures } from "../src/virtqueue/layout.ts";
import { createDeviceQueue, createDriverQueue } from "../src/virtqueue/queue.ts";
import { VirtioBus } from "../src/bus.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import type { VirtioDriver, Virtqueue } from "../src/driver.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import type { Transport } from "../src/transport/transport.ts";
import {
  spawnWorkerDevice,
  type WorkerDevice,
  type WorkerDeviceOptions,
} from "../src/transport/worker.ts";

export const BATCH = 64;
const SIZE = 1 << 20;
// The same features the bus negotiates with the null device.
const FEATURES = (1n << 32n) | (1n << 29n) | (1n << 28n);

/** `rounds` rounds of BATCH requests through the bare engine. */
export function bareRig(
  batch: number = BATCH,
  options: { shared?: boolean; queueSize?: number } = {},
): (rounds: number) => void {
  const memory = GuestMemory.fromBuffer(
    options.shared ? new SharedArrayBuffer(SIZE) : new ArrayBuffer(SIZE),
  );
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const opts = queueOptionsFromFeatures(FEATURES, 0);
  const addrs = allocateQueue(dma, options.queueSize ?? 256, false);
  const drv = createDriverQueue<number>(memory, addrs, opts, dma);
  const devq = createDeviceQueue(memory, addrs, opts);
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  const slot = { token: undefined as number | undefined, len: 0 };
  return (rounds) => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < batch; i++) drv.addSgs(sg, none, i);
      if (drv.kick()) {
        for (let c = devq.pop(); c !== null; c = devq.pop()) devq.addUsed(c, 0);
        devq.needsNotification();
      }
      // What the driver's interrupt path does: drain, then re-arm.
      let n = 0;
      while (drv.getBufInto(slot)) n++;
      drv.enableCb();
      if (n !== batch) throw new Error("lost requests");
    }
  };
}

/**
 * A driver whose callback drains the queue without allocating, like a real
 * one, and counts what it collected as the bare rig does (one local counter,
 * reported once per callback).
 */
function benchDriver(
  count: (n: number) => void,
  deviceId: number = NullDevice.DEVICE_ID,
  size?: number,
): VirtioDriver & { vq?: Virtqueue<number> } {
  const slot = { token: undefined as number | undefined, len: 0 };
  const d: VirtioDriver & { vq?: Virtqueue<number> } = {
    name: "bench",
    idTable: [{ device: deviceId }],
    featureTable: [],
    probe(dev) {
      [d.vq] = dev.findVqs<number>([{
        name: "requests",
        size,
        callback: (q) => {
          let n = 0;
          while (q.queue.getBufInto(slot)) n++;
          count(n);
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

/** A synchronous transport over a null device. */
export interface StackKind {
  readonly name: string;
  readonly deviceId?: number;
  readonly make: (d: NullDevice, m: GuestMemory) => Transport | undefined;
}

/** The synchronous transports the rigs know. */
export const STACKS: readonly StackKind[] = [
  { name: "mmio v2", make: (d, m) => probeMmio(new MmioDevice(d, m)) },
  { name: "mmio v1 (legacy)", make: (d, m) => probeMmio(new MmioDevice(d, m, { version: 1 })) },
  { name: "pci modern (MSI-X)", make: (d, m) => probePci(new PciFunction(d, m)) },
  { name: "pci modern (INTx)", make: (d, m) => probePci(new PciFunction(d, m), { msix: false }) },
  {
    name: "pci legacy (INTx)",
    // Legacy PCI needs a device type with a transitional id: borrow rng (4).
    deviceId: 4,
    make: (d, m) =>
      probePci(new PciFunction(d, m, { transitional: true }), { forceLegacy: true, msix: false }),
  },
];

/** `rounds` rounds of BATCH requests through the full stack over a synchronous transport. */
export async function stackRig(
  { name, make, deviceId }: StackKind,
  batch: number = BATCH,
): Promise<(rounds: number) => void> {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(SIZE));
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const device = new NullDevice(deviceId === undefined ? {} : { deviceId });
  const transport = make(device, memory);
  if (transport === undefined) throw new Error(`${name}: probe failed`);
  const bus = new VirtioBus({ memory, dma });
  let completed = 0;
  const drv = benchDriver((n) => (completed += n), device.deviceId);
  await bus.registerDriver(drv);
  await bus.addDevice(transport);
  const vq = drv.vq;
  if (vq === undefined) throw new Error(`${name}: not bound`);
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  return (rounds) => {
    for (let r = 0; r < rounds; r++) {
      const before = completed;
      for (let i = 0; i < batch; i++) vq.addSgs(sg, none, i);
      vq.kick();
      if (completed - before !== batch) throw new Error(`${name}: lost requests`);
    }
  };
}

/**
 * The worker rig: `run(rounds)` resolves when every request of `rounds`
 * rounds came back, one round in flight at a time (kick, wait for the
 * interrupt, next round); `stream(rounds, depth)` keeps `depth` rounds in
 * flight (a new batch as soon as one completes), as a streaming driver does,
 * so that neither side waits for the other while there is work.
 */
export async function workerRig(
  batch: number = BATCH,
  options: WorkerRigOptions = {},
): Promise<
  {
    run: (rounds: number) => Promise<void>;
    stream: (rounds: number, depth?: number) => Promise<void>;
    poll: (rounds: number, depth: number) => void;
    host: WorkerDevice;
  }
> {
  const sab = new SharedArrayBuffer(SIZE);
  const memory = GuestMemory.fromBuffer(sab);
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const { queueSize, ...spawn } = options;
  const host = await spawnWorkerDevice({
    module: new URL("../src/devices/null/device.ts", import.meta.url).href,
    exportName: "NullDevice",
    args: queueSize === undefined ? [] : [{ queueSize }],
    memory: sab,
    ...spawn,
  });
  const transport = host.probe();
  if (transport === undefined) throw new Error("worker: probe failed");
  const bus = new VirtioBus({ memory, dma });
  let wake: () => void = () => {};
  let completed = 0;
  let target = 0;
  const drv = benchDriver(
    (n) => {
      completed += n;
      if (completed >= target) wake();
    },
    NullDevice.DEVICE_ID,
    queueSize,
  );
  await bus.registerDriver(drv);
  await bus.addDevice(transport);
  const vq = drv.vq;
  if (vq === undefined) throw new Error("worker: not bound");
  const sg = [{ addr: dma.alloc(64, 8), len: 64 }];
  const none: { addr: number; len: number }[] = [];
  const run = async (rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      target = completed + batch;
      for (let i = 0; i < batch; i++) vq.addSgs(sg, none, i);
      vq.kick();
      while (completed < target) await new Promise<void>((res) => (wake = res));
    }
  };
  const stream = async (rounds: number, depth = 3) => {
    const end = completed + rounds * batch;
    let sent = 0;
    while (completed < end) {
      // Refill to `depth` batches in flight, then wait for some to come back.
      while (
        sent < rounds && (sent + 1) * batch - (completed - end + rounds * batch) <= depth * batch
      ) {
        for (let i = 0; i < batch; i++) vq.addSgs(sg, none, i);
        vq.kick();
        sent++;
      }
      target = Math.min(end, completed + batch);
      while (completed < target) await new Promise<void>((res) => (wake = res));
    }
  };
  // NAPI's loop: interrupts stay off while the driver polls; it collects used
  // buffers itself whenever it has room to submit more, and only when it has
  // nothing to do re-arms (for 3/4 of what is outstanding: EVENT_IDX) and
  // blocks until the interrupt. Needs `interruptWait: "blocking"`.
  const slot = { token: undefined as number | undefined, len: 0 };
  const poll = (rounds: number, depth: number) => {
    const start = completed;
    const end = start + rounds * batch;
    let sent = 0;
    vq.disableCb();
    while (completed < end) {
      // Every batch there is room for, then one kick (as blk-mq's last request
      // of a dispatch, or virtio-net's xmit_more, kick once for many).
      let added = false;
      while (sent < rounds && (sent + 1) * batch - (completed - start) <= depth * batch) {
        for (let i = 0; i < batch; i++) vq.addSgs(sg, none, i);
        sent++;
        added = true;
      }
      if (added) vq.kick();
      let n = 0;
      while (vq.queue.getBufInto(slot)) n++;
      completed += n;
      if (n > 0 || completed >= end) continue;
      // Nothing back and nothing to send: sleep until the interrupt, whose
      // routine runs the callback (which collects).
      if (vq.enableCbDelayed()) {
        if (!host.bus.waitInterrupt(5000)) throw new Error("worker: no interrupt within 5 s");
      }
      vq.disableCb();
    }
    vq.enableCb();
  };
  return { run, stream, poll, host };
}

/** Options of {@link workerRig}: the worker device's, and the null device's queue size. */
export type WorkerRigOptions =
  & Pick<WorkerDeviceOptions, "spinMs" | "irqSpinMs" | "blockingWait" | "interruptWait">
  & { queueSize?: number };
