/**
 * The device model of the made-up virtio-thermo (a bank of thermometers),
 * the tutorial's device: config from the generated `VirtioThermoConfig`,
 * one request queue served by `serveQueue` through `ConfigDevice.serve`.
 *
 * Each request: a device-readable le16 sensor index, then a device-writable
 * `virtio_thermo_reading`. A request too short to answer is refused: the
 * device needs a reset (DEVICE_NEEDS_RESET), it never throws into its
 * transport.
 *
 * @module
 */
import { type ChainServer, ConfigDevice, type ConfigWidth } from "../../src/device.ts";
import { DeviceError } from "../../src/errors.ts";
import { bit, hasFeature } from "../../src/features.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  VIRTIO_THERMO_F_TIMESTAMP,
  VIRTIO_THERMO_S_NO_SENSOR,
  VIRTIO_THERMO_S_OK,
  VirtioThermoConfig,
  VirtioThermoReading,
} from "./generated/schema.ts";

/** Not assigned by the spec; 0x1040 + 62 is still a modern PCI device id. */
export const VIRTIO_ID_THERMO = 62;

/** virtio-thermo: `temps` are the sensors' readings in millidegrees. */
export class ThermoDevice extends ConfigDevice<VirtioThermoConfig> {
  readonly deviceId = VIRTIO_ID_THERMO;
  readonly features: bigint = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_THERMO_F_TIMESTAMP);
  readonly queueMaxSizes: readonly number[] = [64]; // queue 0: requests
  // The reading is built in our memory, then copied into the chain's writable part.
  readonly #out = new VirtioThermoReading(new DataView(new ArrayBuffer(VirtioThermoReading.SIZE)));
  readonly #outBytes = new Uint8Array(this.#out.view.buffer);
  readonly #server: ChainServer = {
    serveChain: (c, _q, ctx) => {
      if (c.readableLength < 2 || c.writableLength < VirtioThermoReading.SIZE) {
        throw new DeviceError(`virtio-thermo: request at head ${c.head} too short`);
      }
      const sensor = c.readUint16(0); // copied out of guest memory once
      const r = this.#out;
      r.sensor = sensor;
      r.status = sensor < this.temps.length ? VIRTIO_THERMO_S_OK : VIRTIO_THERMO_S_NO_SENSOR;
      r.millidegrees = this.temps[sensor] ?? 0;
      r.timestampNs = hasFeature(ctx.features, VIRTIO_THERMO_F_TIMESTAMP) ? 1_000_000n : 0n;
      return c.write(0, this.#outBytes); // the used length: bytes written
    },
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A bank of `temps.length` sensors named "greenhouse". */
  constructor(readonly temps: number[]) {
    super(VirtioThermoConfig);
    this.updateConfig((cfg) => {
      cfg.numSensors = temps.length;
      cfg.pollIntervalMs = 250;
      cfg.celsius = 1;
      cfg.nameBytes().set(new TextEncoder().encode("greenhouse"));
    });
  }

  /** The driver may set the polling interval; the rest of config is read-only. */
  protected override configWritable(offset: number, width: ConfigWidth): boolean {
    return offset === VirtioThermoConfig.OFFSETS.pollIntervalMs && width === 2;
  }

  /** Answers every request on the queue. */
  queueNotify(index: number): void {
    this.serve(index, this.#server);
  }
}
