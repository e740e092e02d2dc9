/**
 * vhost-user, Deno only (FFI to libc, Linux): a back-end that serves any
 * `VirtioDevice` to QEMU over a Unix socket, and a front-end `Transport`
 * that drives a real back-end (qemu-storage-daemon, or ours) with our drivers.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./frontend.ts";
export * from "./errors.ts";
