/**
 * The v86 host: Linux in the v86 x86 emulator drives typed-virtio devices
 * through our PCI function and MMIO device. See docs/hosts.md.
 *
 * @module
 */

export * from "./host.ts";
export * from "./kit.ts";
export * from "./machine.ts";
export { V86_VERSION, V86HostError } from "./_internals.ts";
