/**
 * The virtio-blk driver (spec 5.2, driver side): a {@link VirtioDriver} for
 * the bus, and {@link BlkDisk}, the friendly face of one bound device, with
 * promise-returning `read`, `write`, `flush`, `discard`, `writeZeroes`,
 * `getId` and `getLifetime`. Many requests may be in flight at once, spread
 * over every request queue (`VIRTIO_BLK_F_MQ`); requests beyond the free
 * descriptors wait in order. Large transfers are split by `size_max`,
 * `seg_max` and a per-request cap.
 *
 * Every request lives in one DMA allocation: the header (`virtio_blk_outhdr`), the data
 * and the status byte, handed to the device as header (readable), data
 * (readable for writes, writable for reads) and status (writable).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { BlkDevice, MemoryStorage } from "./device.ts";
 * import { blkDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(64 * 1024)) });
 * const driver = blkDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probeMmio(new MmioDevice(device, memory))!);
 * const disk = await driver.nextDisk();
 *
 * await disk.write(8, new Uint8Array(512).fill(7));
 * const back = new Uint8Array(512);
 * await disk.read(8, back);
 * assert.equal(back[511], 7);
 * assert.equal(disk.capacity, 128);
 * ```
 *
 * @module
 */

import {
  type Completion,
  type DriverDevice,
  ERR_VIRTIO_DEVICE_REMOVED,
  type VirtioDriver,
  type Virtqueue,
} from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
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
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_GET_LIFETIME,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlkConfig,
  VirtioBlkDiscardWriteZeroes,
  VirtioBlkLifetime,
  VirtioBlkOuthdr,
} from "../../generated/devices/blk.ts";
import { VIRTIO_ID_BLOCK } from "../../generated/common.ts";
import { Arrivals } from "../_arrivals.ts";
import { type BlkGeometry, type BlkTopology, SECTOR_SIZE, VIRTIO_BLK_ID_BYTES } from "./device.ts";
import type { BlkLifetime } from "./storage.ts";

/** A request the device completed with a status other than `VIRTIO_BLK_S_OK`. */
export class BlkRequestError extends DeviceError {
  /** The default code of this class: `ERR_VIRTIO_DEVICE_BLK_STATUS`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_DEVICE_BLK_STATUS";
  /** The status byte (`VIRTIO_BLK_S_IOERR`, `VIRTIO_BLK_S_UNSUPP`...). */
  readonly status: number;
  /** The request type. */
  readonly type: number;
  /** Creates the error for a request `type` that ended with `status`. */
  constructor(type: number, status: number, message: string) {
    super(message, { code: statusCode(status) });
    this.type = type;
    this.status = status;
  }
}

/**
 * The code of a {@link BlkRequestError} for a status byte:
 * `ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR`, `..._UNSUPP`, or `ERR_VIRTIO_DEVICE_BLK_STATUS`
 * for any other value.
 */
function statusCode(status: number): string {
  if (status === VIRTIO_BLK_S_IOERR) return "ERR_VIRTIO_DEVICE_BLK_STATUS_IOERR";
  if (status === VIRTIO_BLK_S_UNSUPP) return "ERR_VIRTIO_DEVICE_BLK_STATUS_UNSUPP";
  return BlkRequestError.defaultCode;
}

/** One range of a discard or write-zeroes request. */
export interface BlkRange {
  /** First 512-byte sector. */
  readonly sector: number;
  /** Number of sectors. */
  readonly count: number;
}

/** What a raw request returns: the status and the bytes the device wrote. */
export interface BlkRawResult {
  /** The status byte. */
  readonly status: number;
  /** The bytes before the status that the device wrote (the request's writable data). */
  readonly data: Uint8Array;
  /** The used length the device reported. */
  readonly usedLen: number;
}

/** A raw request, for callers that build requests themselves (tests, extensions). */
export interface BlkRawRequest {
  /** `VIRTIO_BLK_T_*`. */
  readonly type: number;
  /** The `sector` field (default 0). */
  readonly sector?: number;
  /** Device-readable data after the header. */
  readonly out?: Uint8Array;
  /** Bytes of device-writable data before the status byte (default 0). */
  readonly inLen?: number;
  /** The queue to use (default: round robin). */
  readonly queue?: number;
}

/** Options of {@link blkDriver}. */
export interface BlkDriverOptions {
  /** Use at most this many request queues (default: every queue the device has). */
  readonly maxQueues?: number;
  /** Queue size to ask for (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Largest data bytes of one request; bigger transfers are split (default 256 KiB). */
  readonly maxRequestBytes?: number;
  /** Feature bits to refuse (for tests of a driver that does not know them). */
  readonly refuseFeatures?: readonly number[];
}

/**
 * The driver's per-request state, handed to {@link Virtqueue.submit} as
 * the request's {@link Completion}; reused from a pool.
 */
export interface BlkPending extends Completion {
  /** Request type. */
  type: number;
  /** Guest address of the request's DMA allocation (header, data, status). */
  addr: number;
  /** Bytes of data between header and status. */
  dataLen: number;
  /** True when the data is device-writable (a read). */
  dataIn: boolean;
  /** Where read data goes; undefined for a raw request (data copied into the result). */
  dst: Uint8Array | undefined;
  /**
   * Fail with {@link BlkRequestError} on a status other than OK, else
   * resolve with `undefined`; when false, resolve with the result.
   */
  check: boolean;
  /** The request's sector, for error messages. */
  sector: number;
  /** True when {@link BlkPending.addr} is one of the disk's reusable 4 KiB slots. */
  pooled: boolean;
  /** Settles the request's promise (with `undefined` for a checked request). */
  resolve: (r: BlkRawResult | undefined) => void;
  /** Fails the request's promise. */
  reject: (e: unknown) => void;
  /** Reused device-readable scatter list (its elements are reused too). */
  sgsOut: BlkSg[];
  /** Reused device-writable scatter list (its elements are reused too). */
  sgsIn: BlkSg[];
}

/** A scatter-list element (the engine's `Sg`) the driver rewrites for each request that reuses it. */
export interface BlkSg {
  /** Guest-physical address. */
  addr: number;
  /** Length in bytes. */
  len: number;
}

/** One virtio-blk device as the driver sees it. */
export class BlkDisk {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** The request queues (request queues: requests go in with {@link Virtqueue.submit}). */
  readonly queues: readonly Virtqueue[];
  /** Logical block size in bytes (512 without `VIRTIO_BLK_F_BLK_SIZE`). */
  readonly blkSize: number;
  /** Geometry, with `VIRTIO_BLK_F_GEOMETRY`. */
  readonly geometry: BlkGeometry | undefined;
  /** Topology, with `VIRTIO_BLK_F_TOPOLOGY`. */
  readonly topology: BlkTopology | undefined;
  /** True when the device is read-only (`VIRTIO_BLK_F_RO`). */
  readonly readOnly: boolean;
  /** Largest bytes of one data segment (`size_max`, or unlimited). */
  readonly sizeMax: number;
  /** Most data segments per request (`seg_max`, or bounded by the queue). */
  readonly segMax: number;
  /** Most sectors of one discard / write-zeroes segment. */
  readonly maxDiscardSectors: number;
  /** Most segments of one discard request. */
  readonly maxDiscardSeg: number;
  /** Most sectors of one write-zeroes segment. */
  readonly maxWriteZeroesSectors: number;
  /** Most segments of one write-zeroes request. */
  readonly maxWriteZeroesSeg: number;
  /** True when write zeroes with unmap may deallocate. */
  readonly writeZeroesMayUnmap: boolean;
  /** Requests completed. */
  get completed(): number {
    return this.#completed;
  }
  #completed = 0;
  #capacity = 0;
  #maxReq: number;
  #next = 0;
  #waiting: { tryAdd: () => boolean; reject: (e: unknown) => void }[] = [];
  #kickScheduled: boolean[];
  readonly #kicks: (() => void)[];
  #dead = false;
  #pumpScheduled = false;
  #pool: BlkPending[] = [];
  #slots: number[] = [];
  #allSlots: number[] = [];
  #onConfig: (() => void) | undefined;
  // The header of each request is built here, then copied into its DMA memory.
  readonly #hdrBytes = new Uint8Array(VirtioBlkOuthdr.SIZE);
  readonly #hdr = new VirtioBlkOuthdr(new DataView(this.#hdrBytes.buffer));

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: BlkDriverOptions) {
    this.dev = dev;
    const has = (f: number) => dev.hasFeature(f);
    const cfg = new VirtioBlkConfig(dev.configSnapshot(VirtioBlkConfig.SIZE));
    this.#capacity = Number(cfg.capacity);
    this.blkSize = has(VIRTIO_BLK_F_BLK_SIZE) && cfg.blkSize >= SECTOR_SIZE
      ? cfg.blkSize
      : SECTOR_SIZE;
    this.geometry = has(VIRTIO_BLK_F_GEOMETRY)
      ? {
        cylinders: cfg.geometry.cylinders,
        heads: cfg.geometry.heads,
        sectors: cfg.geometry.sectors,
      }
      : undefined;
    this.topology = has(VIRTIO_BLK_F_TOPOLOGY)
      ? {
        physicalBlockExp: cfg.topology.physicalBlockExp,
        alignmentOffset: cfg.topology.alignmentOffset,
        minIoSize: cfg.topology.minIoSize,
        optIoSize: cfg.topology.optIoSize,
      }
      : undefined;
    this.readOnly = has(VIRTIO_BLK_F_RO);
    this.sizeMax = has(VIRTIO_BLK_F_SIZE_MAX) && cfg.sizeMax > 0 ? cfg.sizeMax : 0xffffffff;
    const discard = has(VIRTIO_BLK_F_DISCARD);
    const wz = has(VIRTIO_BLK_F_WRITE_ZEROES);
    this.maxDiscardSectors = discard ? cfg.maxDiscardSectors : 0;
    this.maxDiscardSeg = discard ? Math.max(1, cfg.maxDiscardSeg) : 0;
    this.maxWriteZeroesSectors = wz ? cfg.maxWriteZeroesSectors : 0;
    this.maxWriteZeroesSeg = wz ? Math.max(1, cfg.maxWriteZeroesSeg) : 0;
    this.writeZeroesMayUnmap = wz && cfg.writeZeroesMayUnmap !== 0;
    let nq = has(VIRTIO_BLK_F_MQ) ? Math.max(1, cfg.numQueues) : 1;
    if (options.maxQueues !== undefined) nq = Math.max(1, Math.min(nq, options.maxQueues));
    this.queues = dev.findVqs(
      // Direct descriptors while the ring has room: a 4 KiB request is three
      // of them, and a table per request would cost an allocation and a free.
      Array.from({ length: nq }, (_, i) => ({
        name: `req.${i}`,
        size: options.queueSize,
        preferDirect: true,
      })),
    );
    this.#kickScheduled = this.queues.map(() => false);
    // One kick function per queue, made once (not a closure per batch).
    this.#kicks = this.queues.map((vq, qi) => () => {
      this.#kickScheduled[qi] = false;
      if (!vq.broken) vq.kick();
    });
    // Two descriptors go to header and status (5.2.6); without indirect tables the ring bounds the rest.
    const ringSegs = Math.max(1, this.queues[0].size - 2);
    this.segMax = has(VIRTIO_BLK_F_SEG_MAX) && cfg.segMax > 0
      ? Math.min(cfg.segMax, 1024)
      : ringSegs;
    const bySegs = Math.min(this.segMax, ringSegs) * Math.min(this.sizeMax, 1 << 30);
    const cap = Math.min(options.maxRequestBytes ?? 256 * 1024, bySegs);
    this.#maxReq = Math.max(this.blkSize, cap - (cap % this.blkSize));
  }

  /** Capacity in 512-byte sectors (re-read on a configuration change). */
  get capacity(): number {
    return this.#capacity;
  }

  /** The cache mode (`writeback`), with `VIRTIO_BLK_F_CONFIG_WCE`; else derived from `FLUSH`. */
  get writeback(): boolean {
    if (this.dev.hasFeature(VIRTIO_BLK_F_CONFIG_WCE)) {
      return this.dev.readConfig((c) => c.u8(VirtioBlkConfig.OFFSETS.writeback)) !== 0;
    }
    return this.dev.hasFeature(VIRTIO_BLK_F_FLUSH);
  }

  /** Switch the cache mode (needs `VIRTIO_BLK_F_CONFIG_WCE`). */
  setWriteback(on: boolean): void {
    if (!this.dev.hasFeature(VIRTIO_BLK_F_CONFIG_WCE)) {
      throw new DeviceError(`${this.dev.name}: VIRTIO_BLK_F_CONFIG_WCE was not negotiated`, {
        code: FEATURE,
      });
    }
    this.dev.writeConfig(VirtioBlkConfig.OFFSETS.writeback, 1, on ? 1 : 0);
  }

  /** Was feature `n` (a `VIRTIO_BLK_F_*` bit number) negotiated? */
  hasFeature(n: number): boolean {
    return this.dev.hasFeature(n);
  }

  /** Called on a configuration change, after the capacity is re-read. */
  onConfigChange(callback: (() => void) | undefined): void {
    this.#onConfig = callback;
  }

  /** Reads `buf.length` bytes (whole logical blocks) from 512-byte `sector`. */
  read(sector: number, buf: Uint8Array): Promise<void> {
    try {
      this.#checkRange(sector, buf.length, "read");
    } catch (e) {
      return Promise.reject(e);
    }
    // One request in the common case: no promise beyond the request's own.
    if (buf.length <= this.#maxReq) return this.#io(VIRTIO_BLK_T_IN, sector, undefined, buf);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < buf.length; done += this.#maxReq) {
      const n = Math.min(this.#maxReq, buf.length - done);
      const dst = buf.subarray(done, done + n);
      parts.push(this.#io(VIRTIO_BLK_T_IN, sector + done / SECTOR_SIZE, undefined, dst));
    }
    return Promise.all(parts).then(() => {});
  }

  /** Writes `buf` (whole logical blocks) at 512-byte `sector`. */
  write(sector: number, buf: Uint8Array): Promise<void> {
    try {
      if (this.readOnly) throw this.#readOnlyError();
      this.#checkRange(sector, buf.length, "write");
    } catch (e) {
      return Promise.reject(e);
    }
    if (buf.length <= this.#maxReq) return this.#io(VIRTIO_BLK_T_OUT, sector, buf, undefined);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < buf.length; done += this.#maxReq) {
      const n = Math.min(this.#maxReq, buf.length - done);
      const src = buf.subarray(done, done + n);
      parts.push(this.#io(VIRTIO_BLK_T_OUT, sector + done / SECTOR_SIZE, src, undefined));
    }
    return Promise.all(parts).then(() => {});
  }

  /** Makes completed writes durable (`VIRTIO_BLK_T_FLUSH`). */
  async flush(): Promise<void> {
    await this.#io(VIRTIO_BLK_T_FLUSH, 0, undefined, undefined);
  }

  /** Discards `count` sectors at `sector`, or several ranges at once. */
  async discard(sector: number | readonly BlkRange[], count: number = 0): Promise<void> {
    if (!this.dev.hasFeature(VIRTIO_BLK_F_DISCARD)) {
      throw new DeviceError(`${this.dev.name}: VIRTIO_BLK_F_DISCARD was not negotiated`, {
        code: FEATURE,
      });
    }
    const ranges = typeof sector === "number" ? [{ sector, count }] : sector;
    await this.#dwz(VIRTIO_BLK_T_DISCARD, ranges, false);
  }

  /** Zeroes `count` sectors at `sector` (or ranges); `unmap` lets the device deallocate them. */
  async writeZeroes(
    sector: number | readonly BlkRange[],
    count: number = 0,
    options: { unmap?: boolean } = {},
  ): Promise<void> {
    if (!this.dev.hasFeature(VIRTIO_BLK_F_WRITE_ZEROES)) {
      throw new DeviceError(`${this.dev.name}: VIRTIO_BLK_F_WRITE_ZEROES was not negotiated`, {
        code: FEATURE,
      });
    }
    const ranges = typeof sector === "number" ? [{ sector, count }] : sector;
    await this.#dwz(VIRTIO_BLK_T_WRITE_ZEROES, ranges, options.unmap ?? false);
  }

  /** The device ID string (`VIRTIO_BLK_T_GET_ID`), without NUL padding. */
  async getId(): Promise<string> {
    const data = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    await this.#io(VIRTIO_BLK_T_GET_ID, 0, undefined, data);
    const end = data.indexOf(0);
    return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
  }

  /** Lifetime metrics (`VIRTIO_BLK_T_GET_LIFETIME`, needs `VIRTIO_BLK_F_LIFETIME`). */
  async getLifetime(): Promise<BlkLifetime> {
    if (!this.dev.hasFeature(VIRTIO_BLK_F_LIFETIME)) {
      throw new DeviceError(`${this.dev.name}: VIRTIO_BLK_F_LIFETIME was not negotiated`, {
        code: FEATURE,
      });
    }
    const data = new Uint8Array(VirtioBlkLifetime.SIZE);
    await this.#io(VIRTIO_BLK_T_GET_LIFETIME, 0, undefined, data);
    const lt = new VirtioBlkLifetime(new DataView(data.buffer));
    return {
      preEolInfo: lt.preEolInfo,
      deviceLifetimeEstTypA: lt.deviceLifetimeEstTypA,
      deviceLifetimeEstTypB: lt.deviceLifetimeEstTypB,
    };
  }

  /**
   * Sends a request as given, without the driver's checks, and returns the
   * status instead of throwing on it. For tests and request types this class
   * does not wrap.
   */
  rawRequest(req: BlkRawRequest): Promise<BlkRawResult> {
    // Unchecked: it resolves with the result, never with `undefined`.
    return this.#submit(
      req.type,
      req.sector ?? 0,
      req.out,
      req.inLen ?? 0,
      req.queue,
    ) as Promise<BlkRawResult>;
  }

  /** Re-reads the capacity (on a configuration change). */
  refresh(): void {
    this.#capacity = Number(this.dev.readConfig((c) => c.le64(VirtioBlkConfig.OFFSETS.capacity)));
    this.#onConfig?.();
  }

  /**
   * Tears the disk down: the device is going away. Outstanding requests
   * failed already, when the bus broke the queues (`ERR_VIRTIO_DEVICE_REMOVED`).
   */
  detach(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.dev.reset();
    this.#failWaiting(this.#brokenError());
    this.dev.delVqs(); // reclaims every request's memory
    const { dma } = this.dev.dmaContext;
    for (const a of this.#allSlots.splice(0)) dma.free(a);
    this.#slots.length = 0;
  }

  /** Why no request can be made (the queues' error), or a generic one. */
  #brokenError(): DeviceError {
    return this.queues[0].brokenError ??
      new DeviceError(`${this.dev.name}: device is gone`, { code: ERR_VIRTIO_DEVICE_REMOVED });
  }

  #failWaiting(err: DeviceError): void {
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }

  #readOnlyError(): DeviceError {
    return new DeviceError(`${this.dev.name}: the device is read-only (VIRTIO_BLK_F_RO)`, {
      code: "ERR_VIRTIO_DEVICE_BLK_READ_ONLY",
    });
  }

  /** Checks a request's arguments; each cause has its own code and message. */
  #checkRange(sector: number, len: number, what: string): void {
    const bad = !Number.isSafeInteger(sector) || sector < 0 || len % this.blkSize !== 0 ||
      (sector * SECTOR_SIZE) % this.blkSize !== 0 ||
      sector * SECTOR_SIZE + len > this.#capacity * SECTOR_SIZE;
    // The message is built only for a request that fails (not on every request).
    if (bad) throw this.#rangeError(sector, len, what);
  }

  /** The error of {@link BlkDisk.#checkRange}, by the first check that fails. */
  #rangeError(sector: number, len: number, what: string): ArgumentError {
    const at = `${this.dev.name}: ${what} of ${len} bytes at sector ${sector}`;
    if (!Number.isSafeInteger(sector) || sector < 0) {
      return new ArgumentError(`${at}: the sector is not an integer from 0`, {
        code: "ERR_VIRTIO_ARGUMENT_BLK_SECTOR",
      });
    }
    if (len % this.blkSize !== 0) {
      return new ArgumentError(
        `${at}: the length is not a multiple of the ${this.blkSize}-byte logical block`,
        { code: "ERR_VIRTIO_ARGUMENT_BLK_LENGTH" },
      );
    }
    if ((sector * SECTOR_SIZE) % this.blkSize !== 0) {
      return new ArgumentError(
        `${at}: the sector is not on a ${this.blkSize}-byte logical block boundary`,
        { code: "ERR_VIRTIO_ARGUMENT_BLK_ALIGNMENT" },
      );
    }
    // 5.2.6.1: a driver must not go past the capacity.
    return new ArgumentError(`${at}: past the capacity of ${this.#capacity} sectors`, {
      code: "ERR_VIRTIO_ARGUMENT_BLK_CAPACITY",
    });
  }

  async #dwz(type: number, ranges: readonly BlkRange[], unmap: boolean): Promise<void> {
    const discard = type === VIRTIO_BLK_T_DISCARD;
    const maxSectors = discard ? this.maxDiscardSectors : this.maxWriteZeroesSectors;
    const maxSeg = discard ? this.maxDiscardSeg : this.maxWriteZeroesSeg;
    if (this.readOnly) throw this.#readOnlyError();
    // Split ranges by the per-segment maximum, then group segments by the per-request maximum.
    const segs: BlkRange[] = [];
    for (const r of ranges) {
      this.#checkRange(r.sector, r.count * SECTOR_SIZE, discard ? "discard" : "write zeroes");
      for (let s = 0; s < r.count; s += maxSectors) {
        segs.push({ sector: r.sector + s, count: Math.min(maxSectors, r.count - s) });
      }
    }
    const parts: Promise<unknown>[] = [];
    for (let i = 0; i < segs.length; i += maxSeg) {
      const group = segs.slice(i, i + maxSeg);
      const data = new Uint8Array(group.length * VirtioBlkDiscardWriteZeroes.SIZE);
      const seg = new VirtioBlkDiscardWriteZeroes(new DataView(data.buffer));
      group.forEach((g, k) => {
        seg.at(k * VirtioBlkDiscardWriteZeroes.SIZE);
        seg.sector = g.sector;
        seg.numSectors = g.count;
        seg.flags = 0;
        seg.unmap = unmap ? 1 : 0;
      });
      parts.push(this.#io(type, 0, data, undefined));
    }
    await Promise.all(parts);
  }

  /** A request that fails with {@link BlkRequestError} unless the status is OK; reads land in `dst`. */
  #io(
    type: number,
    sector: number,
    out: Uint8Array | undefined,
    dst: Uint8Array | undefined,
  ): Promise<void> {
    // Checked: it resolves with `undefined`.
    return this.#submit(type, sector, out, dst?.length ?? 0, undefined, dst, true) as Promise<
      void
    >;
  }

  #submit(
    type: number,
    sector: number,
    out: Uint8Array | undefined,
    inLen: number,
    queue: number | undefined,
    dst?: Uint8Array,
    check: boolean = false,
  ): Promise<BlkRawResult | undefined> {
    if (this.#dead || this.queues[0].broken) return Promise.reject(this.#brokenError());
    return new Promise<BlkRawResult | undefined>((resolve, reject) => {
      const p = this.#pool.pop() ?? this.#newPending(resolve, reject);
      const dataLen = out?.length ?? inLen;
      p.type = type;
      p.dataLen = dataLen;
      p.dataIn = out === undefined;
      p.dst = dst;
      p.check = check;
      p.sector = sector;
      p.resolve = resolve;
      p.reject = reject;
      if (this.#waiting.length > 0 || !this.#tryAdd(p, sector, out, queue)) {
        this.#waiting.push({ tryAdd: () => this.#tryAdd(p, sector, out, queue), reject });
      }
    });
  }

  /** Places request `p` on a queue with room; false when none has (it then waits). */
  #tryAdd(p: BlkPending, sector: number, out: Uint8Array | undefined, queue?: number): boolean {
    const { memory, dma } = this.dev.dmaContext;
    const dataSegs = p.dataLen === 0 ? 0 : Math.ceil(p.dataLen / this.sizeMax);
    const nOut = 1 + (p.dataIn ? 0 : dataSegs);
    const nIn = 1 + (p.dataIn ? dataSegs : 0);
    let qi = -1;
    const nq = this.queues.length;
    if (queue !== undefined) {
      if (this.queues[queue]?.queue.canAdd(nOut, nIn)) qi = queue;
    } else {
      for (let k = 0; k < nq; k++) {
        const i = (this.#next + k) % nq;
        if (this.queues[i].queue.canAdd(nOut, nIn)) {
          qi = i;
          break;
        }
      }
    }
    if (qi < 0) {
      if (this.queues.every((q) => q.queue.inFlight === 0)) {
        // Nothing will ever complete to make room: the request can never fit.
        p.reject(
          new DeviceError(`${this.dev.name}: a request of ${nOut + nIn} buffers never fits`, {
            code: "ERR_VIRTIO_DEVICE_BLK_TOO_BIG",
          }),
        );
        return true;
      }
      return false;
    }
    const total = VirtioBlkOuthdr.SIZE + p.dataLen + 1;
    const pooled = total <= SLOT_SIZE;
    let addr = pooled ? (this.#slots.pop() ?? -1) : -1;
    if (addr < 0) {
      addr = dma.tryAlloc(pooled ? SLOT_SIZE : total, pooled ? 64 : 8);
      if (addr >= 0 && pooled) this.#allSlots.push(addr);
    }
    if (addr < 0) {
      if (this.queues.every((q) => q.queue.inFlight === 0)) {
        p.reject(
          new DeviceError(`${this.dev.name}: no DMA memory for ${p.dataLen} bytes`, {
            code: "ERR_VIRTIO_DEVICE_BLK_NO_DMA",
          }),
        );
        return true;
      }
      return false;
    }
    this.#next = (qi + 1) % nq;
    p.addr = addr;
    p.pooled = pooled;
    const hdr = this.#hdr;
    hdr.type = p.type;
    hdr.reserved = 0;
    hdr.sector = sector;
    memory.write(addr, this.#hdrBytes);
    const status = addr + VirtioBlkOuthdr.SIZE + p.dataLen;
    memory.writeUint8(status, 0xff);
    if (out !== undefined) memory.write(addr + VirtioBlkOuthdr.SIZE, out);
    // The scatter lists and their elements are the request state's own, reused.
    const sgsOut = p.sgsOut;
    const sgsIn = p.sgsIn;
    let no = 0;
    let ni = 0;
    setSg(sgsOut, no++, addr, VirtioBlkOuthdr.SIZE);
    for (let o = 0; o < p.dataLen; o += this.sizeMax) {
      const a = addr + VirtioBlkOuthdr.SIZE + o;
      const l = Math.min(this.sizeMax, p.dataLen - o);
      if (p.dataIn) setSg(sgsIn, ni++, a, l);
      else setSg(sgsOut, no++, a, l);
    }
    setSg(sgsIn, ni++, status, 1);
    sgsOut.length = no;
    sgsIn.length = ni;
    const vq = this.queues[qi];
    vq.submit(sgsOut, sgsIn, p);
    this.#scheduleKick(qi);
    return true;
  }

  /** Kick once per batch: requests added in the same turn share one notification. */
  #scheduleKick(qi: number): void {
    if (this.#kickScheduled[qi]) return;
    this.#kickScheduled[qi] = true;
    queueMicrotask(this.#kicks[qi]);
  }

  /** A pooled request state whose completion callbacks are made once, here. */
  #newPending(
    resolve: (r: BlkRawResult | undefined) => void,
    reject: (e: unknown) => void,
  ): BlkPending {
    const p: BlkPending = {
      type: 0,
      addr: 0,
      dataLen: 0,
      dataIn: false,
      dst: undefined,
      check: false,
      sector: 0,
      pooled: false,
      resolve,
      reject,
      sgsOut: [],
      sgsIn: [],
      complete: (len) => this.#complete(p, len),
      fail: (err) => {
        p.reject(err);
        this.#failWaiting(err);
      },
      reclaim: () => this.#release(p),
    };
    return p;
  }

  /** Gives the request's memory back and returns its state to the pool. */
  #release(p: BlkPending): void {
    if (p.pooled) this.#slots.push(p.addr);
    else this.dev.dmaContext.dma.free(p.addr);
    p.dst = undefined;
    this.#pool.push(p);
  }

  #complete(p: BlkPending, len: number): void {
    const memory = this.dev.dmaContext.memory;
    const statusAt = p.addr + VirtioBlkOuthdr.SIZE + p.dataLen;
    const status = memory.readUint8(statusAt);
    let data = EMPTY;
    if (p.dataIn && p.dataLen > 0) {
      if (p.dst !== undefined) memory.read(p.addr + VirtioBlkOuthdr.SIZE, p.dst);
      else data = memory.bytes(p.addr + VirtioBlkOuthdr.SIZE, p.dataLen).slice();
    }
    this.#completed++;
    const { resolve, reject, check, type, sector } = p;
    this.#release(p);
    if (!check) resolve({ status, data, usedLen: len });
    // `undefined`, not an object: resolving with an object looks up its `then`.
    else if (status === VIRTIO_BLK_S_OK) resolve(undefined);
    else {
      reject(
        new BlkRequestError(
          type,
          status,
          `${this.dev.name}: request type ${type} at sector ${sector} failed with status ${status}`,
        ),
      );
    }
    if (this.#waiting.length > 0 && !this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(() => this.#pump());
    }
  }

  #pump(): void {
    this.#pumpScheduled = false;
    while (this.#waiting.length > 0 && !this.#dead) {
      if (!this.#waiting[0].tryAdd()) return;
      this.#waiting.shift();
    }
  }
}

/** Sets element `i` of `sgs` to `addr`/`len`, reusing the element there (adding one when none). */
function setSg(sgs: BlkSg[], i: number, addr: number, len: number): void {
  const sg = sgs[i];
  if (sg === undefined) sgs.push({ addr, len });
  else {
    sg.addr = addr;
    sg.len = len;
  }
}

const EMPTY = new Uint8Array(0);
/** Code of the error for a feature the device did not offer or the driver did not accept. */
const FEATURE = "ERR_VIRTIO_DEVICE_BLK_FEATURE";
/** A reusable DMA slot holds header, one 4 KiB block and the status byte. */
const SLOT_SIZE = 4160;

/** The blk driver plus the disks it has bound. */
export interface BlkDriver extends VirtioDriver {
  /** Bound disks, by device. */
  readonly disks: Map<DriverDevice, BlkDisk>;
  /** The next disk to be probed (or the first already probed and not yet taken). */
  nextDisk(): Promise<BlkDisk>;
}

/** Feature bits the blk driver understands. */
export const BLK_DRIVER_FEATURES: readonly number[] = Object.freeze([
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_GEOMETRY,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_F_LIFETIME,
]);

/** A virtio-blk driver for the bus. */
export function blkDriver(options: BlkDriverOptions = {}): BlkDriver {
  const arrivals = new Arrivals<BlkDisk>();
  const refuse = new Set(options.refuseFeatures ?? []);
  return {
    name: "virtio-blk",
    idTable: [{ device: VIRTIO_ID_BLOCK }],
    featureTable: BLK_DRIVER_FEATURES.filter((f) => !refuse.has(f)),
    disks: arrivals.bound,
    nextDisk(): Promise<BlkDisk> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const disk = new BlkDisk(dev, options);
      dev.deviceReady();
      arrivals.arrive(dev, disk);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
    configChanged(dev: DriverDevice): void {
      arrivals.bound.get(dev)?.refresh();
    },
  };
}
