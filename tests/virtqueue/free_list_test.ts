// The drivers' free lists (split: descriptors linked through the driver's own
// copy of `next`; packed: buffer ids): every descriptor and id is handed out
// once, chains survive completions in any order, and IN_ORDER allocation
// follows the ring (2.7.5, 2.8.9).
import assert from "node:assert/strict";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { pair } from "./_rig.ts";

/** Reads `next` of descriptor `i` in the split descriptor table at `desc`. */
function descNext(view: DataView, base: number, desc: number, i: number): number {
  return view.getUint16(desc - base + 16 * i + 14, true);
}

Deno.test("split IN_ORDER: chains take consecutive descriptors in ring order across wrap-around", () => {
  const { mem, alloc, addrs, driver, device } = pair({ inOrder: true, size: 8 });
  const region = mem.regions[0];
  const buf = alloc.alloc(64, 8);
  const out = [{ addr: buf, len: 8 }, { addr: buf + 8, len: 8 }];
  const inn = [{ addr: buf + 16, len: 16 }];
  for (let k = 0; k < 20; k++) {
    driver.addSgs(out, inn, k);
    const chain = device.pop();
    assert.ok(chain);
    const head = (3 * k) % 8;
    assert.equal(chain.head, head, `buffer ${k}`);
    assert.equal(descNext(region.view, region.base, addrs.desc, head), (head + 1) % 8);
    assert.equal(descNext(region.view, region.base, addrs.desc, (head + 1) % 8), (head + 2) % 8);
    device.addUsed(chain, 16);
    assert.deepEqual(driver.getBuf(), { token: k, len: 16 });
    assert.equal(driver.numFree, 8);
  }
});

for (const packed of [false, true]) {
  const name = packed ? "packed" : "split";
  Deno.test(`${name}: a full queue used out of order gives every descriptor and id back once`, () => {
    const size = 8;
    const { alloc, driver, device } = pair({ packed, size });
    const buf = alloc.alloc(256, 8);
    const sgs = (k: number) => ({
      out: [{ addr: buf + 32 * k, len: 4 }],
      inn: [{ addr: buf + 32 * k + 8, len: 8 }, { addr: buf + 32 * k + 16, len: 8 }],
    });
    let token = 0;
    for (let round = 0; round < 6; round++) {
      // Even rounds: chains of 3, 1, 3, 1 descriptors fill the 8 of the queue.
      // Odd rounds: 8 single descriptors, so every buffer id is in use.
      const buffers = round % 2 === 0 ? 4 : 8;
      const long = (i: number) => round % 2 === 0 && i % 2 === 0;
      for (let i = 0; i < buffers; i++) {
        const { out, inn } = sgs(i);
        if (long(i)) driver.addSgs(out, inn, token++);
        else driver.addSgs([], inn.slice(0, 1), token++);
      }
      assert.equal(driver.numFree, 0);
      assert.equal(driver.canAdd(0, 1), false);
      const chains: DescriptorChain[] = [];
      for (let c = device.pop(); c !== null; c = device.pop()) chains.push(c);
      assert.equal(chains.length, buffers);
      const heads = new Set(chains.map((c) => c.head));
      assert.equal(heads.size, buffers, "no head or id handed out twice");
      // Use them in a different order each round.
      const perm = chains.map((_, j) => chains[(5 * j + round) % buffers]);
      for (const c of perm) {
        // The chain walked the right descriptors: its last segment is its
        // buffer's last writable element, and its length matches that buffer.
        const i = Math.floor((c.addr(c.length - 1) - buf) / 32);
        assert.equal(c.length, long(i) ? 3 : 1);
        assert.equal(c.addr(0), long(i) ? buf + 32 * i : buf + 32 * i + 8);
        device.addUsed(c, c.writableLength);
      }
      const back = new Set<number>();
      for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) back.add(u.token);
      assert.equal(back.size, buffers);
      assert.equal(driver.numFree, size);
      assert.equal(driver.inFlight, 0);
    }
  });
}
