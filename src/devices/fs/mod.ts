/**
 * virtio-fs (spec 5.11): the device model ({@link FsDevice}), the FUSE
 * server it runs ({@link FuseServer}), the {@link FileSystem} it shares
 * (a host directory, {@link HostDirFileSystem}, or an in-memory tree,
 * {@link MemoryFileSystem}), and the driver ({@link fsDriver}) with its FUSE
 * client ({@link FuseClient}).
 *
 * @module
 */

export * from "./device.ts";
export * from "./driver.ts";
export * from "./filesystem.ts";
export * from "./fuse_client.ts";
export * from "./fuse_server.ts";
export * from "./host_dir_fs.ts";
export * from "./memory_fs.ts";
