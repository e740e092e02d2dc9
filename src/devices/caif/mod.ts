/**
 * virtio CAIF (device id 12): the modem's end ({@link CaifDevice}) and the
 * host's end ({@link caifDriver}, {@link CaifLink}) of the link Linux's
 * `caif_virtio` drives. See docs/devices/caif.md.
 *
 * @module
 */
export * from "./device.ts";
export * from "./driver.ts";
