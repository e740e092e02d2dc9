/**
 * A vhost-user back-end: serves any {@link VirtioDevice} to a vhost-user
 * front-end (QEMU's `vhost-user-blk-pci`, `-netdev vhost-user`,
 * `vhost-user-input-pci`...) over a Unix socket, unchanged.
 *
 * **Deno only** (FFI to libc, see `_libc.ts`): run with `--allow-ffi
 * --allow-read --allow-write`.
 *
 * What it does with the protocol (QEMU's `docs/interop/vhost-user.rst`):
 * - offers the device's features plus `VHOST_USER_F_PROTOCOL_FEATURES`, and
 *   the protocol features MQ, REPLY_ACK, CONFIG and RESET_DEVICE;
 * - maps every region of SET_MEM_TABLE (shared, read-write) and builds a
 *   `GuestMemory` over the mappings by guest-physical address; ring
 *   addresses, which come as front-end user addresses, are translated through
 *   the same table;
 * - starts a ring on SET_VRING_KICK (a `DeviceQueue` from
 *   `createDeviceQueue`), serves it once enabled, and stops it on
 *   GET_VRING_BASE, replying with the next available index. The device is
 *   activated when the first ring starts and reset when the last one stops;
 * - turns kicks (eventfd readable) into {@link VirtioDevice.queueNotify} and
 *   `DeviceContext.notifyUsed` into a write on the call eventfd;
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

import type { VirtioDevice } from "../../device.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import { Session } from "./_session.ts";
import { errorText } from "./_device_rings.ts";
import {
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
} from "../../generated/vhost_user.ts";
import {
  accept,
  bindListen,
  closeFd,
  eventfd,
  pollAsync,
  type PollEntry,
  POLLIN,
  readEventfd,
  setNonblocking,
  socketUnix,
  writeEventfd,
} from "./_libc.ts";

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
  /**
   * Before that blocking wait, look at the rings themselves for this many
   * microseconds (default 0: never): a busy loop on the JavaScript thread
   * over each running ring's available index, which sees a request as soon
   * as the driver publishes it, without waiting for its kick to wake the
   * thread. It burns CPU for up to this long after each request of a
   * stream, so it suits a process that does nothing else on a machine with
   * a core to spare. Same conditions as {@link pollBeforeSleepUs} (a stream,
   * no chain held, the event loop's turn at least every
   * {@link MAX_BRIEF_WAKEUPS} wake-ups, which these count towards), and not
   * while the device waits for a reset. While it looks, the driver is asked
   * not to kick at all (`DeviceQueue.suspendNotifications`: the used ring's
   * NO_NOTIFY flag, the packed ring's disable flag, or with EVENT_IDX an
   * `avail_event` one entry behind), which saves the driver its
   * notification and this thread the eventfd read; before any blocking
   * wait, kicks are asked for again on every ring and each ring with a
   * request published meanwhile is served first. A look that ends empty,
   * or that finds its thread was preempted (the clock jumped by more than
   * half a millisecond between two of its checks), makes the next waits
   * sleep without looking: 1, 2, 4 ... up to 32 in a row, halved by each
   * look that finds a request ({@link SessionSummary.ringPollsGivenUp}).
   * 0 up to {@link MAX_POLL_RING_US}.
   */
  readonly pollRingUs?: number;
  /**
   * How long a message may stay incomplete, in milliseconds (default
   * {@link DEFAULT_MESSAGE_TIMEOUT_MS}). A front-end writes each message
   * whole; one that sends part of a message and no more ends its session
   * then, with `ERR_VIRTIO_TRANSPORT_VHOST_USER_INCOMPLETE_MESSAGE`, and the
   * descriptors that came with the part are closed. Without it, a front-end
   * that passed its own end of the connection with a partial message, then
   * closed it, would never be seen to hang up (the back-end would hold that
   * end open) and no other front-end would be served again.
   */
  readonly messageTimeoutMs?: number;
  /**
   * Refuse memory (SET_MEM_TABLE regions, SET_INFLIGHT_FD areas) whose file
   * is not sealed against shrinking (`F_SEAL_SHRINK`), with
   * `ERR_VIRTIO_TRANSPORT_VHOST_USER_FD_NOT_SEALED` (default false). Each
   * file's size is checked when it is handed over; a front-end that shrinks
   * an unsealed file afterwards can still make an access fault (SIGBUS).
   * QEMU's `memory-backend-memfd` seals its memfds by default (`seal=on`);
   * files on hugetlbfs or tmpfs (`memory-backend-file`) cannot be sealed.
   */
  readonly requireSealedMemory?: boolean;
  /**
   * For fault-injection tests only: consulted for every kick the back-end
   * reads and every call it raises, it may deliver, drop or delay each one
   * (see {@link NotifyFaults}). Undefined (the default) leaves the
   * notification path as it is, at the cost of one check per notification.
   */
  readonly notifyFaults?: NotifyFaults;
}

/**
 * What {@link NotifyFaults} does with one notification: `"deliver"` it now,
 * `"drop"` it (a kick is not served, a call is not raised), or a number: a
 * delay in milliseconds, after which it is delivered (if the ring still has
 * the same eventfd). A dropped notification is lost: the next one of its
 * ring covers it (an eventfd counts), or the injector's own
 * {@link NotifyFaults.attach} callback delivers it late, as a watchdog would.
 * With `VIRTIO_F_EVENT_IDX` a lost kick may be the driver's last, so an
 * injector that drops should redeliver.
 */
export type NotifyFault = "deliver" | "drop" | number;

/** A fault injector for kicks and calls (tests only: {@link VhostUserBackendOptions.notifyFaults}). */
export interface NotifyFaults {
  /** Decides the fate of a kick of ring `index`, read from its kick eventfd. */
  kick(index: number): NotifyFault;
  /** Decides the fate of a call (used-buffer notification) of ring `index`. */
  call(index: number): NotifyFault;
  /**
   * Called when a session starts with the means to deliver a kick (serve the
   * ring) or raise a call of that session at any time, bypassing the injector.
   */
  attach?(deliver: (kind: "kick" | "call", index: number) => void): void;
}

/** {@link VhostUserBackendOptions.pollBeforeSleepUs} unless the options say otherwise. */
export const DEFAULT_POLL_BEFORE_SLEEP_US: number = 300;

/** The longest {@link VhostUserBackendOptions.pollRingUs}. */
export const MAX_POLL_RING_US: number = 10_000;

/** {@link VhostUserBackendOptions.messageTimeoutMs} unless the options say otherwise. */
export const DEFAULT_MESSAGE_TIMEOUT_MS: number = 2_000;

/** Wake-ups served in a row by the brief blocking wait before the event loop gets a turn. */
export const MAX_BRIEF_WAKEUPS: number = 64;

/** The protocol features offered unless the options say otherwise. */
export const DEFAULT_PROTOCOL_FEATURES: bigint = (1n << BigInt(VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_REPLY_ACK)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_RESET_DEVICE)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_BACKEND_REQ)) |
  (1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD));

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

/** Reasons a session ended, for {@link SessionSummary}. */
export type SessionEnd = "eof" | "error" | "closed";

/** What happened in one session (one front-end connection). */
export interface SessionSummary {
  /** How it ended. */
  readonly end: SessionEnd;
  /** The error that ended it, for `error`. */
  readonly error?: string;
  /**
   * The stable code of that error, for `error` (see {@link VhostUserErrorCode};
   * `ERR_VIRTIO_TRANSPORT_LIBC_*` for a failed system call).
   */
  readonly code?: string;
  /** Messages handled. */
  readonly messages: number;
  /** Serving passes over a ring (started by a kick or otherwise). */
  readonly kicks: number;
  /** Of those, the ones started by a kick eventfd found readable. */
  readonly kickWakeups: number;
  /**
   * Serving passes started because {@link VhostUserBackendOptions.pollRingUs}
   * found work on a ring, not a kick (the driver is asked not to kick while
   * the rings are watched).
   */
  readonly ringPolls: number;
  /**
   * Looks at the rings given up: the window ended with no request, or the
   * thread found it had been preempted. Each makes the next waits sleep on
   * the kick without looking (1, 2, 4 ... 32 of them, halved again by each
   * look that finds a request).
   */
  readonly ringPollsGivenUp: number;
  /**
   * Of {@link SessionSummary.ringPollsGivenUp}, the looks given up because
   * the thread found it had been preempted (the clock jumped by more than
   * half a millisecond between two glances): on a host with no core to
   * spare, a spinning thread waits for the CPU while a request waits for it.
   */
  readonly ringPollsPreempted: number;
  /** Waits that slept without looking at the rings because of those. */
  readonly ringPollsSkipped: number;
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
  /** Microseconds of looking at the rings before that wait (0: none). */
  readonly pollRingUs: number;
  /** Milliseconds a message may stay incomplete before its session ends. */
  readonly messageTimeoutMs: number;
  /** Memory files must be sealed against shrinking. */
  readonly requireSealedMemory: boolean;
  /** The notification fault injector of the options, if any (tests only). */
  readonly notifyFaults: NotifyFaults | undefined;
  /** One summary per finished session, oldest first. */
  readonly sessions: SessionSummary[] = [];
  readonly #log: Logger;
  #listenFd = -1;
  #wakeFd = -1;
  #closed = false;
  /** True while {@link VhostUserBackend.serve} runs (it then tears down on close). */
  #serving = false;
  #session: Session | undefined;
  #sessionWaiters: (() => void)[] = [];

  /** A back-end for `device` on `options.socketPath` (nothing happens until {@link VhostUserBackend.listen}). */
  constructor(device: VirtioDevice, options: VhostUserBackendOptions) {
    this.device = device;
    this.socketPath = options.socketPath;
    this.offeredProtocolFeatures = options.protocolFeatures ?? DEFAULT_PROTOCOL_FEATURES;
    const us = options.pollBeforeSleepUs ?? DEFAULT_POLL_BEFORE_SLEEP_US;
    if (!Number.isFinite(us) || us < 0 || us >= 1_000_000) {
      throw new VhostUserError(`pollBeforeSleepUs is ${us}; give 0 up to 999999 microseconds`, {
        code: VhostUserErrorCode.BAD_OPTION,
      });
    }
    this.pollBeforeSleepUs = us;
    const ring = options.pollRingUs ?? 0;
    if (!Number.isFinite(ring) || ring < 0 || ring > MAX_POLL_RING_US) {
      throw new VhostUserError(
        `pollRingUs is ${ring}; give 0 up to ${MAX_POLL_RING_US} microseconds`,
        { code: VhostUserErrorCode.BAD_OPTION },
      );
    }
    this.pollRingUs = ring;
    const ms = options.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS;
    if (!Number.isFinite(ms) || ms < 1 || ms > 3_600_000) {
      throw new VhostUserError(`messageTimeoutMs is ${ms}; give 1 up to 3600000 milliseconds`, {
        code: VhostUserErrorCode.BAD_OPTION,
      });
    }
    this.messageTimeoutMs = ms;
    this.requireSealedMemory = options.requireSealedMemory ?? false;
    this.notifyFaults = options.notifyFaults;
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
    this.#serving = true;
    try {
      await this.#acceptLoop();
    } finally {
      this.#serving = false;
    }
    this.#teardown();
  }

  async #acceptLoop(): Promise<void> {
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
  }

  /**
   * Serves one already-connected socket `fd` (made non-blocking here) until
   * the front-end goes away or {@link VhostUserBackend.close}; the back-end
   * owns and closes `fd`. Resolves with the session's summary.
   */
  async serveConnection(fd: number): Promise<SessionSummary> {
    if (this.#wakeFd < 0) this.#wakeFd = eventfd();
    setNonblocking(fd);
    const s = new Session(
      this.device,
      fd,
      this.#log,
      this.offeredProtocolFeatures,
      this.requireSealedMemory,
      this.notifyFaults,
    );
    this.#session = s;
    this.#log("info", "front-end connected");
    let summary: SessionSummary;
    try {
      summary = await s.run(this.#wakeFd, () => this.#closed, {
        briefUs: this.pollBeforeSleepUs,
        ringUs: this.pollRingUs,
        maxBriefWakeups: MAX_BRIEF_WAKEUPS,
        messageTimeoutMs: this.messageTimeoutMs,
      });
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
    // Closed while serving a connection handed in without serve(): nobody else will tear down.
    if (this.#closed && !this.#serving) this.#teardown();
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
    // Without serve() and with no session running, nothing would close the wake-up eventfd
    // (made by serveConnection) or the socket (made by listen): do it now.
    if (!this.#serving && this.#session === undefined) this.#teardown();
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
