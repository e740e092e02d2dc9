// A short fixed-seed pass of the register fuzzer (tests/fuzz/register_fuzz.ts):
// MMIO v1/v2 and PCI modern/legacy hosting virtio-blk, garbage accesses
// included, then a correct driver brings each device up. And a check that the
// fuzzer does catch what it is there to catch.

import assert from "node:assert/strict";
import { fuzzHostileDevice, fuzzMmio, fuzzPci, fuzzRegisterCase } from "./register_fuzz.ts";
import { PciFunction } from "../../src/transport/pci/mod.ts";
import { MmioDevice, MmioTransport } from "../../src/transport/mmio/mod.ts";

const SEED = 0x5eed;

Deno.test("register fuzz, MMIO v1 and v2: no untyped error, no throw out of the device, a driver brings it up after", async () => {
  const r = await fuzzMmio({ seed: SEED, cases: 200 });
  assert.equal(r.cases, 200);
  assert.deepEqual(r.failures, []);
});

Deno.test("register fuzz, PCI modern and legacy: no untyped error, no throw out of the device, a driver brings it up after", async () => {
  const r = await fuzzPci({ seed: SEED, cases: 200 });
  assert.equal(r.cases, 200);
  assert.deepEqual(r.failures, []);
});

Deno.test("hostile device fuzz: our probe, bus and driver side fail only with typed errors", async () => {
  const r = await fuzzHostileDevice({ seed: SEED, cases: 200 });
  assert.equal(r.cases, 200);
  assert.deepEqual(r.failures, []);
});

Deno.test("register fuzz: a device that throws an untyped error, or leaves the driver waiting, is reported", async () => {
  // The defect of issue 18 (6), put back: a width check that throws RangeError.
  const read = PciFunction.prototype.configRead;
  PciFunction.prototype.configRead = function (offset, width) {
    if (width !== 1 && width !== 2 && width !== 4) throw new RangeError(`width ${width}`);
    return read.call(this, offset, width);
  };
  try {
    const r = await fuzzPci({ seed: SEED, cases: 40 });
    assert.ok(r.failures.length > 0);
    assert.match(r.failures[0].message, /RangeError.*not an ArgumentError/);
    // The failure replays alone from its case seed, and from its index in the run (as the
    // entry point's reproducer does: --first i --cases 1).
    const again = await fuzzRegisterCase(r.failures[0].kind, r.failures[0].caseSeed);
    assert.equal(again?.message, r.failures[0].message);
    const index = r.failures[0].case ?? -1;
    const replay = await fuzzPci({ seed: SEED, cases: 1, first: index });
    assert.deepEqual(replay.failures.map((f) => [f.case, f.error]), [[index, again?.message]]);
  } finally {
    PciFunction.prototype.configRead = read;
  }
  // A device that stops raising interrupts: the driver's bring-up would wait forever.
  const connect = MmioDevice.prototype.connect;
  MmioDevice.prototype.connect = function () {};
  try {
    const failure = await fuzzRegisterCase("mmio-v2", 1, { maxOps: 1, deadlineMs: 200 });
    assert.match(failure?.message ?? "", /no bring-up within 200 ms/);
  } finally {
    MmioDevice.prototype.connect = connect;
  }
  // A driver-side transport that fails untyped on a bad value from the device.
  const max = MmioTransport.prototype.queueMaxSize;
  MmioTransport.prototype.queueMaxSize = function (index) {
    const n = max.call(this, index);
    if (n > 0x8000) throw new TypeError(`queue size ${n}`);
    return n;
  };
  try {
    const r = await fuzzHostileDevice({ seed: SEED, cases: 200 });
    assert.ok(r.failures.length > 0);
    assert.match(r.failures[0].message, /untyped: TypeError queue size/);
    const index = r.failures[0].case ?? -1;
    const replay = await fuzzHostileDevice({ seed: SEED, cases: 1, first: index });
    assert.equal(replay.failures[0]?.error, r.failures[0].message);
  } finally {
    MmioTransport.prototype.queueMaxSize = max;
  }
});
