/**
 * A vhost-user front-end: the driver side of vhost-user, as a
 * {@link Transport}. Our drivers (the bus, `src/driver.ts`, the device
 * drivers) run unchanged against a real vhost-user back-end such as
 * `qemu-storage-daemon --export type=vhost-user-blk`, in the role QEMU
 * plays for a guest:
 *
 * - guest memory is a memfd mapped into this process and handed to the
 *   back-end with SET_MEM_TABLE (one region, guest-physical 0, the mapping's
 *   own address as the user address, like QEMU's);
 * - the driver API lays the rings out in that memory with our engine; on
 *   {@link Transport.setupQueue} the ring is given to the back-end
 *   (SET_VRING_NUM, BASE, ADDR, CALL, KICK, ENABLE);
 * - {@link Transport.notify} writes the ring's kick eventfd; the call
 *   eventfds are polled on a worker thread (a `nonblocking` FFI `poll`) and
 *   turned into {@link InterruptHandlers.vring} calls on the JS thread;
 * - the device config space is read with GET_CONFIG when connecting (and by
 *   {@link VhostUserFrontend.refreshConfig}); a write goes out with
 *   SET_CONFIG and the config is read again (a write may change other
 *   fields: virtio-input's select/subsel window);
 * - the device status lives here: vhost-user has no status register for the
 *   front-end (the protocol's optional SET_STATUS is not used).
 *
 * Requests that need an answer while the driver API waits synchronously
 * (GET_VRING_BASE on reset or when a queue is disabled, GET_CONFIG after a
 * config write) block the JS thread
 * in `poll` for at most {@link VhostUserFrontendOptions.replyTimeoutMs}: the
 * back-end must run in another process or thread. Everything else is
 * non-blocking, and {@link VhostUserFrontend.connect} is asynchronous.
 *
 * When the back-end goes away, the device reads DEVICE_NEEDS_RESET and the
 * config-change handler fires (as a virtio device signals it); requests in
 * flight stay unanswered.
 *
 * **Deno only, Linux only**: `--allow-ffi --allow-read --allow-write`.
 *
 * @example
 * ```ts ignore
 * import { VirtioBus } from "../../bus.ts";
 * import { blkDriver } from "../../devices/blk/driver.ts";
 * import { VIRTIO_ID_BLOCK } from "../../generated/common.ts";
 * import { VhostUserFrontend } from "./frontend.ts";
 *
 * const fe = await VhostUserFrontend.connect({ socketPath: "/tmp/qsd.sock", deviceId: VIRTIO_ID_BLOCK });
 * const bus = new VirtioBus(fe.dmaContext);
 * const driver = blkDriver();
 * await bus.registerDriver(driver);
 * const dev = await bus.addDevice(fe);
 * const disk = await driver.nextDisk();
 * await disk.write(0, new Uint8Array(512).fill(1));
 * await bus.removeDevice(dev);
 * fe.close();
 * ```
 *
 * @module
 */

import type { ConfigWidth } from "../../device.ts";
import { DeviceStatus, VIRTIO_F_RING_PACKED } from "../../generated/common.ts";
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_MQ,
  VhostUserRequest as R,
} from "../../generated/vhost_user.ts";
import { DmaAllocator, type DmaContext, type GuestMemory } from "../../memory.ts";
import type { InterruptHandlers, QueueRingAddresses, Transport } from "../transport.ts";
import { MappedGuestMemory } from "./_mapped_memory.ts";
import {
  closeFd,
  connectUnix,
  eventfd,
  type Mapping,
  mapShared,
  memfdCreate,
  pollAsync,
  type PollEntry,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  readEventfd,
  recvWithFds,
  socketUnix,
  unmap,
  writeEventfd,
} from "./_libc.ts";
import {
  configPayload,
  decodeU64,
  decodeVringState,
  encodeMessage,
  headerFlags,
  memoryTablePayload,
  MessageReader,
  requestName,
  u64Payload,
  VHOST_USER_MAX_CONFIG_SIZE,
  type VhostUserMessage,
  vringAddrPayload,
  vringFdPayload,
  vringStatePayload,
} from "./_protocol.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import { configBytes, recvReply, recvReplySync, sendAll } from "./_front_channel.ts";

/** Options of {@link VhostUserFrontend.connect}. */
export interface VhostUserFrontendOptions {
  /** Path of the back-end's Unix socket. */
  readonly socketPath: string;
  /**
   * The virtio device id (`VIRTIO_ID_*`) the back-end implements: vhost-user
   * does not say, the front-end knows (QEMU's `vhost-user-blk-pci` does too).
   */
  readonly deviceId: number;
  /** Bytes of guest memory to share (default 16 MiB). */
  readonly memorySize?: number;
  /**
   * Bytes of device config to fetch with GET_CONFIG (default: the size the
   * device type's front-ends use, see {@link DEFAULT_CONFIG_SIZES}; 0 for
   * none). Back-ends copy exactly this much, so it must not exceed theirs.
   */
  readonly configSize?: number;
  /** Ring size offered to the driver as each queue's maximum (default 256). */
  readonly queueSize?: number;
  /** Number of queues when the back-end cannot say (no MQ protocol feature; default 1). */
  readonly queues?: number;
  /** Longest wait for a reply, in milliseconds (default 5000). */
  readonly replyTimeoutMs?: number;
}

/**
 * Config bytes a front-end asks for, by device id: the fields of the
 * device's config that front-ends use (QEMU asks for the same sizes).
 */
export const DEFAULT_CONFIG_SIZES: Readonly<Record<number, number>> = Object.freeze({
  1: 12, // net: mac, status, max_virtqueue_pairs, mtu
  2: 60, // blk: through write_zeroes_may_unmap and its padding
  4: 0, // rng: no config
  18: 136, // input: select, subsel, size, reserved, union
});

/** Protocol features this front-end can use. */
const SUPPORTED_PROTOCOL_FEATURES: bigint = (1n << BigInt(VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG));

const PROTOCOL_FEATURES_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);
/** Guest memory below this is left unused (no ring or buffer at address 0). */
const DMA_START = 0x1000;

/** The front-end's side of one ring. */
interface FrontRing {
  kickFd: number;
  callFd: number;
  started: boolean;
}

/**
 * The driver side of a vhost-user connection: a {@link Transport} whose
 * device is a vhost-user back-end in another process.
 */
export class VhostUserFrontend implements Transport {
  /** `vhost-user`. */
  readonly name: string = "vhost-user";
  /** The device id given in the options. */
  readonly deviceId: number;
  /** 0x1af4, the virtio PCI vendor (vhost-user carries none). */
  readonly vendorId: number = 0x1af4;
  /** Always false: vhost-user devices are modern. */
  readonly legacy: boolean = false;
  /** Always 0 (modern). */
  readonly legacyQueueAlign: number = 0;
  /** Always false: the driver chooses ring sizes. */
  readonly queueSizeFixed: boolean = false;
  /** Guest memory shared with the back-end, and its allocator: pass to `VirtioBus`. */
  readonly dmaContext: DmaContext;
  /** The device features the back-end offered (without `VHOST_USER_F_PROTOCOL_FEATURES`). */
  readonly deviceFeatures: bigint;
  /** The protocol features both sides use. */
  readonly protocolFeatures: bigint;
  readonly #fd: number;
  readonly #memfd: number;
  readonly #mapping: Mapping;
  readonly #reader: MessageReader;
  readonly #offersProtocol: boolean;
  readonly #queueSize: number;
  readonly #queueCount: number;
  readonly #timeout: number;
  readonly #rings: FrontRing[];
  readonly #wakeFd: number;
  #config: Uint8Array;
  #configGen = 0;
  #status = 0;
  #driverFeatures = 0n;
  #handlers: InterruptHandlers | undefined;
  #closed = false;
  #hungUp = false;
  #loop: Promise<void> | undefined;

  private constructor(
    init: {
      fd: number;
      memfd: number;
      mapping: Mapping;
      reader: MessageReader;
      deviceFeatures: bigint;
      offersProtocol: boolean;
      protocolFeatures: bigint;
      queueCount: number;
      config: Uint8Array;
    },
    options: VhostUserFrontendOptions,
  ) {
    this.deviceId = options.deviceId;
    this.#fd = init.fd;
    this.#memfd = init.memfd;
    this.#mapping = init.mapping;
    this.#reader = init.reader;
    this.deviceFeatures = init.deviceFeatures;
    this.#offersProtocol = init.offersProtocol;
    this.protocolFeatures = init.protocolFeatures;
    this.#queueCount = init.queueCount;
    this.#config = init.config;
    this.#queueSize = options.queueSize ?? 256;
    this.#timeout = options.replyTimeoutMs ?? 5000;
    this.#rings = Array.from({ length: init.queueCount }, () => ({
      kickFd: -1,
      callFd: -1,
      started: false,
    }));
    const memory: GuestMemory = new MappedGuestMemory();
    memory.addRegion(0, init.mapping.buffer);
    this.dmaContext = {
      memory,
      dma: new DmaAllocator(DMA_START, init.mapping.length - DMA_START),
    };
    this.#wakeFd = eventfd();
    this.#loop = this.#interruptLoop();
  }

  /**
   * Connects to the back-end at `options.socketPath`, shares a fresh memfd
   * as guest memory and learns the device: SET_OWNER, GET_FEATURES,
   * GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (with MQ), SET_MEM_TABLE and
   * GET_CONFIG (with CONFIG). Throws {@link VhostUserError} (or a
   * `LibcError`) when the back-end is not there or misbehaves.
   */
  static async connect(options: VhostUserFrontendOptions): Promise<VhostUserFrontend> {
    const size = options.memorySize ?? 16 << 20;
    if (!Number.isSafeInteger(size) || size < 2 * DMA_START || size % 4096 !== 0) {
      throw new VhostUserError(`vhost-user front-end: memory size ${size} (a multiple of 4096)`, {
        code: VhostUserErrorCode.BAD_OPTION,
      });
    }
    const timeout = options.replyTimeoutMs ?? 5000;
    const fd = socketUnix();
    let memfd = -1;
    let mapping: Mapping | undefined;
    try {
      connectUnix(fd, options.socketPath);
      memfd = memfdCreate("typed-virtio-guest", size);
      mapping = mapShared(memfd, size);
      const reader = new MessageReader((b) => recvWithFds(fd, b), closeFd);
      const call = async (request: number, payload?: Uint8Array): Promise<VhostUserMessage> => {
        sendAll(fd, encodeMessage(request, headerFlags(), payload), [], timeout);
        return await recvReply(fd, reader, request, timeout);
      };
      sendAll(fd, encodeMessage(R.VHOST_USER_SET_OWNER, headerFlags()), [], timeout);
      const offered = decodeU64(await call(R.VHOST_USER_GET_FEATURES));
      const offersProtocol = (offered & PROTOCOL_FEATURES_BIT) !== 0n;
      let protocolFeatures = 0n;
      if (offersProtocol) {
        const p = decodeU64(await call(R.VHOST_USER_GET_PROTOCOL_FEATURES));
        protocolFeatures = p & SUPPORTED_PROTOCOL_FEATURES;
        sendAll(
          fd,
          encodeMessage(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            headerFlags(),
            u64Payload(protocolFeatures),
          ),
          [],
          timeout,
        );
      }
      const has = (f: number) => (protocolFeatures & (1n << BigInt(f))) !== 0n;
      let queueCount = options.queues ?? 1;
      if (has(VHOST_USER_PROTOCOL_F_MQ)) {
        queueCount = Number(decodeU64(await call(R.VHOST_USER_GET_QUEUE_NUM)));
        if (options.queues !== undefined) queueCount = Math.min(queueCount, options.queues);
      }
      const userAddr = Number(Deno.UnsafePointer.value(mapping.pointer));
      sendAll(
        fd,
        encodeMessage(
          R.VHOST_USER_SET_MEM_TABLE,
          headerFlags(),
          memoryTablePayload([{
            guestPhysAddr: 0,
            memorySize: size,
            userspaceAddr: userAddr,
            mmapOffset: 0,
          }]),
        ),
        [memfd],
        timeout,
      );
      const cfgSize = options.configSize ?? DEFAULT_CONFIG_SIZES[options.deviceId] ?? 0;
      let config: Uint8Array = new Uint8Array(cfgSize);
      if (cfgSize > 0 && has(VHOST_USER_PROTOCOL_F_CONFIG)) {
        config = configBytes(
          await call(R.VHOST_USER_GET_CONFIG, configPayload(0, 0, new Uint8Array(cfgSize))),
          cfgSize,
        );
      }
      return new VhostUserFrontend({
        fd,
        memfd,
        mapping,
        reader,
        deviceFeatures: offered & ~PROTOCOL_FEATURES_BIT,
        offersProtocol,
        protocolFeatures,
        queueCount,
        config,
      }, options);
    } catch (e) {
      if (mapping !== undefined) unmap(mapping);
      closeFd(memfd);
      closeFd(fd);
      throw e;
    }
  }

  /** The guest memory shared with the back-end. */
  get memory(): GuestMemory {
    return this.dmaContext.memory;
  }

  /** True once the back-end closed the connection. */
  get hungUp(): boolean {
    return this.#hungUp;
  }

  /** Reads the config space again with GET_CONFIG (bumps the config generation). */
  async refreshConfig(): Promise<void> {
    if (this.#config.length === 0 || !this.#hasProtocol(VHOST_USER_PROTOCOL_F_CONFIG)) return;
    this.#send(
      R.VHOST_USER_GET_CONFIG,
      configPayload(0, 0, new Uint8Array(this.#config.length)),
    );
    const m = await recvReply(this.#fd, this.#reader, R.VHOST_USER_GET_CONFIG, this.#timeout);
    this.#config = configBytes(m, this.#config.length);
    this.#configGen++;
  }

  getStatus(): number {
    return this.#status;
  }

  setStatus(status: number): void {
    if (status === 0) {
      this.reset();
      return;
    }
    const added = status & ~this.#status;
    if (added & DeviceStatus.FEATURES_OK) {
      const features = this.#driverFeatures | (this.#offersProtocol ? PROTOCOL_FEATURES_BIT : 0n);
      this.#send(R.VHOST_USER_SET_FEATURES, u64Payload(features));
    }
    this.#status = status | (this.#hungUp ? DeviceStatus.DEVICE_NEEDS_RESET : 0);
  }

  reset(): void {
    this.#rings.forEach((r, i) => this.#stopRing(i, r));
    this.#status = 0;
    this.#driverFeatures = 0n;
  }

  getDeviceFeatures(): bigint {
    return this.deviceFeatures;
  }

  setDriverFeatures(features: bigint): void {
    const extra = features & ~this.deviceFeatures;
    if (extra !== 0n) {
      throw new VhostUserError(
        `vhost-user: driver features 0x${extra.toString(16)} were not offered by the back-end`,
        { code: VhostUserErrorCode.FEATURES_NOT_OFFERED },
      );
    }
    this.#driverFeatures = features;
  }

  configGeneration(): number {
    return this.#configGen;
  }

  /** Reads the fetched config; bytes past what the back-end gave read as 0 (like unused fields). */
  readConfig(offset: number, width: ConfigWidth): number {
    const c = this.#config;
    if (offset < 0 || offset + width > VHOST_USER_MAX_CONFIG_SIZE) {
      throw new VhostUserError(`vhost-user: config read of ${width} bytes at ${offset}`, {
        code: VhostUserErrorCode.BAD_CONFIG,
      });
    }
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + (c[offset + i] ?? 0);
    return v;
  }

  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    const c = this.#config;
    if (offset < 0 || offset + width > c.length) {
      throw new VhostUserError(`vhost-user: config write of ${width} bytes at ${offset}`, {
        code: VhostUserErrorCode.BAD_CONFIG,
      });
    }
    if (!this.#hasProtocol(VHOST_USER_PROTOCOL_F_CONFIG)) {
      throw new VhostUserError("vhost-user: the back-end does not take config writes (no CONFIG)", {
        code: VhostUserErrorCode.UNSUPPORTED_REQUEST,
      });
    }
    const bytes = new Uint8Array(width);
    const v = new DataView(bytes.buffer);
    if (width === 1) v.setUint8(0, value);
    else if (width === 2) v.setUint16(0, value, true);
    else v.setUint32(0, value, true);
    this.#send(R.VHOST_USER_SET_CONFIG, configPayload(offset, 0, bytes));
    c.set(bytes, offset);
    // A write may change other fields (virtio-input's select/subsel window):
    // read the config again, waiting as QEMU's front-ends do.
    this.#send(R.VHOST_USER_GET_CONFIG, configPayload(0, 0, new Uint8Array(c.length)));
    try {
      const m = recvReplySync(this.#fd, this.#reader, R.VHOST_USER_GET_CONFIG, this.#timeout);
      this.#config = configBytes(m, c.length);
      this.#configGen++;
    } catch (e) {
      this.#hangUp();
      throw e;
    }
  }

  numQueues(): number {
    return this.#queueCount;
  }

  queueMaxSize(index: number): number {
    return index >= 0 && index < this.#queueCount ? this.#queueSize : 0;
  }

  setupQueue(index: number, size: number, addrs: QueueRingAddresses): void {
    const r = this.#rings[index];
    if (r === undefined) {
      throw new VhostUserError(`vhost-user: no queue ${index}`, {
        code: VhostUserErrorCode.BAD_QUEUE,
      });
    }
    if (r.started) {
      throw new VhostUserError(`vhost-user: queue ${index} is already set up`, {
        code: VhostUserErrorCode.BAD_QUEUE,
      });
    }
    if (this.#hungUp) {
      throw new VhostUserError("vhost-user: the back-end has gone away", {
        code: VhostUserErrorCode.CLOSED,
      });
    }
    const ua = Number(Deno.UnsafePointer.value(this.#mapping.pointer));
    r.kickFd = eventfd();
    r.callFd = eventfd();
    this.#send(R.VHOST_USER_SET_VRING_NUM, vringStatePayload(index, size));
    // A fresh ring; packed: next available descriptor 0 with wrap counter 1 (bit 15).
    const packed = (this.#driverFeatures & (1n << BigInt(VIRTIO_F_RING_PACKED))) !== 0n;
    this.#send(R.VHOST_USER_SET_VRING_BASE, vringStatePayload(index, packed ? 0x8000 : 0));
    this.#send(
      R.VHOST_USER_SET_VRING_ADDR,
      vringAddrPayload({
        index,
        flags: 0,
        desc: ua + addrs.desc,
        used: ua + addrs.device,
        avail: ua + addrs.driver,
        log: 0,
      }),
    );
    this.#send(R.VHOST_USER_SET_VRING_CALL, vringFdPayload(index, false), [r.callFd]);
    this.#send(R.VHOST_USER_SET_VRING_KICK, vringFdPayload(index, false), [r.kickFd]);
    // 'Ring states': with protocol features acknowledged a ring starts disabled.
    if (this.#offersProtocol) {
      this.#send(R.VHOST_USER_SET_VRING_ENABLE, vringStatePayload(index, 1));
    }
    r.started = true;
    this.#wake();
  }

  disableQueue(index: number): void {
    const r = this.#rings[index];
    if (r !== undefined) this.#stopRing(index, r);
  }

  notify(index: number): void {
    const r = this.#rings[index];
    if (r === undefined || !r.started) {
      throw new VhostUserError(`vhost-user: notify on queue ${index}, which is not set up`, {
        code: VhostUserErrorCode.BAD_QUEUE,
      });
    }
    writeEventfd(r.kickFd);
  }

  setInterruptHandlers(handlers: InterruptHandlers | undefined): void {
    this.#handlers = handlers;
  }

  /**
   * Closes the connection (the back-end ends its session) and, once the
   * interrupt loop has stopped, the eventfds and the guest memory. Reset the
   * device first (the bus's `removeDevice` does) so no request is in flight.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
  }

  /** Resolves once {@link VhostUserFrontend.close} has released everything. */
  async closed(): Promise<void> {
    await this.#loop;
  }

  #hasProtocol(f: number): boolean {
    return (this.protocolFeatures & (1n << BigInt(f))) !== 0n;
  }

  #send(request: number, payload?: Uint8Array, fds: readonly number[] = []): void {
    if (this.#closed) {
      throw new VhostUserError(`vhost-user: ${requestName(request)} after close`, {
        code: VhostUserErrorCode.CLOSED,
      });
    }
    if (this.#hungUp) return; // nothing to tell a back-end that is gone
    try {
      sendAll(this.#fd, encodeMessage(request, headerFlags(), payload), fds, this.#timeout);
    } catch (e) {
      this.#hangUp();
      throw e;
    }
  }

  /** GET_VRING_BASE: the back-end stops the ring; waits (blocking) for its answer. */
  #stopRing(index: number, r: FrontRing): void {
    if (!r.started) return;
    r.started = false;
    try {
      if (!this.#hungUp && !this.#closed) {
        this.#send(R.VHOST_USER_GET_VRING_BASE, vringStatePayload(index, 0));
        const m = recvReplySync(this.#fd, this.#reader, R.VHOST_USER_GET_VRING_BASE, this.#timeout);
        decodeVringState(m);
      }
    } catch (e) {
      this.#hangUp();
      throw e;
    } finally {
      // The loop closes the fds it polls once it sees them gone.
      this.#retire(r);
    }
  }

  #retired: number[] = [];

  #retire(r: FrontRing): void {
    if (r.kickFd >= 0) this.#retired.push(r.kickFd);
    if (r.callFd >= 0) this.#retired.push(r.callFd);
    r.kickFd = r.callFd = -1;
    this.#wake();
  }

  #wake(): void {
    if (this.#wakeFd >= 0) writeEventfd(this.#wakeFd);
  }

  #hangUp(): void {
    if (this.#hungUp) return;
    this.#hungUp = true;
    this.#status |= DeviceStatus.DEVICE_NEEDS_RESET;
    this.#handlers?.config();
  }

  /** Polls the call eventfds (and the socket for a hang-up) until closed. */
  async #interruptLoop(): Promise<void> {
    // Let the constructor finish before the first poll.
    await Promise.resolve();
    try {
      while (!this.#closed) {
        for (const fd of this.#retired.splice(0)) closeFd(fd);
        const entries: PollEntry[] = [{ fd: this.#wakeFd, events: POLLIN, revents: 0 }];
        // Events 0: only POLLHUP/POLLERR; replies are read by the requester.
        if (!this.#hungUp) entries.push({ fd: this.#fd, events: 0, revents: 0 });
        const rings: number[] = [];
        this.#rings.forEach((r, i) => {
          if (r.started && r.callFd >= 0) {
            entries.push({ fd: r.callFd, events: POLLIN, revents: 0 });
            rings.push(i);
          }
        });
        const n = await pollAsync(entries, -1);
        if (this.#closed) break;
        if (n <= 0) continue;
        if (entries[0].revents) readEventfd(this.#wakeFd);
        const first = this.#hungUp ? 1 : 2;
        if (!this.#hungUp && entries[1].revents & (POLLHUP | POLLERR | POLLNVAL)) this.#hangUp();
        for (let k = 0; k < rings.length; k++) {
          const e = entries[first + k];
          const r = this.#rings[rings[k]];
          if (e.revents === 0 || r.callFd !== e.fd) continue;
          readEventfd(r.callFd);
          this.#handlers?.vring(rings[k]);
        }
      }
    } finally {
      for (const fd of this.#retired.splice(0)) closeFd(fd);
      for (const r of this.#rings) {
        closeFd(r.kickFd);
        closeFd(r.callFd);
        r.kickFd = r.callFd = -1;
        r.started = false;
      }
      this.#reader.discard();
      closeFd(this.#fd);
      closeFd(this.#wakeFd);
      closeFd(this.#memfd);
      unmap(this.#mapping);
    }
  }
}
