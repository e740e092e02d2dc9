// Device models for the worker transport's hostile tests, loaded in a worker
// by spawnWorkerDevice: a null device that crashes its worker.

import { NullDevice } from "../../src/devices/null/device.ts";

/**
 * A null device whose first queue notification throws from a timer: an
 * uncaught error, which ends the worker (the device's own queueNotify
 * errors are caught by the transport and only set NEEDS_RESET).
 */
export class CrashingDevice extends NullDevice {
  /** Crash on the next turn of the worker's event loop. */
  override queueNotify(_index: number): void {
    setTimeout(() => {
      throw new Error("the device crashed");
    }, 0);
  }
}
