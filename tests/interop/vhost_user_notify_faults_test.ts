// The back-end's notification fault hook (VhostUserBackendOptions.notifyFaults,
// used by the soak test): a dropped kick leaves the request unserved until the
// injector delivers it; a delayed kick is served later; a dropped call leaves
// the request completed in the ring but unannounced until the injector raises
// it. Linux only (FFI), no QEMU.
import assert from "node:assert/strict";
import type { NotifyFault, NotifyFaults } from "../../src/transport/vhost_user/backend.ts";
import { readEventfd, writeEventfd } from "../../src/transport/vhost_user/_libc.ts";
import { deadline } from "./_deadline.ts";
import { VhostUserRequest as R } from "../../src/generated/vhost_user.ts";
import {
  canRun,
  type Front,
  type FrontGuest,
  session,
  startSplitQueue,
  waitCall,
  withBackend,
  withGuest,
} from "./_vhost_user_front.ts";
import type { DriverQueue } from "../../src/virtqueue/mod.ts";

if (!canRun) console.log("vhost_user_notify_faults_test: skipped, vhost-user needs Linux");

/** A scripted injector: the fates to give, in order (then "deliver"), and what it was asked. */
class Scripted implements NotifyFaults {
  readonly asked: string[] = [];
  deliver: ((kind: "kick" | "call", index: number) => void) | undefined;
  #kicks: NotifyFault[];
  #calls: NotifyFault[];
  #waiters: (() => void)[] = [];

  constructor(kicks: NotifyFault[], calls: NotifyFault[]) {
    this.#kicks = kicks;
    this.#calls = calls;
  }

  attach(deliver: (kind: "kick" | "call", index: number) => void): void {
    this.deliver = deliver;
  }

  kick(index: number): NotifyFault {
    this.asked.push(`kick ${index}`);
    this.#wake();
    return this.#kicks.shift() ?? "deliver";
  }

  call(index: number): NotifyFault {
    this.asked.push(`call ${index}`);
    this.#wake();
    return this.#calls.shift() ?? "deliver";
  }

  /** Resolves once the hook was asked `n` times in all. */
  asks(n: number): Promise<void> {
    if (this.asked.length >= n) return Promise.resolve();
    return new Promise<void>((r) => this.#waiters.push(r)).then(() => this.asks(n));
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/**
 * Waits until the back-end handled the set-up (messages are handled in
 * order): a request made available before the ring starts would be served
 * by the start itself, with no kick to inject a fault into.
 */
async function started(f: Front): Promise<void> {
  await deadline(f.call(R.VHOST_USER_GET_FEATURES), 10_000, "GET_FEATURES");
}

/** Makes a write of sector 1 available and kicks; returns the status address. */
function write(g: FrontGuest, driver: DriverQueue<string>): number {
  const hdr = g.alloc.alloc(16, 8);
  const data = g.alloc.alloc(512, 8);
  const status = g.alloc.alloc(1, 1);
  g.mem.writeUint32(hdr, 1);
  g.mem.writeBigUint64(hdr + 8, 1n);
  g.mem.bytes(data, 512).fill(0x5a);
  g.mem.writeUint8(status, 0xff);
  driver.addSgs(
    [{ addr: hdr, len: 16 }, { addr: data, len: 512 }],
    [{ addr: status, len: 1 }],
    "w",
  );
  if (driver.kick()) writeEventfd(g.kick);
  return status;
}

Deno.test({
  name: "notifyFaults: a dropped kick is not served until the injector delivers it",
  ignore: !canRun,
  fn: async () => {
    const faults = new Scripted(["drop"], []);
    await withBackend(
      async (h) => {
        await withGuest(async (g) => {
          await session(h, async (f) => {
            const driver = startSplitQueue<string>(h, f, g);
            await started(f);
            const status = write(g, driver);
            await deadline(faults.asks(1), 10_000, "the kick to reach the hook");
            // Dropped: the device did not look at the ring.
            assert.equal(g.mem.readUint8(status), 0xff);
            assert.equal(h.device.stats.writes, 0);
            faults.deliver?.("kick", 0);
            await deadline(waitCall(g.call), 10_000, "the call after the delivered kick");
            assert.equal(g.mem.readUint8(status), 0, "VIRTIO_BLK_S_OK");
            assert.deepEqual(driver.getBuf(), { token: "w", len: 1 });
            assert.deepEqual(faults.asked, ["kick 0", "call 0"]);
          });
        });
      },
      undefined,
      {},
      { notifyFaults: faults },
    );
  },
});

Deno.test({
  name: "notifyFaults: a delayed kick is served after its delay",
  ignore: !canRun,
  fn: async () => {
    const faults = new Scripted([30], []);
    await withBackend(
      async (h) => {
        await withGuest(async (g) => {
          await session(h, async (f) => {
            const driver = startSplitQueue<string>(h, f, g);
            await started(f);
            const status = write(g, driver);
            await deadline(waitCall(g.call), 10_000, "the call after the delayed kick");
            assert.equal(g.mem.readUint8(status), 0);
            assert.deepEqual(faults.asked, ["kick 0", "call 0"]);
          });
        });
      },
      undefined,
      {},
      { notifyFaults: faults },
    );
  },
});

Deno.test({
  name: "notifyFaults: a dropped call leaves the completion unannounced until delivered",
  ignore: !canRun,
  fn: async () => {
    const faults = new Scripted([], ["drop"]);
    await withBackend(
      async (h) => {
        await withGuest(async (g) => {
          await session(h, async (f) => {
            const driver = startSplitQueue<string>(h, f, g);
            await started(f);
            const status = write(g, driver);
            await deadline(faults.asks(2), 10_000, "the call to reach the hook");
            // Served and in the used ring, but no call was raised.
            assert.equal(g.mem.readUint8(status), 0);
            assert.equal(readEventfd(g.call), null, "no call on the eventfd");
            faults.deliver?.("call", 0);
            await deadline(waitCall(g.call), 10_000, "the delivered call");
            assert.deepEqual(driver.getBuf(), { token: "w", len: 1 });
          });
        });
      },
      undefined,
      {},
      { notifyFaults: faults },
    );
  },
});
