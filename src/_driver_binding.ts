/**
 * What only the bus changes on a {@link DriverDevice}: the negotiated
 * features and the bound driver. Users read them (`dev.features`,
 * `dev.driver`); `src/bus.ts` sets them through {@link binding}, whose
 * functions DriverDevice's `static` block puts in place when `driver.ts`
 * loads (before any device exists).
 *
 * @module
 */

import type { DriverDevice, VirtioDriver } from "./driver.ts";

/** The bus's access to a device's binding. */
export const binding: {
  /** Sets the negotiated features (3.1.1 step 5, before FEATURES_OK). */
  setFeatures: (dev: DriverDevice, features: bigint) => void;
  /** Binds `driver` to the device, or unbinds (undefined). */
  setDriver: (dev: DriverDevice, driver: VirtioDriver | undefined) => void;
} = { setFeatures: notLoaded, setDriver: notLoaded };

function notLoaded(): void {
  // Replaced by DriverDevice's static block: no DriverDevice exists before driver.ts has run.
}
