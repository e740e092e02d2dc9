/**
 * The 9P transport driver (driver side): a {@link VirtioDriver} for the bus,
 * and {@link P9Mount}, one bound device with its 9P2000.L session: a
 * {@link P9Client} whose requests travel over the "requests" queue, and the
 * small file API `readFile`, `writeFile`, `readdir`, `mkdir`, `unlink`,
 * `rmdir`, `rename`, `stat`, `symlink`, `readlink`.
 *
 * Each request goes through {@link Virtqueue.request}: the T-message is
 * copied into DMA memory as the device-readable part, room for the
 * R-message follows as the device-writable part, and requests beyond the
 * free descriptors or DMA memory wait in order.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { P9Device } from "./device.ts";
 * import { MemoryFileSystem } from "../fs/memory_fs.ts";
 * import { p9Driver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 22));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 22) - 0x1000) });
 * const device = new P9Device({ tag: "shared", fs: new MemoryFileSystem() });
 * const driver = p9Driver({ msize: 65536 });
 * await bus.registerDriver(driver);
 * await bus.addDevice(probeMmio(new MmioDevice(device, memory))!);
 * const mount = await driver.nextMount();
 * await mount.writeFile("hello.txt", new TextEncoder().encode("hi"));
 * if (mount.tag !== "shared" || (await mount.readdir(""))[0] !== "hello.txt") {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_9P } from "../../generated/common.ts";
import { Virtio9pConfig, VIRTIO_9P_MOUNT_TAG } from "../../generated/devices/9p.ts";
import { Arrivals } from "../_arrivals.ts";
import { P9_MAX_TAG } from "./device.ts";
import { type P9Attr, P9Client } from "./client.ts";

/** Options of {@link p9Driver}. */
export interface P9DriverOptions {
  /** Queue size to ask for (default: the device's maximum, capped at 128). */
  readonly queueSize?: number;
  /** The msize to offer in Tversion (default 128 KiB, as Linux). */
  readonly msize?: number;
}

/** One 9P device as the driver sees it, with its 9P session. */
export class P9Mount {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** The mount tag from the config space. */
  readonly tag: string;
  /** The 9P client. */
  readonly client: P9Client;
  /** The request queue. */
  readonly vq: Virtqueue;

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: P9DriverOptions) {
    this.dev = dev;
    if (!dev.hasFeature(VIRTIO_9P_MOUNT_TAG)) {
      throw new DeviceError(`${dev.name}: no VIRTIO_9P_MOUNT_TAG, no tag to name the device`, {
        code: "ERR_VIRTIO_DEVICE_9P_CONFIG",
      });
    }
    const tag = dev.readConfig((cfg) => {
      const len = cfg.le16(Virtio9pConfig.OFFSETS.tagLen);
      if (len === 0 || len > P9_MAX_TAG) return undefined;
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) bytes[i] = cfg.u8(Virtio9pConfig.OFFSETS.tag + i);
      return bytes;
    });
    if (tag === undefined) {
      throw new DeviceError(`${dev.name}: tag_len out of 1..${P9_MAX_TAG}`, {
        code: "ERR_VIRTIO_DEVICE_9P_CONFIG",
      });
    }
    this.tag = new TextDecoder().decode(tag);
    [this.vq] = dev.findVqs([{ name: "requests", size: options.queueSize ?? 128 }]);
    this.client = new P9Client((req, cap) => this.vq.request(req, cap));
  }

  /** The whole content of `path`. */
  readFile(path: string): Promise<Uint8Array> {
    return this.client.readFile(path);
  }

  /** Creates or replaces `path` with `data`. */
  writeFile(path: string, data: Uint8Array, mode?: number): Promise<void> {
    return this.client.writeFile(path, data, mode);
  }

  /** The names in directory `path` (`""` is the root). */
  readdir(path: string): Promise<string[]> {
    return this.client.list(path);
  }

  /** Makes directory `path`. */
  mkdir(path: string, mode?: number): Promise<void> {
    return this.client.makeDir(path, mode);
  }

  /** Removes file `path`. */
  unlink(path: string): Promise<void> {
    return this.client.removeFile(path);
  }

  /** Removes empty directory `path`. */
  rmdir(path: string): Promise<void> {
    return this.client.removeFile(path, true);
  }

  /** Renames `from` to `to`. */
  rename(from: string, to: string): Promise<void> {
    return this.client.renamePath(from, to);
  }

  /** Attributes of `path`. */
  stat(path: string): Promise<P9Attr> {
    return this.client.stat(path);
  }

  /** Makes a symbolic link `path` holding `target`. */
  symlink(target: string, path: string): Promise<void> {
    return this.client.makeSymlink(target, path);
  }

  /** The target of symbolic link `path`. */
  readlink(path: string): Promise<string> {
    return this.client.readSymlink(path);
  }

  /** Tears the queue down (device removal); outstanding requests have failed already. */
  detach(): void {
    this.dev.reset();
    this.dev.delVqs();
  }
}

/** The 9P driver plus the mounts it has bound. */
export interface P9Driver extends VirtioDriver {
  /** Bound mounts, by device. */
  readonly mounts: Map<DriverDevice, P9Mount>;
  /** The next mount to be probed, after Tversion and Tattach. */
  nextMount(): Promise<P9Mount>;
}

/** A 9P driver for the bus: binds each device, negotiates 9P2000.L and attaches the root. */
export function p9Driver(options: P9DriverOptions = {}): P9Driver {
  const arrivals = new Arrivals<P9Mount>();
  return {
    name: "virtio-9p",
    idTable: [{ device: VIRTIO_ID_9P }],
    featureTable: [VIRTIO_9P_MOUNT_TAG],
    mounts: arrivals.bound,
    nextMount(): Promise<P9Mount> {
      return arrivals.next();
    },
    async probe(dev: DriverDevice): Promise<void> {
      const m = new P9Mount(dev, options);
      dev.deviceReady();
      await m.client.version(options.msize ?? 128 * 1024);
      await m.client.attach();
      arrivals.arrive(dev, m);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
  };
}
