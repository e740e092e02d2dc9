// The chain pool across faults. The device walkers have no exception handler
// on their hot path: each fault gives the half-filled chain back to the pool
// itself before it throws. These tests check that no fault leaks a chain or
// gives one back twice (which would hand the same chain out twice), for both
// layouts, direct and indirect faults mixed with good chains.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { AVAIL, handPacked, handSplit, INDIRECT, NEXT, USED, WRITE } from "./_hand_rig.ts";

const SIZE = 8;

function faults(fn: () => unknown): void {
  assert.throws(fn, (e) => e instanceof QueueError);
}

/** Pops `n` good chains at once and checks they are distinct pool objects. */
function distinct(chains: DescriptorChain[]): void {
  assert.equal(new Set(chains).size, chains.length, "the pool handed a chain out twice");
}

Deno.test("split device: faults of every kind neither leak nor double-free pooled chains", () => {
  const { desc, offer, buf, table, ...p } = handSplit(SIZE);
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
  const { desc, buf, table, ...p } = handPacked(SIZE);
  // The device's position and wrap counter, tracked from its state.
  const here = () => {
    const s = p.device.state();
    const pos = s.nextAvail as number;
    const avail = s.availWrap ? AVAIL : USED;
    return {
      pos,
      avail,
      next: (pos + 1) % SIZE,
      nextAvail: pos + 1 === SIZE ? (avail ^ (AVAIL | USED)) : avail,
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
