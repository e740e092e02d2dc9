// Inflight I/O tracking (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) for split
// rings ("Inflight I/O tracking" in QEMU's vhost-user document): a shared
// area the front-end keeps across back-end restarts, in which the back-end
// marks each chain it takes and clears it once used. A new back-end
// resubmits the marked chains, in the order they were taken, so requests
// completed out of order before a crash are neither lost nor completed
// twice.
//
// The layout is `queue_region_split` and `desc_state_split` of
// schema/vhost_user.ts, read and written only through their generated
// accessors. Packed rings are not tracked (nor by QEMU's own libvhost-user).

import type { DescriptorChain } from "../../virtqueue/chain.ts";
import type { DeviceQueue, QueuePosition, QueueState } from "../../virtqueue/queue.ts";
import type { QueueOptions } from "../../virtqueue/layout.ts";
import {
  QueueRegionSplit,
  VHOST_USER_INFLIGHT_ALIGNMENT,
  VHOST_USER_INFLIGHT_VERSION,
} from "../../generated/vhost_user.ts";

/**
 * A device queue that can take a chain again by its head, outside the
 * available ring (a split ring's `popHead`): what resubmission needs.
 */
export interface ResubmittableQueue extends DeviceQueue {
  /**
   * Takes the chain at descriptor `head` again, validated like `pop`; a head
   * out of range or already held is a `QueueError`.
   */
  popHead(head: number): DescriptorChain;
}

/** True when `queue` is a split ring that can resubmit chains by head. */
export function isResubmittable(queue: DeviceQueue): queue is ResubmittableQueue {
  return !queue.options.packed &&
    typeof (queue as Partial<ResubmittableQueue>).popHead === "function";
}

/** Bytes of one queue's part of the inflight area for a queue of `queueSize`. */
export function inflightQueueBytes(queueSize: number): number {
  const align = VHOST_USER_INFLIGHT_ALIGNMENT;
  return Math.ceil(QueueRegionSplit.size(queueSize) / align) * align;
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
  queue: ResubmittableQueue,
  area: DataView,
): InflightResume | undefined {
  const size = queue.size;
  const region = new QueueRegionSplit(area, 0, size);
  // Shared with the front-end: each field is read once, into a local.
  const version = region.version;
  const descNum = region.descNum;
  // The used index the ring holds (restore() read it from the used ring).
  const used = queue.position().usedIdx;
  if (version === 0) {
    // A blank area (new from GET_INFLIGHT_FD): set it up, nothing to resubmit.
    new Uint8Array(area.buffer, area.byteOffset, QueueRegionSplit.size(size)).fill(0);
    region.descNum = size;
    region.usedIdx = used;
    region.version = VHOST_USER_INFLIGHT_VERSION;
    return { queue: new InflightQueue(queue, region, [], 0, used), resubmitted: 0, fresh: true };
  }
  if (version !== VHOST_USER_INFLIGHT_VERSION || descNum !== size) return undefined;
  // A batch whose used index reached the ring before its entries were cleared.
  const batch = (used - region.usedIdx) & 0xffff;
  let head = region.lastBatchHead;
  for (let i = 0; i < batch && i < size && head < size; i++) {
    const d = region.desc(head);
    d.inflight = 0;
    head = d.next;
  }
  region.usedIdx = used;
  const marked: { head: number; counter: number }[] = [];
  for (let i = 0; i < size; i++) {
    const d = region.desc(i);
    if (d.inflight !== 1) continue;
    marked.push({ head: i, counter: d.counter });
  }
  marked.sort((a, b) => a.counter - b.counter);
  const next = marked.length === 0 ? 0 : marked[marked.length - 1].counter + 1;
  // Every chain taken is either used (up to `used`) or marked: the available
  // position is past both; the marked ones are popped again first.
  queue.restore({ availIdx: (used + marked.length) & 0xffff, usedIdx: used });
  return {
    queue: new InflightQueue(queue, region, marked.map((m) => m.head), next, used),
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
  readonly #inner: ResubmittableQueue;
  readonly #region: QueueRegionSplit;
  readonly #resubmit: number[];
  #nextResubmit = 0;
  #counter: number;
  #usedIdx: number;
  readonly #batch: number[] = [];

  constructor(
    inner: ResubmittableQueue,
    region: QueueRegionSplit,
    resubmit: number[],
    counter: number,
    usedIdx: number,
  ) {
    this.#inner = inner;
    this.#region = region;
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
    const d = this.#region.desc(c.head);
    d.counter = this.#counter++;
    d.inflight = 1;
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
    const r = this.#region;
    r.desc(head).next = r.lastBatchHead;
    r.lastBatchHead = head;
    this.#batch.push(head);
  }

  /** Publishes the staged chains, then clears their marks and records the used index. */
  flushUsed(): void {
    this.#inner.flushUsed();
    const batch = this.#batch;
    if (batch.length === 0) return;
    const r = this.#region;
    for (const head of batch) r.desc(head).inflight = 0;
    this.#usedIdx = (this.#usedIdx + batch.length) & 0xffff;
    r.usedIdx = this.#usedIdx;
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

  /** See {@link DeviceQueue.suspendNotifications}. */
  suspendNotifications(): void {
    this.#inner.suspendNotifications();
  }

  /** See {@link DeviceQueue.resumeNotifications}; true also while chains wait for resubmission. */
  resumeNotifications(): boolean {
    return this.#inner.resumeNotifications() || this.pendingResubmit > 0;
  }

  /** See {@link DeviceQueue.notificationsSuspended}. */
  get notificationsSuspended(): boolean {
    return this.#inner.notificationsSuspended;
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
