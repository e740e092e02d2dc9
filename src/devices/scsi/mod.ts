/**
 * virtio-scsi (spec 5.6): the device model ({@link ScsiDevice}), the SCSI
 * target behind it ({@link ScsiTarget}, LUNs backed by blk storages) and
 * the driver ({@link scsiDriver}, {@link ScsiHost}, {@link ScsiDisk}).
 *
 * @module
 */
export * from "./command.ts";
export * from "./logical_unit.ts";
export * from "./target.ts";
export * from "./device.ts";
export * from "./driver.ts";
export * from "./disk.ts";
