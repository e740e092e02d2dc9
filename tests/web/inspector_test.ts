// The page's virtqueue inspector (web/inspector.ts) against rings our
// driver builds in memory, split and packed: what it reads must be what the
// driver put there (the chains the test submitted, their lengths and
// directions) and where each side stands by the spec's index rules.

import assert from "node:assert/strict";
import { RngDevice } from "../../src/devices/rng/mod.ts";
import { rngDriver } from "../../src/devices/rng/mod.ts";
import { VirtqDesc } from "../../src/generated/virtqueue.ts";
import { QueueInspector } from "../../web/inspector.ts";
import { rig } from "../devices/_rig.ts";
import type { MainKind } from "../transport/_kinds.ts";

/** An rng device that serves its queue only when the test says so. */
class HeldRngDevice extends RngDevice {
  hold = true;
  override queueNotify(index: number): void {
    if (!this.hold) super.queueNotify(index);
  }
}

async function setup(kind: MainKind, packed: boolean) {
  const device = new HeldRngDevice({ packed, queueSize: 16 });
  const r = rig(kind, device);
  const inspector = new QueueInspector("rng", r.host.core);
  const driver = rngDriver();
  await r.bus.registerDriver(driver);
  await r.bus.addDevice(r.transport);
  const rng = await driver.nextSource();
  return { r, device, inspector, vq: rng.vq };
}

/** Submits `n` chains of one readable (8 B) and two writable (16 B + 32 B) buffers. */
function submit(t: Awaited<ReturnType<typeof setup>>, n: number): number[] {
  const lens: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = t.r.dma.alloc(64, 8);
    t.vq.submit([{ addr: a, len: 8 }], [{ addr: a + 8, len: 16 }, { addr: a + 24, len: 32 }], {
      complete: (len: number) => lens.push(len),
      fail: (e: unknown) => {
        throw e;
      },
    });
  }
  t.vq.kick();
  return lens;
}

for (const kind of ["pci-modern", "mmio-v2"] as const) {
  for (const packed of [false, true]) {
    const layout = packed ? "packed" : "split";

    Deno.test(`inspector ${kind} ${layout}: chains waiting, then used, as the driver built them`, async () => {
      const t = await setup(kind, packed);
      const before = t.inspector.snapshot(0);
      assert.equal(before.layout, layout);
      assert.equal(before.size, 16);
      assert.equal(before.pending.length, 0);
      const kicks0 = before.kicks;
      const start = before.position;
      assert.ok(start !== undefined, "the device is active");

      const lens = submit(t, 3);
      const s = t.inspector.snapshot(0);
      // 2.7.6 / 2.8.x: three chains published, none taken.
      assert.equal(s.pending.length, 3);
      for (const c of s.pending) {
        assert.equal(c.outBytes, 8);
        assert.equal(c.inBytes, 48);
        assert.equal(c.broken, false);
        // Three descriptors, or one pointing at an indirect table of three.
        if (c.indirect) {
          assert.equal(c.descs.length, 1);
          assert.equal(c.table?.length, 3);
        } else assert.equal(c.descs.length, 3);
      }
      assert.equal(s.waiting, 3);
      const light = t.inspector.snapshot(0, false); // what the overview rows read
      assert.equal(light.waiting, 3);
      assert.deepEqual([light.descs, light.pending], [[], []]);
      assert.equal(s.kicks, kicks0 + 1, "one notification for the batch");
      assert.deepEqual(s.position, start, "the device has not moved");
      if (!packed) {
        assert.equal((s.avail!.idx - start.availIdx) & 0xffff, 3);
        assert.equal(s.used!.idx, start.usedIdx);
        // The avail ring's entries are the heads the pending chains start at.
        assert.deepEqual(
          s.pending.map((c) => c.head),
          [0, 1, 2].map((k) => s.avail!.ring[(start.availIdx + k) % 16]),
        );
      }

      t.device.hold = false;
      t.r.host.core.notify(0);
      assert.deepEqual(lens, [48, 48, 48]);
      const after = t.inspector.snapshot(0);
      assert.equal(after.pending.length, 0);
      assert.equal(t.inspector.snapshot(0, false).waiting, 0);
      assert.equal(after.position?.inFlight, 0);
      assert.ok(after.interrupts >= 1, "the used buffers were signalled");
      if (packed) {
        const moved = (after.position!.availIdx - start.availIdx + 16) % 16;
        const descs = s.pending.reduce((n, c) => n + c.descs.length, 0);
        assert.equal(moved, descs % 16, "the device passed every descriptor of the chains");
      } else {
        assert.equal((after.used!.idx - start.usedIdx) & 0xffff, 3);
        assert.equal(after.position!.availIdx, after.avail!.idx);
        // The used elements name the heads that were waiting, with the bytes written.
        const used = [0, 1, 2].map((k) => after.used!.ring[(start.usedIdx + k) % 16]);
        assert.deepEqual(used.map((e) => e.id), s.pending.map((c) => c.head));
        assert.deepEqual(used.map((e) => e.len), [48, 48, 48]);
      }
    });

    Deno.test(`inspector ${kind} ${layout}: rates per second between samples`, async () => {
      const t = await setup(kind, packed);
      t.device.hold = false;
      t.inspector.sample(10_000);
      submit(t, 4);
      t.inspector.sample(12_000); // two seconds later, by the caller's clock
      const h = t.inspector.history(0);
      assert.equal(h.length, 1);
      if (packed) {
        // Packed positions count descriptors: 4 chains of 1 (indirect) or 3 each.
        assert.ok(h[0].avail === 2 || h[0].avail === 6, `avail rate ${h[0].avail}`);
      } else {
        assert.equal(h[0].avail, 2);
        assert.equal(h[0].used, 2);
      }
      assert.equal(h[0].kicks, 0.5);
    });
  }

  Deno.test(`inspector ${kind} split: a looping chain is shown broken, and the walk ends`, async () => {
    const t = await setup(kind, false);
    submit(t, 1);
    const s = t.inspector.snapshot(0);
    const head = s.pending[0].head;
    // A hostile driver: the head's next points back at itself.
    const d = new VirtqDesc(t.r.memory.view(s.desc, 16 * s.size), head * VirtqDesc.SIZE);
    d.write(d.addr, d.len, d.flags | 1, head);
    const looped = t.inspector.snapshot(0);
    assert.equal(looped.pending[0].broken, true);
    assert.deepEqual(looped.pending[0].descs, [head]);
  });

  Deno.test(`inspector ${kind} split: a ring outside guest memory is reported, not thrown`, async () => {
    const t = await setup(kind, false);
    t.r.host.core.queues[0].driver = 0x7fff_0000; // as a driver could write it
    const s = t.inspector.snapshot(0);
    assert.match(s.error ?? "", /outside guest memory/);
    assert.deepEqual(s.pending, []);
    t.inspector.sample(0); // and sampling does not throw either
  });
}
