// On shared memory, the words through which one side hands the ring to the
// other (split: avail/used idx, flags, used_event, avail_event; packed:
// descriptor flags and the event suppression structures) must be accessed
// with Atomics, never with a plain DataView call: those are unordered in
// JavaScript's memory model and, in V8's unoptimised tiers, done byte by byte,
// so the other worker can read half a store or have a late byte of one land
// on its own (see two_workers_test.ts for the race itself). This test watches,
// while each side runs, deterministically:
// - every DataView access (any width) to a SharedArrayBuffer;
// - every indexed read or write of a Uint16Array over shared memory (the
//   queues' ring word arrays are made while `Uint16Array` is replaced by a
//   constructor that wraps arrays over shared memory in a Proxy), which is
//   what a regression from `Atomics.load(words, i)` to `words[i]` would do;
// - every Atomics call, with the byte it reaches.
// A plain access to a hand-over word fails the test, and the words must have
// been reached through Atomics, so the watch cannot pass by seeing nothing.
import assert from "node:assert/strict";
import { label, pair } from "./_rig.ts";

type AccessKind = "get" | "set";
interface Access {
  readonly kind: AccessKind;
  /** Byte offset in the shared buffer. */
  readonly at: number;
  readonly size: number;
  readonly how: "DataView" | "Uint16Array[i]" | "Atomics";
}

let log: Access[] | undefined;
const record = (a: Access) => log?.push(a);

// --- DataView: every get/set method -----------------------------------------

const DV_METHODS: [string, number][] = [
  ["Int8", 1],
  ["Uint8", 1],
  ["Int16", 2],
  ["Uint16", 2],
  ["Int32", 4],
  ["Uint32", 4],
  ["Float32", 4],
  ["Float64", 8],
  ["BigInt64", 8],
  ["BigUint64", 8],
];

function patchDataView(): () => void {
  const proto = DataView.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved: [string, (...a: unknown[]) => unknown][] = [];
  for (const [name, size] of DV_METHODS) {
    for (const kind of ["get", "set"] as const) {
      const key = `${kind}${name}`;
      const orig = proto[key];
      saved.push([key, orig]);
      proto[key] = function (this: DataView, offset: unknown, ...rest: unknown[]) {
        if (this.buffer instanceof SharedArrayBuffer) {
          record({ kind, at: this.byteOffset + Number(offset), size, how: "DataView" });
        }
        return orig.call(this, offset, ...rest);
      };
    }
  }
  return () => {
    for (const [key, orig] of saved) proto[key] = orig;
  };
}

// --- Uint16Array over shared memory: a Proxy that sees indexed access ------

const targets = new WeakMap<object, Uint16Array>();

function watched(arr: Uint16Array): Uint16Array {
  const p = new Proxy(arr, {
    get(t, k) {
      if (typeof k === "string" && /^\d+$/.test(k)) {
        record({ kind: "get", at: t.byteOffset + 2 * Number(k), size: 2, how: "Uint16Array[i]" });
      }
      const v = Reflect.get(t, k, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
    set(t, k, v) {
      if (typeof k === "string" && /^\d+$/.test(k)) {
        record({ kind: "set", at: t.byteOffset + 2 * Number(k), size: 2, how: "Uint16Array[i]" });
      }
      return Reflect.set(t, k, v, t);
    },
  });
  targets.set(p, arr);
  return p;
}

/** Runs `make` with `Uint16Array` wrapping its arrays over shared memory in {@link watched}. */
function withWatchedWords<T>(make: () => T): T {
  const Orig = globalThis.Uint16Array;
  globalThis.Uint16Array = new Proxy(Orig, {
    construct(target, args, newTarget) {
      const arr = Reflect.construct(
        target,
        args,
        newTarget === globalThis.Uint16Array ? target : newTarget,
      );
      return arr.buffer instanceof SharedArrayBuffer ? watched(arr) : arr;
    },
  });
  try {
    return make();
  } finally {
    globalThis.Uint16Array = Orig;
  }
}

// --- Atomics: unwrap the proxies, and record what they reach ----------------

const ATOMIC_READS = ["load", "wait", "waitAsync"];
const ATOMIC_WRITES = ["store", "add", "sub", "and", "or", "xor", "exchange", "compareExchange"];

function patchAtomics(): () => void {
  const A = Atomics as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved: [string, (...a: unknown[]) => unknown][] = [];
  for (const name of [...ATOMIC_READS, ...ATOMIC_WRITES, "notify"]) {
    const orig = A[name];
    if (typeof orig !== "function") continue;
    saved.push([name, orig]);
    A[name] = (arr: unknown, index: unknown, ...rest: unknown[]) => {
      const real = (typeof arr === "object" && arr !== null && targets.get(arr)) || arr;
      if (
        ArrayBuffer.isView(real) && real.buffer instanceof SharedArrayBuffer && name !== "notify"
      ) {
        const ta = real as Uint16Array;
        record({
          kind: ATOMIC_WRITES.includes(name) ? "set" : "get",
          at: ta.byteOffset + ta.BYTES_PER_ELEMENT * Number(index),
          size: ta.BYTES_PER_ELEMENT,
          how: "Atomics",
        });
      }
      return orig.call(Atomics, real, index, ...rest);
    };
  }
  return () => {
    for (const [name, orig] of saved) A[name] = orig;
  };
}

/** Records the accesses to shared memory while `fn` runs. */
function watch(fn: () => void): Access[] {
  const restoreDv = patchDataView();
  const restoreAtomics = patchAtomics();
  log = [];
  try {
    fn();
    return log;
  } finally {
    log = undefined;
    restoreDv();
    restoreAtomics();
  }
}

const overlaps = (a: Access, word: number) => a.at < word + 2 && word < a.at + a.size;

Deno.test("the watch sees plain DataView, plain Uint16Array and Atomics accesses", () => {
  const words = withWatchedWords(() => new Uint16Array(new SharedArrayBuffer(16), 4, 4));
  const plain = new Uint16Array(8);
  assert.ok(targets.has(words), "arrays over shared memory are watched");
  assert.ok(!targets.has(plain), "others are not");
  const dv = new DataView(words.buffer);
  const seen = watch(() => {
    words[1] = 7;
    assert.equal(words[1], 7);
    assert.equal(Atomics.load(words, 1), 7);
    Atomics.store(words, 2, 9);
    dv.setUint8(8, 1);
    dv.getUint32(4);
    plain[0] = 1; // not shared: not recorded
  });
  assert.deepEqual(seen.map((a) => `${a.how} ${a.kind} ${a.at}+${a.size}`), [
    "Uint16Array[i] set 6+2",
    "Uint16Array[i] get 6+2",
    "Atomics get 6+2",
    "Atomics set 8+2",
    "DataView set 8+1",
    "DataView get 4+4",
  ]);
});

for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    const cfg = { packed, eventIdx, shared: true };
    Deno.test(`${label(cfg)}: ring hand-over words in shared memory only through Atomics`, () => {
      const { addrs, alloc, driver, device } = withWatchedWords(() => pair(cfg));
      const base = 0x10000; // the harness's guest base: buffer offset = address - base
      const size = addrs.size;
      // The words each side writes for the other to read.
      const byDriver = new Set<number>();
      const byDevice = new Set<number>();
      const a = addrs.driver - base;
      const u = addrs.device - base;
      if (!packed) {
        for (const w of [a, a + 2, a + 4 + 2 * size]) byDriver.add(w);
        for (const w of [u, u + 2, u + 4 + 8 * size]) byDevice.add(w);
      } else {
        // One-descriptor chains below: every descriptor's flags pass the ring
        // over, from driver to device and back.
        for (let i = 0; i < size; i++) {
          byDriver.add(addrs.desc - base + 16 * i + 14);
          byDevice.add(addrs.desc - base + 16 * i + 14);
        }
        for (const w of [a, a + 2]) byDriver.add(w);
        for (const w of [u, u + 2]) byDevice.add(w);
      }
      // What went through Atomics, by side and direction, over the whole run.
      const atomic = { driver: new Set<string>(), device: new Set<string>() };
      const side = (who: "driver" | "device", what: string, fn: () => void) => {
        const mine = who === "driver" ? byDriver : byDevice;
        const theirs = who === "driver" ? byDevice : byDriver;
        for (const a of watch(fn)) {
          const words = a.kind === "set" ? mine : theirs;
          for (const w of words) {
            if (!overlaps(a, w)) continue;
            if (a.how === "Atomics") atomic[who].add(`${a.kind} ${w}`);
            else {
              assert.fail(
                `${who} ${what}: plain ${a.how} ${a.kind} of ${a.size} byte(s) at +${a.at}, ` +
                  `over the ring word at +${w}`,
              );
            }
          }
        }
      };
      const buf = alloc.alloc(64, 8);
      const slot = { token: undefined as number | undefined, len: 0 };
      // Over two laps, so every slot and both wrap counters are met.
      for (let i = 0; i < 2 * size + 3; i++) {
        side("driver", "addSgs", () => driver.addSgs([], [{ addr: buf, len: 16 }], i));
        side("driver", "kick", () => driver.kick());
        side("device", "hasAvailable", () => device.hasAvailable());
        side("device", "pop + addUsed", () => {
          const c = device.pop();
          assert.ok(c !== null);
          device.addUsed(c, 4);
        });
        side("device", "needsNotification", () => device.needsNotification());
        side("device", "pop of nothing", () => assert.equal(device.pop(), null));
        side("device", "enable/disableNotification", () => {
          device.enableNotification();
          device.disableNotification();
        });
        side("driver", "hasUsed + getBufInto", () => {
          assert.ok(driver.hasUsed());
          assert.ok(driver.getBufInto(slot));
          assert.equal(slot.token, i);
          assert.equal(slot.len, 4);
        });
        side("driver", "enableCb/disableCb", () => {
          driver.enableCb();
          driver.disableCb();
          driver.enableCbDelayed();
        });
      }
      // The hand-over words were reached, through Atomics: the index (split)
      // or every descriptor's flags (packed), stored by one side, loaded by
      // the other.
      const handOver = packed
        ? [...Array(size).keys()].map((i) => addrs.desc - base + 16 * i + 14)
        : [a + 2];
      for (const w of handOver) {
        assert.ok(atomic.driver.has(`set ${w}`), `driver stores +${w} atomically`);
        assert.ok(atomic.device.has(`get ${w}`), `device loads +${w} atomically`);
      }
      const back = packed ? handOver : [u + 2];
      for (const w of back) {
        assert.ok(atomic.device.has(`set ${w}`), `device stores +${w} atomically`);
        assert.ok(atomic.driver.has(`get ${w}`), `driver loads +${w} atomically`);
      }
    });
  }
}
