/**
 * The 9P transport (device id 9): the device model ({@link P9Device}), the
 * 9P2000.L server it runs ({@link P9Server}) over a {@link FileSystem} of
 * `../fs/` (a host directory or an in-memory tree), and the driver
 * ({@link p9Driver}) with its 9P client ({@link P9Client}).
 *
 * @module
 */

export * from "./client.ts";
export * from "./device.ts";
export * from "./driver.ts";
export * from "./server.ts";
