// Inflight I/O tracking (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) for split
// rings, in the layout of QEMU's vhost-user document ("Inflight I/O
// tracking"): a shared area the front-end keeps across back-end restarts, in
// which the back-end marks each chain it takes and clears it once used. A new
// back-end resubmits the marked chains, in the order they were taken, so
// requests completed out of order before a crash are neither lost nor
// completed twice.
//
// Per queue: a 16-byte header (u64 features, u16 version, u16 desc_num,
// u16 last_batch_head, u16 used_idx) and one 16-byte entry per descriptor
// (u8 inflight, 5 bytes padding, u16 next, u64 counter), the queue's part
// rounded up to 64 bytes. Packed rings are not tracked (nor by QEMU's own
// libvhost-user).

import type { DescriptorChain } from "../../virtqueue/chain.ts";
import type { DeviceQueue, QueuePosition, QueueState } from "../../virtqueue/queue.ts";
import type { QueueOptions } from "../../virtqueue/layout.ts";
import type { SplitDeviceQueue } from "../../virtqueue/split.ts";

const HEADER = 16;
const ENTRY = 16;
const VERSION = 1;
const OFF_VERSION = 8;
const OFF_DESC_NUM = 10;
const OFF_LAST_BATCH_HEAD = 12;
const OFF_USED_IDX = 14;
const E_INFLIGHT = 0;
const E_NEXT = 6;
const E_COUNTER = 8;

/** Bytes of one queue's part of the inflight area for a queue of `queueSize`. */
export function inflightQueueBytes(queueSize: number): number {
  return Math.ceil((HEADER + ENTRY * queueSize) / 64) * 64;
}

/** What resuming a queue from its inflight area found. */
export interface InflightResume {
  /** The tracked queue to serve (it pops the resubmitted chains first). */
  readonly queue: InflightQueue;
  /** Chains resubmitted (taken by an earlier back-end and never used). */
  readonly resubmitted: number;
  /** True when the area was blank and has been set up now. */
  readonly fresh: boolean;
}

/**
 * Puts `queue` (just created and restored at the front-end's base) under
 * tracking in `area` (this queue's part), resuming from what an earlier
 * back-end left there: clears the last used batch if its used index was
 * published before the crash, moves the available position past every
 * chain still marked, and queues those for resubmission in the order they
 * were taken. Returns undefined, leaving the queue untracked, when the area
 * was set up for another queue size.
 */
export function resumeInflight(
  queue: SplitDeviceQueue,
  area: DataView,
): InflightResume | undefined {
  const size = queue.size;
  const version = area.getUint16(OFF_VERSION, true);
  const descNum = area.getUint16(OFF_DESC_NUM, true);
  // The used index the ring holds (restore() read it from the used ring).
  const used = queue.position().usedIdx;
  if (version === 0) {
    // A blank area (new from GET_INFLIGHT_FD): set it up, nothing to resubmit.
    new Uint8Array(area.buffer, area.byteOffset, HEADER + ENTRY * size).fill(0);
    area.setUint16(OFF_DESC_NUM, size, true);
    area.setUint16(OFF_USED_IDX, used, true);
    area.setUint16(OFF_VERSION, VERSION, true);
    return { queue: new InflightQueue(queue, area, [], 0, used), resubmitted: 0, fresh: true };
  }
  if (version !== VERSION || descNum !== size) return undefined;
  // A batch whose used index reached the ring before its entries were cleared.
  const batch = (used - area.getUint16(OFF_USED_IDX, true)) & 0xffff;
  let head = area.getUint16(OFF_LAST_BATCH_HEAD, true);
  for (let i = 0; i < batch && i < size && head < size; i++) {
    area.setUint8(HEADER + ENTRY * head + E_INFLIGHT, 0);
    head = area.getUint16(HEADER + ENTRY * head + E_NEXT, true);
  }
  area.setUint16(OFF_USED_IDX, used, true);
  const marked: { head: number; counter: number }[] = [];
  for (let i = 0; i < size; i++) {
    const e = HEADER + ENTRY * i;
    if (area.getUint8(e + E_INFLIGHT) !== 1) continue;
    const counter = area.getUint32(e + E_COUNTER, true) +
      area.getUint32(e + E_COUNTER + 4, true) * 0x1_0000_0000;
    marked.push({ head: i, counter });
  }
  marked.sort((a, b) => a.counter - b.counter);
  const next = marked.length === 0 ? 0 : marked[marked.length - 1].counter + 1;
  // Every chain taken is either used (up to `used`) or marked: the available
  // position is past both; the marked ones are popped again first.
  queue.restore({ availIdx: (used + marked.length) & 0xffff, usedIdx: used });
  return {
    queue: new InflightQueue(queue, area, marked.map((m) => m.head), next, used),
    resubmitted: marked.length,
    fresh: false,
  };
}

/**
 * A split device queue whose chains are tracked in an inflight area: `pop`
 * marks each chain it returns (resubmitted ones first), and `flushUsed`
 * clears the chains it published, in the order the vhost-user document
 * gives so that a crash at any point leaves the area recoverable.
 */
export class InflightQueue implements DeviceQueue {
  readonly #inner: SplitDeviceQueue;
  readonly #area: DataView;
  readonly #resubmit: number[];
  #nextResubmit = 0;
  #counter: number;
  #usedIdx: number;
  readonly #batch: number[] = [];

  constructor(
    inner: SplitDeviceQueue,
    area: DataView,
    resubmit: number[],
    counter: number,
    usedIdx: number,
  ) {
    this.#inner = inner;
    this.#area = area;
    this.#resubmit = resubmit;
    this.#counter = counter;
    this.#usedIdx = usedIdx;
  }

  /** Queue size. */
  get size(): number {
    return this.#inner.size;
  }

  /** The queue's index. */
  get index(): number {
    return this.#inner.index;
  }

  /** The options the queue was created with. */
  get options(): QueueOptions {
    return this.#inner.options;
  }

  /** Chains popped and not yet used. */
  get inFlight(): number {
    return this.#inner.inFlight;
  }

  /** Chains still to resubmit. */
  get pendingResubmit(): number {
    return this.#resubmit.length - this.#nextResubmit;
  }

  /** The next chain: a resubmitted one while any are left, else the next available one, marked. */
  pop(): DescriptorChain | null {
    if (this.#nextResubmit < this.#resubmit.length) {
      return this.#inner.popHead(this.#resubmit[this.#nextResubmit++]);
    }
    const c = this.#inner.pop();
    if (c === null) return null;
    const e = HEADER + ENTRY * c.head;
    const n = this.#counter++;
    this.#area.setUint32(e + E_COUNTER, n >>> 0, true);
    this.#area.setUint32(e + E_COUNTER + 4, Math.floor(n / 0x1_0000_0000), true);
    this.#area.setUint8(e + E_INFLIGHT, 1);
    return c;
  }

  /** True when a chain is waiting (to resubmit, or available). */
  hasAvailable(): boolean {
    return this.pendingResubmit > 0 || this.#inner.hasAvailable();
  }

  /** Returns `chain` as used and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void {
    this.pushUsed(chain, len);
    this.flushUsed();
  }

  /** Stages a used chain and links it into the area's last batch. */
  pushUsed(chain: DescriptorChain, len: number): void {
    const head = chain.head;
    this.#inner.pushUsed(chain, len);
    const a = this.#area;
    a.setUint16(HEADER + ENTRY * head + E_NEXT, a.getUint16(OFF_LAST_BATCH_HEAD, true), true);
    a.setUint16(OFF_LAST_BATCH_HEAD, head, true);
    this.#batch.push(head);
  }

  /** Publishes the staged chains, then clears their marks and records the used index. */
  flushUsed(): void {
    this.#inner.flushUsed();
    const batch = this.#batch;
    if (batch.length === 0) return;
    const a = this.#area;
    for (const head of batch) a.setUint8(HEADER + ENTRY * head + E_INFLIGHT, 0);
    this.#usedIdx = (this.#usedIdx + batch.length) & 0xffff;
    a.setUint16(OFF_USED_IDX, this.#usedIdx, true);
    batch.length = 0;
  }

  /** See {@link DeviceQueue.needsNotification}. */
  needsNotification(): boolean {
    return this.#inner.needsNotification();
  }

  /** See {@link DeviceQueue.enableNotification}; true also while chains wait for resubmission. */
  enableNotification(): boolean {
    return this.#inner.enableNotification() || this.pendingResubmit > 0;
  }

  /** See {@link DeviceQueue.disableNotification}. */
  disableNotification(): void {
    this.#inner.disableNotification();
  }

  /** See {@link DeviceQueue.position}. */
  position(): Required<QueuePosition> {
    return this.#inner.position();
  }

  /** See {@link DeviceQueue.restore}; drops what was left to resubmit. */
  restore(pos: QueuePosition): void {
    this.#inner.restore(pos);
    this.#resubmit.length = 0;
    this.#nextResubmit = 0;
    this.#usedIdx = this.#inner.position().usedIdx;
  }

  /** The queue's counters and the tracking's. */
  state(): QueueState {
    return {
      ...this.#inner.state(),
      inflightTracked: true,
      pendingResubmit: this.pendingResubmit,
    };
  }
}
