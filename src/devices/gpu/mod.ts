/**
 * virtio-gpu (spec 5.7), 2D: the device model ({@link GpuDevice}, with
 * scanouts a host can watch and save as PNG), the driver ({@link GpuDriver},
 * a framebuffer API), the EDID builder and the PNG encoder they use.
 *
 * @example
 * ```ts
 * import { GpuDevice, gpuDriver } from "./mod.ts";
 *
 * const device = new GpuDevice({ scanouts: [{ width: 800, height: 600 }] });
 * const driver = gpuDriver();
 * if (device.queueMaxSizes.length !== 2 || driver.name !== "virtio-gpu") throw new Error("unreachable");
 * ```
 *
 * @module
 */
export * from "./device.ts";
export * from "./driver.ts";
export * from "./edid.ts";
export * from "./png.ts";
export * from "./scanout.ts";
