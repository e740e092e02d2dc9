/**
 * The virtio block device model (spec 5.2, "Block Device"): the device side
 * of virtio-blk over any {@link BlockStorage} (an image file, or memory).
 *
 * Requests (5.2.6): `VIRTIO_BLK_T_IN`, `OUT`, `FLUSH` (and the legacy
 * synonym `FLUSH_OUT`), `GET_ID`, `GET_LIFETIME` (when a lifetime is
 * configured), `DISCARD` and `WRITE_ZEROES` (with the `unmap` flag), several
 * segments each. Everything else completes with `VIRTIO_BLK_S_UNSUPP`.
 *
 * Features: `VIRTIO_BLK_F_SIZE_MAX`, `SEG_MAX`, `GEOMETRY`, `BLK_SIZE`,
 * `TOPOLOGY`, `FLUSH`, `CONFIG_WCE`, `MQ`, `DISCARD`, `WRITE_ZEROES`, `RO`,
 * `LIFETIME`, and the ring features `VIRTIO_F_VERSION_1`, `EVENT_IDX`,
 * `INDIRECT_DESC` and `RING_PACKED`.
 *
 * Guest requests are hostile input: a sector range past the capacity, a data
 * length that is not a whole number of logical blocks, a write to a read-only
 * device, a discard segment past the end or with unknown flags all complete
 * with `VIRTIO_BLK_S_IOERR` or `VIRTIO_BLK_S_UNSUPP` (5.2.6.2) before any byte
 * of storage is touched; a chain without room for the status byte, or a
 * malformed chain the queue refuses, sets DEVICE_NEEDS_RESET.
 *
 * Writes are stable (flushed before completion) when the spec says so
 * (5.2.6.2): `VIRTIO_BLK_F_FLUSH` offered but neither it nor `CONFIG_WCE`
 * negotiated, or `writeback` set to 0 through `CONFIG_WCE`.
 *
 * Synchronous storage is served inside {@link BlkDevice.queueNotify} without
 * a promise per request, all data segments of a request in one call when
 * the storage has `readv`/`writev` (`PosixFileStorage`: one `preadv`);
 * asynchronous storage ({@link BlockStorage.isAsync}) goes through a bounce
 * buffer, and a completion that arrives after a reset is dropped without
 * touching guest memory.
 *
 * @example
 * ```ts
 * import { BlkDevice, MemoryStorage } from "./device.ts";
 *
 * const dev = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(4096)), queues: 2 });
 * if (dev.readConfig(0, 4) !== 8) throw new Error("capacity is in 512-byte sectors");
 * if (dev.queueMaxSizes.length !== 2) throw new Error("two request queues");
 * ```
 *
 * @module
 */

import {
  ConfigSpace,
  type ConfigWidth,
  type DeviceContext,
  type VirtioDevice,
} from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_BLOCK } from "../../generated/common.ts";
import {
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_GEOMETRY,
  VIRTIO_BLK_F_LIFETIME,
  VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_FLUSH_OUT,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_GET_LIFETIME,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlkConfig,
  VirtioBlkLifetime,
  VirtioBlkOuthdr,
} from "../../generated/devices/blk.ts";
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/mod.ts";
import { bit, checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { CHAIN_HELD, type ChainServer, completeUsed, serveQueue } from "../../queue_service.ts";
import type { BlkLifetime, BlockStorage } from "./storage.ts";
import { type HeldAnswer, HeldBatch } from "./_held_batch.ts";
import { DiscardWriteZeroes } from "./_discard_write_zeroes.ts";
import { type BlkGeometry, type BlkTopology, defaultGeometry, SECTOR_SIZE } from "./geometry.ts";
import { perSegment } from "./_storage_calls.ts";

export {
  type BlkLifetime,
  type BlockBatch,
  type BlockStorage,
  type MaybePromise,
  MemoryStorage,
  SequentialBatch,
  type SequentialBatchStorage,
} from "./storage.ts";

/** Length of the GET_ID answer (5.2.6: the ID string is at most 20 bytes). */
export const VIRTIO_BLK_ID_BYTES = 20;

/** Offset of `writeback` in `virtio_blk_config`. */
const WRITEBACK_OFFSET: number = VirtioBlkConfig.OFFSETS.writeback;

/** Options of a {@link BlkDevice}. */
export interface BlkDeviceOptions {
  /** The backing storage. */
  readonly storage: BlockStorage;
  /** Number of request queues (default 1; `num_queues` with `VIRTIO_BLK_F_MQ`). */
  readonly queues?: number;
  /** Maximum size of each queue (default 256). */
  readonly queueSize?: number;
  /** Offer `VIRTIO_BLK_F_RO` and fail every write with IOERR. */
  readonly readOnly?: boolean;
  /** The ID string GET_ID returns (ASCII, at most 20 bytes; default "typed-virtio"). */
  readonly serial?: string;
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
  /** Logical block size in bytes (`blk_size`; a power of two from 512, default 512). */
  readonly blkSize?: number;
  /** Maximum bytes of one data segment (`size_max`, default 1 MiB). */
  readonly sizeMax?: number;
  /** Maximum data segments per request (`seg_max`, default queue size - 2). */
  readonly segMax?: number;
  /** Geometry (default derived from the capacity: 16 heads, 63 sectors). */
  readonly geometry?: BlkGeometry;
  /** Topology (default: physical block = logical block, no alignment offset). */
  readonly topology?: BlkTopology;
  /** Cache mode after reset: true for writeback (default), false for writethrough. */
  readonly writeback?: boolean;
  /** Offer `VIRTIO_BLK_F_DISCARD` (default true). */
  readonly discard?: boolean;
  /** Offer `VIRTIO_BLK_F_WRITE_ZEROES` (default true). */
  readonly writeZeroes?: boolean;
  /** Maximum sectors of one discard or write-zeroes segment (default 0x3fffff). */
  readonly maxDiscardSectors?: number;
  /** Maximum segments of one discard or write-zeroes request (default 32). */
  readonly maxDiscardSeg?: number;
  /** Lifetime metrics; given, `VIRTIO_BLK_F_LIFETIME` is offered (5.2.6.2: only with real metrics). */
  readonly lifetime?: BlkLifetime | (() => BlkLifetime);
}

/** Requests served, by kind. */
export interface BlkStats {
  /** IN requests completed OK. */
  reads: number;
  /** OUT requests completed OK. */
  writes: number;
  /** FLUSH requests completed OK. */
  flushes: number;
  /** DISCARD requests completed OK. */
  discards: number;
  /** WRITE_ZEROES requests completed OK. */
  writeZeroes: number;
  /** Other requests (GET_ID, GET_LIFETIME, unsupported types). */
  other: number;
  /** Requests completed with a status other than OK. */
  errors: number;
}

/** The virtio-blk device model. */
export class BlkDevice implements VirtioDevice {
  /** `VIRTIO_ID_BLOCK`. */
  readonly deviceId: number = VIRTIO_ID_BLOCK;
  /** Offered features. */
  readonly features: bigint;
  /** One maximum size per queue. */
  readonly queueMaxSizes: readonly number[];
  /** The config space (`virtio_blk_config`). */
  readonly config: ConfigSpace = new ConfigSpace(VirtioBlkConfig.SIZE);
  /** The storage. */
  readonly storage: BlockStorage;
  /** True for a read-only device. */
  readonly readOnly: boolean;
  /** Capacity in 512-byte sectors (see {@link BlkDevice.setCapacity}). */
  get capacity(): number {
    return this.#capacity;
  }
  #capacity: number;
  /** Logical block size in bytes. */
  readonly blkSize: number;
  /** Requests completed since creation. */
  get stats(): Readonly<BlkStats> {
    return Object.freeze({ ...this.#stats });
  }
  readonly #stats: BlkStats = {
    reads: 0,
    writes: 0,
    flushes: 0,
    discards: 0,
    writeZeroes: 0,
    other: 0,
    errors: 0,
  };
  readonly #id: Uint8Array;
  readonly #cfg: VirtioBlkConfig;
  readonly #writebackDefault: number;
  /** DISCARD and WRITE_ZEROES: their limits, the copy of a request's segments. */
  readonly #dwz: DiscardWriteZeroes;
  readonly #lifetime: (() => BlkLifetime) | undefined;
  // Guest-controlled bytes are copied out of the chain once, into these, then
  // checked and used from here (a racing driver cannot change them in between).
  readonly #hdrBytes = new Uint8Array(VirtioBlkOuthdr.SIZE);
  readonly #hdr = new VirtioBlkOuthdr(new DataView(this.#hdrBytes.buffer));
  readonly #lifetimeBytes = new Uint8Array(VirtioBlkLifetime.SIZE);
  readonly #lifetimeOut = new VirtioBlkLifetime(new DataView(this.#lifetimeBytes.buffer));
  /** The data segments of one request for `readv`/`writev`, reused (emptied after each call). */
  readonly #segments: Uint8Array[] = [];
  readonly #busy: boolean[];
  readonly #again: boolean[];
  #ctx: DeviceContext | undefined;
  /** Per queue: requests waiting for asynchronous storage. */
  readonly #inProgress: number[];
  #negotiated = 0n;
  /** `VIRTIO_BLK_F_FLUSH` and `VIRTIO_BLK_F_CONFIG_WCE` negotiated (set by `activate`). */
  #flushNegotiated = false;
  #wceNegotiated = false;
  /** {@link BlkDevice.#range} for the discard / write-zeroes checks, made once. */
  readonly #rangeOf = (sector: number, bytes: number): number => this.#range(sector, bytes);
  /** The reads and writes of a pass held for the storage's batch (io_uring), if it has one. */
  readonly #held: HeldBatch | undefined;
  /** Answers a held chain once its batch ran. */
  readonly #answerHeld: HeldAnswer = (c, statusAt, ok, written) => {
    if (!ok) return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    if (written < 0) this.#stats.writes++;
    else this.#stats.reads++;
    return this.#finish(c, statusAt, VIRTIO_BLK_S_OK, written < 0 ? 0 : written);
  };
  readonly #server: ChainServer = {
    serveChain: (c, q, ctx) => {
      const len = this.#serve(ctx, q, c);
      // A chain answered now goes after those held before it (used order kept, IN_ORDER or not).
      if (len !== CHAIN_HELD && this.#held !== undefined && this.#held.size > 0) this.#endPass(q);
      return len;
    },
    isLive: (ctx) => this.#ctx === ctx,
    endPass: (q) => this.#held !== undefined && this.#held.size > 0 ? this.#endPass(q) : 0,
  };

  /** A block device over `options.storage`. */
  constructor(options: BlkDeviceOptions) {
    const queues = options.queues ?? 1;
    const size = checkDeviceQueueSize("virtio-blk", options.queueSize ?? 256);
    if (!Number.isInteger(queues) || queues < 1 || queues > 0xffff) {
      throw new DeviceError(`virtio-blk: ${queues} queues (1..65535)`, {
        code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
      });
    }
    const blkSize = options.blkSize ?? SECTOR_SIZE;
    if (!Number.isInteger(blkSize) || blkSize < SECTOR_SIZE || (blkSize & (blkSize - 1)) !== 0) {
      throw new DeviceError(`virtio-blk: blk_size ${blkSize} is not a power of two >= 512`, {
        code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
      });
    }
    this.storage = options.storage;
    // Asynchronous storage goes through bounce buffers, never a batch.
    const batch = options.storage.isAsync ? undefined : options.storage.batch;
    this.#held = batch === undefined ? undefined : new HeldBatch(batch);
    this.readOnly = options.readOnly ?? false;
    this.blkSize = blkSize;
    // Only whole logical blocks are addressable.
    this.#capacity = Math.floor(options.storage.size / blkSize) * (blkSize / SECTOR_SIZE);
    this.queueMaxSizes = Array.from({ length: queues }, () => size);
    this.#inProgress = this.queueMaxSizes.map(() => 0);
    this.#busy = Array.from({ length: queues }, () => false);
    this.#again = Array.from({ length: queues }, () => false);
    this.#dwz = new DiscardWriteZeroes(options.maxDiscardSectors, options.maxDiscardSeg);
    const lt = options.lifetime;
    this.#lifetime = lt === undefined ? undefined : typeof lt === "function" ? lt : () => lt;
    this.#writebackDefault = (options.writeback ?? true) ? 1 : 0;

    let f = ringFeatures(options.packed ?? true) |
      bit(VIRTIO_BLK_F_SIZE_MAX) | bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_GEOMETRY) |
      bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_TOPOLOGY) | bit(VIRTIO_BLK_F_FLUSH) |
      bit(VIRTIO_BLK_F_CONFIG_WCE) | bit(VIRTIO_BLK_F_MQ);
    if (options.discard ?? true) f |= bit(VIRTIO_BLK_F_DISCARD);
    if (options.writeZeroes ?? true) f |= bit(VIRTIO_BLK_F_WRITE_ZEROES);
    if (this.readOnly) f |= bit(VIRTIO_BLK_F_RO);
    if (this.#lifetime !== undefined) f |= bit(VIRTIO_BLK_F_LIFETIME);
    this.features = f;

    const id = new TextEncoder().encode(options.serial ?? "typed-virtio");
    this.#id = new Uint8Array(VIRTIO_BLK_ID_BYTES); // NUL-padded
    this.#id.set(id.subarray(0, VIRTIO_BLK_ID_BYTES));

    const geometry = options.geometry ?? defaultGeometry(this.#capacity);
    const blocks = blkSize / SECTOR_SIZE;
    this.#cfg = new VirtioBlkConfig(this.config.view);
    this.config.update(() => {
      const c = this.#cfg;
      c.capacity = BigInt(this.#capacity);
      c.sizeMax = options.sizeMax ?? 1 << 20;
      c.segMax = options.segMax ?? Math.max(1, size - 2);
      c.geometry.cylinders = geometry.cylinders;
      c.geometry.heads = geometry.heads;
      c.geometry.sectors = geometry.sectors;
      c.blkSize = blkSize;
      const t = options.topology;
      c.topology.physicalBlockExp = t?.physicalBlockExp ?? 0;
      c.topology.alignmentOffset = t?.alignmentOffset ?? 0;
      c.topology.minIoSize = t?.minIoSize ?? 1;
      c.topology.optIoSize = t?.optIoSize ?? 0;
      c.writeback = this.#writebackDefault;
      c.numQueues = queues;
      c.maxDiscardSectors = this.#dwz.maxSectors;
      c.maxDiscardSeg = this.#dwz.maxSeg;
      c.discardSectorAlignment = blocks;
      c.maxWriteZeroesSectors = this.#dwz.maxSectors;
      c.maxWriteZeroesSeg = this.#dwz.maxSeg;
      c.writeZeroesMayUnmap = this.storage.canUnmap ? 1 : 0;
    });
  }

  /** Size of `virtio_blk_config`. */
  get configSize(): number {
    return this.config.size;
  }

  /** The config generation. */
  get configGeneration(): number {
    return this.config.generation;
  }

  /** The cache mode: true for writeback (`writeback` = 1). */
  get writeback(): boolean {
    return this.#cfg.writeback !== 0;
  }

  /**
   * Change the capacity (5.2.6.2: the device MAY, and then SHOULD send a
   * configuration change notification, which this does). At most what the
   * storage holds; requests are checked against the new value at once.
   */
  setCapacity(sectors: number): void {
    const max = Math.floor(this.storage.size / this.blkSize) * (this.blkSize / SECTOR_SIZE);
    if (!Number.isSafeInteger(sectors) || sectors < 0 || sectors > max) {
      throw new DeviceError(`virtio-blk: capacity ${sectors} sectors (0..${max})`, {
        code: "ERR_VIRTIO_DEVICE_BLK_CAPACITY",
      });
    }
    this.#capacity = sectors;
    this.config.update(() => this.#cfg.capacity = BigInt(sectors));
    this.#ctx?.configChanged();
  }

  /** Reads config bytes. */
  readConfig(offset: number, width: ConfigWidth): number {
    return this.config.read(offset, width);
  }

  /**
   * Only `writeback` is writable, and only with `VIRTIO_BLK_F_CONFIG_WCE`
   * (5.2.6.1): 0 selects writethrough, anything else writeback. Other writes are ignored.
   */
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    if (offset !== WRITEBACK_OFFSET || width !== 1) return;
    // Before DRIVER_OK the negotiated set is not known yet: accept the write.
    if (this.#ctx !== undefined && !this.#has(VIRTIO_BLK_F_CONFIG_WCE)) return;
    this.#cfg.writeback = value & 0xff ? 1 : 0;
  }

  /** Starts serving. */
  activate(ctx: DeviceContext): void {
    this.#ctx = ctx;
    this.#negotiated = ctx.features;
    this.#flushNegotiated = this.#has(VIRTIO_BLK_F_FLUSH);
    this.#wceNegotiated = this.#has(VIRTIO_BLK_F_CONFIG_WCE);
    // 5.2.5.2: CONFIG_WCE without FLUSH means writethrough.
    if (this.#has(VIRTIO_BLK_F_CONFIG_WCE) && !this.#has(VIRTIO_BLK_F_FLUSH)) {
      this.#cfg.writeback = 0;
    }
  }

  /** Drops the context (in-flight asynchronous requests complete into nothing). */
  reset(): void {
    this.#ctx = undefined;
    this.#negotiated = 0n;
    this.#flushNegotiated = false;
    this.#wceNegotiated = false;
    this.#cfg.writeback = this.#writebackDefault;
    this.#busy.fill(false);
    this.#again.fill(false);
  }

  /** Serves every available request of queue `index`. */
  queueNotify(index: number): void {
    const ctx = this.#ctx;
    const q = ctx?.queues[index];
    if (ctx === undefined || q === undefined) return;
    // A completion callback that kicks again lands here: let the running loop pick it up.
    if (this.#busy[index]) {
      this.#again[index] = true;
      return;
    }
    this.#busy[index] = true;
    try {
      let ok: boolean;
      do {
        this.#again[index] = false;
        ok = serveQueue(ctx, index, this.#server);
      } while (ok && this.#again[index] && this.#ctx === ctx);
    } finally {
      this.#busy[index] = false;
    }
  }

  #has(feature: number): boolean {
    return (this.#negotiated & bit(feature)) !== 0n;
  }

  /** 5.2.6.2: are completed writes to be stable before completion? */
  #writethrough(): boolean {
    // The two feature bits as booleans taken at activation: no bigint work per write.
    const flush = this.#flushNegotiated;
    const wce = this.#wceNegotiated;
    return (!flush && !wce) || (wce && this.#cfg.writeback === 0);
  }

  /**
   * Byte offset of a request at `sector` of `bytes` bytes, or -1 when it is
   * not whole logical blocks inside the capacity. `sector` is a copy the
   * device owns (read once from the chain).
   */
  #range(sector: number, bytes: number): number {
    // Checked first, so that sector * 512 stays far below 2^53.
    if (!(sector <= this.#capacity)) return -1;
    const off = sector * SECTOR_SIZE;
    if (off % this.blkSize !== 0 || bytes % this.blkSize !== 0) return -1;
    if (off + bytes > this.#capacity * SECTOR_SIZE) return -1;
    return off;
  }

  /**
   * Serves one request. Returns the used length (bytes written into the
   * chain, status included) when it completed synchronously, or -1 when it
   * completes later ({@link CHAIN_HELD}).
   */
  #serve(ctx: DeviceContext, q: DeviceQueue, c: DescriptorChain): number {
    if (c.writableLength < 1) {
      // 5.2.6: the status byte is the last device-writable byte; without one the chain is malformed.
      ctx.needsReset(
        new DeviceError(`virtio-blk: queue ${q.index} request ${c.head} has no status byte`, {
          code: "ERR_VIRTIO_DEVICE_BLK_NO_STATUS",
        }),
      );
      return 0;
    }
    const statusAt = c.writableLength - 1;
    // The header, copied once: the driver may rewrite guest memory while we work.
    if (c.read(0, this.#hdrBytes) < VirtioBlkOuthdr.SIZE) {
      return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    }
    const type = this.#hdr.type;
    const sector = this.#hdr.sector;
    try {
      switch (type) {
        case VIRTIO_BLK_T_IN:
          return this.#read(ctx, q, c, statusAt, sector);
        case VIRTIO_BLK_T_OUT:
          return this.#write(ctx, q, c, statusAt, sector);
        case VIRTIO_BLK_T_FLUSH:
        case VIRTIO_BLK_T_FLUSH_OUT:
          // Writes held in this pass complete first: the flush covers them.
          if (this.#held !== undefined && this.#held.size > 0) this.#endPass(q);
          return this.#after(ctx, q, c, statusAt, this.storage.flush(), 0, "flushes");
        case VIRTIO_BLK_T_GET_ID: {
          const n = Math.min(VIRTIO_BLK_ID_BYTES, statusAt);
          c.write(0, this.#id, 0, n);
          this.#stats.other++;
          return this.#finish(c, statusAt, VIRTIO_BLK_S_OK, n);
        }
        case VIRTIO_BLK_T_GET_LIFETIME:
          return this.#getLifetime(c, statusAt);
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES:
          return this.#discardWriteZeroes(ctx, q, c, statusAt, type === VIRTIO_BLK_T_DISCARD);
        default:
          this.#stats.other++;
          return this.#finish(c, statusAt, VIRTIO_BLK_S_UNSUPP, 0);
      }
    } catch {
      // A storage call that threw synchronously (an I/O error).
      return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    }
  }

  /** Writes the status byte; returns the used length. */
  #finish(c: DescriptorChain, statusAt: number, status: number, written: number): number {
    if (status !== VIRTIO_BLK_S_OK) this.#stats.errors++;
    c.writeUint8(statusAt, status);
    return written + 1;
  }

  /** Completes `c` once `pending` settles (or at once when nothing is pending). */
  #after(
    ctx: DeviceContext,
    q: DeviceQueue,
    c: DescriptorChain,
    statusAt: number,
    pending: unknown,
    written: number,
    stat: "reads" | "writes" | "flushes" | "discards" | "writeZeroes",
    copyIn?: () => void,
  ): number {
    if (!(pending instanceof Promise)) {
      // Asynchronous storage may still complete at once: its bytes are in our buffer.
      copyIn?.();
      this.#stats[stat]++;
      return this.#finish(c, statusAt, VIRTIO_BLK_S_OK, written);
    }
    const index = q.index;
    this.#inProgress[index]++;
    pending.then(
      () => {
        this.#inProgress[index]--;
        if (!this.#live(ctx, q)) return;
        copyIn?.();
        this.#stats[stat]++;
        completeUsed(ctx, q, c, this.#finish(c, statusAt, VIRTIO_BLK_S_OK, written));
      },
      () => {
        this.#inProgress[index]--;
        if (!this.#live(ctx, q)) return;
        completeUsed(ctx, q, c, this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0));
      },
    );
    return CHAIN_HELD;
  }

  /** Requests of queue `index` waiting for asynchronous storage (see {@link VirtioDevice.inProgress}). */
  inProgress(index: number): number {
    return this.#inProgress[index] ?? 0;
  }

  #live(ctx: DeviceContext, q: DeviceQueue): boolean {
    return this.#ctx === ctx && ctx.queues[q.index] === q;
  }

  #read(
    ctx: DeviceContext,
    q: DeviceQueue,
    c: DescriptorChain,
    statusAt: number,
    sector: number,
  ): number {
    const len = statusAt;
    const off = this.#range(sector, len);
    if (off < 0) return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    if (this.storage.isAsync) {
      // Read into our own buffer: guest memory is only written while the request is live.
      const bounce = new Uint8Array(len);
      const p = this.storage.read(off, bounce);
      return this.#after(ctx, q, c, statusAt, p, len, "reads", () => c.write(0, bounce));
    }
    // Straight into guest memory: one call for every segment with `readv`
    // (one preadv for PosixFileStorage), else one `read` per segment.
    const segs = this.#segments;
    c.writableViews(0, len, segs);
    if (this.#held !== undefined && this.#batching(q)) {
      this.#held.hold(c, statusAt, len, false, segs, off);
      return CHAIN_HELD;
    }
    let p: unknown;
    try {
      p = this.storage.readv !== undefined
        ? this.storage.readv(off, segs)
        : perSegment(this.storage, off, segs, false);
    } finally {
      dropViews(segs);
    }
    return this.#after(ctx, q, c, statusAt, p, len, "reads");
  }

  #write(
    ctx: DeviceContext,
    q: DeviceQueue,
    c: DescriptorChain,
    statusAt: number,
    sector: number,
  ): number {
    // 5.2.6.2: no data is written to a read-only device.
    if (this.readOnly) return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    const len = c.readableLength - VirtioBlkOuthdr.SIZE;
    const off = this.#range(sector, len);
    if (off < 0) return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    const stable = this.#writethrough();
    if (this.storage.isAsync) {
      const bounce = new Uint8Array(len);
      c.read(VirtioBlkOuthdr.SIZE, bounce);
      const p = Promise.resolve(this.storage.write(off, bounce)).then(() =>
        stable ? this.storage.flush() : undefined
      );
      return this.#after(ctx, q, c, statusAt, p, 0, "writes");
    }
    const segs = this.#segments;
    c.readableViews(VirtioBlkOuthdr.SIZE, len, segs);
    // Stable writes are written and flushed at once, outside the batch.
    if (this.#held !== undefined && !stable && this.#batching(q)) {
      this.#held.hold(c, statusAt, 0, true, segs, off);
      return CHAIN_HELD;
    }
    let p: unknown;
    try {
      p = this.storage.writev !== undefined
        ? this.storage.writev(off, segs)
        : perSegment(this.storage, off, segs, true);
    } finally {
      dropViews(segs);
    }
    if (stable) {
      p = p instanceof Promise ? p.then(() => this.storage.flush()) : this.storage.flush();
    }
    return this.#after(ctx, q, c, statusAt, p, 0, "writes");
  }

  /**
   * True when a read or write of this pass goes to the storage's batch: once
   * a chain is held, and for the first one when the driver has published
   * more. A request alone (depth 1) is served at once: a batch of one saves
   * nothing and costs its bookkeeping.
   */
  #batching(q: DeviceQueue): boolean {
    return (this.#held as HeldBatch).size > 0 || q.hasAvailable();
  }

  /** Runs the held batch and stages its chains as used on `q`; returns how many. */
  #endPass(q: DeviceQueue): number {
    return (this.#held as HeldBatch).end(q, this.#answerHeld);
  }

  #getLifetime(c: DescriptorChain, statusAt: number): number {
    this.#stats.other++;
    if (this.#lifetime === undefined || !this.#has(VIRTIO_BLK_F_LIFETIME)) {
      return this.#finish(c, statusAt, VIRTIO_BLK_S_UNSUPP, 0);
    }
    if (statusAt < VirtioBlkLifetime.SIZE) return this.#finish(c, statusAt, VIRTIO_BLK_S_IOERR, 0);
    const lt = this.#lifetime();
    // 5.2.6.2: never send reserved values.
    const out = this.#lifetimeOut;
    out.preEolInfo = lt.preEolInfo >= 0 && lt.preEolInfo <= 3 ? lt.preEolInfo : 0;
    const a = lt.deviceLifetimeEstTypA;
    const b = lt.deviceLifetimeEstTypB;
    out.deviceLifetimeEstTypA = a >= 0 && a <= 11 ? a : 0;
    out.deviceLifetimeEstTypB = b >= 0 && b <= 11 ? b : 0;
    c.write(0, this.#lifetimeBytes);
    return this.#finish(c, statusAt, VIRTIO_BLK_S_OK, VirtioBlkLifetime.SIZE);
  }

  #discardWriteZeroes(
    ctx: DeviceContext,
    q: DeviceQueue,
    c: DescriptorChain,
    statusAt: number,
    discard: boolean,
  ): number {
    if (!this.#has(discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)) {
      this.#stats.other++;
      return this.#finish(c, statusAt, VIRTIO_BLK_S_UNSUPP, 0);
    }
    const dwz = this.#dwz;
    const status = dwz.check(c, discard, this.readOnly, this.#rangeOf);
    if (status !== VIRTIO_BLK_S_OK) return this.#finish(c, statusAt, status, 0);
    let p: unknown = dwz.run(this.storage, discard);
    if (!discard && this.#writethrough()) {
      p = p instanceof Promise ? p.then(() => this.storage.flush()) : this.storage.flush();
    }
    return this.#after(ctx, q, c, statusAt, p, 0, discard ? "discards" : "writeZeroes");
  }
}

/**
 * Empties the reused list of views by popping: setting its length to 0
 * would free its backing store, and the next request's views would
 * allocate a new one.
 */
function dropViews(segs: Uint8Array[]): void {
  while (segs.length > 0) segs.pop();
}
