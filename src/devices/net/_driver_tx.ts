/**
 * One transmit queue of the virtio-net driver (spec 5.1.6.2): a slot of
 * guest memory per descriptor, big enough for a `virtio_net_hdr` and a
 * frame of the MTU (a larger frame gets memory of its own until it is
 * used), the free slots, the sends each slot completes, and the senders
 * waiting for a free slot.
 *
 * @module
 */

import type { DriverDevice, Virtqueue } from "../../driver.ts";
import type { DeviceError } from "../../errors.ts";
import type { DmaAllocator } from "../../memory.ts";
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VirtioNetHdr } from "../../generated/devices/net.ts";
import type { Sg } from "../../virtqueue/queue.ts";
import type { SendOptions } from "./driver.ts";
import type { NetToken } from "./_driver_control.ts";

interface TxSlot {
  addr: number;
  /** Ad-hoc allocation for a frame larger than the slot, freed on completion. */
  big: number;
  resolve: (() => void) | undefined;
  /** Fails the send waiting on this slot (the queue broke). */
  reject: ((e: DeviceError) => void) | undefined;
}

/** A transmit queue and its slots. */
export class TxQueue {
  /** The queue. */
  readonly vq: Virtqueue<NetToken>;
  /** One per descriptor, at `base + i * slotSize`. */
  readonly slots: TxSlot[] = [];
  /** Indexes of the slots not in the ring. */
  readonly free: number[] = [];
  /** Senders waiting for a free slot. */
  readonly waiters: (() => void)[] = [];
  readonly #dev: DriverDevice;
  readonly #hdrSize: number;
  readonly #slotSize: number;
  readonly #hdr: VirtioNetHdr;
  readonly #slot: { addr: number; len: number } = { addr: 0, len: 0 };
  readonly #sg: Sg[] = [this.#slot];
  readonly #noSg: Sg[] = [];

  /** Slots of `slotSize` bytes from `base` for `vq`'s descriptors; headers of `hdrSize` bytes. */
  constructor(
    dev: DriverDevice,
    vq: Virtqueue<NetToken>,
    base: number,
    slotSize: number,
    hdrSize: number,
  ) {
    this.#dev = dev;
    this.vq = vq;
    this.#slotSize = slotSize;
    this.#hdrSize = hdrSize;
    this.#hdr = new VirtioNetHdr(dev.dmaContext.memory.view(0, 0));
    for (let i = 0; i < vq.size; i++) {
      this.slots.push({
        addr: base + i * slotSize,
        big: -1,
        resolve: undefined,
        reject: undefined,
      });
      this.free.push(vq.size - 1 - i);
    }
  }

  /**
   * Copies `frame` behind its header into a free slot and adds it to the
   * ring; false when no slot is free (or no memory for a frame over the
   * slot). `resolve` / `reject` complete the send.
   */
  add(
    frame: Uint8Array,
    o: SendOptions | undefined,
    resolve: (() => void) | undefined,
    reject: ((e: DeviceError) => void) | undefined,
  ): boolean {
    if (this.free.length === 0) this.reclaim();
    const i = this.free.pop();
    if (i === undefined) return false;
    const s = this.slots[i];
    const hs = this.#hdrSize;
    const total = hs + frame.length;
    const { memory, dma } = this.#dev.dmaContext;
    let addr = s.addr;
    if (total > this.#slotSize) {
      addr = dma.tryAlloc(total, 64);
      if (addr < 0) {
        this.free.push(i);
        return false;
      }
      s.big = addr;
    }
    const h = this.#hdr;
    const reg = memory.locate(addr, total);
    const off = addr - reg.base;
    h.view = reg.view;
    h.offset = off;
    reg.bytes.fill(0, off, off + hs);
    if (o?.csum) {
      h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      h.csumStart = o.csum.start;
      h.csumOffset = o.csum.offset;
    }
    if (o?.gso) {
      h.gsoType = o.gso.type;
      h.gsoSize = o.gso.size;
      h.hdrLen = o.gso.hdrLen;
    }
    reg.bytes.set(frame, off + hs);
    s.resolve = resolve;
    s.reject = reject;
    this.#slot.addr = addr;
    this.#slot.len = total;
    this.vq.addSgs(this.#sg, this.#noSg, i);
    this.vq.kick();
    return true;
  }

  /** Takes back the slots the device used: their sends resolve, waiters get a slot. */
  reclaim(): void {
    const vq = this.vq;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const k = b.token;
      if (typeof k !== "number") continue;
      const s = this.slots[k];
      if (s === undefined) continue; // not ours: a token the driver never used
      if (s.big >= 0) {
        this.#dev.dmaContext.dma.free(s.big);
        s.big = -1;
      }
      const r = s.resolve;
      s.resolve = undefined;
      s.reject = undefined;
      this.free.push(k);
      r?.();
    }
    while (this.free.length && this.waiters.length) this.waiters.shift()?.();
  }

  /** The queue broke: sends waiting for the device or for room fail now. */
  broken(error: DeviceError): void {
    for (const s of this.slots) {
      const r = s.reject;
      s.resolve = undefined;
      s.reject = undefined;
      r?.(error);
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** The device went away: free big frames' memory, resolve sends, wake waiters. */
  release(dma: DmaAllocator): void {
    for (const s of this.slots) {
      if (s.big >= 0) dma.free(s.big);
      s.big = -1;
      s.resolve?.();
      s.resolve = undefined;
    }
    for (const w of this.waiters) w();
  }
}
