/**
 * The 9P transport device (device id 9): a {@link FileSystem} shared with
 * the guest through 9P2000.L messages that a {@link P9Server} answers. One
 * queue, "requests": each chain holds a T-message (device-readable) and room
 * for its R-message (device-writable). The mount tag is in the config space
 * (`VIRTIO_9P_MOUNT_TAG`), so the guest mounts it with
 * `mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt`.
 *
 * Each request is copied out of guest memory once into the server's own
 * buffer (the guest cannot change it while it is checked and used); the
 * reply is built in the server's buffer and copied into the chain. A
 * request longer than the negotiated msize is answered with Rlerror; a
 * malformed chain marks the device DEVICE_NEEDS_RESET. A reset closes every
 * host handle the guest had open.
 *
 * @example
 * ```ts
 * import { P9Device } from "./device.ts";
 * import { MemoryFileSystem } from "../fs/memory_fs.ts";
 *
 * const dev = new P9Device({ tag: "shared", fs: new MemoryFileSystem() });
 * if (dev.deviceId !== 9 || dev.configSize !== 2 + 6) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ConfigDevice } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_9P } from "../../generated/common.ts";
import { Virtio9pConfig, VIRTIO_9P_MOUNT_TAG } from "../../generated/devices/9p.ts";
import type { ChainServer } from "../../queue_service.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import { P9Server, type P9ServerOptions } from "./server.ts";

/** The longest mount tag accepted, in UTF-8 bytes. */
export const P9_MAX_TAG = 255;

/** Options of a {@link P9Device}. */
export interface P9DeviceOptions extends P9ServerOptions {
  /** The mount tag (1..255 UTF-8 bytes, no NUL). */
  readonly tag: string;
  /** The file system shared. */
  readonly fs: FileSystem;
  /** Size of the request queue (default 128). */
  readonly queueSize?: number;
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
}

/** The 9P transport device model. */
export class P9Device extends ConfigDevice<Virtio9pConfig> {
  /** `VIRTIO_ID_9P` (9). */
  readonly deviceId: number = VIRTIO_ID_9P;
  /** VIRTIO_9P_MOUNT_TAG and the ring features. */
  readonly features: bigint;
  /** One queue: requests. */
  readonly queueMaxSizes: readonly number[];
  /** The 9P server. */
  readonly server: P9Server;
  /** The mount tag. */
  readonly tag: string;
  /** Requests served. */
  get requests(): number {
    return this.#requests;
  }
  #requests = 0;
  readonly #chainServer: ChainServer = {
    serveChain: (c) => this.#serve(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A 9P device sharing `options.fs` under `options.tag`. */
  constructor(options: P9DeviceOptions) {
    const tag = new TextEncoder().encode(options.tag);
    if (tag.length === 0 || tag.length > P9_MAX_TAG || tag.includes(0)) {
      throw new DeviceError(
        `virtio-9p: tag ${JSON.stringify(options.tag)} must be 1..${P9_MAX_TAG} bytes, no NUL`,
        { code: "ERR_VIRTIO_DEVICE_9P_TAG" },
      );
    }
    super(Virtio9pConfig, Virtio9pConfig.size(tag.length));
    this.tag = options.tag;
    this.queueMaxSizes = [checkDeviceQueueSize("virtio-9p", options.queueSize ?? 128)];
    this.features = ringFeatures(options.packed ?? true) | (1n << BigInt(VIRTIO_9P_MOUNT_TAG));
    this.server = new P9Server(options.fs, options);
    this.updateConfig((c) => {
      c.length = tag.length; // the accessor's parameter: tag[] has tag_len bytes
      c.tagLen = tag.length;
      c.tagBytes().set(tag);
    });
  }

  /** Serves every available request. */
  queueNotify(index: number): void {
    if (index === 0) this.serve(0, this.#chainServer);
  }

  /** Drops the context; closes every open handle and forgets every fid. */
  override reset(): void {
    super.reset();
    this.server.reset();
  }

  #serve(c: DescriptorChain): number {
    const s = this.server;
    // Copy the request once; one past the server's limit is cut short, so its
    // header's size no longer matches and the server answers with Rlerror.
    const len = Math.min(c.readableLength, s.maxMsize);
    const got = c.read(0, s.request(len), 0, len);
    const n = s.handle(got, c.writableLength);
    this.#requests++;
    return n === 0 ? 0 : c.write(0, s.reply, 0, n);
  }
}
