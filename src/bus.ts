/**
 * The virtio bus: matches drivers to devices by id table, negotiates
 * features, runs the status handshake of spec 3.1.1 around the driver's
 * `probe`, and calls `remove` when a device or a driver goes away. Devices
 * and drivers may be added and removed in any order; a device without a
 * driver waits (status ACKNOWLEDGE) until one registers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "./bus.ts";
 * import { DmaAllocator, GuestMemory } from "./memory.ts";
 * import { NullDevice } from "./devices/null/device.ts";
 * import { nullDriver } from "./devices/null/driver.ts";
 * import { MmioDevice, probeMmio } from "./transport/mmio/mod.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const transport = probeMmio(new MmioDevice(new NullDevice(), memory));
 * assert.ok(transport);
 * const dev = await bus.addDevice(transport);
 * await bus.registerDriver(nullDriver());
 * assert.equal(dev.driver?.name, "virtio-null");
 * await bus.removeDevice(dev);
 * ```
 *
 * @module
 */

import { binding } from "./_driver_binding.ts";
import { ArgumentError, DeviceError } from "./errors.ts";
import { bit, featureMask } from "./features.ts";
import { DeviceStatus, VIRTIO_F_VERSION_1 } from "./generated/common.ts";
import {
  DEFAULT_TRANSPORT_FEATURES,
  type DmaContext,
  DriverDevice,
  ERR_VIRTIO_DEVICE_REMOVED,
  idMatches,
  type VirtioDriver,
} from "./driver.ts";
import type { Transport } from "./transport/transport.ts";

export { modalias, VIRTIO_DEV_ANY_ID } from "./driver.ts";

/** Options of a {@link VirtioBus}. */
export interface VirtioBusOptions extends DmaContext {
  /** Transport feature bits the bus negotiates on top of a driver's table (default {@link DEFAULT_TRANSPORT_FEATURES}). */
  readonly transportFeatures?: readonly number[];
  /** Where probe failures are reported (default `console.warn`). */
  readonly log?: (message: string) => void;
}

/** A virtio bus: a set of devices, a set of drivers, and the bindings between them. */
export class VirtioBus {
  readonly #dma: DmaContext;
  readonly #transportFeatures: bigint;
  readonly #log: (message: string) => void;
  readonly #devices: DriverDevice[] = [];
  readonly #drivers: VirtioDriver[] = [];
  #nextIndex = 0;
  #lock: Promise<unknown> = Promise.resolve();

  /** A bus whose drivers place rings with `options.dma` in `options.memory`. */
  constructor(options: VirtioBusOptions) {
    this.#dma = { memory: options.memory, dma: options.dma };
    this.#transportFeatures = featureMask(options.transportFeatures ?? DEFAULT_TRANSPORT_FEATURES);
    this.#log = options.log ?? ((m) => console.warn(`virtio bus: ${m}`));
  }

  /** Devices on the bus, bound or not. */
  get devices(): readonly DriverDevice[] {
    return this.#devices;
  }

  /** Registered drivers. */
  get drivers(): readonly VirtioDriver[] {
    return this.#drivers;
  }

  /** Run bus operations one at a time, in call order. */
  #serial<R>(op: () => Promise<R>): Promise<R> {
    const run = this.#lock.then(op, op);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Add a device found by a transport probe: reset it, set ACKNOWLEDGE (3.1.1
   * steps 1-2), and bind the first registered driver that matches. A probe
   * that found nothing (`probeMmio` returning `undefined`) is refused with an
   * {@link ArgumentError} (`ERR_VIRTIO_ARGUMENT_NO_DEVICE`) and uses no
   * device index.
   */
  addDevice(
    transport: Transport | undefined,
    dma: DmaContext = this.#dma,
  ): Promise<DriverDevice> {
    // A probe that found nothing returns undefined (probeMmio, probePci).
    if (typeof transport?.reset !== "function") {
      return Promise.reject(
        new ArgumentError(
          `addDevice: no transport (${
            String(transport)
          }): the probe found no virtio device (wrong magic, version or device id 0)`,
          { code: "ERR_VIRTIO_ARGUMENT_NO_DEVICE" },
        ),
      );
    }
    return this.#serial(async () => {
      // A device that fails its reset takes no index.
      transport.reset();
      const dev = new DriverDevice(transport, dma, this.#nextIndex++);
      dev.addStatus(DeviceStatus.ACKNOWLEDGE);
      this.#devices.push(dev);
      for (const drv of this.#drivers) {
        if (await this.#tryBind(dev, drv)) break;
      }
      return dev;
    });
  }

  /**
   * Remove a device (hot unplug): the driver's `remove` runs, then the bus
   * makes sure the device is reset and its queues deleted. Returns the
   * tokens of buffers the driver left outstanding (empty when its `remove`
   * reclaimed them itself).
   */
  removeDevice(dev: DriverDevice): Promise<unknown[]> {
    return this.#serial(async () => {
      const i = this.#devices.indexOf(dev);
      if (i < 0) return [];
      this.#devices.splice(i, 1);
      const left = await this.#unbind(dev);
      dev.transport.setInterruptHandlers(undefined);
      return left;
    });
  }

  /** Register a driver and bind it to every unbound matching device. */
  registerDriver(driver: VirtioDriver): Promise<void> {
    return this.#serial(async () => {
      if (this.#drivers.includes(driver)) {
        throw new ArgumentError(`driver ${driver.name} is already registered`, {
          code: "ERR_VIRTIO_ARGUMENT_DRIVER_REGISTERED",
        });
      }
      this.#drivers.push(driver);
      for (const dev of this.#devices) {
        if (dev.driver === undefined) await this.#tryBind(dev, driver);
      }
    });
  }

  /** Unregister a driver: unbind its devices, then offer them to the remaining drivers. */
  unregisterDriver(driver: VirtioDriver): Promise<void> {
    return this.#serial(async () => {
      const i = this.#drivers.indexOf(driver);
      if (i < 0) return;
      this.#drivers.splice(i, 1);
      for (const dev of this.#devices) {
        if (dev.driver !== driver) continue;
        await this.#unbind(dev);
        dev.addStatus(DeviceStatus.ACKNOWLEDGE);
        for (const drv of this.#drivers) {
          if (await this.#tryBind(dev, drv)) break;
        }
      }
    });
  }

  async #unbind(dev: DriverDevice): Promise<unknown[]> {
    const drv = dev.driver;
    dev.onConfigChange(undefined);
    // Whatever is pending fails now, not when the driver gets round to it.
    dev.breakQueues(
      new DeviceError(`${dev.name}: the device was removed or its driver unbound`, {
        code: ERR_VIRTIO_DEVICE_REMOVED,
      }),
    );
    if (drv !== undefined) {
      try {
        await drv.remove(dev);
      } catch (e) {
        this.#log(`${dev.name}: ${drv.name}.remove threw: ${errText(e)}`);
      }
    }
    binding.setDriver(dev, undefined);
    // Whatever the driver left behind: no live queue after this (3.3.1).
    dev.reset();
    return dev.delVqs();
  }

  /** 3.1.1 steps 3-8 for `drv` on `dev`; false (device FAILED or untouched) when it does not bind. */
  async #tryBind(dev: DriverDevice, drv: VirtioDriver): Promise<boolean> {
    if (!drv.idTable.some((m) => idMatches(m, dev.deviceId, dev.vendorId))) return false;
    const t = dev.transport;
    const S = DeviceStatus;
    // A previous failed attempt leaves FAILED: start again from reset.
    if (t.getStatus() & (S.FAILED | S.DRIVER)) {
      t.reset();
      dev.addStatus(S.ACKNOWLEDGE);
    }
    dev.addStatus(S.DRIVER);
    try {
      const offered = t.getDeviceFeatures();
      const table = t.legacy && drv.featureTableLegacy ? drv.featureTableLegacy : drv.featureTable;
      const wanted = featureMask(table) | this.#transportFeatures;
      binding.setFeatures(dev, offered & wanted);
      if (t.legacy) {
        binding.setFeatures(dev, dev.features & ~bit(VIRTIO_F_VERSION_1));
      } else if (!(offered & bit(VIRTIO_F_VERSION_1))) {
        throw new DeviceError(
          `${dev.name}: modern transport but the device does not offer VIRTIO_F_VERSION_1`,
          { code: "ERR_VIRTIO_DEVICE_NO_VERSION_1" },
        );
      }
      drv.validate?.(dev);
      t.setDriverFeatures(dev.features);
      if (!t.legacy) {
        dev.addStatus(S.FEATURES_OK);
        if (!(t.getStatus() & S.FEATURES_OK)) {
          throw new DeviceError(
            `${dev.name}: device did not accept features (FEATURES_OK unset, spec 3.1.1)`,
            { code: "ERR_VIRTIO_DEVICE_FEATURES_REFUSED" },
          );
        }
      }
      binding.setDriver(dev, drv);
      dev.onConfigChange(() => {
        if (dev.getStatus() & S.DRIVER_OK) drv.configChanged?.(dev);
      });
      await drv.probe(dev);
      dev.deviceReady();
      return true;
    } catch (e) {
      this.#log(`${dev.name}: probe of ${drv.name} failed: ${errText(e)}`);
      dev.onConfigChange(undefined);
      binding.setDriver(dev, undefined);
      dev.addStatus(S.FAILED);
      dev.delVqs();
      if (!(t.getStatus() & S.FAILED)) dev.addStatus(S.FAILED);
      return false;
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
