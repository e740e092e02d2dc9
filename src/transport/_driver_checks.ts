/**
 * Checks the driver-side transports (MMIO, PCI) share while they set a device up.
 *
 * @module
 */

import { TransportError } from "../errors.ts";
import { DeviceStatus } from "../generated/common.ts";

/** Throws when the device set DEVICE_NEEDS_RESET (2.1.2) while queue `index` was set up. */
export function checkNeedsReset(name: string, status: number, index: number): void {
  if (status & DeviceStatus.DEVICE_NEEDS_RESET) {
    throw new TransportError(
      `${name}: device set DEVICE_NEEDS_RESET while queue ${index} was set up`,
      { code: "ERR_VIRTIO_TRANSPORT_NEEDS_RESET" },
    );
  }
}
