/**
 * virtio-blk (spec 5.2): the device model, its storage backends and the driver.
 *
 * @example
 * ```ts
 * import { BlkDevice, blkDriver, MemoryStorage } from "./mod.ts";
 *
 * const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(1 << 16)) });
 * const driver = blkDriver();
 * if (device.capacity !== 128 || driver.name !== "virtio-blk") throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
export * from "./request.ts";
export * from "./file_storage.ts";
export * from "./geometry.ts";
export * from "./posix_file_storage.ts";
export * from "./uring_file_storage.ts";
