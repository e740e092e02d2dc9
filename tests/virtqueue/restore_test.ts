// DeviceQueue.position() and restore(): a second device instance resumes a
// queue where the first left it (a clean hand-over, as vhost-user's
// GET/SET_VRING_BASE does, and a crash with chains in flight, as after a
// back-end is killed), on every layout and feature combination.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import {
  createDeviceQueue,
  type DeviceQueue,
  type SplitDeviceQueue,
} from "../../src/virtqueue/mod.ts";
import { CONFIGS, label, type Pair, pair } from "./_rig.ts";

const buffers = new WeakMap<Pair, number>();

/**
 * Adds `n` requests (a readable and a writable buffer each) with tokens from
 * `first` on; request t uses buffer slot t % 8, so at most 8 may be in flight.
 */
function addRequests(p: Pair, first: number, n: number): void {
  let base = buffers.get(p);
  if (base === undefined) {
    base = p.alloc.alloc(8 * 32, 8);
    buffers.set(p, base);
  }
  for (let t = first; t < first + n; t++) {
    const out = base + (t % 8) * 32;
    p.mem.writeUint32(out, t);
    p.driver.addSgs([{ addr: out, len: 8 }], [{ addr: out + 16, len: 16 }], t);
  }
  p.driver.kick();
}

/** Serves everything available on `device`: writes the request's number back. */
function serve(device: DeviceQueue): number {
  let n = 0;
  for (let c = device.pop(); c !== null; c = device.pop()) {
    const bytes = new Uint8Array(4);
    c.read(0, bytes);
    c.write(0, bytes);
    device.addUsed(c, 4);
    n++;
  }
  return n;
}

/** Takes every used buffer back into `seen`, checking it came back once with its length. */
function collect(p: Pair, seen: Set<number>): void {
  for (let u = p.driver.getBuf(); u !== null; u = p.driver.getBuf()) {
    assert.equal(u.len, 4);
    assert.ok(!seen.has(u.token), `token ${u.token} came back twice`);
    seen.add(u.token);
  }
}

for (const cfg of CONFIGS) {
  const name = label(cfg);

  Deno.test(`restore (${name}): a second device resumes where the first stopped, across wrap`, () => {
    const p = pair({ ...cfg, size: 16 });
    const seen = new Set<number>();
    let token = 0;
    let device = p.device;
    // Enough rounds to take split indices past 0xffff and packed wrap counters
    // through both values; a new device instance every 7 rounds.
    for (let round = 0; round < 22000; round++) {
      const n = 1 + (round % 5);
      addRequests(p, token, n);
      token += n;
      assert.equal(serve(device), n);
      device.needsNotification();
      collect(p, seen);
      if (round % 7 === 6) {
        const saved = device.position();
        const next = createDeviceQueue(p.mem, p.addrs, p.opts);
        next.restore(saved);
        assert.deepEqual(next.position(), saved);
        device = next;
      }
    }
    assert.equal(seen.size, token);
    if (!cfg.packed) assert.ok(token > 0x10000, "split indices wrapped");
  });

  Deno.test(`restore (${name}): after a crash, chains popped and never used are served again`, () => {
    const p = pair({ ...cfg, size: 8 });
    const seen = new Set<number>();
    addRequests(p, 0, 3);
    serve(p.device);
    p.device.needsNotification();
    collect(p, seen);
    // The first device pops three chains and dies before using them.
    addRequests(p, 3, 3);
    for (let i = 0; i < 3; i++) assert.notEqual(p.device.pop(), null);
    const at = p.device.position();
    // What QEMU does after a back-end crash: resume with avail = used.
    const resumed = createDeviceQueue(p.mem, p.addrs, p.opts);
    resumed.restore({ availIdx: at.usedIdx, availWrap: at.usedWrap });
    assert.equal(serve(resumed), 3);
    resumed.needsNotification();
    collect(p, seen);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  });
}

for (const shared of [false, true]) {
  Deno.test(`restore (split${shared ? ", shared memory" : ""}): the used index defaults to the used ring's idx`, () => {
    const p = pair({ size: 16, eventIdx: true, shared });
    addRequests(p, 0, 5);
    serve(p.device);
    const resumed = createDeviceQueue(p.mem, p.addrs, p.opts);
    resumed.restore({ availIdx: 5 });
    assert.deepEqual(resumed.position(), { availIdx: 5, availWrap: 1, usedIdx: 5, usedWrap: 1 });
    // EVENT_IDX: the driver is asked to notify at the resumed position.
    const view = p.mem.view(p.addrs.device + 4 + 8 * 16, 2);
    assert.equal(view.getUint16(0, true), 5);
  });
}

Deno.test("restore (packed): resuming mid-lap with an in-flight gap keeps the used position", () => {
  const p = pair({ size: 8, packed: true });
  const resumed = createDeviceQueue(p.mem, p.addrs, p.opts);
  resumed.restore({ availIdx: 4, availWrap: 0, usedIdx: 6, usedWrap: 1 });
  assert.deepEqual(resumed.position(), { availIdx: 4, availWrap: 0, usedIdx: 6, usedWrap: 1 });
  // The used position defaults to the available one.
  resumed.restore({ availIdx: 3, availWrap: 0 });
  assert.deepEqual(resumed.position(), { availIdx: 3, availWrap: 0, usedIdx: 3, usedWrap: 0 });
});

for (const packed of [false, true]) {
  const layout = packed ? "packed" : "split";

  Deno.test(`restore (${layout}): refused while chains are in flight or used entries staged`, () => {
    const p = pair({ size: 8, packed });
    addRequests(p, 0, 2);
    const c = p.device.pop();
    assert.ok(c !== null);
    let before = p.device.position();
    assert.throws(
      () => p.device.restore({ availIdx: 0 }),
      (e) =>
        e instanceof QueueError && /1 chains are still in flight/.test(e.message) &&
        e.code === "ERR_VIRTIO_QUEUE_RESTORE_BUSY",
    );
    assert.deepEqual(p.device.position(), before);
    p.device.pushUsed(c, 0);
    before = p.device.position();
    assert.throws(
      () => p.device.restore({ availIdx: 0 }),
      (e) =>
        e instanceof QueueError && /staged; flushUsed\(\) first/.test(e.message) &&
        e.code === "ERR_VIRTIO_QUEUE_RESTORE_BUSY",
    );
    assert.deepEqual(p.device.position(), before);
    p.device.flushUsed();
    assert.equal(p.driver.getBuf()?.token, 0);
  });

  Deno.test(`restore (${layout}): out-of-range positions are refused and change nothing`, () => {
    const p = pair({ size: 8, packed });
    const before = p.device.position();
    const bad = packed
      ? [
        [{ availIdx: 8 }, /availIdx 8 is outside 0\.\.7/],
        [{ availIdx: -1 }, /availIdx -1 is outside/],
        [{ availIdx: 1.5 }, /availIdx 1\.5 is outside/],
        [{ availIdx: 0, availWrap: 2 }, /availWrap 2 is outside 0\.\.1/],
        [{ availIdx: 0, usedIdx: 9 }, /usedIdx 9 is outside 0\.\.7/],
        // Used one lap and one descriptor behind available.
        [{ availIdx: 1, availWrap: 0, usedIdx: 0, usedWrap: 1 }, /9 descriptors ahead/],
      ] as const
      : [
        [{ availIdx: 0x10000 }, /availIdx 65536 is outside 0\.\.65535/],
        [{ availIdx: Number.NaN }, /availIdx NaN is outside/],
        [{ availIdx: 9, usedIdx: 0 }, /9 entries ahead of used idx 0, more than the queue size 8/],
        [{ availIdx: 0, usedIdx: 1 }, /65535 entries ahead/],
      ] as const;
    for (const [pos, why] of bad) {
      assert.throws(
        () => p.device.restore(pos),
        (e) =>
          e instanceof QueueError && e.queue === 3 && why.test(e.message) &&
          e.code === "ERR_VIRTIO_QUEUE_RESTORE_POSITION",
        JSON.stringify(pos),
      );
      assert.deepEqual(p.device.position(), before);
    }
  });
}

Deno.test("popHead (split): takes a chain again by head; a bad or held head is refused", () => {
  const p = pair({ size: 8 });
  addRequests(p, 0, 2);
  const first = p.device.pop();
  assert.ok(first !== null);
  const split = p.device as SplitDeviceQueue;
  // Held: refused, nothing changes.
  assert.throws(
    () => split.popHead(first.head),
    (e) =>
      e instanceof QueueError && /again while the device holds it/.test(e.message) &&
      e.code === "ERR_VIRTIO_QUEUE_HEAD_IN_USE",
  );
  for (const bad of [8, -1, 1.5]) {
    assert.throws(
      () => split.popHead(bad),
      (e) =>
        e instanceof QueueError && /outside the descriptor table/.test(e.message) &&
        e.code === "ERR_VIRTIO_QUEUE_HEAD_RANGE",
      String(bad),
    );
  }
  // The second request's head, taken out of the ring's order, is a whole chain.
  const head = p.mem.view(p.addrs.driver + 4 + 2, 2).getUint16(0, true);
  const again = split.popHead(head);
  assert.equal(again.readableLength, 8);
  assert.equal(again.readUint32(0), 1);
  assert.equal(p.device.inFlight, 2);
  p.device.addUsed(first, 4);
  p.device.addUsed(again, 4);
  assert.deepEqual([p.driver.getBuf()?.token, p.driver.getBuf()?.token], [0, 1]);
});
