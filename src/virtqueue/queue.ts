/**
 * The two faces of a virtqueue, the same for the split and the packed
 * layout: {@link DriverQueue} (what a driver does, after Linux's
 * virtio_ring) and {@link DeviceQueue} (what a device model does, after a
 * VMM's queue), and the factories that pick the layout from the options.
 *
 * @module
 */

import type { DmaAllocator, GuestMemory } from "../memory.ts";
import type { DescriptorChain } from "./chain.ts";
import type { QueueAddresses, QueueOptions } from "./layout.ts";
import { PackedDeviceQueue } from "./packed/device.ts";
import { PackedDriverQueue } from "./packed/driver.ts";
import { SplitDeviceQueue } from "./split/device.ts";
import { SplitDriverQueue } from "./split/driver.ts";

/** One scatter-gather element: a guest buffer. */
export interface Sg {
  /** Guest-physical address. */
  readonly addr: number;
  /** Length in bytes (up to 2^32 - 1). */
  readonly len: number;
}

/** A buffer the device has used: the driver's token and the bytes the device wrote. */
export interface UsedBuffer<T> {
  /** The token given to {@link DriverQueue.addSgs}. */
  token: T;
  /** Bytes the device wrote into the buffer's writable part. */
  len: number;
}

/** A reusable out-parameter for {@link DriverQueue.getBufInto}. */
export interface UsedBufferSlot<T> {
  /** The token of the last buffer taken (undefined before the first). */
  token: T | undefined;
  /** Bytes the device wrote into it. */
  len: number;
}

/** Internal counters of a queue, for debugging and tests. */
export type QueueState = Readonly<Record<string, number | boolean>>;

/**
 * Where the device side of a queue stands: what a VMM saves to resume the
 * queue in another device instance (vhost-user's GET/SET_VRING_BASE, a
 * restarted back-end, migration). See {@link DeviceQueue.restore}.
 */
export interface QueuePosition {
  /**
   * Split: the next available ring index to read (free-running, 0..65535).
   * Packed: the next descriptor to read (0..size-1).
   */
  readonly availIdx: number;
  /** Packed: the driver ring wrap counter at `availIdx` (0 or 1; default 1). */
  readonly availWrap?: number;
  /**
   * Split: the next used ring index to write (default: the `idx` the used
   * ring holds now). Packed: the next descriptor to write (default: `availIdx`).
   */
  readonly usedIdx?: number;
  /** Packed: the device ring wrap counter at `usedIdx` (default: `availWrap`). */
  readonly usedWrap?: number;
}

/**
 * The driver side of a virtqueue (Linux's `virtqueue_*` operations).
 * Operations that meet something a correct device never writes (a used id
 * that is not outstanding, a length larger than the buffer, a used index
 * running ahead) throw a `QueueError`.
 */
export interface DriverQueue<T> {
  /** Queue size. */
  readonly size: number;
  /** The queue's index. */
  readonly index: number;
  /** The options the queue was created with. */
  readonly options: QueueOptions;
  /** Free descriptors (an indirect buffer takes one). */
  readonly numFree: number;
  /** Buffers made available and not yet returned by {@link DriverQueue.getBuf}. */
  readonly inFlight: number;
  /**
   * Makes a buffer available: `out` device-readable elements, then `in_`
   * device-writable ones, with `token` (not undefined) to get it back by.
   * Uses an indirect table when negotiated and one can be allocated, direct
   * descriptors otherwise. Throws a `QueueError` when there is no room.
   * Reusing the same arrays and element objects between calls allocates nothing.
   */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void;
  /** True when a buffer of `out + in_` elements fits now. */
  canAdd(outCount: number, inCount: number): boolean;
  /**
   * Publishes what was added and says whether the device must be notified
   * (honouring `VRING_USED_F_NO_NOTIFY`, `avail_event` or the device event
   * suppression structure).
   */
  kick(): boolean;
  /**
   * The next used buffer, or null. While callbacks are enabled with
   * EVENT_IDX, each call also moves `used_event` (packed: the descriptor
   * event) to the next used entry, as Linux does, so a driver whose callback
   * only collects buffers keeps getting interrupts.
   */
  getBuf(): UsedBuffer<T> | null;
  /** Like {@link DriverQueue.getBuf} into a reused slot: returns false when none. Allocates nothing. */
  getBufInto(slot: UsedBufferSlot<T>): boolean;
  /** Asks the device not to send used-buffer notifications (a hint). */
  disableCb(): void;
  /**
   * Re-enables used-buffer notifications and returns what Linux's
   * `virtqueue_enable_cb` returns: **false when used buffers are already
   * waiting** (collect them and try again: no interrupt may come for them),
   * true when there are none, so the caller may sleep until the interrupt.
   */
  enableCb(): boolean;
  /**
   * Like {@link DriverQueue.enableCb}, but asks for the notification only when
   * about 3/4 of the outstanding buffers are used (with EVENT_IDX), as
   * Linux's `virtqueue_enable_cb_delayed`. False when used buffers are
   * already waiting.
   */
  enableCbDelayed(): boolean;
  /** True when a used buffer is waiting. */
  hasUsed(): boolean;
  /** Takes back one buffer the device never used (teardown after reset), or null. */
  detachUnusedBuf(): T | null;
  /** Internal counters, for debugging. */
  state(): QueueState;
}

/**
 * The device side of a virtqueue. `pop` validates every chain the driver
 * wrote and throws a `QueueError` naming queue, descriptor and cause for
 * anything malformed; the queue stays consistent, and the device model
 * should then ask its transport for `DEVICE_NEEDS_RESET`.
 */
export interface DeviceQueue {
  /** Queue size. */
  readonly size: number;
  /** The queue's index. */
  readonly index: number;
  /** The options the queue was created with. */
  readonly options: QueueOptions;
  /** Chains popped and not yet used. */
  readonly inFlight: number;
  /** The next available chain, validated, or null when there is none. */
  pop(): DescriptorChain | null;
  /** True when a chain is available (without taking it). */
  hasAvailable(): boolean;
  /** Returns `chain` as used with `len` bytes written, and publishes it. */
  addUsed(chain: DescriptorChain, len: number): void;
  /** Stages a used chain; {@link DeviceQueue.flushUsed} publishes the batch. */
  pushUsed(chain: DescriptorChain, len: number): void;
  /** Publishes every staged used chain at once. */
  flushUsed(): void;
  /**
   * After publishing used chains: true when the driver wants a used-buffer
   * notification (`VIRTQ_AVAIL_F_NO_INTERRUPT`, `used_event` or the driver
   * event suppression structure).
   */
  needsNotification(): boolean;
  /** Asks for available-buffer notifications; true when chains are already waiting. */
  enableNotification(): boolean;
  /** Asks the driver not to notify (a hint). */
  disableNotification(): void;
  /**
   * Holds available-buffer notifications off across serving passes, for a
   * device that polls the ring instead: the driver is asked not to notify
   * (with `VIRTIO_F_EVENT_IDX`, `avail_event` is set one entry behind the
   * next one, so even the driver's next chain sends no notification), and
   * until {@link DeviceQueue.resumeNotifications}, `enableNotification`
   * asks for nothing and only reports whether chains are waiting. A hint,
   * like `disableNotification`: a driver may notify anyway.
   */
  suspendNotifications(): void;
  /**
   * Ends {@link DeviceQueue.suspendNotifications} and asks for
   * notifications again; true when chains are already waiting (as
   * `enableNotification`), so that none is left behind by the switch.
   */
  resumeNotifications(): boolean;
  /** True between {@link DeviceQueue.suspendNotifications} and {@link DeviceQueue.resumeNotifications}. */
  readonly notificationsSuspended: boolean;
  /**
   * The position to save for {@link DeviceQueue.restore}: the next available
   * entry and the next used entry (packed: with wrap counters).
   */
  position(): Required<QueuePosition>;
  /**
   * Resumes at a saved position, on a queue with nothing in flight (a
   * `QueueError` otherwise, or when the position is out of range or puts
   * more than `size` entries between used and available). Entries between
   * `usedIdx` and `availIdx` count as taken by the earlier instance and are
   * not popped again: to have them served again, resume with `usedIdx`
   * equal to `availIdx` at the used position (what QEMU does after a
   * back-end crash). Notifications are enabled afresh at `availIdx`.
   */
  restore(pos: QueuePosition): void;
  /** Internal counters, for debugging. */
  state(): QueueState;
}

/**
 * The device side of the queue at `addrs`, split or packed by `opts.packed`.
 * Throws a `QueueError` when the areas are misaligned or outside memory.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "../memory.ts";
 * import { allocateQueue, createDeviceQueue, createDriverQueue, queueOptionsFromFeatures } from "./mod.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const alloc = new DmaAllocator(0, 1 << 16);
 * const opts = queueOptionsFromFeatures(1n << 34n, 0); // VIRTIO_F_RING_PACKED
 * const addrs = allocateQueue(alloc, 16, opts.packed);
 * const driver = createDriverQueue<number>(mem, addrs, opts);
 * const device = createDeviceQueue(mem, addrs, opts);
 *
 * driver.addSgs([], [{ addr: alloc.alloc(16, 8), len: 16 }], 7);
 * if (!driver.kick()) throw new Error("unreachable"); // notifications are on
 * for (let chain = device.pop(); chain !== null; chain = device.pop()) {
 *   chain.write(0, new TextEncoder().encode("hi"));
 *   device.addUsed(chain, 2);
 * }
 * if (!device.needsNotification()) throw new Error("unreachable");
 * const used = driver.getBuf();
 * if (used?.token !== 7 || used.len !== 2) throw new Error("unreachable");
 * ```
 */
export function createDeviceQueue(
  mem: GuestMemory,
  addrs: QueueAddresses,
  opts: QueueOptions,
): DeviceQueue {
  return opts.packed
    ? new PackedDeviceQueue(mem, addrs, opts)
    : new SplitDeviceQueue(mem, addrs, opts);
}

/**
 * The driver side of the queue at `addrs`, split or packed by `opts.packed`.
 * `alloc` provides indirect tables (without it, buffers use direct
 * descriptors). The areas must be zeroed.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "../memory.ts";
 * import { allocateQueue, createDriverQueue, queueOptionsFromFeatures } from "./mod.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
 * const alloc = new DmaAllocator(0, 1 << 16);
 * const opts = queueOptionsFromFeatures(1n << 28n, 0); // VIRTIO_F_INDIRECT_DESC
 * const addrs = allocateQueue(alloc, 4, false);
 * const q = createDriverQueue<string>(mem, addrs, opts, alloc);
 * const sg = { addr: alloc.alloc(64, 8), len: 64 };
 * q.addSgs([sg, sg], [sg, sg, sg], "five elements, one descriptor");
 * if (q.numFree !== 3) throw new Error("unreachable");
 * ```
 */
export function createDriverQueue<T>(
  mem: GuestMemory,
  addrs: QueueAddresses,
  opts: QueueOptions,
  alloc?: DmaAllocator,
): DriverQueue<T> {
  return opts.packed
    ? new PackedDriverQueue<T>(mem, addrs, opts, alloc)
    : new SplitDriverQueue<T>(mem, addrs, opts, alloc);
}
