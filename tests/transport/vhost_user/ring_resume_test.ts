// The vhost-user back-end's kick hold-off over several rings (pollRingUs):
// suspendRings / resumeRings, driven without threads or timing. The case
// that stalled a guest at depth 32 over two queues (stop 28): chains
// published on more than one ring while kicks were held off, none of them
// kicked; resuming must hand every such ring to be served, not only the
// first, or the others wait for a kick the driver never sends.

import assert from "node:assert/strict";
import {
  freshRing,
  resumeRings,
  type Ring,
  suspendRings,
  waiting,
} from "../../../src/transport/vhost_user/_rings.ts";
import { label, type Pair, pair, type PairConfig } from "../../virtqueue/_rig.ts";

/** A started, enabled ring over `p`'s device queue, with a (stand-in) kick eventfd. */
function running(p: Pair): Ring {
  return { ...freshRing(), size: 8, kickFd: 100, started: true, enabled: true, queue: p.device };
}

/** Publishes one chain on `p` and says whether the driver would kick for it. */
function publish(p: Pair, token: number): boolean {
  const b = p.alloc.alloc(64, 8);
  p.driver.addSgs([], [{ addr: b, len: 8 }], token);
  return p.driver.kick();
}

const CASES: PairConfig[] = [];
for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) CASES.push({ packed, eventIdx, size: 8 });
}

for (const cfg of CASES) {
  const name = label(cfg);

  Deno.test(`${name}: resume serves every ring with a chain published while kicks were held off`, () => {
    const pairs = [pair(cfg), pair(cfg), pair(cfg), pair(cfg)];
    const rings = pairs.map(running);
    // Every ring has been served once, so EVENT_IDX has an avail_event to hold back.
    pairs.forEach((p, i) => {
      assert.equal(publish(p, i), true, `ring ${i}: the first chain is kicked`);
      p.device.pop();
      p.device.enableNotification();
    });
    suspendRings(rings);
    for (const r of rings) assert.equal(r.queue!.notificationsSuspended, true);
    // Rings 1 and 3 get chains while kicks are off: the driver sends no kick.
    assert.equal(publish(pairs[1], 11), false);
    assert.equal(publish(pairs[3], 13), false);
    assert.deepEqual(rings.map(waiting), [false, true, false, true]);
    const served: number[] = [];
    const n = resumeRings(rings, true, (i) => {
      served.push(i);
      while (rings[i].queue!.pop() !== null) { /* served */ }
    });
    assert.equal(n, 2);
    assert.deepEqual(served, [1, 3], "both rings, not only the first");
    for (const r of rings) assert.equal(r.queue!.notificationsSuspended, false);
    // Kicks are asked for again on every ring.
    pairs.forEach((p, i) => assert.equal(publish(p, 20 + i), true, `ring ${i} kicks again`));
  });

  Deno.test(`${name}: resume without serving only asks for kicks; rings off or without a kick fd are left alone`, () => {
    const pairs = [pair(cfg), pair(cfg), pair(cfg)];
    const rings = pairs.map(running);
    rings[1].enabled = false;
    rings[2].kickFd = -1;
    suspendRings(rings);
    assert.deepEqual(rings.map((r) => r.queue!.notificationsSuspended), [true, false, false]);
    assert.equal(publish(pairs[0], 1), false);
    publish(pairs[1], 2);
    publish(pairs[2], 3);
    assert.deepEqual(rings.map(waiting), [true, false, false]);
    // A device that failed or waits for a reset: kicks back on, nothing served.
    const served: number[] = [];
    assert.equal(resumeRings(rings, false, (i) => served.push(i)), 0);
    assert.equal(served.length, 0);
    assert.equal(rings[0].queue!.notificationsSuspended, false);
    // The chain is still there for the next pass.
    assert.equal(resumeRings(rings, true, (i) => served.push(i)), 1);
    assert.deepEqual(served, [0]);
  });
}
