/**
 * The engine's side of {@link DescriptorChain}: the chain rules both layouts
 * share, and the one place that fills chains. Users see a chain read-only
 * (`chain.ts`: `readonly` fields, `private` bookkeeping); {@link ChainPool}
 * hands the split and packed device queues each chain as a {@link ChainFill},
 * the same object typed with those members writable. The view is a type, not
 * a copy or a wrapper: filling costs what it did when the fields were public
 * (docs/virtqueue.md, "One definition of each rule").
 *
 * @module
 */

import { QueueError } from "../errors.ts";
import type { GuestMemory, MemoryRegion } from "../memory.ts";
import { DescriptorChain } from "./chain.ts";

// A const enum, which the TypeScript compiler inlines as a literal: V8 does
// not fold a module-level constant into the hot path.
const enum Limit {
  /** Largest total byte count of one chain (2.7.4.1: 2^32 bytes; `len` fields are 32-bit). */
  MAX_CHAIN_BYTES = 0xffffffff,
}

/**
 * A chain as the engine fills it: the fields a user only reads, writable, the
 * engine's bookkeeping, and the storage primitives of `chain.ts`. Handed out
 * by {@link ChainPool}; a queue returns it to users as a `DescriptorChain`
 * (`c as unknown as DescriptorChain`, a cast only) and sees a user's chain
 * as a `ChainFill` the same way.
 */
export interface ChainFill {
  readonly queue: number;
  head: number;
  descriptorCount: number;
  indirect: boolean;
  readableCount: number;
  writableCount: number;
  readableLength: number;
  writableLength: number;
  /** Set while the device holds the chain. */
  live: boolean;
  /** The queue that owns the chain. */
  readonly owner: unknown;
  /** The pool the chain came from. */
  pool: ChainPool | undefined;
  /** Stores segment `n` without checks (the rules have been applied). */
  seg(n: number, len: number, off: number, region: MemoryRegion, maxSegments: number): void;
  /** Drops grown capacity after a hostile or huge chain. */
  shrink(): void;
}

/**
 * True when `owner`'s device side holds `chain` (popped, not yet used). The
 * queues' `pushUsed` test the same two fields inline, on their hot path.
 */
export function heldBy(chain: DescriptorChain, owner: unknown): boolean {
  const f = chain as unknown as ChainFill;
  return f.owner === owner && f.live;
}

/**
 * The chain rules for one more buffer of `len` bytes found in `region`
 * (undefined: not inside guest memory), after `writableCount` writable
 * buffers and `bytes` bytes: in guest memory, readable before writable
 * (2.7.4.2, 2.8.17), at most 2^32 - 1 bytes in all (2.7.5.2). True when the
 * buffer breaks one. The one definition: both layouts' walkers and
 * {@link pushSegment} call it (V8 inlines it), and the fault is named by
 * `pushError`, in this order.
 */
export function breaksChainRule(
  region: MemoryRegion | undefined,
  writable: boolean,
  writableCount: number,
  bytes: number,
  len: number,
): boolean {
  return region === undefined || (!writable && writableCount > 0) ||
    bytes + len > Limit.MAX_CHAIN_BYTES;
}

/**
 * Appends a buffer to `f` after checking it against the rules every layout
 * shares: inside guest memory, readable before writable (2.7.4.2,
 * 2.8.18.1), total length, chain length. `desc` and `entry` (indirect table
 * entry, or -1) name the descriptor in errors. For indirect tables; the
 * direct walkers apply {@link breaksChainRule} on counts in locals and store
 * with `seg`.
 */
export function pushSegment(
  f: ChainFill,
  mem: GuestMemory,
  addr: number,
  len: number,
  writable: boolean,
  desc: number,
  entry: number,
  maxSegments: number,
): void {
  const n = f.readableCount + f.writableCount;
  const region = mem.regionFor(addr, len);
  // One test on the hot path; the fault (in the order the rules are listed) out of line.
  if (
    n >= maxSegments ||
    breaksChainRule(region, writable, f.writableCount, f.readableLength + f.writableLength, len)
  ) {
    throw pushError(f, addr, len, writable, desc, entry, maxSegments);
  }
  const r = region as MemoryRegion;
  f.seg(n, len, addr - r.base, r, maxSegments);
  if (writable) {
    f.writableCount++;
    f.writableLength += len;
  } else {
    f.readableCount++;
    f.readableLength += len;
  }
}

/** Sets the counts and lengths of a walk kept in locals. */
export function setCounts(f: ChainFill, rc: number, wc: number, rl: number, wl: number): void {
  f.readableCount = rc;
  f.writableCount = wc;
  f.readableLength = rl;
  f.writableLength = wl;
}

/**
 * The error {@link pushSegment} would throw for the direct descriptor
 * `desc`, for a walker that kept the counts and lengths so far in locals:
 * sets them and gives the chain back to its pool; the walker throws what it
 * returns.
 */
export function walkFault(
  f: ChainFill,
  readableCount: number,
  writableCount: number,
  readableLength: number,
  writableLength: number,
  addr: number,
  len: number,
  writable: boolean,
  desc: number,
  maxSegments: number,
): QueueError {
  setCounts(f, readableCount, writableCount, readableLength, writableLength);
  return pushError(f, addr, len, writable, desc, -1, maxSegments);
}

function pushError(
  f: ChainFill,
  addr: number,
  len: number,
  writable: boolean,
  desc: number,
  entry: number,
  maxSegments: number,
): QueueError {
  f.pool?.give(f);
  if (f.readableCount + f.writableCount >= maxSegments) {
    return chainError(
      f,
      desc,
      entry,
      `chain has more than ${maxSegments} descriptors`,
      "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG",
    );
  }
  if (!writable && f.writableCount > 0) {
    return chainError(
      f,
      desc,
      entry,
      "device-readable buffer after a device-writable one",
      "ERR_VIRTIO_QUEUE_READABLE_AFTER_WRITABLE",
    );
  }
  if (f.readableLength + f.writableLength + len > Limit.MAX_CHAIN_BYTES) {
    return chainError(
      f,
      desc,
      entry,
      "chain is longer than 2^32 bytes in total",
      "ERR_VIRTIO_QUEUE_TOO_MANY_BYTES",
    );
  }
  return chainError(
    f,
    desc,
    entry,
    `buffer 0x${addr.toString(16)}+${len} is outside guest memory`,
    "ERR_VIRTIO_QUEUE_ADDRESS",
  );
}

function chainError(
  f: ChainFill,
  desc: number,
  entry: number,
  cause: string,
  code: string,
): QueueError {
  return new QueueError(
    f.queue,
    desc,
    entry < 0 ? cause : `indirect table entry ${entry}: ${cause}`,
    { code },
  );
}

/**
 * Most descriptors one chain may hold, indirect tables included: the queue
 * size (2.7.5.3.1, 2.8.18), or 1024 for a small queue with an indirect table
 * (Linux lets indirect tables outgrow the ring; VMMs cap chains at 1024).
 * The cap bounds the work and memory a hostile table can cost.
 */
export function maxChainLength(size: number, indirect: boolean): number {
  return indirect ? Math.max(size, 1024) : size;
}

/**
 * Checks the descriptor that points at an indirect table (2.7.5.3, 2.8.19)
 * and returns the number of table entries, or throws a {@link QueueError}.
 * Shared by both layouts; `nested` is true when the descriptor is itself in
 * an indirect table.
 */
export function checkIndirect(
  queue: number,
  size: number,
  negotiated: boolean,
  desc: number,
  flags: number,
  len: number,
  hasNext: boolean,
  nested: boolean,
): number {
  if (!negotiated) {
    throw new QueueError(
      queue,
      desc,
      `INDIRECT flag set (0x${flags.toString(16)}) but VIRTIO_F_INDIRECT_DESC was not negotiated`,
      { code: "ERR_VIRTIO_QUEUE_INDIRECT_NOT_NEGOTIATED" },
    );
  }
  if (nested) {
    throw new QueueError(queue, desc, "indirect table inside an indirect table", {
      code: "ERR_VIRTIO_QUEUE_NESTED_INDIRECT",
    });
  }
  if (hasNext) {
    throw new QueueError(queue, desc, "indirect descriptor continues the chain (NEXT set)", {
      code: "ERR_VIRTIO_QUEUE_INDIRECT_WITH_NEXT",
    });
  }
  if (len === 0 || len % 16 !== 0) {
    throw new QueueError(
      queue,
      desc,
      `indirect table length ${len} is not a non-zero multiple of 16`,
      { code: "ERR_VIRTIO_QUEUE_INDIRECT_LENGTH" },
    );
  }
  const limit = maxChainLength(size, true);
  if (len / 16 > limit) {
    throw new QueueError(
      queue,
      desc,
      `indirect table of ${len / 16} entries exceeds the limit of ${limit}`,
      { code: "ERR_VIRTIO_QUEUE_CHAIN_TOO_LONG" },
    );
  }
  return len / 16;
}

/** A pool of reusable chains for one queue; allocates only while growing to its peak. */
export class ChainPool {
  #free: ChainFill[] = [];
  #created = 0;
  readonly #limit: number;
  readonly #queue: number;
  readonly #owner: unknown;

  /** A pool of at most `limit` chains. */
  constructor(queue: number, owner: unknown, limit: number) {
    this.#queue = queue;
    this.#owner = owner;
    this.#limit = limit;
  }

  /** Chains currently held by the device. */
  get outstanding(): number {
    return this.#created - this.#free.length;
  }

  /** A free chain, or undefined when `limit` chains are outstanding. */
  take(): ChainFill | undefined {
    let c = this.#free.pop();
    if (c === undefined) {
      if (this.#created === this.#limit) return undefined;
      c = new DescriptorChain(this.#queue, this.#owner) as unknown as ChainFill;
      c.pool = this;
      this.#created++;
    }
    c.live = true;
    return c;
  }

  /** Returns a chain to the pool (once: a chain already given back is left alone). */
  give(chain: DescriptorChain | ChainFill): void {
    const c = chain as ChainFill;
    if (!c.live) return;
    c.live = false;
    c.shrink();
    this.#free.push(c);
  }
}
