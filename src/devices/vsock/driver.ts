/**
 * The virtio-vsock driver (spec 5.10): the guest end of vsock streams over
 * our driver API, with the same {@link VsockConnection} API as the device's
 * host side. Receive buffers stay posted on the rx queue, packets go out
 * through the tx queue as requests, and a transport reset on the event
 * queue ends every connection and re-reads `guest_cid`.
 *
 * @example
 * ```ts ignore
 * const driver = new VsockDriver();
 * await bus.registerDriver(driver);
 * const vsock = driver.vsockOf(await bus.addDevice(transport))!;
 * const conn = await vsock.connect(1234); // CID 2 (the host), port 1234
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import type { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_VSOCK } from "../../generated/common.ts";
import {
  VIRTIO_VSOCK_EVENT_TRANSPORT_RESET,
  VIRTIO_VSOCK_F_SEQPACKET,
  VirtioVsockConfig,
  VirtioVsockEvent,
  VirtioVsockHdr,
} from "../../generated/devices/vsock.ts";
import {
  VMADDR_CID_HOST,
  type VsockConnection,
  VsockEndpoint,
  type VsockListener,
  type VsockSocketOptions,
} from "./connection.ts";
import {
  readHeader,
  VSOCK_EVENT_QUEUE,
  VSOCK_MAX_PAYLOAD,
  VSOCK_RX_QUEUE,
  VSOCK_TX_QUEUE,
  writeHeader,
} from "./device.ts";

/** Options of a {@link VsockDriver}. */
export interface VsockDriverOptions {
  /** Receive buffers to keep posted (default: the rx queue's size). */
  readonly rxBuffers?: number;
  /** Payload room of each receive buffer (default 4096). */
  readonly rxBufferSize?: number;
  /** `buf_alloc` of each connection (default 256 KiB). */
  readonly bufAlloc?: number;
}

// VsockDriver ends a Vsock through this; Vsock sets it in its `static` block.
let vsockHooks: { release(v: Vsock): void };

/** One bound vsock device, the guest's end. */
export class Vsock {
  /** The guest end of every connection. */
  readonly endpoint: VsockEndpoint;
  /** Transport resets the device reported. */
  get transportResets(): number {
    return this.#transportResets;
  }
  #transportResets = 0;
  readonly #rx: Virtqueue<number>;
  readonly #tx: Virtqueue<unknown>;
  readonly #ev: Virtqueue<number>;
  readonly #rxBase: number;
  readonly #rxSize: number;
  readonly #evBase: number;
  readonly #hdr = new VirtioVsockHdr(new DataView(new ArrayBuffer(VirtioVsockHdr.SIZE)));
  readonly #hdrBytes = new Uint8Array(this.#hdr.view.buffer);
  #inFlight = 0;
  #closed = false;

  static {
    vsockHooks = { release: (v) => v.#release() };
  }

  /** Made by the driver's probe. */
  constructor(readonly dev: DriverDevice, options: VsockDriverOptions = {}) {
    this.endpoint = new VsockEndpoint({
      localCid: this.#readCid(),
      bufAlloc: options.bufAlloc,
      onOutput: () => this.#pump(),
    });
    const vqs = dev.findVqs<number>([
      { name: "rx", callback: (vq) => this.#rxIrq(vq) },
      { name: "tx" },
      { name: "event", callback: (vq) => this.#evIrq(vq) },
    ]);
    this.#rx = vqs[VSOCK_RX_QUEUE];
    this.#tx = vqs[VSOCK_TX_QUEUE] as Virtqueue<unknown>;
    this.#ev = vqs[VSOCK_EVENT_QUEUE];
    this.endpoint.seqpacket = dev.hasFeature(VIRTIO_VSOCK_F_SEQPACKET);
    dev.deviceReady();
    const { dma } = dev.dmaContext;
    this.#rxSize = VirtioVsockHdr.SIZE + (options.rxBufferSize ?? 4096);
    const n = Math.min(options.rxBuffers ?? this.#rx.size, this.#rx.size);
    this.#rxBase = dma.alloc(n * this.#rxSize, 16);
    for (let i = 0; i < n; i++) {
      this.#rx.addInbuf({ addr: this.#rxBase + i * this.#rxSize, len: this.#rxSize }, i);
    }
    this.#rx.kick();
    const e = Math.min(4, this.#ev.size);
    this.#evBase = dma.alloc(e * VirtioVsockEvent.SIZE, 4);
    for (let i = 0; i < e; i++) {
      this.#ev.addInbuf({
        addr: this.#evBase + i * VirtioVsockEvent.SIZE,
        len: VirtioVsockEvent.SIZE,
      }, i);
    }
    this.#ev.kick();
  }

  /** The guest's CID (config `guest_cid`). */
  get guestCid(): number {
    return this.endpoint.localCid;
  }

  /** Connects to `port` at `cid` (default the host, CID 2). */
  connect(
    port: number,
    cid: number = VMADDR_CID_HOST,
    options: VsockSocketOptions = {},
  ): Promise<VsockConnection> {
    return this.endpoint.connect(cid, port, options);
  }

  /** Listens on guest port `port`. */
  listen(port: number, options: VsockSocketOptions = {}): VsockListener {
    return this.endpoint.listen(port, options);
  }

  #readCid(): number {
    const cfg = new VirtioVsockConfig(this.dev.configSnapshot(VirtioVsockConfig.SIZE));
    return Number(cfg.guestCid & 0xffffffffn);
  }

  #rxIrq(vq: Virtqueue<number>): void {
    const mem = this.dev.dmaContext.memory;
    const hdrLen = VirtioVsockHdr.SIZE;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const addr = this.#rxBase + b.token * this.#rxSize;
      if (b.len >= hdrLen) {
        this.#hdrBytes.set(mem.bytes(addr, hdrLen));
        const len = Math.min(this.#hdr.len, b.len - hdrLen, this.#rxSize - hdrLen);
        const p = readHeader(this.#hdr, mem.bytes(addr + hdrLen, len).slice());
        this.endpoint.receive(p);
      }
      vq.addInbuf({ addr, len: this.#rxSize }, b.token);
      posted++;
    }
    if (posted) vq.kick();
  }

  #evIrq(vq: Virtqueue<number>): void {
    const mem = this.dev.dmaContext.memory;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const addr = this.#evBase + b.token * VirtioVsockEvent.SIZE;
      const copy = mem.bytes(addr, VirtioVsockEvent.SIZE).slice(); // our own copy
      const ev = new VirtioVsockEvent(new DataView(copy.buffer));
      if (b.len >= VirtioVsockEvent.SIZE && ev.id === VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) {
        // 5.10.6.7: connections are gone, and guest_cid may have changed.
        this.#transportResets++;
        this.endpoint.resetAll();
        this.endpoint.localCid = this.#readCid();
      }
      vq.addInbuf({ addr, len: VirtioVsockEvent.SIZE }, b.token);
      posted++;
    }
    if (posted) vq.kick();
  }

  /** Sends what the endpoint owes while the tx ring has room. */
  #pump(): void {
    while (!this.#closed && !this.#tx.broken && this.#inFlight < this.#tx.size) {
      const p = this.endpoint.nextPacket(VSOCK_MAX_PAYLOAD);
      if (p === null) break;
      const bytes = new Uint8Array(VirtioVsockHdr.SIZE + p.data.length);
      writeHeader(new VirtioVsockHdr(new DataView(bytes.buffer)), p);
      bytes.set(p.data, VirtioVsockHdr.SIZE);
      this.#inFlight++;
      this.#tx.request(bytes, 0).then(
        () => {
          this.#inFlight--;
          this.#pump();
        },
        (_e: DeviceError) => {
          this.#inFlight--;
        },
      );
    }
  }

  /** The device went away. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endpoint.resetAll();
    const { dma } = this.dev.dmaContext;
    dma.free(this.#rxBase);
    dma.free(this.#evBase);
  }
}

/** The vsock driver: binds virtio-vsock devices and gives each a {@link Vsock}. */
export function vsockDriver(options: VsockDriverOptions = {}): VsockDriver {
  return new VsockDriver(options);
}

/** The virtio-vsock driver and the devices it bound. */
export class VsockDriver implements VirtioDriver {
  /** `virtio-vsock`. */
  readonly name: string = "virtio-vsock";
  /** Binds to `VIRTIO_ID_VSOCK`. */
  readonly idTable: readonly { device: number }[] = [{ device: VIRTIO_ID_VSOCK }];
  /** VIRTIO_VSOCK_F_SEQPACKET (streams need no bit). */
  readonly featureTable: readonly number[] = [VIRTIO_VSOCK_F_SEQPACKET];
  readonly #options: VsockDriverOptions;
  readonly #bound = new Map<DriverDevice, Vsock>();

  /** See {@link VsockDriverOptions}. */
  constructor(options: VsockDriverOptions = {}) {
    this.#options = options;
  }

  /** The bound device `dev`, if any. */
  vsockOf(dev: DriverDevice): Vsock | undefined {
    return this.#bound.get(dev);
  }

  /** Bind: queues, receive and event buffers. */
  probe(dev: DriverDevice): void {
    this.#bound.set(dev, new Vsock(dev, this.#options));
  }

  /** Unbind: every connection ends, the device is reset, buffers come back. */
  remove(dev: DriverDevice): void {
    const v = this.#bound.get(dev);
    this.#bound.delete(dev);
    dev.reset();
    dev.delVqs();
    if (v) vsockHooks.release(v);
  }
}
