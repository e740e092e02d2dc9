/**
 * The virtqueue engine: split (spec 2.7) and packed (2.8) rings, each with
 * a driver side ({@link DriverQueue}) and a device side
 * ({@link DeviceQueue}) over {@link GuestMemory}, reading and writing the
 * rings through the generated accessors.
 *
 * The device side trusts nothing the driver wrote: every chain is checked
 * (loops, length, indirect tables, addresses, readable-before-writable,
 * index jumps, wrap counters) and a fault is a `QueueError` naming queue,
 * descriptor and cause. The driver side checks what the device returns.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "../memory.ts";
 * import {
 *   allocateQueue,
 *   createDeviceQueue,
 *   createDriverQueue,
 *   queueOptionsFromFeatures,
 * } from "./mod.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const alloc = new DmaAllocator(0, 1 << 16);
 * const opts = queueOptionsFromFeatures(1n << 29n, 0); // VIRTIO_F_EVENT_IDX, split
 * const addrs = allocateQueue(alloc, 8, opts.packed);
 * const driver = createDriverQueue<string>(mem, addrs, opts);
 * const device = createDeviceQueue(mem, addrs, opts);
 *
 * const buf = alloc.alloc(8, 8);
 * driver.addSgs([], [{ addr: buf, len: 8 }], "read");
 * driver.kick();
 * const chain = device.pop();
 * if (chain === null) throw new Error("unreachable");
 * chain.writeUint32(0, 0xdeadbeef);
 * device.addUsed(chain, 4);
 * device.needsNotification();
 * const used = driver.getBuf();
 * if (used?.token !== "read" || mem.readUint32(buf) !== 0xdeadbeef) throw new Error("unreachable");
 * ```
 *
 * @module
 */

export { DescriptorChain } from "./chain.ts";
export {
  allocateQueue,
  checkQueueSize,
  type LegacyLayout,
  MAX_QUEUE_SIZE,
  type QueueAddresses,
  type QueueOptions,
  queueOptionsFromFeatures,
  type RingSizes,
  ringSizes,
  splitLegacyLayout,
} from "./layout.ts";
export {
  createDeviceQueue,
  createDriverQueue,
  type DeviceQueue,
  type DriverQueue,
  type QueuePosition,
  type QueueState,
  type Sg,
  type UsedBuffer,
  type UsedBufferSlot,
} from "./queue.ts";
export { SplitDeviceQueue } from "./split/device.ts";
export { SplitDriverQueue } from "./split/driver.ts";
export { PackedDeviceQueue } from "./packed/device.ts";
export { PackedDriverQueue } from "./packed/driver.ts";
