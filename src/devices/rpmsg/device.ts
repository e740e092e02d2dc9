/**
 * The virtio rpmsg device model (device id 7): the remote processor's end
 * of the virtio rpmsg bus that Linux's `virtio_rpmsg_bus` drives. The
 * virtio spec reserves the id without a section; the protocol is Linux's
 * (`drivers/rpmsg/virtio_rpmsg_bus.c`, `include/linux/rpmsg.h`), which
 * OpenAMP's remote side also follows:
 *
 * - no configuration space; feature VIRTIO_RPMSG_F_NS (the name service);
 * - queue 0 carries messages to the driver (the device fills the driver's
 *   empty, fixed-size buffers: 512 bytes in Linux), queue 1 messages from
 *   the driver (one message per buffer, used with length 0);
 * - each message is a 16-byte `rpmsg_hdr` (src, dst, reserved, len, flags)
 *   and `len` bytes of payload;
 * - with VIRTIO_RPMSG_F_NS, an endpoint announces itself to address 53 with
 *   an `rpmsg_ns_msg` (name, addr, CREATE or DESTROY); Linux then creates a
 *   channel device (`virtio0.<name>.-1.<addr>` on its rpmsg bus) and binds
 *   the driver of that name (`rpmsg-raw`: `rpmsg_char`'s /dev/rpmsgN).
 *
 * {@link RpmsgDevice.createEndpoint} makes a local endpoint (announced when
 * the driver is up and the name service negotiated); messages from the
 * driver are dispatched by `dst`; the driver's own announcements appear in
 * {@link RpmsgDevice.channels}.
 *
 * The driver is untrusted: each message is copied out of its buffer once
 * (at most the buffer size) and checked there. A buffer shorter than a
 * header, a `len` past the bytes given, a message larger than the buffer
 * size, a device-writable transmit buffer or an unknown `dst` are counted
 * and dropped; the device keeps working. A receive buffer too small for a
 * message fails that send (`ERR_VIRTIO_DEVICE_RPMSG_MSGSIZE`) and is kept
 * for the next; one shorter than a header is malformed (DEVICE_NEEDS_RESET).
 *
 * @example
 * ```ts
 * import { RpmsgDevice } from "./device.ts";
 *
 * const dev = new RpmsgDevice();
 * const echo = dev.createEndpoint("rpmsg-raw", 0x400);
 * echo.onMessage((m) => void echo.sendTo(m.src, m.data));
 * if (dev.deviceId !== 7 || dev.configSize !== 0 || echo.addr !== 0x400) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ConfigDevice, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_RPMSG } from "../../generated/common.ts";
import {
  RPMSG_ADDR_ANY,
  RPMSG_BUF_SIZE,
  RpmsgHdr,
  VIRTIO_RPMSG_F_NS,
} from "../../generated/devices/rpmsg.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { bit, checkDeviceQueueSize, hasFeature, ringFeatures } from "../../features.ts";
import { type ChainServer, publishUsed } from "../../queue_service.ts";
import {
  type RpmsgChannel,
  type RpmsgChannelEvent,
  type RpmsgEndpoint,
  type RpmsgEndpointOptions,
  RpmsgNode,
  type RpmsgTransmitter,
} from "./endpoint.ts";

/** Queue 0: messages from the device to the driver (Linux's "input" queue). */
export const RPMSG_RX_QUEUE = 0;
/** Queue 1: messages from the driver to the device (Linux's "output" queue). */
export const RPMSG_TX_QUEUE = 1;

/** Options of an {@link RpmsgDevice}. */
export interface RpmsgDeviceOptions {
  /** Maximum size of both queues (default 256: Linux then posts 256 buffers each way). */
  readonly queueSize?: number;
  /** Offer VIRTIO_RPMSG_F_NS, the name service (default true). */
  readonly nameService?: boolean;
  /** Buffer size, header included (default 512, Linux's `MAX_RPMSG_BUF_SIZE`). */
  readonly bufferSize?: number;
  /** Offer the packed ring layout (default false). */
  readonly packed?: boolean;
}

interface Outgoing {
  readonly bytes: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** A virtio rpmsg device model (the remote processor's end); see the module documentation. */
export class RpmsgDevice extends ConfigDevice {
  /** `VIRTIO_ID_RPMSG` (7). */
  readonly deviceId: number = VIRTIO_ID_RPMSG;
  /** Ring features and VIRTIO_RPMSG_F_NS. */
  readonly features: bigint;
  /** Queue 0 (to the driver) and 1 (from the driver). */
  readonly queueMaxSizes: readonly number[];
  /** Buffer size, header included. */
  readonly bufferSize: number;
  /** Largest payload: the buffer size minus the 16-byte header. */
  readonly maxPayload: number;
  /** For messages. */
  readonly label: string = "rpmsg device";
  /** Messages from the driver dropped as malformed (short, bad `len`, too large, writable). */
  get badMessages(): number {
    return this.#badMessages;
  }
  #badMessages = 0;
  readonly #node: RpmsgNode;
  readonly #outbox: Outgoing[] = [];
  readonly #scratch: Uint8Array;
  readonly #hdr: RpmsgHdr;
  readonly #got: { src: number; dst: number; data: Uint8Array }[] = [];
  #flushing = false;
  #held: DescriptorChain | undefined;
  readonly #tx: ChainServer = {
    serveChain: (c) => this.#serveTx(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** An rpmsg device; see {@link RpmsgDeviceOptions}. */
  constructor(options: RpmsgDeviceOptions = {}) {
    super(); // no configuration space
    const qs = checkDeviceQueueSize("virtio-rpmsg", options.queueSize ?? 256);
    this.queueMaxSizes = [qs, qs];
    const size = options.bufferSize ?? RPMSG_BUF_SIZE;
    if (!Number.isInteger(size) || size <= RpmsgHdr.SIZE || size > 65536) {
      throw new DeviceError(`rpmsg bufferSize ${size} is not in 17..65536`, {
        code: "ERR_VIRTIO_DEVICE_RPMSG_OPTION",
      });
    }
    this.bufferSize = size;
    this.maxPayload = size - RpmsgHdr.SIZE;
    this.features = ringFeatures(options.packed ?? false) |
      ((options.nameService ?? true) ? bit(VIRTIO_RPMSG_F_NS) : 0n);
    this.#scratch = new Uint8Array(size);
    this.#hdr = new RpmsgHdr(new DataView(this.#scratch.buffer));
    const io: RpmsgTransmitter = {
      maxPayload: this.maxPayload,
      label: this.label,
      transmit: (src, dst, data) => this.#transmit(src, dst, data),
    };
    this.#node = new RpmsgNode(io);
  }

  /**
   * A local endpoint at `addr` (default: the next free address from 1024),
   * announced to the driver with a name-service CREATE when it has a name
   * and VIRTIO_RPMSG_F_NS is negotiated (now, or when the driver comes up).
   */
  createEndpoint(
    name: string,
    addr: number = RPMSG_ADDR_ANY,
    options: RpmsgEndpointOptions = {},
  ): RpmsgEndpoint {
    return this.#node.createEndpoint(name, addr, options);
  }

  /** The local endpoint at `addr`, if any. */
  endpoint(addr: number): RpmsgEndpoint | undefined {
    return this.#node.endpoints.get(addr);
  }

  /** The channels the driver announced (Linux announces channels it creates with a fixed source). */
  get channels(): RpmsgChannel[] {
    return this.#node.channels;
  }

  /** Calls `listener` when the driver announces or withdraws a channel; returns an unsubscribe function. */
  onChannel(listener: (c: RpmsgChannel, e: RpmsgChannelEvent) => void): () => void {
    return this.#node.onChannel(listener);
  }

  /** The driver's channel named `name`, once announced. */
  waitChannel(name: string): Promise<RpmsgChannel> {
    return this.#node.waitChannel(name);
  }

  /** Messages from the driver to an address with no endpoint (dropped). */
  get unknownDst(): number {
    return this.#node.unknownDst;
  }

  /** Name-service messages from the driver that were malformed (dropped). */
  get badAnnouncements(): number {
    return this.#node.badAnnouncements;
  }

  /** Is the driver up (DRIVER_OK and not reset)? */
  get active(): boolean {
    return this.context !== undefined;
  }

  /** Start serving: announce the named endpoints. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#held = undefined;
    this.#node.up(hasFeature(ctx.features, VIRTIO_RPMSG_F_NS));
    this.#flush();
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    if (index === RPMSG_RX_QUEUE) return this.#flush();
    if (index !== RPMSG_TX_QUEUE) return;
    this.serve(index, this.#tx);
    // Dispatched after the ring work, so that replies see a consistent ring.
    for (const m of this.#got.splice(0)) this.#node.receive(m.src, m.dst, m.data);
  }

  /** The driver reset the device: messages not delivered fail, the driver's channels are gone. */
  override reset(): void {
    super.reset();
    this.#held = undefined;
    this.#got.length = 0;
    const err = new DeviceError("rpmsg: the driver reset the device", {
      code: "ERR_VIRTIO_DEVICE_RESET",
    });
    for (const o of this.#outbox.splice(0)) o.reject(err);
    this.#node.down();
  }

  /** Queues one message for the driver (the node's {@link RpmsgTransmitter}). */
  #transmit(src: number, dst: number, data: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(RpmsgHdr.SIZE + data.length);
    const h = new RpmsgHdr(new DataView(bytes.buffer));
    h.src = src;
    h.dst = dst;
    h.len = data.length;
    bytes.set(data, RpmsgHdr.SIZE);
    return new Promise<void>((resolve, reject) => {
      this.#outbox.push({ bytes, resolve, reject });
      this.#flush();
    });
  }

  /** One message from the driver: copied once into our scratch, checked, kept for dispatch. */
  #serveTx(c: DescriptorChain): number {
    const total = c.readableLength;
    if (c.writableLength !== 0 || total < RpmsgHdr.SIZE || total > this.bufferSize) {
      this.#badMessages++;
      return 0;
    }
    const n = c.read(0, this.#scratch.subarray(0, total));
    // From here on only the copy: the driver may rewrite its buffer meanwhile.
    const h = this.#hdr;
    const len = h.len;
    if (n !== total || len > total - RpmsgHdr.SIZE) {
      this.#badMessages++;
      return 0;
    }
    this.#got.push({
      src: h.src,
      dst: h.dst,
      data: this.#scratch.slice(RpmsgHdr.SIZE, RpmsgHdr.SIZE + len),
    });
    return 0;
  }

  /** Moves queued messages into the driver's receive buffers while both exist. */
  #flush(): void {
    const ctx = this.context;
    const q = ctx?.queues[RPMSG_RX_QUEUE];
    if (ctx === undefined || q === undefined || this.#flushing) return;
    this.#flushing = true;
    let used = 0;
    try {
      while (this.#outbox.length > 0) {
        const chain = this.#held ?? q.pop();
        this.#held = undefined;
        if (chain === null) break;
        if (chain.readableLength !== 0 || chain.writableLength < RpmsgHdr.SIZE) {
          throw new DeviceError(
            `rpmsg receive buffer at head ${chain.head} is not a writable buffer of at least ` +
              `${RpmsgHdr.SIZE} bytes`,
            { code: "ERR_VIRTIO_DEVICE_RPMSG_BUFFER" },
          );
        }
        const o = this.#outbox.shift() as Outgoing;
        if (o.bytes.length > chain.writableLength) {
          this.#held = chain; // kept for a message that fits
          o.reject(
            new DeviceError(
              `rpmsg: a message of ${o.bytes.length} bytes does not fit the driver's ` +
                `${chain.writableLength}-byte buffers`,
              { code: "ERR_VIRTIO_DEVICE_RPMSG_MSGSIZE" },
            ),
          );
          continue;
        }
        q.pushUsed(chain, chain.write(0, o.bytes));
        used++;
        o.resolve();
      }
    } catch (e) {
      ctx.needsReset(e);
    } finally {
      this.#flushing = false;
    }
    if (used) publishUsed(ctx, q);
  }
}
