/**
 * How a {@link BlkDisk}'s requests reach the device and come back: each in
 * one DMA allocation (header, data, status; a reused 4 KiB slot when it
 * fits), described by scatter lists reused with the request state, placed
 * on the next request queue with room, or waiting in order while none has;
 * one kick per queue per batch; completion reads the status and settles the
 * request's promise.
 *
 * @module
 */

import { type DriverDevice, ERR_VIRTIO_DEVICE_REMOVED, type Virtqueue } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_BLK_S_OK, VirtioBlkOuthdr } from "../../generated/devices/blk.ts";
import { type BlkPending, type BlkRawResult, BlkRequestError, type BlkSg } from "./request.ts";
import type { BlkDisk } from "./driver.ts";

/**
 * A reusable DMA slot with views of its bytes made once, when it is
 * allocated: a request in a slot writes its header and status, and copies
 * its data, without locating guest memory or making a view each time.
 * (Guest memory regions are never removed, so the views stay valid until
 * the slot is freed on detach.)
 */
interface DmaSlot {
  /** Guest address. */
  readonly addr: number;
  /** The slot's bytes (`SLOT_SIZE`), a view of guest memory. */
  readonly bytes: Uint8Array;
  /** The same bytes as a `DataView`, for the header. */
  readonly view: DataView;
  /** The data bytes of a one-block request (`BLOCK` bytes after the header). */
  readonly block: Uint8Array;
}

/** A request state and the slot it holds while in flight (undefined outside a slot). */
interface SlotPending extends BlkPending {
  slot: DmaSlot | undefined;
}

/** The requests of one disk: submission, waiting, completion. */
export class BlkSubmitter {
  readonly #dev: DriverDevice;
  readonly #queues: readonly Virtqueue[];
  readonly #sizeMax: number;
  readonly #disk: BlkDisk;
  /** Requests completed (BlkDisk.completed). */
  completed = 0;
  #next = 0;
  #waiting: { tryAdd: () => boolean; reject: (e: unknown) => void }[] = [];
  #kickScheduled: boolean[];
  readonly #kicks: (() => void)[];
  #dead = false;
  #pumpScheduled = false;
  #pool: SlotPending[] = [];
  // The functions of the promise being made (BlkSubmitter.submit), handed over by #capture.
  #resolveNext: (r: BlkRawResult | undefined) => void = NOOP;
  #rejectNext: (e: unknown) => void = NOOP;
  readonly #capture = (
    resolve: (r: BlkRawResult | undefined) => void,
    reject: (e: unknown) => void,
  ): void => {
    this.#resolveNext = resolve;
    this.#rejectNext = reject;
  };
  #slots: DmaSlot[] = [];
  #allSlots: number[] = [];
  // The header of a request outside a slot is built here, then copied into its DMA memory.
  readonly #hdrBytes = new Uint8Array(VirtioBlkOuthdr.SIZE);
  readonly #hdr = new VirtioBlkOuthdr(new DataView(this.#hdrBytes.buffer));

  /** Requests of `disk` on `queues`, data segments at most `sizeMax` bytes. */
  constructor(dev: DriverDevice, queues: readonly Virtqueue[], sizeMax: number, disk: BlkDisk) {
    this.#dev = dev;
    this.#queues = queues;
    this.#sizeMax = sizeMax;
    this.#disk = disk;
    this.#kickScheduled = this.#queues.map(() => false);
    // One kick function per queue, made once (not a closure per batch).
    this.#kicks = this.#queues.map((vq, qi) => () => {
      this.#kickScheduled[qi] = false;
      if (!vq.broken) vq.kick();
    });
  }

  /** The disk's {@link BlkDisk.detach}: reset, fail what waits, delete the queues, free the slots. */
  detach(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#dev.reset();
    this.#failWaiting(this.#brokenError());
    this.#dev.delVqs(); // reclaims every request's memory
    const { dma } = this.#dev.dmaContext;
    for (const a of this.#allSlots.splice(0)) dma.free(a);
    this.#slots.length = 0;
  }

  /** Why no request can be made (the queues' error), or a generic one. */
  #brokenError(): DeviceError {
    return this.#queues[0].brokenError ??
      new DeviceError(`${this.#dev.name}: device is gone`, { code: ERR_VIRTIO_DEVICE_REMOVED });
  }

  #failWaiting(err: DeviceError): void {
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }

  /** A request that fails with {@link BlkRequestError} unless the status is OK; reads land in `dst`. */
  io(
    type: number,
    sector: number,
    out: Uint8Array | undefined,
    dst: Uint8Array | undefined,
  ): Promise<void> {
    // Checked: it resolves with `undefined`.
    return this.submit(type, sector, out, dst?.length ?? 0, undefined, dst, true) as Promise<
      void
    >;
  }

  /**
   * Sends a request: `check`, fail with {@link BlkRequestError} unless the
   * status is OK (then resolve with `undefined`); else resolve with the result.
   */
  submit(
    type: number,
    sector: number,
    out: Uint8Array | undefined,
    inLen: number,
    queue: number | undefined,
    dst?: Uint8Array,
    check: boolean = false,
  ): Promise<BlkRawResult | undefined> {
    if (this.#dead || this.#queues[0].broken) return Promise.reject(this.#brokenError());
    // One executor made once takes the promise's functions: no closure per request.
    const promise = new Promise<BlkRawResult | undefined>(this.#capture);
    const resolve = this.#resolveNext;
    const reject = this.#rejectNext;
    this.#resolveNext = this.#rejectNext = NOOP;
    // What throws here rejects the promise, as it did from inside an executor.
    try {
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
    } catch (e) {
      reject(e);
    }
    return promise;
  }

  /** Places request `p` on a queue with room; false when none has (it then waits). */
  #tryAdd(p: SlotPending, sector: number, out: Uint8Array | undefined, queue?: number): boolean {
    const { memory, dma } = this.#dev.dmaContext;
    const dataSegs = p.dataLen === 0 ? 0 : Math.ceil(p.dataLen / this.#sizeMax);
    const nOut = 1 + (p.dataIn ? 0 : dataSegs);
    const nIn = 1 + (p.dataIn ? dataSegs : 0);
    let qi = -1;
    const nq = this.#queues.length;
    if (queue !== undefined) {
      if (this.#queues[queue]?.queue.canAdd(nOut, nIn)) qi = queue;
    } else {
      for (let k = 0; k < nq; k++) {
        const i = (this.#next + k) % nq;
        if (this.#queues[i].queue.canAdd(nOut, nIn)) {
          qi = i;
          break;
        }
      }
    }
    if (qi < 0) {
      if (this.#queues.every((q) => q.queue.inFlight === 0)) {
        // Nothing will ever complete to make room: the request can never fit.
        p.reject(
          new DeviceError(`${this.#dev.name}: a request of ${nOut + nIn} buffers never fits`, {
            code: "ERR_VIRTIO_DEVICE_BLK_TOO_BIG",
          }),
        );
        return true;
      }
      return false;
    }
    const total = VirtioBlkOuthdr.SIZE + p.dataLen + 1;
    const pooled = total <= SLOT_SIZE;
    let slot = pooled ? this.#slots.pop() : undefined;
    let addr = slot !== undefined ? slot.addr : -1;
    if (addr < 0) {
      addr = dma.tryAlloc(pooled ? SLOT_SIZE : total, pooled ? 64 : 8);
      if (addr >= 0 && pooled) {
        this.#allSlots.push(addr);
        const bytes = memory.bytes(addr, SLOT_SIZE);
        slot = {
          addr,
          bytes,
          view: new DataView(bytes.buffer, bytes.byteOffset, SLOT_SIZE),
          block: bytes.subarray(VirtioBlkOuthdr.SIZE, VirtioBlkOuthdr.SIZE + BLOCK),
        };
      }
    }
    if (addr < 0) {
      if (this.#queues.every((q) => q.queue.inFlight === 0)) {
        p.reject(
          new DeviceError(`${this.#dev.name}: no DMA memory for ${p.dataLen} bytes`, {
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
    p.slot = slot;
    const status = addr + VirtioBlkOuthdr.SIZE + p.dataLen;
    if (slot !== undefined) {
      // The slot's own views: no guest-memory lookup, no new view.
      const v = slot.view;
      v.setUint32(0, p.type, true);
      v.setUint32(4, 0, true);
      // The sector as two 32-bit halves (a safe integer: no bigint).
      v.setUint32(8, sector >>> 0, true);
      v.setUint32(12, Math.floor(sector / 0x100000000) >>> 0, true);
      slot.bytes[VirtioBlkOuthdr.SIZE + p.dataLen] = 0xff;
      if (out !== undefined) slot.bytes.set(out, VirtioBlkOuthdr.SIZE);
    } else {
      const hdr = this.#hdr;
      hdr.type = p.type;
      hdr.reserved = 0;
      hdr.sector = sector;
      memory.write(addr, this.#hdrBytes);
      memory.writeUint8(status, 0xff);
      if (out !== undefined) memory.write(addr + VirtioBlkOuthdr.SIZE, out);
    }
    // The scatter lists and their elements are the request state's own, reused.
    const sgsOut = p.sgsOut;
    const sgsIn = p.sgsIn;
    let no = 0;
    let ni = 0;
    setSg(sgsOut, no++, addr, VirtioBlkOuthdr.SIZE);
    for (let o = 0; o < p.dataLen; o += this.#sizeMax) {
      const a = addr + VirtioBlkOuthdr.SIZE + o;
      const l = Math.min(this.#sizeMax, p.dataLen - o);
      if (p.dataIn) setSg(sgsIn, ni++, a, l);
      else setSg(sgsOut, no++, a, l);
    }
    setSg(sgsIn, ni++, status, 1);
    sgsOut.length = no;
    sgsIn.length = ni;
    const vq = this.#queues[qi];
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
  ): SlotPending {
    const p: SlotPending = {
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
      slot: undefined,
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
  #release(p: SlotPending): void {
    if (p.slot !== undefined) this.#slots.push(p.slot);
    else this.#dev.dmaContext.dma.free(p.addr);
    p.slot = undefined;
    p.dst = undefined;
    this.#pool.push(p);
  }

  #complete(p: SlotPending, len: number): void {
    let status: number;
    let data = EMPTY;
    const slot = p.slot;
    if (slot !== undefined) {
      const bytes = slot.bytes;
      status = bytes[VirtioBlkOuthdr.SIZE + p.dataLen];
      if (p.dataIn && p.dataLen > 0) {
        const src = p.dataLen === BLOCK
          ? slot.block
          : bytes.subarray(VirtioBlkOuthdr.SIZE, VirtioBlkOuthdr.SIZE + p.dataLen);
        // A failed read leaves the caller's buffer alone (the slot may hold another request's bytes).
        if (p.dst !== undefined) {
          if (status === VIRTIO_BLK_S_OK) p.dst.set(src);
        } else data = src.slice();
      }
    } else {
      const memory = this.#dev.dmaContext.memory;
      status = memory.readUint8(p.addr + VirtioBlkOuthdr.SIZE + p.dataLen);
      if (p.dataIn && p.dataLen > 0) {
        if (p.dst !== undefined) {
          if (status === VIRTIO_BLK_S_OK) memory.read(p.addr + VirtioBlkOuthdr.SIZE, p.dst);
        } else data = memory.bytes(p.addr + VirtioBlkOuthdr.SIZE, p.dataLen).slice();
      }
    }
    this.completed++;
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
          `${this.#dev.name}: request type ${type} at sector ${sector} failed with status ${status}`,
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
const NOOP = (): void => {};
/** The data bytes of the common request: one 4 KiB block. */
const BLOCK = 4096;
/** A reusable DMA slot holds header, one 4 KiB block and the status byte. */
const SLOT_SIZE = 4160;
