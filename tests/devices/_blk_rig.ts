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
import type { BlockBatch, BlockStorage } from "../../src/devices/blk/storage.ts";
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

/**
 * `storage` seen through a wrapper that counts its batch's submissions: `sizes` gets, per submit,
 * how many requests were queued before it. Every other member goes straight to `storage`.
 */
export function countBatches(
  storage: BlockStorage & { readonly batch: BlockBatch },
): { storage: BlockStorage; sizes: number[] } {
  const sizes: number[] = [];
  let queued = 0;
  const inner = storage.batch;
  const batch: BlockBatch = {
    readv: (o, d) => (queued++, inner.readv(o, d)),
    writev: (o, s) => (queued++, inner.writev(o, s)),
    submit: () => {
      sizes.push(queued);
      queued = 0;
      inner.submit();
    },
    result: (slot) => inner.result(slot),
  };
  const wrapped: BlockStorage = {
    get size() {
      return storage.size;
    },
    batch,
    read: (o, d) => storage.read(o, d),
    write: (o, s) => storage.write(o, s),
    flush: () => storage.flush(),
    ...(storage.readv
      ? { readv: (o: number, d: readonly Uint8Array[]) => storage.readv!(o, d) }
      : {}),
    ...(storage.writev
      ? { writev: (o: number, s: readonly Uint8Array[]) => storage.writev!(o, s) }
      : {}),
    ...(storage.isAsync !== undefined ? { isAsync: storage.isAsync } : {}),
  };
  return { storage: wrapped, sizes };
}
