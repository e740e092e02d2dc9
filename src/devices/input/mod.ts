/**
 * virtio-input (spec 5.8): the device model with keyboard, mouse and
 * tablet profiles, and the driver.
 *
 * @example
 * ```ts
 * import { mouseProfile, InputDevice } from "./mod.ts";
 *
 * const mouse = new InputDevice(mouseProfile());
 * mouse.moveRel(5, -3);
 * if (mouse.pendingEvents !== 3) throw new Error("unreachable");
 * ```
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
