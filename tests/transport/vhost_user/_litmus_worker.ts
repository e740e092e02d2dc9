// One side of the store-then-load litmus of mapped_memory_order_test.ts: a
// worker maps the memfd itself (as the vhost-user back-end maps a guest's
// memory) and, each round, writes its own word and then reads the other's.

import { mapShared } from "../../../src/transport/vhost_user/_libc.ts";
import { load16, store16 } from "../../../src/virtqueue/_ring_util.ts";

interface Job {
  fd: number;
  /** 0 or 1: which word is this side's. */
  side: number;
  /** "ring": the engine's accessors for shared ring words; "plain": DataView. */
  mode: "ring" | "plain";
  rounds: number;
  /** Round barrier: two Int32 counters per barrier, one per side. */
  sync: SharedArrayBuffer;
}

// Far apart (different cache lines), as avail_event and the available index are.
const WORD = [0, 256];

const ctx = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(stale: Uint8Array): void;
};

ctx.onmessage = (e: MessageEvent<Job>) => {
  const { fd, side, mode, rounds, sync } = e.data;
  const m = mapShared(fd, 4096);
  const words = new Uint16Array(m.buffer);
  const view = new DataView(m.buffer);
  const s = new Int32Array(sync);
  const mine = WORD[side];
  const other = WORD[1 - side];
  // 1 where this side read the other's word from before the round.
  const stale = new Uint8Array(rounds);
  for (let r = 1; r <= rounds; r++) {
    Atomics.store(s, side, r);
    while (Atomics.load(s, 1 - side) < r) { /* both start the round together */ }
    const value = r & 0xffff;
    let seen: number;
    if (mode === "ring") {
      store16(words, mine, value);
      seen = load16(words, other);
    } else {
      view.setUint16(mine, value, true);
      seen = view.getUint16(other, true);
    }
    stale[r - 1] = seen === ((r - 1) & 0xffff) ? 1 : 0;
    Atomics.store(s, 2 + side, r);
    while (Atomics.load(s, 3 - side) < r) { /* and both finish it */ }
  }
  ctx.postMessage(stale);
};
