// The chain pool across faults. The device walkers have no exception handler
// on their hot path: each fault gives the half-filled chain back to the pool
// itself before it throws. These tests check that no fault leaks a chain or
// gives one back twice (which would hand the same chain out twice), for both
// layouts, direct and indirect faults mixed with good chains.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { pair } from "./_harness.ts";

const NEXT = 1, WRITE = 2, INDIRECT = 4, AVAIL = 1 << 7;
const SIZE = 8;

function faults(fn: () => unknown): void {
  assert.throws(fn, (e) => e instanceof QueueError);
}

/** Pops `n` good chains at once and checks they are distinct pool objects. */
function distinct(chains: DescriptorChain[]): void {
  assert.equal(new Set(chains).size, chains.length, "the pool handed a chain out twice");
}

Deno.test("split device: faults of every kind neither leak nor double-free pooled chains", () => {
  const p = pair({ size: SIZE, indirect: true });
  const v = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(256, 16);
  const table = p.alloc.alloc(256, 16);
  let availIdx = 0;
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
  const offer = (head: number) => {
    v.setUint16(p.addrs.driver - base + 4 + 2 * (availIdx % SIZE), head, true);
    v.setUint16(p.addrs.driver - base + 2, ++availIdx, true);
  };
  const bad: (() => void)[] = [
    () => desc(0, 0x10, 8, 0), // outside memory (first segment)
    () => (desc(0, buf, 8, NEXT, 1), desc(1, 0x10, 8, 0)), // outside memory (second segment)
    () => (desc(0, buf, 8, WRITE | NEXT, 1), desc(1, buf, 8, 0)), // readable after writable
    () => (desc(0, buf, 8, NEXT, 1), desc(1, buf, 8, NEXT, 0)), // loop
    () => desc(0, buf, 8, NEXT, 9), // next out of range
    () => desc(0, table, 20, INDIRECT), // bad indirect length
    () => (desc(0, 0x10, 8, 0, 0, table), desc(0, table, 16, INDIRECT)), // inside the table
    () => (desc(0, buf, 8, NEXT, 0, table), desc(0, table, 16, INDIRECT)), // loop in the table
  ];
  for (let round = 0; round < 3; round++) {
    for (const setup of bad) {
      setup();
      offer(0);
      faults(() => p.device.pop());
      assert.equal(p.device.inFlight, 0, "no chain leaks out of the pool");
      // A good chain between faults, held while the next fault happens.
      desc(7, buf, 8, WRITE);
      offer(7);
      const c = p.device.pop();
      assert.ok(c);
      desc(0, 0x10, 8, 0);
      offer(0);
      faults(() => p.device.pop());
      assert.equal(p.device.inFlight, 1);
      p.device.addUsed(c, 8);
      assert.equal(p.device.inFlight, 0);
    }
  }
  // Every head at once: SIZE distinct chains, and the pool is at its limit.
  const held: DescriptorChain[] = [];
  for (let i = 0; i < SIZE; i++) {
    desc(i, buf + 16 * i, 8, WRITE);
    offer(i);
    const c = p.device.pop();
    assert.ok(c);
    held.push(c);
  }
  distinct(held);
  assert.equal(p.device.inFlight, SIZE);
  for (const c of held) p.device.pushUsed(c, 0);
  p.device.flushUsed();
  assert.equal(p.device.inFlight, 0);
});

Deno.test("packed device: faults of every kind neither leak nor double-free pooled chains", () => {
  const p = pair({ packed: true, size: SIZE, indirect: true });
  const v = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(256, 16);
  const table = p.alloc.alloc(256, 16);
  // The device's position and wrap counter, tracked from its state.
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
  const here = () => {
    const s = p.device.state();
    const pos = s.nextAvail as number;
    const avail = s.availWrap ? AVAIL : 1 << 15;
    return {
      pos,
      avail,
      next: (pos + 1) % SIZE,
      nextAvail: pos + 1 === SIZE ? (avail ^ (AVAIL | 1 << 15)) : avail,
    };
  };
  const bad: (() => void)[] = [
    () => {
      const h = here();
      desc(h.pos, 0x10, 8, 0, h.avail); // outside memory
    },
    () => {
      const h = here();
      desc(h.next, buf, 8, 0, h.nextAvail); // readable after writable
      desc(h.pos, buf, 8, 0, h.avail | WRITE | NEXT);
    },
    () => {
      const h = here();
      desc(h.next, buf, 8, 0, 0); // not available
      desc(h.pos, buf, 8, 0, h.avail | NEXT);
    },
    () => {
      const h = here();
      desc(h.pos, table, 20, 0, h.avail | INDIRECT); // bad indirect length
    },
    () => {
      const h = here();
      desc(0, 0x10, 8, 0, 0, table); // outside memory, inside the table
      desc(h.pos, table, 16, 0, h.avail | INDIRECT);
    },
  ];
  for (let round = 0; round < 4; round++) {
    for (const setup of bad) {
      setup();
      faults(() => p.device.pop());
      assert.equal(p.device.inFlight, 0, "no chain leaks out of the pool");
      const h = here();
      desc(h.pos, buf, 8, 1, h.avail | WRITE);
      const c = p.device.pop();
      assert.ok(c);
      assert.equal(c.head, 1);
      p.device.addUsed(c, 8);
      assert.equal(p.device.inFlight, 0);
    }
  }
  const held: DescriptorChain[] = [];
  for (let i = 0; i < SIZE; i++) {
    const h = here();
    desc(h.pos, buf + 16 * i, 8, i, h.avail | WRITE);
    const c = p.device.pop();
    assert.ok(c);
    held.push(c);
  }
  distinct(held);
  assert.equal(p.device.inFlight, SIZE);
  for (const c of held) p.device.pushUsed(c, 0);
  p.device.flushUsed();
  assert.equal(p.device.inFlight, 0);
});
