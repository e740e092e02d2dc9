// On shared memory the split queue loads the other side's idx (avail idx in
// the device's pop, used idx in the driver's getBuf) with an atomic load only
// once the entries it loaded last are consumed, as QEMU's shadow_avail_idx:
// one atomic load per batch, not per chain (an atomic access costs several
// times a plain one in V8). Entries published meanwhile are still found.
import assert from "node:assert/strict";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { allocateQueue, queueOptionsFromFeatures } from "../../src/virtqueue/layout.ts";
import { createDeviceQueue, createDriverQueue } from "../../src/virtqueue/queue.ts";

const EVENT_IDX = 1n << 29n;
const VERSION_1 = 1n << 32n;

function rig() {
  const memory = GuestMemory.fromBuffer(new SharedArrayBuffer(1 << 16));
  const dma = new DmaAllocator(0x1000, (1 << 16) - 0x1000);
  const opts = queueOptionsFromFeatures(VERSION_1 | EVENT_IDX, 0);
  const addrs = allocateQueue(dma, 64, false);
  const drv = createDriverQueue<number>(memory, addrs, opts, dma);
  const dev = createDeviceQueue(memory, addrs, opts);
  const buf = dma.alloc(64, 8);
  return {
    drv,
    dev,
    sg: [{ addr: buf, len: 64 }],
    availIdxAt: addrs.driver + 2,
    usedIdxAt: addrs.device + 2,
  };
}

/** Counts atomic loads of the 16-bit word at byte `at` while `f` runs. */
function loadsOf(at: number, f: () => void): number {
  const orig = Atomics.load;
  let n = 0;
  (Atomics as { load: unknown }).load = (a: Uint16Array, i: number) => {
    if (a instanceof Uint16Array && a.byteOffset + 2 * i === at) n++;
    return orig(a as unknown as Int32Array, i);
  };
  try {
    f();
  } finally {
    (Atomics as { load: unknown }).load = orig;
  }
  return n;
}

Deno.test("split queue on shared memory: one atomic load of the other side's idx per batch, and nothing missed", () => {
  const { drv, dev, sg, availIdxAt, usedIdxAt } = rig();
  for (let i = 0; i < 48; i++) drv.addSgs(sg, [], i);
  drv.kick();
  const chains: ReturnType<typeof dev.pop>[] = [];
  // Pop 48 chains and find the ring empty: one load for the batch, one for the end.
  const availLoads = loadsOf(availIdxAt, () => {
    for (let c = dev.pop(); c !== null; c = dev.pop()) chains.push(c);
  });
  assert.equal(chains.length, 48);
  assert.ok(availLoads <= 2, `${availLoads} avail idx loads for 48 chains`);
  for (const c of chains) dev.pushUsed(c!, 0);
  dev.flushUsed();
  const slot = { token: undefined as number | undefined, len: 0 };
  const tokens: number[] = [];
  const usedLoads = loadsOf(usedIdxAt, () => {
    while (drv.getBufInto(slot)) tokens.push(slot.token!);
  });
  assert.deepEqual(tokens, Array.from({ length: 48 }, (_, i) => i));
  assert.ok(usedLoads <= 2, `${usedLoads} used idx loads for 48 buffers`);

  // Entries published while the device is part-way through what it loaded
  // are found once it has caught up, in order.
  for (let i = 0; i < 10; i++) drv.addSgs(sg, [], 100 + i);
  drv.kick();
  const first = dev.pop();
  assert.ok(first);
  for (let i = 10; i < 20; i++) drv.addSgs(sg, [], 100 + i);
  drv.kick();
  const rest = [first];
  for (let c = dev.pop(); c !== null; c = dev.pop()) rest.push(c);
  assert.equal(rest.length, 20);
  for (const c of rest) dev.pushUsed(c, 0);
  dev.flushUsed();
  tokens.length = 0;
  while (drv.getBufInto(slot)) tokens.push(slot.token!);
  assert.deepEqual(tokens, Array.from({ length: 20 }, (_, i) => 100 + i));
});

/** Counts atomic stores to the 16-bit word at byte `at` while `f` runs. */
function storesTo(at: number, f: () => void): number {
  const orig = Atomics.store;
  let n = 0;
  (Atomics as { store: unknown }).store = (a: Uint16Array, i: number, v: number) => {
    if (a instanceof Uint16Array && a.byteOffset + 2 * i === at) n++;
    return orig(a as unknown as Int32Array, i, v);
  };
  try {
    f();
  } finally {
    (Atomics as { store: unknown }).store = orig;
  }
  return n;
}

Deno.test("split queue on shared memory: avail_event and used_event move once per batch, and no kick or interrupt is lost", () => {
  const { drv, dev, sg, availIdxAt, usedIdxAt } = rig();
  const size = 64;
  // avail_event follows the used ring, used_event the avail ring (2.7.6, 2.7.8).
  const availEventAt = usedIdxAt + 2 + 8 * size;
  const usedEventAt = availIdxAt + 2 + 2 * size;
  for (let i = 0; i < 40; i++) drv.addSgs(sg, [], i);
  assert.equal(drv.kick(), true);
  const chains: NonNullable<ReturnType<typeof dev.pop>>[] = [];
  const eventStores = storesTo(availEventAt, () => {
    for (let c = dev.pop(); c !== null; c = dev.pop()) chains.push(c);
  });
  assert.equal(chains.length, 40);
  assert.ok(
    eventStores >= 1 && eventStores <= 2,
    `${eventStores} avail_event stores for 40 chains`,
  );
  // The device caught up: the driver's next buffers ask for a kick.
  drv.addSgs(sg, [], 40);
  drv.addSgs(sg, [], 41);
  assert.equal(drv.kick(), true);
  // Mid-batch (the device loaded both, took one), a kick is not needed, as before.
  const c40 = dev.pop();
  assert.ok(c40);
  drv.addSgs(sg, [], 42);
  assert.equal(drv.kick(), false);
  chains.push(c40);
  for (let c = dev.pop(); c !== null; c = dev.pop()) chains.push(c);
  assert.equal(chains.length, 43);

  // Callbacks on: getBuf moves used_event once per batch, to the last entry taken.
  assert.equal(drv.enableCb(), true);
  for (const c of chains) dev.pushUsed(c, 0);
  dev.flushUsed();
  assert.equal(dev.needsNotification(), true);
  const slot = { token: undefined as number | undefined, len: 0 };
  let n = 0;
  const usedStores = storesTo(usedEventAt, () => {
    while (drv.getBufInto(slot)) n++;
  });
  assert.equal(n, 43);
  assert.ok(usedStores >= 1 && usedStores <= 2, `${usedStores} used_event stores for 43 buffers`);
  // The driver caught up: the device's next used buffer interrupts.
  drv.addSgs(sg, [], 43);
  drv.kick();
  const c43 = dev.pop();
  assert.ok(c43);
  dev.pushUsed(c43, 0);
  dev.flushUsed();
  assert.equal(dev.needsNotification(), true);
});

Deno.test("split queue on shared memory: the driver publishes avail idx once per batch, in kick", () => {
  const { drv, dev, sg, availIdxAt } = rig();
  let stores = 0;
  stores += storesTo(availIdxAt, () => {
    for (let i = 0; i < 30; i++) drv.addSgs(sg, [], i);
  });
  // Added, not yet published: the device sees nothing before the kick.
  assert.equal(dev.pop(), null);
  stores += storesTo(availIdxAt, () => assert.equal(drv.kick(), true));
  assert.equal(stores, 1);
  let n = 0;
  while (dev.pop() !== null) n++;
  assert.equal(n, 30);
  // A kick with nothing added publishes and asks nothing.
  assert.equal(storesTo(availIdxAt, () => assert.equal(drv.kick(), false)), 0);
});
