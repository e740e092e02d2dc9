// Fuzz: random descriptor tables, rings and indirect tables fed to the
// device side. Only QueueErrors come out, every chain stays inside guest
// memory, and every loop is bounded (the pops per case are capped and each
// pop returns). Seeds are fixed so a failure reproduces.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import { GuestMemory } from "../../src/memory.ts";
import {
  createDeviceQueue,
  type DescriptorChain,
  type QueueOptions,
} from "../../src/virtqueue/mod.ts";

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = 0x4000;
const MEM = 0x4000; // 16 KiB of guest memory at 0x4000
const DESC = BASE, DRIVER = BASE + 0x800, DEVICE = BASE + 0xc00, TABLES = BASE + 0x1000;

function checkChain(c: DescriptorChain, mem: GuestMemory) {
  let readable = 0, writable = 0;
  for (let i = 0; i < c.length; i++) {
    assert.ok(mem.findRegion(c.addr(i), c.len(i)) >= 0, "segment inside memory");
    if (c.isWritable(i)) writable += c.len(i);
    else {
      assert.equal(writable, 0, "readable after writable");
      readable += c.len(i);
    }
  }
  assert.equal(c.readableLength, readable);
  assert.equal(c.writableLength, writable);
  assert.ok(c.length <= Math.max(16, 1024));
}

function runCase(seed: number, packed: boolean, structured: boolean) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const buffer = new ArrayBuffer(MEM);
  const mem = GuestMemory.fromBuffer(buffer, BASE);
  const v = new DataView(buffer);
  const size = packed ? 1 + int(16) : 1 << int(5);
  const opts: QueueOptions = {
    packed,
    eventIdx: r() < 0.5,
    indirect: r() < 0.7,
    inOrder: r() < 0.3,
    index: seed,
  };
  const addr = () => {
    const k = int(10);
    if (k < 6) return TABLES + int(0x3000) - 16; // mostly inside
    if (k < 7) return BASE + MEM - int(32); // near the end
    if (k < 8) return int(BASE); // below memory
    if (k < 9) return TABLES + 16 * int(64); // on an indirect table
    return int(2 ** 32) * 2 ** 20 + int(2 ** 20); // far away
  };
  const len = () => [0, 1, 8, 16, 32, 48, 24, 0xffffffff, int(4096), int(64) * 16][int(10)];
  const flags = () =>
    (r() < 0.7 ? int(8) : int(0x10000)) | (packed ? (int(2) << 7) | (int(2) << 15) : 0);
  const writeDesc = (o: number) => {
    v.setBigUint64(o, BigInt(addr()), true);
    v.setUint32(o + 8, len(), true);
    v.setUint16(o + 12, packed ? int(size + 2) : flags(), true);
    v.setUint16(o + 14, packed ? flags() : int(size + 2), true);
  };
  const scribble = () => {
    if (!structured) {
      new Uint8Array(buffer).set(Uint8Array.from({ length: 0x1800 }, () => int(256)));
      return;
    }
    for (let i = 0; i < size; i++) writeDesc(DESC - BASE + 16 * i);
    for (let i = 0; i < 64; i++) writeDesc(TABLES - BASE + 16 * i);
    if (!packed) {
      v.setUint16(DRIVER - BASE, int(4), true);
      v.setUint16(DRIVER - BASE + 2, r() < 0.8 ? int(size + 1) : int(0x10000), true);
      for (let i = 0; i < size + 1; i++) {
        v.setUint16(DRIVER - BASE + 4 + 2 * i, int(size + 2), true);
      }
    } else {
      v.setUint32(DRIVER - BASE, int(2 ** 32), true);
    }
  };
  scribble();
  const q = createDeviceQueue(mem, { size, desc: DESC, driver: DRIVER, device: DEVICE }, opts);
  const held: DescriptorChain[] = [];
  let errors = 0;
  for (let i = 0; i < 3 * size + 4; i++) {
    if (r() < 0.05) scribble(); // the driver changes things under the device's feet
    let c: DescriptorChain | null;
    try {
      c = q.pop();
    } catch (e) {
      if (!(e instanceof QueueError)) throw e;
      assert.equal(e.queue, seed);
      errors++;
      continue;
    }
    if (c === null) break;
    checkChain(c, mem);
    held.push(c);
    if (r() < 0.5 || held.length === size) {
      const k = opts.inOrder ? 0 : int(held.length);
      const [h] = held.splice(k, 1);
      q.addUsed(h, int(h.writableLength + 1));
      q.needsNotification();
    }
  }
  for (const h of held) q.pushUsed(h, 0);
  q.flushUsed();
  q.enableNotification();
  assert.equal(q.inFlight, 0);
  return errors;
}

for (const packed of [false, true]) {
  const name = packed ? "packed" : "split";
  Deno.test(`fuzz ${name}: 6000 structured random rings yield only QueueErrors`, () => {
    let errors = 0;
    for (let seed = 1; seed <= 6000; seed++) errors += runCase(seed, packed, true);
    assert.ok(errors > 1000, `the fuzzer reaches the checks (${errors} faults)`);
  });
  Deno.test(`fuzz ${name}: 2000 rings of random bytes yield only QueueErrors`, () => {
    for (let seed = 1; seed <= 2000; seed++) runCase(seed * 7919, packed, false);
  });
}
