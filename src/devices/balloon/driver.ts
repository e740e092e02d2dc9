/**
 * The virtio-balloon driver (spec 5.5, driver side): a {@link VirtioDriver}
 * for the bus, and {@link Balloon}, which moves pages of the bus's
 * {@link DmaAllocator} into and out of the balloon. Inflating takes 4 KiB
 * pages out of the allocator and gives their page frame numbers to the
 * device; deflating tells the device (and, with `MUST_TELL_HOST`, waits for
 * its acknowledgement) and gives the pages back to the allocator, filled
 * with `poison_val` when `PAGE_POISON` was negotiated.
 *
 * By default the balloon follows `num_pages` on every configuration change,
 * keeps a statistics buffer in the statsq (refilled each time the device
 * asks), answers free page hinting rounds with pages it holds until the
 * device says DONE, and can report free pages on demand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { BalloonDevice } from "./device.ts";
 * import { balloonDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const dma = new DmaAllocator(0x1000, (1 << 20) - 0x1000);
 * const bus = new VirtioBus({ memory, dma });
 * const device = new BalloonDevice({ packed: false }); // split rings
 * const driver = balloonDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probeMmio(new MmioDevice(device, memory))!);
 * const balloon = await driver.nextBalloon();
 *
 * device.setTarget(16); // the host wants 64 KiB back
 * await balloon.settled();
 * assert.equal(device.pages.size, 16);
 * assert.equal(device.actual, 16);
 * ```
 *
 * @module
 */

import {
  type DriverDevice,
  ERR_VIRTIO_DEVICE_REMOVED,
  type VirtioDriver,
  type Virtqueue,
} from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_BALLOON } from "../../generated/common.ts";
import {
  VIRTIO_BALLOON_CMD_ID_DONE,
  VIRTIO_BALLOON_CMD_ID_STOP,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_FREE_PAGE_HINT,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_PAGE_POISON,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
  VIRTIO_BALLOON_S_AVAIL,
  VIRTIO_BALLOON_S_MEMFREE,
  VIRTIO_BALLOON_S_MEMTOT,
  VirtioBalloonConfig,
  VirtioBalloonStat,
} from "../../generated/devices/balloon.ts";
import type { Sg } from "../../virtqueue/mod.ts";
import { Arrivals } from "../_arrivals.ts";
import {
  BALLOON_PAGE_SIZE,
  BALLOON_PFN_BYTES as PFN_BYTES,
  BALLOON_STAT_SIZE,
  type BalloonQueueRole,
  balloonQueueRoles,
} from "./device.ts";

/** Most page frame numbers in one inflate or deflate buffer (as Linux). */
export const BALLOON_ARRAY_PFNS_MAX = 256;

const CFG = VirtioBalloonConfig.OFFSETS;

/** Options of {@link balloonDriver}. */
export interface BalloonDriverOptions {
  /** Queue size to ask for (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Follow `num_pages` on configuration changes (default true). */
  readonly auto?: boolean;
  /** Statistics to report, by tag (default: MEMTOT, MEMFREE, AVAIL from the allocator). */
  readonly stats?: () => ReadonlyMap<number, bigint>;
  /**
   * The value deflated and reported pages are filled with. Given, the driver
   * accepts `VIRTIO_BALLOON_F_PAGE_POISON` and writes it to `poison_val`;
   * absent, it refuses the feature (5.5.3.1).
   */
  readonly poison?: number;
  /** Most pages given for one free page hinting round (default 64). */
  readonly hintPages?: number;
  /** Feature bits to refuse. */
  readonly refuseFeatures?: readonly number[];
}

/** What the balloon driver keeps per buffer (the queue token). */
export interface BalloonToken {
  /** Called with the used length (-1 when the device went away). */
  resolve: (len: number) => void;
  /** DMA allocations to free once the buffer is used. */
  free: number[];
}

/** One balloon device as the driver sees it. */
export class Balloon {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** Queues by role (only the negotiated ones). */
  readonly queues: Partial<Record<BalloonQueueRole, Virtqueue<BalloonToken>>>;
  /** Guest addresses of the pages in the balloon (acknowledged by the device). */
  readonly pages: number[] = [];
  /** Guest addresses of pages given to the current hinting rounds (held until DONE). */
  readonly hintedPages: number[] = [];
  /** Stats buffers the device took back (requests for fresh statistics). */
  get statsRequests(): number {
    return this.#statsRequests;
  }
  #statsRequests = 0;
  readonly #options: BalloonDriverOptions;
  #lock: Promise<unknown> = Promise.resolve();
  #lastCmdId = -1;
  #statsAddr = -1;
  #statsCount = 0;
  #dead = false;

  /** Set up by the driver's probe (before DRIVER_OK). */
  constructor(dev: DriverDevice, options: BalloonDriverOptions) {
    this.dev = dev;
    this.#options = options;
    const roles = balloonQueueRoles(dev.features);
    const vqs = dev.findVqs<BalloonToken>(roles.map((role) => ({
      name: role,
      size: options.queueSize,
      // The stats queue keeps its one buffer; the others are request queues (submit).
      callback: role === "stats" ? (vq: Virtqueue<BalloonToken>) => this.#statsUsed(vq) : undefined,
    })));
    this.queues = {};
    roles.forEach((r, i) => this.queues[r] = vqs[i]);
    // 5.5.6.6.1: poison_val before DRIVER_OK.
    if (dev.hasFeature(VIRTIO_BALLOON_F_PAGE_POISON)) {
      dev.writeConfig(CFG.poisonVal, 4, (options.poison ?? 0) >>> 0);
    }
    // 5.5.5: one buffer in the statsq during initialization, notified after DRIVER_OK.
    const sq = this.queues.stats;
    if (sq !== undefined) {
      this.#statsCount = this.#collectStats().size;
      this.#statsAddr = dev.dmaContext.dma.alloc(
        Math.max(1, this.#statsCount) * BALLOON_STAT_SIZE,
        8,
      );
      this.#fillStats();
      sq.addOutbuf({ addr: this.#statsAddr, len: this.#statsCount * BALLOON_STAT_SIZE }, {
        resolve: () => {},
        free: [],
      });
    }
  }

  /** Called by the driver after DRIVER_OK. */
  start(): void {
    this.queues.stats?.kick();
    this.configChanged();
  }

  /** `num_pages`: what the device asks for. */
  get target(): number {
    return this.dev.readConfig((c) => c.le32(CFG.numPages));
  }

  /** Pages in the balloon. */
  get actual(): number {
    return this.pages.length;
  }

  /** Was feature `n` (a `VIRTIO_BALLOON_F_*` bit number) negotiated? */
  hasFeature(n: number): boolean {
    return this.dev.hasFeature(n);
  }

  /** Resolves once every balloon operation queued so far has finished. */
  settled(): Promise<void> {
    return this.#serial(() => Promise.resolve());
  }

  /** Moves the balloon to `num_pages`: inflates or deflates the difference. */
  sync(): Promise<void> {
    return this.#serial(async () => {
      const target = this.target;
      if (target > this.pages.length) await this.#inflate(target - this.pages.length);
      else if (target < this.pages.length) await this.#deflate(this.pages.length - target);
    });
  }

  /** Gives up to `n` pages to the balloon; resolves with how many went (the allocator may run dry). */
  inflate(n: number): Promise<number> {
    return this.#serial(() => this.#inflate(n));
  }

  /** Takes up to `n` pages back from the balloon and returns them to the allocator. */
  deflate(n: number): Promise<number> {
    return this.#serial(() => this.#deflate(n));
  }

  /**
   * The guest is out of memory: with `VIRTIO_BALLOON_F_DEFLATE_ON_OOM`,
   * deflate up to `n` pages whatever `num_pages` says (5.5.6.1); without it
   * the balloon must not shrink below `num_pages`, and nothing happens.
   * Resolves with the pages returned to the allocator.
   */
  oom(n: number): Promise<number> {
    if (!this.dev.hasFeature(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) {
      return this.#serial(() =>
        this.#deflate(Math.max(0, Math.min(n, this.pages.length - this.target)))
      );
    }
    return this.deflate(n);
  }

  /**
   * Reports up to `n` free pages (needs `VIRTIO_BALLOON_F_PAGE_REPORTING`):
   * takes them from the allocator, sends them as one request, and gives them
   * back once the device acknowledged it. Resolves with the pages reported.
   */
  reportFreePages(n: number): Promise<number> {
    const vq = this.queues.reporting;
    if (vq === undefined) {
      return Promise.reject(
        new DeviceError(`${this.dev.name}: VIRTIO_BALLOON_F_PAGE_REPORTING was not negotiated`, {
          code: "ERR_VIRTIO_DEVICE_BALLOON_FEATURE",
        }),
      );
    }
    return this.#serial(async () => {
      const { memory, dma } = this.dev.dmaContext;
      const max = Math.min(n, vq.size);
      const pages: number[] = [];
      while (pages.length < max) {
        const a = dma.tryAlloc(BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE);
        if (a < 0) break;
        pages.push(a);
      }
      if (pages.length === 0) return 0;
      // 5.5.6.7.1: with PAGE_POISON, reported pages hold poison_val.
      if (this.dev.hasFeature(VIRTIO_BALLOON_F_PAGE_POISON)) {
        for (const a of pages) this.#poison(memory.bytes(a, BALLOON_PAGE_SIZE));
      }
      const sgs: Sg[] = pages.map((addr) => ({ addr, len: BALLOON_PAGE_SIZE }));
      // 5.5.6.7.1: the pages may be used again once the device used the buffer (#send frees them).
      await this.#send(vq, [], sgs, pages);
      return pages.length;
    });
  }

  /** Re-reads the config: follows `num_pages` (when automatic) and the hinting command id. */
  configChanged(): void {
    if (this.#dead) return;
    if (this.#options.auto ?? true) void this.sync().catch(() => {});
    if (this.dev.hasFeature(VIRTIO_BALLOON_F_FREE_PAGE_HINT)) {
      const id = this.dev.readConfig((c) => c.le32(CFG.freePageHintCmdId));
      void this.#serial(() => this.#hint(id)).catch(() => {});
    }
  }

  /** Fails outstanding work and tears the queues down; pages go back to the allocator. */
  detach(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.dev.reset();
    const { dma } = this.dev.dmaContext;
    for (const t of this.dev.delVqs() as BalloonToken[]) {
      for (const a of t.free) dma.free(a);
      t.resolve(-1);
    }
    for (const a of this.pages.splice(0)) dma.free(a);
    for (const a of this.hintedPages.splice(0)) dma.free(a);
    if (this.#statsAddr >= 0) dma.free(this.#statsAddr);
    this.#statsAddr = -1;
  }

  #serial<R>(op: () => Promise<R>): Promise<R> {
    if (this.#dead) {
      return Promise.reject(
        new DeviceError(`${this.dev.name}: device is gone`, { code: ERR_VIRTIO_DEVICE_REMOVED }),
      );
    }
    const run = this.#lock.then(op, op);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Submits a request, kicks, and resolves with the used length once the
   * device used it; `free` goes back to the allocator then (or, when the
   * queue broke, once the buffers are reclaimed). Rejects with the queue's
   * error when the device is reset, removed or needs a reset.
   */
  #send(vq: Virtqueue<BalloonToken>, out: Sg[], in_: Sg[], free: number[]): Promise<number> {
    const dma = this.dev.dmaContext.dma;
    return new Promise((resolve, reject) => {
      vq.submit(out, in_, {
        complete: (len) => {
          for (const a of free) dma.free(a);
          resolve(len);
        },
        fail: reject,
        reclaim: () => {
          for (const a of free) dma.free(a);
        },
      });
      vq.kick();
    });
  }

  /** Sends page frame numbers of `pages` on `vq`, in arrays of up to 256. */
  async #sendPfns(vq: Virtqueue<BalloonToken>, pages: readonly number[]): Promise<void> {
    const { memory, dma } = this.dev.dmaContext;
    const sent: Promise<number>[] = [];
    for (let i = 0; i < pages.length; i += BALLOON_ARRAY_PFNS_MAX) {
      const batch = pages.slice(i, i + BALLOON_ARRAY_PFNS_MAX);
      // An array of le32 page frame numbers (5.5.6).
      const arr = dma.alloc(batch.length * PFN_BYTES, PFN_BYTES);
      batch.forEach((a, k) => memory.writeUint32(arr + PFN_BYTES * k, a / BALLOON_PAGE_SIZE));
      sent.push(this.#send(vq, [{ addr: arr, len: batch.length * PFN_BYTES }], [], [arr]));
      // Stay within the ring: wait for room before adding more.
      if (vq.numFree === 0) await Promise.all(sent.splice(0));
    }
    await Promise.all(sent);
  }

  async #inflate(n: number): Promise<number> {
    const vq = this.queues.inflate;
    if (vq === undefined || n <= 0) return 0;
    const { dma } = this.dev.dmaContext;
    const got: number[] = [];
    while (got.length < n) {
      const a = dma.tryAlloc(BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE);
      if (a < 0) break; // out of memory: give what we have, try again on the next change
      got.push(a);
    }
    if (got.length === 0) return 0;
    // 5.5.6.1: the pages are the device's from now on; we track them once it acknowledged.
    await this.#sendPfns(vq, got);
    this.pages.push(...got);
    this.#writeActual();
    return got.length;
  }

  async #deflate(n: number): Promise<number> {
    const vq = this.queues.deflate;
    if (vq === undefined || n <= 0) return 0;
    const { memory, dma } = this.dev.dmaContext;
    const take = this.pages.splice(Math.max(0, this.pages.length - n));
    const tell = this.dev.hasFeature(VIRTIO_BALLOON_F_MUST_TELL_HOST);
    const release = () => {
      for (const a of take) {
        // 5.5.6.6.1: deflated pages are initialized with poison_val when reused.
        if (this.dev.hasFeature(VIRTIO_BALLOON_F_PAGE_POISON)) {
          this.#poison(memory.bytes(a, BALLOON_PAGE_SIZE));
        }
        dma.free(a);
      }
    };
    // 5.5.6.1: with MUST_TELL_HOST the pages are used only after the device acknowledged.
    if (!tell) release();
    await this.#sendPfns(vq, take);
    if (tell) release();
    this.#writeActual();
    return take.length;
  }

  #poison(bytes: Uint8Array): void {
    const v = (this.#options.poison ?? 0) >>> 0;
    for (let o = 0; o < bytes.length; o++) bytes[o] = (v >>> (8 * (o & 3))) & 0xff;
  }

  /** 5.5.6.1: update `actual` after changing the balloon (one 4-byte write). */
  #writeActual(): void {
    this.dev.writeConfig(CFG.actual, 4, this.pages.length);
  }

  async #hint(id: number): Promise<void> {
    const vq = this.queues.freePage;
    if (vq === undefined) return;
    const { memory, dma } = this.dev.dmaContext;
    if (id === VIRTIO_BALLOON_CMD_ID_DONE) {
      // The device no longer needs the hints: release the pages (5.5.6.5.1).
      for (const a of this.hintedPages.splice(0)) dma.free(a);
      this.#lastCmdId = id;
      return;
    }
    if (id === VIRTIO_BALLOON_CMD_ID_STOP || id === this.#lastCmdId) {
      this.#lastCmdId = id;
      return;
    }
    this.#lastCmdId = id;
    const cmd = (v: number): Sg => {
      const a = dma.alloc(4, 4);
      memory.writeUint32(a, v);
      return { addr: a, len: 4 };
    };
    // 5.5.6.5.1: the current command id first (once), then pages as input buffers, then STOP.
    const start = cmd(id);
    const sent: Promise<number>[] = [this.#send(vq, [start], [], [start.addr])];
    const max = Math.min(this.#options.hintPages ?? 64, vq.size - 2);
    for (let i = 0; i < max && vq.numFree > 1; i++) {
      const a = dma.tryAlloc(BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE);
      if (a < 0) break;
      this.hintedPages.push(a);
      sent.push(this.#send(vq, [], [{ addr: a, len: BALLOON_PAGE_SIZE }], []));
    }
    const stop = cmd(VIRTIO_BALLOON_CMD_ID_STOP);
    sent.push(this.#send(vq, [stop], [], [stop.addr]));
    await Promise.all(sent);
  }

  #collectStats(): ReadonlyMap<number, bigint> {
    if (this.#options.stats) return this.#options.stats();
    const { dma } = this.dev.dmaContext;
    const free = BigInt(dma.size - dma.bytesUsed);
    return new Map([
      [VIRTIO_BALLOON_S_MEMTOT, BigInt(dma.size)],
      [VIRTIO_BALLOON_S_MEMFREE, free],
      [VIRTIO_BALLOON_S_AVAIL, free],
    ]);
  }

  /** Writes the statistics into the stats buffer (always the same tags, 5.5.6.3.1). */
  #fillStats(): void {
    const { memory } = this.dev.dmaContext;
    let i = 0;
    for (const [tag, val] of this.#collectStats()) {
      if (i >= this.#statsCount) break;
      const at = this.#statsAddr + i * BALLOON_STAT_SIZE;
      memory.writeUint16(at + VirtioBalloonStat.OFFSETS.tag, tag);
      memory.writeBigUint64(at + VirtioBalloonStat.OFFSETS.val, val);
      i++;
    }
  }

  /** The device took the stats buffer back: refill it and hand it over again (5.5.6.3). */
  #statsUsed(vq: Virtqueue<BalloonToken>): void {
    let used = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) used++;
    if (used === 0 || this.#dead) return;
    this.#statsRequests += used;
    this.#fillStats();
    vq.addOutbuf({ addr: this.#statsAddr, len: this.#statsCount * BALLOON_STAT_SIZE }, {
      resolve: () => {},
      free: [],
    });
    vq.kick();
  }
}

/** The balloon driver plus the balloons it has bound. */
export interface BalloonDriver extends VirtioDriver {
  /** Bound balloons, by device. */
  readonly balloons: Map<DriverDevice, Balloon>;
  /** The next balloon to be probed (or the first already probed and not yet taken). */
  nextBalloon(): Promise<Balloon>;
}

/** A virtio-balloon driver for the bus. */
export function balloonDriver(options: BalloonDriverOptions = {}): BalloonDriver {
  const arrivals = new Arrivals<Balloon>();
  const refuse = new Set(options.refuseFeatures ?? []);
  const table = [
    VIRTIO_BALLOON_F_MUST_TELL_HOST,
    VIRTIO_BALLOON_F_STATS_VQ,
    VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
    VIRTIO_BALLOON_F_FREE_PAGE_HINT,
    VIRTIO_BALLOON_F_PAGE_REPORTING,
  ];
  if (options.poison !== undefined) table.push(VIRTIO_BALLOON_F_PAGE_POISON);
  return {
    name: "virtio-balloon",
    idTable: [{ device: VIRTIO_ID_BALLOON }],
    featureTable: table.filter((f) => !refuse.has(f)),
    balloons: arrivals.bound,
    nextBalloon(): Promise<Balloon> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const b = new Balloon(dev, options);
      dev.deviceReady();
      b.start();
      arrivals.arrive(dev, b);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
    configChanged(dev: DriverDevice): void {
      arrivals.bound.get(dev)?.configChanged();
    },
  };
}
