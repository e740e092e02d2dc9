// Property: under any interleaving of add / kick / pop / use / flush / get,
// with any chain shapes, every token comes back exactly once, with the
// length the device reported, and nothing is lost or invented.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { CONFIGS, label, pair } from "./_rig.ts";

type Op =
  | { t: "add"; out: number; in: number }
  | { t: "kick" }
  | { t: "pop" }
  | { t: "use"; pick: number; frac: number }
  | { t: "flush" }
  | { t: "get" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("add" as const),
      out: fc.integer({ min: 0, max: 3 }),
      in: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: "kick" as const }) },
  { weight: 3, arbitrary: fc.constant({ t: "pop" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("use" as const),
      pick: fc.nat(),
      frac: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: "flush" as const }) },
  { weight: 3, arbitrary: fc.constant({ t: "get" as const }) },
);

const STRIDE = 256; // each token's buffers live in its own 256-byte slot

for (const cfg of CONFIGS) {
  Deno.test(`${label(cfg)}: every token comes back once, with its length`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(cfg.packed ? [1, 2, 3, 5, 8] : [1, 2, 4, 8])),
        fc.array(op, { minLength: 10, maxLength: 300, size: "max" }),
        (size, ops) => {
          const p = pair({ ...cfg, size, memSize: 1 << 18 });
          const area = p.alloc.alloc(STRIDE * 512, 16);
          const shape = new Map<number, { readable: number; writable: number; n: number }>();
          const expectLen = new Map<number, number>();
          const returned = new Set<number>();
          const held: { chain: DescriptorChain; token: number }[] = [];
          let token = 0;

          const use = (i: number, frac: number) => {
            const [{ chain, token: t }] = held.splice(i, 1);
            const len = Math.floor(chain.writableLength * frac);
            expectLen.set(t, len);
            p.device.pushUsed(chain, len);
          };
          const get = () => {
            const u = p.driver.getBuf();
            if (u === null) return false;
            assert.ok(!returned.has(u.token), `token ${u.token} returned twice`);
            assert.equal(u.len, expectLen.get(u.token), `length of token ${u.token}`);
            returned.add(u.token);
            return true;
          };
          const pop = () => {
            const c = p.device.pop();
            if (c === null) return false;
            const t = Math.floor((c.addr(0) - area) / STRIDE);
            const s = shape.get(t);
            assert.ok(s, `chain for unknown token ${t}`);
            assert.deepEqual([c.readableLength, c.writableLength, c.length], [
              s.readable,
              s.writable,
              s.n,
            ]);
            held.push({ chain: c, token: t });
            return true;
          };

          for (const o of ops) {
            switch (o.t) {
              case "add": {
                const n = o.out + o.in;
                if (n === 0 || !p.driver.canAdd(o.out, o.in) || token >= 512) break;
                const base = area + token * STRIDE;
                const sgs = Array.from(
                  { length: n },
                  (_, i) => ({ addr: base + 32 * i, len: 1 + ((token + i) % 31) }),
                );
                p.driver.addSgs(sgs.slice(0, o.out), sgs.slice(o.out), token);
                shape.set(token, {
                  readable: sgs.slice(0, o.out).reduce((a, s) => a + s.len, 0),
                  writable: sgs.slice(o.out).reduce((a, s) => a + s.len, 0),
                  n,
                });
                token++;
                break;
              }
              case "kick":
                p.driver.kick();
                break;
              case "pop":
                pop();
                break;
              case "use":
                if (held.length > 0) use(cfg.inOrder ? 0 : o.pick % held.length, o.frac);
                break;
              case "flush":
                p.device.flushUsed();
                break;
              case "get":
                get();
                break;
            }
          }
          // Drain everything.
          while (pop());
          while (held.length > 0) use(0, 1);
          p.device.flushUsed();
          while (get());
          assert.equal(returned.size, token, "every token came back");
          assert.equal(p.driver.inFlight, 0);
          assert.equal(p.driver.numFree, size);
          assert.equal(p.device.inFlight, 0);
        },
      ),
      { numRuns: 150, seed: 21 },
    );
  });
}
