/**
 * The driver for the {@link NullDevice}: one queue of requests, each a
 * device-readable buffer and an optional device-writable one. Used by the
 * transport tests and benchmarks.
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { NullDevice } from "./device.ts";

/** The state a bound null driver keeps on each device. */
export interface NullDriverState {
  /** The request queue. */
  readonly vq: Virtqueue<unknown>;
  /** Tokens of completed requests, in completion order. */
  readonly completed: unknown[];
  /** Config changes seen. */
  configChanges: number;
  /** Tokens handed back when the device went away. */
  reclaimed: unknown[];
}

/** Options of {@link nullDriver}. */
export interface NullDriverOptions {
  /** Device id to bind to (default {@link NullDevice.DEVICE_ID}). */
  readonly deviceId?: number;
  /** Queue size to ask for (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Feature bits the driver understands (default none). */
  readonly featureTable?: readonly number[];
  /** Collect completions in the callback (default true); false leaves them for the caller. */
  readonly collect?: boolean;
  /** Make probe throw (to test the FAILED path). */
  readonly failProbe?: boolean;
}

/** The null driver plus the per-device state of the devices it has bound. */
export interface NullDriver extends VirtioDriver {
  /** Per-device state, by device. */
  readonly states: Map<DriverDevice, NullDriverState>;
}

/** Build a null driver; its per-device state is in the returned `states` map. */
export function nullDriver(options: NullDriverOptions = {}): NullDriver {
  const states = new Map<DriverDevice, NullDriverState>();
  const collect = options.collect ?? true;
  return {
    name: "virtio-null",
    idTable: [{ device: options.deviceId ?? NullDevice.DEVICE_ID }],
    featureTable: options.featureTable ?? [],
    states,
    probe(dev: DriverDevice): void {
      if (options.failProbe) {
        throw new DeviceError("probe refused by test", { code: "ERR_VIRTIO_DEVICE_NULL_PROBE" });
      }
      const completed: unknown[] = [];
      const [vq] = dev.findVqs([{
        name: "requests",
        size: options.queueSize,
        callback: collect
          ? (q) => {
            for (let b = q.getBuf(); b !== null; b = q.getBuf()) completed.push(b.token);
          }
          : undefined,
      }]);
      states.set(dev, { vq, completed, configChanges: 0, reclaimed: [] });
    },
    remove(dev: DriverDevice): void {
      const st = states.get(dev);
      dev.reset();
      const left = dev.delVqs();
      if (st) st.reclaimed = left;
      states.delete(dev);
    },
    configChanged(dev: DriverDevice): void {
      const st = states.get(dev);
      if (st) st.configChanges++;
    },
  };
}
