/**
 * A made-up device type, "virtio-thermo": a thermometer with a few sensors.
 * This is the schema a user writes for a new device type; its bindings in
 * `generated/` come from:
 *
 * ```sh
 * deno task gen examples/custom_device/schema.ts --out examples/custom_device/generated
 * ```
 *
 * @module
 */
import {
  array,
  bits,
  type ConstantGroup,
  doc,
  enumeration,
  featureBits,
  le16,
  le32,
  le64,
  struct,
  type StructType,
  u8,
} from "../../schema/dsl.ts";
import { virtq_desc } from "../../schema/virtqueue.ts";

/** Configuration space of the thermometer. */
export const virtio_thermo_config: StructType = struct("virtio_thermo_config", {
  num_sensors: doc(le16, "Number of sensors."),
  poll_interval_ms: doc(le16, "Sampling period in milliseconds."),
  mode: bits(le32, {
    celsius: { width: 1, doc: "Report in degrees Celsius (else Kelvin)." },
    precision: { width: 3, doc: "Decimal digits of precision." },
    reserved: 28,
  }),
  name: doc(array(u8, 16), "Sensor bank name, NUL-padded."),
}, { doc: "Configuration space of virtio-thermo." });

/** A reading the device writes into a driver buffer. */
export const virtio_thermo_reading: StructType = struct("virtio_thermo_reading", {
  sensor: doc(le16, "Sensor index."),
  status: doc(u8, "VIRTIO_THERMO_S_* status."),
  padding: u8,
  millidegrees: doc(le32, "Temperature in thousandths of a degree."),
  timestamp_ns: doc(le64, "Time of the reading."),
}, { doc: "One reading, written by the device." });

/** A request referring to a descriptor the driver prepared (shows reuse of a spec struct). */
export const virtio_thermo_batch: StructType = struct("virtio_thermo_batch", {
  count: doc(le32, "Number of readings wanted."),
  reserved: le32,
  target: doc(virtq_desc, "Where the readings go (a nested spec struct)."),
}, { doc: "A batch request." });

/** Feature bits of virtio-thermo. */
export const virtio_thermo_features: ConstantGroup = featureBits("virtio_thermo_features", {
  VIRTIO_THERMO_F_TIMESTAMP: { value: 0, doc: "Readings carry timestamps." },
  VIRTIO_THERMO_F_BATCH: { value: 1, doc: "The device accepts batch requests." },
});

/** Status codes of a reading. */
export const virtio_thermo_status: ConstantGroup = enumeration("virtio_thermo_status", {
  VIRTIO_THERMO_S_OK: 0,
  VIRTIO_THERMO_S_NO_SENSOR: 1,
  VIRTIO_THERMO_S_FAULT: 2,
});
