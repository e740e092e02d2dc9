// The driver API: config reads retried until the generation settles,
// callbacks, enable/disable, queue setup errors, teardown.

import assert from "node:assert/strict";
import { DeviceError } from "../src/errors.ts";
import type { DriverDevice, VirtioDriver, Virtqueue } from "../src/driver.ts";
import { NullDevice } from "../src/devices/null/device.ts";
import { buffers, rig } from "./transport/_harness.ts";

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
  assert.match(String(err), /queue 1 \(b\) missing/);
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
