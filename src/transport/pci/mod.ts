/**
 * virtio over PCI (spec 4.1): the device side ({@link PciFunction}, a PCI
 * function hosting any `VirtioDevice`, modern or transitional) and the
 * driver side ({@link PciTransport}, found with {@link probePci}: modern
 * capabilities first, the legacy I/O header of a transitional device
 * otherwise).
 *
 * @example Host a device and drive it through PCI
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory.ts";
 * import { NullDevice } from "../../devices/null/device.ts";
 * import { PciFunction, probePci } from "./mod.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const fn = new PciFunction(new NullDevice(), mem, { transitional: true });
 * const modern = probePci(fn);
 * assert.equal(modern?.legacy, false);
 * assert.equal(modern?.deviceId, NullDevice.DEVICE_ID);
 * ```
 *
 * @module
 */

export { PciFunction, type PciFunctionOptions } from "./device.ts";
export { type PciBus, type PciProbeOptions, PciTransport, probePci } from "./driver.ts";
export type {
  InterruptSink,
  QueueRegs,
  TransportDeviceState,
  TransportLog,
  TransportQueue,
} from "../device_state.ts";
export {
  AdminCommandError,
  AdminQueue,
  findAdminQueue,
  type LegacyNotifyRegion,
} from "./admin_queue.ts";
