/**
 * The small interface between a virtio-net device model and the network
 * behind it, and the simplest network: two devices joined back to back in
 * memory ({@link connectBackToBack}).
 *
 * A device hands frames to its backend with {@link NetBackend.transmit};
 * the backend hands frames to the device through the {@link NetPort} the
 * device gave it in {@link NetBackend.attach}. Both directions have
 * backpressure: `false` means "not now", and the other side says when to
 * try again ({@link NetPort.resume}, {@link NetBackend.rxReady}).
 *
 * @module
 */

import { type NetFrameMeta, type NetOffloads, NO_OFFLOADS } from "./offload.ts";

/** The device side of a backend: where the backend delivers frames. */
export interface NetPort {
  /**
   * A frame arrived for the device. `meta` carries offload fields (a
   * partial checksum, GSO) when the sender left work to the receiver; the
   * device may complete a checksum in `frame` in place. Returns false when
   * the device has no receive buffers now (the backend keeps the frame
   * and retries after {@link NetBackend.rxReady}); true when the frame was
   * taken or deliberately dropped (link down, filtered).
   */
  receive(frame: Uint8Array, meta: NetFrameMeta | undefined): boolean;
  /** The backend can take frames again after refusing one: the device retries its transmit queues. */
  resume(): void;
  /** What the device's driver accepts without software help, for a backend that forwards offloads. */
  readonly offloads: NetOffloads;
}

/** The network behind a virtio-net device. */
export interface NetBackend {
  /** Connect the device's port (called by the device once, when it is given the backend). */
  attach(port: NetPort): void;
  /**
   * Send one frame out. `frame` is the device's scratch memory: copy it if
   * it is kept. Frames are complete unless {@link NetBackend.offloads}
   * accepts what `meta` asks for. Returns false when the frame cannot be
   * taken now (the device holds it and retries on {@link NetPort.resume}).
   */
  transmit(frame: Uint8Array, meta: NetFrameMeta): boolean;
  /** Offloads the far side accepts; frames needing others are completed by the device first. */
  readonly offloads: NetOffloads;
  /** The device got new receive buffers: deliver frames held back. */
  rxReady(): void;
  /** Detach and release resources. */
  close(): void;
}

/** One end of a back-to-back link. */
class LinkEnd implements NetBackend {
  port: NetPort | undefined;
  peer: LinkEnd | undefined;
  closed = false;

  attach(port: NetPort): void {
    this.port = port;
  }

  transmit(frame: Uint8Array, meta: NetFrameMeta): boolean {
    const far = this.peer?.port;
    if (far === undefined || this.closed || this.peer?.closed) return true; // no cable: dropped
    return far.receive(frame, meta);
  }

  get offloads(): NetOffloads {
    return this.peer?.port?.offloads ?? NO_OFFLOADS;
  }

  rxReady(): void {
    this.peer?.port?.resume();
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * Two backends joined by a virtual cable: a frame one device transmits is
 * received by the other, with its offload metadata when the receiving
 * driver accepts it. Give one end to each device.
 *
 * @example
 * ```ts
 * import { connectBackToBack } from "./backend.ts";
 * import { NetDevice } from "./device.ts";
 *
 * const [left, right] = connectBackToBack();
 * const a = new NetDevice({ backend: left });
 * const b = new NetDevice({ backend: right });
 * if (a.deviceId !== 1 || b.deviceId !== 1) throw new Error("unreachable");
 * ```
 */
export function connectBackToBack(): [NetBackend, NetBackend] {
  const a = new LinkEnd();
  const b = new LinkEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
