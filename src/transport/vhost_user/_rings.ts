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

/** True when ring `r` is enabled, has a kick eventfd and a chain available. */
export function waiting(r: Ring): boolean {
  return r.enabled && r.kickFd >= 0 && r.queue !== undefined && r.queue.hasAvailable();
}

/**
 * Starts a kick hold-off: the driver need not notify on any enabled ring
 * with a kick eventfd while the back-end watches the rings itself (each kick
 * saved is a system call on both sides). {@link resumeRings} ends it.
 */
export function suspendRings(rings: readonly Ring[]): void {
  for (let i = 0; i < rings.length; i++) {
    const r = rings[i];
    if (r.enabled && r.kickFd >= 0) r.queue?.suspendNotifications();
  }
}

/**
 * Ends the hold-off of {@link suspendRings}: asks for kicks again on every
 * ring, then, when `serving`, calls `serve(i)` for each ring with a chain
 * already published (the driver published it while kicks were off and will
 * not kick for it). Returns how many rings were served. Every ring is resumed
 * before any is looked at, and each resume writes before its ring's index is
 * read, with the ring words' atomic accesses where memory is shared (as
 * `DeviceQueue.enableNotification`). Every waiting ring, not only the first:
 * a ring left out would wait for a kick that never comes.
 */
export function resumeRings(
  rings: readonly Ring[],
  serving: boolean,
  serve: (index: number) => void,
): number {
  for (let i = 0; i < rings.length; i++) {
    const q = rings[i].queue;
    if (q !== undefined && q.notificationsSuspended) q.resumeNotifications();
  }
  if (!serving) return 0;
  let served = 0;
  for (let i = 0; i < rings.length; i++) {
    if (waiting(rings[i])) {
      serve(i);
      served++;
    }
  }
  return served;
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
