/**
 * The data pattern of tests/interop/guest/blk_verify.c, written again from
 * its definition for the host side of the tests that run it (under QEMU and
 * under v86): the little-endian word at disk offset o is
 * fmix32(seed * 0x9E3779B1 + o / 4) (MurmurHash3's finaliser).
 *
 * @module
 */

/** The pattern's `length` bytes from disk offset `offset` (both multiples of 4) for `seed`. */
export function blkVerifyPattern(seed: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  const base = Math.imul(seed, 0x9e3779b1);
  for (let i = 0; i < length; i += 4) {
    let h = (base + (offset + i) / 4) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    view.setUint32(i, h >>> 0, true);
  }
  return out;
}
