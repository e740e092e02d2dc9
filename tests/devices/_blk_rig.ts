// Shared by blk_test.ts (the device model and driver, on Deno and Node) and blk_file_test.ts (the
// Deno-only file storages): a blk device on a rig with the driver bound and its disk ready.

import assert from "node:assert/strict";
import {
  BlkDevice,
  type BlkDeviceOptions,
  blkDriver,
  type BlkDriverOptions,
  MemoryStorage,
} from "../../src/devices/blk/mod.ts";
import type { Kind } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

/** The disk size of {@link setup} when no storage is given, in bytes. */
export const DISK = 256 * 1024;

/** A blk device on `kind` with the driver bound; `bytes` backs a MemoryStorage unless `opts.storage`. */
export async function setup(
  kind: Kind,
  opts: Partial<BlkDeviceOptions> = {},
  drvOpts: BlkDriverOptions = {},
  bytes: Uint8Array = new Uint8Array(DISK),
) {
  const storage = opts.storage ?? new MemoryStorage(bytes);
  const device = new BlkDevice({ ...opts, storage });
  const r = rig(kind, device);
  const driver = blkDriver(drvOpts);
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-blk", `probe failed: ${r.logs.join("; ")}`);
  const disk = await driver.nextDisk();
  return { r, device, storage, disk, driver, dev, bytes };
}

/** `len` bytes of a pattern that differs per `seed` and per 512-byte sector. */
export function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed * 7 + (i >> 9)) & 0xff);
}
