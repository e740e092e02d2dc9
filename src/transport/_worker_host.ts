/**
 * The worker side of the worker transport: hosts a device model behind an
 * {@link MmioDevice} and serves the control block of `worker.ts`. Loaded
 * by {@link spawnWorkerDevice}; not meant to be imported.
 *
 * @module
 */

import type { VirtioDevice } from "../device.ts";
import { GuestMemory } from "../memory.ts";
import { DeviceError } from "../errors.ts";
import { VirtioMmio } from "../generated/mmio.ts";
import { MmioDevice } from "./mmio/mod.ts";
import { Ctl } from "./worker.ts";
import { AdaptivePoll } from "./_poll.ts";

interface HostMessage {
  module: string;
  exportName: string;
  args: unknown[];
  version: 1 | 2;
  ctl: SharedArrayBuffer;
  memory: SharedArrayBuffer;
  memoryBase: number;
  maxQueues: number;
  spinMs: number;
  blockingWait: boolean;
}

const QUEUE_NOTIFY = VirtioMmio.OFFSETS.queueNotify;

type DeviceClass = new (...args: unknown[]) => VirtioDevice;

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<HostMessage>) => void) | null;
  postMessage(m: unknown): void;
};

scope.onmessage = async (e: MessageEvent<HostMessage>) => {
  scope.onmessage = null;
  const m = e.data;
  let dev: MmioDevice;
  let ctl: Int32Array;
  try {
    const mod = await import(m.module) as Record<string, unknown>;
    const cls = mod[m.exportName] as DeviceClass | undefined;
    if (typeof cls !== "function") {
      throw new DeviceError(`${m.module} has no export ${m.exportName}`, {
        code: "ERR_VIRTIO_DEVICE_NOT_FOUND",
      });
    }
    const device = new cls(...m.args);
    const memory = GuestMemory.fromBuffer(m.memory, m.memoryBase);
    ctl = new Int32Array(m.ctl);
    dev = new MmioDevice(device, memory, {
      version: m.version,
      name: "virtio-mmio (worker)",
      // The driver reads and acknowledges InterruptStatus in the control block.
      interruptStatusWord: ctl.subarray(Ctl.IrqStatus, Ctl.IrqStatus + 1),
    });
    const c = ctl;
    dev.connect(() => {
      Atomics.add(c, Ctl.Irq, 1);
      Atomics.notify(c, Ctl.Irq);
    });
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
    return;
  }
  Atomics.store(ctl, Ctl.WindowSize, dev.size);
  // An uncaught error ends the worker: say so in the control block first and
  // wake the driver side's blocking waits (a register access, a blocking
  // interrupt wait), which would otherwise wait for their timeouts.
  const died = () => {
    Atomics.store(ctl, Ctl.Dead, 1);
    Atomics.add(ctl, Ctl.Irq, 1);
    Atomics.notify(ctl, Ctl.Irq);
    Atomics.notify(ctl, Ctl.RespSeq);
  };
  addEventListener("error", died);
  addEventListener("unhandledrejection", died);
  scope.postMessage({ ready: true });
  await serve(dev, ctl, m.maxQueues, m.spinMs, m.blockingWait);
};

/** Poll `Doorbell` for up to `ms`; true when it rang. */
function spinFor(c: Int32Array, bell: number, ms: number): boolean {
  const until = performance.now() + ms;
  do {
    for (let i = 0; i < 64; i++) {
      if (Atomics.load(c, Ctl.Doorbell) !== bell) return true;
    }
  } while (performance.now() < until);
  return false;
}

async function serve(
  dev: MmioDevice,
  c: Int32Array,
  maxQueues: number,
  spinMs: number,
  blocking: boolean,
): Promise<void> {
  const poll = new AdaptivePoll(spinMs);
  for (;;) {
    const bell = Atomics.load(c, Ctl.Doorbell);
    if (Atomics.load(c, Ctl.Stop)) return;
    const req = Atomics.load(c, Ctl.ReqSeq);
    if (req !== Atomics.load(c, Ctl.RespSeq)) {
      const width = c[Ctl.Width] as 1 | 2 | 4;
      try {
        if (c[Ctl.Op] === 1) c[Ctl.Value] = dev.read(c[Ctl.Offset], width);
        else dev.write(c[Ctl.Offset], width, c[Ctl.Value] >>> 0);
      } catch (e) {
        // A request the driver side should have refused (another writer of the
        // control block): answer 0 and keep serving.
        dev.core.log(
          `${dev.core.where}: mailbox request refused: ${e instanceof Error ? e.message : e}`,
        );
        c[Ctl.Value] = 0;
      }
      Atomics.store(c, Ctl.RespSeq, req);
      Atomics.notify(c, Ctl.RespSeq);
    }
    for (let q = 0; q < maxQueues; q++) {
      if (Atomics.exchange(c, Ctl.Kicks + q, 0)) dev.write(QUEUE_NOTIFY, 4, q);
    }
    // Anything that rang while we worked is handled before sleeping.
    if (Atomics.load(c, Ctl.Doorbell) !== bell) continue;
    // A driver streaming requests kicks again within microseconds: watch
    // the doorbell for a moment before paying for a sleep and a wake-up.
    // The window adapts to how long waits have lately been (`_poll.ts`).
    const t0 = performance.now();
    if (poll.window > 0 && spinFor(c, bell, poll.window)) {
      poll.observe(performance.now() - t0);
      continue;
    }
    if (blocking) Atomics.wait(c, Ctl.Doorbell, bell);
    else {
      const r = Atomics.waitAsync(c, Ctl.Doorbell, bell);
      if (r.async) await r.value;
    }
    poll.observe(performance.now() - t0);
  }
}
