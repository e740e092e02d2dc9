// The worker transport: the null device runs in a worker over shared guest
// memory; registers go through the mailbox, kicks and interrupts through Atomics.

import assert from "node:assert/strict";
import { DeviceStatus } from "../../src/generated/common.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { VirtioBus } from "../../src/bus.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { controlWords, Ctl, spawnWorkerDevice, WorkerBus } from "../../src/transport/worker.ts";
import { ArgumentError, TransportError } from "../../src/errors.ts";

const SIZE = 1 << 20;

for (
  const [irqSpinMs, blockingWait] of [[undefined, false], [0, false], [5, false], [
    0,
    true,
  ]] as const
) {
  Deno.test(`worker: a driver probes and uses a device running in a worker (irqSpinMs ${irqSpinMs ?? "default"}${blockingWait ? ", blocking wait in the worker" : ""})`, async () => {
    const sab = new SharedArrayBuffer(SIZE);
    const memory = GuestMemory.fromBuffer(sab);
    const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
    const host = await spawnWorkerDevice({
      module: new URL("../../src/devices/null/device.ts", import.meta.url).href,
      exportName: "NullDevice",
      args: [{ queues: 1, queueSize: 64 }],
      memory: sab,
      irqSpinMs,
      blockingWait,
      spinMs: blockingWait ? 0 : undefined,
    });
    try {
      const transport = host.probe();
      assert.ok(transport);
      assert.equal(transport.deviceId, 63);
      const bus = new VirtioBus({ memory, dma });
      const drv = nullDriver();
      await bus.registerDriver(drv);
      const dev = await bus.addDevice(transport);
      const S = DeviceStatus;
      assert.equal(dev.getStatus(), S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
      const st = drv.states.get(dev);
      assert.ok(st);
      const buf = dma.alloc(64, 8);
      const N = 200;
      // Interrupts arrive on later turns of the event loop: wait for each batch.
      const waitFor = async (n: number) => {
        while (st.completed.length < n) await new Promise((res) => setTimeout(res, 1));
      };
      for (let i = 0; i < N; i++) {
        st.vq.addSgs([{ addr: buf, len: 64 }], [], i);
        if (i % 20 === 19) {
          st.vq.kick();
          await waitFor(i + 1);
        }
      }
      assert.deepEqual(st.completed, Array.from({ length: N }, (_, i) => i));
      await bus.removeDevice(dev);
      assert.equal(transport.getStatus(), 0);
    } finally {
      host.terminate();
    }
  });
}

Deno.test("worker: a bad module is reported, not hung", async () => {
  await assert.rejects(
    spawnWorkerDevice({
      module: new URL("../../src/devices/null/device.ts", import.meta.url).href,
      exportName: "NoSuchDevice",
      memory: new SharedArrayBuffer(4096),
    }),
    (e: unknown) =>
      e instanceof TransportError && e.code === "ERR_VIRTIO_TRANSPORT_WORKER_START" &&
      /NoSuchDevice/.test(e.message),
  );
});

Deno.test("worker: config past the device's config and bad register accesses are typed errors; the worker keeps serving", async () => {
  const sab = new SharedArrayBuffer(SIZE);
  const host = await spawnWorkerDevice({
    module: new URL("../../src/devices/null/device.ts", import.meta.url).href,
    exportName: "NullDevice",
    memory: sab,
  });
  try {
    const transport = host.probe();
    assert.ok(transport);
    // The null device's config is one le64.
    assert.equal(transport.configSize, 8);
    const isArg = (code: string) => (e: unknown) => e instanceof ArgumentError && e.code === code;
    assert.throws(() => transport.readConfig(4096, 4), isArg("ERR_VIRTIO_ARGUMENT_CONFIG_RANGE"));
    const bus = transport.bus;
    assert.throws(() => bus.read(0x70, 3 as 4), isArg("ERR_VIRTIO_ARGUMENT_WIDTH"));
    assert.throws(() => bus.write(-4, 4, 0), isArg("ERR_VIRTIO_ARGUMENT_OFFSET"));
    assert.throws(() => bus.read(2 ** 32, 4), isArg("ERR_VIRTIO_ARGUMENT_OFFSET"));
    // Garbage written into the mailbox by another writer: the worker answers 0 and goes on.
    const c = (bus as unknown as { ctl: Int32Array }).ctl;
    c[2] = 1; // Op: read
    c[3] = -8; // Offset
    c[4] = 3; // Width
    const seq = (Atomics.add(c, 0, 1) + 1) | 0;
    Atomics.add(c, 6, 1);
    Atomics.notify(c, 6);
    for (let i = 0; Atomics.load(c, 1) !== seq; i++) {
      assert.ok(i < 5000, "the worker answers the request");
      await new Promise((res) => setTimeout(res, 1));
    }
    assert.equal(c[5], 0);
    assert.equal(transport.readConfig(0, 4), 0);
    assert.equal(transport.getStatus(), 0);
  } finally {
    host.terminate();
  }
});

// interruptWait: "blocking": the driver takes interrupts with waitInterrupt,
// synchronously, and collects used buffers itself while it has work (NAPI).

const nullModule = new URL("../../src/devices/null/device.ts", import.meta.url).href;
const isTransport = (code: string) => (e: unknown) =>
  e instanceof TransportError && e.code === code;

for (const blockingWait of [false, true]) {
  Deno.test(`worker: blocking interrupt waits deliver every completion in order (blocking wait in the worker: ${blockingWait})`, async () => {
    const sab = new SharedArrayBuffer(SIZE);
    const memory = GuestMemory.fromBuffer(sab);
    const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
    const host = await spawnWorkerDevice({
      module: nullModule,
      exportName: "NullDevice",
      args: [{ queues: 1, queueSize: 64 }],
      memory: sab,
      interruptWait: "blocking",
      blockingWait,
      spinMs: 0,
    });
    try {
      const transport = host.probe();
      assert.ok(transport);
      const bus = new VirtioBus({ memory, dma });
      const drv = nullDriver();
      await bus.registerDriver(drv);
      const dev = await bus.addDevice(transport);
      const st = drv.states.get(dev);
      assert.ok(st);
      // Nothing in flight: nothing to deliver, and a short wait just times out.
      assert.equal(host.bus.waitInterrupt(0), false);
      assert.equal(host.bus.waitInterrupt(5), false);
      const buf = dma.alloc(64, 8);
      const N = 640;
      let waits = 0;
      for (let i = 0; i < N; i++) {
        st.vq.addSgs([{ addr: buf, len: 64 }], [], i);
        if (i % 32 === 31) {
          st.vq.kick();
          // No event loop turn: the interrupt routine runs inside waitInterrupt.
          while (st.completed.length < i + 1) {
            assert.ok(host.bus.waitInterrupt(5000), "an interrupt within 5 s");
            waits++;
          }
        }
      }
      assert.deepEqual(st.completed, Array.from({ length: N }, (_, i) => i));
      assert.ok(waits >= N / 32 && waits <= 2 * (N / 32), `${waits} waits`);
      await bus.removeDevice(dev);
      assert.equal(transport.getStatus(), 0);
    } finally {
      host.terminate();
    }
    // Closed: a typed error, not a wait.
    assert.throws(
      () => host.bus.waitInterrupt(1000),
      isTransport("ERR_VIRTIO_TRANSPORT_WORKER_CLOSED"),
    );
  });
}

Deno.test("worker: a late notify is not an interrupt: waitInterrupt waits on until the count moves", async () => {
  const sab = new SharedArrayBuffer(4 * controlWords(1));
  const bus = new WorkerBus(new Int32Array(sab), 1, 0, "blocking");
  let routines = 0;
  bus.connect(() => routines++);
  const w = new Worker(new URL("./_late_notify_worker.ts", import.meta.url), { type: "module" });
  try {
    const done = new Promise<number>((resolve) => (w.onmessage = (e) => resolve(e.data)));
    w.postMessage({ ctl: sab, irq: Ctl.Irq });
    // The worker wakes this wait 20 times with the count unchanged, then
    // interrupts: one wait, one routine.
    assert.equal(bus.waitInterrupt(10_000), true);
    assert.equal(routines, 1);
    const woken = await done;
    assert.ok(woken >= 1, `the worker's notifies woke the wait ${woken} time(s)`);
    // Nothing new since: a short wait times out.
    assert.equal(bus.waitInterrupt(5), false);
  } finally {
    w.terminate();
  }
});

Deno.test("worker: waitInterrupt refuses an async bus and a bad timeout; a device that holds its requests lets it time out", async () => {
  const sab = new SharedArrayBuffer(SIZE);
  const memory = GuestMemory.fromBuffer(sab);
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const asyncHost = await spawnWorkerDevice({
    module: nullModule,
    exportName: "NullDevice",
    memory: sab,
  });
  try {
    assert.throws(
      () => asyncHost.bus.waitInterrupt(0),
      isTransport("ERR_VIRTIO_TRANSPORT_WORKER_MODE"),
    );
  } finally {
    asyncHost.terminate();
  }
  const host = await spawnWorkerDevice({
    module: nullModule,
    exportName: "NullDevice",
    args: [{ hold: true }],
    memory: sab,
    interruptWait: "blocking",
  });
  try {
    for (const bad of [-1, NaN]) {
      assert.throws(
        () => host.bus.waitInterrupt(bad),
        (e: unknown) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_VALUE",
      );
    }
    const transport = host.probe();
    assert.ok(transport);
    const bus = new VirtioBus({ memory, dma });
    const drv = nullDriver();
    await bus.registerDriver(drv);
    const dev = await bus.addDevice(transport);
    const st = drv.states.get(dev);
    assert.ok(st);
    st.vq.addSgs([{ addr: dma.alloc(64, 8), len: 64 }], [], 1);
    st.vq.kick();
    // The device keeps the request: no interrupt, the wait ends with its timeout.
    assert.equal(host.bus.waitInterrupt(20), false);
    assert.deepEqual(st.completed, []);
  } finally {
    host.terminate();
  }
});

Deno.test("worker: a worker that dies wakes the blocking waits with a typed error; one terminated under them lets them time out", async () => {
  const sab = new SharedArrayBuffer(SIZE);
  const memory = GuestMemory.fromBuffer(sab);
  const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
  const host = await spawnWorkerDevice({
    module: new URL("./_worker_devices.ts", import.meta.url).href,
    exportName: "CrashingDevice",
    memory: sab,
    interruptWait: "blocking",
  });
  try {
    const transport = host.probe();
    assert.ok(transport);
    const bus = new VirtioBus({ memory, dma });
    const drv = nullDriver();
    await bus.registerDriver(drv);
    const dev = await bus.addDevice(transport);
    const st = drv.states.get(dev);
    assert.ok(st);
    st.vq.addSgs([{ addr: dma.alloc(64, 8), len: 64 }], [], 1);
    st.vq.kick();
    // The worker crashes: the wait ends with WORKER_DIED long before its 30 s.
    assert.throws(
      () => host.bus.waitInterrupt(30_000),
      isTransport("ERR_VIRTIO_TRANSPORT_WORKER_DIED"),
    );
    // Register accesses too, at once instead of after the mailbox's 5 s timeout.
    assert.throws(() => transport.getStatus(), isTransport("ERR_VIRTIO_TRANSPORT_WORKER_DIED"));
  } finally {
    host.terminate();
  }
  // A worker that stops answering without a word (terminated under the driver).
  const quiet = await spawnWorkerDevice({
    module: nullModule,
    exportName: "NullDevice",
    memory: sab,
    interruptWait: "blocking",
  });
  try {
    quiet.worker.terminate();
    assert.equal(quiet.bus.waitInterrupt(20), false);
  } finally {
    quiet.terminate();
  }
});
