/**
 * The segments of a virtio-blk DISCARD or WRITE_ZEROES request (5.2.6,
 * `virtio_blk_discard_write_zeroes`): copied out of the chain once, every
 * one checked before any storage is touched (flags, the per-segment and
 * per-request maxima, the sector range), then carried out from that copy.
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VirtioBlkDiscardWriteZeroes,
  VirtioBlkOuthdr,
} from "../../generated/devices/blk.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import { SECTOR_SIZE } from "./geometry.ts";
import type { BlockStorage } from "./storage.ts";
import { discardRange, settled, zeroRange } from "./_storage_calls.ts";

/** Most segments of one discard / write-zeroes request this model accepts (its copy is sized by it). */
const MAX_DWZ_SEG = 0xffff;

/** An integer option in `1..max`, or its default. */
function limit(name: string, value: number | undefined, def: number, max: number): number {
  const v = value ?? def;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new DeviceError(`virtio-blk: ${name} ${v} (1..${max})`, {
      code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
    });
  }
  return v;
}

/** A device's discard / write-zeroes segments: its limits and its copy of one request's list. */
export class DiscardWriteZeroes {
  /** Most sectors of one segment (`max_discard_sectors`, `max_write_zeroes_sectors`). */
  readonly maxSectors: number;
  /** Most segments of one request (`max_discard_seg`, `max_write_zeroes_seg`). */
  readonly maxSeg: number;
  // The guest's segments, copied here once, then checked and used from here.
  readonly #segBytes: Uint8Array;
  readonly #seg: VirtioBlkDiscardWriteZeroes;
  /** Segments of the request last checked. */
  #count = 0;

  /** The limits given (BlkDeviceOptions' `maxDiscardSectors`, `maxDiscardSeg`), or the defaults. */
  constructor(maxDiscardSectors: number | undefined, maxDiscardSeg: number | undefined) {
    this.maxSectors = limit(
      "maxDiscardSectors",
      maxDiscardSectors,
      0x3fffff,
      0xffffffff,
    );
    this.maxSeg = limit("maxDiscardSeg", maxDiscardSeg, 32, MAX_DWZ_SEG);
    this.#segBytes = new Uint8Array(this.maxSeg * VirtioBlkDiscardWriteZeroes.SIZE);
    this.#seg = new VirtioBlkDiscardWriteZeroes(new DataView(this.#segBytes.buffer));
  }

  /**
   * Copies the segments of request `c` (after its header) and checks every
   * one: `VIRTIO_BLK_S_OK` when they may all be carried out, else the status
   * the request ends with (5.2.6.2). `range` is the device's check of a
   * sector range: its byte offset, or -1 when outside the capacity.
   */
  check(
    c: DescriptorChain,
    discard: boolean,
    readOnly: boolean,
    range: (sector: number, bytes: number) => number,
  ): number {
    const dataLen = c.readableLength - VirtioBlkOuthdr.SIZE;
    const nseg = dataLen / VirtioBlkDiscardWriteZeroes.SIZE;
    if (dataLen === 0 || !Number.isInteger(nseg) || nseg > this.maxSeg) {
      return VIRTIO_BLK_S_IOERR;
    }
    // Every segment copied out of the chain once; checked and done from that copy only,
    // so a driver rewriting them meanwhile cannot move the work past what was checked.
    c.read(VirtioBlkOuthdr.SIZE, this.#segBytes, 0, dataLen);
    const seg = this.#seg;
    // Check every segment before touching storage, so a bad request changes nothing.
    let unsupported = false;
    for (let s = 0; s < nseg; s++) {
      seg.at(s * VirtioBlkDiscardWriteZeroes.SIZE);
      // 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP.
      if (seg.reserved !== 0 || (discard && seg.unmap !== 0)) unsupported = true;
    }
    if (unsupported) return VIRTIO_BLK_S_UNSUPP;
    if (readOnly) return VIRTIO_BLK_S_IOERR;
    for (let s = 0; s < nseg; s++) {
      seg.at(s * VirtioBlkDiscardWriteZeroes.SIZE);
      const num = seg.numSectors;
      if (num > this.maxSectors || range(seg.sector, num * SECTOR_SIZE) < 0) {
        return VIRTIO_BLK_S_IOERR;
      }
    }
    this.#count = nseg;
    return VIRTIO_BLK_S_OK;
  }

  /** Carries out the segments checked last on `storage`; a promise when some complete later. */
  run(storage: BlockStorage, discard: boolean): unknown {
    const nseg = this.#count;
    const seg = this.#seg;
    let pending: Promise<unknown>[] | undefined;
    try {
      for (let s = 0; s < nseg; s++) {
        seg.at(s * VirtioBlkDiscardWriteZeroes.SIZE);
        const off = seg.sector * SECTOR_SIZE;
        const bytes = seg.numSectors * SECTOR_SIZE;
        const r = discard
          ? discardRange(storage, off, bytes)
          : zeroRange(storage, off, bytes, seg.unmap !== 0);
        if (r instanceof Promise) (pending ??= []).push(r);
      }
    } catch (e) {
      settled(pending);
      throw e;
    }
    return pending === undefined ? undefined : Promise.all(pending);
  }
}
