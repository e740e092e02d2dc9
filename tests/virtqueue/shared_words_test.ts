// On shared memory, the words through which one side hands the ring to the
// other (split: avail/used idx, flags, used_event, avail_event; packed:
// descriptor flags and the event suppression structures) must be accessed
// with Atomics, never with a plain DataView call: those are unordered in
// JavaScript's memory model and, in V8's unoptimised tiers, done byte by byte,
// so the other worker can read half a store or have a late byte of one land
// on its own (see two_workers_test.ts for the race itself). This test watches
// every DataView 16-bit access to a SharedArrayBuffer while each side runs,
// deterministically.
import assert from "node:assert/strict";
import { label, pair } from "./_harness.ts";

type Access = readonly ["get" | "set", number];

/** Records the 16-bit DataView accesses to shared memory (buffer offsets) while `fn` runs. */
function watch(fn: () => void): Access[] {
  const proto = DataView.prototype;
  const get16 = proto.getUint16;
  const set16 = proto.setUint16;
  const log: Access[] = [];
  proto.getUint16 = function (this: DataView, offset: number, le?: boolean): number {
    if (this.buffer instanceof SharedArrayBuffer) log.push(["get", this.byteOffset + offset]);
    return get16.call(this, offset, le);
  };
  proto.setUint16 = function (this: DataView, offset: number, v: number, le?: boolean): void {
    if (this.buffer instanceof SharedArrayBuffer) log.push(["set", this.byteOffset + offset]);
    set16.call(this, offset, v, le);
  };
  try {
    fn();
  } finally {
    proto.getUint16 = get16;
    proto.setUint16 = set16;
  }
  return log;
}

for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    const cfg = { packed, eventIdx, shared: true };
    Deno.test(`${label(cfg)}: ring hand-over words in shared memory only through Atomics`, () => {
      const { addrs, alloc, driver, device } = pair(cfg);
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
      const side = (who: "driver" | "device", what: string, fn: () => void) => {
        const mine = who === "driver" ? byDriver : byDevice;
        const theirs = who === "driver" ? byDevice : byDriver;
        for (const [kind, off] of watch(fn)) {
          const bad = kind === "set" ? mine.has(off) : theirs.has(off);
          assert.ok(!bad, `${who} ${what}: plain DataView ${kind} of the ring word at +${off}`);
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
    });
  }
}
