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

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
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
} from "../../generated/devices/blk.ts";
import { VIRTIO_ID_BLOCK } from "../../generated/common.ts";
import { Arrivals } from "../_arrivals.ts";
import { VIRTIO_BLK_ID_BYTES } from "./device.ts";
import { type BlkGeometry, type BlkTopology, SECTOR_SIZE } from "./geometry.ts";
import type { BlkRange, BlkRawRequest, BlkRawResult } from "./request.ts";
import { BlkSubmitter } from "./_submitter.ts";
import type { BlkLifetime } from "./storage.ts";

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
    return this.#requests.completed;
  }
  #capacity = 0;
  #maxReq: number;
  #onConfig: (() => void) | undefined;
  readonly #requests: BlkSubmitter;

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
    this.#requests = new BlkSubmitter(dev, this.queues, this.sizeMax, this);
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
    if (buf.length <= this.#maxReq) {
      return this.#requests.io(VIRTIO_BLK_T_IN, sector, undefined, buf);
    }
    const parts: Promise<void>[] = [];
    for (let done = 0; done < buf.length; done += this.#maxReq) {
      const n = Math.min(this.#maxReq, buf.length - done);
      const dst = buf.subarray(done, done + n);
      parts.push(this.#requests.io(VIRTIO_BLK_T_IN, sector + done / SECTOR_SIZE, undefined, dst));
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
    if (buf.length <= this.#maxReq) {
      return this.#requests.io(VIRTIO_BLK_T_OUT, sector, buf, undefined);
    }
    const parts: Promise<void>[] = [];
    for (let done = 0; done < buf.length; done += this.#maxReq) {
      const n = Math.min(this.#maxReq, buf.length - done);
      const src = buf.subarray(done, done + n);
      parts.push(this.#requests.io(VIRTIO_BLK_T_OUT, sector + done / SECTOR_SIZE, src, undefined));
    }
    return Promise.all(parts).then(() => {});
  }

  /** Makes completed writes durable (`VIRTIO_BLK_T_FLUSH`). */
  async flush(): Promise<void> {
    await this.#requests.io(VIRTIO_BLK_T_FLUSH, 0, undefined, undefined);
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
    await this.#requests.io(VIRTIO_BLK_T_GET_ID, 0, undefined, data);
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
    await this.#requests.io(VIRTIO_BLK_T_GET_LIFETIME, 0, undefined, data);
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
    return this.#requests.submit(
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
    this.#requests.detach();
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
      parts.push(this.#requests.io(type, 0, data, undefined));
    }
    await Promise.all(parts);
  }
}

/** Code of the error for a feature the device did not offer or the driver did not accept. */
const FEATURE = "ERR_VIRTIO_DEVICE_BLK_FEATURE";

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
