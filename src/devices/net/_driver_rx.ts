/**
 * The receive side of the virtio-net driver (spec 5.1.6.3, 5.1.6.4): the
 * receive buffers of each queue pair, reposted as soon as they are read; a
 * frame spread over several buffers (`num_buffers`, MRG_RXBUF) put back
 * together; and frames handed to the user, to a callback at once or kept
 * (up to a backlog) for an async iterator.
 *
 * @module
 */

import type { DriverDevice, Virtqueue } from "../../driver.ts";
import { VirtioNetHdr } from "../../generated/devices/net.ts";
import type { Sg } from "../../virtqueue/queue.ts";
import type { ReceivedFrame } from "./driver.ts";
import type { NetToken } from "./_driver_control.ts";

interface RxQueue {
  vq: Virtqueue<NetToken>;
  base: number;
  pending: ReceivedFrame | undefined;
  parts: Uint8Array[];
  left: number;
}

/** The receive queues of one interface and the frames waiting for the user. */
export class NetReceiver {
  /** Size of each receive buffer (set before the first queue is added). */
  bufSize = 0;
  readonly #rx: RxQueue[] = [];
  readonly #nic: { rxErrors: number };
  readonly #dev: DriverDevice;
  readonly #hdrSize: number;
  readonly #maxBacklog: number;
  #onFrame: ((frame: Uint8Array, info: ReceivedFrame) => void) | undefined;
  #backlog: ReceivedFrame[] = [];
  #readers: ((r: IteratorResult<ReceivedFrame>) => void)[] = [];
  #closed = false;
  readonly #hdr: VirtioNetHdr;
  readonly #slot: { addr: number; len: number } = { addr: 0, len: 0 };
  readonly #sg: Sg[] = [this.#slot];
  readonly #noSg: Sg[] = [];
  readonly #info: ReceivedFrame = {
    data: new Uint8Array(0),
    flags: 0,
    gsoType: 0,
    gsoSize: 0,
    hdrLen: 0,
    csumStart: 0,
    csumOffset: 0,
    queue: 0,
    numBuffers: 1,
  };

  /**
   * The receiver of `dev` (headers of `hdrSize` bytes), keeping at most
   * `maxBacklog` frames for a slow iterator; frames it drops count in
   * `nic.rxErrors`.
   */
  constructor(
    nic: { rxErrors: number },
    dev: DriverDevice,
    hdrSize: number,
    maxBacklog: number,
  ) {
    this.#nic = nic;
    this.#dev = dev;
    this.#hdrSize = hdrSize;
    this.#maxBacklog = maxBacklog;
    this.#hdr = new VirtioNetHdr(dev.dmaContext.memory.view(0, 0));
  }

  /** Receive queue `vq` (the next pair's) with `count` buffers at `base`, all posted. */
  add(vq: Virtqueue<NetToken>, base: number, count: number): void {
    const rx: RxQueue = { vq, base, pending: undefined, parts: [], left: 0 };
    for (let i = 0; i < count; i++) this.#post(rx, i);
    this.#rx.push(rx);
  }

  /** Tells the device about the buffers posted. */
  kick(): void {
    for (const rx of this.#rx) rx.vq.kick();
  }

  #post(rx: RxQueue, i: number): void {
    this.#slot.addr = rx.base + i * this.bufSize;
    this.#slot.len = this.bufSize;
    rx.vq.addSgs(this.#noSg, this.#sg, i);
  }

  /** The device used receive buffers of `pair`. */
  irq(pair: number, vq: Virtqueue<NetToken>): void {
    const rx = this.#rx[pair];
    if (rx === undefined) return;
    const mem = this.#dev.dmaContext.memory;
    const hs = this.#hdrSize;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const i = b.token;
      if (typeof i !== "number") continue;
      const addr = rx.base + i * this.bufSize;
      const len = Math.min(b.len, this.bufSize);
      if (rx.left > 0) {
        rx.parts.push(mem.bytes(addr, len).slice());
        rx.left--;
      } else if (len < hs + 14) {
        this.#nic.rxErrors++; // 5.1.6.4: too short for a header and an Ethernet frame
      } else {
        const h = this.#hdr;
        const reg = mem.locate(addr, hs);
        h.view = reg.view;
        h.offset = addr - reg.base;
        const n = hs === 12 ? h.numBuffers : 1;
        if (n < 1 || n > vq.size) {
          this.#nic.rxErrors++;
        } else {
          const info: ReceivedFrame = this.#onFrame && n === 1 ? this.#info : {
            data: this.#info.data,
            flags: 0,
            gsoType: 0,
            gsoSize: 0,
            hdrLen: 0,
            csumStart: 0,
            csumOffset: 0,
            queue: 0,
            numBuffers: 1,
          };
          info.flags = h.flags;
          info.gsoType = h.gsoType;
          info.gsoSize = h.gsoSize;
          info.hdrLen = h.hdrLen;
          info.csumStart = h.csumStart;
          info.csumOffset = h.csumOffset;
          info.queue = pair;
          info.numBuffers = n;
          if (n === 1) {
            info.data = mem.bytes(addr + hs, len - hs);
            this.#deliver(info, false);
          } else {
            rx.pending = info;
            rx.parts = [mem.bytes(addr + hs, len - hs).slice()];
            rx.left = n - 1;
          }
        }
      }
      this.#post(rx, i);
      posted++;
      if (rx.left === 0 && rx.pending !== undefined) {
        const info = rx.pending;
        rx.pending = undefined;
        let total = 0;
        for (const p of rx.parts) total += p.length;
        const data = new Uint8Array(total);
        let o = 0;
        for (const p of rx.parts) {
          data.set(p, o);
          o += p.length;
        }
        rx.parts = [];
        info.data = data;
        this.#deliver(info, true);
      }
    }
    if (posted) vq.kick();
  }

  /** `info.data` is a view of the receive buffer unless `owned`: copied unless a callback takes it at once. */
  #deliver(info: ReceivedFrame, owned: boolean): void {
    if (this.#onFrame) {
      this.#onFrame(info.data, info);
      return;
    }
    const out = info === this.#info ? { ...info } : info;
    if (!owned) out.data = out.data.slice();
    const r = this.#readers.shift();
    if (r) return r({ value: out, done: false });
    this.#backlog.push(out);
    if (this.#backlog.length > this.#maxBacklog) {
      this.#backlog.shift();
      this.#nic.rxErrors++;
    }
  }

  /** What `NetInterface.onFrame` does. */
  onFrame(callback: ((frame: Uint8Array, info: ReceivedFrame) => void) | undefined): void {
    this.#onFrame = callback;
    if (callback === undefined) return;
    // Frames that arrived before: hand them over first.
    for (const f of this.#backlog.splice(0)) callback(f.data, f);
  }

  /** What `NetInterface.frames` returns. */
  frames(): AsyncIterableIterator<ReceivedFrame> {
    const next = (): Promise<IteratorResult<ReceivedFrame>> => {
      const f = this.#backlog.shift();
      if (f) return Promise.resolve({ value: f, done: false });
      if (this.#closed) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => this.#readers.push(resolve));
    };
    const it: AsyncIterableIterator<ReceivedFrame> = {
      [Symbol.asyncIterator]: () => it,
      next,
      return: (): Promise<IteratorResult<ReceivedFrame>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
    return it;
  }

  /** The device went away: iterators end. */
  close(): void {
    this.#closed = true;
    for (const r of this.#readers) r({ value: undefined, done: true });
    this.#readers = [];
  }
}
