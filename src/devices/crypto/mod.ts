/**
 * virtio-crypto, the crypto device (spec 5.9): the device model on
 * node:crypto and the driver with its session API.
 *
 * @example
 * ```ts
 * import { CryptoDevice, cryptoDriver } from "./mod.ts";
 *
 * const device = new CryptoDevice();
 * const driver = cryptoDriver();
 * if (device.queueMaxSizes.length !== 2 || driver.name !== "virtio-crypto") throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
