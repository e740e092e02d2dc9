// For worker_test.ts "a late notify is not an interrupt": wakes the driver's
// blocking interrupt wait without an interrupt (a notify with the count
// unchanged, as a notify that arrives after its count was already handled
// does), then raises a real interrupt.

const ctx = self as unknown as {
  onmessage: ((e: MessageEvent<{ ctl: SharedArrayBuffer; irq: number }>) => void) | null;
  postMessage(m: unknown): void;
};

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

ctx.onmessage = (e) => {
  const ctl = new Int32Array(e.data.ctl);
  const irq = e.data.irq;
  // Wake the waiter with nothing new, several times, until it is seen asleep again.
  let woken = 0;
  for (let i = 0; i < 20; i++) {
    sleep(10);
    woken += Atomics.notify(ctl, irq);
  }
  sleep(20);
  Atomics.add(ctl, irq, 1);
  Atomics.notify(ctl, irq);
  ctx.postMessage(woken);
};
