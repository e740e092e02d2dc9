/**
 * typed-virtio: virtio for TypeScript.
 *
 * The root entry point: generated zero-copy accessors for every virtio
 * layout under PascalCase spec names with the spec's constants, the error
 * hierarchy, guest memory, the virtqueue engine, the device-model
 * interface, the virtio bus and the driver API. Transports and device types
 * have entry points of their own (`./transport/mmio`, `./devices/blk`, ...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VIRTQ_DESC_F_NEXT, VirtqDesc } from "./mod.ts";
 *
 * const desc = new VirtqDesc(new DataView(new ArrayBuffer(VirtqDesc.SIZE * 4)));
 * desc.at(VirtqDesc.SIZE).addr = 0x1000;
 * desc.len = 512;
 * desc.flags = VIRTQ_DESC_F_NEXT;
 * assert.equal(desc.next, 0);
 * ```
 *
 * @module
 */
export * from "./src/generated/mod.ts";
export * from "./src/errors.ts";
export * from "./src/memory.ts";
export * from "./src/virtqueue/mod.ts";
export * from "./src/device.ts";
export * from "./src/features.ts";
export * from "./src/queue_service.ts";
export * from "./src/bus.ts";
export * from "./src/driver.ts";
export * from "./src/transport/transport.ts";
