// Device-side bookkeeping shared by the split and packed rings: the chain
// pool, IN_ORDER order and the checks on what the device model returns.

import { QueueError } from "../errors.ts";
import type { DescriptorChain } from "./chain.ts";
import { ChainPool, heldBy } from "./_chain_builder.ts";
import { IndexFifo } from "./_ring_util.ts";

export class DeviceCore {
  readonly queue: number;
  readonly size: number;
  readonly inOrder: boolean;
  readonly pool: ChainPool;
  /** Popped chains in pop order, by head/id (IN_ORDER only). */
  readonly order: IndexFifo;
  /** IN_ORDER batching: ring slot of the entry standing for the current batch, or -1. */
  batchSlot = -1;
  /** IN_ORDER batching: whether the last staged chain was reported completely written. */
  batchFull = false;

  constructor(queue: number, size: number, inOrder: boolean, owner: unknown) {
    this.queue = queue;
    this.size = size;
    this.inOrder = inOrder;
    this.pool = new ChainPool(queue, owner, size);
    this.order = new IndexFifo(size);
  }

  /** The QueueError for a new head when `size` chains are already outstanding. */
  tooMany(desc: number): never {
    throw new QueueError(
      this.queue,
      desc,
      `driver made more than ${this.size} buffers available at once`,
      { code: "ERR_VIRTIO_QUEUE_TOO_MANY_BUFFERS" },
    );
  }

  /**
   * The QueueError for a used report from the device model that breaks a
   * rule: the chain not outstanding on this queue, `len` outside the chain's
   * writable bytes, or (IN_ORDER) not the oldest chain. The queues test these
   * inline (the fault out of line keeps their hot path inlinable).
   */
  usedFault(chain: DescriptorChain, len: number, owner: unknown): never {
    if (!heldBy(chain, owner)) {
      throw new QueueError(
        this.queue,
        chain.head,
        "chain is not outstanding on this queue (used twice?)",
        { code: "ERR_VIRTIO_QUEUE_NOT_OUTSTANDING" },
      );
    }
    if ((len >>> 0) !== len || len > chain.writableLength) {
      throw new QueueError(
        this.queue,
        chain.head,
        `used length ${len} is outside 0..${chain.writableLength} (the chain's writable bytes)`,
        { code: "ERR_VIRTIO_QUEUE_USED_LENGTH" },
      );
    }
    throw new QueueError(
      this.queue,
      chain.head,
      `VIRTIO_F_IN_ORDER: chain used before chain ${this.order.peek()}`,
      { code: "ERR_VIRTIO_QUEUE_IN_ORDER" },
    );
  }

  /**
   * IN_ORDER: checks that `chain` (already checked otherwise) is the oldest
   * outstanding chain and drops it from the order.
   */
  takeInOrder(chain: DescriptorChain, len: number, owner: unknown): void {
    if (this.order.peek() !== chain.head) this.usedFault(chain, len, owner);
    this.order.shift();
  }
}
