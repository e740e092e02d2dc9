/**
 * What the back-end knows of one vring between messages, and how a ring's
 * position maps to the 32-bit base of SET_VRING_BASE / GET_VRING_BASE.
 *
 * @module
 */

import type { DeviceQueue } from "../../virtqueue/mod.ts";
import type { VringAddr } from "./_protocol.ts";

/** What the back-end knows of one vring. */
export interface Ring {
  /** SET_VRING_NUM (0: not given yet). */
  size: number;
  /** SET_VRING_BASE, or where the ring last stopped. */
  base: number;
  /** SET_VRING_ADDR. */
  addr: VringAddr | undefined;
  /** The kick, call and error eventfds (-1: none). */
  kickFd: number;
  callFd: number;
  errFd: number;
  /** Running: the queue exists and kicks are served once enabled. */
  started: boolean;
  /** SET_VRING_ENABLE. */
  enabled: boolean;
  /** The device queue while started. */
  queue: DeviceQueue | undefined;
}

/** A ring no message has described yet. */
export function freshRing(): Ring {
  return {
    size: 0,
    base: 0,
    addr: undefined,
    kickFd: -1,
    callFd: -1,
    errFd: -1,
    started: false,
    enabled: false,
    queue: undefined,
  };
}

/**
 * Positions a new queue at the base the front-end gave (SET_VRING_BASE).
 * Split: the next available index; the used index is the one in the used
 * ring (after a back-end crash QEMU resumes at that index, so requests that
 * were in flight are served again). Packed: bits 0-14 the next available
 * descriptor, bit 15 its wrap counter, and (from front-ends that save it)
 * bits 16-30 / 31 the used position; without them used = available.
 */
export function restoreBase(q: DeviceQueue, base: number, packed: boolean): void {
  if (packed) {
    const hasUsed = (base >>> 16) !== 0;
    q.restore({
      availIdx: base & 0x7fff,
      availWrap: (base >>> 15) & 1,
      usedIdx: hasUsed ? (base >>> 16) & 0x7fff : base & 0x7fff,
      usedWrap: hasUsed ? (base >>> 31) & 1 : (base >>> 15) & 1,
    });
  } else {
    q.restore({ availIdx: base & 0xffff });
  }
}

/** The base to report in GET_VRING_BASE for a running queue (the layout of {@link restoreBase}). */
export function currentBase(q: DeviceQueue): number {
  const p = q.position();
  if (!q.options.packed) return p.availIdx;
  return ((p.availIdx & 0x7fff) | (p.availWrap << 15) | ((p.usedIdx & 0x7fff) << 16) |
    (p.usedWrap << 31)) >>> 0;
}

/** A split or packed queue size a front-end may ask for: a power of 2 up to 32768. */
export function isQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0;
}
