// The floor of a virtio-blk request made from JavaScript: a bare split ring
// in one buffer, written by hand with raw `DataView` accesses (virtio 1.x
// section 2.7: 16-byte descriptors, the available ring, the used ring of
// id/len pairs), driver and device in one object, no transport, no bus, no
// validation of what the driver wrote, and one promise per request, as the
// stack's `BlkDisk.read`/`write` have. The device makes one `pread`/`pwrite`
// per request, like `FileStorage`.
//
// blk_bench.ts runs it beside the stack: the distance between this floor and
// one `pread` is what any promise-based request through a ring costs on the
// machine; the distance between the stack and this floor is what the
// stack's layers (driver API, virtqueue engine, PCI transport and MSI-X,
// chain validation, the blk device model) add. It is a measuring stick, not
// a device: it trusts every byte of its ring.

import { readSync, writeSync } from "node:fs";

const QUEUE = 128;
const SLOTS = 32;
const BLOCK = 4096;
const HDR = 16;
// Layout of the buffer: descriptor table, available ring, used ring, then one slot per request
// (header, one 4 KiB block, status).
const DESC = 0;
const AVAIL = DESC + 16 * QUEUE;
const USED = AVAIL + 4 + 2 * QUEUE + 2 + 2; // 4-byte aligned
const SLOT0 = 0x2000;
const SLOT = HDR + BLOCK + 64;
const F_NEXT = 1;
const F_WRITE = 2;
const T_IN = 0;
const T_OUT = 1;

/**
 * Requests of `BLOCK` bytes through a bare split ring to a file descriptor,
 * at most 32 in flight. `kickNow`: each request is served and completed
 * inside its own call (no kick per batch, no microtask; depth 1 only, as
 * nothing is ever left in flight); otherwise, as the stack does, a microtask
 * kicks once for the requests made in the same turn.
 */
export class BareRingDisk {
  readonly #fd: number;
  readonly #kickNow: boolean;
  readonly #mem = new ArrayBuffer(SLOT0 + SLOTS * SLOT);
  readonly #dv = new DataView(this.#mem);
  readonly #u8 = new Uint8Array(this.#mem);
  #availIdx = 0;
  #lastAvail = 0;
  #usedIdx = 0;
  #lastUsed = 0;
  #free: number[] = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
  readonly #resolve: ((v: undefined) => void)[] = new Array(SLOTS);
  readonly #dst: (Uint8Array | undefined)[] = new Array(SLOTS);
  #kickQueued = false;
  #resolveNext: (v: undefined) => void = () => {};
  readonly #capture = (resolve: (v: undefined) => void): void => {
    this.#resolveNext = resolve;
  };
  readonly #kick = (): void => {
    this.#kickQueued = false;
    this.#serve();
    this.#interrupt();
  };

  /** Over the open file descriptor `fd` (`node:fs`). */
  constructor(fd: number, kickNow = false) {
    this.#fd = fd;
    this.#kickNow = kickNow;
  }

  /** Reads `dst.length` (`BLOCK`) bytes at byte `offset`. */
  read(offset: number, dst: Uint8Array): Promise<undefined> {
    return this.#submit(T_IN, offset, undefined, dst);
  }

  /** Writes `src` (`BLOCK` bytes) at byte `offset`. */
  write(offset: number, src: Uint8Array): Promise<undefined> {
    return this.#submit(T_OUT, offset, src, undefined);
  }

  // The driver side: a slot, three descriptors, the available ring, one kick per batch.
  #submit(type: number, offset: number, src?: Uint8Array, dst?: Uint8Array): Promise<undefined> {
    const slot = this.#free.pop();
    if (slot === undefined) throw new Error("bare ring: more than 32 requests in flight");
    const promise = new Promise<undefined>(this.#capture);
    this.#resolve[slot] = this.#resolveNext;
    this.#dst[slot] = dst;
    const dv = this.#dv;
    const base = SLOT0 + slot * SLOT;
    const sector = offset / 512;
    dv.setUint32(base, type, true);
    dv.setUint32(base + 4, 0, true);
    dv.setUint32(base + 8, sector >>> 0, true);
    dv.setUint32(base + 12, Math.floor(sector / 0x100000000), true);
    if (src !== undefined) this.#u8.set(src, base + HDR);
    const d = DESC + 16 * 3 * slot;
    const head = 3 * slot;
    this.#desc(d, base, HDR, F_NEXT, head + 1);
    this.#desc(d + 16, base + HDR, BLOCK, F_NEXT | (type === T_IN ? F_WRITE : 0), head + 2);
    this.#desc(d + 32, base + HDR + BLOCK, 1, F_WRITE, 0);
    dv.setUint16(AVAIL + 4 + 2 * (this.#availIdx % QUEUE), head, true);
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    dv.setUint16(AVAIL + 2, this.#availIdx, true);
    if (this.#kickNow) this.#kick();
    else if (!this.#kickQueued) {
      this.#kickQueued = true;
      queueMicrotask(this.#kick);
    }
    return promise;
  }

  #desc(at: number, addr: number, len: number, flags: number, next: number): void {
    const dv = this.#dv;
    dv.setUint32(at, addr, true);
    dv.setUint32(at + 4, 0, true);
    dv.setUint32(at + 8, len, true);
    dv.setUint16(at + 12, flags, true);
    dv.setUint16(at + 14, next, true);
  }

  // The device side: every available chain, one system call each, then the used ring.
  #serve(): void {
    const dv = this.#dv;
    const u8 = this.#u8;
    const avail = dv.getUint16(AVAIL + 2, true);
    while (this.#lastAvail !== avail) {
      const head = dv.getUint16(AVAIL + 4 + 2 * (this.#lastAvail % QUEUE), true);
      this.#lastAvail = (this.#lastAvail + 1) & 0xffff;
      const hdr = dv.getUint32(DESC + 16 * head, true);
      const type = dv.getUint32(hdr, true);
      const sector = dv.getUint32(hdr + 8, true) + dv.getUint32(hdr + 12, true) * 0x100000000;
      const d1 = DESC + 16 * dv.getUint16(DESC + 16 * head + 14, true);
      const data = dv.getUint32(d1, true);
      const len = dv.getUint32(d1 + 8, true);
      const d2 = DESC + 16 * dv.getUint16(d1 + 14, true);
      const status = dv.getUint32(d2, true);
      const block = u8.subarray(data, data + len);
      const n = type === T_IN
        ? readSync(this.#fd, block, 0, len, sector * 512)
        : writeSync(this.#fd, block, 0, len, sector * 512);
      u8[status] = n === len ? 0 : 1;
      const u = USED + 4 + 8 * (this.#usedIdx % QUEUE);
      dv.setUint32(u, head, true);
      dv.setUint32(u + 4, type === T_IN ? len + 1 : 1, true);
      this.#usedIdx = (this.#usedIdx + 1) & 0xffff;
      dv.setUint16(USED + 2, this.#usedIdx, true);
    }
  }

  // The driver's interrupt: every used entry, its status, the data out, the promise settled.
  #interrupt(): void {
    const dv = this.#dv;
    const used = dv.getUint16(USED + 2, true);
    while (this.#lastUsed !== used) {
      const head = dv.getUint32(USED + 4 + 8 * (this.#lastUsed % QUEUE), true);
      this.#lastUsed = (this.#lastUsed + 1) & 0xffff;
      const slot = head / 3;
      const base = SLOT0 + slot * SLOT;
      if (this.#u8[base + HDR + BLOCK] !== 0) throw new Error("bare ring: request failed");
      const dst = this.#dst[slot];
      if (dst !== undefined) dst.set(this.#u8.subarray(base + HDR, base + HDR + BLOCK));
      this.#dst[slot] = undefined;
      this.#free.push(slot);
      this.#resolve[slot](undefined);
    }
  }
}
