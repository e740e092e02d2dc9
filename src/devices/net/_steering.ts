/**
 * Receive steering of the virtio-net device model with several queue pairs
 * (VIRTIO_NET_F_MQ, spec 5.1.6.5.6.1): a received frame goes to the pair
 * its flow was last sent on, else to a pair chosen by the flow's hash.
 *
 * @module
 */

import { flowHash } from "./offload.ts";

/** Size of the flow table used for receive steering. */
const FLOW_SLOTS = 256;

/** The queue pairs in use and which pair each flow was last sent on. */
export class FlowSteering {
  /** Queue pairs in use (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; 1 after reset). */
  pairs = 1;
  readonly #flows = new Int32Array(FLOW_SLOTS);

  /** One pair, no flow known. */
  reset(): void {
    this.pairs = 1;
    this.#flows.fill(-1);
  }

  /** `frame` was sent on `pair`: its flow's answers come back there. */
  sent(frame: Uint8Array, pair: number): void {
    if (this.pairs > 1) this.#flows[flowHash(frame) % FLOW_SLOTS] = pair;
  }

  /** The pair whose receive queue takes `frame`. */
  pairFor(frame: Uint8Array): number {
    if (this.pairs <= 1) return 0;
    const h = flowHash(frame);
    const p = this.#flows[h % FLOW_SLOTS];
    return p >= 0 && p < this.pairs ? p : h % this.pairs;
  }
}
