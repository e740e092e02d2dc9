/**
 * The driver-side bookkeeping of bound devices that blk, rng and balloon
 * share: a driver's probe {@link Arrivals.arrive}s each device it binds,
 * and its `nextX()` ({@link Arrivals.next}) resolves with the first one
 * nobody has taken yet, waiting for the next probe when there is none. Its
 * remove {@link Arrivals.depart}s the device, which also forgets it if it
 * was never taken. {@link Arrivals.bound} is the driver's public map.
 *
 * @example
 * ```ts
 * import type { DriverDevice } from "../driver.ts";
 * import { Arrivals } from "./_arrivals.ts";
 *
 * const disks = new Arrivals<string>();
 * const vda = {} as DriverDevice; // what the bus hands to probe
 * const first = disks.next(); // nothing probed yet: waits
 * disks.arrive(vda, "vda");
 * if (await first !== "vda" || disks.bound.get(vda) !== "vda") throw new Error("unreachable");
 * if (disks.depart(vda) !== "vda" || disks.bound.size !== 0) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import type { DriverDevice } from "../driver.ts";

/** Devices bound by a driver, the ones not yet taken in probe order, and the callers waiting for one. */
export class Arrivals<T> {
  /** What the driver bound to each device. */
  readonly bound: Map<DriverDevice, T> = new Map();
  readonly #ready: T[] = [];
  readonly #waiters: ((value: T) => void)[] = [];

  /** The first bound value not yet taken, or the next one to arrive. */
  next(): Promise<T> {
    const v = this.#ready.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Probe bound `value` to `dev`: record it in {@link Arrivals.bound} and
   * hand it to the oldest waiter, or keep it for the next {@link Arrivals.next}.
   */
  arrive(dev: DriverDevice, value: T): void {
    this.bound.set(dev, value);
    const w = this.#waiters.shift();
    if (w !== undefined) w(value);
    else this.#ready.push(value);
  }

  /**
   * `dev` goes away: forget its value and return it for the driver to tear
   * down. When nothing was bound to it, resets the device, deletes its
   * queues and returns undefined.
   */
  depart(dev: DriverDevice): T | undefined {
    const v = this.bound.get(dev);
    this.bound.delete(dev);
    if (v === undefined) {
      dev.reset();
      dev.delVqs();
      return undefined;
    }
    const i = this.#ready.indexOf(v);
    if (i >= 0) this.#ready.splice(i, 1);
    return v;
  }
}
