/**
 * The null device: a minimal device model and its driver, used by the
 * transport tests and benchmarks and as the smallest example of both sides.
 *
 * @module
 */
export * from "./device.ts";
export * from "./driver.ts";
