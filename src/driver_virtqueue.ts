/**
 * One virtqueue as a driver uses it ({@link Virtqueue}, Linux's
 * `struct virtqueue`): add buffers, kick, collect used buffers, requests
 * that complete by themselves, and the error codes a broken queue's work
 * fails with. {@link DriverDevice.findVqs} makes them; `src/driver.ts`
 * re-exports this module.
 *
 * @module
 */

import type { DriverDevice, VqInfo } from "./driver.ts";
import { ArgumentError, DeviceError } from "./errors.ts";
import { vqHooks } from "./_virtqueue_hooks.ts";
import type { DriverQueue, Sg, UsedBufferSlot } from "./virtqueue/queue.ts";

/** Code of the error a request fails with when its device was reset. */
export const ERR_VIRTIO_DEVICE_RESET = "ERR_VIRTIO_DEVICE_RESET";
/** Code of the error a request fails with when its device was removed or its driver unbound. */
export const ERR_VIRTIO_DEVICE_REMOVED = "ERR_VIRTIO_DEVICE_REMOVED";
/** Code of the error a request fails with when its device set DEVICE_NEEDS_RESET (spec 2.1.2). */
export const ERR_VIRTIO_DEVICE_NEEDS_RESET = "ERR_VIRTIO_DEVICE_NEEDS_RESET";
/** Code of the error for a queue used after {@link DriverDevice.delVqs} deleted it. */
export const ERR_VIRTIO_DEVICE_QUEUE_DELETED = "ERR_VIRTIO_DEVICE_QUEUE_DELETED";

/**
 * How a request given to {@link Virtqueue.submit} ends. Made by the driver,
 * often once per slot and reused, so a request allocates nothing.
 */
export interface Completion {
  /** The device used the buffers and wrote `len` bytes into the device-writable part. */
  complete(len: number): void;
  /**
   * The request will never complete: the queue broke (device reset,
   * removed, or DEVICE_NEEDS_RESET). Called once. The buffers may still be
   * in the ring: free them in {@link Completion.reclaim}, not here.
   */
  fail(error: DeviceError): void;
  /**
   * After {@link Completion.fail}: the buffers are back with the driver
   * (the device was reset and the queue deleted) and may be freed.
   */
  reclaim?(): void;
}

/** A submitted request's completion as the engine holds it: see `Virtqueue.#cells`. */
interface PendingCell {
  /** The completion (undefined once it completed or was reclaimed). */
  c: Completion | undefined;
  /** Its index among the live cells, or -1 when not pending. */
  at: number;
  /** Submission order, for failing pending requests in that order. */
  seq: number;
}

/** The completion a request queue's token stands for, typed as the queue's token. */
function tokenOf<T>(token: T): T {
  return (token as unknown as PendingCell).c as unknown as T;
}

/** Token of a {@link Virtqueue.request}: a bounce buffer in DMA memory and the promise to settle. */
class BounceRequest implements Completion {
  addr = -1;
  constructor(
    readonly vq: Virtqueue<unknown>,
    readonly out: Uint8Array,
    readonly inLen: number,
    readonly resolve: (bytes: Uint8Array) => void,
    readonly reject: (e: DeviceError) => void,
  ) {}

  complete(len: number): void {
    const { memory, dma } = this.vq.dev.dmaContext;
    const got = memory.bytes(this.addr + this.out.length, Math.min(len, this.inLen)).slice();
    dma.free(this.addr);
    this.resolve(got);
  }

  fail(error: DeviceError): void {
    this.reject(error);
  }

  reclaim(): void {
    this.vq.dev.dmaContext.dma.free(this.addr);
  }
}

/**
 * One virtqueue as a driver uses it: add buffers, kick, collect used
 * buffers, control callbacks. Wraps the engine's `DriverQueue`.
 *
 * A queue is used in one of two ways. With a {@link VqInfo.callback}, the
 * driver adds buffers with tokens of its own ({@link Virtqueue.addSgs}) and
 * collects them in the callback with {@link Virtqueue.getBuf}. Without one,
 * it is a request queue: {@link Virtqueue.request} (bytes in, bytes out,
 * through a bounce buffer) and {@link Virtqueue.submit} (the driver's own
 * buffers and a {@link Completion}) complete by themselves when the device
 * uses the buffers.
 *
 * Either way the queue fails fast: once it is broken (the device was reset,
 * removed, or set DEVICE_NEEDS_RESET; see {@link DriverDevice.breakQueues}),
 * pending requests fail with a {@link DeviceError} whose code says which,
 * and adding buffers or kicking throws one.
 *
 * @example A request queue: bytes out, the device's bytes back
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "./bus.ts";
 * import type { Virtqueue } from "./driver.ts";
 * import { DeviceError } from "./errors.ts";
 * import { DmaAllocator, GuestMemory } from "./memory.ts";
 * import { NullDevice } from "./devices/null/device.ts";
 * import { MmioDevice, probeMmio } from "./transport/mmio/mod.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * let vq: Virtqueue | undefined;
 * await bus.registerDriver({
 *   name: "demo",
 *   idTable: [{ device: NullDevice.DEVICE_ID }],
 *   featureTable: [],
 *   probe(dev) {
 *     [vq] = dev.findVqs([{ name: "requests" }]); // no callback: a request queue
 *   },
 *   remove(dev) {
 *     dev.reset();
 *     dev.delVqs();
 *   },
 * });
 * const model = new NullDevice({ writeLen: 4 });
 * const dev = await bus.addDevice(probeMmio(new MmioDevice(model, memory))!);
 * const reply = await vq!.request(new Uint8Array([1, 2]), 8); // 2 bytes out, room for 8 back
 * assert.equal(reply.length, 4); // the null device reports 4 bytes written
 *
 * model.hold = true; // the device keeps the next request...
 * const pending = vq!.request(new Uint8Array([3]), 8);
 * dev.reset(); // ...and is reset: the request fails at once
 * await assert.rejects(pending, (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET");
 * assert.throws(() => vq!.kick(), DeviceError); // and the queue refuses new work
 * await bus.removeDevice(dev);
 * ```
 */
export class Virtqueue<T = unknown> {
  /** The owning device. */
  readonly dev: DriverDevice;
  /** Queue index. */
  readonly index: number;
  /** The name given in {@link VqInfo}. */
  readonly name: string;
  /** The engine queue. */
  readonly queue: DriverQueue<T>;
  readonly #callback: ((vq: Virtqueue<T>) => void) | undefined;
  readonly #onBroken: ((vq: Virtqueue<T>, error: DeviceError) => void) | undefined;
  readonly #free: () => void;
  #cbEnabled = true;
  #error: DeviceError | undefined;
  #released = false;
  /**
   * Completions of {@link Virtqueue.submit} the device still holds: each in
   * a cell, the engine's token for the request, at `cells[0..#live)`; the
   * cells after them are free for reuse. A cell knows its index, so taking
   * one back is a swap with the last live one (a `Set` allocated a new
   * table every few requests as it grew and shrank by one).
   */
  #cells: PendingCell[] = [];
  #live = 0;
  #seq = 0;
  /** Requests of {@link Virtqueue.request} waiting for descriptors or DMA memory, in order. */
  readonly #waiting: BounceRequest[] = [];
  #pumpScheduled = false;
  /** Where {@link Virtqueue.interrupt} collects used requests (no object per request). */
  readonly #slot: UsedBufferSlot<T> = { token: undefined, len: 0 };
  /** 0 unused yet, 1 buffers with tokens ({@link Virtqueue.addSgs}), 2 requests ({@link Virtqueue.submit}). */
  #mode = 0;

  static {
    vqHooks.markBroken = (vq, error) => vq.#markBroken(error);
    vqHooks.drain = (vq) => vq.#drain();
    vqHooks.release = (vq) => vq.#release();
  }

  /** Made by {@link DriverDevice.findVqs}. */
  constructor(
    dev: DriverDevice,
    index: number,
    info: VqInfo<T>,
    queue: DriverQueue<T>,
    free: () => void,
  ) {
    this.dev = dev;
    this.index = index;
    this.name = info.name;
    this.queue = queue;
    this.#callback = info.callback;
    this.#onBroken = info.onBroken;
    this.#free = free;
  }

  /** Queue size. */
  get size(): number {
    return this.queue.size;
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.queue.numFree;
  }

  /** True once the queue is broken (device reset, removed, needs reset) or deleted: every add is refused. */
  get broken(): boolean {
    return this.#error !== undefined;
  }

  /** Why the queue is broken, or `undefined` while it works. */
  get brokenError(): DeviceError | undefined {
    return this.#error;
  }

  #check(): void {
    const e = this.#error;
    if (e !== undefined) {
      throw new DeviceError(`${e.message}: queue ${this.index} (${this.name}) is broken`, {
        code: e.code,
      });
    }
  }

  /** Expose a buffer: `out` device-readable, `in_` device-writable parts, `token` handed back later. */
  addSgs(out: readonly Sg[], in_: readonly Sg[], token: T): void {
    this.#check();
    if (this.#mode !== 1) this.#setMode(1);
    this.queue.addSgs(out, in_, token);
  }

  #setMode(mode: number): void {
    if (this.#mode !== 0) {
      throw new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) already carries ${
          this.#mode === 1 ? "buffers with tokens (addSgs)" : "requests (submit/request)"
        }; one queue takes one kind`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_MIXED" },
      );
    }
    this.#mode = mode;
  }

  /** Expose a device-readable buffer. */
  addOutbuf(sg: Sg, token: T): void {
    this.addSgs([sg], [], token);
  }

  /** Expose a device-writable buffer. */
  addInbuf(sg: Sg, token: T): void {
    this.addSgs([], [sg], token);
  }

  /**
   * Expose the driver's own buffers as one request on a queue without a
   * callback; `completion` learns how it ends. Throws like
   * {@link Virtqueue.addSgs} (a full queue, a broken one); does not kick.
   * Allocates nothing: make completions once and reuse them.
   */
  submit(out: readonly Sg[], in_: readonly Sg[], completion: Completion): void {
    this.#check();
    if (this.#callback !== undefined) {
      throw new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) has a callback; submit and request need a queue without one`,
        { code: "ERR_VIRTIO_DEVICE_QUEUE_HAS_CALLBACK" },
      );
    }
    if (this.#mode !== 2) this.#setMode(2);
    // A request queue's tokens are all cells; the cast stays inside this class.
    const live = this.#live;
    const cell = this.#cells[live] ?? { c: undefined, at: -1, seq: 0 };
    this.queue.addSgs(out, in_, cell as unknown as T);
    if (live === this.#cells.length) this.#cells.push(cell);
    cell.c = completion;
    cell.at = live;
    cell.seq = this.#seq++;
    this.#live = live + 1;
  }

  /** Takes `cell` out of the live ones; returns whether it was live (its completion still pending). */
  #settle(cell: PendingCell): boolean {
    const at = cell.at;
    if (at < 0) return false;
    const last = --this.#live;
    const cells = this.#cells;
    if (at !== last) {
      const moved = cells[last];
      cells[at] = moved;
      moved.at = at;
      cells[last] = cell;
    }
    cell.at = -1;
    return true;
  }

  /**
   * One request through a bounce buffer: `out` is copied into DMA memory as
   * the device-readable part, `inLen` device-writable bytes follow, and the
   * promise resolves with a copy of the bytes the device wrote (its used
   * length, at most `inLen`). Kicks. When the ring or DMA memory is full the
   * request waits, in order, for earlier ones to complete. Rejects with a
   * {@link DeviceError} when the queue is or becomes broken.
   */
  request(out: Uint8Array, inLen: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(inLen) || inLen < 0 || out.length + inLen === 0) {
      return Promise.reject(
        new ArgumentError(
          `${this.dev.name}: request of ${out.length} bytes out and ${inLen} in: need a non-negative integer inLen and at least one byte`,
          { code: "ERR_VIRTIO_ARGUMENT_REQUEST_LENGTH" },
        ),
      );
    }
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const r = new BounceRequest(this as Virtqueue<unknown>, out, inLen, resolve, reject);
      if (this.#waiting.length > 0 || !this.#start(r)) this.#waiting.push(r);
    });
  }

  /** Place `r` in the ring; false when it must wait for room. */
  #start(r: BounceRequest): boolean {
    const nOut = r.out.length > 0 ? 1 : 0;
    const nIn = r.inLen > 0 ? 1 : 0;
    const { memory, dma } = this.dev.dmaContext;
    let addr = -1;
    if (this.queue.canAdd(nOut, nIn)) addr = dma.tryAlloc(r.out.length + r.inLen, 8);
    if (addr < 0) {
      if (this.#live > 0) return false;
      // Nothing in flight will ever make room.
      r.reject(
        new DeviceError(
          `${this.dev.name}: queue ${this.index} (${this.name}): a request of ${r.out.length} + ${r.inLen} bytes never fits (ring or DMA memory too small)`,
          { code: "ERR_VIRTIO_DEVICE_REQUEST_TOO_BIG" },
        ),
      );
      return true;
    }
    r.addr = addr;
    if (nOut) memory.write(addr, r.out);
    try {
      this.submit(
        nOut ? [{ addr, len: r.out.length }] : [],
        nIn ? [{ addr: addr + r.out.length, len: r.inLen }] : [],
        r,
      );
    } catch (e) {
      dma.free(addr); // never reached the ring
      throw e;
    }
    this.kick();
    return true;
  }

  #pump(): void {
    this.#pumpScheduled = false;
    while (this.#waiting.length > 0 && this.#error === undefined) {
      const r = this.#waiting[0];
      try {
        if (!this.#start(r)) return;
      } catch (e) {
        // Refused (the queue was given buffers with tokens meanwhile, say): this request fails.
        r.reject(e instanceof DeviceError ? e : new DeviceError(String(e), { cause: e }));
      }
      this.#waiting.shift();
    }
  }

  /** Publish added buffers and return whether the device needs a notification. */
  kickPrepare(): boolean {
    this.#check();
    return this.queue.kick();
  }

  /** Notify the device. */
  notify(): void {
    this.#check();
    this.dev.transport.notify(this.index);
  }

  /** Publish added buffers and notify the device if it asked for it. Returns whether it notified. */
  kick(): boolean {
    if (this.kickPrepare()) {
      this.notify();
      return true;
    }
    return false;
  }

  /** The next used buffer: its token and the bytes the device wrote; `null` when none or broken. */
  getBuf(): { token: T; len: number } | null {
    if (this.#error !== undefined) return null;
    const b = this.queue.getBuf();
    // A request's completion, as the token it stood for (it stays pending).
    if (b !== null && this.#mode === 2) return { token: tokenOf<T>(b.token), len: b.len };
    return b;
  }

  /** Ask the device not to interrupt for this queue (a hint) and stop callbacks. */
  disableCb(): void {
    this.#cbEnabled = false;
    this.queue.disableCb();
  }

  /** Re-enable callbacks; false if buffers arrived meanwhile (then poll again). */
  enableCb(): boolean {
    this.#cbEnabled = true;
    return this.queue.enableCb();
  }

  /** Re-enable callbacks after most outstanding buffers are used (EVENT_IDX); false as {@link Virtqueue.enableCb}. */
  enableCbDelayed(): boolean {
    this.#cbEnabled = true;
    return this.queue.enableCbDelayed();
  }

  /** Take back a buffer the device never used (only once the device is reset). */
  detachUnusedBuf(): T | null {
    const t = this.queue.detachUnusedBuf();
    return t !== null && this.#mode === 2 ? tokenOf<T>(t) : t;
  }

  /**
   * Interrupt entry (Linux `vring_interrupt`): run the callback if enabled
   * and buffers are used; on a request queue, complete the used requests.
   */
  interrupt(): void {
    if (this.#error !== undefined || !this.#cbEnabled) return;
    if (this.#mode === 2) {
      if (this.#live > 0) this.#collect();
      return;
    }
    if (this.#callback === undefined) return;
    if (!this.queue.hasUsed()) return;
    // No re-arming here: while callbacks are on, the queue's getBuf moves
    // used_event (or the packed descriptor event) as Linux's does.
    this.#callback(this);
  }

  /** Completes every used request of a request queue, then starts waiting ones. */
  #collect(): void {
    const q = this.queue;
    const slot = this.#slot;
    while (q.getBufInto(slot)) {
      const cell = slot.token as unknown as PendingCell;
      slot.token = undefined; // the slot holds no completion past its turn
      const c = cell.c as Completion;
      if (this.#settle(cell)) {
        cell.c = undefined;
        c.complete(slot.len);
      } else c.reclaim?.();
    }
    if (this.#waiting.length > 0 && !this.#pumpScheduled) {
      // Not from inside the interrupt: a kick there could re-enter the device.
      this.#pumpScheduled = true;
      queueMicrotask(() => this.#pump());
    }
  }

  /**
   * Break the queue with `error` (see {@link DriverDevice.breakQueues}):
   * waiting and pending requests fail with it, and every later add or kick
   * throws a {@link DeviceError} with its code. Buffers stay in the ring
   * until #drain. Only the first error counts.
   */
  #markBroken(error: DeviceError): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    for (const r of this.#waiting.splice(0)) r.fail(error);
    if (this.#live > 0) {
      // In the order they were submitted, as before.
      const cells = this.#cells.slice(0, this.#live).sort((a, b) => a.seq - b.seq);
      // Still in the ring (the device may not be reset yet): failed now, reclaimed in #drain().
      // Their cells stay the ring's tokens (not reused): fresh cells from here on.
      this.#cells = [];
      this.#live = 0;
      for (const cell of cells) cell.at = -1;
      for (const cell of cells) (cell.c as Completion).fail(error);
    }
    this.#onBroken?.(this, error);
  }

  /**
   * Every outstanding token, used ones first, then unused (only once the
   * device is reset). Requests of a request queue are not returned: those
   * still pending fail and each is reclaimed ({@link Completion.reclaim}).
   */
  #drain(): T[] {
    const out: T[] = [];
    const requests = this.#mode === 2;
    const reclaimed: PendingCell[] = [];
    for (let b = this.queue.getBuf(); b !== null; b = this.queue.getBuf()) {
      if (requests) reclaimed.push(b.token as unknown as PendingCell);
      else out.push(b.token);
    }
    for (let t = this.queue.detachUnusedBuf(); t !== null; t = this.queue.detachUnusedBuf()) {
      if (requests) reclaimed.push(t as unknown as PendingCell);
      else out.push(t);
    }
    if (reclaimed.length > 0) {
      const err = this.#error ?? new DeviceError(
        `${this.dev.name}: queue ${this.index} (${this.name}) was deleted`,
        { code: ERR_VIRTIO_DEVICE_QUEUE_DELETED },
      );
      for (const cell of reclaimed) {
        const c = cell.c as Completion;
        cell.c = undefined;
        if (this.#settle(cell)) c.fail(err);
        c.reclaim?.();
      }
    }
    return out;
  }

  /** Mark broken (`ERR_VIRTIO_DEVICE_QUEUE_DELETED` unless broken already) and free the ring memory. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#markBroken(
      new DeviceError(`${this.dev.name}: queue ${this.index} (${this.name}) was deleted`, {
        code: ERR_VIRTIO_DEVICE_QUEUE_DELETED,
      }),
    );
    this.#free();
  }
}
