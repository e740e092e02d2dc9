/**
 * The virtio network device model (spec 5.1, device id 1): receive and
 * transmit queue pairs and a control queue, in front of a {@link NetBackend}
 * (two devices back to back in memory, a UDP socket...).
 *
 * Features offered by default: VIRTIO_NET_F_MAC, STATUS (link status with
 * a configuration change interrupt), MRG_RXBUF (frames spread over
 * several receive buffers, `num_buffers`), CSUM and GUEST_CSUM (partial
 * checksums carried through `virtio_net_hdr`, completed in software when
 * the far side cannot take them), HOST_TSO4/6, HOST_ECN, GUEST_TSO4/6,
 * GUEST_ECN (GSO frames carried through, or segmented in software for a
 * receiver without them), CTRL_VQ with CTRL_RX, CTRL_RX_EXTRA (receive
 * modes and the MAC filter table), CTRL_VLAN (VLAN filter), CTRL_MAC_ADDR,
 * CTRL_GUEST_OFFLOADS, GUEST_ANNOUNCE (announce ack), MQ (with
 * `maxQueuePairs` > 1: VQ_PAIRS_SET and flow steering), MTU (with `mtu`),
 * SPEED_DUPLEX, and the ring features VERSION_1, EVENT_IDX, INDIRECT_DESC.
 * Not supported: RSS, hash reporting, UFO/USO, RSC, notification
 * coalescing, statistics, IPsec, flow filters.
 *
 * The device trusts nothing in a buffer: a transmit buffer shorter than
 * the header, an offload the driver did not negotiate or offsets outside
 * the frame drop the frame; control commands that are unknown, not
 * negotiated or malformed get VIRTIO_NET_ERR; a chain the ring engine
 * rejects, or a control buffer without room for the ack, sets
 * DEVICE_NEEDS_RESET.
 *
 * @example Two devices joined back to back
 * ```ts
 * import { connectBackToBack } from "./backend.ts";
 * import { NetDevice } from "./device.ts";
 *
 * const [left, right] = connectBackToBack();
 * const a = new NetDevice({ backend: left, mac: "52:54:00:00:00:01" });
 * const b = new NetDevice({ backend: right, maxQueuePairs: 2 });
 * a.setLinkUp(false); // raises a config change once a driver is active
 * if (a.macString !== "52:54:00:00:00:01" || b.queueMaxSizes.length !== 5) {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

import { ConfigDevice, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_NET,
} from "../../generated/common.ts";
import {
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
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
  VIRTIO_NET_S_ANNOUNCE,
  VIRTIO_NET_S_LINK_UP,
  VirtioNetConfig,
  VirtioNetHdr,
} from "../../generated/devices/net.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { bit, featureMask } from "../../features.ts";
import { type ChainServer, publishUsed, serveQueue } from "../../queue_service.ts";
import type { NetBackend, NetPort } from "./backend.ts";
import {
  completeChecksum,
  isGso,
  type NetFrameMeta,
  type NetOffloads,
  NO_OFFLOADS,
  offloadsAccept,
  plainMeta,
  segmentTcp,
} from "./offload.ts";
import { NetControl } from "./_device_control.ts";
import { GUEST_OFFLOAD_BITS, guestOffloads, rxHeaderFlags, validTx } from "./_header_offloads.ts";
import { fillMergeable, fillSingle, type HeaderScratch, type RxState } from "./_rx_buffers.ts";
import { DEFAULT_MAC_TABLE, macFromNumber, RxFilter } from "./_rx_filter.ts";
import { FlowSteering } from "./_steering.ts";

/** Largest frame the device moves: a 64 KiB GSO frame plus Ethernet and VLAN headers. */
const MAX_FRAME = 65535 + 18;

/** Options of a {@link NetDevice}. */
export interface NetDeviceOptions {
  /** The device's MAC address (6 bytes or `"52:54:00:12:34:56"`); default a random locally administered one. */
  readonly mac?: Uint8Array | string;
  /** Receive/transmit queue pairs (1 to 0x8000, default 1); more than 1 offers VIRTIO_NET_F_MQ. */
  readonly maxQueuePairs?: number;
  /** Maximum size of every queue (default 256). */
  readonly queueSize?: number;
  /** An MTU to advertise (68 to 65535); offers VIRTIO_NET_F_MTU. */
  readonly mtu?: number;
  /** Link speed in Mbit/s for VIRTIO_NET_F_SPEED_DUPLEX (default 10000). */
  readonly speed?: number;
  /** Offered features instead of the default set (bit mask). */
  readonly features?: bigint;
  /** Initial link state (default up). */
  readonly linkUp?: boolean;
  /** The network behind the device; frames are dropped without one. */
  readonly backend?: NetBackend;
  /** Entries per MAC filter table (default 64). */
  readonly macTableSize?: number;
}

/** Counters of a {@link NetDevice}, for tests and monitoring. */
export interface NetDeviceStats {
  /** Frames taken from the transmit queues and sent on. */
  txFrames: number;
  /** Transmit buffers dropped as malformed (short, bad offsets, offloads not negotiated). */
  txErrors: number;
  /** Frames written to receive buffers. */
  rxFrames: number;
  /** Frames dropped by the receive filter (MAC, mode, VLAN). */
  rxFiltered: number;
  /** Frames dropped on receive: link down, too big for the buffers, GSO the driver cannot take. */
  rxDropped: number;
  /** Control commands answered VIRTIO_NET_OK. */
  ctrlOk: number;
  /** Control commands answered VIRTIO_NET_ERR. */
  ctrlErr: number;
}

/** The features a {@link NetDevice} offers by default (before MQ and MTU, which depend on options). */
export const NET_DEFAULT_FEATURES: bigint = featureMask([
  VIRTIO_F_VERSION_1,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_RX_EXTRA,
  VIRTIO_NET_F_CTRL_VLAN,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_SPEED_DUPLEX,
]);

/** Parses `"aa:bb:cc:dd:ee:ff"` (or `-` separated) into 6 bytes; throws a {@link DeviceError} when malformed. */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new DeviceError(`MAC address ${JSON.stringify(mac)} is not six hex bytes`, {
      code: "ERR_VIRTIO_DEVICE_NET_MAC",
    });
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Formats 6 bytes as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** A virtio-net device model; see the module documentation. */
export class NetDevice extends ConfigDevice<VirtioNetConfig> {
  /** `VIRTIO_ID_NET` (1). */
  readonly deviceId: number = VIRTIO_ID_NET;
  /** Offered features. */
  readonly features: bigint;
  /** `2 * maxQueuePairs` data queues (receiveq1, transmitq1, ...) then the control queue. */
  readonly queueMaxSizes: readonly number[];
  /** Counters. */
  get stats(): Readonly<NetDeviceStats> {
    return Object.freeze({ ...this.#stats });
  }
  readonly #stats: NetDeviceStats = {
    txFrames: 0,
    txErrors: 0,
    rxFrames: 0,
    rxFiltered: 0,
    rxDropped: 0,
    ctrlOk: 0,
    ctrlErr: 0,
  };
  /** Queue pairs the device has. */
  readonly maxQueuePairs: number;

  readonly #backend: NetBackend | undefined;
  #features = 0n;
  #mergeable = false;
  #ctrlIndex = -1;
  #guestOffloads = 0n;
  #offloads: NetOffloads = NO_OFFLOADS;
  readonly #filter: RxFilter;
  readonly #steering = new FlowSteering();
  #rx: RxState[] = [];
  #txHeld: (DescriptorChain | null)[] = [];
  #txBusy = false;
  #txAgain = false;
  // Scratch: one transmit frame, one header, segments; nothing per frame.
  readonly #txBuf = new Uint8Array(MAX_FRAME);
  readonly #segBuf = new Uint8Array(MAX_FRAME);
  readonly #h: HeaderScratch;
  readonly #control: NetControl;
  readonly #txMeta: NetFrameMeta = plainMeta();
  readonly #emitSegment = (seg: Uint8Array): void => {
    if (!this.#backend?.transmit(seg, this.#plain)) this.#stats.txErrors++;
  };
  readonly #plain: NetFrameMeta = plainMeta();
  readonly #port: NetPort & { offloads: NetOffloads };
  readonly #ctrlServer: ChainServer = {
    serveChain: (c, _q, ctx) => this.#control.serve(c, ctx),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A network device; see {@link NetDeviceOptions}. */
  constructor(options: NetDeviceOptions = {}) {
    super(VirtioNetConfig);
    const pairs = options.maxQueuePairs ?? 1;
    if (
      !Number.isInteger(pairs) || pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN ||
      pairs > VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX
    ) {
      throw new DeviceError(`maxQueuePairs ${pairs} is outside 1..0x8000 (5.1.4.1)`, {
        code: "ERR_VIRTIO_DEVICE_NET_OPTION",
      });
    }
    this.maxQueuePairs = pairs;
    let features = options.features ?? NET_DEFAULT_FEATURES;
    if (options.features === undefined) {
      if (pairs > 1) features |= bit(VIRTIO_NET_F_MQ);
      if (options.mtu !== undefined) features |= bit(VIRTIO_NET_F_MTU);
    }
    this.features = features;
    const size = options.queueSize ?? 256;
    const ctrl = (features & bit(VIRTIO_NET_F_CTRL_VQ)) !== 0n;
    this.queueMaxSizes = Array.from({ length: 2 * pairs + (ctrl ? 1 : 0) }, () => size);
    this.#filter = new RxFilter(options.macTableSize ?? DEFAULT_MAC_TABLE);
    const hdrBytes = new Uint8Array(VirtioNetHdr.SIZE);
    this.#h = { bytes: hdrBytes, fields: new VirtioNetHdr(new DataView(hdrBytes.buffer)), len: 12 };
    this.#control = new NetControl({
      negotiated: () => this.#features,
      maxQueuePairs: pairs,
      stats: this.#stats,
      filter: this.#filter,
      steering: this.#steering,
      setMac: (mac) => this.config.update(() => this.cfg.macBytes().set(mac)),
      ackAnnounce: () =>
        this.config.update(() => {
          this.cfg.status &= ~VIRTIO_NET_S_ANNOUNCE;
        }),
      setGuestOffloads: (mask) => {
        this.#guestOffloads = mask;
        this.#updateOffloads();
      },
    });
    const mac = typeof options.mac === "string"
      ? parseMac(options.mac)
      : options.mac ?? randomMac();
    if (mac.length !== 6) {
      throw new DeviceError(`MAC address has ${mac.length} bytes, not 6`, {
        code: "ERR_VIRTIO_DEVICE_NET_MAC",
      });
    }
    const mtu = options.mtu;
    if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) {
      throw new DeviceError(`mtu ${mtu} is outside 68..65535 (5.1.4.1)`, {
        code: "ERR_VIRTIO_DEVICE_NET_OPTION",
      });
    }
    this.config.update(() => {
      this.cfg.macBytes().set(mac);
      this.cfg.status = options.linkUp === false ? 0 : VIRTIO_NET_S_LINK_UP;
      this.cfg.maxVirtqueuePairs = pairs;
      this.cfg.mtu = mtu ?? 0;
      this.cfg.speed = options.speed ?? 10000;
      this.cfg.duplex = 1; // full duplex (5.1.4.1: 0x01)
    });
    this.#port = {
      receive: (frame, meta) => this.#receive(frame, meta),
      resume: () => this.#kickTx(),
      offloads: NO_OFFLOADS,
    };
    this.#backend = options.backend;
    this.#backend?.attach(this.#port);
  }

  /** The MAC address in config (changed by VIRTIO_NET_CTRL_MAC_ADDR_SET). */
  get mac(): Uint8Array {
    return this.cfg.macBytes().slice();
  }

  /** {@link NetDevice.mac} as `aa:bb:cc:dd:ee:ff`. */
  get macString(): string {
    return formatMac(this.cfg.macBytes());
  }

  /** Is the link up? */
  get linkUp(): boolean {
    return (this.cfg.status & VIRTIO_NET_S_LINK_UP) !== 0;
  }

  /** Queue pairs in use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; 1 after reset). */
  get queuePairs(): number {
    return this.#steering.pairs;
  }

  /** The receive mode flags as set through the control queue. */
  get rxMode(): {
    promisc: boolean;
    allMulti: boolean;
    allUni: boolean;
    noMulti: boolean;
    noUni: boolean;
    noBcast: boolean;
  } {
    return this.#filter.modes();
  }

  /** Is VLAN `vid` in the filter table? */
  hasVlan(vid: number): boolean {
    return this.#filter.hasVlan(vid);
  }

  /** Entries of the MAC filter table: unicast then multicast, as strings. */
  get macTable(): { unicast: string[]; multicast: string[] } {
    const f = this.#filter;
    const fmt = (n: number) => formatMac(macFromNumber(n));
    return {
      unicast: Array.from(f.uni.subarray(0, f.uniCount), fmt),
      multicast: Array.from(f.multi.subarray(0, f.multiCount), fmt),
    };
  }

  // Config is read-only for a modern driver (5.1.4.2): ConfigDevice ignores writes.

  /**
   * Set the link state: updates `status` and, when the driver negotiated
   * VIRTIO_NET_F_STATUS, raises a configuration change (5.1.4).
   */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.config.update(() => {
      this.cfg.status = up
        ? this.cfg.status | VIRTIO_NET_S_LINK_UP
        : this.cfg.status & ~VIRTIO_NET_S_LINK_UP;
    });
    if (this.#features & bit(VIRTIO_NET_F_STATUS)) this.context?.configChanged();
    if (up) this.#kickTx();
  }

  /**
   * Ask the driver to announce itself (after a migration): sets
   * VIRTIO_NET_S_ANNOUNCE and raises a configuration change; the driver
   * acks with VIRTIO_NET_CTRL_ANNOUNCE_ACK (5.1.6.5.4). Returns false when
   * the driver did not negotiate VIRTIO_NET_F_GUEST_ANNOUNCE.
   */
  announce(): boolean {
    if (!(this.#features & bit(VIRTIO_NET_F_GUEST_ANNOUNCE)) || this.context === undefined) {
      return false;
    }
    this.config.update(() => {
      this.cfg.status |= VIRTIO_NET_S_ANNOUNCE;
    });
    this.context.configChanged();
    return true;
  }

  /** Is an announce request pending (VIRTIO_NET_S_ANNOUNCE)? */
  get announcePending(): boolean {
    return (this.cfg.status & VIRTIO_NET_S_ANNOUNCE) !== 0;
  }

  /**
   * Deliver a frame to the driver as if it came from the network (what a
   * backend does through its port). Returns false when there are no
   * receive buffers now.
   */
  receive(frame: Uint8Array, meta?: NetFrameMeta): boolean {
    return this.#receive(frame, meta);
  }

  /** Start serving: work out the header layout and the control queue index from the features. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    const f = ctx.features;
    this.#features = f;
    this.#mergeable = (f & bit(VIRTIO_NET_F_MRG_RXBUF)) !== 0n;
    // 5.1.6: num_buffers is there with VERSION_1 or MRG_RXBUF; no hash report.
    this.#h.len = this.#mergeable || (f & bit(VIRTIO_F_VERSION_1)) ? 12 : 10;
    const mq = (f & bit(VIRTIO_NET_F_MQ)) !== 0n;
    this.#ctrlIndex = !(f & bit(VIRTIO_NET_F_CTRL_VQ)) ? -1 : mq ? 2 * this.maxQueuePairs : 2;
    this.#guestOffloads = f & GUEST_OFFLOAD_BITS;
    this.#updateOffloads();
    this.#resetFilters();
    // Without CTRL_RX the driver cannot ask for filtering: receive everything.
    this.#filter.promisc = !(f & bit(VIRTIO_NET_F_CTRL_RX));
    const queues = mq ? this.maxQueuePairs : 1;
    this.#rx = Array.from({ length: queues }, () => ({ held: [] }));
    this.#txHeld = Array.from({ length: queues }, () => null);
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined) return;
    if (index === this.#ctrlIndex) {
      serveQueue(ctx, index, this.#ctrlServer);
      return;
    }
    if (index >= 2 * this.#rx.length) return; // queue outside the negotiated layout
    if (index % 2 === 1) return this.#kickTx();
    // New receive buffers: let the backend deliver what it held back.
    this.#backend?.rxReady();
  }

  /** Back to the state after power-on (5.1.6.5.2: empty MAC table), keeping MAC and link. */
  override reset(): void {
    super.reset();
    this.#features = 0n;
    this.#rx = [];
    this.#txHeld = [];
    this.#offloads = this.#port.offloads = NO_OFFLOADS;
    this.#resetFilters();
    if (this.cfg.status & VIRTIO_NET_S_ANNOUNCE) {
      this.config.update(() => {
        this.cfg.status &= ~VIRTIO_NET_S_ANNOUNCE;
      });
    }
  }

  #resetFilters(): void {
    this.#filter.reset((this.#features & bit(VIRTIO_NET_F_CTRL_VLAN)) !== 0n);
    this.#steering.reset();
  }

  #updateOffloads(): void {
    this.#offloads = this.#port.offloads = guestOffloads(this.#guestOffloads);
  }

  // ---- transmit (5.1.6.2) ----

  #kickTx(): void {
    if (this.#txBusy) {
      this.#txAgain = true;
      return;
    }
    this.#txBusy = true;
    try {
      do {
        this.#txAgain = false;
        for (let p = 0; p < this.#txHeld.length; p++) this.#processTx(p);
      } while (this.#txAgain);
    } finally {
      this.#txBusy = false;
    }
  }

  #processTx(pair: number): void {
    const ctx = this.context;
    const q = ctx?.queues[2 * pair + 1];
    if (ctx === undefined || q === undefined) return;
    let used = 0;
    try {
      for (;;) {
        const c = this.#txHeld[pair] ?? q.pop();
        if (c === null) break;
        this.#txHeld[pair] = null;
        if (!this.#transmit(c, pair)) {
          this.#txHeld[pair] = c; // backend full: retry on resume
          break;
        }
        q.pushUsed(c, 0);
        used++;
        if (this.context !== ctx) return; // reset by a callback meanwhile
      }
    } catch (e) {
      ctx.needsReset(e);
    }
    if (used) publishUsed(ctx, q);
  }

  /** Sends one transmit buffer on; false when the backend refused it for now. */
  #transmit(c: DescriptorChain, pair: number): boolean {
    const hl = this.#h.len;
    const len = c.readableLength - hl;
    if (len < 14 || len > MAX_FRAME) {
      this.#stats.txErrors++;
      return true;
    }
    const hb = this.#h.bytes;
    hb.fill(0);
    c.read(0, hb, 0, hl);
    const h = this.#h.fields;
    const m = this.#txMeta;
    m.flags = h.flags;
    m.gsoType = h.gsoType;
    m.hdrLen = h.hdrLen;
    m.gsoSize = h.gsoSize;
    m.csumStart = h.csumStart;
    m.csumOffset = h.csumOffset;
    const frame = this.#txBuf.subarray(0, len);
    c.read(hl, frame);
    if (!validTx(m, this.#features, len)) {
      this.#stats.txErrors++;
      return true;
    }
    if (!this.linkUp || this.#backend === undefined) return true; // nowhere to go: dropped
    this.#steering.sent(frame, pair);
    const be = this.#backend;
    if (offloadsAccept(be.offloads, m)) {
      if (!be.transmit(frame, m)) return false;
    } else if (isGso(m)) {
      // The far side cannot take GSO: segment here (checksums included).
      if (segmentTcp(frame, m, this.#segBuf, this.#emitSegment) < 0) {
        this.#stats.txErrors++;
        return true;
      }
    } else {
      completeChecksum(frame, m.csumStart, m.csumOffset);
      if (!be.transmit(frame, this.#plain)) return false;
    }
    this.#stats.txFrames++;
    return true;
  }

  // ---- receive (5.1.6.3, 5.1.6.4) ----

  #receive(frame: Uint8Array, meta: NetFrameMeta | undefined): boolean {
    const ctx = this.context;
    if (ctx === undefined || !this.linkUp || frame.length < 14 || frame.length > MAX_FRAME) {
      this.#stats.rxDropped++;
      return true;
    }
    if (!this.#filter.accept(frame, this.cfg)) {
      this.#stats.rxFiltered++;
      return true;
    }
    const m = meta ?? this.#plain;
    const flags = rxHeaderFlags(frame, m, this.#offloads);
    if (flags < 0) {
      this.#stats.rxDropped++;
      return true;
    }
    // Steering (5.1.6.5.6.1): the pair the flow was last sent on, else by hash.
    const pair = this.#steering.pairFor(frame);
    const q = ctx.queues[2 * pair];
    if (q === undefined) {
      this.#stats.rxDropped++;
      return true;
    }
    const h = this.#h.fields;
    this.#h.bytes.fill(0);
    h.flags = flags;
    if (isGso(m)) {
      h.gsoType = m.gsoType;
      h.gsoSize = m.gsoSize;
      h.hdrLen = m.hdrLen;
    }
    if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      h.csumStart = m.csumStart;
      h.csumOffset = m.csumOffset;
    }
    try {
      const r = this.#mergeable
        ? fillMergeable(q, this.#rx[pair], this.#h, frame)
        : fillSingle(q, this.#rx[pair], this.#h, frame);
      if (r === 0) return false;
      if (r < 0) {
        this.#stats.rxDropped++;
        return true;
      }
    } catch (e) {
      ctx.needsReset(e);
      return true;
    }
    this.#stats.rxFrames++;
    if (q.needsNotification()) ctx.notifyUsed(2 * pair);
    return true;
  }
}

function randomMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
  return mac;
}
