/**
 * The virtio file system device (spec 5.11, device id 26): a directory
 * shared with the guest through FUSE requests (spec 5.11.6) that a
 * {@link FuseServer} answers from a {@link FileSystem}.
 *
 * Queues (5.11.2): queue 0 is hiprio (FORGET, BATCH_FORGET, INTERRUPT: no
 * replies), queues 1..N are request queues (`num_request_queues` in the
 * config, 5.11.4). The notification queue and the DAX window are not
 * offered (no `VIRTIO_FS_F_NOTIFICATION`, no shared memory region).
 *
 * Each request is copied out of guest memory once into the server's own
 * buffer (so the guest cannot change it while it is checked and used), the
 * reply is built in the server's buffer and copied into the chain's
 * writable part. A request larger than the server accepts is answered with
 * EINVAL; a malformed chain marks the device DEVICE_NEEDS_RESET. A reset
 * closes every open host handle.
 *
 * @example
 * ```ts
 * import { FsDevice } from "./device.ts";
 * import { MemoryFileSystem } from "./memory_fs.ts";
 *
 * const dev = new FsDevice({ tag: "shared", fs: new MemoryFileSystem() });
 * if (dev.deviceId !== 26 || dev.queueMaxSizes.length !== 2) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ConfigDevice } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_FS } from "../../generated/common.ts";
import { VirtioFsConfig } from "../../generated/devices/fs.ts";
import type { ChainServer } from "../../queue_service.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import type { FileSystem } from "./filesystem.ts";
import { FuseServer, type FuseServerOptions } from "./fuse_server.ts";

/** Options of an {@link FsDevice}. */
export interface FsDeviceOptions extends FuseServerOptions {
  /** The mount tag the guest names (`mount -t virtiofs TAG /mnt`): 1..36 UTF-8 bytes. */
  readonly tag: string;
  /** The file system shared. */
  readonly fs: FileSystem;
  /** Request queues (default 1). */
  readonly requestQueues?: number;
  /** Size of each queue (default 256). */
  readonly queueSize?: number;
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
}

/** The virtio-fs device model. */
export class FsDevice extends ConfigDevice<VirtioFsConfig> {
  /** `VIRTIO_ID_FS` (26). */
  readonly deviceId: number = VIRTIO_ID_FS;
  /** Ring features only (no notification queue). */
  readonly features: bigint;
  /** hiprio, then the request queues. */
  readonly queueMaxSizes: readonly number[];
  /** The FUSE server. */
  readonly server: FuseServer;
  /** Requests served (all queues). */
  get requests(): number {
    return this.#requests;
  }
  #requests = 0;
  readonly #chainServer: ChainServer = {
    serveChain: (c) => this.#serve(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A file system device sharing `options.fs` under `options.tag`. */
  constructor(options: FsDeviceOptions) {
    super(VirtioFsConfig); // 5.11.4: read-only for the driver
    const tag = new TextEncoder().encode(options.tag);
    if (tag.length === 0 || tag.length > 36) {
      throw new DeviceError(`virtio-fs: tag ${JSON.stringify(options.tag)} must be 1..36 bytes`, {
        code: "ERR_VIRTIO_DEVICE_FS_TAG",
      });
    }
    const queues = options.requestQueues ?? 1;
    if (!Number.isInteger(queues) || queues < 1 || queues > 64) {
      throw new DeviceError(`virtio-fs: requestQueues ${queues} (1..64)`, {
        code: "ERR_VIRTIO_DEVICE_FS_QUEUES",
      });
    }
    const size = checkDeviceQueueSize("virtio-fs", options.queueSize ?? 256);
    this.queueMaxSizes = new Array<number>(queues + 1).fill(size);
    this.features = ringFeatures(options.packed ?? true);
    this.server = new FuseServer(options.fs, options);
    this.updateConfig((c) => {
      for (let i = 0; i < tag.length; i++) c.setTag(i, tag[i]);
      c.numRequestQueues = queues;
      c.notifyBufSize = 0;
    });
  }

  /** Serves every available request of queue `index` (hiprio or a request queue). */
  queueNotify(index: number): void {
    if (index < this.queueMaxSizes.length) this.serve(index, this.#chainServer);
  }

  /** Drops the context; closes every open handle and forgets every node. */
  override reset(): void {
    super.reset();
    this.server.reset();
  }

  #serve(c: DescriptorChain): number {
    const s = this.server;
    // Copy the request once; a request past the server's limit is cut short,
    // so its header's length no longer matches and the server answers EINVAL.
    const len = Math.min(c.readableLength, s.maxRequest);
    const got = c.read(0, s.request(len), 0, len);
    const n = s.handle(got, c.writableLength);
    this.#requests++;
    return n === 0 ? 0 : c.write(0, s.reply, 0, n);
  }
}
