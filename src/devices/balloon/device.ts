/**
 * The traditional memory balloon device (spec 5.5, "Traditional Memory
 * Balloon Device", device id 5). The device asks for `num_pages` 4 KiB pages
 * through its config space; the driver gives pages on the inflateq and takes
 * them back on the deflateq, each buffer an array of le32 page frame numbers
 * (guest-physical address / 4096). The model tracks which pages are in the
 * balloon.
 *
 * Features: `VIRTIO_BALLOON_F_MUST_TELL_HOST`, `STATS_VQ` (the statsq: the
 * device holds the driver's buffer and hands it back to ask for fresh
 * statistics, 5.5.6.3), `DEFLATE_ON_OOM`, `FREE_PAGE_HINT` (the
 * free_page_vq and `free_page_hint_cmd_id`, 5.5.6.5), `PAGE_POISON`
 * (`poison_val`, 5.5.6.6) and `PAGE_REPORTING` (the reporting_vq, 5.5.6.7),
 * each of which can be left out; plus `VIRTIO_F_VERSION_1`, `EVENT_IDX`,
 * `INDIRECT_DESC` and `RING_PACKED`.
 *
 * Queue numbering: inflateq 0 and deflateq 1, then statsq, free_page_vq and
 * reporting_vq in that order, each present only when its feature was
 * negotiated, so indices close up (as Linux numbers them).
 *
 * Guest data is hostile: page numbers outside guest memory are ignored, as
 * are deflates of pages not in the balloon, trailing partial entries,
 * unknown statistics tags and hints carrying a stale command id; a
 * malformed chain sets DEVICE_NEEDS_RESET.
 *
 * @example
 * ```ts
 * import { VirtioBalloonConfig } from "../../generated/devices/balloon.ts";
 * import { BalloonDevice } from "./device.ts";
 *
 * const dev = new BalloonDevice();
 * dev.setTarget(256); // ask the guest for 1 MiB
 * if (dev.readConfig(VirtioBalloonConfig.OFFSETS.numPages, 4) !== 256) throw new Error("num_pages");
 * ```
 *
 * @module
 */

import { ConfigDevice, type ConfigWidth, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_F_VERSION_1, VIRTIO_ID_BALLOON } from "../../generated/common.ts";
import {
  VIRTIO_BALLOON_CMD_ID_DONE,
  VIRTIO_BALLOON_CMD_ID_STOP,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_FREE_PAGE_HINT,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_PAGE_POISON,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
  VIRTIO_BALLOON_S_HTLB_PGFAIL,
  VirtioBalloonConfig,
  VirtioBalloonStat,
} from "../../generated/devices/balloon.ts";
import type { GuestMemory } from "../../memory.ts";
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/mod.ts";
import { bit, checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { CHAIN_HELD, type ChainServer, completeUsed, serveQueue } from "../../queue_service.ts";

/** Balloon page size: page frame numbers count 4 KiB units whatever the guest page size (5.5.6). */
export const BALLOON_PAGE_SIZE = 4096;

/** Bytes of one `virtio_balloon_stat` entry (le16 tag, le64 val, packed). */
export const BALLOON_STAT_SIZE: number = VirtioBalloonStat.SIZE;

/** Bytes of one page frame number in the inflate and deflate queues (5.5.6: le32). */
export const BALLOON_PFN_BYTES = 4;
const PFN_BYTES = BALLOON_PFN_BYTES;

const CFG = VirtioBalloonConfig.OFFSETS;

/** The role of each queue, in the order the spec numbers them (5.5.2). */
export type BalloonQueueRole = "inflate" | "deflate" | "stats" | "freePage" | "reporting";

/**
 * Queue roles in index order for a feature set: inflateq, deflateq, then
 * statsq, free_page_vq and reporting_vq when their features are in `features`.
 */
export function balloonQueueRoles(features: bigint): BalloonQueueRole[] {
  const has = (n: number) => (features & bit(n)) !== 0n;
  const roles: BalloonQueueRole[] = ["inflate", "deflate"];
  if (has(VIRTIO_BALLOON_F_STATS_VQ)) roles.push("stats");
  if (has(VIRTIO_BALLOON_F_FREE_PAGE_HINT)) roles.push("freePage");
  if (has(VIRTIO_BALLOON_F_PAGE_REPORTING)) roles.push("reporting");
  return roles;
}

/** A contiguous run of guest pages (4 KiB units). */
export interface PageRange {
  /** First page frame number (guest-physical address / 4096). */
  readonly pfn: number;
  /** Number of pages. */
  readonly pages: number;
}

/** Options of a {@link BalloonDevice}; every feature is offered unless turned off. */
export interface BalloonDeviceOptions {
  /** Maximum size of every queue (default 128). */
  readonly queueSize?: number;
  /** Offer `VIRTIO_BALLOON_F_MUST_TELL_HOST` (default true). */
  readonly mustTellHost?: boolean;
  /** Offer `VIRTIO_BALLOON_F_STATS_VQ` (default true). */
  readonly statsQueue?: boolean;
  /** Offer `VIRTIO_BALLOON_F_DEFLATE_ON_OOM` (default true). */
  readonly deflateOnOom?: boolean;
  /** Offer `VIRTIO_BALLOON_F_FREE_PAGE_HINT` (default true). */
  readonly freePageHint?: boolean;
  /** Offer `VIRTIO_BALLOON_F_PAGE_POISON` (default true). */
  readonly pagePoison?: boolean;
  /** Offer `VIRTIO_BALLOON_F_PAGE_REPORTING` (default true). */
  readonly pageReporting?: boolean;
  /**
   * Reclaim pages the way a host would: zero inflated pages, and reported
   * pages (filled with `poison_val` instead when PAGE_POISON was negotiated,
   * 5.5.6.7.2). Default false: the contents stay as they are.
   */
  readonly reclaim?: boolean;
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
  /** Called after each inflate request with the page numbers newly in the balloon. */
  readonly onInflate?: (pfns: readonly number[]) => void;
  /** Called after each deflate request with the page numbers that left the balloon. */
  readonly onDeflate?: (pfns: readonly number[]) => void;
  /** Called with each page report (reporting_vq). */
  readonly onReport?: (ranges: readonly PageRange[]) => void;
}

/** What {@link BalloonDevice.counters} counts: what the driver sent, including what was ignored. */
export interface BalloonCounters {
  /** Pages inflated. */
  inflated: number;
  /** Pages deflated. */
  deflated: number;
  /** Page frame numbers ignored: inflated outside guest memory, or deflated while not in the balloon. */
  ignoredPfns: number;
  /** Statistics buffers received from the driver. */
  statsUpdates: number;
  /** Pages reported free (free page reporting). */
  reportedPages: number;
  /** Pages hinted free (free page hinting). */
  hintedPages: number;
  /** Pages hinted under a command id other than the current one (ignored, 5.5.6.5.2). */
  staleHints: number;
}
/** The virtio-balloon device model. */
export class BalloonDevice extends ConfigDevice<VirtioBalloonConfig> {
  /** `VIRTIO_ID_BALLOON` (5). */
  readonly deviceId: number = VIRTIO_ID_BALLOON;
  /** Offered features. */
  readonly features: bigint;
  /** inflateq, deflateq and one queue per offered optional queue. */
  readonly queueMaxSizes: readonly number[];
  /** Page frame numbers now in the balloon. */
  readonly pages: Set<number> = new Set();
  /** Pages hinted free under the current command id (cleared when it is DONE). */
  readonly hinted: Set<number> = new Set();
  /** The latest statistics by tag (`VIRTIO_BALLOON_S_*`). */
  get stats(): ReadonlyMap<number, bigint> {
    return new Map(this.#stats);
  }
  readonly #stats: Map<number, bigint> = new Map();
  /** Counters of what the driver sent, including what was ignored (a snapshot). */
  get counters(): Readonly<BalloonCounters> {
    return Object.freeze({ ...this.#counters });
  }
  readonly #counters: BalloonCounters = {
    inflated: 0,
    deflated: 0,
    ignoredPfns: 0,
    statsUpdates: 0,
    reportedPages: 0,
    hintedPages: 0,
    staleHints: 0,
  };
  /** Ranges of every page report so far (oldest first; cleared by the caller as it likes). */
  readonly reports: PageRange[] = [];
  /** True once the driver sent `VIRTIO_BALLOON_CMD_ID_STOP` for the current hinting round. */
  get hintingStopped(): boolean {
    return this.#hintingStopped;
  }
  #hintingStopped = true;
  readonly #options: BalloonDeviceOptions;
  #negotiated = 0n;
  #roles: BalloonQueueRole[] = [];
  #statsHeld: { q: DeviceQueue; chain: DescriptorChain } | undefined;
  #statsWaiters: ((stats: Map<number, bigint>) => void)[] = [];
  #firstStats = true;
  #driverCmdId = -1;
  #nextCmdId = 2;
  #actualBytes = new Uint8Array(4);
  #scratch = new Uint8Array(4);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  // Each stat is copied out of the chain once, then read through the accessor.
  readonly #statBytes = new Uint8Array(VirtioBalloonStat.SIZE);
  readonly #stat = new VirtioBalloonStat(new DataView(this.#statBytes.buffer));
  readonly #server: ChainServer = {
    serveChain: (c, q, ctx) => this.#serve(ctx, q, c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A balloon device offering the features in `options`. */
  constructor(options: BalloonDeviceOptions = {}) {
    super(VirtioBalloonConfig); // 16 bytes of `virtio_balloon_config`
    this.#options = options;
    const size = checkDeviceQueueSize("virtio-balloon", options.queueSize ?? 128);
    let f = ringFeatures(options.packed ?? true);
    if (options.mustTellHost ?? true) f |= bit(VIRTIO_BALLOON_F_MUST_TELL_HOST);
    if (options.statsQueue ?? true) f |= bit(VIRTIO_BALLOON_F_STATS_VQ);
    if (options.deflateOnOom ?? true) f |= bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
    if (options.freePageHint ?? true) f |= bit(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
    if (options.pagePoison ?? true) f |= bit(VIRTIO_BALLOON_F_PAGE_POISON);
    if (options.pageReporting ?? true) f |= bit(VIRTIO_BALLOON_F_PAGE_REPORTING);
    this.features = f;
    this.queueMaxSizes = balloonQueueRoles(f).map(() => size);
  }

  /** `num_pages`: how many pages the device wants in the balloon. */
  get target(): number {
    return this.cfg.numPages;
  }

  /** `actual` as the driver last wrote it (whole writes only). */
  get actual(): number {
    return this.cfg.actual;
  }

  /** The current `free_page_hint_cmd_id`. */
  get freePageHintCmdId(): number {
    return this.cfg.freePageHintCmdId;
  }

  /** `poison_val` as the driver wrote it. */
  get poisonVal(): number {
    return this.cfg.poisonVal;
  }

  /** The negotiated features (0 before activation). */
  get negotiated(): bigint {
    return this.#negotiated;
  }

  /** Ask the guest for `pages` pages in the balloon (raises a configuration change). */
  setTarget(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0 || pages > 0xffffffff) {
      throw new DeviceError(`virtio-balloon: target ${pages} pages is not a le32`, {
        code: "ERR_VIRTIO_DEVICE_BALLOON_TARGET",
      });
    }
    this.updateConfig((cfg) => cfg.numPages = pages);
  }

  /**
   * Start a round of free page hinting with a fresh command id (5.5.6.5:
   * never reused) and return it.
   */
  startHinting(): number {
    const id = this.#nextCmdId;
    this.#nextCmdId = id >= 0xffffffff ? 2 : id + 1;
    this.hinted.clear();
    this.#hintingStopped = false;
    this.#setCmdId(id);
    return id;
  }

  /** `VIRTIO_BALLOON_CMD_ID_STOP`: hints are no longer used; the driver keeps its hinted pages. */
  stopHinting(): void {
    this.#setCmdId(VIRTIO_BALLOON_CMD_ID_STOP);
  }

  /** `VIRTIO_BALLOON_CMD_ID_DONE`: the device is done with hinted pages; the driver may reuse them. */
  doneHinting(): void {
    this.hinted.clear();
    this.#setCmdId(VIRTIO_BALLOON_CMD_ID_DONE);
  }

  #setCmdId(id: number): void {
    this.updateConfig((cfg) => cfg.freePageHintCmdId = id);
  }

  /**
   * Ask the driver for fresh statistics (5.5.6.3): hand back the held stats
   * buffer; resolves with the statistics of the next buffer the driver adds.
   */
  requestStats(): Promise<Map<number, bigint>> {
    if (!this.#has(VIRTIO_BALLOON_F_STATS_VQ)) {
      return Promise.reject(
        new DeviceError("virtio-balloon: the stats queue was not negotiated", {
          code: "ERR_VIRTIO_DEVICE_BALLOON_FEATURE",
        }),
      );
    }
    const p = new Promise<Map<number, bigint>>((resolve) => this.#statsWaiters.push(resolve));
    const held = this.#statsHeld;
    const ctx = this.context;
    if (held !== undefined && ctx !== undefined) {
      this.#statsHeld = undefined;
      completeUsed(ctx, held.q, held.chain, 0);
    }
    return p;
  }

  /**
   * The driver writes `actual` and `poison_val`; `num_pages` and
   * `free_page_hint_cmd_id` are read-only for it. `actual` takes effect once
   * its most significant byte is written (5.5.6.1 legacy: byte-wise writes).
   */
  override writeConfig(offset: number, width: ConfigWidth, value: number): void {
    const end = offset + width;
    for (let i = 0; i < width; i++) {
      const at = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      if (at >= CFG.actual && at < CFG.actual + 4) this.#actualBytes[at - CFG.actual] = byte;
      else if (at >= CFG.poisonVal && at < CFG.poisonVal + 4) this.config.bytes[at] = byte;
    }
    if (offset < CFG.actual + 4 && end >= CFG.actual + 4) {
      this.config.bytes.set(this.#actualBytes, CFG.actual);
    }
  }

  /** Starts serving; queue roles follow the negotiated features. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#negotiated = ctx.features;
    this.#roles = balloonQueueRoles(ctx.features);
    this.#firstStats = true;
  }

  /** Drops the context and any held stats buffer; the balloon's pages stay tracked. */
  override reset(): void {
    super.reset();
    this.#negotiated = 0n;
    this.#statsHeld = undefined;
    this.#driverCmdId = -1;
  }

  #has(feature: number): boolean {
    return (this.#negotiated & bit(feature)) !== 0n;
  }

  /** Serves queue `index` according to its role. */
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx !== undefined && this.#roles[index] !== undefined) serveQueue(ctx, index, this.#server);
  }

  /** Handles one chain: the used length (0), or {@link CHAIN_HELD} for the stats buffer it keeps. */
  #serve(ctx: DeviceContext, q: DeviceQueue, c: DescriptorChain): number {
    const role = this.#roles[q.index];
    switch (role) {
      case "inflate":
      case "deflate":
        this.#pfns(ctx.memory, c, role === "inflate");
        return 0;
      case "stats":
        this.#statsBuffer(q, c);
        return CHAIN_HELD;
      case "freePage":
        this.#freePage(c);
        return 0;
      case "reporting":
        this.#report(c);
        return 0;
    }
  }

  /** Inflate or deflate: the readable part is an array of le32 page frame numbers. */
  #pfns(mem: GuestMemory, c: DescriptorChain, inflate: boolean): void {
    const n = Math.floor(c.readableLength / PFN_BYTES);
    const changed: number[] = [];
    for (let i = 0; i < n; i++) {
      // Read once: the checks below and the bookkeeping use this copy.
      const pfn = c.readUint32(i * PFN_BYTES);
      if (inflate) {
        // Pages outside guest memory are not the guest's to give.
        if (mem.findRegion(pfn * BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE) < 0) {
          this.#counters.ignoredPfns++;
          continue;
        }
        if (this.pages.has(pfn)) continue;
        this.pages.add(pfn);
        if (this.#options.reclaim) mem.bytes(pfn * BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE).fill(0);
      } else {
        if (!this.pages.delete(pfn)) {
          this.#counters.ignoredPfns++;
          continue;
        }
      }
      changed.push(pfn);
    }
    if (inflate) {
      this.#counters.inflated += changed.length;
      if (changed.length) this.#options.onInflate?.(changed);
    } else {
      this.#counters.deflated += changed.length;
      if (changed.length) this.#options.onDeflate?.(changed);
    }
  }

  /** A stats buffer: parse it and keep it until the next {@link BalloonDevice.requestStats}. */
  #statsBuffer(q: DeviceQueue, c: DescriptorChain): void {
    const old = this.#statsHeld;
    if (old !== undefined) {
      // 5.5.6.3.1: at most one buffer; give the older one back rather than leak it.
      old.q.addUsed(old.chain, 0);
    }
    this.#statsHeld = { q, chain: c };
    // 5.5.6.3.2 legacy: ignore the first buffer's values (historically uninitialized).
    const legacy = !this.#has(VIRTIO_F_VERSION_1);
    if (legacy && this.#firstStats) {
      this.#firstStats = false;
      return;
    }
    this.#firstStats = false;
    const n = Math.floor(c.readableLength / BALLOON_STAT_SIZE);
    const stat = this.#stat;
    for (let i = 0; i < n; i++) {
      c.read(i * BALLOON_STAT_SIZE, this.#statBytes);
      const tag = stat.tag;
      const val = stat.val;
      // 5.5.6.3.2: unknown tags are ignored.
      if (tag <= VIRTIO_BALLOON_S_HTLB_PGFAIL) this.#stats.set(tag, val);
    }
    this.#counters.statsUpdates++;
    const waiters = this.#statsWaiters.splice(0);
    for (const w of waiters) w(new Map(this.#stats));
  }

  /** free_page_vq: an output buffer carries a command id; input buffers are hinted pages. */
  #freePage(c: DescriptorChain): void {
    if (c.readableLength >= 4) {
      c.read(0, this.#scratch, 0, 4);
      const id = this.#scratchView.getUint32(0, true); // le32 command id (5.5.6.5)
      this.#driverCmdId = id;
      if (id === VIRTIO_BALLOON_CMD_ID_STOP) this.#hintingStopped = true;
    }
    if (c.writableCount === 0) return;
    const current = this.cfg.freePageHintCmdId;
    // 5.5.6.5.2: hints under another command id than the current one are ignored.
    const valid = current >= 2 && this.#driverCmdId === current;
    for (let i = c.readableCount; i < c.length; i++) {
      const first = Math.floor(c.addr(i) / BALLOON_PAGE_SIZE);
      const last = Math.floor((c.addr(i) + c.len(i) - 1) / BALLOON_PAGE_SIZE);
      for (let p = first; p <= last && c.len(i) > 0; p++) {
        if (valid) {
          this.hinted.add(p);
          this.#counters.hintedPages++;
        } else {
          this.#counters.staleHints++;
        }
      }
    }
  }

  /** reporting_vq: every segment is a run of free pages. */
  #report(c: DescriptorChain): void {
    const ranges: PageRange[] = [];
    for (let i = 0; i < c.length; i++) {
      const addr = c.addr(i);
      const len = c.len(i);
      if (len === 0) continue;
      const pfn = Math.floor(addr / BALLOON_PAGE_SIZE);
      const pages = Math.ceil((addr + len) / BALLOON_PAGE_SIZE) - pfn;
      ranges.push({ pfn, pages });
      this.#counters.reportedPages += pages;
      if (this.#options.reclaim) {
        // 5.5.6.7.2: with PAGE_POISON, reported pages may only change to poison_val.
        const bytes = c.bytes(i);
        if (this.#has(VIRTIO_BALLOON_F_PAGE_POISON)) {
          this.#scratchView.setUint32(0, this.cfg.poisonVal, true);
          for (let o = 0; o < bytes.length; o++) bytes[o] = this.#scratch[(addr + o) & 3];
        } else {
          bytes.fill(0);
        }
      }
    }
    if (ranges.length === 0) return;
    this.reports.push(...ranges);
    this.#options.onReport?.(ranges);
  }
}

export {
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_FREE_PAGE_HINT,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_PAGE_POISON,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
};
