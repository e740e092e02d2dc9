/**
 * The storage calls of a virtio-blk request: one per data segment for
 * storage without vectored I/O, zeroes written for storage without
 * `writeZeroes`, a discard where the storage can; and, when a call throws,
 * the promises of the calls before it kept from rejecting unhandled.
 *
 * @module
 */

import type { BlockStorage } from "./storage.ts";

const ZEROES = new Uint8Array(1 << 16);

/**
 * Storage calls still running for a request that already failed (a later
 * call threw): their results are no longer wanted, and a rejection must
 * not go unhandled (it would end the process).
 */
export function settled(pending: readonly Promise<unknown>[] | undefined): void {
  if (pending === undefined) return;
  for (const p of pending) p.catch(() => {});
}

/**
 * Storage without vectored I/O: one `read` or `write` per view, at
 * consecutive offsets from `off`; a promise for them all when storage that
 * did not say it is asynchronous returns promises all the same.
 */
export function perSegment(
  storage: BlockStorage,
  off: number,
  segs: readonly Uint8Array[],
  write: boolean,
): unknown {
  let pos = off;
  let pending: Promise<unknown>[] | undefined;
  try {
    for (const b of segs) {
      const r = write ? storage.write(pos, b) : storage.read(pos, b);
      if (r instanceof Promise) (pending ??= []).push(r);
      pos += b.length;
    }
  } catch (e) {
    settled(pending);
    throw e;
  }
  return pending === undefined ? undefined : Promise.all(pending);
}

/** Discards `bytes` at `off`, when the storage can. */
export function discardRange(storage: BlockStorage, off: number, bytes: number): unknown {
  // 5.2.6.2: the device MAY deallocate; storage without discard keeps the bytes.
  return bytes > 0 ? storage.discard?.(off, bytes) : undefined;
}

/** Zeroes `bytes` at `off` (`unmap`: the storage may deallocate them). */
export function zeroRange(
  storage: BlockStorage,
  off: number,
  bytes: number,
  unmap: boolean,
): unknown {
  if (bytes === 0) return undefined;
  if (storage.writeZeroes !== undefined) return storage.writeZeroes(off, bytes, unmap);
  let pending: Promise<unknown>[] | undefined;
  try {
    for (let done = 0; done < bytes; done += ZEROES.length) {
      const n = Math.min(ZEROES.length, bytes - done);
      const r = storage.write(
        off + done,
        n === ZEROES.length ? ZEROES : ZEROES.subarray(0, n),
      );
      if (r instanceof Promise) (pending ??= []).push(r);
    }
  } catch (e) {
    settled(pending);
    throw e;
  }
  return pending === undefined ? undefined : Promise.all(pending);
}
