/**
 * A worker transport: the device runs in a Web Worker behind a virtio-mmio
 * register file, guest memory is a `SharedArrayBuffer` both sides map, and
 * everything that crosses between them goes through a small shared control
 * block with `Atomics`, as a browser or a JS emulator would do it:
 *
 * - register reads and writes: a one-slot mailbox; the driver posts the
 *   access and blocks in `Atomics.wait` for the reply (reads need a value;
 *   writes are ordered after earlier ones);
 * - kicks (`QueueNotify`): posted, never waited for: a per-queue flag and a
 *   doorbell counter the worker waits on;
 * - interrupts: a counter the worker bumps; the driver side waits with
 *   `Atomics.waitAsync` and runs the MMIO interrupt routine, whose
 *   InterruptStatus read and InterruptACK write touch a shared word of the
 *   control block (the device keeps InterruptStatus there) instead of making
 *   two register round trips; or, with `interruptWait: "blocking"`, the
 *   driver blocks in {@link WorkerBus.waitInterrupt}, which runs the routine
 *   synchronously (no event-loop task, no promise);
 * - a worker whose loop dies says so in the control block (`Ctl.Dead`) and
 *   wakes the driver's blocking waits, which then throw;
 * - after serving, the worker polls the doorbell briefly before sleeping
 *   (`spinMs`), so a streaming driver's next kick costs no wake-up.
 *
 * The driver side is an ordinary {@link MmioTransport} over a
 * {@link WorkerBus}, so drivers and the bus see no difference.
 *
 * `Atomics.wait` blocks the calling thread: in a browser, run the driver
 * side in a worker too (the main thread may not block).
 *
 * @module
 */

import type { ConfigWidth } from "../device.ts";
import { ArgumentError, TransportError } from "../errors.ts";
import { accessOk, checkWrite } from "./_access.ts";
import { AdaptivePoll } from "./_poll.ts";
import { VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING, VirtioMmio } from "../generated/mmio.ts";
import { type MmioTransport, probeMmio } from "./mmio/mod.ts";
import type { InterruptSource, RegisterBus } from "./transport.ts";

/** Indices into the shared control block (an `Int32Array`). */
export const Ctl: {
  /** Requests posted by the driver. */
  readonly ReqSeq: 0;
  /** Requests answered by the worker. */
  readonly RespSeq: 1;
  /** 1 read, 2 write. */
  readonly Op: 2;
  /** Register offset. */
  readonly Offset: 3;
  /** Access width. */
  readonly Width: 4;
  /** Value written, or value read. */
  readonly Value: 5;
  /** Bumped for every request or kick; the worker waits on it. */
  readonly Doorbell: 6;
  /** Bumped for every interrupt; the driver waits on it. */
  readonly Irq: 7;
  /** Set to 1 to stop the worker loop. */
  readonly Stop: 8;
  /** The device's InterruptStatus bits, read and acknowledged by the driver without a round trip. */
  readonly IrqStatus: 9;
  /** The register window's size (0x100 + device config), set by the worker before it is ready. */
  readonly WindowSize: 10;
  /** Set to 1 by the worker when its serving loop failed (the driver side stops waiting). */
  readonly Dead: 11;
  /** First per-queue kick flag. */
  readonly Kicks: 16;
} = Object.freeze({
  ReqSeq: 0,
  RespSeq: 1,
  Op: 2,
  Offset: 3,
  Width: 4,
  Value: 5,
  Doorbell: 6,
  Irq: 7,
  Stop: 8,
  IrqStatus: 9,
  WindowSize: 10,
  Dead: 11,
  Kicks: 16,
});

/** Size of the control block for `queues` queues, in 32-bit words. */
export function controlWords(queues: number): number {
  return Ctl.Kicks + queues;
}

const QUEUE_NOTIFY = VirtioMmio.OFFSETS.queueNotify;
// The same offsets in the legacy (version 1) layout.
const INTERRUPT_STATUS = VirtioMmio.OFFSETS.interruptStatus;
const INTERRUPT_ACK = VirtioMmio.OFFSETS.interruptACK;
const INTERRUPT_BITS = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;

/** What the worker needs to build the device (sent with `postMessage`). */
export interface WorkerDeviceSpec {
  /** URL of the module that exports the device model class. */
  readonly module: string;
  /** Name of the exported class; it is constructed with `args`. */
  readonly exportName: string;
  /** Constructor arguments (structured-cloneable). */
  readonly args?: readonly unknown[];
  /** MMIO register layout version (default 2). */
  readonly version?: 1 | 2;
}

/** Options of {@link spawnWorkerDevice}. */
export interface WorkerDeviceOptions extends WorkerDeviceSpec {
  /** Guest memory shared with the worker. */
  readonly memory: SharedArrayBuffer;
  /** Guest-physical base of `memory` (default 0). */
  readonly memoryBase?: number;
  /** Number of queues the device has (sizes the kick flags; default 8). */
  readonly maxQueues?: number;
  /**
   * How long (ms) the worker keeps polling the doorbell after it served a
   * kick before it sleeps (default 0.05). A driver that streams requests
   * kicks again within that window and saves a sleep and a wake-up; the
   * price is up to that much CPU time per idle period, and as much delay for
   * the worker's own asynchronous work. 0 sleeps at once.
   */
  readonly spinMs?: number;
  /**
   * How long (ms) the driver side watches for the next interrupt, between
   * its own microtasks, before it waits with `Atomics.waitAsync` (default
   * 0.05). Saves the wake-up when the device answers fast; meanwhile timers
   * and I/O callbacks of the driver's thread wait. 0 waits at once.
   */
  readonly irqSpinMs?: number;
  /**
   * The worker sleeps in a blocking `Atomics.wait` instead of
   * `Atomics.waitAsync` (default false). A blocking wait wakes sooner and
   * costs less CPU time (no task through the worker's event loop), but the
   * worker's event loop then runs only when the doorbell rings: only for a
   * device that does all its work inside queue notifications and register
   * accesses (no promises, timers or I/O callbacks of its own, as the null
   * and rng devices), or its completions wait for the driver's next access.
   */
  readonly blockingWait?: boolean;
  /**
   * How the driver side learns of interrupts (default `"async"`):
   *
   * - `"async"`: a loop on the driver's event loop waits with
   *   `Atomics.waitAsync` and runs the interrupt routine as they come;
   * - `"blocking"`: nothing runs by itself; the driver calls
   *   {@link WorkerBus.waitInterrupt}, which blocks the calling thread in
   *   `Atomics.wait` until the device interrupts (or a timeout) and runs the
   *   interrupt routine there, synchronously: no event-loop task and no
   *   promise per interrupt. For a driver with its own I/O loop (a VMM's
   *   vCPU thread, a benchmark, a driver in a worker of its own); in a
   *   browser only off the main thread. A driver that still has work to
   *   submit need not wait at all: it collects used buffers itself
   *   (`getBuf`) and waits only when it has nothing else to do, as Linux's
   *   NAPI drivers do.
   */
  readonly interruptWait?: "async" | "blocking";
}

/** The driver side's view of the worker's register file: a {@link RegisterBus} over the mailbox. */
export class WorkerBus implements RegisterBus, InterruptSource {
  /** The shared control block. */
  readonly ctl: Int32Array;
  readonly #maxQueues: number;
  #handler: ((vector: number) => void) | undefined;
  #closed = false;
  /** See {@link WorkerDeviceOptions.irqSpinMs}. */
  readonly irqSpinMs: number;
  /** See {@link WorkerDeviceOptions.interruptWait}. */
  readonly interruptWait: "async" | "blocking";
  /** The interrupt count the blocking waits have handled up to. */
  #irqSeen: number;

  /** A bus over the control block `ctl` (see {@link Ctl}). */
  constructor(
    ctl: Int32Array,
    maxQueues: number,
    irqSpinMs: number = 0.05,
    interruptWait: "async" | "blocking" = "async",
  ) {
    this.ctl = ctl;
    this.#maxQueues = maxQueues;
    this.irqSpinMs = irqSpinMs;
    this.interruptWait = interruptWait;
    this.#irqSeen = Atomics.load(ctl, Ctl.Irq);
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new TransportError("worker transport is closed", {
        code: "ERR_VIRTIO_TRANSPORT_WORKER_CLOSED",
      });
    }
    if (Atomics.load(this.ctl, Ctl.Dead) !== 0) {
      throw new TransportError("the worker's device loop failed; the worker is gone", {
        code: "ERR_VIRTIO_TRANSPORT_WORKER_DIED",
      });
    }
  }

  #call(op: number, offset: number, width: number, value: number): number {
    // The mailbox carries 32-bit words: check here, not in the worker.
    if (!accessOk(offset, width) || offset > 0x7fffffff || typeof value !== "number") {
      checkWrite(`worker bus ${op === 1 ? "read" : "write"}`, offset, width, value);
      throw new ArgumentError(`worker bus: offset ${offset} is past the register window`, {
        code: "ERR_VIRTIO_ARGUMENT_OFFSET",
      });
    }
    this.#checkOpen();
    const c = this.ctl;
    c[Ctl.Op] = op;
    c[Ctl.Offset] = offset;
    c[Ctl.Width] = width;
    c[Ctl.Value] = value;
    const seq = (Atomics.add(c, Ctl.ReqSeq, 1) + 1) | 0;
    Atomics.add(c, Ctl.Doorbell, 1);
    Atomics.notify(c, Ctl.Doorbell);
    for (;;) {
      const done = Atomics.load(c, Ctl.RespSeq);
      if (done === seq) break;
      // A worker whose loop failed says so (and wakes this wait): no 5 s timeout then.
      this.#checkOpen();
      if (Atomics.wait(c, Ctl.RespSeq, done, 5000) === "timed-out") {
        throw new TransportError(
          `worker did not answer register access at 0x${offset.toString(16)} within 5 s`,
          { code: "ERR_VIRTIO_TRANSPORT_WORKER_TIMEOUT" },
        );
      }
    }
    return c[Ctl.Value] >>> 0;
  }

  /**
   * A register read (blocks until the worker answers). InterruptStatus is
   * read from the shared word the device keeps it in: no round trip.
   */
  read(offset: number, width: ConfigWidth): number {
    if (offset === INTERRUPT_STATUS && width === 4 && !this.#closed) {
      return Atomics.load(this.ctl, Ctl.IrqStatus) >>> 0;
    }
    return this.#call(1, offset, width, 0);
  }

  /**
   * A register write. QueueNotify is posted as a kick and not waited for; an
   * InterruptACK of defined bits clears them in the shared word directly.
   * Anything else (including the writes the device must refuse and log)
   * goes through the mailbox.
   */
  write(offset: number, width: ConfigWidth, value: number): void {
    if (width === 4 && !this.#closed) {
      if (offset === QUEUE_NOTIFY && (value & 0xffff) < this.#maxQueues) {
        const c = this.ctl;
        Atomics.store(c, Ctl.Kicks + (value & 0xffff), 1);
        Atomics.add(c, Ctl.Doorbell, 1);
        Atomics.notify(c, Ctl.Doorbell);
        return;
      }
      if (offset === INTERRUPT_ACK && (value & ~INTERRUPT_BITS) === 0) {
        Atomics.and(this.ctl, Ctl.IrqStatus, ~value);
        return;
      }
    }
    this.#call(2, offset, width, value);
  }

  /** The register window's size, as the worker's device reported it. */
  get size(): number | undefined {
    const s = Atomics.load(this.ctl, Ctl.WindowSize);
    return s > 0 ? s : undefined;
  }

  /**
   * Route interrupts to `handler` (always vector -1: one line). With
   * `interruptWait: "async"` a loop delivers them; with `"blocking"`,
   * {@link WorkerBus.waitInterrupt} does.
   */
  connect(handler: (vector: number) => void): void {
    const first = this.#handler === undefined;
    this.#handler = handler;
    if (first && this.interruptWait === "async") void this.#irqLoop();
  }

  /**
   * Blocking interrupt delivery (`interruptWait: "blocking"` only): when the
   * device raised an interrupt since the last call, run the interrupt
   * routine at once; otherwise block the calling thread in `Atomics.wait`
   * for up to `timeoutMs` (0: just look) and run it if one came. Returns
   * whether the routine ran; false only once `timeoutMs` has passed with no
   * interrupt (a wake-up that brings none, such as a notify arriving after
   * its interrupt was already handled, does not end the wait). Throws a `TransportError` when the transport
   * is closed (`ERR_VIRTIO_TRANSPORT_WORKER_CLOSED`), when the worker's
   * device loop failed (`ERR_VIRTIO_TRANSPORT_WORKER_DIED`), and when the
   * bus delivers interrupts by itself (`ERR_VIRTIO_TRANSPORT_WORKER_MODE`).
   * A worker that stops answering (terminated, stuck) just lets the wait
   * time out: pass a finite `timeoutMs`.
   */
  waitInterrupt(timeoutMs: number): boolean {
    if (this.interruptWait !== "blocking") {
      throw new TransportError(
        'waitInterrupt needs a worker device spawned with interruptWait: "blocking"',
        { code: "ERR_VIRTIO_TRANSPORT_WORKER_MODE" },
      );
    }
    if (!(timeoutMs >= 0)) {
      throw new ArgumentError(`waitInterrupt: timeout ${timeoutMs} is not a duration`, {
        code: "ERR_VIRTIO_ARGUMENT_VALUE",
      });
    }
    this.#checkOpen();
    const c = this.ctl;
    const seen = this.#irqSeen;
    if (Atomics.load(c, Ctl.Irq) === seen) {
      if (timeoutMs === 0) return false;
      // A wake-up is not an interrupt: a notify may be late (the worker bumps
      // the counter, then notifies; this thread may have seen the bump,
      // handled it and gone back to sleep on the new count in between), so
      // the wait goes on until the count moves or the time is up.
      const until = performance.now() + timeoutMs;
      for (;;) {
        Atomics.wait(c, Ctl.Irq, seen, timeoutMs);
        this.#checkOpen();
        if (Atomics.load(c, Ctl.Irq) !== seen) break;
        timeoutMs = until - performance.now();
        if (!(timeoutMs > 0)) return false;
      }
    }
    const now = Atomics.load(c, Ctl.Irq);
    if (now === seen) return false;
    this.#irqSeen = now;
    this.#handler?.(-1);
    return true;
  }

  async #irqLoop(): Promise<void> {
    const c = this.ctl;
    const poll = new AdaptivePoll(this.irqSpinMs);
    let seen = Atomics.load(c, Ctl.Irq);
    while (!this.#closed) {
      const t0 = performance.now();
      if (!(await this.#spin(seen, poll.window))) {
        const r = Atomics.waitAsync(c, Ctl.Irq, seen);
        if (r.async) await r.value;
      }
      poll.observe(performance.now() - t0);
      if (this.#closed) return;
      seen = Atomics.load(c, Ctl.Irq);
      this.#handler?.(-1);
    }
  }

  /**
   * Watches the interrupt counter for up to `ms` (at most `irqSpinMs`, less
   * while waits have been long: see `_poll.ts`), yielding to other
   * microtasks (the driver's next requests) between looks; true when it
   * moved. Cheaper than a `waitAsync` wake-up when the device answers fast.
   */
  async #spin(seen: number, ms: number): Promise<boolean> {
    const c = this.ctl;
    if (Atomics.load(c, Ctl.Irq) !== seen) return true;
    if (ms <= 0) return false;
    const until = performance.now() + ms;
    do {
      await null;
      if (Atomics.load(c, Ctl.Irq) !== seen) return true;
    } while (performance.now() < until && !this.#closed);
    return false;
  }

  /** Stop listening for interrupts. */
  close(): void {
    this.#closed = true;
    Atomics.add(this.ctl, Ctl.Irq, 1);
    Atomics.notify(this.ctl, Ctl.Irq);
  }
}

/** A device running in a worker, and the driver side's way to reach it. */
export class WorkerDevice {
  /** The worker. */
  readonly worker: Worker;
  /** The register bus to the worker's MMIO register file. */
  readonly bus: WorkerBus;

  /** Made by {@link spawnWorkerDevice}. */
  constructor(worker: Worker, bus: WorkerBus) {
    this.worker = worker;
    this.bus = bus;
  }

  /** Probe the worker's MMIO window (magic, version, device id). */
  probe(): MmioTransport | undefined {
    return probeMmio(this.bus);
  }

  /** Stop the worker loop and terminate the worker. */
  terminate(): void {
    const c = this.bus.ctl;
    Atomics.store(c, Ctl.Stop, 1);
    Atomics.add(c, Ctl.Doorbell, 1);
    Atomics.notify(c, Ctl.Doorbell);
    this.bus.close();
    this.worker.terminate();
  }
}

/**
 * Start a worker hosting the device `options.exportName` from
 * `options.module` over the shared guest memory, and wait until it is ready.
 */
export function spawnWorkerDevice(options: WorkerDeviceOptions): Promise<WorkerDevice> {
  const maxQueues = options.maxQueues ?? 8;
  const ctl = new Int32Array(new SharedArrayBuffer(4 * controlWords(maxQueues)));
  const worker = new Worker(new URL("./_worker_host.ts", import.meta.url).href, { type: "module" });
  return new Promise<WorkerDevice>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent) => {
      if (e.data?.ready) {
        worker.onmessage = null;
        const bus = new WorkerBus(
          ctl,
          maxQueues,
          options.irqSpinMs ?? 0.05,
          options.interruptWait ?? "async",
        );
        resolve(new WorkerDevice(worker, bus));
      } else {
        worker.terminate();
        reject(
          new TransportError(`worker device failed to start: ${e.data?.error}`, {
            code: "ERR_VIRTIO_TRANSPORT_WORKER_START",
          }),
        );
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      worker.terminate();
      reject(
        new TransportError(`worker device failed: ${e.message}`, {
          code: "ERR_VIRTIO_TRANSPORT_WORKER_START",
        }),
      );
    };
    const spec: WorkerDeviceSpec & {
      ctl: SharedArrayBuffer;
      memory: SharedArrayBuffer;
      memoryBase: number;
      maxQueues: number;
      spinMs: number;
      blockingWait: boolean;
    } = {
      module: options.module,
      exportName: options.exportName,
      args: options.args ?? [],
      version: options.version ?? 2,
      ctl: ctl.buffer as SharedArrayBuffer,
      memory: options.memory,
      memoryBase: options.memoryBase ?? 0,
      maxQueues,
      spinMs: options.spinMs ?? 0.05,
      blockingWait: options.blockingWait ?? false,
    };
    worker.postMessage(spec);
  });
}
