// The floor of the virtqueue API: how fast any engine with the interface
// the engine offers could go on the split ring, measured beside the raw loop.
//
// It has the operations the benchmark loops call (addSgs with scatter-gather
// arrays and a token, kick, pop returning a chain object, readUint32,
// pushUsed/addUsed/flushUsed, needsNotification, getBufInto) and only the
// bookkeeping that interface cannot do without: a descriptor free list (the
// device may complete in any order), a token table, pooled chain objects
// with their segments. It checks NOTHING the other side writes and supports
// no feature (no indirect, IN_ORDER, EVENT_IDX or shared memory): it must
// never be used on real rings. Its ratio to the raw loop is the best the
// engine could reach without giving up validation or features, so it says
// how much of the engine's distance to the raw loop is the interface itself.
import { DmaAllocator, GuestMemory, type MemoryRegion } from "../src/memory.ts";
import { allocateQueue, type Sg, type UsedBufferSlot } from "../src/virtqueue/mod.ts";
import { QUEUE_SIZE } from "./_virtqueue_loops.ts";

/** A popped buffer: segments as (region, offset, length), readable first. */
class FloorChain {
  head = 0;
  readableCount = 0;
  writableCount = 0;
  readonly len = new Uint32Array(QUEUE_SIZE);
  readonly off = new Float64Array(QUEUE_SIZE);
  readonly region: MemoryRegion[] = new Array(QUEUE_SIZE);

  readUint32(offset: number): number {
    return this.region[0].view.getUint32(this.off[0] + offset, true);
  }
}

class FloorDriver {
  readonly #v: DataView;
  readonly #desc: number;
  readonly #avail: number;
  readonly #used: number;
  readonly #next = new Uint16Array(QUEUE_SIZE);
  readonly #count = new Uint16Array(QUEUE_SIZE);
  readonly #tokens: number[] = new Array(QUEUE_SIZE).fill(0);
  #freeHead = 0;
  #freeTail = QUEUE_SIZE - 1;
  #numFree = QUEUE_SIZE;
  #availIdx = 0;
  #lastUsed = 0;
  #added = 0;

  constructor(v: DataView, desc: number, avail: number, used: number) {
    this.#v = v;
    this.#desc = desc;
    this.#avail = avail;
    this.#used = used;
    for (let i = 0; i + 1 < QUEUE_SIZE; i++) this.#next[i] = i + 1;
  }

  addSgs(out: readonly Sg[], in_: readonly Sg[], token: number): void {
    const v = this.#v;
    const next = this.#next;
    const nOut = out.length;
    const total = nOut + in_.length;
    const head = this.#freeHead;
    let cur = head;
    for (let i = 0; i < total; i++) {
      const w = i >= nOut;
      const sg = w ? in_[i - nOut] : out[i];
      const o = this.#desc + cur * 16;
      v.setUint32(o, sg.addr, true);
      v.setUint32(o + 4, 0, true);
      v.setUint32(o + 8, sg.len, true);
      const more = i + 1 < total;
      v.setUint16(o + 12, (w ? 2 : 0) | (more ? 1 : 0), true);
      v.setUint16(o + 14, more ? next[cur] : 0, true);
      if (more) cur = next[cur];
    }
    this.#freeHead = next[cur];
    this.#numFree -= total;
    this.#tokens[head] = token;
    this.#count[head] = total;
    const idx = this.#availIdx;
    v.setUint16(this.#avail + 4 + 2 * (idx & (QUEUE_SIZE - 1)), head, true);
    this.#availIdx = (idx + 1) & 0xffff;
    v.setUint16(this.#avail + 2, this.#availIdx, true);
    this.#added++;
  }

  kick(): boolean {
    const added = this.#added;
    this.#added = 0;
    return added > 0 && (this.#v.getUint16(this.#used, true) & 1) === 0;
  }

  getBufInto(slot: UsedBufferSlot<number>): boolean {
    const v = this.#v;
    const last = this.#lastUsed;
    if (v.getUint16(this.#used + 2, true) === last) return false;
    const e = this.#used + 4 + 8 * (last & (QUEUE_SIZE - 1));
    const id = v.getUint32(e, true);
    this.#lastUsed = (last + 1) & 0xffff;
    const n = this.#count[id];
    let tail = id;
    for (let i = 1; i < n; i++) tail = this.#next[tail];
    if (this.#numFree === 0) this.#freeHead = id;
    else this.#next[this.#freeTail] = id;
    this.#freeTail = tail;
    this.#numFree += n;
    slot.token = this.#tokens[id];
    slot.len = v.getUint32(e + 4, true);
    return true;
  }
}

class FloorDevice {
  readonly #mem: GuestMemory;
  readonly #v: DataView;
  readonly #desc: number;
  readonly #avail: number;
  readonly #used: number;
  readonly #free: FloorChain[] = [];
  #lastAvail = 0;
  #usedIdx = 0;
  #published = 0;
  #signalled = 0;

  constructor(mem: GuestMemory, v: DataView, desc: number, avail: number, used: number) {
    this.#mem = mem;
    this.#v = v;
    this.#desc = desc;
    this.#avail = avail;
    this.#used = used;
  }

  pop(): FloorChain | null {
    const v = this.#v;
    const last = this.#lastAvail;
    if (v.getUint16(this.#avail + 2, true) === last) return null;
    const head = v.getUint16(this.#avail + 4 + 2 * (last & (QUEUE_SIZE - 1)), true);
    this.#lastAvail = (last + 1) & 0xffff;
    const c = this.#free.pop() ?? new FloorChain();
    c.head = head;
    let idx = head;
    let rc = 0;
    let wc = 0;
    for (;;) {
      const o = this.#desc + idx * 16;
      const flags = v.getUint16(o + 12, true);
      const addr = v.getUint32(o, true);
      const len = v.getUint32(o + 8, true);
      // A region is still needed to turn an address into bytes (not checked).
      const region = this.#mem.regionFor(addr, 0) as MemoryRegion;
      const k = rc + wc;
      c.len[k] = len;
      c.off[k] = addr - region.base;
      c.region[k] = region;
      if ((flags & 2) !== 0) wc++;
      else rc++;
      if ((flags & 1) === 0) break;
      idx = v.getUint16(o + 14, true);
    }
    c.readableCount = rc;
    c.writableCount = wc;
    return c;
  }

  pushUsed(c: FloorChain, len: number): void {
    const e = this.#used + 4 + 8 * (this.#usedIdx & (QUEUE_SIZE - 1));
    this.#v.setUint32(e, c.head, true);
    this.#v.setUint32(e + 4, len, true);
    this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
    this.#free.push(c);
  }

  addUsed(c: FloorChain, len: number): void {
    this.pushUsed(c, len);
    this.flushUsed();
  }

  flushUsed(): void {
    if (this.#usedIdx === this.#published) return;
    this.#published = this.#usedIdx;
    this.#v.setUint16(this.#used + 2, this.#published, true);
  }

  needsNotification(): boolean {
    const old = this.#signalled;
    this.#signalled = this.#published;
    return old !== this.#published && (this.#v.getUint16(this.#avail, true) & 1) === 0;
  }
}

/** A floor queue pair shaped like the engine's `Rig`, with a request of `descs` elements. */
export function floorRig(descs: number) {
  const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
  const alloc = new DmaAllocator(0, 1 << 20);
  const q = allocateQueue(alloc, QUEUE_SIZE, false);
  const buf = alloc.alloc(4096, 64);
  const v = mem.regions[0].view;
  return {
    driver: new FloorDriver(v, q.desc, q.driver, q.device),
    device: new FloorDevice(mem, v, q.desc, q.driver, q.device),
    out: Array.from({ length: descs - 1 }, (_, i) => ({ addr: buf + 64 * i, len: 16 })),
    in_: [{ addr: buf + 2048, len: 512 }],
    slot: { token: undefined, len: 0 } as UsedBufferSlot<number>,
  };
}
