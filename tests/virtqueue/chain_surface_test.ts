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
