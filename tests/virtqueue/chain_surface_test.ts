// What a device model sees of a DescriptorChain: its state to read, nothing
// of the engine's. The compile-time half (readonly fields, private members)
// is checked by the `@ts-expect-error` lines, which fail type checking when
// a field becomes writable or an engine member public again; the run-time
// half checks that no `_`-named member is left on a popped chain.
import assert from "node:assert/strict";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { label, pair } from "./_rig.ts";

/** Never called: type-checked only (each line must be a type error). */
export function userWrites(chain: DescriptorChain): void {
  // @ts-expect-error: head is read-only to users
  chain.head = 1;
  // @ts-expect-error: descriptorCount is read-only to users
  chain.descriptorCount = 1;
  // @ts-expect-error: indirect is read-only to users
  chain.indirect = true;
  // @ts-expect-error: readableCount is read-only to users
  chain.readableCount = 1;
  // @ts-expect-error: writableCount is read-only to users
  chain.writableCount = 1;
  // @ts-expect-error: readableLength is read-only to users
  chain.readableLength = 1;
  // @ts-expect-error: writableLength is read-only to users
  chain.writableLength = 1 << 20;
  // @ts-expect-error: seg is the engine's (_chain_builder.ts)
  chain.seg(0, 1, 0, undefined, 1);
  // @ts-expect-error: shrink is the engine's
  chain.shrink();
  // @ts-expect-error: live is the engine's
  chain.live = true;
  // @ts-expect-error: pool is the engine's
  chain.pool = undefined;
  // @ts-expect-error: owner is the engine's
  void chain.owner;
}

for (const packed of [false, true]) {
  const cfg = { packed, indirect: true };
  Deno.test(`${label(cfg)}: a popped chain's state reads as the driver wrote it, and has no _ members`, () => {
    const { alloc, driver, device } = pair(cfg);
    const req = alloc.alloc(4, 4);
    const resp = alloc.alloc(8, 4);
    driver.addSgs([{ addr: req, len: 4 }], [{ addr: resp, len: 8 }, { addr: resp, len: 0 }], 7);
    driver.kick();
    const chain = device.pop();
    assert.ok(chain !== null);
    assert.deepEqual(
      [chain.readableCount, chain.writableCount, chain.readableLength, chain.writableLength],
      [1, 2, 4, 8],
    );
    assert.equal(chain.indirect, true);
    assert.equal(chain.descriptorCount, 1);
    const names = [
      ...Object.getOwnPropertyNames(chain),
      ...Object.getOwnPropertyNames(Object.getPrototypeOf(chain)),
    ];
    assert.deepEqual(names.filter((n) => n.startsWith("_")), []);
    device.addUsed(chain, 8);
    assert.equal(driver.getBuf()?.token, 7);
  });
}

for (const packed of [false, true]) {
  Deno.test(`${label({ packed })}: a reused chain's views follow each request's buffer (region, start, length)`, () => {
    const { mem, driver, device } = pair({ packed });
    // A second region whose bytes sit at the same offsets as the first's.
    const base2 = 0x400000;
    mem.addRegion(base2, new Uint8Array(0x10000).fill(0xb2));
    mem.bytes(0x10000, 0x10000).fill(0xa1);
    mem.bytes(0x10000 + 0x8000 + 64, 16).fill(0xc3);
    const cases: [number, number, number][] = [
      [0x10000 + 0x8000, 16, 0xa1], // region 1
      [base2 + 0x8000, 16, 0xb2], // region 2, same offset and length
      [0x10000 + 0x8000 + 64, 16, 0xc3], // region 1, another offset
      [0x10000 + 0x8000 + 64, 8, 0xc3], // same offset, shorter
      [0x10000 + 0x8000, 16, 0xa1], // back to the first
      [0x10000 + 0x8000 + 64, 16, 0xc3], // same region and length, another offset
    ];
    for (const [addr, len, want] of cases) {
      driver.addSgs([], [{ addr, len }], addr);
      driver.kick();
      const chain = device.pop();
      assert.ok(chain !== null);
      const views: Uint8Array[] = [];
      chain.writableViews(0, len, views);
      assert.equal(views.length, 1);
      assert.equal(views[0].length, len);
      assert.ok(views[0].every((b) => b === want), `view of ${addr.toString(16)}+${len}`);
      views[0].fill(0x5a); // written through the view: lands in that buffer only
      assert.ok(mem.bytes(addr, len).every((b) => b === 0x5a));
      mem.bytes(addr, len).fill(want);
      device.addUsed(chain, len);
      assert.equal(driver.getBuf()?.token, addr);
    }
  });
}
