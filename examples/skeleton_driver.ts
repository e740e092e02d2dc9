/**
 * A skeleton virtio driver, step by step as Linux's "Writing Virtio
 * Drivers" guide lays one out, written against typed-virtio's driver API.
 * It drives the null device (src/devices/null) behind virtio-mmio, so the
 * whole thing runs: `deno run examples/skeleton_driver.ts`.
 *
 * @module
 */

import { VirtioBus } from "../src/bus.ts";
import type { DriverDevice, VirtioDriver, Virtqueue } from "../src/driver.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { VIRTIO_F_EVENT_IDX } from "../src/generated/common.ts";

// Step 1: the per-device state the driver keeps (Linux: `struct virtio_dummy_dev`).
interface DummyDev {
  vq: Virtqueue<string>;
  done: string[];
}
const devices = new Map<DriverDevice, DummyDev>();

// Step 2: the virtqueue callback. It runs from the device's interrupt.
// Disable callbacks, collect every used buffer, re-enable; if buffers arrived
// while re-enabling, loop (the race Linux's guide warns about).
function recvDone(vq: Virtqueue<string>): void {
  const state = devices.get(vq.dev);
  if (state === undefined) return;
  do {
    vq.disableCb();
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) state.done.push(b.token);
  } while (!vq.enableCb());
}

// Step 3: the driver: id table, feature table, probe, remove, config change.
const dummyDriver: VirtioDriver = {
  name: "virtio-dummy",
  idTable: [{ device: NullDevice.DEVICE_ID }], // the devices this driver binds to
  featureTable: [VIRTIO_F_EVENT_IDX], // device features the driver understands
  probe(vdev: DriverDevice): void {
    // The bus already did ACKNOWLEDGE, DRIVER, feature negotiation and FEATURES_OK.
    // Initialize the virtqueues: one, with its callback.
    const [vq] = vdev.findVqs<string>([{ name: "input", callback: recvDone }]);
    devices.set(vdev, { vq, done: [] });
    // Read config consistently (retried while the generation moves).
    const value = vdev.readConfig((c) => c.le64(0));
    console.log(`${vdev.name}: probed ${vdev.modalias}, config value ${value}`);
    // Tell the device we are ready: DRIVER_OK. Only now may it use buffers.
    vdev.deviceReady();
  },
  remove(vdev: DriverDevice): void {
    const state = devices.get(vdev);
    // Stop the device: after reset, no queue is live and no interrupt comes.
    vdev.reset();
    // Detach every buffer still outstanding and free the queues.
    const left = vdev.delVqs();
    console.log(`${vdev.name}: removed, ${left.length} buffers reclaimed`);
    if (state) devices.delete(vdev);
  },
  configChanged(vdev: DriverDevice): void {
    console.log(`${vdev.name}: config changed to ${vdev.readConfig((c) => c.le64(0))}`);
  },
};

// Step 4: register the driver with the bus; devices come and go independently.
const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
await bus.registerDriver(dummyDriver);

const model = new NullDevice();
const transport = probeMmio(new MmioDevice(model, memory));
if (transport === undefined) throw new Error("no virtio-mmio device found");
const vdev = await bus.addDevice(transport);

// Step 5: use the device: expose buffers, kick, let the callback collect them.
const state = devices.get(vdev);
if (state === undefined) throw new Error("driver did not bind");
const buf = bus.devices[0].dmaContext.dma.alloc(64, 8);
for (const word of ["hello", "virtio", "world"]) {
  state.vq.addSgs([{ addr: buf, len: 64 }], [], word);
}
state.vq.kick();
console.log(`completed: ${state.done.join(" ")}`);
model.setValue(42n);

// Step 6: hot unplug.
await bus.removeDevice(vdev);
