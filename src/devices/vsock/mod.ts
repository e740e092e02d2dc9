/**
 * virtio-vsock (spec 5.10): the device model ({@link VsockDevice}, the host
 * end), the driver ({@link VsockDriver}, the guest end) and the connection
 * layer both share ({@link VsockEndpoint}, {@link VsockConnection}).
 *
 * @module
 */
export * from "./connection.ts";
export * from "./device.ts";
export * from "./driver.ts";
export * from "./unix_bridge.ts";
