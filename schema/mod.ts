/**
 * Schemas: every binary layout of the virtio spec as plain data, and the
 * DSL to describe your own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layout, virtio_blk_config, virtq_desc } from "./mod.ts";
 * assert.equal(layout(virtq_desc).size, 16);
 * assert.equal(layout(virtio_blk_config).fields[0].def.name, "capacity");
 * ```
 *
 * @module
 */
export * from "./dsl.ts";
export * from "./common.ts";
export * from "./admin.ts";
export * from "./ccw.ts";
export * from "./device_parts.ts";
export * from "./scsi.ts";
export * from "./mmio.ts";
export * from "./pci.ts";
export * from "./vhost_user.ts";
export * from "./virtqueue.ts";
export * from "./devices/balloon.ts";
export * from "./devices/blk.ts";
export * from "./devices/caif.ts";
export * from "./devices/can.ts";
export * from "./devices/console.ts";
export * from "./devices/crypto.ts";
export * from "./devices/entropy.ts";
export * from "./devices/fs.ts";
export * from "./devices/gpio.ts";
export * from "./devices/gpu.ts";
export * from "./devices/i2c.ts";
export * from "./devices/input.ts";
export * from "./devices/iommu.ts";
export * from "./devices/media.ts";
export * from "./devices/mem.ts";
export * from "./devices/net.ts";
export * from "./devices/pmem.ts";
export * from "./devices/rpmb.ts";
export * from "./devices/rtc.ts";
export * from "./devices/scmi.ts";
export * from "./devices/scsi.ts";
export * from "./devices/sound.ts";
export * from "./devices/spi.ts";
export * from "./devices/vsock.ts";
export * from "./devices/9p.ts";
