// Queues whose driver side the test writes by hand with raw DataView writes,
// for the hostile-input and pool-fault tests: a descriptor writer and (split)
// an avail-ring writer over a plain-memory pair.
import { pair } from "./_rig.ts";

/** Descriptor flag values (spec 2.7.5, 2.8.1), written raw. */
export const NEXT = 1, WRITE = 2, INDIRECT = 4, AVAIL = 1 << 7, USED = 1 << 15;

/** A split queue of `size` whose descriptor table and avail ring the test writes itself. */
export function handSplit(size = 8, indirect = true) {
  const p = pair({ size, indirect });
  const v = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(256, 16);
  const table = p.alloc.alloc(256, 16);
  let availIdx = 0;
  /** Writes split descriptor `i` of the table at `at` (the queue's by default). */
  const desc = (
    i: number,
    addr: number,
    len: number,
    flags: number,
    next = 0,
    at = p.addrs.desc,
  ) => {
    const o = at - base + 16 * i;
    v.setBigUint64(o, BigInt(addr), true);
    v.setUint32(o + 8, len, true);
    v.setUint16(o + 12, flags, true);
    v.setUint16(o + 14, next, true);
  };
  /** Puts `head` in the avail ring and moves idx past it. */
  const offer = (head: number) => {
    v.setUint16(p.addrs.driver - base + 4 + 2 * (availIdx % size), head, true);
    v.setUint16(p.addrs.driver - base + 2, ++availIdx, true);
  };
  return { ...p, v, base, buf, table, desc, offer };
}

/** A packed queue of `size` whose descriptor ring the test writes itself. */
export function handPacked(size = 4) {
  const p = pair({ packed: true, size, indirect: true });
  const v = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(256, 16);
  const table = p.alloc.alloc(256, 16);
  /** Writes packed descriptor `i` of the ring or table at `at` (the queue's ring by default). */
  const desc = (
    i: number,
    addr: number,
    len: number,
    id: number,
    flags: number,
    at = p.addrs.desc,
  ) => {
    const o = at - base + 16 * i;
    v.setBigUint64(o, BigInt(addr), true);
    v.setUint32(o + 8, len, true);
    v.setUint16(o + 12, id, true);
    v.setUint16(o + 14, flags, true);
  };
  return { ...p, v, base, buf, table, desc };
}
