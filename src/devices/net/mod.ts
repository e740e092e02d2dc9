/**
 * virtio-net (spec 5.1): the device model, its backends (back to back in
 * memory, loopback UDP) and the driver.
 *
 * @example
 * ```ts
 * import { connectBackToBack, NetDevice } from "./mod.ts";
 *
 * const [left, right] = connectBackToBack();
 * const dev = new NetDevice({ backend: left });
 * new NetDevice({ backend: right });
 * if (dev.queueMaxSizes.length !== 3) throw new Error("rx, tx, control");
 * ```
 *
 * @module
 */

export * from "./backend.ts";
export * from "./datagram.ts";
export * from "./device.ts";
export * from "./driver.ts";
export * from "./offload.ts";
