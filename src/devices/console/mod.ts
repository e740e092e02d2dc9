/**
 * virtio-console (spec 5.3): the device model with ports as web streams,
 * a stdio backend, and the driver.
 *
 * @example
 * ```ts
 * import { ConsoleDevice } from "./mod.ts";
 *
 * const dev = new ConsoleDevice({ size: { cols: 120, rows: 40 } });
 * if (dev.size.cols !== 120) throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
export * from "./stdio.ts";
