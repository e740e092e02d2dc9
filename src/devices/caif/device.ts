/**
 * The CAIF device model: the modem's end of a virtio CAIF link (device id
 * 12), as Linux's `drivers/net/caif/caif_virtio.c` expects it.
 *
 * The link has two rings, and the modem plays a different part on each:
 *
 * - **uplink** (queue 0, host to modem): the host is the ring's driver (Linux
 *   `vq_tx`); the modem is its device and takes frames out of it, here with a
 *   {@link DeviceQueue}.
 * - **downlink** (queue 1, modem to host): the modem is the ring's driver and
 *   makes frames available; the host consumes them as a device would
 *   (Linux `vr_rx`, a vringh). Here the model builds a {@link DriverQueue}
 *   over the areas the host gave the transport for queue 1.
 *
 * On a remote processor the downlink buffers live in the modem's memory.
 * Over MMIO and PCI the modem has no memory of its own in the guest, so the
 * host lends it: before it enables queue 1 the host writes, into queue 1's
 * descriptor table, one buffer per descriptor (address and length). At
 * DRIVER_OK the model copies that list once and from then on fills those
 * buffers and publishes them through its own descriptors; the host's later
 * writes to the table change nothing.
 *
 * Each buffer holds `headroom` bytes, the CAIF frame, `tailroom` bytes; its
 * length is at most `mtu` (config `virtio_caif_config`). Linux reads only
 * the `uplink` member and uses it for both directions; the model frames the
 * downlink by `downlink`, which defaults to the uplink values.
 *
 * @module
 */

import { ConfigDevice, type DeviceContext } from "../../device.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import { checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_CAIF } from "../../generated/common.ts";
import { VirtioCaifConfig } from "../../generated/devices/caif.ts";
import { VirtqDesc } from "../../generated/virtqueue.ts";
import type { ChainServer } from "../../queue_service.ts";
import { createDriverQueue, type DescriptorChain, type DriverQueue } from "../../virtqueue/mod.ts";
import { queueOptionsFromFeatures } from "../../virtqueue/layout.ts";

/** Headroom, tailroom and MTU of one direction (`virtio_caif_transf_config`). */
export interface CaifFraming {
  /** Bytes before the frame in each buffer (0..65535). */
  readonly headroom: number;
  /** Bytes after the frame in each buffer (0..65535). */
  readonly tailroom: number;
  /** Largest buffer: headroom + frame + tailroom (above headroom + tailroom, at most 1 MiB here). */
  readonly mtu: number;
}

/** Linux caif_virtio's defaults when a device has no config (CFV_DEF_*). */
export const CAIF_DEFAULT_FRAMING: CaifFraming = Object.freeze({
  headroom: 32,
  tailroom: 32,
  mtu: 4096,
});

const MAX_MTU = 1 << 20;

/** Options of a {@link CaifDevice}. */
export interface CaifDeviceOptions {
  /** Framing of the uplink (host to modem); Linux uses it for both directions. Default {@link CAIF_DEFAULT_FRAMING}. */
  readonly uplink?: CaifFraming;
  /** Framing of the downlink (modem to host). Default: the uplink's. */
  readonly downlink?: CaifFraming;
  /** Maximum size of both queues (default 128). */
  readonly queueSize?: number;
  /** Called with each uplink frame (a copy, headroom and tailroom taken off). */
  readonly onFrame?: (frame: Uint8Array) => void;
  /** Downlink frames kept while the host has no free buffer (default 256). */
  readonly backlog?: number;
}

/** What went wrong with an uplink buffer; the model counts them in {@link CaifDevice.uplinkErrors}. */
export type CaifUplinkError = "too-short" | "too-long";

/** The modem's end of a virtio CAIF link. */
export class CaifDevice extends ConfigDevice<VirtioCaifConfig> {
  /** `VIRTIO_ID_CAIF`. */
  readonly deviceId: number = VIRTIO_ID_CAIF;
  /** Split rings only: Linux consumes the downlink through vringh, which has no packed layout. */
  readonly features: bigint = ringFeatures(false);
  /** Uplink and downlink. */
  readonly queueMaxSizes: readonly number[];
  /** Uplink framing. */
  readonly uplink: CaifFraming;
  /** Downlink framing. */
  readonly downlink: CaifFraming;
  /** Uplink frames delivered to `onFrame`. */
  get uplinkFrames(): number {
    return this.#uplinkFrames;
  }
  #uplinkFrames = 0;
  /** Uplink buffers refused, by cause (completed with length 0, the link goes on). */
  get uplinkErrors(): Readonly<Record<CaifUplinkError, number>> {
    return Object.freeze({ ...this.#uplinkErrors });
  }
  readonly #uplinkErrors: Record<CaifUplinkError, number> = { "too-short": 0, "too-long": 0 };
  /** Downlink frames published to the host. */
  get downlinkFrames(): number {
    return this.#downlinkFrames;
  }
  #downlinkFrames = 0;
  /** Called with each uplink frame. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
  readonly #backlogMax: number;
  readonly #scratch: Uint8Array;
  readonly #server: ChainServer = {
    serveChain: (c) => this.#uplink(c),
    isLive: (ctx) => this.isLive(ctx),
  };
  #backlog: Uint8Array[] = [];
  #down: Downlink | undefined;

  /** A modem with the given framing. */
  constructor(options: CaifDeviceOptions = {}) {
    super(VirtioCaifConfig);
    this.uplink = checkFraming("uplink", options.uplink ?? CAIF_DEFAULT_FRAMING);
    this.downlink = checkFraming("downlink", options.downlink ?? this.uplink);
    const size = checkDeviceQueueSize("virtio-caif", options.queueSize ?? 128);
    this.queueMaxSizes = [size, size];
    const backlog = options.backlog ?? 256;
    if (!Number.isInteger(backlog) || backlog < 0) {
      throw new ArgumentError(`virtio-caif: backlog ${backlog} is not a non-negative integer`, {
        code: "ERR_VIRTIO_ARGUMENT_CAIF_OPTION",
      });
    }
    this.#backlogMax = backlog;
    this.onFrame = options.onFrame;
    this.#scratch = new Uint8Array(this.uplink.mtu);
    this.config.update(() => {
      const c = this.cfg;
      c.uplink.headroom = this.uplink.headroom;
      c.uplink.tailroom = this.uplink.tailroom;
      c.uplink.mtu = this.uplink.mtu;
      c.downlink.headroom = this.downlink.headroom;
      c.downlink.tailroom = this.downlink.tailroom;
      c.downlink.mtu = this.downlink.mtu;
    });
  }

  /** The largest downlink frame {@link CaifDevice.send} takes. */
  get maxDownlinkFrame(): number {
    return this.downlink.mtu - this.downlink.headroom - this.downlink.tailroom;
  }

  /** Frames waiting for a free downlink buffer. */
  get backlog(): number {
    return this.#backlog.length;
  }

  /** Buffers the host lent for the downlink (0 before DRIVER_OK or without queue 1). */
  get downlinkBuffers(): number {
    return this.#down?.addr.length ?? 0;
  }

  /**
   * Send one CAIF frame to the host. It goes out at once when the host has a
   * free downlink buffer, else waits in the backlog (also before the host
   * set the link up). Returns false, and keeps nothing, when the backlog is
   * full. A frame that is empty or longer than {@link CaifDevice.maxDownlinkFrame}
   * is an `ArgumentError` (Linux treats such a buffer as a fatal ring error).
   */
  send(frame: Uint8Array): boolean {
    if (frame.length === 0 || frame.length > this.maxDownlinkFrame) {
      throw new ArgumentError(
        `virtio-caif: a downlink frame of ${frame.length} bytes is outside 1..${this.maxDownlinkFrame} (mtu ${this.downlink.mtu} less headroom and tailroom)`,
        { code: "ERR_VIRTIO_ARGUMENT_CAIF_FRAME" },
      );
    }
    if (this.#backlog.length >= this.#backlogMax) {
      this.#flush();
      if (this.#backlog.length >= this.#backlogMax) return false;
    }
    this.#backlog.push(frame.slice());
    this.#flush();
    return true;
  }

  /** At DRIVER_OK: take the list of lent downlink buffers and build our side of queue 1. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#down = undefined;
    try {
      this.#down = this.#openDownlink(ctx);
    } catch (e) {
      ctx.needsReset(e);
      return;
    }
    this.#flush();
  }

  /** Queue 0: uplink frames; queue 1: the host returned downlink buffers. */
  queueNotify(index: number): void {
    if (index === 0) this.serve(0, this.#server);
    else if (index === 1) this.#reclaim();
  }

  /**
   * Device reset: the downlink ring and the lent buffers go (frames the host
   * had not consumed are lost with them); the backlog stays for the next
   * driver, as a modem keeps what it has to say while the host restarts.
   */
  override reset(): void {
    super.reset();
    this.#down = undefined;
  }

  /** Drop the frames waiting in the backlog; returns how many there were. */
  clearBacklog(): number {
    const n = this.#backlog.length;
    this.#backlog = [];
    return n;
  }

  #uplink(c: DescriptorChain): number {
    const { headroom, tailroom, mtu } = this.uplink;
    const len = c.readableLength;
    if (len > mtu) {
      this.#uplinkErrors["too-long"]++;
      return 0;
    }
    if (len <= headroom + tailroom) {
      this.#uplinkErrors["too-short"]++;
      return 0;
    }
    // One copy out of guest memory; the frame is cut from the copy.
    const n = c.read(0, this.#scratch, 0, len);
    const frame = this.#scratch.slice(headroom, n - tailroom);
    this.#uplinkFrames++;
    this.onFrame?.(frame);
    return 0;
  }

  #openDownlink(ctx: DeviceContext): Downlink | undefined {
    const where = ctx.queueAddresses?.(1);
    if (where === undefined) return undefined;
    const { headroom, tailroom, mtu } = this.downlink;
    // The lent buffers: each descriptor read once, into our own arrays.
    const table = ctx.memory.bytes(where.desc, 16 * where.size).slice();
    const desc = new VirtqDesc(new DataView(table.buffer));
    const addr: number[] = [];
    const cap: number[] = [];
    for (let i = 0; i < where.size; i++) {
      desc.at(16 * i);
      const a = desc.addr;
      const l = desc.len;
      if (l === 0) continue; // not lent
      if (l <= headroom + tailroom) {
        throw new DeviceError(
          `virtio-caif: downlink buffer ${i} of ${l} bytes cannot hold headroom ${headroom} + a frame + tailroom ${tailroom}`,
          { code: "ERR_VIRTIO_DEVICE_CAIF_BUFFER" },
        );
      }
      const usable = Math.min(l, mtu);
      ctx.memory.bytes(a, usable); // inside guest memory, or a MemoryError
      addr.push(a);
      cap.push(usable);
    }
    const queue = createDriverQueue<number>(
      ctx.memory,
      where,
      queueOptionsFromFeatures(ctx.features, 1),
    );
    const free: number[] = [];
    for (let i = addr.length - 1; i >= 0; i--) free.push(i);
    return { ctx, queue, addr, cap, free, sg: [{ addr: 0, len: 0 }] };
  }

  /** Queue 1 notified: collect the buffers the host is done with, then send what waits. */
  #reclaim(): void {
    const d = this.#down;
    if (d === undefined) return;
    try {
      for (let b = d.queue.getBuf(); b !== null; b = d.queue.getBuf()) d.free.push(b.token);
    } catch (e) {
      this.#down = undefined;
      d.ctx.needsReset(e);
      return;
    }
    this.#flush();
  }

  #flush(): void {
    const d = this.#down;
    if (d === undefined || !this.isLive(d.ctx)) return;
    const { headroom, tailroom } = this.downlink;
    let added = 0;
    try {
      while (this.#backlog.length > 0 && d.free.length > 0 && d.queue.canAdd(1, 0)) {
        const frame = this.#backlog[0];
        const total = headroom + frame.length + tailroom;
        // Buffers too small for this frame stay free for smaller ones.
        const k = d.free.findIndex((i) => d.cap[i] >= total);
        if (k < 0) break;
        const i = d.free[k];
        const buf = d.ctx.memory.bytes(d.addr[i], total);
        buf.fill(0, 0, headroom);
        buf.set(frame, headroom);
        buf.fill(0, headroom + frame.length);
        const sg = d.sg[0] as { addr: number; len: number };
        sg.addr = d.addr[i];
        sg.len = total;
        d.queue.addSgs(d.sg, NONE, i);
        d.free.splice(k, 1);
        this.#backlog.shift();
        this.#downlinkFrames++;
        added++;
      }
      if (added > 0 && d.queue.kick()) d.ctx.notifyUsed(1);
    } catch (e) {
      this.#down = undefined;
      d.ctx.needsReset(e);
    }
  }
}

const NONE: readonly { addr: number; len: number }[] = [];

/** The model's side of the downlink ring while the device is live. */
interface Downlink {
  readonly ctx: DeviceContext;
  readonly queue: DriverQueue<number>;
  /** Lent buffers: guest address and usable length, by index (the token). */
  readonly addr: number[];
  readonly cap: number[];
  /** Indices of lent buffers not on the ring. */
  readonly free: number[];
  readonly sg: { addr: number; len: number }[];
}

function checkFraming(which: string, f: CaifFraming): CaifFraming {
  const ok = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (
    !ok(f.headroom, 0xffff) || !ok(f.tailroom, 0xffff) || !ok(f.mtu, MAX_MTU) ||
    f.mtu <= f.headroom + f.tailroom
  ) {
    throw new ArgumentError(
      `virtio-caif: ${which} framing ${
        JSON.stringify(f)
      }: headroom and tailroom must be in 0..65535 and mtu above their sum, at most ${MAX_MTU}`,
      { code: "ERR_VIRTIO_ARGUMENT_CAIF_OPTION" },
    );
  }
  return Object.freeze({ headroom: f.headroom, tailroom: f.tailroom, mtu: f.mtu });
}
