// One side of a checked two-worker exchange (see _exchange.ts): the driver or
// the device of a split or packed queue in a SharedArrayBuffer, kicks and
// interrupts through Atomics, each side honouring the other's notification
// suppression. The driver checks that every token comes back exactly once
// with its length and the device's reply; on a fault either side stops both
// and reports the error with both queues' state.
import { GuestMemory } from "../../src/memory.ts";
import {
  createDeviceQueue,
  createDriverQueue,
  type QueueAddresses,
  type QueueState,
} from "../../src/virtqueue/mod.ts";

/** What the host sends to start one side. */
export interface ExchangeJob {
  role: "driver" | "device";
  memory: SharedArrayBuffer;
  signals: SharedArrayBuffer;
  addrs: QueueAddresses;
  packed: boolean;
  eventIdx: boolean;
  batch: number;
  count: number;
  /** Guest address of `slots` request buffers of 32 bytes (16 out, 16 in). */
  buf: number;
  slots: number;
  /** How long one side may sleep on the other before it is called hung. */
  hangMs: number;
  /**
   * How long one wait for a kick or an interrupt lasts before the side looks
   * at the ring again. A wait that runs out while work was waiting is a lost
   * wake-up: the other side published work and did not notify.
   */
  napMs: number;
  /** Stop both sides with an error at the first lost wake-up (else only count them). */
  lostWakeupFails: boolean;
}

/** What a side reports back. */
export interface ExchangeReport {
  role: "driver" | "device";
  ok: boolean;
  error?: string;
  done: number;
  state: QueueState;
  /** Sleeps that ran out while the other side had published work for us. */
  lostWakeups: number;
}

// Words of the signal array.
const KICK = 0, IRQ = 1, STOP = 2;

/** The reply length for `token` (the device writes 4..16 bytes). */
export function replyLength(token: number): number {
  return 4 + token % 13;
}

const ctx = self as unknown as {
  onmessage: ((e: MessageEvent<ExchangeJob>) => void) | null;
  postMessage(message: ExchangeReport): void;
};

ctx.onmessage = (e: MessageEvent<ExchangeJob>) => {
  const job = e.data;
  const sig = new Int32Array(job.signals);
  const mem = GuestMemory.fromBuffer(job.memory);
  const opts = {
    packed: job.packed,
    eventIdx: job.eventIdx,
    indirect: false,
    inOrder: false,
    index: 0,
  };
  const stop = () => {
    Atomics.store(sig, STOP, 1);
    Atomics.add(sig, KICK, 1);
    Atomics.notify(sig, KICK);
    Atomics.add(sig, IRQ, 1);
    Atomics.notify(sig, IRQ);
  };
  if (job.role === "device") {
    const q = createDeviceQueue(mem, job.addrs, opts);
    let done = 0, lostWakeups = 0;
    try {
      let slept = 0;
      while (done < job.count && Atomics.load(sig, STOP) === 0) {
        const seen = Atomics.load(sig, KICK);
        let c = q.pop();
        if (c === null) {
          if (!q.enableNotification()) {
            // A nap ending with a chain waiting is a lost kick.
            if (Atomics.wait(sig, KICK, seen, job.napMs) === "timed-out") {
              if (q.hasAvailable()) {
                lostWakeups++;
                if (job.lostWakeupFails) {
                  throw new Error(`device: a kick was lost (a chain waited ${job.napMs} ms)`);
                }
              } else if ((slept += job.napMs) > job.hangMs) {
                throw new Error("device: no kick, hung");
              }
            } else slept = 0;
          }
          q.disableNotification();
          continue;
        }
        slept = 0;
        let n = 0;
        for (; c !== null; c = q.pop()) {
          const token = c.readUint32(0);
          c.writeUint32(0, token ^ 0x5a5a5a5a);
          q.pushUsed(c, replyLength(token));
          done++;
          if (++n === job.batch) break;
        }
        q.flushUsed();
        if (q.needsNotification()) {
          Atomics.add(sig, IRQ, 1);
          Atomics.notify(sig, IRQ);
        }
      }
      ctx.postMessage({ role: "device", ok: true, done, state: q.state(), lostWakeups });
    } catch (err) {
      stop();
      ctx.postMessage({
        role: "device",
        ok: false,
        error: String(err),
        done,
        state: q.state(),
        lostWakeups,
      });
    }
    return;
  }
  const q = createDriverQueue<number>(mem, job.addrs, opts);
  const seenTokens = new Uint8Array(job.count);
  const outs = Array.from({ length: job.slots }, (_, i) => [{ addr: job.buf + 32 * i, len: 16 }]);
  const ins = Array.from(
    { length: job.slots },
    (_, i) => [{ addr: job.buf + 32 * i + 16, len: 16 }],
  );
  const slot = { token: undefined as number | undefined, len: 0 };
  let sent = 0, got = 0, lostWakeups = 0, slept = 0;
  const inFlightTokens = () => {
    const t: number[] = [];
    for (let i = Math.max(0, sent - job.slots); i < sent; i++) if (seenTokens[i] === 0) t.push(i);
    return t.length > 40 ? `${t.slice(0, 40).join(",")},… (${t.length})` : t.join(",");
  };
  // The ring words around the driver's position, as they are in memory now.
  const ringWords = () => {
    const st = q.state();
    const v = (a: number) => mem.view(a, 2).getUint16(0, true).toString(16);
    if (!job.packed) {
      return `avail.idx ${v(job.addrs.driver + 2)} used.idx ${v(job.addrs.device + 2)}`;
    }
    const at = Number(st.nextUsed);
    const words: string[] = [];
    for (let k = -2; k <= 2; k++) {
      const s = (at + k + job.addrs.size) % job.addrs.size;
      words.push(`${s}:${v(job.addrs.desc + 16 * s + 14)}`);
    }
    return `flags ${words.join(" ")}`;
  };
  try {
    while (got < job.count && Atomics.load(sig, STOP) === 0) {
      let added = 0;
      while (sent < job.count && added < job.batch && q.canAdd(1, 1)) {
        // Token t uses buffer slot t % slots: the device serves in order and
        // at most `slots` requests are outstanding, so no slot is reused early.
        const s = sent % job.slots;
        mem.view(job.buf + 32 * s, 4).setUint32(0, sent, true);
        q.addSgs(outs[s], ins[s], sent++);
        added++;
      }
      if (added > 0 && q.kick()) {
        Atomics.add(sig, KICK, 1);
        Atomics.notify(sig, KICK);
      }
      q.disableCb();
      let n = 0;
      while (q.getBufInto(slot)) {
        const t = slot.token;
        if (t === undefined || t < 0 || t >= sent || seenTokens[t] !== 0) {
          throw new Error(`driver: token ${t} returned twice or never sent (sent ${sent})`);
        }
        seenTokens[t] = 1;
        if (slot.len !== replyLength(t)) {
          throw new Error(`driver: token ${t} came back with length ${slot.len}`);
        }
        const reply = mem.view(job.buf + 32 * (t % job.slots) + 16, 4).getUint32(0, true);
        if (reply !== ((t ^ 0x5a5a5a5a) >>> 0)) {
          throw new Error(`driver: token ${t} came back with reply ${reply}`);
        }
        n++;
      }
      got += n;
      if (n > 0) slept = 0;
      if (n === 0 && (sent === job.count || !q.canAdd(1, 1) || added === 0)) {
        const seen = Atomics.load(sig, IRQ);
        if (q.enableCb()) {
          if (Atomics.wait(sig, IRQ, seen, job.napMs) === "timed-out") {
            if (q.hasUsed()) {
              lostWakeups++;
              if (job.lostWakeupFails) {
                throw new Error(
                  `driver: an interrupt was lost (used buffers waited ${job.napMs} ms)`,
                );
              }
            } else if ((slept += job.napMs) > job.hangMs) {
              throw new Error("driver: no interrupt, hung");
            }
          }
        }
      }
    }
    if (got < job.count && Atomics.load(sig, STOP) !== 0) {
      throw new Error(`driver: stopped by the device after ${got} of ${job.count}`);
    }
    ctx.postMessage({ role: "driver", ok: true, done: got, state: q.state(), lostWakeups });
  } catch (err) {
    stop();
    ctx.postMessage({
      role: "driver",
      ok: false,
      error: `${err} [${ringWords()}; in flight: ${inFlightTokens()}]`,
      done: got,
      state: q.state(),
      lostWakeups,
    });
  }
};
