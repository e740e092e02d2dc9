// Request loops shared by the virtqueue benchmarks, the heap check and the
// worker benchmark: one driver and one device on one queue.
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  type DeviceQueue,
  type DriverQueue,
  type Sg,
  type UsedBufferSlot,
} from "../src/virtqueue/mod.ts";

export const QUEUE_SIZE = 256;

export interface Rig {
  driver: DriverQueue<number>;
  device: DeviceQueue;
  out: Sg[];
  in_: Sg[];
  slot: UsedBufferSlot<number>;
}

/** A queue pair with a request of `descs` elements (descs - 1 readable, 1 writable). */
export function rig(packed: boolean, descs: number, eventIdx = false): Rig {
  const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
  const alloc = new DmaAllocator(0, 1 << 20);
  const opts = { packed, eventIdx, indirect: false, inOrder: false, index: 0 };
  const addrs = allocateQueue(alloc, QUEUE_SIZE, packed);
  const buf = alloc.alloc(4096, 64);
  const out = Array.from({ length: descs - 1 }, (_, i) => ({ addr: buf + 64 * i, len: 16 }));
  return {
    driver: createDriverQueue<number>(mem, addrs, opts),
    device: createDeviceQueue(mem, addrs, opts),
    out,
    in_: [{ addr: buf + 2048, len: 512 }],
    slot: { token: undefined, len: 0 },
  };
}

/** What the loops read of a popped chain. */
interface Chain {
  readableCount: number;
  readUint32(offset: number): number;
}

/** What the request loops use of a rig: the engine's queues or the floor's (`_virtqueue_floor.ts`). */
export interface LoopRig<C extends Chain> {
  driver: {
    addSgs(out: readonly Sg[], in_: readonly Sg[], token: number): void;
    kick(): boolean;
    getBufInto(slot: UsedBufferSlot<number>): boolean;
  };
  device: {
    pop(): C | null;
    addUsed(chain: C, len: number): void;
    pushUsed(chain: C, len: number): void;
    flushUsed(): void;
    needsNotification(): boolean;
  };
  out: Sg[];
  in_: Sg[];
  slot: UsedBufferSlot<number>;
}

/** `n` requests one at a time: add, kick, pop, read a header word, used, notify, get. */
export function runSingle<C extends Chain>(r: LoopRig<C>, n: number): number {
  let sum = 0;
  const { driver, device, out, in_, slot } = r;
  for (let i = 0; i < n; i++) {
    driver.addSgs(out, in_, i);
    driver.kick();
    const c = device.pop()!;
    sum += c.readableCount > 0 ? c.readUint32(0) : 0;
    device.addUsed(c, 4);
    device.needsNotification();
    driver.getBufInto(slot);
    sum += slot.len;
  }
  return sum;
}

/** `n` requests in batches of `batch`: add all, one kick, pop all, one flush, get all. */
export function runBatched<C extends Chain>(r: LoopRig<C>, n: number, batch: number): number {
  let sum = 0;
  const { driver, device, out, in_, slot } = r;
  for (let done = 0; done < n; done += batch) {
    for (let i = 0; i < batch; i++) driver.addSgs(out, in_, i);
    driver.kick();
    for (let c = device.pop(); c !== null; c = device.pop()) {
      sum += c.readableCount > 0 ? c.readUint32(0) : 0;
      device.pushUsed(c, 4);
    }
    device.flushUsed();
    device.needsNotification();
    while (driver.getBufInto(slot)) sum += slot.len;
  }
  return sum;
}

/**
 * The limit for TypeScript: a minimal split ring on a raw DataView, with
 * no validation, no free list and no feature handling. Chains use `descs`
 * consecutive descriptors; the device walks them and reads a header word.
 */
export function rawRig(descs: number) {
  const size = QUEUE_SIZE;
  const v = new DataView(new ArrayBuffer(1 << 20));
  const DESC = 0, AVAIL = 16 * size, USED = AVAIL + 6 + 2 * size + 2, BUF = 0x10000;
  let availIdx = 0, lastAvail = 0, usedIdx = 0, lastUsed = 0;
  const mask = size - 1;
  const tokens = new Int32Array(size);
  function add(token: number): void {
    const head = (availIdx * descs) & mask;
    for (let k = 0; k < descs; k++) {
      const o = DESC + 16 * ((head + k) & mask);
      v.setUint32(o, BUF + 64 * k, true);
      v.setUint32(o + 4, 0, true);
      v.setUint32(o + 8, k === descs - 1 ? 512 : 16, true);
      v.setUint16(o + 12, (k < descs - 1 ? 1 : 0) | (k === descs - 1 ? 2 : 0), true);
      v.setUint16(o + 14, (head + k + 1) & mask, true);
    }
    tokens[head] = token;
    v.setUint16(AVAIL + 4 + 2 * (availIdx & mask), head, true);
    availIdx = (availIdx + 1) & 0xffff;
    v.setUint16(AVAIL + 2, availIdx, true);
  }
  function serve(): number {
    let sum = 0;
    while (v.getUint16(AVAIL + 2, true) !== lastAvail) {
      const head = v.getUint16(AVAIL + 4 + 2 * (lastAvail & mask), true);
      lastAvail = (lastAvail + 1) & 0xffff;
      let idx = head;
      for (;;) {
        const o = DESC + 16 * idx;
        const addr = v.getUint32(o, true);
        const flags = v.getUint16(o + 12, true);
        if ((flags & 2) === 0) sum += v.getUint32(addr, true) + v.getUint32(o + 8, true);
        if ((flags & 1) === 0) break;
        idx = v.getUint16(o + 14, true);
      }
      const e = USED + 4 + 8 * (usedIdx & mask);
      v.setUint32(e, head, true);
      v.setUint32(e + 4, 4, true);
      usedIdx = (usedIdx + 1) & 0xffff;
    }
    v.setUint16(USED + 2, usedIdx, true);
    return sum;
  }
  function reap(): number {
    let sum = 0;
    while (v.getUint16(USED + 2, true) !== lastUsed) {
      const e = USED + 4 + 8 * (lastUsed & mask);
      sum += tokens[v.getUint32(e, true)] + v.getUint32(e + 4, true);
      lastUsed = (lastUsed + 1) & 0xffff;
    }
    return sum;
  }
  return { add, serve, reap };
}

export function runRaw(r: ReturnType<typeof rawRig>, n: number, batch: number): number {
  let sum = 0;
  for (let done = 0; done < n; done += batch) {
    for (let i = 0; i < batch; i++) r.add(i);
    sum += r.serve();
    sum += r.reap();
  }
  return sum;
}
