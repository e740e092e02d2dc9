/**
 * The smallest useful device model: virtio-echo. Each buffer's readable
 * bytes come back in its writable part. Not a spec device type: id 61 is
 * unassigned (and below 64, so modern PCI has a device id for it).
 *
 * @module
 */
import { type ChainServer, ConfigDevice } from "../../src/device.ts";
import { bit } from "../../src/features.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";

/** The device id of virtio-echo. */
export const VIRTIO_ID_ECHO = 61;

/** virtio-echo: one queue, no config space, no feature bits of its own. */
export class EchoDevice extends ConfigDevice {
  readonly deviceId = VIRTIO_ID_ECHO;
  readonly features: bigint = bit(VIRTIO_F_VERSION_1);
  readonly queueMaxSizes: readonly number[] = [64];
  // Our own copy of the request: guest memory is read once (no double fetch).
  readonly #buf = new Uint8Array(4096);
  readonly #echo: ChainServer = {
    serveChain: (c) => c.write(0, this.#buf, 0, c.read(0, this.#buf)),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** Serves the kicked queue: pop, echo, publish, notify (and NEEDS_RESET on a bad chain). */
  queueNotify(index: number): void {
    this.serve(index, this.#echo);
  }
}
