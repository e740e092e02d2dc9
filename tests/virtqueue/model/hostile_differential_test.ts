// Hostile rings, differentially: descriptor tables, indirect tables and
// available rings filled with structured random values (loops, bad next
// indices, nested and chained indirect tables, addresses at and past the
// end of memory, lengths near 2^32, writable before readable, packed flags
// of every lap), served by the engine's device side and by the reference
// model's. The model, written from the spec, decides which chains are
// faults and with which code; the engine must agree on every pop, every
// used entry it then writes, and every byte of guest memory.
import fc from "fast-check";
import { BASE, DATA, DESC, DRIVER_AREA, type Features, MEM_SIZE, Rig, TABLES } from "./_rig.ts";

const RUNS = Number(Deno.env.get("DIFF_RUNS") ?? 40) * 5;
const SEED = Number(Deno.env.get("DIFF_SEED") ?? 0x5eed);

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
const desc = (packedFlags: boolean) =>
  fc.record({
    addr,
    len,
    flags: fc.record({
      next: fc.boolean(),
      write: fc.boolean(),
      indirect: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, fc.constant(true)),
      // Packed: mostly available in the first lap, else every other combination.
      lap: packedFlags
        ? fc.constantFrom(AVAIL, AVAIL, AVAIL, AVAIL, USED, AVAIL | USED, 0)
        : fc.constant(0),
    }).map((f) =>
      (f.next ? NEXT : 0) | (f.write ? WRITE : 0) | (f.indirect ? INDIRECT : 0) | f.lap
    ),
    link: fc.integer({ min: 0, max: 9 }),
  });

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

const CONFIGS: Features[] = [];
for (const packed of [false, true]) {
  for (const indirect of [false, true]) {
    for (const eventIdx of [false, true]) {
      CONFIGS.push({ packed, eventIdx, indirect, inOrder: false });
    }
  }
}
CONFIGS.push({ packed: false, eventIdx: true, indirect: true, inOrder: true });
CONFIGS.push({ packed: true, eventIdx: true, indirect: true, inOrder: true });

CONFIGS.forEach((f, i) => {
  const name = [
    f.packed ? "packed" : "split",
    f.eventIdx && "EVENT_IDX",
    f.indirect && "INDIRECT",
    f.inOrder && "IN_ORDER",
  ]
    .filter(Boolean).join("+");
  Deno.test(`hostile rings ${name}: engine and model agree on every chain and fault`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(f.packed ? [1, 3, 4, 8] : [1, 2, 4, 8])),
        fc.array(desc(f.packed), { minLength: 8, maxLength: 8 }),
        fc.array(fc.array(desc(f.packed), { minLength: 8, maxLength: 8 }), {
          minLength: TABLE_SLOTS,
          maxLength: TABLE_SLOTS,
        }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 8, maxLength: 8 }),
        fc.oneof(
          { weight: 8, arbitrary: fc.integer({ min: 0, max: 8 }) },
          { weight: 1, arbitrary: fc.constantFrom(0xffff, 0x8000, 9, 17) },
        ),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        (size, ring, tables, heads, availIdx, uses) => {
          const r = new Rig(size, f);
          ring.slice(0, size).forEach((d, k) => write(r, DESC + 16 * k, d));
          tables.forEach((t, k) => t.forEach((d, j) => write(r, TABLES + 0x100 * k + 16 * j, d)));
          if (!f.packed) {
            heads.forEach((h, k) => set16(r, DRIVER_AREA + 4 + 2 * (k % size), h));
            set16(r, DRIVER_AREA + 2, availIdx <= 8 ? availIdx % (size + 1) : availIdx);
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
      { seed: SEED + 200 + i, numRuns: RUNS, endOnFailure: true },
    );
  });
});
