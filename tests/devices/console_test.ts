// virtio-console: single port and multiport devices driven by the console
// driver over MMIO and PCI: data both ways as web streams, console size and
// resize, emergency write, the control protocol (port add/remove/open,
// names, console port) and hostile control messages. The stdio backend (Deno
// only) is tested in console_stdio_test.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
} from "../../src/generated/devices/console.ts";
import { ConsoleDevice } from "../../src/devices/console/mod.ts";
import { DeviceError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { MAIN_KINDS } from "../transport/_kinds.ts";
import { dec, enc, readBytes, rig } from "./_console_rig.ts";

for (const kind of MAIN_KINDS) {
  Deno.test(`console/${kind}: single port, both directions as streams`, async () => {
    const { device, con } = await rig(kind);
    assert.equal(con.multiport, false);
    const p = con.port(0);
    assert.ok(p && p.isConsole);
    const devPort = device.port(0);
    assert.ok(devPort?.ready);
    // Driver -> device.
    const w = p.writable.getWriter();
    await w.write(enc("hello host"));
    const dr = devPort.readable.getReader();
    assert.equal(dec(await readBytes(dr, 10)), "hello host");
    // Device -> driver, larger than one receive buffer.
    const big = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
    const dw = devPort.writable.getWriter();
    const sent = dw.write(big);
    const got = await readBytes(p.readable.getReader(), big.length);
    await sent;
    assert.deepEqual(got, big);
  });

  Deno.test(`console/${kind}: size in config, resize raises a config change`, async () => {
    const { device, con } = await rig(kind, { size: { cols: 100, rows: 30 } });
    const p = con.port(0);
    assert.deepEqual(p?.size, { cols: 100, rows: 30 });
    const seen: unknown[] = [];
    p?.onResize((s) => seen.push(s));
    device.resize(132, 43);
    assert.deepEqual(seen, [{ cols: 132, rows: 43 }]);
  });

  Deno.test(`console/${kind}: emergency write reaches port 0, even before the driver`, async () => {
    const device0 = new ConsoleDevice();
    const early = device0.port(0)?.readable.getReader();
    device0.writeConfig(8, 4, 0x4f);
    device0.writeConfig(8, 4, 0x14b); // only the lower byte counts
    assert.equal(dec(await readBytes(early as ReadableStreamDefaultReader<Uint8Array>, 2)), "OK");
    const { device, con } = await rig(kind);
    assert.equal(device.readConfig(8, 4), 0);
    assert.ok(con.emergencyWrite("panic!"));
    const r = device.port(0)?.readable.getReader();
    assert.equal(dec(await readBytes(r as ReadableStreamDefaultReader<Uint8Array>, 6)), "panic!");
  });

  Deno.test(`console/${kind}: multiport control protocol`, async () => {
    const { device, con } = await rig(kind, {
      maxPorts: 4,
      ports: [{}, { name: "org.test.one", hostOpen: false }],
    });
    assert.ok(con.multiport);
    assert.ok(device.driverReady);
    const p0 = con.port(0);
    const p1 = await con.whenPort("org.test.one");
    assert.ok(p0?.isConsole && !p1.isConsole);
    // 5.3.6.2.2: console ports are answered with PORT_OPEN 1.
    assert.ok(device.port(0)?.guestOpen);
    assert.equal(p0?.hostOpen, true);
    assert.equal(p1.hostOpen, false);
    assert.deepEqual(p0?.size, { cols: 80, rows: 25 });
    // Host opens port 1; the guest opens it too.
    const hostChanges: boolean[] = [];
    p1.onHostOpenChange((o) => hostChanges.push(o));
    device.setHostOpen(1, true);
    assert.deepEqual(hostChanges, [true]);
    p1.setOpen(true);
    assert.ok(device.port(1)?.guestOpen);
    // Data on port 1 both ways.
    await p1.writable.getWriter().write(enc("to host on 1"));
    assert.equal(dec(await readBytes(device.port(1)!.readable.getReader(), 12)), "to host on 1");
    device.port(1)!.writable.getWriter().write(enc("to guest on 1"));
    assert.equal(dec(await readBytes(p1.readable.getReader(), 13)), "to guest on 1");
    // Resize goes as a RESIZE control message to the console port.
    const sizes: unknown[] = [];
    p0?.onResize((s) => sizes.push(s));
    device.resize(200, 50);
    assert.deepEqual(sizes, [{ cols: 200, rows: 50 }]);
    // Hot add and remove.
    const added: number[] = [];
    con.onPortAdded((p) => added.push(p.id));
    const hp = device.addPort({ name: "hot", console: true });
    assert.deepEqual(added, [hp.id]);
    const p2 = await con.whenPort("hot");
    assert.ok(p2.isConsole);
    assert.throws(
      () => device.addPort({}, 1),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CONSOLE_PORT", /exists/),
    );
    assert.throws(
      () => device.addPort({}, 4),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CONSOLE_PORT", /max_nr_ports/),
    );
    const removed: number[] = [];
    con.onPortRemoved((p) => removed.push(p.id));
    const r2 = p2.readable.getReader();
    device.removePort(p2.id);
    assert.deepEqual(removed, [p2.id]);
    assert.equal((await r2.read()).done, true);
    assert.equal(con.port(p2.id), undefined);
    assert.equal(device.badControl, 0);
    assert.equal(con.badControl, 0);
  });

  Deno.test(`console/${kind}: a port beyond the driver's queues is refused with PORT_READY 0`, async () => {
    const { device, con } = await rig(kind, { maxPorts: 4, ports: [{}, {}, {}] }, { maxPorts: 2 });
    assert.equal(con.maxPorts, 2);
    assert.ok(con.port(1));
    assert.equal(con.port(2), undefined);
    assert.equal(device.port(2)?.ready, false);
  });

  Deno.test(`console/${kind}: bad control messages are ignored, the device stays usable`, async () => {
    const { device, con, dev, memory } = await rig(kind, { maxPorts: 2, ports: [{}, {}] });
    const vq = dev.vqs[3];
    const { dma } = dev.dmaContext;
    const msg = (id: number, event: number, value: number, len = 8) => {
      const a = dma.alloc(16, 8);
      const v = memory.view(a, 8);
      v.setUint32(0, id, true);
      v.setUint16(4, event, true);
      v.setUint16(6, value, true);
      vq.addOutbuf({ addr: a, len }, { addr: a, resolve: () => {} });
    };
    msg(0, VIRTIO_CONSOLE_PORT_READY, 1, 4); // short
    msg(99, VIRTIO_CONSOLE_PORT_OPEN, 1); // no such port
    msg(1, VIRTIO_CONSOLE_PORT_OPEN, 7); // bad value
    msg(1, VIRTIO_CONSOLE_DEVICE_ADD, 0); // device-only event
    msg(1, 1234, 0); // unknown event
    msg(1, VIRTIO_CONSOLE_PORT_READY, 1); // already ready
    vq.kick();
    assert.equal(device.badControl, 6);
    assert.equal(dev.needsReset, false);
    const p1 = con.port(1);
    await p1?.writable.getWriter().write(enc("still fine"));
    assert.equal(dec(await readBytes(device.port(1)!.readable.getReader(), 10)), "still fine");
  });

  Deno.test(`console/${kind}: fuzzed control messages never break the device`, async () => {
    const { device, con, dev, memory } = await rig(kind, { maxPorts: 3, ports: [{}, {}] });
    const vq = dev.vqs[3];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        // The driver frees a transmit token's address when it is used: one each.
        const a = dev.dmaContext.dma.alloc(64, 8);
        memory.write(a, bytes);
        vq.addOutbuf({ addr: a, len: bytes.length }, { addr: a, resolve: () => {} });
        vq.kick();
        assert.equal(dev.needsReset, false);
      }),
      { numRuns: 200, seed: 34 },
    );
    const p0 = con.port(0);
    await p0?.writable.getWriter().write(enc("ok"));
    assert.equal(dec(await readBytes(device.port(0)!.readable.getReader(), 2)), "ok");
  });

  Deno.test(`console/${kind}: guest output waits in the ring while the host does not read`, async () => {
    // An output budget of 118 bytes: the first 16 lines ("line 0\n" .. "line 15\n").
    const { device, con, dev } = await rig(kind, { ports: [{ outputBuffer: 118 }] });
    const tx = dev.vqs[1]; // port 0's transmitq
    const free = tx.numFree;
    const w = con.port(0)!.writable.getWriter();
    const resolved: number[] = [];
    const writes = Array.from(
      { length: 40 },
      (_, i) => w.write(enc(`line ${i}\n`)).then(() => void resolved.push(i)),
    );
    // Let every pending task run (all in-process, no I/O): no clock involved.
    await new Promise((r) => setTimeout(r, 0));
    // The host's readable holds 16 lines (its output budget) and takes no
    // more: the next line's buffer stays in the transmitq, unused, and its
    // write (and the ones queued behind it) have not resolved.
    assert.deepEqual(resolved, Array.from({ length: 16 }, (_, i) => i), "writes done");
    assert.equal(tx.numFree, free - 1, "one transmit buffer waits in the ring");
    assert.equal(device.port(0)!.readable.locked, false);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(resolved.length, 16, "still waiting: nothing was dropped to make room");
    assert.equal(tx.numFree, free - 1);
    let text = "";
    const r = device.port(0)!.readable.getReader();
    while (!text.includes("line 39\n")) text += dec((await r.read()).value);
    await Promise.all(writes);
    assert.equal(text, Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join(""));
    assert.equal(tx.numFree, free, "every buffer came back");
  });

  Deno.test(`console/${kind}: guest output below the default budget never waits for the reader`, async () => {
    const { device, con, dev } = await rig(kind);
    const tx = dev.vqs[1];
    const free = tx.numFree;
    const w = con.port(0)!.writable.getWriter();
    // 300 lines one buffer each, then 512 KiB in 4 KiB buffers: all under the 1 MiB default.
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i}\n`).join("");
    const big = Uint8Array.from({ length: 512 << 10 }, (_, i) => (i * 7) & 0xff);
    for (let i = 0; i < 300; i++) await w.write(enc(`line ${i}\n`));
    await w.write(big); // resolves with nobody reading
    assert.equal(tx.numFree, free, "every transmit buffer went back at once");
    const got = await readBytes(device.port(0)!.readable.getReader(), lines.length + big.length);
    assert.equal(dec(got.subarray(0, lines.length)), lines);
    assert.deepEqual(got.subarray(lines.length), big);
  });

  Deno.test(`console/${kind}: guest output stops at the port's byte budget, in order`, async () => {
    const budget = 1000;
    const { device, con, dev } = await rig(kind, { ports: [{ outputBuffer: budget }] });
    const tx = dev.vqs[1];
    const free = tx.numFree;
    const w = con.port(0)!.writable.getWriter();
    const piece = (k: number) => Uint8Array.from({ length: 300 }, (_, i) => (k * 31 + i) & 0xff);
    const resolved: number[] = [];
    const writes = Array.from(
      { length: 6 },
      (_, k) => w.write(piece(k)).then(() => void resolved.push(k)),
    );
    await new Promise((r) => setTimeout(r, 0));
    // 900 bytes in three buffers fit; the fourth is copied up to the budget
    // (100 bytes) and held, so its write has not resolved.
    assert.deepEqual(resolved, [0, 1, 2]);
    assert.equal(tx.numFree, free - 1, "the fourth buffer is held, not given back");
    // Emergency output finds the budget full and is dropped, counted.
    device.writeConfig(8, 4, 0x21);
    assert.equal(device.droppedEmergWrites, 1);
    const r = device.port(0)!.readable.getReader();
    const sizes: number[] = [];
    const parts: number[] = [];
    while (parts.length < 6 * 300) {
      const { value } = await r.read();
      sizes.push(value!.length);
      parts.push(...value!);
    }
    assert.deepEqual(
      sizes.slice(0, 4),
      [300, 300, 300, 100],
      "the readable held exactly the budget",
    );
    assert.ok(sizes.every((n) => n <= budget));
    const want = new Uint8Array(6 * 300);
    for (let k = 0; k < 6; k++) want.set(piece(k), k * 300);
    assert.deepEqual(Uint8Array.from(parts), want, "every byte once, in order");
    await Promise.all(writes);
    assert.equal(tx.numFree, free);
  });

  Deno.test(`console/${kind}: a transmit buffer larger than the budget comes out in budget-sized parts`, async () => {
    const budget = 4096;
    const { device, dev, memory } = await rig(kind, { ports: [{ outputBuffer: budget }] });
    // A driver that puts 1 MiB in one buffer (Linux never does; a hostile one may).
    const vq = dev.vqs[1];
    const { dma } = dev.dmaContext;
    const len = 1 << 20;
    const a = dma.alloc(len, 8);
    const data = Uint8Array.from({ length: len }, (_, i) => (i * 13) & 0xff);
    memory.write(a, data);
    let done = false;
    vq.addOutbuf({ addr: a, len }, { addr: a, resolve: () => void (done = true) });
    vq.kick();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(done, false, "held until its last byte is read");
    assert.equal(dev.needsReset, false);
    const r = device.port(0)!.readable.getReader();
    let off = 0;
    while (off < len) {
      const { value } = await r.read();
      assert.ok(value!.length <= budget, `a ${value!.length}-byte chunk is over the budget`);
      assert.deepEqual(value, data.subarray(off, off + value!.length));
      off += value!.length;
    }
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(done, true, "given back after its last part");
  });

  Deno.test(`console/${kind}: the output budget must be a positive byte count`, () => {
    for (const outputBuffer of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(
        () => new ConsoleDevice({ ports: [{ outputBuffer }] }),
        coded(DeviceError, "ERR_VIRTIO_DEVICE_CONSOLE_OPTION", /output buffer/),
      );
    }
  });
}

Deno.test("console: removal ends the driver's streams", async () => {
  const { con, bus, dev } = await rig("mmio-v2");
  const r = con.port(0)!.readable.getReader();
  await bus.removeDevice(dev);
  assert.equal((await r.read()).done, true);
});
