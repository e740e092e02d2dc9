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
  VIRTIO_NET_S_ANNOUNCE,
  VIRTIO_NET_S_LINK_UP,
  VirtioNetConfig,
} from "../../generated/devices/net.ts";
import { formatMac, parseMac } from "./device.ts";
import { le16, le64, macTableData, NetCommands, type NetToken } from "./_driver_control.ts";
import { NetReceiver } from "./_driver_rx.ts";
import { TxQueue } from "./_driver_tx.ts";

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
  readonly #rx: NetReceiver;
  #tx: TxQueue[] = [];
  readonly #ctrl: NetCommands;
  readonly #allocs: number[] = [];
  readonly #options: NetDriverOptions;
  #linkListeners = new Set<(up: boolean) => void>();
  #closed = false;
  /** Frames dropped because the device misbehaved or an iterator fell behind. */
  get rxErrors(): number {
    return this.#counts.rxErrors;
  }
  /** Counters the receiver adds to (rxErrors). */
  readonly #counts = { rxErrors: 0 };
  /** Announce requests acked. */
  get announces(): number {
    return this.#announces;
  }
  #announces = 0;

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
    this.#rx = new NetReceiver(this.#counts, dev, this.hdrSize, options.backlog ?? 1024);
    this.#ctrl = new NetCommands(dev);
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
    return this.#ctrl.vq !== undefined;
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
      infos.push({
        name: `input.${p}`,
        callback: (vq: Virtqueue<NetToken>) => this.#rx.irq(p, vq),
      });
      infos.push({
        name: `output.${p}`,
        callback: () => this.#tx[p]?.reclaim(),
        onBroken: (_vq, error) => this.#tx[p]?.broken(error),
      });
    }
    if (hasCtrl) {
      // The control queue follows the data queues: index 2 without MQ (5.1.2).
      infos.push({
        name: "control",
        callback: (vq: Virtqueue<NetToken>) => this.#ctrl.irq(vq),
        onBroken: (_vq, error) => this.#ctrl.broken(error),
      });
    }
    const vqs = dev.findVqs<NetToken>(infos);
    if (hasCtrl) this.#ctrl.vq = vqs[2 * pairs];
    const big = dev.hasFeature(VIRTIO_NET_F_GUEST_TSO4) || dev.hasFeature(VIRTIO_NET_F_GUEST_TSO6);
    const mergeable = dev.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
    // 5.1.6.3.1: buffers big enough for the largest frame the device may send.
    const rxBufSize = mergeable
      ? Math.max(this.#options.rxBufferSize ?? 2048, this.hdrSize + 64)
      : this.hdrSize + (big ? 65550 : Math.max(this.mtu, 1500) + 18);
    this.#rx.bufSize = rxBufSize;
    const slotSize = this.hdrSize + Math.max(this.mtu, 1500) + 18;
    for (let p = 0; p < pairs; p++) {
      const rvq = vqs[2 * p];
      const count = !mergeable && big ? Math.min(rvq.size, 16) : rvq.size;
      const base = dma.alloc(count * rxBufSize, 64);
      this.#allocs.push(base);
      this.#rx.add(rvq, base, count);
      const tvq = vqs[2 * p + 1];
      const sbase = dma.alloc(tvq.size * slotSize, 64);
      this.#allocs.push(sbase);
      this.#tx.push(new TxQueue(dev, tvq, sbase, slotSize, this.hdrSize));
    }
    dev.deviceReady();
    this.#rx.kick();
    const want = Math.min(this.#options.queuePairs ?? pairs, pairs);
    if (mq && want > 1 && this.#ctrl.vq) await this.setQueuePairs(want);
  }

  // ---- receive ----

  /**
   * Receive frames with a callback (replaces the async iterator). `frame`
   * is a view of the receive buffer, valid only during the call (copy it
   * to keep it); `info` is reused between calls. Pass `undefined` to stop.
   */
  onFrame(callback: ((frame: Uint8Array, info: ReceivedFrame) => void) | undefined): void {
    this.#rx.onFrame(callback);
  }

  /** Received frames, in order, as an async iterator (ends when the device is removed). */
  frames(): AsyncIterableIterator<ReceivedFrame> {
    return this.#rx.frames();
  }

  // ---- transmit ----

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
      throw this.#gone();
    }
    const pair = options?.queue ?? 0;
    const tx = this.#txQueue(pair);
    while (tx.free.length === 0) {
      tx.reclaim();
      if (tx.free.length) break;
      await new Promise<void>((r) => tx.waiters.push(r));
      const broken = tx.vq.brokenError;
      if (broken !== undefined) throw broken;
      if (this.#closed) {
        throw this.#gone();
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

  #gone(): DeviceError {
    return new DeviceError(`${this.dev.name}: interface removed`, {
      code: "ERR_VIRTIO_DEVICE_NET_GONE",
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
      throw this.#gone();
    }
    return this.#txQueue(o?.queue ?? 0).add(frame, o, resolve, reject);
  }

  // ---- control queue (5.1.6.5) ----

  /** Send a raw control command; resolves with the ack (VIRTIO_NET_OK or VIRTIO_NET_ERR). */
  command(cls: number, cmd: number, data: Uint8Array = new Uint8Array(0)): Promise<number> {
    return this.#ctrl.send(cls, cmd, data);
  }

  /** Promiscuous mode on or off (VIRTIO_NET_CTRL_RX_PROMISC). */
  setPromisc(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_PROMISC, on, "RX_PROMISC", VIRTIO_NET_F_CTRL_RX);
  }

  /** All-multicast receive on or off (VIRTIO_NET_CTRL_RX_ALLMULTI). */
  setAllMulti(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_ALLMULTI, on, "RX_ALLMULTI", VIRTIO_NET_F_CTRL_RX);
  }

  /** All-unicast receive on or off (VIRTIO_NET_CTRL_RX_ALLUNI). */
  setAllUni(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_ALLUNI, on, "RX_ALLUNI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress multicast receive (VIRTIO_NET_CTRL_RX_NOMULTI). */
  setNoMulti(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_NOMULTI, on, "RX_NOMULTI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress unicast receive (VIRTIO_NET_CTRL_RX_NOUNI). */
  setNoUni(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_NOUNI, on, "RX_NOUNI", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Suppress broadcast receive (VIRTIO_NET_CTRL_RX_NOBCAST). */
  setNoBcast(on: boolean): Promise<void> {
    return this.#ctrl.rx(VIRTIO_NET_CTRL_RX_NOBCAST, on, "RX_NOBCAST", VIRTIO_NET_F_CTRL_RX_EXTRA);
  }

  /** Replace the MAC filter table (VIRTIO_NET_CTRL_MAC_TABLE_SET): unicast and multicast addresses. */
  setMacTable(
    unicast: readonly (string | Uint8Array)[],
    multicast: readonly (string | Uint8Array)[],
  ): Promise<void> {
    return this.#ctrl.ok(
      VIRTIO_NET_CTRL_MAC,
      VIRTIO_NET_CTRL_MAC_TABLE_SET,
      macTableData(unicast, multicast),
      "MAC_TABLE_SET",
      VIRTIO_NET_F_CTRL_RX,
    );
  }

  /** Change the device's MAC address (VIRTIO_NET_CTRL_MAC_ADDR_SET). */
  async setMac(mac: string | Uint8Array): Promise<void> {
    const b = typeof mac === "string" ? parseMac(mac) : mac.slice(0, 6);
    await this.#ctrl.ok(
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
    return this.#ctrl.ok(
      VIRTIO_NET_CTRL_VLAN,
      VIRTIO_NET_CTRL_VLAN_ADD,
      le16(vid),
      "VLAN_ADD",
      VIRTIO_NET_F_CTRL_VLAN,
    );
  }

  /** Remove VLAN `vid` from the filter (VIRTIO_NET_CTRL_VLAN_DEL). */
  delVlan(vid: number): Promise<void> {
    return this.#ctrl.ok(
      VIRTIO_NET_CTRL_VLAN,
      VIRTIO_NET_CTRL_VLAN_DEL,
      le16(vid),
      "VLAN_DEL",
      VIRTIO_NET_F_CTRL_VLAN,
    );
  }

  /** Use `n` queue pairs (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET). */
  async setQueuePairs(n: number): Promise<void> {
    await this.#ctrl.ok(
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
    return this.#ctrl.ok(
      VIRTIO_NET_CTRL_GUEST_OFFLOADS,
      VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
      le64(mask), // le64 offloads (5.1.9.5.9)
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
      status & VIRTIO_NET_S_ANNOUNCE && dev.hasFeature(VIRTIO_NET_F_GUEST_ANNOUNCE) &&
      this.#ctrl.vq
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
    for (const tx of this.#tx) tx.release(dma);
    this.#ctrl.release(dma);
    this.#rx.close();
  }
}

function randomLocalMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0] & 0xfe) | 0x02;
  return mac;
}
