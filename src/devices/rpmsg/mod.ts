/**
 * virtio rpmsg, the remote processor messaging bus (device id 7): the device
 * model (the remote processor's end), the driver (Linux's end), and the
 * endpoints and channels both share.
 *
 * @example
 * ```ts
 * import { RpmsgDevice, rpmsgDriver } from "./mod.ts";
 *
 * const device = new RpmsgDevice();
 * const driver = rpmsgDriver();
 * if (device.queueMaxSizes.length !== 2 || driver.name !== "virtio_rpmsg_bus") throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
export * from "./endpoint.ts";
