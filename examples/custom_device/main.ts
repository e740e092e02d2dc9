/**
 * Uses the generated bindings of the made-up virtio-thermo device: fills a
 * config space, lets a "device" write readings into a buffer and a "driver"
 * read them back, all in place through the accessors.
 *
 * Run: `deno run examples/custom_device/main.ts`
 *
 * @module
 */
import {
  VIRTIO_THERMO_F_TIMESTAMP,
  VIRTIO_THERMO_S_OK,
  VirtioThermoConfig,
  VirtioThermoReading,
} from "./generated/schema.ts";

const config = new VirtioThermoConfig(new DataView(new ArrayBuffer(VirtioThermoConfig.SIZE)));
config.numSensors = 3;
config.pollIntervalMs = 250;
config.celsius = 1;
config.precision = 3;
config.nameBytes().set(new TextEncoder().encode("greenhouse"));

const name = new TextDecoder().decode(config.nameBytes()).replace(/\0+$/, "");
console.log(
  `config (${VirtioThermoConfig.SIZE} bytes): ${config.numSensors} sensors "${name}", ` +
    `every ${config.pollIntervalMs} ms, ${config.celsius ? "Celsius" : "Kelvin"}, ` +
    `mode word 0x${config.mode.toString(16)}`,
);
console.log(`features: timestamps are bit ${VIRTIO_THERMO_F_TIMESTAMP}`);

// The device writes three readings into one buffer, reusing one flyweight.
const buffer = new DataView(new ArrayBuffer(3 * VirtioThermoReading.SIZE));
const reading = new VirtioThermoReading(buffer);
for (let i = 0; i < config.numSensors; i++) {
  reading.at(i * VirtioThermoReading.SIZE);
  reading.sensor = i;
  reading.status = VIRTIO_THERMO_S_OK;
  reading.millidegrees = 20_000 + 1_500 * i;
  reading.timestampNs = 1_000_000n * BigInt(i + 1);
}

// The driver reads them back.
for (let at = 0; at < buffer.byteLength; at += VirtioThermoReading.SIZE) {
  const r = reading.at(at);
  console.log(
    `sensor ${r.sensor}: ${(r.millidegrees / 1000).toFixed(config.precision)} °C ` +
      `at ${r.timestampNs} ns (status ${r.status})`,
  );
}
