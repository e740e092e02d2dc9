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
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
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
  VIRTIO_NET_ERR,
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
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_SPEED_DUPLEX,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_OK,
  VIRTIO_NET_S_ANNOUNCE,
  VIRTIO_NET_S_LINK_UP,
  VirtioNetConfig,
  VirtioNetCtrl,
  VirtioNetCtrlMac,
  VirtioNetCtrlMacAddr,
  VirtioNetCtrlMqPairsSet,
  VirtioNetHdr,
} from "../../generated/devices/net.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import type { DeviceQueue } from "../../virtqueue/queue.ts";
import { bit, featureMask } from "../../features.ts";
import { type ChainServer, publishUsed, serveQueue } from "../../queue_service.ts";
import type { NetBackend, NetPort } from "./backend.ts";
import {
  completeChecksum,
  flowHash,
  isGso,
  type NetFrameMeta,
  type NetOffloads,
  NO_OFFLOADS,
  offloadsAccept,
  plainMeta,
  segmentTcp,
  vlanId,
} from "./offload.ts";

/** Where a control command's data starts: after `class` and `command` (5.1.9.5). */
const CTRL_DATA_AT: number = VirtioNetCtrl.OFFSETS.commandSpecificData;
/** The longest fixed command data this device reads: GUEST_OFFLOADS_SET's le64 (5.1.9.5.9). */
const CTRL_FIXED_DATA = 8;

/** Largest frame the device moves: a 64 KiB GSO frame plus Ethernet and VLAN headers. */
const MAX_FRAME = 65535 + 18;
/** Entries of each MAC filter table (unicast, multicast); more sets the overflow flag (accept all). */
const DEFAULT_MAC_TABLE = 64;
/** Size of the flow table used for receive steering. */
const FLOW_SLOTS = 256;

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

/** GUEST_* offload bits VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET may switch (spec 5.1.6.5.6.1). */
const GUEST_OFFLOAD_BITS: bigint = featureMask([
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_UFO,
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

/** A MAC address as a number (48 bits fit a double exactly). */
function macNumber(b: Uint8Array, at: number): number {
  const low = ((b[at + 2] << 24) | (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5]) >>> 0;
  return b[at] * 2 ** 40 + b[at + 1] * 2 ** 32 + low;
}

const BROADCAST = 2 ** 48 - 1;

/** Per receive queue: chains popped but not yet used, kept for the next frame (MRG_RXBUF gathering). */
interface RxState {
  held: DescriptorChain[];
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
  readonly #macTableSize: number;
  #features = 0n;
  #hdrLen = 12;
  #mergeable = false;
  #ctrlIndex = -1;
  #guestOffloads = 0n;
  #offloads: NetOffloads = NO_OFFLOADS;
  // Receive filter state (5.1.6.5.1, 5.1.6.5.2, 5.1.6.5.3).
  #promisc = true;
  #allMulti = false;
  #allUni = false;
  #noMulti = false;
  #noUni = false;
  #noBcast = false;
  #uni: Float64Array;
  #uniCount = 0;
  #uniOverflow = false;
  #multi: Float64Array;
  #multiCount = 0;
  #multiOverflow = false;
  #vlanFilter = false;
  readonly #vlans = new Uint8Array(4096 / 8);
  #pairs = 1;
  readonly #flows = new Int32Array(FLOW_SLOTS);
  #rx: RxState[] = [];
  #txHeld: (DescriptorChain | null)[] = [];
  #txBusy = false;
  #txAgain = false;
  // Scratch: one transmit frame, one header, segments; nothing per frame.
  readonly #txBuf = new Uint8Array(MAX_FRAME);
  readonly #segBuf = new Uint8Array(MAX_FRAME);
  readonly #hdrBytes = new Uint8Array(VirtioNetHdr.SIZE);
  readonly #hdr = new VirtioNetHdr(new DataView(this.#hdrBytes.buffer));
  // A control command is copied here once (class, command, fixed data) and read from the copy.
  readonly #ctrlBytes = new Uint8Array(CTRL_DATA_AT + CTRL_FIXED_DATA);
  readonly #ctrlView = new DataView(this.#ctrlBytes.buffer);
  readonly #ctrl = new VirtioNetCtrl(this.#ctrlView, 0, CTRL_FIXED_DATA);
  readonly #mqSet = new VirtioNetCtrlMqPairsSet(this.#ctrlView, CTRL_DATA_AT);
  readonly #txMeta: NetFrameMeta = plainMeta();
  readonly #emitSegment = (seg: Uint8Array): void => {
    if (!this.#backend?.transmit(seg, this.#plain)) this.#stats.txErrors++;
  };
  readonly #plain: NetFrameMeta = plainMeta();
  readonly #port: NetPort & { offloads: NetOffloads };
  readonly #ctrlServer: ChainServer = {
    serveChain: (c, _q, ctx) => this.#serveCtrl(c, ctx),
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
    this.#macTableSize = options.macTableSize ?? DEFAULT_MAC_TABLE;
    this.#uni = new Float64Array(this.#macTableSize);
    this.#multi = new Float64Array(this.#macTableSize);
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
    return this.#pairs;
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
    return {
      promisc: this.#promisc,
      allMulti: this.#allMulti,
      allUni: this.#allUni,
      noMulti: this.#noMulti,
      noUni: this.#noUni,
      noBcast: this.#noBcast,
    };
  }

  /** Is VLAN `vid` in the filter table? */
  hasVlan(vid: number): boolean {
    return (this.#vlans[vid >> 3] & (1 << (vid & 7))) !== 0;
  }

  /** Entries of the MAC filter table: unicast then multicast, as strings. */
  get macTable(): { unicast: string[]; multicast: string[] } {
    const fmt = (n: number) => {
      const b = new Uint8Array(6);
      let v = n;
      for (let i = 5; i >= 0; i--) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      return formatMac(b);
    };
    return {
      unicast: Array.from(this.#uni.subarray(0, this.#uniCount), fmt),
      multicast: Array.from(this.#multi.subarray(0, this.#multiCount), fmt),
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
    this.#hdrLen = this.#mergeable || (f & bit(VIRTIO_F_VERSION_1)) ? 12 : 10;
    const mq = (f & bit(VIRTIO_NET_F_MQ)) !== 0n;
    this.#ctrlIndex = !(f & bit(VIRTIO_NET_F_CTRL_VQ)) ? -1 : mq ? 2 * this.maxQueuePairs : 2;
    this.#guestOffloads = f & GUEST_OFFLOAD_BITS;
    this.#updateOffloads();
    this.#resetFilters();
    // Without CTRL_RX the driver cannot ask for filtering: receive everything.
    this.#promisc = !(f & bit(VIRTIO_NET_F_CTRL_RX));
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
    this.#promisc = true;
    this.#allMulti =
      this.#allUni =
      this.#noMulti =
      this.#noUni =
      this.#noBcast =
        false;
    this.#uniCount = this.#multiCount = 0;
    this.#uniOverflow = this.#multiOverflow = false;
    this.#vlanFilter = (this.#features & bit(VIRTIO_NET_F_CTRL_VLAN)) !== 0n;
    this.#vlans.fill(0);
    this.#pairs = 1;
    this.#flows.fill(-1);
  }

  #updateOffloads(): void {
    const g = this.#guestOffloads;
    this.#offloads = this.#port.offloads = {
      csum: (g & bit(VIRTIO_NET_F_GUEST_CSUM)) !== 0n,
      tso4: (g & bit(VIRTIO_NET_F_GUEST_TSO4)) !== 0n,
      tso6: (g & bit(VIRTIO_NET_F_GUEST_TSO6)) !== 0n,
      ecn: (g & bit(VIRTIO_NET_F_GUEST_ECN)) !== 0n,
    };
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
    const hl = this.#hdrLen;
    const len = c.readableLength - hl;
    if (len < 14 || len > MAX_FRAME) {
      this.#stats.txErrors++;
      return true;
    }
    const hb = this.#hdrBytes;
    hb.fill(0);
    c.read(0, hb, 0, hl);
    const h = this.#hdr;
    const m = this.#txMeta;
    m.flags = h.flags;
    m.gsoType = h.gsoType;
    m.hdrLen = h.hdrLen;
    m.gsoSize = h.gsoSize;
    m.csumStart = h.csumStart;
    m.csumOffset = h.csumOffset;
    const frame = this.#txBuf.subarray(0, len);
    c.read(hl, frame);
    if (!this.#validTx(m, len)) {
      this.#stats.txErrors++;
      return true;
    }
    if (!this.linkUp || this.#backend === undefined) return true; // nowhere to go: dropped
    if (this.#pairs > 1) this.#flows[flowHash(frame) % FLOW_SLOTS] = pair;
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

  /** 5.1.6.2.2: offsets inside the frame, offloads only as negotiated. */
  #validTx(m: NetFrameMeta, len: number): boolean {
    const f = this.#features;
    if (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      if (!(f & bit(VIRTIO_NET_F_CSUM))) return false;
      if (m.csumStart + m.csumOffset + 2 > len) return false;
    }
    // Flag bits we do not know are ignored (5.1.6.2.2); clear them before passing on.
    m.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
    const ecn = (m.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
    const t = m.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (t === VIRTIO_NET_HDR_GSO_NONE) return !ecn;
    if (t === VIRTIO_NET_HDR_GSO_TCPV4 && !(f & bit(VIRTIO_NET_F_HOST_TSO4))) return false;
    if (t === VIRTIO_NET_HDR_GSO_TCPV6 && !(f & bit(VIRTIO_NET_F_HOST_TSO6))) return false;
    if (t !== VIRTIO_NET_HDR_GSO_TCPV4 && t !== VIRTIO_NET_HDR_GSO_TCPV6) return false;
    if (ecn && !(f & bit(VIRTIO_NET_F_HOST_ECN))) return false;
    // GSO needs a partial checksum (5.1.6.2.1) and a segment size.
    return (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && m.gsoSize > 0;
  }

  // ---- receive (5.1.6.3, 5.1.6.4) ----

  #accept(frame: Uint8Array): boolean {
    if (this.#vlanFilter) {
      const vid = vlanId(frame);
      // 5.1.6.5.3: with CTRL_VLAN, tagged frames pass only for VLANs in the table.
      if (vid >= 0 && !this.hasVlan(vid)) return false;
    }
    if (this.#promisc) return true;
    const dst = macNumber(frame, 0);
    if (dst === BROADCAST) return !this.#noBcast;
    if (frame[0] & 1) {
      if (this.#noMulti) return false;
      if (this.#allMulti || this.#multiOverflow) return true;
      for (let i = 0; i < this.#multiCount; i++) if (this.#multi[i] === dst) return true;
      return false;
    }
    if (this.#noUni) return false;
    if (this.#allUni || this.#uniOverflow) return true;
    if (dst === macNumber(this.cfg.macBytes(), 0)) return true;
    for (let i = 0; i < this.#uniCount; i++) if (this.#uni[i] === dst) return true;
    return false;
  }

  #receive(frame: Uint8Array, meta: NetFrameMeta | undefined): boolean {
    const ctx = this.context;
    if (ctx === undefined || !this.linkUp || frame.length < 14 || frame.length > MAX_FRAME) {
      this.#stats.rxDropped++;
      return true;
    }
    if (!this.#accept(frame)) {
      this.#stats.rxFiltered++;
      return true;
    }
    const m = meta ?? this.#plain;
    let flags = 0;
    if (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      if (this.#offloads.csum) {
        flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      } else if (!isGso(m) && completeChecksum(frame, m.csumStart, m.csumOffset)) {
        // 5.1.6.4.1: without GUEST_CSUM, flags stay zero and the frame is complete.
      } else if (!isGso(m)) {
        this.#stats.rxDropped++;
        return true;
      }
    } else if ((m.flags & VIRTIO_NET_HDR_F_DATA_VALID) && this.#offloads.csum) {
      flags = VIRTIO_NET_HDR_F_DATA_VALID;
    }
    if (isGso(m) && !offloadsAccept(this.#offloads, m)) {
      this.#stats.rxDropped++;
      return true;
    }
    // Steering (5.1.6.5.6.1): the pair the flow was last sent on, else by hash.
    let pair = 0;
    if (this.#pairs > 1) {
      const h = flowHash(frame);
      const p = this.#flows[h % FLOW_SLOTS];
      pair = p >= 0 && p < this.#pairs ? p : h % this.#pairs;
    }
    const q = ctx.queues[2 * pair];
    if (q === undefined) {
      this.#stats.rxDropped++;
      return true;
    }
    const h = this.#hdr;
    this.#hdrBytes.fill(0);
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
        ? this.#fillMergeable(q, this.#rx[pair], frame)
        : this.#fillSingle(q, this.#rx[pair], frame);
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

  /** Without MRG_RXBUF: one buffer per frame. 1 done, 0 no buffer, -1 dropped. */
  #fillSingle(q: DeviceQueue, st: RxState, frame: Uint8Array): number {
    const c = st.held.length ? st.held[0] : q.pop();
    if (c === null) return 0;
    const hl = this.#hdrLen;
    if (c.writableLength < hl + frame.length) {
      // Keep the buffer for a smaller frame; this one does not fit.
      if (!st.held.length) st.held.push(c);
      return -1;
    }
    if (st.held.length) st.held.shift();
    this.#hdr.numBuffers = 1;
    c.write(0, this.#hdrBytes, 0, hl);
    c.write(hl, frame);
    q.addUsed(c, hl + frame.length);
    return 1;
  }

  /**
   * With MRG_RXBUF: gather buffers until the header and frame fit, then
   * fill every buffer but the last completely (5.1.6.4.2).
   */
  #fillMergeable(q: DeviceQueue, st: RxState, frame: Uint8Array): number {
    const hl = this.#hdrLen;
    const need = hl + frame.length;
    const held = st.held;
    let have = 0;
    for (const c of held) have += c.writableLength;
    while (have < need) {
      if (held.length >= q.size) return -1; // cannot ever fit (5.1.6.3.1 asks for 1526+ byte buffers)
      const c = q.pop();
      if (c === null) return 0;
      if (c.writableLength < hl) {
        // Too small even for the header (5.1.6.3.1): give it back empty.
        q.addUsed(c, 0);
        continue;
      }
      held.push(c);
      have += c.writableLength;
    }
    let count = 0;
    for (let left = need; left > 0; count++) left -= held[count].writableLength;
    this.#hdr.numBuffers = count;
    let off = 0; // into the frame
    for (let i = 0; i < count; i++) {
      const c = held[i];
      let w = 0;
      if (i === 0) w = c.write(0, this.#hdrBytes, 0, hl);
      const n = Math.min(c.writableLength - w, frame.length - off);
      c.write(w, frame, off, n);
      off += n;
      q.pushUsed(c, w + n);
    }
    held.splice(0, count);
    q.flushUsed();
    return 1;
  }

  // ---- control queue (5.1.6.5) ----

  /** One control buffer: run the command, write the ack (5.1.6.5); the used length is 1. */
  #serveCtrl(c: DescriptorChain, ctx: DeviceContext): number {
    if (c.writableLength < 1) {
      throw new DeviceError(
        `control buffer ${c.head} has no device-writable byte for the ack (5.1.6.5)`,
        { code: "ERR_VIRTIO_DEVICE_NET_NO_ACK" },
      );
    }
    const ack = this.#command(c, ctx);
    if (ack === VIRTIO_NET_OK) this.#stats.ctrlOk++;
    else this.#stats.ctrlErr++;
    c.writeUint8(0, ack);
    return 1;
  }

  #has(n: number): boolean {
    return (this.#features & bit(n)) !== 0n;
  }

  /**
   * Runs one command; returns the ack. The command is copied out of the
   * chain once (the MAC table, longer, in {@link #macTableSet}) and every
   * value is checked and used from the copy.
   */
  #command(c: DescriptorChain, ctx: DeviceContext): number {
    const len = c.readableLength;
    if (len < CTRL_DATA_AT) return VIRTIO_NET_ERR;
    const bytes = this.#ctrlBytes;
    bytes.fill(0);
    c.read(0, bytes, 0, Math.min(len, bytes.length));
    const cls = this.#ctrl.class;
    const cmd = this.#ctrl.command;
    const data = len - CTRL_DATA_AT;
    const ERR = VIRTIO_NET_ERR;
    const OK = VIRTIO_NET_OK;
    switch (cls) {
      case VIRTIO_NET_CTRL_RX: {
        if (!this.#has(VIRTIO_NET_F_CTRL_RX) || data !== 1) return ERR;
        const on = this.#ctrl.commandSpecificData(0); // u8 on
        if (on > 1) return ERR;
        const v = on === 1;
        if (cmd === VIRTIO_NET_CTRL_RX_PROMISC) this.#promisc = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_ALLMULTI) this.#allMulti = v;
        else if (!this.#has(VIRTIO_NET_F_CTRL_RX_EXTRA)) return ERR;
        else if (cmd === VIRTIO_NET_CTRL_RX_ALLUNI) this.#allUni = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOMULTI) this.#noMulti = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOUNI) this.#noUni = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOBCAST) this.#noBcast = v;
        else return ERR;
        return OK;
      }
      case VIRTIO_NET_CTRL_MAC: {
        if (cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET) {
          if (!this.#has(VIRTIO_NET_F_CTRL_MAC_ADDR) || data !== VirtioNetCtrlMacAddr.SIZE) {
            return ERR;
          }
          const mac = bytes.subarray(CTRL_DATA_AT, CTRL_DATA_AT + VirtioNetCtrlMacAddr.SIZE);
          // 5.1.6.5.2: mac in config is updated before the buffer is used.
          this.config.update(() => this.cfg.macBytes().set(mac));
          return OK;
        }
        if (cmd === VIRTIO_NET_CTRL_MAC_TABLE_SET) {
          if (!this.#has(VIRTIO_NET_F_CTRL_RX)) return ERR;
          return this.#macTableSet(c, len) ? OK : ERR;
        }
        return ERR;
      }
      case VIRTIO_NET_CTRL_VLAN: {
        if (!this.#has(VIRTIO_NET_F_CTRL_VLAN) || data !== 2) return ERR;
        const vid = this.#ctrlView.getUint16(CTRL_DATA_AT, true); // le16 vlan id
        if (vid > 4095) return ERR;
        if (cmd === VIRTIO_NET_CTRL_VLAN_ADD) this.#vlans[vid >> 3] |= 1 << (vid & 7);
        else if (cmd === VIRTIO_NET_CTRL_VLAN_DEL) this.#vlans[vid >> 3] &= ~(1 << (vid & 7));
        else return ERR;
        return OK;
      }
      case VIRTIO_NET_CTRL_ANNOUNCE: {
        if (!this.#has(VIRTIO_NET_F_GUEST_ANNOUNCE) || cmd !== VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
          return ERR;
        }
        // 5.1.6.5.4: clear VIRTIO_NET_S_ANNOUNCE before the buffer is used.
        this.config.update(() => {
          this.cfg.status &= ~VIRTIO_NET_S_ANNOUNCE;
        });
        return OK;
      }
      case VIRTIO_NET_CTRL_MQ: {
        if (
          !this.#has(VIRTIO_NET_F_MQ) || cmd !== VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
          data !== VirtioNetCtrlMqPairsSet.SIZE
        ) return ERR;
        const n = this.#mqSet.virtqueuePairs;
        if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > this.maxQueuePairs) return ERR;
        for (let i = 0; i < n; i++) {
          if (ctx.queues[2 * i] === undefined || ctx.queues[2 * i + 1] === undefined) return ERR;
        }
        this.#pairs = n;
        return OK;
      }
      case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
        if (
          !this.#has(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
          cmd !== VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || data !== CTRL_FIXED_DATA
        ) return ERR;
        const want = this.#ctrlView.getBigUint64(CTRL_DATA_AT, true); // le64 offloads
        // Only GUEST_* offloads that were negotiated may be switched on (5.1.6.5.6.1).
        if (want & ~(this.#features & GUEST_OFFLOAD_BITS)) return ERR;
        this.#guestOffloads = want;
        this.#updateOffloads();
        return OK;
      }
      default:
        return ERR;
    }
  }

  /**
   * VIRTIO_NET_CTRL_MAC_TABLE_SET: two `virtio_net_ctrl_mac` tables, unicast
   * then multicast. Each `entries` is read once and each address once.
   */
  #macTableSet(c: DescriptorChain, len: number): boolean {
    const ENTRY = VirtioNetCtrlMacAddr.SIZE;
    let off = CTRL_DATA_AT;
    const counts = [0, 0];
    const starts = [0, 0];
    const word = new Uint8Array(VirtioNetCtrlMac.SIZE);
    const table = new VirtioNetCtrlMac(new DataView(word.buffer));
    for (let t = 0; t < 2; t++) {
      if (c.read(off, word) < VirtioNetCtrlMac.SIZE) return false;
      const n = table.entries;
      off += VirtioNetCtrlMac.OFFSETS.macs;
      if (n > (len - off) / ENTRY) return false;
      counts[t] = n;
      starts[t] = off;
      off += ENTRY * n;
    }
    if (off !== len) return false;
    const mac = new Uint8Array(ENTRY);
    const fill = (table: Float64Array, start: number, n: number): number => {
      const k = Math.min(n, table.length);
      for (let i = 0; i < k; i++) {
        c.read(start + ENTRY * i, mac);
        table[i] = macNumber(mac, 0);
      }
      return k;
    };
    this.#uniCount = fill(this.#uni, starts[0], counts[0]);
    this.#uniOverflow = counts[0] > this.#macTableSize;
    this.#multiCount = fill(this.#multi, starts[1], counts[1]);
    this.#multiOverflow = counts[1] > this.#macTableSize;
    return true;
  }
}

function randomMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
  return mac;
}
