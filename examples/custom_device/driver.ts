/**
 * The driver of the made-up virtio-thermo, the tutorial's driver: reads
 * config through the generated accessor and sends each reading request
 * with `Virtqueue.request` (bytes out, the device's bytes back; it fails
 * fast with a `DeviceError` once the device is reset or removed).
 *
 * @module
 */
import type { DriverDevice, VirtioDriver, Virtqueue } from "../../src/driver.ts";
import {
  VIRTIO_THERMO_F_TIMESTAMP,
  VirtioThermoConfig,
  VirtioThermoReading,
} from "./generated/schema.ts";
import { VIRTIO_ID_THERMO } from "./device.ts";

/** One reading as the driver returns it. */
export interface Reading {
  /** The sensor index. */
  sensor: number;
  /** `VIRTIO_THERMO_S_*`. */
  status: number;
  /** Thousandths of a degree. */
  millidegrees: number;
  /** Time of the reading (0 without `VIRTIO_THERMO_F_TIMESTAMP`). */
  timestampNs: bigint;
}

/** One bound thermometer bank. */
export class Thermometer {
  /** Number of sensors (config). */
  readonly sensors: number;
  /** The bank's name (config). */
  readonly name: string;

  /** Made by the driver's probe. */
  constructor(readonly dev: DriverDevice, readonly vq: Virtqueue) {
    const cfg = new VirtioThermoConfig(dev.configSnapshot(VirtioThermoConfig.SIZE));
    this.sensors = cfg.numSensors;
    this.name = new TextDecoder().decode(cfg.nameBytes()).replace(/\0+$/, "");
  }

  /** Reads sensor `sensor`. */
  async read(sensor: number): Promise<Reading> {
    const req = new Uint8Array(2);
    new DataView(req.buffer).setUint16(0, sensor, true); // le16
    const got = await this.vq.request(req, VirtioThermoReading.SIZE);
    const r = new VirtioThermoReading(new DataView(got.buffer, got.byteOffset, got.byteLength));
    return {
      sensor: r.sensor,
      status: r.status,
      millidegrees: r.millidegrees,
      timestampNs: r.timestampNs,
    };
  }
}

/** The virtio-thermo driver and the banks it bound. */
export function thermoDriver(): VirtioDriver & { readonly bound: Map<DriverDevice, Thermometer> } {
  const bound = new Map<DriverDevice, Thermometer>();
  return {
    name: "virtio-thermo",
    idTable: [{ device: VIRTIO_ID_THERMO }],
    featureTable: [VIRTIO_THERMO_F_TIMESTAMP],
    bound,
    probe(dev) {
      const [vq] = dev.findVqs([{ name: "requests" }]); // no callback: a request queue
      bound.set(dev, new Thermometer(dev, vq));
    }, // the bus sets DRIVER_OK after probe returns
    remove(dev) {
      bound.delete(dev);
      dev.reset(); // pending reads fail with ERR_VIRTIO_DEVICE_REMOVED
      dev.delVqs(); // and their buffers come back
    },
  };
}
