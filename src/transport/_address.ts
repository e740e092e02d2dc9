/**
 * Address helpers both sides of the register transports share: the 32-bit
 * halves of a 64-bit register pair, and the legacy contiguous ring layout.
 *
 * Private to src/transport/.
 *
 * @module
 */

import { splitLegacyLayout } from "../virtqueue/layout.ts";

/** The low 32 bits of a guest address (below 2^53). */
export const low32 = (v: number): number => v % 0x1_0000_0000;

/** The high bits of a guest address (below 2^53) above bit 31. */
export const high32 = (v: number): number => Math.floor(v / 0x1_0000_0000);

/** 2.7.2 legacy interface: where the rings of a contiguous split queue start. */
export function legacyRingLayout(
  base: number,
  size: number,
  align: number,
): { desc: number; driver: number; device: number } {
  const l = splitLegacyLayout(size, align);
  return { desc: base + l.desc, driver: base + l.driver, device: base + l.device };
}
