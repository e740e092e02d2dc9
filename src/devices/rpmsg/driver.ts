/**
 * The virtio rpmsg driver: Linux's side of the bus (what
 * `virtio_rpmsg_bus` does), over our driver API. Like Linux, it posts
 * fixed-size receive buffers on queue 0 (512 bytes, as many as the queue
 * holds, at most 256) before DRIVER_OK, sends each message as one buffer on
 * queue 1, hears the remote processor's name-service announcements
 * (channel discovery: {@link Rpmsg.channels}, {@link Rpmsg.waitChannel})
 * and keeps its own endpoints ({@link Rpmsg.createEndpoint}, dynamic
 * addresses from 1024).
 *
 * What the device wrote is checked before use: a used length shorter than
 * a header or longer than the buffer, or a `len` past the bytes written, is
 * counted in {@link Rpmsg.badMessages} and dropped (Linux's
 * `rpmsg_recv_single` refuses the same).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { PciFunction, probePci } from "../../transport/pci/mod.ts";
 * import { RpmsgDevice } from "./device.ts";
 * import { rpmsgDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const remote = new RpmsgDevice({ queueSize: 16 });
 * const echo = remote.createEndpoint("echo", 0x400);
 * echo.onMessage((m) => void echo.sendTo(m.src, m.data));
 * const driver = rpmsgDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probePci(new PciFunction(remote, memory))!);
 * const rpmsg = await driver.nextRpmsg();
 * const channel = await rpmsg.waitChannel("echo");
 * const ep = rpmsg.createEndpoint("", undefined, { remote: channel.addr });
 * await ep.send(new TextEncoder().encode("ping"));
 * assert.equal(new TextDecoder().decode((await ep.receive()).data), "ping");
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { ArgumentError } from "../../errors.ts";
import { VIRTIO_ID_RPMSG } from "../../generated/common.ts";
import {
  RPMSG_ADDR_ANY,
  RPMSG_BUF_SIZE,
  RPMSG_MAX_NUM_BUFS,
  RpmsgHdr,
  VIRTIO_RPMSG_F_NS,
} from "../../generated/devices/rpmsg.ts";
import { Arrivals } from "../_arrivals.ts";
import { RPMSG_RX_QUEUE, RPMSG_TX_QUEUE } from "./device.ts";
import {
  type RpmsgChannel,
  type RpmsgChannelEvent,
  type RpmsgEndpoint,
  type RpmsgEndpointOptions,
  RpmsgNode,
  type RpmsgTransmitter,
} from "./endpoint.ts";

/** Options of {@link rpmsgDriver}. */
export interface RpmsgDriverOptions {
  /** Queue size to ask for (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Buffer size, header included (default 512, Linux's). */
  readonly bufferSize?: number;
}

/** Rpmsg's private members, for the rest of this module (set in its `static` block). */
let rpmsgHooks: {
  release(r: Rpmsg): void;
};

/** One bound rpmsg device: Linux's end of the bus. */
export class Rpmsg {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** Buffer size, header included. */
  readonly bufferSize: number;
  /** Largest payload of one message. */
  readonly maxPayload: number;
  /** Receive buffers posted on queue 0. */
  readonly rxBuffers: number;
  /** Messages from the device dropped as malformed. */
  get badMessages(): number {
    return this.#badMessages;
  }
  #badMessages = 0;
  readonly #node: RpmsgNode;
  readonly #rx: Virtqueue<number>;
  readonly #tx: Virtqueue<unknown>;
  readonly #rxBase: number;
  readonly #copy: Uint8Array;
  readonly #hdr: RpmsgHdr;
  #closed = false;

  static {
    rpmsgHooks = {
      release: (r) => r.#release(),
    };
  }

  /** Set up by the driver's probe: queues, receive buffers, DRIVER_OK, announcements. */
  constructor(dev: DriverDevice, options: RpmsgDriverOptions = {}) {
    this.dev = dev;
    this.bufferSize = options.bufferSize ?? RPMSG_BUF_SIZE;
    if (
      !Number.isInteger(this.bufferSize) || this.bufferSize <= RpmsgHdr.SIZE ||
      this.bufferSize > 65536
    ) {
      throw new ArgumentError(
        `${dev.name}: rpmsg bufferSize ${this.bufferSize} is not in 17..65536`,
        {
          code: "ERR_VIRTIO_ARGUMENT_RPMSG_BUFFER_SIZE",
        },
      );
    }
    this.maxPayload = this.bufferSize - RpmsgHdr.SIZE;
    this.#copy = new Uint8Array(this.bufferSize);
    this.#hdr = new RpmsgHdr(new DataView(this.#copy.buffer));
    const io: RpmsgTransmitter = {
      maxPayload: this.maxPayload,
      get label() {
        return dev.name;
      },
      transmit: (src, dst, data) => this.#transmit(src, dst, data),
    };
    this.#node = new RpmsgNode(io);
    const vqs = dev.findVqs<number>([
      { name: "input", callback: (vq) => this.#rxIrq(vq), size: options.queueSize },
      { name: "output", size: options.queueSize },
    ]);
    this.#rx = vqs[RPMSG_RX_QUEUE];
    this.#tx = vqs[RPMSG_TX_QUEUE] as Virtqueue<unknown>;
    // virtio_rpmsg_bus.c: half of at most MAX_RPMSG_NUM_BUFS buffers receive.
    this.rxBuffers = Math.min(this.#rx.size, RPMSG_MAX_NUM_BUFS / 2);
    const { dma } = dev.dmaContext;
    this.#rxBase = dma.alloc(this.rxBuffers * this.bufferSize, 16);
    for (let i = 0; i < this.rxBuffers; i++) {
      this.#rx.addInbuf({ addr: this.#rxBase + i * this.bufferSize, len: this.bufferSize }, i);
    }
    // The name service listens before the device can speak (Linux's rpmsg_ns probes first).
    this.#node.up(dev.hasFeature(VIRTIO_RPMSG_F_NS));
    dev.deviceReady();
    this.#rx.kick();
  }

  /** For messages: the device's name. */
  get label(): string {
    return this.dev.name;
  }

  /**
   * A local endpoint at `addr` (default: the next free address from 1024),
   * announced to the device when it has a name and VIRTIO_RPMSG_F_NS is on
   * (`announce: false` to keep it quiet, as Linux's rpmsg_ctrl endpoints are).
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

  /** The services the remote processor announced and has not withdrawn. */
  get channels(): RpmsgChannel[] {
    return this.#node.channels;
  }

  /** Calls `listener` when the device announces or withdraws a service; returns an unsubscribe function. */
  onChannel(listener: (c: RpmsgChannel, e: RpmsgChannelEvent) => void): () => void {
    return this.#node.onChannel(listener);
  }

  /** The device's channel named `name`, once announced. */
  waitChannel(name: string): Promise<RpmsgChannel> {
    return this.#node.waitChannel(name);
  }

  /** Messages from the device to an address with no endpoint (dropped). */
  get unknownDst(): number {
    return this.#node.unknownDst;
  }

  /** One message to the device (the node's {@link RpmsgTransmitter}). */
  async #transmit(src: number, dst: number, data: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(RpmsgHdr.SIZE + data.length);
    const h = new RpmsgHdr(new DataView(bytes.buffer));
    h.src = src;
    h.dst = dst;
    h.len = data.length;
    bytes.set(data, RpmsgHdr.SIZE);
    await this.#tx.request(bytes, 0);
  }

  #rxIrq(vq: Virtqueue<number>): void {
    const mem = this.dev.dmaContext.memory;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const addr = this.#rxBase + b.token * this.bufferSize;
      if (b.len < RpmsgHdr.SIZE || b.len > this.bufferSize) this.#badMessages++;
      else {
        // One copy of what the device wrote; the header is read from the copy.
        this.#copy.set(mem.bytes(addr, b.len));
        const len = this.#hdr.len;
        if (len > b.len - RpmsgHdr.SIZE) this.#badMessages++;
        else {
          const data = this.#copy.slice(RpmsgHdr.SIZE, RpmsgHdr.SIZE + len);
          this.#node.receive(this.#hdr.src, this.#hdr.dst, data);
        }
      }
      if (!this.#closed) {
        vq.addInbuf({ addr, len: this.bufferSize }, b.token);
        posted++;
      }
    }
    if (posted) vq.kick();
  }

  /** The device went away. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#node.down();
    this.dev.dmaContext.dma.free(this.#rxBase);
  }
}

/** The rpmsg driver plus the devices it bound. */
export interface RpmsgDriver extends VirtioDriver {
  /** Bound devices. */
  readonly devices: Map<DriverDevice, Rpmsg>;
  /** The next device to be probed (or the first already probed and not yet taken). */
  nextRpmsg(): Promise<Rpmsg>;
}

/** A virtio rpmsg driver for the bus (VIRTIO_RPMSG_F_NS understood). */
export function rpmsgDriver(options: RpmsgDriverOptions = {}): RpmsgDriver {
  const arrivals = new Arrivals<Rpmsg>();
  return {
    name: "virtio_rpmsg_bus",
    idTable: [{ device: VIRTIO_ID_RPMSG }],
    featureTable: [VIRTIO_RPMSG_F_NS],
    devices: arrivals.bound,
    nextRpmsg(): Promise<Rpmsg> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      arrivals.arrive(dev, new Rpmsg(dev, options));
    },
    remove(dev: DriverDevice): void {
      const r = arrivals.depart(dev);
      dev.reset();
      dev.delVqs();
      if (r) rpmsgHooks.release(r);
    },
  };
}
