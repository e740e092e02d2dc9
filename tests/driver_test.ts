// The driver API: config reads retried until the generation settles,
// callbacks, enable/disable, queue setup errors, teardown.

import assert from "node:assert/strict";
import { DeviceError } from "../src/errors.ts";
import type { DriverDevice, VirtioDriver, Virtqueue } from "../src/driver.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import { buffers, rig } from "./transport/_rig.ts";

function bind(
  kind: Parameters<typeof rig>[0] = "mmio-v2",
  opts: Parameters<typeof rig>[1] = {},
  onProbe: (dev: DriverDevice) => void = () => {},
) {
  const r = rig(kind, opts);
  let device: DriverDevice | undefined;
  const drv: VirtioDriver = {
    name: "test",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [],
    probe(dev) {
      device = dev;
      onProbe(dev);
    },
    remove(dev) {
      dev.reset();
      dev.delVqs();
    },
  };
  return {
    r,
    drv,
    get dev(): DriverDevice {
      if (device === undefined) throw new DeviceError("not bound");
      return device;
    },
  };
}

Deno.test("config reads retry while the generation moves (a change during the read)", async () => {
  const t = bind();
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  const dev = t.dev;
  let reads = 0;
  const value = dev.readConfig((c) => {
    reads++;
    const lo = c.le32(0);
    // The device changes the value between the two halves, twice.
    if (reads <= 2) t.r.device.setValue(BigInt(reads) * 0x1_0000_0001n);
    const hi = c.le32(4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  });
  assert.equal(reads, 3);
  assert.equal(value, 2n * 0x1_0000_0001n, "a torn value is never returned");
});

Deno.test("config reads give up with a DeviceError if the generation never settles", async () => {
  const t = bind();
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.throws(() =>
    t.dev.readConfig((c) => {
      t.r.device.config.bump();
      return c.u8(0);
    }), DeviceError);
});

Deno.test("callbacks: disableCb stops them, enableCb reports waiting buffers", async () => {
  const got: number[] = [];
  let calls = 0;
  let vq: Virtqueue<number> | undefined;
  const t = bind("pci-modern", {}, (dev) => {
    [vq] = dev.findVqs<number>([{
      name: "q",
      callback: (q) => {
        calls++;
        for (let b = q.getBuf(); b; b = q.getBuf()) got.push(b.token);
      },
    }]);
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(vq);
  const [buf] = buffers(t.r, 1);
  vq.addOutbuf({ addr: buf, len: 8 }, 1);
  vq.kick();
  assert.deepEqual(got, [1]);
  vq.disableCb();
  vq.addOutbuf({ addr: buf, len: 8 }, 2);
  vq.kick();
  assert.equal(calls, 1, "no callback while disabled");
  assert.equal(vq.enableCb(), false, "a used buffer is waiting");
  assert.deepEqual(vq.getBuf(), { token: 2, len: 0 });
  assert.equal(vq.enableCb(), true, "nothing waiting now");
  // `broken` is read-only: only the queue's own teardown sets it.
  assert.throws(() => {
    (vq as unknown as { broken: boolean }).broken = true;
  }, TypeError);
  assert.equal(vq.broken, false);
  // Many rounds: callbacks keep coming (used_event is re-armed).
  for (let i = 3; i < 200; i++) {
    vq.addOutbuf({ addr: buf, len: 8 }, i);
    vq.kick();
  }
  assert.equal(got.length, 198);
});

Deno.test("findVqs: a missing queue fails and frees what it set up", async () => {
  let used = -1;
  let err: unknown;
  const t = bind("mmio-v2", {}, (dev) => {
    used = t.r.dma.bytesUsed;
    try {
      dev.findVqs([{ name: "a" }, { name: "b" }]);
    } catch (e) {
      err = e;
    }
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(err instanceof DeviceError);
  assert.equal(err.code, "ERR_VIRTIO_DEVICE_QUEUE_MISSING");
  assert.match(String(err), /queue 1 \(b\) is not offered by the device/);
  assert.equal(t.r.dma.bytesUsed, used);
});

Deno.test("delVqs resets a live device first and returns used then unused buffers", async () => {
  let vq: Virtqueue<string> | undefined;
  const t = bind("mmio-v2", { hold: true }, (dev) => {
    [vq] = dev.findVqs<string>([{ name: "q" }]);
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(vq);
  const bufs = buffers(t.r, 3);
  bufs.forEach((b, i) => vq?.addInbuf({ addr: b, len: 16 }, `b${i}`));
  vq.kick();
  const q = t.r.device.context?.queues[0];
  const c = q?.pop();
  assert.ok(q && c);
  q.addUsed(c, 4);
  // Breaking, draining and freeing a queue is the device's (breakQueues, delVqs), not the queue's.
  for (const m of ["markBroken", "drain", "release"]) assert.equal(m in vq, false, m);
  const left = t.dev.delVqs();
  assert.equal(t.dev.getStatus(), 0);
  assert.deepEqual(left.sort(), ["b0", "b1", "b2"]);
});

Deno.test("a device that needs reset reports it through the config interrupt", async () => {
  const t = bind("mmio-v2");
  let changes = 0;
  t.drv.configChanged = () => void changes++;
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  t.r.device.context?.needsReset(new Error("broken chain"));
  assert.equal(changes, 1);
  assert.ok(t.dev.needsReset);
  assert.match(t.r.logs.join("\n"), /broken chain/);
});

// Fail fast: a broken queue (device reset, removed, DEVICE_NEEDS_RESET) never leaves a request
// waiting for a device that will not answer.

/** A bound null device that holds requests, with one request queue (no callback). */
async function heldRequests() {
  let vq: Virtqueue | undefined;
  let beforeVqs = -1;
  const t = bind("mmio-v2", { hold: true, writeLen: 4 }, (dev) => {
    beforeVqs = t.r.dma.bytesUsed;
    [vq] = dev.findVqs([{ name: "requests" }]);
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(vq);
  return { ...t, vq, beforeVqs };
}

const code = (c: string) => (e: unknown) => e instanceof DeviceError && e.code === c;

Deno.test("a request completes with the bytes the device wrote", async () => {
  const t = await heldRequests();
  t.r.device.hold = false;
  const got = await t.vq.request(new Uint8Array([1, 2, 3]), 16);
  // The null device reports writeLen = 4 bytes written into the 16 offered.
  assert.equal(got.length, 4);
  assert.equal(t.r.device.completed, 1);
});

Deno.test("reset: a pending request rejects with ERR_VIRTIO_DEVICE_RESET, new ones are refused", async () => {
  const t = await heldRequests();
  const used = t.r.dma.bytesUsed;
  const pending = t.vq.request(new Uint8Array([1]), 8);
  assert.ok(t.r.dma.bytesUsed > used, "the request holds a bounce buffer");
  t.dev.reset();
  await assert.rejects(pending, code("ERR_VIRTIO_DEVICE_RESET"));
  await assert.rejects(t.vq.request(new Uint8Array([1]), 8), code("ERR_VIRTIO_DEVICE_RESET"));
  assert.throws(
    () => t.vq.addSgs([{ addr: 0x1000, len: 1 }], [], 0),
    code("ERR_VIRTIO_DEVICE_RESET"),
  );
  assert.throws(() => t.vq.kick(), code("ERR_VIRTIO_DEVICE_RESET"));
  // The bounce buffer comes back with the rings when the queues are deleted.
  assert.deepEqual(t.dev.delVqs(), []);
  assert.equal(t.r.dma.bytesUsed, t.beforeVqs);
});

Deno.test("a queue of raw buffers is refused after reset too, and delVqs returns its tokens", async () => {
  let vq: Virtqueue<string> | undefined;
  const t = bind("mmio-v2", { hold: true }, (dev) => {
    [vq] = dev.findVqs<string>([{ name: "q", callback: () => {} }]);
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(vq);
  const [b] = buffers(t.r, 1);
  vq.addInbuf({ addr: b, len: 16 }, "b0");
  assert.equal(vq.kick(), true);
  t.dev.reset();
  assert.ok(vq.broken);
  assert.equal(vq.brokenError?.code, "ERR_VIRTIO_DEVICE_RESET");
  assert.throws(() => vq?.addInbuf({ addr: b, len: 16 }, "b1"), code("ERR_VIRTIO_DEVICE_RESET"));
  assert.deepEqual(t.dev.delVqs(), ["b0"]);
});

Deno.test("removal: a pending request rejects with ERR_VIRTIO_DEVICE_REMOVED", async () => {
  const t = await heldRequests();
  const pending = t.vq.request(new Uint8Array([1]), 8);
  await t.r.bus.removeDevice(t.dev);
  await assert.rejects(pending, code("ERR_VIRTIO_DEVICE_REMOVED"));
  await assert.rejects(t.vq.request(new Uint8Array([1]), 8), code("ERR_VIRTIO_DEVICE_REMOVED"));
});

Deno.test("DEVICE_NEEDS_RESET: pending and waiting requests reject, new ones are refused", async () => {
  const t = await heldRequests();
  const pending = t.vq.request(new Uint8Array([1]), 8);
  t.r.device.context?.needsReset(new Error("bad chain"));
  await assert.rejects(pending, code("ERR_VIRTIO_DEVICE_NEEDS_RESET"));
  assert.ok(t.dev.needsReset, "the status bit stays for the driver to see");
  await assert.rejects(t.vq.request(new Uint8Array([1]), 8), code("ERR_VIRTIO_DEVICE_NEEDS_RESET"));
  // The device was not reset, so the buffer stays in the ring until it is.
  assert.equal(t.vq.queue.inFlight, 1);
  await t.r.bus.removeDevice(t.dev);
});

Deno.test("requests beyond the ring wait in order, and a reset rejects the waiting ones too", async () => {
  let vq: Virtqueue | undefined;
  const t = bind("mmio-v2", { hold: true, writeLen: 1 }, (dev) => {
    [vq] = dev.findVqs([{ name: "requests", size: 2 }]);
  });
  await t.r.bus.registerDriver(t.drv);
  await t.r.bus.addDevice(t.r.transport);
  assert.ok(vq);
  const all = [0, 1, 2, 3].map((i) => vq!.request(new Uint8Array([i]), 1));
  assert.equal(vq.queue.inFlight, 2, "two fit in a ring of two, two wait");
  t.dev.reset();
  const results = await Promise.allSettled(all);
  assert.deepEqual(
    results.map((r) => r.status === "rejected" && (r.reason as DeviceError).code),
    Array(4).fill("ERR_VIRTIO_DEVICE_RESET"),
  );
});

Deno.test("one queue takes one kind: requests, or buffers with tokens under a callback", async () => {
  const t = await heldRequests();
  t.r.device.hold = false;
  await t.vq.request(new Uint8Array([1]), 4);
  assert.throws(
    () => t.vq.addSgs([{ addr: 0x1000, len: 1 }], [], "mine"),
    code("ERR_VIRTIO_DEVICE_QUEUE_MIXED"),
  );
  let cbq: Virtqueue<string> | undefined;
  const u = bind("mmio-v2", {}, (dev) => {
    [cbq] = dev.findVqs<string>([{ name: "q", callback: () => {} }]);
  });
  await u.r.bus.registerDriver(u.drv);
  await u.r.bus.addDevice(u.r.transport);
  assert.ok(cbq);
  const used = u.r.dma.bytesUsed;
  await assert.rejects(
    cbq.request(new Uint8Array([1]), 4),
    code("ERR_VIRTIO_DEVICE_QUEUE_HAS_CALLBACK"),
  );
  assert.equal(u.r.dma.bytesUsed, used, "the refused request's bounce buffer was freed");
});
