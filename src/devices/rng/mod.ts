/**
 * virtio-rng, the entropy device (spec 5.4): the device model and the driver.
 *
 * @example
 * ```ts
 * import { RngDevice, rngDriver } from "./mod.ts";
 *
 * const device = new RngDevice();
 * const driver = rngDriver();
 * if (device.queueMaxSizes.length !== 1 || driver.name !== "virtio-rng") throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
