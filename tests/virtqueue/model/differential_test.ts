// Differential tests: random operation sequences (fast-check model-based
// testing) applied to the engine and to the reference model of
// tests/virtqueue/model/, for every layout and feature combination. After
// each operation the two must agree on everything observable: the chains
// popped (segments, head, descriptor count), used lengths and tokens,
// notification decisions, errors by code, the queue positions, and every
// byte of guest memory. Hostile writes into the rings are among the
// operations: the model, written from the spec, decides what is a fault.
//
// Fixed seeds and bounded runs keep the cost down; DIFF_RUNS overrides the
// number of runs per configuration (the mutation check uses fewer).
import fc from "fast-check";
import { DATA, DATA_SIZE, type Features, Rig } from "./_rig.ts";

type Cmd = fc.Command<object, Rig>;

const RUNS = Number(Deno.env.get("DIFF_RUNS") ?? 40);
const SEED = Number(Deno.env.get("DIFF_SEED") ?? 0x5eed);

class Simple implements Cmd {
  constructor(readonly name: string, readonly fn: (r: Rig) => void) {}
  check(): boolean {
    return true;
  }
  run(_m: object, r: Rig): void {
    this.fn(r);
  }
  toString(): string {
    return this.name;
  }
}

const element = fc.record({
  slot: fc.integer({ min: 0, max: 63 }),
  len: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.constantFrom(1, 8, 16)),
});

/** A buffer element inside the data area (slots of 128 bytes; they may overlap). */
const sg = (e: { slot: number; len: number }) => ({
  addr: DATA + ((e.slot * 128) % (DATA_SIZE - 128)),
  len: e.len,
});

function commands(hostile: boolean): fc.Arbitrary<Cmd>[] {
  const add = fc.tuple(fc.array(element, { maxLength: 3 }), fc.array(element, { maxLength: 3 }))
    .filter(([o, i]) => o.length + i.length > 0)
    .map(([o, i]) => new Simple("add", (r) => r.add(o.map(sg), i.map(sg))));
  const use = fc.record({
    pick: fc.oneof(fc.constant(0), fc.nat()),
    frac: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    flush: fc.boolean(),
    fill: fc.nat(255),
  }).map((u) => new Simple("use", (r) => r.use(u.pick, u.frac, u.flush, u.fill)));
  const list: fc.Arbitrary<Cmd>[] = [
    add,
    add,
    add,
    use,
    use,
    fc.constant(new Simple("pop", (r) => r.pop())),
    fc.constant(new Simple("pop", (r) => r.pop())),
    fc.constant(
      new Simple(
        "flush",
        (r) => r.same("flush", () => r.device.flushUsed(), () => r.mDevice.flushUsed()),
      ),
    ),
    fc.constant(
      new Simple("kick", (r) => r.same("kick", () => r.driver.kick(), () => r.mDriver.kick())),
    ),
    fc.constant(
      new Simple("get", (r) => r.same("getBuf", () => r.driver.getBuf(), () => r.mDriver.getBuf())),
    ),
    fc.constant(
      new Simple("get", (r) => r.same("getBuf", () => r.driver.getBuf(), () => r.mDriver.getBuf())),
    ),
    fc.constant(
      new Simple("needsNotification", (r) =>
        r.same(
          "needsNotification",
          () => r.device.needsNotification(),
          () => r.mDevice.needsNotification(),
        )),
    ),
    fc.constantFrom(
      new Simple(
        "disableCb",
        (r) => r.same("disableCb", () => r.driver.disableCb(), () => r.mDriver.disableCb()),
      ),
      new Simple(
        "enableCb",
        (r) => r.same("enableCb", () => r.driver.enableCb(), () => r.mDriver.enableCb()),
      ),
      new Simple("enableCbDelayed", (r) =>
        r.same(
          "enableCbDelayed",
          () => r.driver.enableCbDelayed(),
          () => r.mDriver.enableCbDelayed(),
        )),
      new Simple("enableNotification", (r) =>
        r.same(
          "enableNotification",
          () => r.device.enableNotification(),
          () => r.mDevice.enableNotification(),
        )),
      new Simple("disableNotification", (r) =>
        r.same(
          "disableNotification",
          () => r.device.disableNotification(),
          () => r.mDevice.disableNotification(),
        )),
    ),
    fc.record({
      kind: fc.integer({ min: 0, max: 3 }),
      availIdx: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -1, max: 0x10000 })),
      availWrap: fc.integer({ min: 0, max: 2 }),
      usedIdx: fc.integer({ min: 0, max: 9 }),
    }).map((k) => new Simple("restart", (r) => r.restart(k.kind, k))),
  ];
  if (hostile) {
    list.push(
      fc.record({ over: fc.constant(true), pick: fc.nat(), fill: fc.nat(255) })
        .map((u) => new Simple("use too long", (r) => r.use(u.pick, 1, true, u.fill, true))),
      fc.record({
        offset: fc.oneof(
          fc.integer({ min: 0, max: 0x100 }), // descriptors
          fc.integer({ min: 0x400, max: 0x420 }), // avail ring / driver event
          fc.integer({ min: 0x800, max: 0x850 }), // used ring / device event
        ),
        value: fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 2, 4, 7, 8, 0x80, 0x8000, 0x8080)),
        wide: fc.boolean(),
      }).map((c) => new Simple("corrupt", (r) => r.corrupt(c.offset, c.value, c.wide))),
    );
  }
  return list;
}

const CONFIGS: Features[] = [];
for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    for (const indirect of [false, true]) {
      for (const inOrder of [false, true]) CONFIGS.push({ packed, eventIdx, indirect, inOrder });
    }
  }
}

const label = (f: Features) =>
  [
    f.packed ? "packed" : "split",
    f.eventIdx && "EVENT_IDX",
    f.indirect && "INDIRECT",
    f.inOrder &&
    "IN_ORDER",
  ].filter(Boolean).join("+");

function run(f: Features, hostile: boolean, seed: number): void {
  const sizes = f.packed ? [1, 2, 3, 4, 5, 8] : [1, 2, 4, 8];
  fc.assert(
    fc.property(
      fc.constantFrom(...sizes),
      fc.commands(commands(hostile), { maxCommands: 80, size: "max" }),
      (size, cmds) => {
        fc.modelRun(() => ({ model: {}, real: new Rig(size, f) }), cmds);
      },
    ),
    { seed, numRuns: RUNS, endOnFailure: true },
  );
}

CONFIGS.forEach((f, i) => {
  Deno.test(`differential ${label(f)}: engine and model agree on every observable`, () => {
    run(f, false, SEED + i);
  });
  Deno.test(`differential ${label(f)}: with hostile ring writes, same faults and bytes`, () => {
    run(f, true, SEED + 100 + i);
  });
});
