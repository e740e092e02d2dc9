/**
 * The virtio entropy device (spec 5.4, "Entropy Device", device id 4): one
 * request queue of device-writable buffers, each filled with random bytes
 * from `crypto.getRandomValues` (or another source given in the options).
 *
 * It has no feature bits of its own and no configuration space (5.4.3,
 * 5.4.4); it offers `VIRTIO_F_VERSION_1`, `EVENT_IDX`, `INDIRECT_DESC` and
 * `RING_PACKED`. 5.4.6.2: every used buffer gets at least one random byte
 * unless it has no writable byte at all; a buffer is filled completely up to
 * {@link RngDeviceOptions.maxBytesPerRequest}. Device-readable parts (which a
 * driver must not send) are ignored; a malformed chain sets DEVICE_NEEDS_RESET.
 *
 * @example
 * ```ts
 * import { RngDevice } from "./device.ts";
 *
 * const dev = new RngDevice({ maxBytesPerRequest: 1024 });
 * if (dev.deviceId !== 4 || dev.configSize !== 0) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ConfigDevice } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_RNG } from "../../generated/common.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import { checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import type { ChainServer } from "../../queue_service.ts";

/** `crypto.getRandomValues` fills at most this many bytes per call. */
const GETRANDOM_MAX = 65536;

/** Options of an {@link RngDevice}. */
export interface RngDeviceOptions {
  /** Maximum size of the request queue (default 256). */
  readonly queueSize?: number;
  /** Most bytes given for one request (default 64 KiB); larger buffers are partly filled. */
  readonly maxBytesPerRequest?: number;
  /** Where the bytes come from (default `crypto.getRandomValues`); it fills all of `buf`. */
  readonly source?: (buf: Uint8Array) => void;
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
}

/** Fills `buf` from `crypto.getRandomValues`, 64 KiB at a time. */
export function cryptoSource(buf: Uint8Array): void {
  for (let o = 0; o < buf.length; o += GETRANDOM_MAX) {
    crypto.getRandomValues(buf.subarray(o, Math.min(buf.length, o + GETRANDOM_MAX)));
  }
}

/** The virtio-rng device model. */
export class RngDevice extends ConfigDevice {
  /** `VIRTIO_ID_RNG` (4). */
  readonly deviceId: number = VIRTIO_ID_RNG;
  /** Offered features: ring features only (5.4.3: none of its own). */
  readonly features: bigint;
  /** One queue: requestq. */
  readonly queueMaxSizes: readonly number[];
  /** Random bytes handed out since creation. */
  get bytesServed(): number {
    return this.#bytesServed;
  }
  #bytesServed = 0;
  /** Requests completed since creation. */
  get requests(): number {
    return this.#requests;
  }
  #requests = 0;
  readonly #max: number;
  readonly #source: (buf: Uint8Array) => void;
  #scratch = new Uint8Array(0);
  readonly #server: ChainServer = {
    serveChain: (c) => this.#fill(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** An entropy device. */
  constructor(options: RngDeviceOptions = {}) {
    super(); // no configuration space (5.4.4)
    const size = checkDeviceQueueSize("virtio-rng", options.queueSize ?? 256);
    const max = options.maxBytesPerRequest ?? 65536;
    if (!Number.isInteger(max) || max < 1) {
      throw new DeviceError(`virtio-rng: maxBytesPerRequest ${max} must be at least 1`, {
        code: "ERR_VIRTIO_DEVICE_RNG_OPTION",
      });
    }
    this.#max = max;
    this.#source = options.source ?? cryptoSource;
    this.queueMaxSizes = [size];
    this.features = ringFeatures(options.packed ?? true);
  }

  /** Fills every available buffer of requestq. */
  queueNotify(index: number): void {
    if (index === 0) this.serve(index, this.#server);
  }

  /** Fills the writable part of `c` (up to the per-request cap); returns the bytes written. */
  #fill(c: DescriptorChain): number {
    let left = Math.min(c.writableLength, this.#max);
    const total = left;
    for (let i = c.readableCount; i < c.length && left > 0; i++) {
      const seg = c.bytes(i);
      const n = Math.min(seg.length, left);
      const dst = n === seg.length ? seg : seg.subarray(0, n);
      if (
        dst.buffer instanceof SharedArrayBuffer ||
        (dst.buffer as { resizable?: boolean }).resizable === true
      ) {
        // getRandomValues refuses shared memory, and browsers refuse resizable
        // buffers (v86's guest memory in a page): go through a private buffer.
        if (this.#scratch.length < n) this.#scratch = new Uint8Array(n);
        const s = this.#scratch.subarray(0, n);
        this.#source(s);
        dst.set(s);
      } else {
        this.#source(dst);
      }
      left -= n;
    }
    this.#bytesServed += total;
    this.#requests++;
    return total;
  }
}
