/**
 * virtio-balloon, the traditional memory balloon (spec 5.5): the device model and the driver.
 *
 * @example
 * ```ts
 * import { BalloonDevice, balloonDriver } from "./mod.ts";
 *
 * const device = new BalloonDevice({ pageReporting: false });
 * const driver = balloonDriver({ poison: 0xaaaaaaaa });
 * if (device.queueMaxSizes.length !== 4 || driver.name !== "virtio-balloon") {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
