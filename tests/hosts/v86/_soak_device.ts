/**
 * The v86 soak's disk (issue 18): a {@link BlkDevice} on an image file with
 * the faults an in-process device can meet, for tests/hosts/v86/_soak_host.ts.
 *
 * - Storage: {@link LatencyStorage} (every request completes 0 to 3 ms later,
 *   out of order, from a timer: the asynchronous path of the device and of
 *   the host's interrupt line) over a {@link FaultStorage} (ENOSPC and EIO
 *   windows) over a {@link FileStorage} on the image.
 * - Notifications: {@link SoakDisk} sits between the transport and the
 *   device model and passes every kick (`queueNotify`) and every used-buffer
 *   notification (`notifyUsed`) through a {@link RandomNotifyFaults}, which
 *   drops (a watchdog delivers late) or delays them.
 * - Restart: {@link SoakDisk.restart} replaces the device model and its
 *   storage (a new `BlkDevice`, a new file handle) and builds new device-side
 *   queues at the saved ring positions, while the guest keeps running; see
 *   the method for what that is an analogue of, and of what not.
 *
 * @module
 */

import type { ConfigWidth, DeviceContext, VirtioDevice } from "../../../src/device.ts";
import {
  BlkDevice,
  type BlkStats,
  type BlockStorage,
  FileStorage,
} from "../../../src/devices/blk/mod.ts";
import { createDeviceQueue, type DeviceQueue } from "../../../src/virtqueue/mod.ts";
import { FaultStorage, type Refusals, type StorageFault } from "../../interop/_soak_faults.ts";
import type { RandomNotifyFaults } from "../../interop/_soak_faults.ts";

/**
 * Storage whose every request runs 0 to `maxMs` ms after it was made, from a
 * timer (so completions come out of order and outside any register access),
 * and whose result comes as a promise. An error of the inner storage
 * rejects the promise.
 */
export class LatencyStorage implements BlockStorage {
  readonly isAsync = true;
  readonly #inner: BlockStorage;
  readonly #random: () => number;
  readonly #maxMs: number;
  /** Requests made and not yet settled. */
  pending = 0;

  constructor(inner: BlockStorage, random: () => number, maxMs = 3) {
    this.#inner = inner;
    this.#random = random;
    this.#maxMs = maxMs;
  }

  get size(): number {
    return this.#inner.size;
  }

  #later(op: () => unknown): Promise<void> {
    this.pending++;
    return new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        try {
          Promise.resolve(op()).then(() => resolve(), reject);
        } catch (e) {
          reject(e);
        }
      }, Math.floor(this.#random() * (this.#maxMs + 1)));
    }).finally(() => this.pending--);
  }

  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.#later(() => this.#inner.read(offset, dst));
  }

  write(offset: number, src: Uint8Array): Promise<void> {
    return this.#later(() => this.#inner.write(offset, src));
  }

  flush(): Promise<void> {
    return this.#later(() => this.#inner.flush());
  }
}

/** Totals of a {@link SoakDisk} over every device model it had. */
export interface SoakDiskStats {
  /** Requests the device models completed, by kind (summed over restarts). */
  readonly device: BlkStats;
  /** Requests the storage refused, by kind (summed over restarts). */
  readonly refused: Refusals;
  /** Device model restarts. */
  readonly restarts: number;
}

/** One generation of a disk's device model and storage. */
interface Instance {
  readonly device: BlkDevice;
  readonly faults: FaultStorage;
  readonly latency: LatencyStorage;
  readonly file: FileStorage;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A virtio-blk device for the soak: the transport hosts this object, which
 * passes everything to the current {@link BlkDevice}, with the notification
 * faults on the way and a device model that can be replaced
 * ({@link SoakDisk.restart}).
 */
export class SoakDisk implements VirtioDevice {
  readonly deviceId: number;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize: number;
  readonly #image: string;
  readonly #random: () => number;
  readonly #notify: RandomNotifyFaults;
  #now: Instance;
  #fault: StorageFault | undefined;
  /** The transport's context while the driver has the device live. */
  #outer: DeviceContext | undefined;
  /** The queues the current device model serves. */
  #queues: (DeviceQueue | undefined)[] = [];
  #restarting = false;
  #generationBase = 0;
  readonly #retired: { device: BlkStats; refused: Refusals } = {
    device: { reads: 0, writes: 0, flushes: 0, discards: 0, writeZeroes: 0, other: 0, errors: 0 },
    refused: { reads: 0, writes: 0, flushes: 0 },
  };
  #restarts = 0;

  /** A disk on `image`; `random` draws latencies, `notify` decides the notifications' fates. */
  constructor(image: string, random: () => number, notify: RandomNotifyFaults) {
    this.#image = image;
    this.#random = random;
    this.#notify = notify;
    this.#now = this.#instance();
    this.deviceId = this.#now.device.deviceId;
    this.features = this.#now.device.features;
    this.queueMaxSizes = this.#now.device.queueMaxSizes;
    this.configSize = this.#now.device.configSize;
    // The watchdog's late delivery goes around the injector, to the current model.
    notify.attach((kind, index) => {
      if (kind === "kick") this.#kick(index);
      else this.#outer?.notifyUsed(index);
    });
  }

  #instance(): Instance {
    const file = new FileStorage(this.#image);
    const faults = new FaultStorage(file, `image ${this.#image}`);
    faults.fault = this.#fault;
    const latency = new LatencyStorage(faults, this.#random);
    return { device: new BlkDevice({ storage: latency, queueSize: 256 }), faults, latency, file };
  }

  /** Sets or clears the storage fault (it lasts across restarts). */
  setFault(fault: StorageFault | undefined): void {
    this.#fault = fault;
    this.#now.faults.fault = fault;
  }

  /** What every device model of this disk did. */
  stats(): SoakDiskStats {
    const device = { ...this.#retired.device };
    const refused = { ...this.#retired.refused };
    for (const k of Object.keys(device) as (keyof BlkStats)[]) {
      device[k] += this.#now.device.stats[k];
    }
    for (const k of Object.keys(refused) as (keyof Refusals)[]) {
      refused[k] += this.#now.faults.refused[k];
    }
    return { device, refused, restarts: this.#restarts };
  }

  get configGeneration(): number {
    return (this.#generationBase + this.#now.device.configGeneration) >>> 0;
  }

  readConfig(offset: number, width: ConfigWidth): number {
    return this.#now.device.readConfig(offset, width);
  }

  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    this.#now.device.writeConfig(offset, width, value);
  }

  activate(ctx: DeviceContext): void {
    this.#outer = ctx;
    this.#queues = [...ctx.queues];
    this.#now.device.activate(this.#inner(ctx, this.#queues));
  }

  queueNotify(index: number): void {
    const fate = this.#notify.kick(index);
    if (fate === "deliver") this.#kick(index);
    else if (typeof fate === "number") setTimeout(() => this.#kick(index), fate);
    // "drop": the injector's watchdog delivers it later
  }

  inProgress(index: number): number {
    return this.#now.device.inProgress(index);
  }

  reset(): void {
    this.#outer = undefined;
    this.#queues = [];
    this.#now.device.reset();
  }

  #kick(index: number): void {
    // During a restart the new model rescans every queue once it is live.
    if (this.#outer === undefined || this.#restarting) return;
    this.#now.device.queueNotify(index);
  }

  /** The context the device model sees: the transport's, with the call faults in between. */
  #inner(outer: DeviceContext, queues: (DeviceQueue | undefined)[]): DeviceContext {
    const notify = this.#notify;
    return {
      memory: outer.memory,
      features: outer.features,
      queues,
      notifyUsed(index: number): void {
        const fate = notify.call(index);
        if (fate === "deliver") outer.notifyUsed(index);
        else if (typeof fate === "number") setTimeout(() => outer.notifyUsed(index), fate);
      },
      configChanged: () => outer.configChanged(),
      needsReset: (reason) => outer.needsReset(reason),
      queueAddresses: (index) => outer.queueAddresses?.(index),
    };
  }

  /**
   * Replaces the device model while the guest runs: no new request is taken
   * (kicks are held), the old model's requests in flight are waited for
   * (the drain of a stop, as a vhost-user front-end's GET_VRING_BASE
   * waits), each queue's position is saved, the old model is reset and its
   * file closed; then a new `BlkDevice` on a newly opened file gets new
   * device-side queues built from the ring addresses the transport holds,
   * resumed at the saved positions (SET_VRING_BASE's part), and every queue
   * is rescanned for requests made meanwhile. Nothing of the old model's
   * objects carries over but the positions and the fault in force.
   *
   * This is a stop and start, not a crash: the device model runs in the
   * emulator's own process, so there is no process to kill without killing
   * the guest, and abandoning a model with requests in flight would need
   * the inflight tracking only the vhost-user path has (the QEMU soak kills
   * its back-end for real). Returns the drain's length in ms.
   */
  async restart(): Promise<number> {
    const outer = this.#outer;
    const old = this.#now;
    const started = Date.now();
    this.#restarting = true;
    try {
      while (old.latency.pending > 0 || this.#queues.some((_, i) => old.device.inProgress(i) > 0)) {
        await sleep(1);
      }
      const positions = this.#queues.map((q) => q?.position());
      const options = this.#queues.map((q) => q?.options);
      old.device.reset();
      old.file.close();
      for (const k of Object.keys(this.#retired.device) as (keyof BlkStats)[]) {
        this.#retired.device[k] += old.device.stats[k];
      }
      for (const k of Object.keys(this.#retired.refused) as (keyof Refusals)[]) {
        this.#retired.refused[k] += old.faults.refused[k];
      }
      this.#generationBase += old.device.configGeneration;
      this.#now = this.#instance();
      this.#restarts++;
      const live = this.#outer;
      if (live === undefined) return Date.now() - started; // reset: activated afresh later
      if (outer === undefined || live !== outer) {
        // Reset and activated again while we drained: start the new model on that context.
        this.#queues = [...live.queues];
        this.#now.device.activate(this.#inner(live, this.#queues));
        return Date.now() - started;
      }
      const queues = positions.map((pos, i) => {
        const addrs = outer.queueAddresses?.(i);
        const opts = options[i];
        if (pos === undefined || addrs === undefined || opts === undefined) return undefined;
        const q = createDeviceQueue(outer.memory, addrs, opts);
        q.restore(pos);
        return q;
      });
      this.#queues = queues;
      this.#now.device.activate(this.#inner(outer, queues));
    } finally {
      this.#restarting = false;
    }
    for (let i = 0; i < this.#queues.length; i++) {
      if (this.#queues[i] !== undefined) this.#now.device.queueNotify(i);
    }
    return Date.now() - started;
  }

  /** Closes the file (after the guest stopped). */
  close(): void {
    this.#now.device.reset();
    this.#now.file.close();
  }
}
