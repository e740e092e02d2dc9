// Scenarios from the spec: a driver and a device on the same memory, for
// every layout and feature combination.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import { CONFIGS, label, pair } from "./_rig.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

for (const cfg of CONFIGS) {
  Deno.test(`${label(cfg)}: a request and its response go both ways`, () => {
    const { mem, alloc, driver, device } = pair(cfg);
    const hdr = alloc.alloc(8, 8);
    const body = alloc.alloc(5, 1);
    const resp = alloc.alloc(16, 8);
    mem.write(hdr, new Uint8Array([1, 0, 0, 0, 9, 0, 0, 0]));
    mem.write(body, enc.encode("hello"));
    const allocated = alloc.bytesUsed;
    driver.addSgs([{ addr: hdr, len: 8 }, { addr: body, len: 5 }], [{ addr: resp, len: 16 }], 77);
    assert.equal(driver.inFlight, 1);
    assert.equal(driver.kick(), true);

    const chain = device.pop();
    assert.ok(chain);
    assert.equal(chain.readableCount, 2);
    assert.equal(chain.writableCount, 1);
    assert.equal(chain.readableLength, 13);
    assert.equal(chain.writableLength, 16);
    assert.equal(chain.indirect, cfg.indirect === true);
    assert.equal(chain.readUint32(4), 9);
    const all = new Uint8Array(13);
    assert.equal(chain.read(0, all), 13);
    assert.equal(dec.decode(all.subarray(8)), "hello");
    assert.deepEqual([...chain.readable()].map((b) => b.length), [8, 5]);
    assert.deepEqual([...chain.writable()].map((b) => b.length), [16]);
    // Vectored views: across the segment boundary, cut at the part's end.
    const views: Uint8Array[] = [];
    assert.equal(chain.readableViews(6, 100, views), 7);
    assert.deepEqual(views.map((b) => b.length), [2, 5]);
    assert.equal(dec.decode(views[1]), "hello");
    views.length = 0;
    assert.equal(chain.readableViews(13, 4, views), 0);
    assert.equal(views.length, 0);
    assert.equal(chain.writableViews(4, 8, views), 8);
    views[0].set(enc.encode("zerocopy"));
    assert.equal(dec.decode(mem.bytes(resp + 4, 8)), "zerocopy", "the view is guest memory");
    assert.equal(chain.write(0, enc.encode("HELLO")), 5);
    assert.throws(() => chain.readUint32(12), QueueError);
    assert.equal(device.pop(), null);
    device.addUsed(chain, 5);
    assert.equal(device.needsNotification(), true);
    assert.equal(device.needsNotification(), false, "nothing new since the last check");

    const used = driver.getBuf();
    assert.deepEqual(used, { token: 77, len: 5 });
    assert.equal(dec.decode(mem.bytes(resp, 5)), "HELLO");
    assert.equal(driver.getBuf(), null);
    assert.equal(driver.inFlight, 0);
    assert.equal(driver.numFree, 8);
    assert.equal(alloc.bytesUsed, allocated, "an indirect table was not given back");
  });

  Deno.test(`${label(cfg)}: a full queue, then wrap-around of indices over 70000 requests`, () => {
    const { alloc, driver, device } = pair({ ...cfg, size: 4 });
    const buf = alloc.alloc(64, 8);
    const out = [{ addr: buf, len: 16 }];
    const inn = [{ addr: buf + 16, len: 32 }];
    // Fill: with indirect each buffer takes one descriptor, else two.
    let added = 0;
    while (driver.canAdd(1, 1)) driver.addSgs(out, inn, added++);
    assert.equal(added, cfg.indirect ? 4 : 2);
    const full = driver.state();
    assert.throws(() => driver.addSgs(out, inn, 99), /queue full: \d+ descriptors needed, 0 free/);
    assert.deepEqual(driver.state(), full, "a refused request changed the driver");
    const slot = { token: undefined as number | undefined, len: 0 };
    let next = 0;
    for (let i = 0; i < 70000; i++) {
      const c = device.pop();
      assert.ok(c, `request ${i}`);
      device.addUsed(c, i % 33);
      assert.equal(driver.getBufInto(slot), true);
      assert.equal(slot.token, next++);
      assert.equal(slot.len, i % 33);
      driver.addSgs(out, inn, added++);
    }
    // The device's indices after 70000 requests, from the spec's rules, not
    // from the queue: split (2.7) counts chains in free-running 16-bit idx
    // fields; packed (2.8) steps over each chain's descriptors in a ring of 4
    // and flips the wrap counter (starting at 1) on every lap.
    const popped = 70000, queued = added - popped; // the fill still waits in the ring
    const st = device.state();
    if (!cfg.packed) {
      assert.deepEqual(st, {
        size: 4,
        lastAvail: popped % 65536,
        availIdx: added % 65536,
        usedIdx: popped % 65536,
        publishedUsedIdx: popped % 65536,
        inFlight: 0,
        notify: st.notify,
      });
    } else {
      const descs = cfg.indirect ? 1 : 2; // per request
      const laps = Math.floor((popped * descs) / 4);
      const wrap = laps % 2 === 0 ? 1 : 0; // the counters are bits
      assert.deepEqual(st, {
        size: 4,
        nextAvail: (popped * descs) % 4,
        availWrap: wrap,
        nextUsed: (popped * descs) % 4,
        usedWrap: wrap,
        inFlight: 0,
        notify: st.notify,
      });
    }
    assert.equal(queued, cfg.indirect ? 4 : 2, "the requests of the fill are still available");
  });

  Deno.test(`${label(cfg)}: buffers completed out of order${cfg.inOrder ? " are refused" : ""}`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(256, 8);
    for (let i = 0; i < 4; i++) driver.addSgs([], [{ addr: b + 64 * i, len: 64 }], i);
    driver.kick();
    const chains = [device.pop(), device.pop(), device.pop(), device.pop()];
    assert.equal(device.inFlight, 4);
    if (cfg.inOrder) {
      assert.throws(() => device.addUsed(chains[2]!, 1), /IN_ORDER/);
      for (const [i, c] of chains.entries()) device.addUsed(c!, i);
    } else {
      for (const i of [2, 0, 3, 1]) device.addUsed(chains[i]!, i);
    }
    const got = [];
    for (let u = driver.getBuf(); u; u = driver.getBuf()) got.push([u.token, u.len]);
    const want = cfg.inOrder ? [[0, 0], [1, 1], [2, 2], [3, 3]] : [[2, 2], [0, 0], [3, 3], [1, 1]];
    assert.deepEqual(got, want);
    assert.throws(() => device.addUsed(chains[0]!, 0), /not outstanding/);
  });

  Deno.test(`${label(cfg)}: batches of used buffers, and detach at teardown`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(512, 8);
    for (let i = 0; i < 6; i++) driver.addSgs([], [{ addr: b + 64 * i, len: 64 }], i);
    driver.kick();
    for (let i = 0; i < 4; i++) {
      const c = device.pop()!;
      device.pushUsed(c, i === 1 ? 10 : 64);
    }
    assert.equal(driver.hasUsed(), false, "nothing visible before the flush");
    device.flushUsed();
    const got = [];
    for (let u = driver.getBuf(); u; u = driver.getBuf()) got.push([u.token, u.len]);
    assert.deepEqual(got, [[0, 64], [1, 10], [2, 64], [3, 64]]);
    // Two buffers never used: detach them.
    const detached = [driver.detachUnusedBuf(), driver.detachUnusedBuf()].sort();
    assert.deepEqual(detached, [4, 5]);
    assert.equal(driver.detachUnusedBuf(), null);
    assert.equal(driver.numFree, 8);
  });

  Deno.test(`${label(cfg)}: the driver refuses used entries a device must never write`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(64, 8);
    driver.addSgs([{ addr: b, len: 8 }], [{ addr: b + 8, len: 8 }], 1);
    const c = device.pop()!;
    // A device model cannot report more than the chain holds.
    assert.throws(() => device.addUsed(c, 9), /outside 0\.\.8/);
    device.addUsed(c, 8);
    // Now forge the length in the ring itself.
    const st = pair(cfg);
    const b2 = st.alloc.alloc(64, 8);
    st.driver.addSgs([], [{ addr: b2, len: 8 }], 5);
    const c2 = st.device.pop()!;
    st.device.addUsed(c2, 8);
    if (cfg.packed) {
      st.mem.writeUint32(st.addrs.desc + 8, 9); // len of the used descriptor at slot 0
    } else {
      st.mem.writeUint32(st.addrs.device + 4 + 4, 9); // used ring[0].len
    }
    assert.throws(
      () => st.driver.getBuf(),
      (e) =>
        e instanceof QueueError && /9 bytes written/.test(e.message) &&
        e.code === "ERR_VIRTIO_QUEUE_USED_LENGTH",
    );
    assert.deepEqual(driver.getBuf(), { token: 1, len: 8 });
  });
}

Deno.test("split: the driver refuses an unknown used id and a used idx running ahead", () => {
  const p = pair({});
  const b = p.alloc.alloc(64, 8);
  p.driver.addSgs([], [{ addr: b, len: 8 }], 1);
  const c = p.device.pop()!;
  p.device.addUsed(c, 4);
  p.mem.writeUint32(p.addrs.device + 4, 7); // used ring[0].id: descriptor 7 was never made available
  assert.throws(
    () => p.driver.getBuf(),
    (e) =>
      e instanceof QueueError && e.queue === 3 && e.descriptor === 7 &&
      e.code === "ERR_VIRTIO_QUEUE_BAD_ID",
  );
  p.mem.writeUint32(p.addrs.device + 4, 0);
  p.mem.writeUint16(p.addrs.device + 2, 5); // used idx 5 with one buffer outstanding
  assert.throws(
    () => p.driver.getBuf(),
    (e) =>
      e instanceof QueueError && /5 ahead of 0 with 1 buffers outstanding/.test(e.message) &&
      e.code === "ERR_VIRTIO_QUEUE_USED_AHEAD",
  );
  p.mem.writeUint16(p.addrs.device + 2, 1);
  assert.deepEqual(p.driver.getBuf(), { token: 1, len: 4 });
});

Deno.test("packed: the driver refuses a used buffer id that is not outstanding", () => {
  const p = pair({ packed: true });
  const b = p.alloc.alloc(64, 8);
  p.driver.addSgs([], [{ addr: b, len: 8 }], 1);
  p.device.addUsed(p.device.pop()!, 4);
  p.mem.writeUint16(p.addrs.desc + 12, 6); // id of the used descriptor
  assert.throws(() => p.driver.getBuf(), /names buffer 6, which is not outstanding/);
});

for (const packed of [false, true]) {
  Deno.test(`${packed ? "packed" : "split"} indirect with preferDirect: direct descriptors while the ring has room, a table when it has not`, () => {
    const p = pair({ indirect: true, size: 8, packed, preferDirect: true });
    const sg = { addr: p.addrs.desc, len: 4 };
    const before = p.alloc.bytesUsed;
    // Two buffers of three elements: six of the eight descriptors, no table.
    p.driver.addSgs([sg, sg], [sg], 1);
    p.driver.addSgs([sg], [sg, sg], 2);
    assert.equal(p.driver.numFree, 2);
    assert.equal(p.alloc.bytesUsed, before, "no table allocated");
    // Three more elements do not fit in two descriptors: a table, one descriptor.
    assert.equal(p.driver.canAdd(2, 1), true);
    p.driver.addSgs([sg, sg], [sg], 3);
    assert.equal(p.driver.numFree, 1);
    assert.equal(p.alloc.bytesUsed, before + 48, "a table of three entries");
    p.driver.kick();
    const chains = [p.device.pop()!, p.device.pop()!, p.device.pop()!];
    assert.deepEqual(chains.map((c) => c.indirect), [false, false, true]);
    assert.deepEqual(chains.map((c) => [c.readableCount, c.writableCount]), [[2, 1], [1, 2], [
      2,
      1,
    ]]);
    for (const c of chains) p.device.addUsed(c, 0);
    const tokens: number[] = [];
    for (let b = p.driver.getBuf(); b !== null; b = p.driver.getBuf()) tokens.push(b.token);
    assert.deepEqual(tokens, [1, 2, 3]);
    assert.equal(p.alloc.bytesUsed, before, "the table went back");
    assert.equal(p.driver.numFree, 8);
    // Without the option the same first buffer takes a table.
    const q = pair({ indirect: true, size: 8, packed });
    q.driver.addSgs([sg, sg], [sg], 1);
    assert.equal(q.driver.numFree, 7);
  });
}

Deno.test("indirect: falls back to direct descriptors when no table can be allocated", () => {
  const p = pair({ indirect: true, size: 8, memSize: 0x1000 });
  // Take every byte the allocator has left.
  while (p.alloc.tryAlloc(16, 16) >= 0) { /* drain */ }
  const sg = { addr: p.addrs.desc, len: 4 }; // any in-memory address will do
  p.driver.addSgs([sg, sg], [sg], 1);
  assert.equal(p.driver.numFree, 5, "three direct descriptors");
  const c = p.device.pop()!;
  assert.equal(c.indirect, false);
  assert.equal(c.length, 3);
  // Without an allocator at all, the same.
  const q = pair({ indirect: true, noAlloc: true });
  q.driver.addSgs([sg, sg], [sg], 1);
  assert.equal(q.device.pop()!.indirect, false);
  // With room, an indirect table of three entries takes one descriptor.
  const r = pair({ indirect: true });
  r.driver.addSgs([sg, sg], [sg], 1);
  assert.equal(r.driver.numFree, 7);
  const rc = r.device.pop()!;
  assert.equal(rc.indirect, true);
  assert.equal(rc.descriptorCount, 1);
  r.device.addUsed(rc, 0);
  const used = r.alloc.bytesUsed;
  r.driver.getBuf();
  assert.equal(r.alloc.bytesUsed, used - 48, "the table goes back to the allocator");
});

Deno.test("split: NO_NOTIFY and NO_INTERRUPT without EVENT_IDX", () => {
  const { alloc, driver, device } = pair({});
  const b = alloc.alloc(64, 8);
  device.disableNotification();
  driver.addSgs([], [{ addr: b, len: 8 }], 1);
  assert.equal(driver.kick(), false, "VRING_USED_F_NO_NOTIFY");
  assert.equal(device.enableNotification(), true, "work already waiting");
  driver.addSgs([], [{ addr: b, len: 8 }], 2);
  assert.equal(driver.kick(), true);
  assert.equal(driver.kick(), false, "nothing added since");
  driver.disableCb();
  device.addUsed(device.pop()!, 1);
  assert.equal(device.needsNotification(), false, "VRING_AVAIL_F_NO_INTERRUPT");
  assert.equal(driver.enableCb(), false, "a used buffer arrived while disabled: poll again");
  device.addUsed(device.pop()!, 1);
  assert.equal(device.needsNotification(), true);
});

Deno.test("split EVENT_IDX: avail_event and used_event follow vring_need_event", () => {
  const { mem, addrs, alloc, driver, device } = pair({ eventIdx: true, size: 8 });
  const b = alloc.alloc(64, 8);
  const availEvent = addrs.device + 4 + 8 * 8;
  const usedEvent = addrs.driver + 4 + 2 * 8;
  // avail_event 0: the first buffer (idx 0 -> 1) crosses it.
  driver.addSgs([], [{ addr: b, len: 8 }], 0);
  assert.equal(driver.kick(), true);
  // The device popped nothing, so avail_event stays 0: no kick for idx 1 -> 3.
  driver.addSgs([], [{ addr: b, len: 8 }], 1);
  driver.addSgs([], [{ addr: b, len: 8 }], 2);
  assert.equal(driver.kick(), false);
  const c0 = device.pop()!;
  assert.equal(mem.readUint16(availEvent), 1, "pop moves avail_event");
  device.pop();
  device.pop();
  assert.equal(mem.readUint16(availEvent), 3);
  driver.addSgs([], [{ addr: b, len: 8 }], 3);
  assert.equal(driver.kick(), true, "idx 3 -> 4 crosses avail_event 3");
  // used_event: the driver wants an interrupt after the second used buffer.
  mem.writeUint16(usedEvent, 1);
  device.addUsed(c0, 0);
  assert.equal(device.needsNotification(), false, "used idx 0 -> 1 does not cross used_event 1");
  assert.equal(driver.enableCbDelayed(), false);
  assert.equal(mem.readUint16(usedEvent), 3, "3/4 of the 4 outstanding past last_used 0");
  driver.disableCb();
  assert.equal(mem.readUint16(usedEvent), 0x8000);
  assert.equal(driver.enableCb(), false);
  assert.equal(mem.readUint16(usedEvent), 0);
  // device side: disabling stops avail_event from moving.
  device.disableNotification();
  device.pop();
  assert.equal(mem.readUint16(availEvent), 3);
  assert.equal(device.enableNotification(), false);
  assert.equal(mem.readUint16(availEvent), 4);
});

Deno.test("split EVENT_IDX: 16-bit wrap of used_event", () => {
  const { mem, addrs, alloc, driver, device } = pair({ eventIdx: true, size: 4 });
  const b = alloc.alloc(8, 8);
  const usedEvent = addrs.driver + 4 + 2 * 4;
  let notified = 0;
  for (let i = 0; i < 0x10010; i++) {
    driver.addSgs([], [{ addr: b, len: 8 }], i);
    driver.kick();
    // Ask for an interrupt only at used idx 0xffff -> 0x0000.
    mem.writeUint16(usedEvent, 0xffff);
    device.addUsed(device.pop()!, 0);
    if (device.needsNotification()) notified++;
    driver.getBuf();
  }
  assert.equal(notified, 1);
});

Deno.test("packed: device and driver event suppression (enable, disable, descriptor-specific)", () => {
  const { mem, addrs, alloc, driver, device } = pair({ packed: true, eventIdx: true, size: 4 });
  const b = alloc.alloc(64, 8);
  const devEvtFlags = () => mem.readUint16(addrs.device + 2) & 3;
  const devEvtDesc = () => mem.readUint16(addrs.device);
  device.disableNotification();
  assert.equal(devEvtFlags(), 1);
  driver.addSgs([], [{ addr: b, len: 8 }], 0);
  assert.equal(driver.kick(), false, "RING_EVENT_FLAGS_DISABLE");
  assert.equal(device.enableNotification(), true);
  assert.equal(devEvtFlags(), 2, "RING_EVENT_FLAGS_DESC");
  assert.equal(devEvtDesc(), 0 | (1 << 15), "offset 0, wrap 1");
  device.pop();
  assert.equal(devEvtDesc(), 1 | (1 << 15), "moves as chains are popped");
  driver.addSgs([], [{ addr: b, len: 8 }], 1);
  assert.equal(driver.kick(), true, "descriptor 1 made available");
  // Descriptor-specific event far ahead: no kick until the ring gets there.
  mem.writeUint16(addrs.device, 0 | (0 << 15)); // offset 0 of the second lap
  driver.addSgs([], [{ addr: b, len: 8 }], 2);
  assert.equal(driver.kick(), false);
  driver.addSgs([], [{ addr: b, len: 8 }], 3);
  assert.equal(driver.kick(), false, "position 3 of lap 1");
  // Device side: used-buffer notifications per the driver's structure.
  const c1 = device.pop()!;
  const c2 = device.pop()!;
  const c3 = device.pop()!;
  driver.disableCb();
  assert.equal(mem.readUint16(addrs.driver + 2) & 3, 1);
  device.addUsed(c1, 0);
  assert.equal(device.needsNotification(), false);
  assert.equal(driver.enableCb(), false);
  assert.equal(mem.readUint16(addrs.driver), 0 | (1 << 15), "event at next_used 0");
  assert.ok(driver.getBuf());
  driver.enableCb(); // event at next_used 1
  device.addUsed(c2, 0);
  assert.equal(device.needsNotification(), true, "used descriptor at position 1");
  mem.writeUint16(addrs.driver, 3 | (1 << 15));
  device.addUsed(c3, 0);
  assert.equal(device.needsNotification(), false, "position 2 is before the event at 3");
  // Plain enable without EVENT_IDX semantics.
  mem.writeUint16(addrs.driver + 2, 0);
  const p2 = pair({ packed: true, size: 4 });
  p2.driver.addSgs([], [{ addr: b, len: 8 }], 0);
  assert.equal(p2.driver.kick(), true);
  p2.device.addUsed(p2.device.pop()!, 0);
  assert.equal(p2.device.needsNotification(), true);
});

for (const packed of [false, true]) {
  const layout = packed ? "packed" : "split";
  Deno.test(`${layout} EVENT_IDX: getBuf re-arms the event, so a driver that only collects keeps getting interrupts`, () => {
    const { alloc, driver, device } = pair({ packed, eventIdx: true, size: 8 });
    const b = alloc.alloc(64, 8);
    // Packed rings start with RING_EVENT_FLAGS_ENABLE; enableCb asks for descriptor events.
    assert.equal(driver.enableCb(), true);
    for (let i = 0; i < 3; i++) driver.addSgs([], [{ addr: b, len: 8 }], i);
    driver.kick();
    const chains = [device.pop()!, device.pop()!, device.pop()!];
    let interrupts = 0;
    let got = 0;
    for (const c of chains) {
      device.addUsed(c, 0);
      if (device.needsNotification()) {
        interrupts++;
        // The callback only collects buffers (never calls enableCb).
        while (driver.getBuf() !== null) got++;
      }
    }
    assert.equal(got, 3);
    assert.equal(interrupts, 3, "an interrupt for each buffer used after the driver drained");
    // While callbacks are disabled, getBuf leaves the event alone.
    for (let i = 0; i < 2; i++) driver.addSgs([], [{ addr: b, len: 8 }], i);
    driver.kick();
    const [d0, d1] = [device.pop()!, device.pop()!];
    driver.disableCb();
    device.addUsed(d0, 0);
    assert.equal(device.needsNotification(), false);
    assert.ok(driver.getBuf());
    device.addUsed(d1, 0);
    assert.equal(device.needsNotification(), false, "still disabled after a get");
    assert.equal(driver.enableCb(), false, "false: a used buffer is waiting");
    assert.ok(driver.getBuf());
    assert.equal(driver.enableCb(), true, "true: nothing waiting");
  });
}

Deno.test("packed: wrap counters over many laps of an odd-sized ring with chains", () => {
  const { alloc, driver, device } = pair({ packed: true, size: 5 });
  const b = alloc.alloc(64, 8);
  let token = 0;
  let returned = 0;
  for (let round = 0; round < 3000; round++) {
    const n = 1 + (round % 3);
    const out = Array.from({ length: n - 1 }, () => ({ addr: b, len: 4 }));
    while (driver.canAdd(out.length, 1)) driver.addSgs(out, [{ addr: b + 8, len: 8 }], token++);
    for (let c = device.pop(); c; c = device.pop()) {
      assert.equal(c.length, n);
      device.addUsed(c, 8);
    }
    for (let u = driver.getBuf(); u; u = driver.getBuf()) {
      assert.equal(u.token, returned++);
    }
  }
  assert.equal(returned, token);
});

Deno.test("IN_ORDER split: one used entry stands for a batch", () => {
  const { mem, addrs, alloc, driver, device } = pair({ inOrder: true });
  const b = alloc.alloc(64, 8);
  for (let i = 0; i < 3; i++) driver.addSgs([], [{ addr: b, len: 8 }], i);
  for (let i = 0; i < 3; i++) device.pushUsed(device.pop()!, 8);
  device.flushUsed();
  assert.equal(mem.readUint16(addrs.device + 2), 3, "used idx moves by the batch size");
  assert.equal(mem.readUint32(addrs.device + 4), 2, "ring[0].id is the last buffer's head");
  assert.equal(mem.readUint32(addrs.device + 12), 0, "ring[1] was never written");
  assert.deepEqual([driver.getBuf(), driver.getBuf(), driver.getBuf()].map((u) => u?.token), [
    0,
    1,
    2,
  ]);
});

Deno.test("IN_ORDER packed: one used descriptor for a batch of chains", () => {
  const { mem, addrs, alloc, driver, device } = pair({ packed: true, inOrder: true });
  const b = alloc.alloc(64, 8);
  driver.addSgs([{ addr: b, len: 4 }], [{ addr: b, len: 8 }], 0);
  driver.addSgs([], [{ addr: b, len: 8 }], 1);
  device.pushUsed(device.pop()!, 8);
  device.pushUsed(device.pop()!, 3);
  device.flushUsed();
  const flags = mem.readUint16(addrs.desc + 14);
  assert.equal(flags & 0x8080, 0x8080, "slot 0 used in lap 1");
  assert.equal(mem.readUint16(addrs.desc + 12), 1, "naming buffer id 1");
  assert.equal(
    mem.readUint16(addrs.desc + 16 + 14) & 0x8080,
    0x0080,
    "slot 1 still as the driver left it",
  );
  assert.deepEqual(driver.getBuf(), { token: 0, len: 8 });
  assert.deepEqual(driver.getBuf(), { token: 1, len: 3 });
  assert.equal(driver.numFree, 8);
});

Deno.test("queue creation refuses bad sizes and misplaced rings", () => {
  const p = pair({});
  assert.throws(() => pair({ size: 6 }), /not a power of 2/);
  pair({ packed: true, size: 6 });
  assert.throws(() => pair({ size: 65536 }), /outside 1\.\.32768/);
  assert.throws(
    () => createBad(p),
    (e) => e instanceof QueueError && /not aligned/.test(e.message),
  );
});

import { createDeviceQueue } from "../../src/virtqueue/mod.ts";
function createBad(p: ReturnType<typeof pair>) {
  return createDeviceQueue(p.mem, { ...p.addrs, desc: p.addrs.desc + 8 }, p.opts);
}

Deno.test("shared memory: the same scenario over a SharedArrayBuffer", () => {
  for (const packed of [false, true]) {
    const { alloc, driver, device } = pair({ packed, shared: true });
    const b = alloc.alloc(64, 8);
    driver.addSgs([{ addr: b, len: 8 }], [{ addr: b + 8, len: 8 }], 42);
    assert.equal(driver.kick(), true);
    const c = device.pop()!;
    c.writeBigUint64(0, 0x0102030405060708n);
    device.addUsed(c, 8);
    assert.equal(device.needsNotification(), true);
    assert.deepEqual(driver.getBuf(), { token: 42, len: 8 });
  }
});
