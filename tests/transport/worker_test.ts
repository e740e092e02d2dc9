// The worker transport: the null device runs in a worker over shared guest
// memory; registers go through the mailbox, kicks and interrupts through Atomics.

import assert from "node:assert/strict";
import { DeviceStatus } from "../../src/generated/common.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { VirtioBus } from "../../src/bus.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { spawnWorkerDevice } from "../../src/transport/worker.ts";

const SIZE = 1 << 20;

for (const irqSpinMs of [undefined, 0, 5]) {
  Deno.test(`worker: a driver probes and uses a device running in a worker (irqSpinMs ${irqSpinMs ?? "default"})`, async () => {
    const sab = new SharedArrayBuffer(SIZE);
    const memory = GuestMemory.fromBuffer(sab);
    const dma = new DmaAllocator(0x1000, SIZE - 0x1000);
    const host = await spawnWorkerDevice({
      module: new URL("../../src/devices/null/device.ts", import.meta.url).href,
      exportName: "NullDevice",
      args: [{ queues: 1, queueSize: 64 }],
      memory: sab,
      irqSpinMs,
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
    /NoSuchDevice/,
  );
});
