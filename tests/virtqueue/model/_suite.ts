// The differential suites, as functions: the test files register them, and
// the mutation check (tests/virtqueue/mutations_test.ts) runs them against
// mutated copies of the engine in the same process.
//
// differential(): random operation sequences (fast-check model-based
// testing) applied to the engine and to the reference model, for every
// layout and feature combination. After each operation the two must agree
// on everything observable: the chains popped (segments, head, descriptor
// count), used lengths and tokens, notification decisions, errors by code,
// the queue positions, and every byte of guest memory. Hostile writes into
// the rings are among the operations: the model, written from the spec,
// decides what is a fault.
//
// hostileRings(): descriptor tables, indirect tables and available rings
// filled with structured random values (loops, bad next indices, nested and
// chained indirect tables, addresses at and past the end of memory, lengths
// near 2^32, writable before readable, packed flags of every lap), served by
// both device sides; the engine must agree with the model on every pop, the
// used entries it then writes, and every byte of guest memory.
import fc from "fast-check";
import {
  BASE,
  DATA,
  DATA_SIZE,
  DESC,
  DRIVER_AREA,
  type Features,
  MEM_SIZE,
  Rig,
  TABLES,
} from "./_rig.ts";

type Cmd = fc.Command<object, Rig>;

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

export const CONFIGS: Features[] = [];
for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    for (const indirect of [false, true]) {
      for (const inOrder of [false, true]) CONFIGS.push({ packed, eventIdx, indirect, inOrder });
    }
  }
}

export const label = (f: Features): string =>
  [
    f.packed ? "packed" : "split",
    f.eventIdx && "EVENT_IDX",
    f.indirect && "INDIRECT",
    f.inOrder &&
    "IN_ORDER",
  ].filter(Boolean).join("+");

/** Random operation sequences on engine and model; throws at the first difference. */
export function differential(f: Features, hostile: boolean, seed: number, runs: number): void {
  const sizes = f.packed ? [1, 2, 3, 4, 5, 8] : [1, 2, 4, 8];
  fc.assert(
    fc.property(
      fc.constantFrom(...sizes),
      fc.commands(commands(hostile), { maxCommands: 80, size: "max" }),
      (size, cmds) => {
        fc.modelRun(() => ({ model: {}, real: new Rig(size, f) }), cmds);
      },
    ),
    { seed, numRuns: runs, endOnFailure: true },
  );
}

const NEXT = 1, WRITE = 2, INDIRECT = 4, AVAIL = 1 << 7, USED = 1 << 15;
const TABLE_SLOTS = 3; // indirect tables of up to 8 entries at TABLES + 0x100 * k

const addr = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((k) => DATA + 0x40 * k) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: TABLE_SLOTS - 1 }).map((k) => TABLES + 0x100 * k),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      0,
      BASE - 8,
      BASE + MEM_SIZE - 8,
      BASE + MEM_SIZE,
      2 ** 40,
      2 ** 53 - 16,
    ),
  },
);
const len = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 2, arbitrary: fc.constantFrom(16, 32, 48, 64, 128) },
  { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0x80000000, 24, 16 * 2000) },
);
const lap = (packedFlags: boolean) =>
  // Packed: mostly available in the first lap, else every other combination.
  packedFlags ? fc.constantFrom(AVAIL, AVAIL, AVAIL, AVAIL, USED, AVAIL | USED, 0) : fc.constant(0);

/** Any descriptor. */
const anyDesc = (packedFlags: boolean) =>
  fc.record({
    addr,
    len,
    flags: fc.record({
      next: fc.boolean(),
      write: fc.boolean(),
      indirect: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, fc.constant(true)),
      lap: lap(packedFlags),
    }).map((f) =>
      (f.next ? NEXT : 0) | (f.write ? WRITE : 0) | (f.indirect ? INDIRECT : 0) | f.lap
    ),
    link: fc.integer({ min: 0, max: 9 }),
  });

/** A descriptor pointing at one of the indirect tables (mostly well formed). */
const tableDesc = (packedFlags: boolean) =>
  fc.record({
    addr: fc.integer({ min: 0, max: TABLE_SLOTS - 1 }).map((k) => TABLES + 0x100 * k),
    len: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 })).map((n) =>
      16 * n
    ),
    flags: fc.tuple(
      fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.constant(NEXT)),
      lap(packedFlags),
    )
      .map(([n, l]) => INDIRECT | n | l),
    link: fc.integer({ min: 0, max: 9 }),
  });

/** A readable or writable buffer, chained or not (table entries, mostly). */
const bufferDesc = (packedFlags: boolean) =>
  fc.record({
    addr: fc.integer({ min: 0, max: 0x1f }).map((k) => DATA + 0x40 * k),
    len: fc.integer({ min: 0, max: 64 }),
    flags: fc.tuple(fc.boolean(), fc.boolean(), lap(packedFlags))
      .map(([n, w, l]) => (n ? NEXT : 0) | (w ? WRITE : 0) | l),
    link: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 })),
  });

/**
 * A table holding a well-formed chain (readable entries, then writable ones),
 * whose last entry may link back to an earlier one: a loop.
 */
const chainTable = fc.record({
  k: fc.integer({ min: 1, max: 8 }),
  readable: fc.integer({ min: 0, max: 8 }),
  loopTo: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 7 })),
  len: fc.integer({ min: 1, max: 64 }),
}).map(({ k, readable, loopTo, len }) =>
  Array.from({ length: 8 }, (_, j) => {
    const last = j === k - 1;
    const next = last ? (loopTo >= 0 ? loopTo % k : -1) : j + 1;
    return {
      addr: DATA + 0x40 * j,
      len,
      flags: (j >= readable ? WRITE : 0) | (next >= 0 ? NEXT : 0),
      link: next >= 0 ? next : 0,
    };
  })
);

const desc = (packedFlags: boolean) =>
  fc.oneof(
    { weight: 4, arbitrary: anyDesc(packedFlags) },
    { weight: 2, arbitrary: bufferDesc(packedFlags) },
    { weight: 1, arbitrary: tableDesc(packedFlags) },
  );

function write(r: Rig, at: number, d: { addr: number; len: number; flags: number; link: number }) {
  for (const view of [new DataView(r.eBuf), new DataView(r.mBytes.buffer)]) {
    const o = at - BASE;
    view.setUint32(o, d.addr % 2 ** 32, true);
    view.setUint32(o + 4, Math.floor(d.addr / 2 ** 32), true);
    view.setUint32(o + 8, d.len, true);
    // split: flags at 12, next at 14; packed: id at 12, flags at 14.
    if (r.f.packed) {
      view.setUint16(o + 12, d.link, true);
      view.setUint16(o + 14, d.flags, true);
    } else {
      view.setUint16(o + 12, d.flags, true);
      view.setUint16(o + 14, d.link, true);
    }
  }
}

function set16(r: Rig, at: number, v: number) {
  new DataView(r.eBuf).setUint16(at - BASE, v, true);
  new DataView(r.mBytes.buffer).setUint16(at - BASE, v, true);
}

export const HOSTILE_CONFIGS: Features[] = [];
for (const packed of [false, true]) {
  for (const indirect of [false, true]) {
    for (const eventIdx of [false, true]) {
      HOSTILE_CONFIGS.push({ packed, eventIdx, indirect, inOrder: false });
    }
  }
}
HOSTILE_CONFIGS.push({ packed: false, eventIdx: true, indirect: true, inOrder: true });
HOSTILE_CONFIGS.push({ packed: true, eventIdx: true, indirect: true, inOrder: true });

/** Hostile rings on both device sides; throws at the first difference. */
export function hostileRings(f: Features, seed: number, runs: number): void {
  fc.assert(
    fc.property(
      fc.constantFrom(...(f.packed ? [1, 3, 4, 8] : [1, 2, 4, 8])),
      fc.array(desc(f.packed), { minLength: 8, maxLength: 8 }),
      fc.array(fc.oneof(fc.array(desc(f.packed), { minLength: 8, maxLength: 8 }), chainTable), {
        minLength: TABLE_SLOTS,
        maxLength: TABLE_SLOTS,
      }),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 8, maxLength: 8 }),
      fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }) },
        // -1: one more than the queue size, the first value 2.7.13.3 rules out.
        { weight: 1, arbitrary: fc.constantFrom(-1, 0xffff, 0x8000, 17) },
      ),
      fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
      (size, ring, tables, heads, availIdx, uses) => {
        const r = new Rig(size, f);
        ring.slice(0, size).forEach((d, k) => write(r, DESC + 16 * k, d));
        tables.forEach((t, k) => t.forEach((d, j) => write(r, TABLES + 0x100 * k + 16 * j, d)));
        if (!f.packed) {
          heads.forEach((h, k) => set16(r, DRIVER_AREA + 4 + 2 * (k % size), h));
          set16(
            r,
            DRIVER_AREA + 2,
            availIdx < 0 ? size + 1 : availIdx <= 8 ? availIdx % (size + 1) : availIdx,
          );
        }
        r.check("setup");
        for (let k = 0; k < uses.length; k++) {
          r.pop();
          if (uses[k] && r.eHeld.length > 0) r.use(0, 1, true, k);
          r.same(
            "needsNotification",
            () => r.device.needsNotification(),
            () => r.mDevice.needsNotification(),
          );
        }
      },
    ),
    { seed, numRuns: runs, endOnFailure: true },
  );
}
