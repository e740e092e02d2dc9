/**
 * The driver of virtio-echo: `echo(bytes)` sends bytes and resolves with
 * what the device wrote back. A reset or removal of the device rejects
 * pending echoes with a `DeviceError` (`ERR_VIRTIO_DEVICE_RESET`, ...).
 *
 * @module
 */
import type { DriverDevice, VirtioDriver, Virtqueue } from "../../src/driver.ts";
import { VIRTIO_ID_ECHO } from "./device.ts";

/** One bound echo device. */
export class Echo {
  /** Made by the driver's probe over the device's request queue. */
  constructor(readonly vq: Virtqueue) {}

  /** Sends `bytes`; resolves with the bytes the device wrote back. */
  echo(bytes: Uint8Array): Promise<Uint8Array> {
    return this.vq.request(bytes, bytes.length);
  }
}

/** The echo driver and the devices it bound. */
export function echoDriver(): VirtioDriver & { readonly bound: Map<DriverDevice, Echo> } {
  const bound = new Map<DriverDevice, Echo>();
  return {
    name: "virtio-echo",
    idTable: [{ device: VIRTIO_ID_ECHO }],
    featureTable: [],
    bound,
    probe(dev) {
      const [vq] = dev.findVqs([{ name: "requests" }]); // no callback: a request queue
      bound.set(dev, new Echo(vq));
    },
    remove(dev) {
      bound.delete(dev);
      dev.reset(); // pending echoes fail now
      dev.delVqs();
    },
  };
}
