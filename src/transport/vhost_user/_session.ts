/**
 * One front-end connection of a `VhostUserBackend`: the event loop
 * (messages, kicks, the drain of a stopping ring), the dispatch of each
 * request onto the device's rings, memory table and inflight area, and the
 * `DeviceContext` the device model sees while it is active.
 *
 * Every error a message causes ends the session (see `backend.ts`); the
 * descriptors that came with it, and every one the session holds, are
 * closed.
 *
 * @module
 */

import type { VirtioDevice } from "../../device.ts";
import { VirtioError } from "../../errors.ts";
import { VHOST_USER_PROTOCOL_F_REPLY_ACK } from "../../generated/vhost_user.ts";
import {
  closeFd,
  pollAsync,
  pollBrief,
  type PollEntry,
  POLLERR,
  POLLHUP,
  POLLIN,
  readEventfd,
  recvWithFds,
  sendWithFds,
} from "./_libc.ts";
import {
  encodeMessage,
  MessageReader,
  needsReply,
  REPLY_FLAGS,
  requestName,
  u64Payload,
  type VhostUserMessage,
  vringStatePayload,
} from "./_protocol.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import { bit, DeviceRings, errorText } from "./_device_rings.ts";
import { Requests } from "./_requests.ts";
import { resumeRings, suspendRings, waiting } from "./_rings.ts";
import { PREEMPTED_MS, RingPollBackoff } from "./_ring_poll_backoff.ts";
import type { Logger, NotifyFaults, SessionEnd, SessionSummary } from "./backend.ts";

/** How a session waits: see `VhostUserBackendOptions`. */
export interface SessionTiming {
  /** Microseconds of blocking wait for the next kick in a stream (0: none). */
  readonly briefUs: number;
  /** Microseconds of looking at the rings' available index before that wait (0: none). */
  readonly ringUs: number;
  /** Wake-ups served in a row by that wait before the event loop gets a turn. */
  readonly maxBriefWakeups: number;
  /** Milliseconds a message may stay incomplete. */
  readonly messageTimeoutMs: number;
}

/**
 * The brief wait follows a kick only when it came within this many times
 * `pollBeforeSleepUs` (or `pollRingUs`, the longer) of the previous kick: sparse kicks (a guest starting
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

/** One front-end connection. */
export class Session {
  readonly #fd: number;
  readonly #reader: MessageReader;
  readonly #dev: DeviceRings;
  readonly #requests: Requests;
  #messages = 0;
  /** Passes started by {@link Session.#pollRings} finding work. */
  #ringPolls = 0;
  /** Looks given up because the thread had been preempted. */
  #ringPollsPreempted = 0;
  /** Passes started by a kick eventfd found readable. */
  #kickWakeups = 0;
  /** Whether {@link Session.#pollRings} holds kicks off on the running rings (until {@link Session.#resumeRings}). */
  #suspended = false;
  /** Whether a look at the rings pays now (see {@link RingPollBackoff}). */
  readonly #backoff = new RingPollBackoff();
  /** Serves a ring found waiting on resume (made once: no closure per resume). */
  readonly #serveResumed = (index: number): void => this.#serveKick(index, false);
  #replied = false;
  /** A GET_VRING_BASE waiting for its ring's chains to complete (see {@link DRAIN_TIMEOUT_MS}). */
  #draining: { index: number; request: number; until: number } | undefined;

  constructor(
    device: VirtioDevice,
    fd: number,
    log: Logger,
    offeredProtocol: bigint,
    requireSealedMemory: boolean = false,
    notifyFaults?: NotifyFaults,
  ) {
    this.#fd = fd;
    this.#reader = new MessageReader((b) => recvWithFds(fd, b), closeFd);
    this.#dev = new DeviceRings(device, log, requireSealedMemory, notifyFaults);
    this.#requests = new Requests(this.#dev, {
      fd,
      offeredProtocol,
      reply: (request, payload, fds) => this.#reply(request, payload, fds),
      finishStop: (index, request) => this.#finishStop(index, request),
      drain: (index, request) => {
        this.#draining = { index, request, until: performance.now() + DRAIN_TIMEOUT_MS };
        this.#replied = true;
      },
    });
  }

  async run(
    wakeFd: number,
    closed: () => boolean,
    timing: SessionTiming,
  ): Promise<SessionSummary> {
    const { briefUs, ringUs, maxBriefWakeups, messageTimeoutMs } = timing;
    // Kicks closer than this (ms) make a stream.
    const streamMs = (BRIEF_STREAM_FACTOR * Math.max(briefUs, ringUs)) / 1000;
    let end: SessionEnd = "closed";
    let error: string | undefined;
    let code: string | undefined;
    // Wake-ups in a row seen by the brief blocking wait (see pollBeforeSleepUs).
    let brief = 0;
    // Whether the last wake-up served a kick that came soon after the one
    // before (kicks in a stream); the brief wait is only worth it then.
    let streaming = false;
    let lastKickMs = -Infinity;
    // When the message read in part began to be owed (see messageTimeoutMs).
    let partialSince = -1;
    // The poll set: wakeFd, the socket, then the kick eventfd of each ring in kickRings.
    const entries: PollEntry[] = [];
    const kickRings: number[] = [];
    try {
      for (;;) {
        if (closed()) break;
        const draining = this.#draining !== undefined;
        // The poll set is rebuilt only when the rings' kick eventfds change:
        // a wake-up that serves a kick allocates nothing here.
        if (!this.#pollSetCurrent(entries, kickRings)) {
          this.#buildPollSet(entries, kickRings, wakeFd);
        }
        // While a ring drains, messages wait (only a hang-up is seen).
        entries[1].events = draining ? 0 : POLLIN;
        for (let k = 0; k < entries.length; k++) entries[k].revents = 0;
        // Latency: a guest at queue depth 1 kicks again soon after its
        // completion; a blocking ppoll here sees that kick one thread
        // wake-up sooner than the worker-thread poll does.
        let n = 0;
        if (streaming && brief < maxBriefWakeups && !this.#dev.holdsChains()) {
          // Closer still: the request itself, as soon as the driver publishes
          // it (before its kick has woken anything).
          const found = ringUs > 0 && !draining && this.#backoff.mayLook()
            ? this.#pollRings(ringUs)
            : -1;
          if (found >= 0) {
            brief++;
            this.#ringPolls++;
            this.#serveKick(found, false);
            lastKickMs = performance.now();
            continue;
          }
          // Nothing came: kicks are asked for again before any wait.
          if (this.#suspended && this.#resumeRings() > 0) {
            brief++;
            this.#ringPolls++;
            lastKickMs = performance.now();
            continue;
          }
          if (briefUs > 0) n = pollBrief(entries, briefUs);
        }
        if (n > 0) {
          brief++;
        } else if (this.#suspended && this.#resumeRings() > 0) {
          // Never asleep with kicks held off: chains published while they
          // were off have been served instead.
          lastKickMs = performance.now();
          continue;
        } else {
          brief = 0;
          let timeout = draining ? DRAIN_POLL_MS : -1;
          if (partialSince >= 0) {
            const left = Math.max(
              1,
              Math.ceil(partialSince + messageTimeoutMs - performance.now()),
            );
            timeout = timeout < 0 ? left : Math.min(timeout, left);
          }
          n = await pollAsync(entries, timeout);
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
          const r = this.#dev.rings[i];
          // The fd may have been replaced while handling messages above.
          if (r.kickFd !== e.fd) continue;
          // A draining ring takes no new chains: it stops when the held ones are done.
          if (this.#draining?.index === i) {
            readEventfd(r.kickFd);
            continue;
          }
          this.#kickWakeups++;
          this.#serveKick(i, true);
          const now = performance.now();
          streaming = now - lastKickMs < streamMs;
          lastKickMs = now;
        }
        if (!this.#checkDrain()) {
          end = "eof";
          break;
        }
        if (!this.#reader.pending) {
          partialSince = -1;
        } else if (partialSince < 0) {
          partialSince = performance.now();
        } else if (performance.now() - partialSince >= messageTimeoutMs) {
          // A hang-up can hide behind it: descriptors held with a partial
          // message may include the front-end's own end of the connection.
          throw new VhostUserError(
            `a message stayed incomplete for ${messageTimeoutMs} ms (the front-end sent part of it and no more)`,
            { code: VhostUserErrorCode.INCOMPLETE_MESSAGE },
          );
        }
      }
    } catch (e) {
      end = "error";
      error = errorText(e);
      code = e instanceof VirtioError ? e.code : undefined;
      this.#dev.log("error", error);
    } finally {
      this.#teardown();
    }
    return {
      end,
      error,
      code,
      messages: this.#messages,
      kicks: this.#dev.kicks,
      kickWakeups: this.#kickWakeups,
      ringPolls: this.#ringPolls,
      ringPollsGivenUp: this.#backoff.givenUp,
      ringPollsPreempted: this.#ringPollsPreempted,
      ringPollsSkipped: this.#backoff.skipped,
    };
  }

  /**
   * Serves ring `index`, then reads its kick eventfd: the used-buffer
   * notification goes out one system call sooner than with the read first.
   * A chain the driver published after the serving pass looked and before
   * that read (its kick consumed by the read) is served then. `kicked`: the
   * eventfd was seen readable (else the ring was found with work by
   * {@link Session.#pollRings}, and the kick may not have come yet). With a
   * fault injector (tests) the read comes first and the injector decides.
   */
  #serveKick(index: number, kicked: boolean): void {
    const dev = this.#dev;
    const r = dev.rings[index];
    if (kicked && dev.injectsFaults) {
      readEventfd(r.kickFd);
      dev.eventfdKick(index);
      return;
    }
    dev.kick(index);
    // Serving runs no message: the eventfd is still the ring's.
    if (r.kickFd < 0) return;
    const q = r.queue;
    // Kicks held off: nothing to read now (a kick sent anyway wakes a later wait for nothing).
    if (!kicked && q !== undefined && q.notificationsSuspended) return;
    readEventfd(r.kickFd);
    if (q !== undefined && q.hasAvailable()) dev.kick(index);
  }

  /**
   * Looks at the available index of every running, enabled ring with a kick
   * eventfd for up to `us` microseconds; returns the first ring with a
   * chain available, or -1. Nothing while the device waits for a reset
   * (its kicks are ignored: the chains would stay available).
   */
  #pollRings(us: number): number {
    const dev = this.#dev;
    if (dev.failed || dev.ctx === undefined) return -1;
    const rings = dev.rings;
    let last = performance.now();
    const until = last + us / 1000;
    if (!this.#suspended) {
      suspendRings(rings);
      this.#suspended = true;
    }
    for (let spins = 0;; spins++) {
      for (let i = 0; i < rings.length; i++) {
        if (waiting(rings[i])) {
          this.#backoff.found();
          return i;
        }
      }
      // The clock every 32 rounds: a look at a ring costs far less than a clock read.
      if ((spins & 31) === 31) {
        const now = performance.now();
        const preempted = now - last > PREEMPTED_MS;
        if (now >= until || preempted) {
          if (preempted) this.#ringPollsPreempted++;
          this.#backoff.gaveUp();
          return -1;
        }
        last = now;
      }
    }
  }

  /**
   * Ends the hold-off of {@link Session.#pollRings} ({@link resumeRings}):
   * serves every ring with chains published while kicks were off. Returns
   * how many rings were served.
   */
  #resumeRings(): number {
    this.#suspended = false;
    const dev = this.#dev;
    return resumeRings(dev.rings, !dev.failed && dev.ctx !== undefined, this.#serveResumed);
  }

  /** True when `entries` (after wakeFd and the socket) still holds the kick eventfd of every started ring. */
  #pollSetCurrent(entries: readonly PollEntry[], kickRings: readonly number[]): boolean {
    if (entries.length === 0) return false;
    const rings = this.#dev.rings;
    let k = 0;
    for (let i = 0; i < rings.length; i++) {
      const r = rings[i];
      if (!r.started || r.kickFd < 0) continue;
      if (kickRings[k] !== i || entries[k + 2].fd !== r.kickFd) return false;
      k++;
    }
    return k === kickRings.length;
  }

  #buildPollSet(entries: PollEntry[], kickRings: number[], wakeFd: number): void {
    entries.length = 0;
    kickRings.length = 0;
    entries.push({ fd: wakeFd, events: POLLIN, revents: 0 });
    entries.push({ fd: this.#fd, events: POLLIN, revents: 0 });
    this.#dev.rings.forEach((r, i) => {
      if (r.started && r.kickFd >= 0) {
        entries.push({ fd: r.kickFd, events: POLLIN, revents: 0 });
        kickRings.push(i);
      }
    });
  }

  /** Stops ring `index` and answers GET_VRING_BASE with where it stopped. */
  #finishStop(index: number, request: number): void {
    const r = this.#dev.rings[index];
    const base = this.#dev.stopRing(index);
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
    const busy = this.#dev.device.inProgress?.(d.index) ?? 0;
    if (busy > 0 && performance.now() < d.until) return true;
    this.#draining = undefined;
    this.#finishStop(d.index, d.request);
    return this.#readMessages();
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
      this.#dev.log(
        "debug",
        `<- ${requestName(m.request)} (${m.payload.length} bytes, ${fds.length} fds)`,
      );
      this.#requests.handle(m);
    } catch (e) {
      // The message's descriptors first: the nack below may fail too (a front-end that left).
      for (const fd of fds) closeFd(fd);
      fds.length = 0;
      // Tell a front-end waiting for an ack, then give up on the connection.
      if (this.#ackWanted(m) && !this.#replied) {
        try {
          this.#reply(m.request, u64Payload(1n));
        } catch {
          // it is gone: the error below ends the session anyway
        }
      }
      // Our own errors keep their code; anything else came from the device model.
      throw e instanceof VirtioError ? e : new VhostUserError(
        `${requestName(m.request)}: ${errorText(e)}`,
        { cause: e, code: VhostUserErrorCode.DEVICE_FAILED },
      );
    }
    for (const fd of fds) closeFd(fd);
    if (this.#ackWanted(m) && !this.#replied) this.#reply(m.request, u64Payload(0n));
  }

  #ackWanted(m: VhostUserMessage): boolean {
    return needsReply(m.flags) &&
      (this.#dev.protocolFeatures & bit(VHOST_USER_PROTOCOL_F_REPLY_ACK)) !== 0n;
  }

  #reply(request: number, payload: Uint8Array, fds: readonly number[] = []): void {
    const bytes = encodeMessage(request, REPLY_FLAGS, payload);
    const n = sendWithFds(this.#fd, bytes, fds);
    if (n !== bytes.length) {
      throw new VhostUserError(`${requestName(request)}: reply could not be sent (socket full)`, {
        code: VhostUserErrorCode.NO_REPLY,
      });
    }
    this.#replied = true;
  }

  #teardown(): void {
    try {
      this.#dev.stopAll();
    } catch (e) {
      this.#dev.log("error", `stopping rings: ${errorText(e)}`);
    }
    this.#reader.discard();
    this.#dev.release();
    closeFd(this.#fd);
  }
}
