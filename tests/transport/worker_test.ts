// The worker transport: the null device runs in a worker over shared guest
// memory; registers go through the mailbox, kicks and interrupts through Atomics.

import assert from "node:assert/strict";
import { DeviceStatus } from "../../src/generated/common.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { VirtioBus } from "../../src/bus.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { spawnWorkerDevice } from "../../src/transport/worker.ts";
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
