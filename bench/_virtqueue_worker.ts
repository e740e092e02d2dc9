// One side of the two-worker benchmark: the driver or the device of a split
// or packed queue in a SharedArrayBuffer. Kicks and interrupts are counters
// in a small Int32Array, waited on with Atomics.wait and raised with
// Atomics.notify, honouring each side's notification suppression.
import { VirtioError } from "../src/errors.ts";
import { GuestMemory } from "../src/memory.ts";
import { createDeviceQueue, createDriverQueue, type QueueAddresses } from "../src/virtqueue/mod.ts";

interface Init {
  role: "driver" | "device";
  memory: SharedArrayBuffer;
  signals: SharedArrayBuffer;
  addrs: QueueAddresses;
  packed: boolean;
  buf: number;
}

const KICK = 0, IRQ = 1;
let init: Init | undefined;
const ctx = self as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

ctx.onmessage = (e: MessageEvent) => {
  if (e.data.init) {
    init = e.data.init as Init;
    return;
  }
  const { count, batch } = e.data as { count: number; batch: number };
  const i = init;
  if (i === undefined) throw new VirtioError("worker used before its init message");
  const mem = GuestMemory.fromBuffer(i.memory);
  const sig = new Int32Array(i.signals);
  const opts = { packed: i.packed, eventIdx: true, indirect: false, inOrder: false, index: 0 };
  if (i.role === "device") {
    const q = createDeviceQueue(mem, i.addrs, opts);
    // The device side state lives across runs: keep one queue per worker.
    const dq = (globalThis as { dq?: typeof q }).dq ??= q;
    let served = 0;
    while (served < count) {
      const seen = Atomics.load(sig, KICK);
      let c = dq.pop();
      if (c === null) {
        if (!dq.enableNotification()) Atomics.wait(sig, KICK, seen);
        dq.disableNotification();
        continue;
      }
      for (; c !== null; c = dq.pop()) {
        c.writeUint32(0, c.readUint32(0) + 1);
        dq.pushUsed(c, 4);
        served++;
        if (served % batch === 0) break;
      }
      dq.flushUsed();
      if (dq.needsNotification()) {
        Atomics.add(sig, IRQ, 1);
        Atomics.notify(sig, IRQ);
      }
    }
    ctx.postMessage("done");
  } else {
    const q0 = createDriverQueue<number>(mem, i.addrs, opts);
    const q = (globalThis as { vq?: typeof q0 }).vq ??= q0;
    const out = [{ addr: i.buf, len: 16 }];
    const in_ = [{ addr: i.buf + 64, len: 16 }];
    const slot = { token: undefined as number | undefined, len: 0 };
    let sent = 0, got = 0;
    while (got < count) {
      let added = 0;
      while (sent < count && added < batch && q.canAdd(1, 1)) {
        q.addSgs(out, in_, sent++);
        added++;
      }
      if (added > 0 && q.kick()) {
        Atomics.add(sig, KICK, 1);
        Atomics.notify(sig, KICK);
      }
      q.disableCb();
      let n = 0;
      while (q.getBufInto(slot)) n++;
      got += n;
      if (n === 0 && (sent === count || !q.canAdd(1, 1) || added === 0)) {
        const seen = Atomics.load(sig, IRQ);
        if (q.enableCb()) Atomics.wait(sig, IRQ, seen, 50);
      }
    }
    ctx.postMessage("done");
  }
};
