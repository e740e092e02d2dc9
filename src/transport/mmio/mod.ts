/**
 * virtio over MMIO (spec 4.2): the device side ({@link MmioDevice}, hosting
 * any `VirtioDevice` behind the register file of version 2 or legacy
 * version 1) and the driver side ({@link MmioTransport}, found with
 * {@link probeMmio}).
 *
 * @example Host a device and drive it
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory.ts";
 * import { NullDevice } from "../../devices/null/device.ts";
 * import { MmioDevice, probeMmio } from "./mod.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const dev = new MmioDevice(new NullDevice(), mem);
 * const transport = probeMmio(dev);
 * assert.equal(transport?.deviceId, NullDevice.DEVICE_ID);
 * ```
 *
 * @module
 */

export { type MmioBus, MmioDevice, type MmioDeviceOptions } from "./device.ts";
export { MmioTransport, probeMmio } from "./driver.ts";
export type {
  InterruptSink,
  QueueRegs,
  TransportDeviceState,
  TransportLog,
} from "../device_state.ts";
