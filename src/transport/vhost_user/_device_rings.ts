/**
 * The device of one session and its vrings, as the front-end's messages set
 * them up: what was negotiated, the memory table, the inflight area, and
 * each ring's start (a {@link DeviceQueue} over guest memory, the device
 * activated with the first), stop (the device reset with the last), kicks
 * and notifications.
 *
 * @module
 */

import type { DeviceContext, VirtioDevice } from "../../device.ts";
import type { GuestMemory } from "../../memory.ts";
import {
  createDeviceQueue,
  type DeviceQueue,
  type QueueAddresses,
  queueOptionsFromFeatures,
} from "../../virtqueue/mod.ts";
import {
  VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
  VHOST_USER_PROTOCOL_F_CONFIG,
} from "../../generated/vhost_user.ts";
import { InflightArea } from "./_inflight_area.ts";
import { closeFd, sendWithFds, writeEventfd } from "./_libc.ts";
import { MemoryTable } from "./_memory_table.ts";
import { encodeMessage, headerFlags } from "./_protocol.ts";
import { currentBase, freshRing, restoreBase, type Ring } from "./_rings.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import type { Logger, NotifyFaults } from "./backend.ts";

/** An error as one line for the log. */
export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Bit `n` of a feature mask. */
export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/** The {@link DeviceContext} of one activation; inert once the device is reset. */
export class SessionContext implements DeviceContext {
  readonly memory: GuestMemory;
  readonly features: bigint;
  readonly queues: (DeviceQueue | undefined)[];
  live = true;
  readonly #rings: DeviceRings;

  constructor(rings: DeviceRings, memory: GuestMemory, features: bigint, queueCount: number) {
    this.#rings = rings;
    this.memory = memory;
    this.features = features;
    this.queues = Array.from({ length: queueCount }, () => undefined);
  }

  notifyUsed(index: number): void {
    if (this.live) this.#rings.call(index);
  }

  configChanged(): void {
    if (this.live) this.#rings.configChanged();
  }

  needsReset(reason: unknown): void {
    if (this.live) this.#rings.deviceFailed(reason);
  }
}

/** The device and rings of one session. */
export class DeviceRings {
  /** The device served. */
  readonly device: VirtioDevice;
  /** The back-end's log. */
  readonly log: Logger;
  /** One per device queue. */
  readonly rings: Ring[];
  /** SET_FEATURES, without VHOST_USER_F_PROTOCOL_FEATURES. */
  features = 0n;
  /** SET_FEATURES was sent. */
  featuresSet = false;
  /** VHOST_USER_F_PROTOCOL_FEATURES was acknowledged in SET_FEATURES ('Ring states'). */
  protocolAcked = false;
  /** SET_PROTOCOL_FEATURES. */
  protocolFeatures = 0n;
  /** SET_OWNER was sent. */
  owner = false;
  /** The memory table. */
  readonly table: MemoryTable;
  /** The inflight area from SET_INFLIGHT_FD. */
  readonly inflight: InflightArea;
  /** The device's context while it is active. */
  ctx: SessionContext | undefined;
  /** The device asked for a reset: kicks are ignored until it is reset. */
  failed = false;
  /** Kicks handled. */
  kicks = 0;
  /** The back-end request channel from SET_BACKEND_REQ_FD, or -1. */
  backendFd = -1;
  /** Tests only: drops and delays kicks and calls (undefined in production). */
  readonly #faults: NotifyFaults | undefined;

  /**
   * The rings of `device`, none described yet; with `requireSealedMemory`
   * the memory table's and the inflight area's files must be sealed against
   * shrinking.
   */
  constructor(
    device: VirtioDevice,
    log: Logger,
    requireSealedMemory: boolean = false,
    faults?: NotifyFaults,
  ) {
    this.#faults = faults;
    faults?.attach?.((kind, index) => {
      if (index < 0 || index >= this.rings.length) return;
      if (kind === "kick") this.kick(index);
      else this.#raiseCall(index);
    });
    this.device = device;
    this.log = log;
    this.table = new MemoryTable(requireSealedMemory);
    this.inflight = new InflightArea(requireSealedMemory);
    this.rings = device.queueMaxSizes.map(() => freshRing());
  }

  startRing(index: number): void {
    const r = this.rings[index];
    const mem = this.table.memory;
    if (mem === undefined) {
      throw new VhostUserError(`vring ${index} started before VHOST_USER_SET_MEM_TABLE`, {
        code: VhostUserErrorCode.VRING_NOT_READY,
      });
    }
    if (r.addr === undefined || r.size === 0) {
      throw new VhostUserError(
        `vring ${index} started before VHOST_USER_SET_VRING_${r.size === 0 ? "NUM" : "ADDR"}`,
        { code: VhostUserErrorCode.VRING_NOT_READY },
      );
    }
    const opts = queueOptionsFromFeatures(this.features, index);
    const addrs: QueueAddresses = {
      size: r.size,
      desc: this.table.translate(r.addr.desc, 1, "descriptor area", index),
      driver: this.table.translate(r.addr.avail, 1, "driver area", index),
      device: this.table.translate(r.addr.used, 1, "device area", index),
    };
    let queue: DeviceQueue = createDeviceQueue(mem, addrs, opts);
    restoreBase(queue, r.base, opts.packed);
    const tracked = this.inflight.track(queue, index);
    if (tracked.warning !== undefined) this.log("warn", tracked.warning);
    if (tracked.resubmitted > 0) {
      this.log(
        "info",
        `vring ${index}: resubmitting ${tracked.resubmitted} request(s) left in flight`,
      );
    }
    queue = tracked.queue;
    r.queue = queue;
    r.started = true;
    // 'Ring states': without VHOST_USER_F_PROTOCOL_FEATURES a ring starts enabled.
    if (!this.protocolNegotiated()) r.enabled = true;
    if (this.ctx === undefined) {
      if (!this.featuresSet) {
        this.log("warn", `vring ${index} started before VHOST_USER_SET_FEATURES`);
      }
      const ctx = new SessionContext(this, mem, this.features, this.rings.length);
      ctx.queues[index] = queue;
      this.ctx = ctx;
      this.log("info", `device activated (features 0x${this.features.toString(16)})`);
      try {
        const p = this.device.activate(ctx);
        if (p instanceof Promise) p.catch((e) => ctx.needsReset(e));
      } catch (e) {
        ctx.needsReset(e);
      }
    } else {
      this.ctx.queues[index] = queue;
    }
    this.log("debug", `vring ${index} started (size ${r.size}, base ${r.base})`);
    if (r.enabled) this.kick(index);
  }

  /** 'Ring states': VHOST_USER_F_PROTOCOL_FEATURES acknowledged in SET_FEATURES. */
  protocolNegotiated(): boolean {
    return this.protocolAcked;
  }

  /** Stops ring `index` and returns its base (the next available index to resume from). */
  stopRing(index: number): number {
    const r = this.rings[index];
    if (!r.started || r.queue === undefined) return r.base;
    const base = currentBase(r.queue);
    if (r.queue.inFlight > 0) {
      this.log(
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
    const ctx = this.ctx;
    if (ctx !== undefined) {
      ctx.queues[index] = undefined;
      if (!this.rings.some((x) => x.started)) this.resetDevice();
    }
    this.log("debug", `vring ${index} stopped at base ${base}`);
    return base;
  }

  stopAll(): void {
    this.rings.forEach((r, i) => {
      if (r.started) r.base = this.stopRing(i);
      r.enabled = false;
    });
    this.resetDevice();
  }

  resetDevice(): void {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    ctx.live = false;
    this.ctx = undefined;
    this.failed = false;
    try {
      this.device.reset();
    } catch (e) {
      this.log("error", `device reset threw: ${errorText(e)}`);
    }
    this.log("info", "device reset");
  }

  /**
   * A kick read from ring `index`'s kick eventfd: the fault injector of the
   * options, if any, may drop or delay it; then {@link DeviceRings.kick}.
   */
  eventfdKick(index: number): void {
    if (this.#faults !== undefined) {
      const fate = this.#faults.kick(index);
      if (fate === "drop") return;
      if (typeof fate === "number") {
        // Delivered later, to the same activation of the ring only.
        const ctx = this.ctx;
        const fd = this.rings[index].kickFd;
        setTimeout(() => {
          if (this.ctx === ctx && this.rings[index].kickFd === fd) this.kick(index);
        }, fate);
        return;
      }
    }
    this.kick(index);
  }

  /** True when a fault injector was given (tests only): kicks then go through {@link eventfdKick}. */
  get injectsFaults(): boolean {
    return this.#faults !== undefined;
  }

  /** Serves ring `index` (a kick, or work that may have arrived while it was stopped or disabled). */
  kick(index: number): void {
    this.kicks++;
    this.#serveKick(index);
  }

  #serveKick(index: number): void {
    const r = this.rings[index];
    if (!r.started || !r.enabled || this.failed || this.ctx === undefined) return;
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.ctx?.needsReset(e);
    }
  }

  /** Raises the used-buffer notification of ring `index`. */
  call(index: number): void {
    if (this.#faults !== undefined) {
      const fate = this.#faults.call(index);
      if (fate === "drop") return;
      if (typeof fate === "number") {
        const fd = this.rings[index]?.callFd;
        setTimeout(() => {
          if (fd !== undefined && this.rings[index].callFd === fd) this.#raiseCall(index);
        }, fate);
        return;
      }
    }
    this.#raiseCall(index);
  }

  #raiseCall(index: number): void {
    const r = this.rings[index];
    if (r === undefined || r.callFd < 0) return;
    try {
      writeEventfd(r.callFd);
    } catch (e) {
      this.log("warn", `vring ${index}: call eventfd write failed: ${errorText(e)}`);
    }
  }

  /** The device hit an error it cannot recover from: stop serving until the front-end resets it. */
  deviceFailed(reason: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.log("error", `device needs reset: ${errorText(reason)}`);
    for (const r of this.rings) {
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
    const fd = this.backendFd;
    if (fd < 0 || (this.protocolFeatures & bit(VHOST_USER_PROTOCOL_F_CONFIG)) === 0n) {
      this.log("debug", "config change not forwarded: no back-end channel with CONFIG");
      return;
    }
    const bytes = encodeMessage(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, headerFlags());
    let n = -1;
    try {
      n = sendWithFds(fd, bytes);
    } catch (e) {
      this.log("warn", `config change not forwarded: ${errorText(e)}`);
      return;
    }
    if (n !== bytes.length) {
      this.log("warn", "config change not forwarded: the back-end channel is full");
      return;
    }
    this.log("debug", "-> VHOST_USER_BACKEND_CONFIG_CHANGE_MSG");
  }

  /** True while the device holds a chain of a running ring (it completes it from the event loop). */
  holdsChains(): boolean {
    for (const r of this.rings) if (r.queue !== undefined && r.queue.inFlight > 0) return true;
    return false;
  }

  /** Stops every ring, resets the device and closes every descriptor and mapping it holds. */
  release(): void {
    try {
      this.stopAll();
    } catch (e) {
      this.log("error", `stopping rings: ${errorText(e)}`);
    }
    for (const r of this.rings) {
      for (const fd of [r.kickFd, r.callFd, r.errFd]) if (fd >= 0) closeFd(fd);
      r.kickFd = r.callFd = r.errFd = -1;
    }
    this.table.drop();
    this.inflight.drop();
    if (this.backendFd >= 0) closeFd(this.backendFd);
    this.backendFd = -1;
  }
}
