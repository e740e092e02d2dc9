/**
 * The virtio-vsock device model (spec 5.10, device id 19): the host end of
 * host/guest stream sockets. Queues: rx (0, packets to the driver), tx (1,
 * packets from the driver) and event (2, transport reset); `guest_cid` in
 * config. The host side is a {@link VsockEndpoint} at CID 2:
 * {@link VsockDevice.listen} and {@link VsockDevice.connect} give
 * {@link VsockConnection}s with a `readable` and a `writable`;
 * `forward` and `bridge` (./unix_bridge.ts, Deno only) join them to host
 * Unix sockets.
 *
 * The driver is hostile: each tx packet's header is copied out of guest
 * memory once into our own buffer and only that copy is checked and used.
 * A header that is short, a `len` that is not the payload that follows it
 * (or is over 64 KiB), or a source CID other than `guest_cid` drops the
 * packet (counted in {@link VsockDevice.droppedPackets}); the connection
 * layer answers protocol errors (unknown op or type, credit violations,
 * packets for no connection) with RST.
 *
 * @example
 * ```ts
 * import { VsockDevice } from "./device.ts";
 *
 * const dev = new VsockDevice({ guestCid: 3 });
 * const listener = dev.listen(1234); // guest connects to CID 2, port 1234
 * if (dev.cfg.guestCid !== 3n) throw new Error("unreachable");
 * listener.close();
 * ```
 *
 * @module
 */

import { type ChainServer, ConfigDevice, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { bit, checkDeviceQueueSize, hasFeature, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_VSOCK } from "../../generated/common.ts";
import {
  VIRTIO_VSOCK_EVENT_TRANSPORT_RESET,
  VIRTIO_VSOCK_F_SEQPACKET,
  VIRTIO_VSOCK_OP_INVALID,
  VIRTIO_VSOCK_OP_RST,
  VirtioVsockConfig,
  VirtioVsockEvent,
  VirtioVsockHdr,
} from "../../generated/devices/vsock.ts";
import { publishUsed } from "../../queue_service.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import {
  VMADDR_CID_HOST,
  type VsockConnection,
  VsockEndpoint,
  type VsockListener,
  type VsockPacket,
  type VsockSocketOptions,
} from "./connection.ts";

/** The largest payload of one packet we send or accept (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
export const VSOCK_MAX_PAYLOAD = 64 * 1024;

/** Queue indices (5.10.2). */
export const VSOCK_RX_QUEUE = 0;
/** The tx queue. */
export const VSOCK_TX_QUEUE = 1;
/** The event queue. */
export const VSOCK_EVENT_QUEUE = 2;

/** Options of a {@link VsockDevice}. */
export interface VsockDeviceOptions {
  /** The guest's CID: 3 .. 0xfffffffe (5.10.4). */
  readonly guestCid: number;
  /** Receive buffer per connection on the host side (`buf_alloc`, default 256 KiB). */
  readonly bufAlloc?: number;
  /** Maximum size of each queue (default 128). */
  readonly queueSize?: number;
  /** Offer VIRTIO_VSOCK_F_SEQPACKET (default true). */
  readonly seqpacket?: boolean;
}

/** Reads a header through the generated accessor into a packet (fields only; no payload). */
export function readHeader(h: VirtioVsockHdr, data: Uint8Array): VsockPacket {
  return {
    srcCid: Number(h.srcCid),
    dstCid: Number(h.dstCid),
    srcPort: h.srcPort,
    dstPort: h.dstPort,
    type: h.type,
    op: h.op,
    flags: h.flags,
    bufAlloc: h.bufAlloc,
    fwdCnt: h.fwdCnt,
    data,
  };
}

/** Writes `p`'s header through the generated accessor. */
export function writeHeader(h: VirtioVsockHdr, p: VsockPacket): void {
  h.srcCid = BigInt(p.srcCid);
  h.dstCid = BigInt(p.dstCid);
  h.srcPort = p.srcPort;
  h.dstPort = p.dstPort;
  h.len = p.data.length;
  h.type = p.type;
  h.op = p.op;
  h.flags = p.flags;
  h.bufAlloc = p.bufAlloc;
  h.fwdCnt = p.fwdCnt;
}

/** A virtio-vsock device model; see the module documentation. */
export class VsockDevice extends ConfigDevice<VirtioVsockConfig> {
  /** `VIRTIO_ID_VSOCK` (19). */
  readonly deviceId: number = VIRTIO_ID_VSOCK;
  /** Ring features and VIRTIO_VSOCK_F_SEQPACKET (streams are implied without F_STREAM, 5.10.3). */
  readonly features: bigint;
  /** rx, tx, event. */
  readonly queueMaxSizes: readonly number[];
  /** The host end of every connection (CID 2). */
  readonly endpoint: VsockEndpoint;
  /** Tx packets dropped before the connection layer: short header, bad `len`, wrong source CID. */
  get droppedPackets(): number {
    return this.#droppedPackets;
  }
  #droppedPackets = 0;
  /** Transport reset events waiting for an event buffer. */
  #pendingEvents = 0;
  #flushing = false;
  #heldRx: DescriptorChain | undefined;
  #again = false;
  // Our own copy of each header: guest memory is read once.
  readonly #hdr = new VirtioVsockHdr(new DataView(new ArrayBuffer(VirtioVsockHdr.SIZE)));
  readonly #hdrBytes = new Uint8Array(this.#hdr.view.buffer);
  readonly #out = new VirtioVsockHdr(new DataView(new ArrayBuffer(VirtioVsockHdr.SIZE)));
  readonly #outBytes = new Uint8Array(this.#out.view.buffer);
  readonly #evt = new VirtioVsockEvent(new DataView(new ArrayBuffer(VirtioVsockEvent.SIZE)));
  readonly #evtBytes = new Uint8Array(this.#evt.view.buffer);
  readonly #received: VsockPacket[] = [];
  readonly #tx: ChainServer = {
    serveChain: (c) => this.#serveTx(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A device for a guest at `options.guestCid`. */
  constructor(options: VsockDeviceOptions) {
    super(VirtioVsockConfig);
    const cid = options.guestCid;
    if (!Number.isInteger(cid) || cid <= VMADDR_CID_HOST || cid >= 0xffffffff) {
      throw new DeviceError(`guest CID ${cid} is not in 3..0xfffffffe (spec 5.10.4)`, {
        code: "ERR_VIRTIO_DEVICE_VSOCK_CID",
      });
    }
    const qs = checkDeviceQueueSize("virtio-vsock", options.queueSize ?? 128);
    this.queueMaxSizes = [qs, qs, qs];
    this.features = ringFeatures(false) |
      (options.seqpacket ?? true ? bit(VIRTIO_VSOCK_F_SEQPACKET) : 0n);
    this.config.update(() => (this.cfg.guestCid = BigInt(cid)));
    this.endpoint = new VsockEndpoint({
      localCid: VMADDR_CID_HOST,
      bufAlloc: options.bufAlloc,
      onOutput: () => this.#flushRx(),
    });
  }

  /** The guest's CID. */
  get guestCid(): number {
    return Number(this.cfg.guestCid);
  }

  /** Listens on host port `port` for connections from the guest (seqpacket once negotiated). */
  listen(port: number, options: VsockSocketOptions = {}): VsockListener {
    return this.endpoint.listen(port, options);
  }

  /** Connects to the guest's port `port`. */
  connect(port: number, options: VsockSocketOptions = {}): Promise<VsockConnection> {
    return this.endpoint.connect(this.guestCid, port, options);
  }

  /**
   * Sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (5.10.6.7) and ends every
   * connection; with `newCid`, the guest's CID changes first (a migration).
   */
  transportReset(newCid?: number): void {
    if (newCid !== undefined) this.updateConfig((cfg) => (cfg.guestCid = BigInt(newCid)));
    this.endpoint.resetAll();
    this.#pendingEvents++;
    this.#flushEvents();
  }

  /** Start serving. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.endpoint.seqpacket = hasFeature(ctx.features, VIRTIO_VSOCK_F_SEQPACKET);
    this.#pendingEvents = 0;
    this.#heldRx = undefined;
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    if (index === VSOCK_TX_QUEUE) {
      this.serve(index, this.#tx);
      // Handled after the ring work, so replies see a consistent tx ring.
      for (const p of this.#received.splice(0)) this.endpoint.receive(p);
    } else if (index === VSOCK_RX_QUEUE) this.#flushRx();
    else if (index === VSOCK_EVENT_QUEUE) this.#flushEvents();
  }

  /** The driver reset the device: every connection ends (as on a transport reset). */
  override reset(): void {
    super.reset();
    this.#received.length = 0;
    this.#heldRx = undefined;
    this.endpoint.resetAll();
  }

  #serveTx(c: DescriptorChain): number {
    const hdrLen = VirtioVsockHdr.SIZE;
    const h = this.#hdr;
    if (c.read(0, this.#hdrBytes) < hdrLen) {
      this.#droppedPackets++;
      return 0;
    }
    // From here on only the copy: the guest may rewrite its buffer meanwhile.
    const len = h.len;
    const srcCid = h.srcCid;
    if (
      srcCid !== this.cfg.guestCid || h.dstCid > 0xffffffffn || len > VSOCK_MAX_PAYLOAD ||
      len !== c.readableLength - hdrLen
    ) {
      this.#droppedPackets++;
      if (srcCid === this.cfg.guestCid && h.op !== VIRTIO_VSOCK_OP_RST && len !== 0) {
        // A bad length on a real connection: the peer learns with RST (via the protocol check).
        this.#received.push({ ...readHeader(h, new Uint8Array(0)), op: VIRTIO_VSOCK_OP_INVALID });
      }
      return 0;
    }
    const data = new Uint8Array(len);
    c.read(hdrLen, data);
    this.#received.push(readHeader(h, data));
    return 0;
  }

  /** Moves packets the host end owes into rx buffers while both exist. */
  #flushRx(): void {
    if (this.#flushing) {
      this.#again = true;
      return;
    }
    const ctx = this.context;
    const q = ctx?.queues[VSOCK_RX_QUEUE];
    if (ctx === undefined || q === undefined) return;
    this.#flushing = true;
    let used = 0;
    try {
      do {
        this.#again = false;
        while (this.endpoint.hasOutput) {
          const chain = this.#heldRx ?? q.pop();
          this.#heldRx = undefined;
          if (chain === null) break;
          const room = chain.writableLength - VirtioVsockHdr.SIZE;
          if (room < 0) throw new DeviceError(`vsock rx buffer at head ${chain.head} too short`);
          const p = this.endpoint.nextPacket(Math.min(room, VSOCK_MAX_PAYLOAD));
          if (p === null) {
            this.#heldRx = chain; // kept for the next packet
            break;
          }
          writeHeader(this.#out, p);
          chain.write(0, this.#outBytes);
          chain.write(VirtioVsockHdr.SIZE, p.data);
          q.pushUsed(chain, VirtioVsockHdr.SIZE + p.data.length);
          used++;
        }
      } while (this.#again);
    } catch (e) {
      ctx.needsReset(e);
    } finally {
      this.#flushing = false;
    }
    if (used) publishUsed(ctx, q);
  }

  #flushEvents(): void {
    const ctx = this.context;
    const q = ctx?.queues[VSOCK_EVENT_QUEUE];
    if (ctx === undefined || q === undefined) return;
    let used = 0;
    try {
      while (this.#pendingEvents > 0) {
        const chain = q.pop();
        if (chain === null) break;
        this.#evt.id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET;
        q.pushUsed(chain, chain.write(0, this.#evtBytes));
        this.#pendingEvents--;
        used++;
      }
    } catch (e) {
      ctx.needsReset(e);
    }
    if (used) publishUsed(ctx, q);
  }
}
