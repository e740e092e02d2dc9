/**
 * A vhost-user back-end: serves any {@link VirtioDevice} to a vhost-user
 * front-end (QEMU's `vhost-user-blk-pci`, `-netdev vhost-user`,
 * `vhost-user-input-pci`...) over a Unix socket, unchanged.
 *
 * **Deno only** (FFI to libc, see `libc.ts`): run with `--allow-ffi
 * --allow-read --allow-write`.
 *
 * What it does with the protocol (QEMU's `docs/interop/vhost-user.rst`):
 * - offers the device's features plus `VHOST_USER_F_PROTOCOL_FEATURES`, and
 *   the protocol features MQ, REPLY_ACK, CONFIG and RESET_DEVICE;
 * - maps every region of SET_MEM_TABLE (shared, read-write) and builds a
 *   {@link GuestMemory} over the mappings by guest-physical address; ring
 *   addresses, which come as front-end user addresses, are translated through
 *   the same table;
 * - starts a ring on SET_VRING_KICK (a {@link DeviceQueue} from
 *   `createDeviceQueue`), serves it once enabled, and stops it on
 *   GET_VRING_BASE, replying with the next available index. The device is
 *   activated when the first ring starts and reset when the last one stops;
 * - turns kicks (eventfd readable) into {@link VirtioDevice.queueNotify} and
 *   {@link DeviceContext.notifyUsed} into a write on the call eventfd;
 * - answers need_reply when REPLY_ACK was negotiated.
 *
 * Nothing the front-end sends can crash the process: a malformed message, a
 * bad descriptor, overlapping regions, a ring outside the memory table or an
 * out-of-order request is logged, the device is reset, every mapping and
 * descriptor of the session is released, the connection closed, and the
 * back-end waits for the next connection (reconnection).
 *
 * One event loop per back-end: a `poll` on a worker thread (a
 * `nonblocking` FFI call) over the socket, the kick eventfds and a wake-up
 * eventfd; everything else is a non-blocking call on the JavaScript thread.
 * When kicks come in a stream, it first waits up to
 * {@link VhostUserBackendOptions.pollBeforeSleepUs} (300 µs) for the next
 * one with a blocking `ppoll` on the JavaScript thread: a guest reading at
 * queue depth 1 kicks again within that, and is then served one thread
 * wake-up sooner (4 KiB reads at depth 1 from a Linux guest: 324 → 285 µs).
 *
 * The socket file is created with the process's umask; who may connect is
 * the file's permissions' business (see docs/vhost_user.md).
 *
 * Device models must not touch a chain after {@link VirtioDevice.reset}
 * returns: the guest memory behind it is unmapped at the end of a session.
 *
 * @example
 * ```ts ignore
 * import { VhostUserBackend } from "./backend.ts";
 * import { NullDevice } from "../../devices/null/device.ts";
 *
 * const backend = new VhostUserBackend(new NullDevice(), { socketPath: "/tmp/null.sock" });
 * backend.listen();
 * console.log("ready");
 * await backend.serve(); // until backend.close()
 * ```
 *
 * @module
 */

import type { DeviceContext, VirtioDevice } from "../../device.ts";
import type { GuestMemory } from "../../memory.ts";
import { MappedGuestMemory } from "./_mapped_memory.ts";
import { inflightQueueBytes, resumeInflight } from "./_inflight.ts";
import type { SplitDeviceQueue } from "../../virtqueue/split.ts";
import {
  createDeviceQueue,
  type DeviceQueue,
  type QueueAddresses,
  queueOptionsFromFeatures,
} from "../../virtqueue/mod.ts";
import {
  VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
  VhostUserRequest as R,
} from "../../generated/vhost_user.ts";
import {
  accept,
  bindListen,
  closeFd,
  eventfd,
  type Mapping,
  mapShared,
  memfdCreate,
  pollAsync,
  pollBrief,
  type PollEntry,
  POLLERR,
  POLLHUP,
  POLLIN,
  readEventfd,
  recvWithFds,
  sendWithFds,
  setNonblocking,
  socketUnix,
  unmap,
  writeEventfd,
} from "./libc.ts";
import {
  configPayload,
  decodeConfig,
  decodeInflight,
  decodeMemoryTable,
  decodeU64,
  decodeVringAddr,
  decodeVringFd,
  decodeVringState,
  encodeMessage,
  headerFlags,
  type InflightDesc,
  inflightPayload,
  type MemoryRegionDesc,
  MessageReader,
  needsReply,
  REPLY_FLAGS,
  requestName,
  u64Payload,
  VhostUserError,
  type VhostUserMessage,
  type VringAddr,
  vringStatePayload,
} from "./protocol.ts";

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Where the back-end reports what happens. */
export type Logger = (level: LogLevel, message: string) => void;

/** Options of a {@link VhostUserBackend}. */
export interface VhostUserBackendOptions {
  /** Path of the Unix socket to listen on (a stale socket file there is replaced). */
  readonly socketPath: string;
  /** Log sink (default: warnings and errors to stderr; `VHOST_USER_DEBUG=1` for all). */
  readonly log?: Logger;
  /**
   * Protocol features to offer, as a mask (default MQ, REPLY_ACK, CONFIG,
   * RESET_DEVICE). Tests use it to check negotiation.
   */
  readonly protocolFeatures?: bigint;
  /**
   * After serving a kick, wait up to this many microseconds for the next
   * kick or message with a blocking `ppoll` on the JavaScript thread before
   * handing the wait to a worker thread (default
   * {@link DEFAULT_POLL_BEFORE_SLEEP_US}; 0 never blocks the event loop).
   * A kick that arrives within it is seen one thread wake-up sooner. Only
   * while kicks come in a stream (the last two within four times this),
   * never while the device holds chains (asynchronous work needs the event
   * loop), and the event loop gets a turn at least every
   * {@link MAX_BRIEF_WAKEUPS} wake-ups.
   */
  readonly pollBeforeSleepUs?: number;
}

/** {@link VhostUserBackendOptions.pollBeforeSleepUs} unless the options say otherwise. */
export const DEFAULT_POLL_BEFORE_SLEEP_US: number = 300;

/** Wake-ups served in a row by the brief blocking wait before the event loop gets a turn. */
export const MAX_BRIEF_WAKEUPS: number = 64;

/**
 * The brief wait follows a kick only when it came within this many times
 * `pollBeforeSleepUs` of the previous kick: sparse kicks (a guest starting
 * a process per read) would only time it out.
 */
const BRIEF_STREAM_FACTOR = 4;
/**
 * How long GET_VRING_BASE waits for the device to complete the requests it
 * is working on ({@link VirtioDevice.inProgress}) before the ring stops
 * anyway (they are then lost to the driver).
 */
const DRAIN_TIMEOUT_MS = 5_000;
/** The poll period while a ring drains (completions come from the event loop, not an fd). */
const DRAIN_POLL_MS = 5;

/** The protocol features offered unless the options say otherwise. */
export const DEFAULT_PROTOCOL_FEATURES: bigint = (1n << BigInt(VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_REPLY_ACK)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_RESET_DEVICE)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_BACKEND_REQ)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD));

const PROTOCOL_FEATURES_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);
const VHOST_F_LOG_ALL_BIT = 1n << 26n;

function bit(n: number): bigint {
  return 1n << BigInt(n);
}

function defaultLogger(): Logger {
  let debug = false;
  try {
    debug = Deno.env.get("VHOST_USER_DEBUG") === "1";
  } catch {
    // no env permission: keep quiet
  }
  return (level, message) => {
    if (level === "error" || level === "warn" || debug) {
      console.error(`vhost-user ${level}: ${message}`);
    }
  };
}

/** One mapped region of the memory table. */
interface MappedRegion {
  readonly desc: MemoryRegionDesc;
  readonly mapping: Mapping;
}

/** What the back-end knows of one vring. */
interface Ring {
  size: number;
  base: number;
  addr: VringAddr | undefined;
  kickFd: number;
  callFd: number;
  errFd: number;
  started: boolean;
  enabled: boolean;
  queue: DeviceQueue | undefined;
}

function freshRing(): Ring {
  return {
    size: 0,
    base: 0,
    addr: undefined,
    kickFd: -1,
    callFd: -1,
    errFd: -1,
    started: false,
    enabled: false,
    queue: undefined,
  };
}

/** Reasons a session ended, for {@link SessionSummary}. */
export type SessionEnd = "eof" | "error" | "closed";

/** What happened in one session (one front-end connection). */
export interface SessionSummary {
  /** How it ended. */
  readonly end: SessionEnd;
  /** The error that ended it, for `error`. */
  readonly error?: string;
  /** Messages handled. */
  readonly messages: number;
  /** Kicks handled. */
  readonly kicks: number;
}

/**
 * A vhost-user back-end for one device, serving one front-end connection at
 * a time and accepting the next when it ends.
 */
export class VhostUserBackend {
  /** The device served. */
  readonly device: VirtioDevice;
  /** The socket path. */
  readonly socketPath: string;
  /** Protocol features offered. */
  readonly offeredProtocolFeatures: bigint;
  /** Microseconds of blocking wait for the next kick after serving one (0: none). */
  readonly pollBeforeSleepUs: number;
  /** One summary per finished session, oldest first. */
  readonly sessions: SessionSummary[] = [];
  readonly #log: Logger;
  #listenFd = -1;
  #wakeFd = -1;
  #closed = false;
  #session: Session | undefined;
  #sessionWaiters: (() => void)[] = [];

  /** A back-end for `device` on `options.socketPath` (nothing happens until {@link VhostUserBackend.listen}). */
  constructor(device: VirtioDevice, options: VhostUserBackendOptions) {
    this.device = device;
    this.socketPath = options.socketPath;
    this.offeredProtocolFeatures = options.protocolFeatures ?? DEFAULT_PROTOCOL_FEATURES;
    const us = options.pollBeforeSleepUs ?? DEFAULT_POLL_BEFORE_SLEEP_US;
    if (!Number.isFinite(us) || us < 0 || us >= 1_000_000) {
      throw new VhostUserError(`pollBeforeSleepUs is ${us}; give 0 up to 999999 microseconds`);
    }
    this.pollBeforeSleepUs = us;
    this.#log = options.log ?? defaultLogger();
  }

  /** Creates the socket and listens; a stale socket file at the path is removed first. */
  listen(): void {
    if (this.#listenFd >= 0) return;
    try {
      const st = Deno.lstatSync(this.socketPath);
      if (st.isSocket) Deno.removeSync(this.socketPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const fd = socketUnix();
    try {
      bindListen(fd, this.socketPath, 4);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    this.#listenFd = fd;
    this.#wakeFd = eventfd();
  }

  /** True while a front-end is connected. */
  get connected(): boolean {
    return this.#session !== undefined;
  }

  /**
   * Serves front-ends one after another until {@link VhostUserBackend.close}.
   * Never rejects for anything a front-end does.
   */
  async serve(): Promise<void> {
    this.listen();
    while (!this.#closed) {
      const entries: PollEntry[] = [
        { fd: this.#wakeFd, events: POLLIN, revents: 0 },
        { fd: this.#listenFd, events: POLLIN, revents: 0 },
      ];
      const n = await pollAsync(entries, -1);
      if (this.#closed) break;
      if (n < 0) continue;
      if (entries[0].revents) readEventfd(this.#wakeFd);
      if (!entries[1].revents) continue;
      let conn = -1;
      try {
        conn = accept(this.#listenFd);
      } catch (e) {
        this.#log("error", `accept: ${errorText(e)}`);
        continue;
      }
      if (conn < 0) continue;
      await this.serveConnection(conn);
    }
    this.#teardown();
  }

  /**
   * Serves one already-connected socket `fd` (made non-blocking here) until
   * the front-end goes away or {@link VhostUserBackend.close}; the back-end
   * owns and closes `fd`. Resolves with the session's summary.
   */
  async serveConnection(fd: number): Promise<SessionSummary> {
    if (this.#wakeFd < 0) this.#wakeFd = eventfd();
    setNonblocking(fd);
    const s = new Session(this, this.device, fd, this.#log, this.offeredProtocolFeatures);
    this.#session = s;
    this.#log("info", "front-end connected");
    let summary: SessionSummary;
    try {
      summary = await s.run(this.#wakeFd, () => this.#closed, this.pollBeforeSleepUs);
    } finally {
      this.#session = undefined;
    }
    this.sessions.push(summary);
    this.#log(
      summary.end === "error" ? "error" : "info",
      `session ended (${summary.end}${summary.error ? `: ${summary.error}` : ""})`,
    );
    const waiters = this.#sessionWaiters;
    this.#sessionWaiters = [];
    for (const w of waiters) w();
    return summary;
  }

  /** Resolves when the current (or next) session ends. */
  sessionEnded(): Promise<void> {
    return new Promise((resolve) => this.#sessionWaiters.push(resolve));
  }

  /** Stops serving: ends the session (resetting the device), closes the socket and removes its file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#wakeFd >= 0) writeEventfd(this.#wakeFd);
  }

  #teardown(): void {
    if (this.#listenFd >= 0) {
      closeFd(this.#listenFd);
      this.#listenFd = -1;
      try {
        Deno.removeSync(this.socketPath);
      } catch {
        // already gone
      }
    }
    if (this.#wakeFd >= 0 && this.#session === undefined) {
      closeFd(this.#wakeFd);
      this.#wakeFd = -1;
    }
  }

  /** Wakes the event loop (a device finished work outside a kick, or close). */
  wake(): void {
    if (this.#wakeFd >= 0) writeEventfd(this.#wakeFd);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The {@link DeviceContext} of one activation; inert once the session resets the device. */
class SessionContext implements DeviceContext {
  readonly memory: GuestMemory;
  readonly features: bigint;
  readonly queues: (DeviceQueue | undefined)[];
  live = true;
  readonly #session: Session;

  constructor(session: Session, memory: GuestMemory, features: bigint, queueCount: number) {
    this.#session = session;
    this.memory = memory;
    this.features = features;
    this.queues = Array.from({ length: queueCount }, () => undefined);
  }

  notifyUsed(index: number): void {
    if (this.live) this.#session.call(index);
  }

  configChanged(): void {
    if (this.live) this.#session.configChanged();
  }

  needsReset(reason: unknown): void {
    if (this.live) this.#session.deviceFailed(reason);
  }
}

/** One front-end connection. */
class Session {
  readonly #backend: VhostUserBackend;
  readonly #device: VirtioDevice;
  readonly #fd: number;
  readonly #log: Logger;
  readonly #offeredProtocol: bigint;
  readonly #reader: MessageReader;
  readonly #rings: Ring[];
  #features = 0n;
  #featuresSet = false;
  #protocolAcked = false;
  #protocolFeatures = 0n;
  #owner = false;
  #regions: MappedRegion[] = [];
  #memory: GuestMemory | undefined;
  #ctx: SessionContext | undefined;
  #failed = false;
  #messages = 0;
  #kicks = 0;
  #replied = false;
  /** The back-end request channel from SET_BACKEND_REQ_FD, or -1. */
  #backendFd = -1;
  /** The inflight area from SET_INFLIGHT_FD, mapped. */
  #inflight: { mapping: Mapping; desc: InflightDesc } | undefined;
  /** A GET_VRING_BASE waiting for its ring's chains to complete (see {@link DRAIN_TIMEOUT_MS}). */
  #draining: { index: number; request: number; until: number } | undefined;

  constructor(
    backend: VhostUserBackend,
    device: VirtioDevice,
    fd: number,
    log: Logger,
    offeredProtocol: bigint,
  ) {
    this.#backend = backend;
    this.#device = device;
    this.#fd = fd;
    this.#log = log;
    this.#offeredProtocol = offeredProtocol;
    this.#reader = new MessageReader((b) => recvWithFds(fd, b), closeFd);
    this.#rings = device.queueMaxSizes.map(() => freshRing());
  }

  log(level: LogLevel, message: string): void {
    this.#log(level, message);
  }

  async run(wakeFd: number, closed: () => boolean, briefUs: number): Promise<SessionSummary> {
    let end: SessionEnd = "closed";
    let error: string | undefined;
    // Wake-ups in a row seen by the brief blocking wait (see pollBeforeSleepUs).
    let brief = 0;
    // Whether the last wake-up served a kick that came soon after the one
    // before (kicks in a stream); the brief wait is only worth it then.
    let streaming = false;
    let lastKickMs = -Infinity;
    try {
      for (;;) {
        if (closed()) break;
        const draining = this.#draining !== undefined;
        const entries: PollEntry[] = [
          { fd: wakeFd, events: POLLIN, revents: 0 },
          // While a ring drains, messages wait (only a hang-up is seen).
          { fd: this.#fd, events: draining ? 0 : POLLIN, revents: 0 },
        ];
        const kickRings: number[] = [];
        this.#rings.forEach((r, i) => {
          if (r.started && r.kickFd >= 0) {
            entries.push({ fd: r.kickFd, events: POLLIN, revents: 0 });
            kickRings.push(i);
          }
        });
        // Latency: a guest at queue depth 1 kicks again soon after its
        // completion; a blocking ppoll here sees that kick one thread
        // wake-up sooner than the worker-thread poll does.
        let n = 0;
        if (streaming && brief < MAX_BRIEF_WAKEUPS && !this.#holdsChains()) {
          n = pollBrief(entries, briefUs);
        }
        if (n > 0) {
          brief++;
        } else {
          brief = 0;
          n = await pollAsync(entries, draining ? DRAIN_POLL_MS : -1);
        }
        streaming = false;
        if (closed()) break;
        if (n < 0) continue;
        if (entries[0].revents) readEventfd(wakeFd);
        if (draining && (entries[1].revents & (POLLHUP | POLLERR)) !== 0) {
          end = "eof";
          break;
        }
        if (entries[1].revents & (POLLIN | POLLHUP | POLLERR)) {
          if (!this.#readMessages()) {
            end = "eof";
            break;
          }
        }
        for (let k = 0; k < kickRings.length; k++) {
          const e = entries[k + 2];
          if (e.revents === 0) continue;
          const i = kickRings[k];
          const r = this.#rings[i];
          // The fd may have been replaced while handling messages above.
          if (r.kickFd !== e.fd) continue;
          readEventfd(r.kickFd);
          // A draining ring takes no new chains: it stops when the held ones are done.
          if (this.#draining?.index === i) continue;
          this.#kick(i);
          const now = performance.now();
          streaming = briefUs > 0 && now - lastKickMs < (BRIEF_STREAM_FACTOR * briefUs) / 1000;
          lastKickMs = now;
        }
        if (!this.#checkDrain()) {
          end = "eof";
          break;
        }
      }
    } catch (e) {
      end = "error";
      error = errorText(e);
      this.#log("error", error);
    } finally {
      this.#teardown();
    }
    return { end, error, messages: this.#messages, kicks: this.#kicks };
  }

  /** Stops ring `index` and answers GET_VRING_BASE with where it stopped. */
  #finishStop(index: number, request: number): void {
    const r = this.#rings[index];
    const base = this.#stopRing(index);
    r.base = base;
    this.#reply(request, vringStatePayload(index, base));
  }

  /**
   * Ends a drain whose ring has no chain in flight any more (or whose time is
   * up), then handles the messages that waited; false when the front-end hung up.
   */
  #checkDrain(): boolean {
    const d = this.#draining;
    if (d === undefined) return true;
    const busy = this.#device.inProgress?.(d.index) ?? 0;
    if (busy > 0 && performance.now() < d.until) return true;
    this.#draining = undefined;
    this.#finishStop(d.index, d.request);
    return this.#readMessages();
  }

  /** True while the device holds a chain of a running ring (it completes it from the event loop). */
  #holdsChains(): boolean {
    for (const r of this.#rings) if (r.queue !== undefined && r.queue.inFlight > 0) return true;
    return false;
  }

  /** Handles every complete message; false when the front-end hung up. */
  #readMessages(): boolean {
    for (;;) {
      if (this.#draining !== undefined) return true;
      const r = this.#reader.read();
      if (r.kind === "eof") return false;
      if (r.kind === "again") return true;
      this.#messages++;
      this.#dispatch(r.message);
    }
  }

  #dispatch(m: VhostUserMessage): void {
    this.#replied = false;
    const fds = m.fds;
    try {
      this.#log(
        "debug",
        `<- ${requestName(m.request)} (${m.payload.length} bytes, ${fds.length} fds)`,
      );
      this.#handle(m);
    } catch (e) {
      // Tell a front-end waiting for an ack, then give up on the connection.
      if (this.#ackWanted(m) && !this.#replied) this.#reply(m.request, u64Payload(1n));
      for (const fd of fds) closeFd(fd);
      throw e instanceof VhostUserError
        ? e
        : new VhostUserError(`${requestName(m.request)}: ${errorText(e)}`, { cause: e });
    }
    for (const fd of fds) closeFd(fd);
    if (this.#ackWanted(m) && !this.#replied) this.#reply(m.request, u64Payload(0n));
  }

  #ackWanted(m: VhostUserMessage): boolean {
    return needsReply(m.flags) &&
      (this.#protocolFeatures & bit(VHOST_USER_PROTOCOL_F_REPLY_ACK)) !== 0n;
  }

  #reply(request: number, payload: Uint8Array, fds: readonly number[] = []): void {
    const bytes = encodeMessage(request, REPLY_FLAGS, payload);
    const n = sendWithFds(this.#fd, bytes, fds);
    if (n !== bytes.length) {
      throw new VhostUserError(`${requestName(request)}: reply could not be sent (socket full)`);
    }
    this.#replied = true;
  }

  /** Takes the one descriptor a message must carry, removing it from the list to close. */
  #takeFd(m: VhostUserMessage, what: string): number {
    if (m.fds.length !== 1) {
      throw new VhostUserError(
        `${requestName(m.request)}: expected 1 file descriptor for ${what}, got ${m.fds.length}`,
      );
    }
    const fd = m.fds.pop() as number;
    try {
      setNonblocking(fd);
    } catch (e) {
      closeFd(fd);
      throw new VhostUserError(`${requestName(m.request)}: bad file descriptor for ${what}`, {
        cause: e,
      });
    }
    return fd;
  }

  #ring(index: number, request: number): Ring {
    const r = this.#rings[index];
    if (r === undefined) {
      throw new VhostUserError(
        `${
          requestName(request)
        }: vring ${index} does not exist (the device has ${this.#rings.length})`,
      );
    }
    return r;
  }

  #offeredFeatures(): bigint {
    return this.#device.features | PROTOCOL_FEATURES_BIT;
  }

  #handle(m: VhostUserMessage): void {
    switch (m.request) {
      case R.VHOST_USER_GET_FEATURES:
        this.#reply(m.request, u64Payload(this.#offeredFeatures()));
        return;
      case R.VHOST_USER_SET_FEATURES: {
        const f = decodeU64(m);
        const extra = f & ~(this.#offeredFeatures() | VHOST_F_LOG_ALL_BIT);
        if (extra !== 0n) {
          throw new VhostUserError(
            `VHOST_USER_SET_FEATURES: bits 0x${extra.toString(16)} were not offered`,
          );
        }
        if ((f & VHOST_F_LOG_ALL_BIT) !== 0n) {
          throw new VhostUserError("VHOST_USER_SET_FEATURES: dirty logging is not supported");
        }
        this.#features = f & ~PROTOCOL_FEATURES_BIT;
        this.#protocolAcked = (f & PROTOCOL_FEATURES_BIT) !== 0n;
        this.#featuresSet = true;
        return;
      }
      case R.VHOST_USER_GET_PROTOCOL_FEATURES:
        this.#reply(m.request, u64Payload(this.#offeredProtocol));
        return;
      case R.VHOST_USER_SET_PROTOCOL_FEATURES: {
        const f = decodeU64(m);
        const extra = f & ~this.#offeredProtocol;
        if (extra !== 0n) {
          throw new VhostUserError(
            `VHOST_USER_SET_PROTOCOL_FEATURES: bits 0x${extra.toString(16)} were not offered`,
          );
        }
        this.#protocolFeatures = f;
        return;
      }
      case R.VHOST_USER_SET_OWNER:
        if (this.#owner) this.#log("warn", "VHOST_USER_SET_OWNER sent twice");
        this.#owner = true;
        return;
      case R.VHOST_USER_RESET_OWNER:
        // Deprecated; as the spec recommends, it only disables the rings.
        this.#stopAll();
        return;
      case R.VHOST_USER_RESET_DEVICE:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_RESET_DEVICE);
        this.#stopAll();
        this.#dropMemory();
        this.#features = 0n;
        this.#featuresSet = false;
        this.#protocolAcked = false;
        return;
      case R.VHOST_USER_SET_BACKEND_REQ_FD: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_BACKEND_REQ);
        const fd = this.#takeFd(m, "the back-end request channel");
        if (this.#backendFd >= 0) closeFd(this.#backendFd);
        this.#backendFd = fd;
        return;
      }
      case R.VHOST_USER_GET_INFLIGHT_FD:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
        this.#getInflight(m);
        return;
      case R.VHOST_USER_SET_INFLIGHT_FD:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
        this.#setInflight(m);
        return;
      case R.VHOST_USER_GET_QUEUE_NUM:
        this.#reply(m.request, u64Payload(BigInt(this.#rings.length)));
        return;
      case R.VHOST_USER_SET_MEM_TABLE:
        this.#setMemTable(m);
        return;
      case R.VHOST_USER_SET_VRING_NUM: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        const max = this.#device.queueMaxSizes[s.index];
        if (s.num === 0 || s.num > max) {
          throw new VhostUserError(
            `VHOST_USER_SET_VRING_NUM: size ${s.num} for vring ${s.index} (maximum ${max})`,
          );
        }
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_NUM: vring ${s.index} is running`);
        }
        r.size = s.num;
        return;
      }
      case R.VHOST_USER_SET_VRING_ADDR: {
        const a = decodeVringAddr(m);
        const r = this.#ring(a.index, m.request);
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_ADDR: vring ${a.index} is running`);
        }
        r.addr = a;
        return;
      }
      case R.VHOST_USER_SET_VRING_BASE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_BASE: vring ${s.index} is running`);
        }
        r.base = s.num;
        return;
      }
      case R.VHOST_USER_GET_VRING_BASE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        const busy = r.started ? this.#device.inProgress?.(s.index) ?? 0 : 0;
        if (busy > 0) {
          // Stopped now, requests the device is completing would never be used
          // and the base would skip them: wait for them (messages wait too).
          this.#log("debug", `vring ${s.index}: stopping after ${busy} requests complete`);
          this.#draining = {
            index: s.index,
            request: m.request,
            until: performance.now() + DRAIN_TIMEOUT_MS,
          };
          this.#replied = true; // the reply comes when the ring has drained
          return;
        }
        this.#finishStop(s.index, m.request);
        return;
      }
      case R.VHOST_USER_SET_VRING_KICK: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the kick eventfd");
        if (r.kickFd >= 0) closeFd(r.kickFd);
        r.kickFd = fd;
        if (v.noFd) {
          throw new VhostUserError(
            `VHOST_USER_SET_VRING_KICK: vring ${v.index} without a kick fd (polling mode is not supported)`,
          );
        }
        if (!r.started) this.#startRing(v.index);
        return;
      }
      case R.VHOST_USER_SET_VRING_CALL: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the call eventfd");
        if (r.callFd >= 0) closeFd(r.callFd);
        r.callFd = fd;
        // A running ring whose call fd changes (QEMU swaps it as the guest masks and
        // unmasks MSI-X vectors) may have signalled the old one just before: that
        // interrupt is lost, and a guest that never times out waits forever (Linux's
        // virtio_scsi). One spurious interrupt on the new fd costs nothing, as
        // libvhost-user does.
        if (fd >= 0 && r.started) this.call(v.index);
        return;
      }
      case R.VHOST_USER_SET_VRING_ERR: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the error eventfd");
        if (r.errFd >= 0) closeFd(r.errFd);
        r.errFd = fd;
        return;
      }
      case R.VHOST_USER_SET_VRING_ENABLE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        if (s.num > 1) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_ENABLE: value ${s.num} is not 0 or 1`);
        }
        const was = r.enabled;
        r.enabled = s.num === 1;
        // Work may have arrived while the ring was disabled.
        if (r.enabled && !was && r.started) this.#kick(s.index);
        return;
      }
      case R.VHOST_USER_GET_CONFIG: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_CONFIG);
        const c = decodeConfig(m);
        const out = new Uint8Array(c.size);
        const limit = this.#device.configSize;
        for (let i = 0; i < c.size; i++) {
          const off = c.offset + i;
          if (off < limit) out[i] = this.#device.readConfig(off, 1);
        }
        this.#reply(m.request, configPayload(c.offset, c.flags, out));
        return;
      }
      case R.VHOST_USER_SET_CONFIG: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_CONFIG);
        const c = decodeConfig(m);
        if (c.offset + c.size > this.#device.configSize) {
          throw new VhostUserError(
            `VHOST_USER_SET_CONFIG: bytes ${c.offset}..${
              c.offset + c.size
            } are outside the ${this.#device.configSize}-byte config space`,
          );
        }
        const v = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
        if (c.size === 1 || c.size === 2 || c.size === 4) {
          const value = c.size === 1
            ? v.getUint8(0)
            : c.size === 2
            ? v.getUint16(0, true)
            : v.getUint32(0, true);
          this.#device.writeConfig(c.offset, c.size, value);
        } else {
          for (let i = 0; i < c.size; i++) this.#device.writeConfig(c.offset + i, 1, c.data[i]);
        }
        return;
      }
      case R.VHOST_USER_SET_LOG_BASE:
      case R.VHOST_USER_SET_LOG_FD:
        throw new VhostUserError(`${requestName(m.request)}: dirty logging is not supported`);
      default:
        throw new VhostUserError(
          `${requestName(m.request)} is not supported (or not negotiated) by this back-end`,
        );
    }
  }

  #requireProtocol(m: VhostUserMessage, feature: number): void {
    if ((this.#protocolFeatures & bit(feature)) === 0n) {
      throw new VhostUserError(
        `${requestName(m.request)} sent without negotiating protocol feature ${feature}`,
      );
    }
  }

  #setMemTable(m: VhostUserMessage): void {
    const regions = decodeMemoryTable(m);
    if (m.fds.length !== regions.length) {
      throw new VhostUserError(
        `VHOST_USER_SET_MEM_TABLE: ${regions.length} regions but ${m.fds.length} file descriptors`,
      );
    }
    if (this.#rings.some((r) => r.started)) {
      // Rings point into the old mappings; QEMU stops them before changing the table.
      throw new VhostUserError("VHOST_USER_SET_MEM_TABLE while rings are running is not supported");
    }
    const mapped: MappedRegion[] = [];
    try {
      for (let i = 0; i < regions.length; i++) {
        const d = regions[i];
        let mapping: Mapping;
        try {
          mapping = mapShared(m.fds[i], d.mmapOffset + d.memorySize, 0);
        } catch (e) {
          throw new VhostUserError(
            `VHOST_USER_SET_MEM_TABLE: region ${i} (fd ${m.fds[i]}, 0x${
              d.memorySize.toString(16)
            } bytes at offset 0x${d.mmapOffset.toString(16)}) cannot be mapped: ${errorText(e)}`,
            { cause: e },
          );
        }
        mapped.push({ desc: d, mapping });
      }
    } catch (e) {
      for (const r of mapped) unmap(r.mapping);
      throw e;
    }
    // The mappings keep the memory alive; the descriptors can go (closed by dispatch).
    this.#dropMemory();
    const mem = new MappedGuestMemory();
    for (const r of mapped) {
      mem.addRegion(
        r.desc.guestPhysAddr,
        new Uint8Array(r.mapping.buffer, r.desc.mmapOffset, r.desc.memorySize),
      );
    }
    this.#regions = mapped;
    this.#memory = mem;
    this.#log(
      "debug",
      `memory table: ${
        regions.map((r) => `0x${r.guestPhysAddr.toString(16)}+0x${r.memorySize.toString(16)}`).join(
          ", ",
        )
      }`,
    );
  }

  /** Front-end user address to guest-physical address, through the memory table. */
  #translate(ua: number, len: number, what: string, index: number): number {
    for (const r of this.#regions) {
      const d = r.desc;
      if (ua >= d.userspaceAddr && ua + len <= d.userspaceAddr + d.memorySize) {
        return d.guestPhysAddr + (ua - d.userspaceAddr);
      }
    }
    throw new VhostUserError(
      `vring ${index}: ${what} at user address 0x${
        ua.toString(16)
      } (+${len}) is outside the memory table`,
    );
  }

  #startRing(index: number): void {
    const r = this.#rings[index];
    const mem = this.#memory;
    if (mem === undefined) {
      throw new VhostUserError(`vring ${index} started before VHOST_USER_SET_MEM_TABLE`);
    }
    if (r.addr === undefined || r.size === 0) {
      throw new VhostUserError(
        `vring ${index} started before VHOST_USER_SET_VRING_${r.size === 0 ? "NUM" : "ADDR"}`,
      );
    }
    const opts = queueOptionsFromFeatures(this.#features, index);
    const addrs: QueueAddresses = {
      size: r.size,
      desc: this.#translate(r.addr.desc, 1, "descriptor area", index),
      driver: this.#translate(r.addr.avail, 1, "driver area", index),
      device: this.#translate(r.addr.used, 1, "device area", index),
    };
    let queue: DeviceQueue = createDeviceQueue(mem, addrs, opts);
    restoreBase(queue, r.base, opts.packed);
    queue = this.#trackInflight(queue, index);
    r.queue = queue;
    r.started = true;
    // 'Ring states': without VHOST_USER_F_PROTOCOL_FEATURES a ring starts enabled.
    if (!this.#protocolNegotiated()) r.enabled = true;
    if (this.#ctx === undefined) {
      if (!this.#featuresSet) {
        this.#log("warn", `vring ${index} started before VHOST_USER_SET_FEATURES`);
      }
      const ctx = new SessionContext(this, mem, this.#features, this.#rings.length);
      ctx.queues[index] = queue;
      this.#ctx = ctx;
      this.#log("info", `device activated (features 0x${this.#features.toString(16)})`);
      try {
        const p = this.#device.activate(ctx);
        if (p instanceof Promise) p.catch((e) => ctx.needsReset(e));
      } catch (e) {
        ctx.needsReset(e);
      }
    } else {
      this.#ctx.queues[index] = queue;
    }
    this.#log("debug", `vring ${index} started (size ${r.size}, base ${r.base})`);
    if (r.enabled) this.#kick(index);
  }

  /** 'Ring states': VHOST_USER_F_PROTOCOL_FEATURES acknowledged in SET_FEATURES. */
  #protocolNegotiated(): boolean {
    return this.#protocolAcked;
  }

  /** Stops ring `index` and returns its base (the next available index to resume from). */
  #stopRing(index: number): number {
    const r = this.#rings[index];
    if (!r.started || r.queue === undefined) return r.base;
    const base = currentBase(r.queue);
    if (r.queue.inFlight > 0) {
      this.#log(
        "warn",
        `vring ${index} stopped with ${r.queue.inFlight} requests in flight; the front-end will not see them completed`,
      );
    }
    r.started = false;
    r.enabled = false;
    r.queue = undefined;
    if (r.kickFd >= 0) {
      closeFd(r.kickFd);
      r.kickFd = -1;
    }
    const ctx = this.#ctx;
    if (ctx !== undefined) {
      ctx.queues[index] = undefined;
      if (!this.#rings.some((x) => x.started)) this.#resetDevice();
    }
    this.#log("debug", `vring ${index} stopped at base ${base}`);
    return base;
  }

  #stopAll(): void {
    this.#rings.forEach((r, i) => {
      if (r.started) r.base = this.#stopRing(i);
      r.enabled = false;
    });
    this.#resetDevice();
  }

  #resetDevice(): void {
    const ctx = this.#ctx;
    if (ctx === undefined) return;
    ctx.live = false;
    this.#ctx = undefined;
    this.#failed = false;
    try {
      this.#device.reset();
    } catch (e) {
      this.#log("error", `device reset threw: ${errorText(e)}`);
    }
    this.#log("info", "device reset");
  }

  #kick(index: number): void {
    this.#kicks++;
    const r = this.#rings[index];
    if (!r.started || !r.enabled || this.#failed || this.#ctx === undefined) return;
    try {
      this.#device.queueNotify(index);
    } catch (e) {
      this.#ctx?.needsReset(e);
    }
  }

  /** Raises the used-buffer notification of ring `index`. */
  call(index: number): void {
    const r = this.#rings[index];
    if (r === undefined || r.callFd < 0) return;
    try {
      writeEventfd(r.callFd);
    } catch (e) {
      this.#log("warn", `vring ${index}: call eventfd write failed: ${errorText(e)}`);
    }
  }

  /** The device hit an error it cannot recover from: stop serving until the front-end resets it. */
  deviceFailed(reason: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#log("error", `device needs reset: ${errorText(reason)}`);
    for (const r of this.#rings) {
      if (r.errFd >= 0) {
        try {
          writeEventfd(r.errFd);
        } catch {
          // nothing more to do
        }
      }
    }
  }

  /**
   * The device changed its config space: tells the front-end with
   * CONFIG_CHANGE_MSG on the back-end channel (it fetches the space again
   * with GET_CONFIG and interrupts the driver), when that channel and the
   * CONFIG protocol feature were negotiated.
   */
  configChanged(): void {
    const fd = this.#backendFd;
    if (fd < 0 || (this.#protocolFeatures & bit(VHOST_USER_PROTOCOL_F_CONFIG)) === 0n) {
      this.#log("debug", "config change not forwarded: no back-end channel with CONFIG");
      return;
    }
    const bytes = encodeMessage(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, headerFlags());
    let n = -1;
    try {
      n = sendWithFds(fd, bytes);
    } catch (e) {
      this.#log("warn", `config change not forwarded: ${errorText(e)}`);
      return;
    }
    if (n !== bytes.length) {
      this.#log("warn", "config change not forwarded: the back-end channel is full");
      return;
    }
    this.#log("debug", "-> VHOST_USER_BACKEND_CONFIG_CHANGE_MSG");
  }

  /** GET_INFLIGHT_FD: a new zeroed area for `num_queues` queues of `queue_size`, sent as a memfd. */
  #getInflight(m: VhostUserMessage): void {
    const d = decodeInflight(m);
    if (d.numQueues < 1 || d.numQueues > 1024 || !isQueueSize(d.queueSize)) {
      throw new VhostUserError(
        `VHOST_USER_GET_INFLIGHT_FD: ${d.numQueues} queues of ${d.queueSize} is not a valid request`,
      );
    }
    const size = d.numQueues * inflightQueueBytes(d.queueSize);
    const fd = memfdCreate("typed-virtio-inflight", size);
    try {
      this.#reply(
        m.request,
        inflightPayload({
          mmapSize: size,
          mmapOffset: 0,
          numQueues: d.numQueues,
          queueSize: d.queueSize,
        }),
        [fd],
      );
    } finally {
      closeFd(fd);
    }
    this.#log("debug", `inflight area of ${size} bytes for ${d.numQueues} queue(s)`);
  }

  /** SET_INFLIGHT_FD: maps the area the front-end keeps; rings started from now on are tracked in it. */
  #setInflight(m: VhostUserMessage): void {
    const d = decodeInflight(m);
    const fd = this.#takeFd(m, "the inflight area");
    try {
      const need = d.numQueues * inflightQueueBytes(d.queueSize);
      if (!isQueueSize(d.queueSize) || d.numQueues < 1 || d.mmapSize < need) {
        throw new VhostUserError(
          `VHOST_USER_SET_INFLIGHT_FD: an area of ${d.mmapSize} bytes cannot track ${d.numQueues} queues of ${d.queueSize}`,
        );
      }
      if (d.mmapOffset % 4096 !== 0) {
        throw new VhostUserError(
          `VHOST_USER_SET_INFLIGHT_FD: mmap offset ${d.mmapOffset} is not page aligned`,
        );
      }
      let mapping: Mapping;
      try {
        mapping = mapShared(fd, d.mmapSize, d.mmapOffset);
      } catch (e) {
        throw new VhostUserError(`VHOST_USER_SET_INFLIGHT_FD: ${errorText(e)}`, { cause: e });
      }
      this.#dropInflight();
      this.#inflight = { mapping, desc: d };
    } finally {
      closeFd(fd);
    }
  }

  /**
   * A split ring started while an inflight area is set: resumes it from the
   * area (resubmitting what an earlier back-end left in flight) and tracks it.
   */
  #trackInflight(queue: DeviceQueue, index: number): DeviceQueue {
    const inf = this.#inflight;
    if (inf === undefined || queue.options.packed) return queue;
    if (index >= inf.desc.numQueues || queue.size !== inf.desc.queueSize) {
      this.#log(
        "warn",
        `vring ${index} (size ${queue.size}) is not covered by the inflight area (${inf.desc.numQueues} queues of ${inf.desc.queueSize}); not tracked`,
      );
      return queue;
    }
    const bytes = inflightQueueBytes(inf.desc.queueSize);
    const area = new DataView(inf.mapping.buffer, index * bytes, bytes);
    const r = resumeInflight(queue as SplitDeviceQueue, area);
    if (r === undefined) {
      this.#log("warn", `vring ${index}: the inflight area holds another layout; not tracked`);
      return queue;
    }
    if (r.resubmitted > 0) {
      this.#log("info", `vring ${index}: resubmitting ${r.resubmitted} request(s) left in flight`);
    }
    return r.queue;
  }

  #dropInflight(): void {
    const inf = this.#inflight;
    this.#inflight = undefined;
    if (inf !== undefined) unmap(inf.mapping);
  }

  #dropMemory(): void {
    const regions = this.#regions;
    this.#regions = [];
    this.#memory = undefined;
    for (const r of regions) unmap(r.mapping);
  }

  #teardown(): void {
    try {
      this.#stopAll();
    } catch (e) {
      this.#log("error", `stopping rings: ${errorText(e)}`);
    }
    this.#reader.discard();
    for (const r of this.#rings) {
      for (const fd of [r.kickFd, r.callFd, r.errFd]) if (fd >= 0) closeFd(fd);
      r.kickFd = r.callFd = r.errFd = -1;
    }
    this.#dropMemory();
    this.#dropInflight();
    if (this.#backendFd >= 0) closeFd(this.#backendFd);
    this.#backendFd = -1;
    closeFd(this.#fd);
    void this.#backend;
  }
}

/**
 * Positions a new queue at the base the front-end gave (SET_VRING_BASE).
 * Split: the next available index; the used index is the one in the used
 * ring (after a back-end crash QEMU resumes at that index, so requests that
 * were in flight are served again). Packed: bits 0-14 the next available
 * descriptor, bit 15 its wrap counter, and (from front-ends that save it)
 * bits 16-30 / 31 the used position; without them used = available.
 */
function restoreBase(q: DeviceQueue, base: number, packed: boolean): void {
  if (packed) {
    const hasUsed = (base >>> 16) !== 0;
    q.restore({
      availIdx: base & 0x7fff,
      availWrap: (base >>> 15) & 1,
      usedIdx: hasUsed ? (base >>> 16) & 0x7fff : base & 0x7fff,
      usedWrap: hasUsed ? (base >>> 31) & 1 : (base >>> 15) & 1,
    });
  } else {
    q.restore({ availIdx: base & 0xffff });
  }
}

/** The base to report in GET_VRING_BASE for a running queue (the layout of {@link restoreBase}). */
function currentBase(q: DeviceQueue): number {
  const p = q.position();
  if (!q.options.packed) return p.availIdx;
  return ((p.availIdx & 0x7fff) | (p.availWrap << 15) | ((p.usedIdx & 0x7fff) << 16) |
    (p.usedWrap << 31)) >>> 0;
}

/** A split or packed queue size a front-end may ask for: a power of 2 up to 32768. */
function isQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0;
}
