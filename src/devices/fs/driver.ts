/**
 * The virtio-fs driver (spec 5.11, driver side): a {@link VirtioDriver} for
 * the bus, and {@link FsMount}, one bound device with its FUSE session: a
 * {@link FuseClient} whose requests travel over the request queue (FORGETs
 * over hiprio), and the small file API `readFile`, `writeFile`, `readdir`,
 * `mkdir`, `unlink`, `rmdir`, `rename`, `stat`.
 *
 * Each request goes through {@link Virtqueue.request}: the request is copied
 * into DMA memory as the device-readable part, room for the reply follows as
 * the device-writable part, and requests beyond the free descriptors or DMA
 * memory wait in order.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { FsDevice } from "./device.ts";
 * import { MemoryFileSystem } from "./memory_fs.ts";
 * import { fsDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 22));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 22) - 0x1000) });
 * const device = new FsDevice({ tag: "shared", fs: new MemoryFileSystem(), maxIo: 64 * 1024 });
 * const driver = fsDriver();
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
import { VIRTIO_ID_FS } from "../../generated/common.ts";
import { VirtioFsConfig } from "../../generated/devices/fs.ts";
import { Arrivals } from "../_arrivals.ts";
import { FuseClient, type FuseStat } from "./fuse_client.ts";

/** Options of {@link fsDriver}. */
export interface FsDriverOptions {
  /** Queue size to ask for (default: the device's maximum, capped at 128). */
  readonly queueSize?: number;
}

/** One virtio-fs device as the driver sees it, with its FUSE session. */
export class FsMount {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** The tag from the config space. */
  readonly tag: string;
  /** Request queues the device offers (`num_request_queues`). */
  readonly numRequestQueues: number;
  /** The FUSE client. */
  readonly client: FuseClient;
  /** The hiprio queue (FORGET): a request queue, see {@link Virtqueue.request}. */
  readonly hiprioVq: Virtqueue;
  /** The request queue this driver uses (the first one). */
  readonly requestVq: Virtqueue;

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: FsDriverOptions) {
    this.dev = dev;
    const { tag, queues } = dev.readConfig((cfg) => {
      const bytes: number[] = [];
      for (let i = 0; i < 36; i++) {
        const b = cfg.u8(VirtioFsConfig.OFFSETS.tag + i);
        if (b === 0) break;
        bytes.push(b);
      }
      return { tag: bytes, queues: cfg.le32(VirtioFsConfig.OFFSETS.numRequestQueues) };
    });
    this.tag = new TextDecoder().decode(new Uint8Array(tag));
    if (queues < 1) {
      throw new DeviceError(`${dev.name}: num_request_queues is 0`, {
        code: "ERR_VIRTIO_DEVICE_FS_CONFIG",
      });
    }
    this.numRequestQueues = queues;
    const size = options.queueSize ?? 128;
    // 5.11.2: hiprio, then the request queues; one request queue is enough here.
    [this.hiprioVq, this.requestVq] = dev.findVqs([
      { name: "hiprio", size },
      { name: "requests.0", size },
    ]);
    // FORGET and BATCH_FORGET have no reply and go on hiprio (5.11.6.1).
    this.client = new FuseClient((req, cap) =>
      (cap === 0 ? this.hiprioVq : this.requestVq).request(req, cap)
    );
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
    return this.client.readdir(path);
  }

  /** Makes directory `path`. */
  mkdir(path: string, mode?: number): Promise<void> {
    return this.client.mkdir(path, mode);
  }

  /** Removes file `path`. */
  unlink(path: string): Promise<void> {
    return this.client.unlink(path);
  }

  /** Removes empty directory `path`. */
  rmdir(path: string): Promise<void> {
    return this.client.rmdir(path);
  }

  /** Renames `from` to `to`. */
  rename(from: string, to: string): Promise<void> {
    return this.client.rename(from, to);
  }

  /** Attributes of `path`. */
  stat(path: string): Promise<FuseStat> {
    return this.client.stat(path);
  }

  /** Tears the queues down (device removal); outstanding requests have failed already. */
  detach(): void {
    this.dev.reset();
    this.dev.delVqs();
  }
}

/** The fs driver plus the mounts it has bound. */
export interface FsDriver extends VirtioDriver {
  /** Bound mounts, by device. */
  readonly mounts: Map<DriverDevice, FsMount>;
  /** The next mount to be probed, after its FUSE INIT. */
  nextMount(): Promise<FsMount>;
}

/** A virtio-fs driver for the bus: binds each device and starts its FUSE session (INIT). */
export function fsDriver(options: FsDriverOptions = {}): FsDriver {
  const arrivals = new Arrivals<FsMount>();
  return {
    name: "virtio-fs",
    idTable: [{ device: VIRTIO_ID_FS }],
    featureTable: [],
    mounts: arrivals.bound,
    nextMount(): Promise<FsMount> {
      return arrivals.next();
    },
    async probe(dev: DriverDevice): Promise<void> {
      const m = new FsMount(dev, options);
      dev.deviceReady();
      await m.client.init();
      arrivals.arrive(dev, m);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
  };
}
