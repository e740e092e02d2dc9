/**
 * The CAIF driver: the host's end of a virtio CAIF link, in the part Linux's
 * `caif_virtio` plays. It is the driver of the uplink ring (queue 0,
 * "output") and consumes the downlink ring (queue 1) as a device would,
 * through a {@link HostRing} (Linux: a vringh). It lends the modem the
 * downlink buffers by writing them into queue 1's descriptor table before
 * the ring goes to the transport (see `device.ts`).
 *
 * @example
 * ```ts ignore
 * const link = await driver.nextLink();
 * await link.send(new TextEncoder().encode("frame"));
 * const reply = await link.nextFrame();
 * ```
 *
 * @module
 */

import type { DriverDevice, HostRing, VirtioDriver, Virtqueue } from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import { VIRTIO_ID_CAIF } from "../../generated/common.ts";
import { VirtioCaifConfig, type VirtioCaifTransfConfig } from "../../generated/devices/caif.ts";
import { VirtqDesc } from "../../generated/virtqueue.ts";
import type { QueueAddresses } from "../../virtqueue/layout.ts";
import { Arrivals } from "../_arrivals.ts";
import type { CaifFraming } from "./device.ts";

/** Options of {@link caifDriver}. */
export interface CaifDriverOptions {
  /** Uplink ring size (default the device's maximum, capped at 256). */
  readonly uplinkSize?: number;
  /** Downlink ring size, and so the number of buffers lent to the modem (default 64). */
  readonly downlinkSize?: number;
  /** Refuse a device whose mtu is above this (default 65536). */
  readonly maxMtu?: number;
  /**
   * Read the uplink framing for both directions, as Linux 6.1's
   * caif_virtio does (default false: the downlink framing comes from
   * `downlink`).
   */
  readonly uplinkForBoth?: boolean;
}

/** What went wrong with a downlink buffer; counted in {@link CaifLink.downlinkErrors}. */
export type CaifDownlinkError = "too-short" | "too-long" | "writable";

/** One CAIF link: send frames to the modem, receive its frames. */
export class CaifLink {
  /** The device. */
  readonly dev: DriverDevice;
  /** Uplink framing read from config. */
  readonly uplink: CaifFraming;
  /** Downlink framing read from config. */
  readonly downlink: CaifFraming;
  /** The uplink ring. */
  readonly vq: Virtqueue;
  /** The downlink ring. */
  readonly vrh: HostRing;
  /** Frames the modem took. */
  get uplinkFrames(): number {
    return this.#uplinkFrames;
  }
  #uplinkFrames = 0;
  /** Frames received. */
  get downlinkFrames(): number {
    return this.#downlinkFrames;
  }
  #downlinkFrames = 0;
  /** Downlink buffers dropped, by cause. */
  get downlinkErrors(): Readonly<Record<CaifDownlinkError, number>> {
    return Object.freeze({ ...this.#downlinkErrors });
  }
  readonly #downlinkErrors: Record<CaifDownlinkError, number> = {
    "too-short": 0,
    "too-long": 0,
    writable: 0,
  };
  /** Called with each received frame; without it frames wait for {@link CaifLink.nextFrame}. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
  readonly #lent: number[] = [];
  readonly #frames: Uint8Array[] = [];
  readonly #waiters: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  #error: DeviceError | undefined;

  /** Set the link up on `dev` (the driver's probe does). */
  constructor(dev: DriverDevice, options: CaifDriverOptions) {
    this.dev = dev;
    const maxMtu = options.maxMtu ?? 65536;
    // One consistent snapshot (generation-checked), read through the accessor.
    const cfg = new VirtioCaifConfig(dev.configSnapshot(VirtioCaifConfig.SIZE));
    const read = (t: VirtioCaifTransfConfig) => ({
      headroom: t.headroom,
      tailroom: t.tailroom,
      mtu: t.mtu,
    });
    this.uplink = checkConfig(dev, "uplink", read(cfg.uplink), maxMtu);
    this.downlink = options.uplinkForBoth
      ? this.uplink
      : checkConfig(dev, "downlink", read(cfg.downlink), maxMtu);
    [this.vq] = dev.findVqs([{ name: "output", size: options.uplinkSize }]);
    const { memory, dma } = dev.dmaContext;
    const bufLen = this.downlink.mtu;
    try {
      this.vrh = dev.findVrh(1, {
        name: "downlink",
        size: options.downlinkSize ?? 64,
        lend: (ring: QueueAddresses) => {
          const desc = new VirtqDesc(memory.view(ring.desc, 16 * ring.size));
          for (let i = 0; i < ring.size; i++) {
            const a = dma.alloc(bufLen, 8);
            this.#lent.push(a);
            desc.at(16 * i).write(a, bufLen, 0, 0);
          }
        },
        callback: () => this.#poll(),
        onBroken: (_vrh, e) => this.#fail(e),
      });
    } catch (e) {
      this.#freeLent();
      dev.delVqs();
      throw e;
    }
  }

  /** The largest frame {@link CaifLink.send} takes. */
  get maxFrame(): number {
    return this.uplink.mtu - this.uplink.headroom - this.uplink.tailroom;
  }

  /**
   * Send one frame: it goes out with the uplink's headroom and tailroom
   * (zeros) around it, and the promise settles when the modem has taken it.
   */
  send(frame: Uint8Array): Promise<void> {
    if (frame.length === 0 || frame.length > this.maxFrame) {
      return Promise.reject(
        new ArgumentError(
          `${this.dev.name}: an uplink frame of ${frame.length} bytes is outside 1..${this.maxFrame}`,
          { code: "ERR_VIRTIO_ARGUMENT_CAIF_FRAME" },
        ),
      );
    }
    const { headroom, tailroom } = this.uplink;
    const buf = new Uint8Array(headroom + frame.length + tailroom);
    buf.set(frame, headroom);
    return this.vq.request(buf, 0).then(() => {
      this.#uplinkFrames++;
    });
  }

  /** The next received frame (those not taken by {@link CaifLink.onFrame}). */
  nextFrame(): Promise<Uint8Array> {
    const f = this.#frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Take the link down: reset the device, delete the rings, free the lent buffers. */
  detach(): void {
    this.dev.reset();
    this.dev.delVqs();
    this.#freeLent();
  }

  /** Linux `cfv_rx_poll`: each readable buffer of a chain is one frame. */
  #poll(): void {
    const q = this.vrh.queue;
    const { headroom, tailroom, mtu } = this.downlink;
    try {
      do {
        for (let c = q.pop(); c !== null; c = q.pop()) {
          if (c.writableCount > 0) this.#downlinkErrors.writable++;
          else {
            for (let i = 0; i < c.readableCount; i++) {
              const len = c.len(i);
              if (len > mtu) this.#downlinkErrors["too-long"]++;
              else if (len <= headroom + tailroom) this.#downlinkErrors["too-short"]++;
              else this.#deliver(c.bytes(i).slice(headroom, len - tailroom));
            }
          }
          q.pushUsed(c, 0);
        }
        q.flushUsed();
        if (q.needsNotification()) this.vrh.notify();
      } while (q.enableNotification());
    } catch (e) {
      // A malformed ring (Linux: "Bad ring, disable device"): the link is dead.
      const err = e instanceof DeviceError ? e : new DeviceError(
        `${this.dev.name}: downlink ring: ${e instanceof Error ? e.message : String(e)}`,
        { code: "ERR_VIRTIO_DEVICE_CAIF_RING", cause: e },
      );
      this.vrh.markBroken(err);
    }
  }

  #deliver(frame: Uint8Array): void {
    this.#downlinkFrames++;
    const w = this.#waiters.shift();
    if (w !== undefined) w.resolve(frame);
    else if (this.onFrame !== undefined) this.onFrame(frame);
    else this.#frames.push(frame);
  }

  #fail(e: DeviceError): void {
    this.#error ??= e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #freeLent(): void {
    const { dma } = this.dev.dmaContext;
    for (const a of this.#lent.splice(0)) dma.free(a);
  }
}

function checkConfig(
  dev: DriverDevice,
  which: string,
  f: CaifFraming,
  maxMtu: number,
): CaifFraming {
  if (f.mtu <= f.headroom + f.tailroom || f.mtu > maxMtu) {
    throw new DeviceError(
      `${dev.name}: config ${which} mtu ${f.mtu} with headroom ${f.headroom} and tailroom ${f.tailroom}: the mtu must be above headroom + tailroom and at most ${maxMtu}`,
      { code: "ERR_VIRTIO_DEVICE_CAIF_CONFIG" },
    );
  }
  return Object.freeze(f);
}

/** The CAIF driver: binds CAIF devices and makes a {@link CaifLink} for each. */
export interface CaifDriver extends VirtioDriver {
  /** The links of bound devices. */
  readonly links: Map<DriverDevice, CaifLink>;
  /** The next link to come up. */
  nextLink(): Promise<CaifLink>;
}

/** A {@link CaifDriver} with `options`. */
export function caifDriver(options: CaifDriverOptions = {}): CaifDriver {
  const arrivals = new Arrivals<CaifLink>();
  return {
    name: "virtio-caif",
    idTable: [{ device: VIRTIO_ID_CAIF }],
    featureTable: [],
    links: arrivals.bound,
    nextLink(): Promise<CaifLink> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const link = new CaifLink(dev, options);
      dev.deviceReady();
      arrivals.arrive(dev, link);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
  };
}
