/**
 * Checks at the edge of the register-access APIs (MMIO `read`/`write`, PCI
 * `configRead`/`configWrite`/`barRead`/`barWrite`, a driver's config
 * access). A width that no bus can carry, an offset that is not a
 * non-negative integer, or a value that is not a number is the caller's
 * bug, not a guest's access: it is an {@link ArgumentError}, thrown before
 * any state changes. An access a bus can carry but the register file
 * refuses (no register there, the wrong width for it) is the guest's, and is
 * refused and logged instead.
 *
 * Private to src/transport/.
 *
 * @module
 */

import { ArgumentError } from "../errors.ts";

/** True when `width` is 1, 2 or 4 and `offset` a safe non-negative integer (no allocation). */
export function accessOk(offset: number, width: number): boolean {
  return (width === 1 || width === 2 || width === 4) && offset >= 0 &&
    offset <= Number.MAX_SAFE_INTEGER && offset % 1 === 0;
}

/** Throws {@link ArgumentError} unless `width` is 1, 2 or 4 and `offset` a safe non-negative integer. */
export function checkAccess(where: string, offset: number, width: number): void {
  if (width !== 1 && width !== 2 && width !== 4) {
    throw new ArgumentError(`${where}: access width ${String(width)} is not 1, 2 or 4`, {
      code: "ERR_VIRTIO_ARGUMENT_WIDTH",
    });
  }
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw new ArgumentError(`${where}: offset ${String(offset)} is not a non-negative integer`, {
      code: "ERR_VIRTIO_ARGUMENT_OFFSET",
    });
  }
}

/** {@link checkAccess}, and throws {@link ArgumentError} unless `value` is a number. */
export function checkWrite(where: string, offset: number, width: number, value: number): void {
  checkAccess(where, offset, width);
  if (typeof value !== "number") {
    throw new ArgumentError(`${where}: value ${String(value)} is not a number`, {
      code: "ERR_VIRTIO_ARGUMENT_VALUE",
    });
  }
}

/** The low `width` bytes of `value` (a bus carries no more), as an unsigned number. */
export function truncate(value: number, width: 1 | 2 | 4): number {
  return width === 4 ? value >>> 0 : (value >>> 0) & (width === 1 ? 0xff : 0xffff);
}

/**
 * Throws {@link ArgumentError} unless `offset`..`offset + width` lies in a
 * device config of `size` bytes (driver side; `size` undefined: not known).
 */
export function checkConfigRange(
  where: string,
  offset: number,
  width: number,
  size: number | undefined,
): void {
  checkAccess(where, offset, width);
  if (size !== undefined && offset + width > size) {
    throw new ArgumentError(
      `${where}: ${width}-byte config access at ${offset} is past the ${size}-byte device config`,
      { code: "ERR_VIRTIO_ARGUMENT_CONFIG_RANGE" },
    );
  }
}
