/**
 * virtio-input (spec 5.8): the device model with keyboard, mouse and
 * tablet profiles, and the driver.
 *
 * @example
 * ```ts
 * import { mouseProfile, VirtioInputDevice } from "./mod.ts";
 *
 * const mouse = new VirtioInputDevice(mouseProfile());
 * mouse.moveRel(5, -3);
 * if (mouse.pendingEvents !== 3) throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
