/**
 * The virtio-net driver (spec 5.1, driver side): a {@link VirtioDriver} for
 * the bus, and a {@link NetInterface} per bound device with the API a
 * TypeScript user wants: `send(frame)`, received frames as a callback or
 * an async iterator, the MAC address, link status, and the control
 * commands (receive modes, MAC table, VLAN filter, queue pairs, guest
 * offloads; announce requests are acked automatically).
 *
 * It negotiates mergeable receive buffers, checksum and TCP segmentation
 * offloads in both directions, the control queue and multiqueue when the
 * device offers them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "../../bus.ts";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { connectBackToBack } from "./backend.ts";
 * import { NetDevice } from "./device.ts";
 * import { NetDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(8 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (8 << 20) - 0x1000) });
 * const driver = new NetDriver();
 * await bus.registerDriver(driver);
 * const [l, r] = connectBackToBack();
 * const nics = [];
 * for (const backend of [l, r]) {
 *   const t = probeMmio(new MmioDevice(new NetDevice({ backend }), memory));
 *   if (t === undefined) throw new Error("no device");
 *   nics.push(driver.interfaceOf(await bus.addDevice(t)));
 * }
 * const [a, b] = nics;
 * if (!a || !b) throw new Error("not bound");
 * const frame = new Uint8Array(60);
 * frame.set(b.mac, 0); // destination
 * frame.set(a.mac, 6); // source
 * const got = new Promise<Uint8Array>((resolve) => b.onFrame((f) => resolve(f.slice())));
 * await a.send(frame);
 * assert.deepEqual(await got, frame);
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue, VqInfo } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_NET } from "../../generated/common.ts";
import {
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_ALLUNI,
  VIRTIO_NET_CTRL_RX_NOBCAST,
  VIRTIO_NET_CTRL_RX_NOMULTI,
  VIRTIO_NET_CTRL_RX_NOUNI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_CTRL_VLAN,
  VIRTIO_NET_CTRL_VLAN_ADD,
  VIRTIO_NET_CTRL_VLAN_DEL,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_RX_EXTRA,
  VIRTIO_NET_F_CTRL_VLAN,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_SPEED_DUPLEX,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_ANNOUNCE,
  VIRTIO_NET_S_LINK_UP,
  VirtioNetConfig,
  VirtioNetCtrlMac,
  VirtioNetCtrlMacAddr,
  VirtioNetHdr,
} from "../../generated/devices/net.ts";
import type { Sg } from "../../virtqueue/queue.ts";
import { formatMac, parseMac } from "./device.ts";

/** Every device feature the driver knows. */
export const NET_DRIVER_FEATURES: readonly number[] = Object.freeze([
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VLAN,
  VIRTIO_NET_F_CTRL_RX_EXTRA,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_SPEED_DUPLEX,
]);

/** Options of a {@link NetDriver}. */
export interface NetDriverOptions {
  /** Feature bits to negotiate (default {@link NET_DRIVER_FEATURES}); leave some out to test without them. */
  readonly features?: readonly number[];
  /** Size of each mergeable receive buffer (default 2048; at least 1526 bytes per 5.1.6.3.1 without TSO). */
  readonly rxBufferSize?: number;
  /** Queue pairs to enable with VQ_PAIRS_SET (default all the device has). */
  readonly queuePairs?: number;
  /** Frames kept for a slow async iterator before the oldest are dropped (default 1024). */
  readonly backlog?: number;
}

/** Offload requests for one transmitted frame (become `virtio_net_hdr` fields). */
export interface SendOptions {
  /** Ask the device to complete a partial checksum: where checksumming starts and where the result goes. */
  readonly csum?: { readonly start: number; readonly offset: number };
  /** Segmentation offload (needs `csum` too): `VIRTIO_NET_HDR_GSO_*` type, MSS and header length. */
  readonly gso?: { readonly type: number; readonly size: number; readonly hdrLen: number };
  /** Transmit queue pair (default 0). */
  readonly queue?: number;
}

/** A received frame with its `virtio_net_hdr` fields. */
export interface ReceivedFrame {
  /** The Ethernet frame (a copy the caller owns). */
  data: Uint8Array;
  /** `VIRTIO_NET_HDR_F_*` flags (NEEDS_CSUM, DATA_VALID). */
  flags: number;
  /** `VIRTIO_NET_HDR_GSO_*` type. */
  gsoType: number;
  /** MSS of a GSO frame. */
  gsoSize: number;
  /** Header length hint. */
  hdrLen: number;
  /** Partial checksum start. */
  csumStart: number;
  /** Partial checksum offset. */
  csumOffset: number;
  /** Receive queue pair the frame came in on. */
  queue: number;
  /** Receive buffers the frame spanned (`num_buffers`). */
  numBuffers: number;
}

interface TxSlot {
  addr: number;
  /** Ad-hoc allocation for a frame larger than the slot, freed on completion. */
  big: number;
  resolve: (() => void) | undefined;
  /** Fails the send waiting on this slot (the queue broke). */
  reject: ((e: DeviceError) => void) | undefined;
}

interface TxQueue {
  vq: Virtqueue<NetToken>;
  slots: TxSlot[];
  free: number[];
  waiters: (() => void)[];
}

interface RxQueue {
  vq: Virtqueue<NetToken>;
  base: number;
  pending: ReceivedFrame | undefined;
  parts: Uint8Array[];
  left: number;
}

/** Buffer tokens: an index for data queues, the command for the control queue. */
type NetToken = number | CtrlToken;

interface CtrlToken {
  addr: number;
  ackAt: number;
  resolve: (ack: number) => void;
  reject: (e: DeviceError) => void;
}

/** The driver for virtio-net devices; one {@link NetInterface} per bound device. */
export class NetDriver implements VirtioDriver {
  /** `virtio-net`. */
  readonly name: string = "virtio-net";
  /** Binds to `VIRTIO_ID_NET`. */
  readonly idTable: readonly { device: number }[] = [{ device: VIRTIO_ID_NET }];
  /** Features negotiated. */
  readonly featureTable: readonly number[];
  readonly #options: NetDriverOptions;
  readonly #nics = new Map<DriverDevice, NetInterface>();

  /** A driver; see {@link NetDriverOptions}. */
  constructor(options: NetDriverOptions = {}) {
    this.#options = options;
    this.featureTable = options.features ?? NET_DRIVER_FEATURES;
  }

  /** The interfaces of bound devices. */
  get interfaces(): NetInterface[] {
    return [...this.#nics.values()];
  }

  /** The interface of `dev`, once bound. */
  interfaceOf(dev: DriverDevice): NetInterface | undefined {
    return this.#nics.get(dev);
  }

  /** Bind: set up queues, post receive buffers, go live, enable queue pairs. */
  async probe(dev: DriverDevice): Promise<void> {
    const nic = new NetInterface(dev, this.#options);
    this.#nics.set(dev, nic);
    try {
      await netHooks.start(nic);
    } catch (e) {
      this.#nics.delete(dev);
      netHooks.release(nic);
      throw e;
    }
  }

  /** Unbind: reset, reclaim buffers, free memory; pending sends and commands reject. */
  remove(dev: DriverDevice): void {
    const nic = this.#nics.get(dev);
    this.#nics.delete(dev);
    dev.reset();
    dev.delVqs();
    if (nic) netHooks.release(nic);
  }

  /** Link status or announce request changed. */
  configChanged(dev: DriverDevice): void {
    const nic = this.#nics.get(dev);
    if (nic) netHooks.configChanged(nic);
  }
}

/** A virtio-net driver for the bus; the same as `new NetDriver(options)`. */
export function netDriver(options: NetDriverOptions = {}): NetDriver {
  return new NetDriver(options);
}

/** NetInterface's private members, for the rest of this module (set in its `static` block). */
let netHooks: {
  start(n: NetInterface): Promise<void>;
  configChanged(n: NetInterface): void;
  release(n: NetInterface): void;
};

/** One network interface: a bound virtio-net device. */
export class NetInterface {
  /** The device. */
  readonly dev: DriverDevice;
  /** Header size in use (12 with VERSION_1 or MRG_RXBUF, else 10). */
  readonly hdrSize: number;
  /** Queue pairs the device offers. */
  readonly maxQueuePairs: number;
  /** MTU from config (VIRTIO_NET_F_MTU), or 1500. */
  readonly mtu: number;
  #mac: Uint8Array;
  #linkUp = true;
  #pairs = 1;
  #rx: RxQueue[] = [];
  #tx: TxQueue[] = [];
  #ctrl: Virtqueue<NetToken> | undefined;
  #ctrlPending = new Set<CtrlToken>();
  #rxBufSize = 0;
  #slotSize = 0;
  readonly #allocs: number[] = [];
  readonly #options: NetDriverOptions;
  #onFrame: ((frame: Uint8Array, info: ReceivedFrame) => void) | undefined;
  #linkListeners = new Set<(up: boolean) => void>();
  #backlog: ReceivedFrame[] = [];
  #readers: ((r: IteratorResult<ReceivedFrame>) => void)[] = [];
  #closed = false;
  /** Frames dropped because the device misbehaved or an iterator fell behind. */
  get rxErrors(): number {
    return this.#rxErrors;
  }
  #rxErrors = 0;
  /** Announce requests acked. */
  get announces(): number {
    return this.#announces;
  }
  #announces = 0;
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

  static {
    netHooks = {
      start: (n) => n.#start(),
      configChanged: (n) => n.#configChanged(),
      release: (n) => n.#release(),
    };
  }

  /** Made by {@link NetDriver.probe}. */
  constructor(dev: DriverDevice, options: NetDriverOptions) {
    this.dev = dev;
    this.#options = options;
    this.hdrSize = dev.hasFeature(32) || dev.hasFeature(VIRTIO_NET_F_MRG_RXBUF) ? 12 : 10;
    const cfg = new VirtioNetConfig(dev.configSnapshot(VirtioNetConfig.SIZE));
    this.#mac = dev.hasFeature(VIRTIO_NET_F_MAC) ? cfg.macBytes().slice() : randomLocalMac(); // 5.1.5: pick one when the device has none
    this.maxQueuePairs = dev.hasFeature(VIRTIO_NET_F_MQ)
      ? Math.max(1, Math.min(cfg.maxVirtqueuePairs, 0x8000))
      : 1;
    this.mtu = dev.hasFeature(VIRTIO_NET_F_MTU) && cfg.mtu >= 68 ? cfg.mtu : 1500;
    this.#linkUp = dev.hasFeature(VIRTIO_NET_F_STATUS)
      ? (cfg.status & VIRTIO_NET_S_LINK_UP) !== 0
      : true;
    this.#hdr = new VirtioNetHdr(dev.dmaContext.memory.view(0, 0));
  }

  /** The MAC address. */
  get mac(): Uint8Array {
    return this.#mac.slice();
  }

  /** The MAC address as `aa:bb:cc:dd:ee:ff`. */
  get macString(): string {
    return formatMac(this.#mac);
  }

  /** Link status (always up when the device has no VIRTIO_NET_F_STATUS). */
  get linkUp(): boolean {
    return this.#linkUp;
  }

  /** Queue pairs in use. */
  get queuePairs(): number {
    return this.#pairs;
  }

  /** Does the device have a control queue? */
  get hasControlQueue(): boolean {
    return this.#ctrl !== undefined;
  }

  /** Sets up queues and buffers. */
  async #start(): Promise<void> {
    const dev = this.dev;
    const { dma } = dev.dmaContext;
    const mq = dev.hasFeature(VIRTIO_NET_F_MQ);
    const pairs = mq ? this.maxQueuePairs : 1;
    const hasCtrl = dev.hasFeature(VIRTIO_NET_F_CTRL_VQ);
    const infos: VqInfo<NetToken>[] = [];
    for (let p = 0; p < pairs; p++) {
      infos.push({ name: `input.${p}`, callback: (vq: Virtqueue<NetToken>) => this.#rxIrq(p, vq) });
      infos.push({
        name: `output.${p}`,
        callback: (vq: Virtqueue<NetToken>) => this.#txIrq(p, vq),
        onBroken: (_vq, error) => this.#txBroken(p, error),
      });
    }
    if (hasCtrl) {
      // The control queue follows the data queues: index 2 without MQ (5.1.2).
      infos.push({
        name: "control",
        callback: (vq: Virtqueue<NetToken>) => this.#ctrlIrq(vq),
        onBroken: (_vq, error) => this.#ctrlBroken(error),
      });
    }
    const vqs = dev.findVqs<NetToken>(infos);
    if (hasCtrl) this.#ctrl = vqs[2 * pairs];
    const big = dev.hasFeature(VIRTIO_NET_F_GUEST_TSO4) || dev.hasFeature(VIRTIO_NET_F_GUEST_TSO6);
    const mergeable = dev.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
    // 5.1.6.3.1: buffers big enough for the largest frame the device may send.
    this.#rxBufSize = mergeable
      ? Math.max(this.#options.rxBufferSize ?? 2048, this.hdrSize + 64)
      : this.hdrSize + (big ? 65550 : Math.max(this.mtu, 1500) + 18);
    this.#slotSize = this.hdrSize + Math.max(this.mtu, 1500) + 18;
    for (let p = 0; p < pairs; p++) {
      const rvq = vqs[2 * p];
      const count = !mergeable && big ? Math.min(rvq.size, 16) : rvq.size;
      const base = dma.alloc(count * this.#rxBufSize, 64);
      this.#allocs.push(base);
      const rx: RxQueue = { vq: rvq, base, pending: undefined, parts: [], left: 0 };
      for (let i = 0; i < count; i++) this.#postRx(rx, i);
      this.#rx.push(rx);
      const tvq = vqs[2 * p + 1];
      const sbase = dma.alloc(tvq.size * this.#slotSize, 64);
      this.#allocs.push(sbase);
      const slots: TxSlot[] = [];
      const free: number[] = [];
      for (let i = 0; i < tvq.size; i++) {
        slots.push({
          addr: sbase + i * this.#slotSize,
          big: -1,
          resolve: undefined,
          reject: undefined,
        });
        free.push(tvq.size - 1 - i);
      }
      this.#tx.push({ vq: tvq, slots, free, waiters: [] });
    }
    dev.deviceReady();
    for (const rx of this.#rx) rx.vq.kick();
    const want = Math.min(this.#options.queuePairs ?? pairs, pairs);
    if (mq && want > 1 && this.#ctrl) await this.setQueuePairs(want);
  }

  #postRx(rx: RxQueue, i: number): void {
    this.#slot.addr = rx.base + i * this.#rxBufSize;
    this.#slot.len = this.#rxBufSize;
    rx.vq.addSgs(this.#noSg, this.#sg, i);
  }

  // ---- receive ----

  #rxIrq(pair: number, vq: Virtqueue<NetToken>): void {
    const rx = this.#rx[pair];
    if (rx === undefined) return;
    const mem = this.dev.dmaContext.memory;
    const hs = this.hdrSize;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const i = b.token;
      if (typeof i !== "number") continue;
      const addr = rx.base + i * this.#rxBufSize;
      const len = Math.min(b.len, this.#rxBufSize);
      if (rx.left > 0) {
        rx.parts.push(mem.bytes(addr, len).slice());
        rx.left--;
      } else if (len < hs + 14) {
        this.#rxErrors++; // 5.1.6.4: too short for a header and an Ethernet frame
      } else {
        const h = this.#hdr;
        const reg = mem.locate(addr, hs);
        h.view = reg.view;
        h.offset = addr - reg.base;
        const n = hs === 12 ? h.numBuffers : 1;
        if (n < 1 || n > vq.size) {
          this.#rxErrors++;
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
      this.#postRx(rx, i);
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
    if (this.#backlog.length > (this.#options.backlog ?? 1024)) {
      this.#backlog.shift();
      this.#rxErrors++;
    }
  }

  /**
   * Receive frames with a callback (replaces the async iterator). `frame`
   * is a view of the receive buffer, valid only during the call (copy it
   * to keep it); `info` is reused between calls. Pass `undefined` to stop.
   */
  onFrame(callback: ((frame: Uint8Array, info: ReceivedFrame) => void) | undefined): void {
    this.#onFrame = callback;
    if (callback === undefined) return;
    // Frames that arrived before: hand them over first.
    for (const f of this.#backlog.splice(0)) callback(f.data, f);
  }

  /** Received frames, in order, as an async iterator (ends when the device is removed). */
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

  // ---- transmit ----

  #txIrq(_pair: number, vq: Virtqueue<NetToken>): void {
    const tx = this.#tx[_pair];
    if (tx === undefined) return;
    this.#reclaim(tx, vq);
  }

  #reclaim(tx: TxQueue, vq: Virtqueue<NetToken>): void {
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const k = b.token;
      if (typeof k !== "number") continue;
      const s = tx.slots[k];
      if (s === undefined) continue; // not ours: a token the driver never used
      if (s.big >= 0) {
        this.dev.dmaContext.dma.free(s.big);
        s.big = -1;
      }
      const r = s.resolve;
      s.resolve = undefined;
      s.reject = undefined;
      tx.free.push(k);
      r?.();
    }
    while (tx.free.length && tx.waiters.length) tx.waiters.shift()?.();
  }

  /**
   * Send one frame without waiting: false when the transmit queue is full
   * (or the link is down). The frame is copied; nothing is allocated for
   * frames up to the MTU.
   */
  trySend(frame: Uint8Array, options?: SendOptions): boolean {
    return this.#queue(frame, options, undefined);
  }

  /**
   * Send one frame; resolves when the device has used the buffer, waiting
   * for room when the queue is full. Many sends may be in flight.
   */
  async send(frame: Uint8Array, options?: SendOptions): Promise<void> {
    // Before waiting for room: after removal no room ever comes.
    if (this.#closed) {
      throw new DeviceError(`${this.dev.name}: interface removed`, {
        code: "ERR_VIRTIO_DEVICE_NET_GONE",
      });
    }
    const pair = options?.queue ?? 0;
    const tx = this.#txQueue(pair);
    while (tx.free.length === 0) {
      this.#reclaim(tx, tx.vq);
      if (tx.free.length) break;
      await new Promise<void>((r) => tx.waiters.push(r));
      const broken = tx.vq.brokenError;
      if (broken !== undefined) throw broken;
      if (this.#closed) {
        throw new DeviceError(`${this.dev.name}: interface removed`, {
          code: "ERR_VIRTIO_DEVICE_NET_GONE",
        });
      }
    }
    await new Promise<void>((resolve, reject) => {
      try {
        if (!this.#queue(frame, options, resolve, reject)) {
          reject(
            new DeviceError(`${this.dev.name}: transmit queue ${pair} is full`, {
              code: "ERR_VIRTIO_DEVICE_NET_QUEUE_FULL",
            }),
          );
        }
      } catch (e) {
        reject(e);
      }
    });
  }

  #txQueue(pair: number): TxQueue {
    const tx = this.#tx[pair];
    if (tx === undefined || pair >= this.#pairs) {
      throw new DeviceError(`${this.dev.name}: transmit queue pair ${pair} is not in use`, {
        code: "ERR_VIRTIO_DEVICE_NET_PAIR",
      });
    }
    return tx;
  }

  #queue(
    frame: Uint8Array,
    o: SendOptions | undefined,
    resolve: (() => void) | undefined,
    reject?: (e: DeviceError) => void,
  ): boolean {
    if (this.#closed) {
      throw new DeviceError(`${this.dev.name}: interface removed`, {
        code: "ERR_VIRTIO_DEVICE_NET_GONE",
      });
    }
    const tx = this.#txQueue(o?.queue ?? 0);
    if (tx.free.length === 0) this.#reclaim(tx, tx.vq);
    const i = tx.free.pop();
    if (i === undefined) return false;
    const s = tx.slots[i];
    const hs = this.hdrSize;
    const total = hs + frame.length;
    const { memory, dma } = this.dev.dmaContext;
    let addr = s.addr;
    if (total > this.#slotSize) {
      addr = dma.tryAlloc(total, 64);
      if (addr < 0) {
        tx.free.push(i);
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
    tx.vq.addSgs(this.#sg, this.#noSg, i);
    tx.vq.kick();
    return true;
  }

  // ---- control queue (5.1.6.5) ----

  /** Send a raw control command; resolves with the ack (VIRTIO_NET_OK or VIRTIO_NET_ERR). */
  command(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    const vq = this.#ctrl;
    if (vq === undefined) {
      return Promise.reject(
        new DeviceError(`${this.dev.name}: no control queue (VIRTIO_NET_F_CTRL_VQ)`, {
          code: "ERR_VIRTIO_DEVICE_NET_FEATURE",
        }),
      );
    }
    const { memory, dma } = this.dev.dmaContext;
    const len = 2 + data.length;
    const addr = dma.alloc(len + 1, 8);
    const b = memory.bytes(addr, len + 1);
    b[0] = cls;
    b[1] = cmd;
    b.set(data, 2);
    b[len] = 0xff;
    return new Promise<number>((resolve, reject) => {
      const token: CtrlToken = { addr, ackAt: addr + len, resolve, reject };
      try {
        vq.addSgs([{ addr, len }], [{ addr: addr + len, len: 1 }], token);
        this.#ctrlPending.add(token);
        vq.kick();
      } catch (e) {
        dma.free(addr);
        reject(e);
      }
    });
  }

  /** The transmit queue of `pair` broke: sends waiting for the device or for room fail now. */
  #txBroken(pair: number, error: DeviceError): void {
    const tx = this.#tx[pair];
    if (tx === undefined) return;
    for (const s of tx.slots) {
      const r = s.reject;
      s.resolve = undefined;
      s.reject = undefined;
      r?.(error);
    }
    for (const w of tx.waiters.splice(0)) w();
  }

  /** The control queue broke: pending commands fail now (their buffers are freed on release). */
  #ctrlBroken(error: DeviceError): void {
    for (const t of this.#ctrlPending) t.reject(error);
  }

  #ctrlIrq(vq: Virtqueue<NetToken>): void {
    const { memory, dma } = this.dev.dmaContext;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const t = b.token;
      if (typeof t === "number") continue;
      const ack = b.len >= 1 ? memory.readUint8(t.ackAt) : 0xff;
      dma.free(t.addr);
      this.#ctrlPending.delete(t);
      t.resolve(ack);
    }
  }

  async #ok(
    cls: number,
    cmd: number,
    data: Uint8Array,
    what: string,
    feature: number,
  ): Promise<void> {
    if (!this.dev.hasFeature(feature)) {
      throw new DeviceError(`${this.dev.name}: ${what} needs feature ${feature}, not negotiated`, {
        code: "ERR_VIRTIO_DEVICE_NET_FEATURE",
      });
    }
    const ack = await this.command(cls, cmd, data);
    if (ack !== VIRTIO_NET_OK) {
      throw new DeviceError(`${this.dev.name}: device refused ${what}`, {
        code: "ERR_VIRTIO_DEVICE_NET_REFUSED",
      });
    }
  }

  /** A VIRTIO_NET_CTRL_RX command: one receive-mode flag on or off (5.1.6.5.1). */
  #rxMode(cmd: number, on: boolean, what: string, feature: number): Promise<void> {
    return this.#ok(VIRTIO_NET_CTRL_RX, cmd, Uint8Array.of(on ? 1 : 0), what, feature);
  }

  /** Promiscuous mode on or off (VIRTIO_NET_CTRL_RX_PROMISC). */
  setPromisc(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_PROMISC, on, "RX_PROMISC", VIRTIO_NET_F_CTRL_RX);
  }

  /** All-multicast receive on or off (VIRTIO_NET_CTRL_RX_ALLMULTI). */
  setAllMulti(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_ALLMULTI, on, "RX_ALLMULTI", VIRTIO_NET_F_CTRL_RX);
  }

  /** All-unicast receive on or off (VIRTIO_NET_CTRL_RX_ALLUNI). */
  setAllUni(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_ALLUNI, on, "RX_ALLUNI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress multicast receive (VIRTIO_NET_CTRL_RX_NOMULTI). */
  setNoMulti(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_NOMULTI, on, "RX_NOMULTI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress unicast receive (VIRTIO_NET_CTRL_RX_NOUNI). */
  setNoUni(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_NOUNI, on, "RX_NOUNI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress broadcast receive (VIRTIO_NET_CTRL_RX_NOBCAST). */
  setNoBcast(on: boolean): Promise<void> {
    return this.#rxMode(VIRTIO_NET_CTRL_RX_NOBCAST, on, "RX_NOBCAST", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Replace the MAC filter table (VIRTIO_NET_CTRL_MAC_TABLE_SET): unicast and multicast addresses. */
  setMacTable(
    unicast: readonly (string | Uint8Array)[],
    multicast: readonly (string | Uint8Array)[],
  ): Promise<void> {
    const ENTRY = VirtioNetCtrlMacAddr.SIZE;
    const d = new Uint8Array(
      2 * VirtioNetCtrlMac.SIZE + ENTRY * (unicast.length + multicast.length),
    );
    const table = new VirtioNetCtrlMac(new DataView(d.buffer));
    let o = 0;
    for (const list of [unicast, multicast]) {
      table.at(o).entries = list.length;
      o += VirtioNetCtrlMac.OFFSETS.macs;
      for (const m of list) {
        d.set(typeof m === "string" ? parseMac(m) : m.subarray(0, ENTRY), o);
        o += ENTRY;
      }
    }
    return this.#ok(
      VIRTIO_NET_CTRL_MAC,
      VIRTIO_NET_CTRL_MAC_TABLE_SET,
      d,
      "MAC_TABLE_SET",
      VIRTIO_NET_F_CTRL_RX,
    );
  }

  /** Change the device's MAC address (VIRTIO_NET_CTRL_MAC_ADDR_SET). */
  async setMac(mac: string | Uint8Array): Promise<void> {
    const b = typeof mac === "string" ? parseMac(mac) : mac.slice(0, 6);
    await this.#ok(
      VIRTIO_NET_CTRL_MAC,
      VIRTIO_NET_CTRL_MAC_ADDR_SET,
      b,
      "MAC_ADDR_SET",
      VIRTIO_NET_F_CTRL_MAC_ADDR,
    );
    this.#mac = b;
  }

  /** Add VLAN `vid` to the filter (VIRTIO_NET_CTRL_VLAN_ADD). */
  addVlan(vid: number): Promise<void> {
    return this.#ok(
      VIRTIO_NET_CTRL_VLAN,
      VIRTIO_NET_CTRL_VLAN_ADD,
      le16(vid),
      "VLAN_ADD",
      VIRTIO_NET_F_CTRL_VLAN,
    );
  }

  /** Remove VLAN `vid` from the filter (VIRTIO_NET_CTRL_VLAN_DEL). */
  delVlan(vid: number): Promise<void> {
    return this.#ok(
      VIRTIO_NET_CTRL_VLAN,
      VIRTIO_NET_CTRL_VLAN_DEL,
      le16(vid),
      "VLAN_DEL",
      VIRTIO_NET_F_CTRL_VLAN,
    );
  }

  /** Use `n` queue pairs (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET). */
  async setQueuePairs(n: number): Promise<void> {
    await this.#ok(
      VIRTIO_NET_CTRL_MQ,
      VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
      le16(n),
      "MQ_VQ_PAIRS_SET",
      VIRTIO_NET_F_MQ,
    );
    this.#pairs = n;
  }

  /** Switch receive offloads (VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET): a mask of GUEST_* feature bits. */
  setGuestOffloads(mask: bigint): Promise<void> {
    const d = new Uint8Array(8); // le64 offloads (5.1.9.5.9)
    new DataView(d.buffer).setBigUint64(0, mask, true);
    return this.#ok(
      VIRTIO_NET_CTRL_GUEST_OFFLOADS,
      VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
      d,
      "GUEST_OFFLOADS_SET",
      VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
    );
  }

  // ---- link status ----

  /** Call `listener` when the link goes up or down; returns a function that unsubscribes. */
  onLinkChange(listener: (up: boolean) => void): () => void {
    this.#linkListeners.add(listener);
    return () => this.#linkListeners.delete(listener);
  }

  /** Config change: link status, announce requests. */
  #configChanged(): void {
    const dev = this.dev;
    if (dev.needsReset) return;
    const status = dev.readConfig((c) => c.le16(VirtioNetConfig.OFFSETS.status));
    if (dev.hasFeature(VIRTIO_NET_F_STATUS)) {
      const up = (status & VIRTIO_NET_S_LINK_UP) !== 0;
      if (up !== this.#linkUp) {
        this.#linkUp = up;
        for (const l of this.#linkListeners) l(up);
      }
    }
    if (
      status & VIRTIO_NET_S_ANNOUNCE && dev.hasFeature(VIRTIO_NET_F_GUEST_ANNOUNCE) && this.#ctrl
    ) {
      // 5.1.6.5.4: announce ourselves (left to listeners) and ack.
      this.#announces++;
      this.command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK).catch(() => {});
    }
  }

  /** The device went away: end iterators, fail waiters, free memory. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    const dma = this.dev.dmaContext.dma;
    for (const a of this.#allocs) dma.free(a);
    this.#allocs.length = 0;
    for (const tx of this.#tx) {
      for (const s of tx.slots) {
        if (s.big >= 0) dma.free(s.big);
        s.big = -1;
        s.resolve?.();
        s.resolve = undefined;
      }
      for (const w of tx.waiters) w();
    }
    for (const t of this.#ctrlPending) {
      dma.free(t.addr);
      t.resolve(0xff);
    }
    this.#ctrlPending.clear();
    for (const r of this.#readers) r({ value: undefined, done: true });
    this.#readers = [];
  }
}

function le16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}

function randomLocalMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0] & 0xfe) | 0x02;
  return mac;
}
