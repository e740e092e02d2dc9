/**
 * The device-side state every register transport shares
 * ({@link TransportDeviceState}): the status handshake rules of 2.1 and
 * 3.1.1, feature windows, per-queue registers, activation on DRIVER_OK,
 * interrupts and reset. The MMIO register file and the PCI function only map
 * their registers onto it; both expose it as their `core`.
 *
 * @module
 */

import type { DeviceContext, VirtioDevice } from "../device.ts";
import type { GuestMemory } from "../memory.ts";
import { createDeviceQueue, type DeviceQueue } from "../virtqueue/queue.ts";
import { type QueueAddresses, queueOptionsFromFeatures } from "../virtqueue/layout.ts";
import { DeviceStatus } from "../generated/common.ts";
import { legacyRingLayout } from "./_address.ts";
import { describeQueue, deviceLabel, flagNames, hex } from "./_state_dump.ts";
import { VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_VENDOR_ID } from "../generated/pci.ts";
import {
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../generated/common.ts";

/** Where refused guest accesses and device errors are reported. */
export type TransportLog = (message: string) => void;

/** The default log: one line on stderr per refused access. */
export const defaultLog: TransportLog = (message: string): void => {
  console.warn(`virtio: ${message}`);
};

/** Default subsystem vendor id (Red Hat, Inc., the virtio vendor). */
export const VIRTIO_VENDOR_ID: number = VIRTIO_PCI_VENDOR_ID;

/** Registers of one queue as the driver set them up. */
export interface QueueRegs {
  /** Maximum size the device supports. */
  readonly max: number;
  /** Size the driver chose (defaults to max). */
  size: number;
  /** Ready / enabled. */
  ready: boolean;
  /** Descriptor Area address. */
  desc: number;
  /** Driver Area address. */
  driver: number;
  /** Device Area address. */
  device: number;
  /** MSI-X vector (PCI), VIRTIO_MSI_NO_VECTOR when none. */
  vector: number;
  /** Legacy page frame number (MMIO v1, PCI legacy); 0 when unset. */
  pfn: number;
  /**
   * The driver's last queue size write was refused: the queue cannot be
   * enabled until a size is accepted, so that a driver that cannot read the
   * size back (MMIO QueueNum is write-only) sees the refusal when it reads
   * QueueReady (or QueuePFN) back, instead of running a ring of a size the
   * device does not use.
   */
  sizeRefused: boolean;
}

const isPow2 = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;

/**
 * A queue the transport itself serves, after the device model's queues (an
 * administration virtqueue, spec 2.13): the device model never sees it.
 */
export interface TransportQueue {
  /** Maximum size of the queue. */
  readonly max: number;
  /** The feature bit that makes the queue exist (VIRTIO_F_ADMIN_VQ). */
  readonly feature: number;
  /** Serve the available chains of queue `index` of `ctx` (a notification). */
  serve(ctx: DeviceContext, index: number): void;
  /** A device reset. */
  reset(): void;
}

/** How the transport delivers the two kinds of notification. */
export interface InterruptSink {
  /** A used-buffer notification for queue `index`. */
  used(index: number): void;
  /** A configuration change notification. */
  config(): void;
  /**
   * Optional: the transport's interrupt state in one line (MMIO
   * InterruptStatus; PCI ISR, INTx and MSI-X), for
   * {@link TransportDeviceState.describe}. Reads only: it acknowledges
   * nothing.
   */
  describe?(): string;
}

/**
 * The transport-independent state of one hosted device: what a driver set
 * through the registers of any transport (status, feature windows, queue
 * registers) and the device model's activation. Every method that takes a
 * guest value validates it, logs and ignores what breaks a rule, and never
 * throws.
 */
export class TransportDeviceState {
  /** The hosted device model. */
  readonly device: VirtioDevice;
  /** Guest memory the queues live in. */
  readonly memory: GuestMemory;
  /** Where refused accesses and device errors go. */
  readonly log: TransportLog;
  /** The transport's name, prefixed to log lines. */
  readonly where: string;
  /** How notifications reach the driver (the transport's interrupt logic). */
  sink: InterruptSink;
  /** Driven through a legacy interface: no FEATURES_OK, rings by page frame. */
  legacy = false;
  /** Device status (spec 2.1). */
  status = 0;
  /** Selected window of device features. */
  deviceFeaturesSel = 0;
  /** Selected window of driver features. */
  driverFeaturesSel = 0;
  /** Features the driver wrote. */
  driverFeatures = 0n;
  /** Selected queue. */
  queueSel = 0;
  /**
   * Per-queue registers: one entry per queue of the device model, then one
   * per {@link TransportQueue} (from index {@link deviceQueueCount}).
   */
  queues: QueueRegs[];
  /** How many queues the device model has (`num_queues`). */
  readonly deviceQueueCount: number;
  /** The queues the transport serves itself, after the device model's. */
  readonly transportQueues: readonly TransportQueue[];
  /** Feature bits the transport adds to the device model's (VIRTIO_F_ADMIN_VQ). */
  readonly transportFeatures: bigint;
  /** MSI-X vector for configuration changes (PCI). */
  configVector: number = VIRTIO_MSI_NO_VECTOR;
  /** Legacy: guest page size (MMIO v1 GuestPageSize; 4096 for PCI legacy). */
  pageSize = 4096;
  /** Legacy: used-ring alignment (MMIO v1 QueueAlign; 4096 for PCI legacy). */
  queueAlign = 4096;
  #active: ActiveContext | undefined;
  /** The context the transport queues are served in (same lifetime as #active). */
  #transportCtx: ActiveContext | undefined;
  #pendingKicks = new Set<number>();
  /** Causes of refusals logged once, with how many more were kept quiet. */
  readonly #quieted = new Map<string, number>();

  /** State for `device` over `memory`, raising notifications through `sink`. */
  constructor(
    device: VirtioDevice,
    memory: GuestMemory,
    sink: InterruptSink,
    log: TransportLog,
    where: string,
    transportQueues: readonly TransportQueue[] = [],
  ) {
    this.device = device;
    this.memory = memory;
    this.sink = sink;
    this.log = log;
    this.where = where;
    this.deviceQueueCount = device.queueMaxSizes.length;
    this.transportQueues = transportQueues;
    let f = 0n;
    for (const t of transportQueues) f |= 1n << BigInt(t.feature);
    this.transportFeatures = f;
    this.queues = this.#freshQueues();
  }

  #freshQueues(): QueueRegs[] {
    return [
      ...this.device.queueMaxSizes.map((max) => freshQueue(max)),
      ...this.transportQueues.map((t) => freshQueue(t.max)),
    ];
  }

  /**
   * Log a refused access: register, value, and the rule it broke. With a
   * `cause`, only the first refusal of that cause is logged until the next
   * reset, which reports how many more there were: a driver walking a range
   * byte by byte past the end of config writes one line, not one per byte.
   */
  refuse(
    register: string,
    value: number | bigint | undefined,
    why: string,
    cause?: string,
  ): void {
    if (cause !== undefined) {
      const seen = this.#quieted.get(cause);
      if (seen !== undefined) {
        this.#quieted.set(cause, seen + 1);
        return;
      }
      this.#quieted.set(cause, 0);
    }
    const v = value === undefined ? "" : ` value 0x${value.toString(16)}`;
    const once = cause === undefined ? "" : " (further refusals of this kind: one line at reset)";
    this.log(`${this.where}: refused ${register}${v}: ${why}${once}`);
  }

  /** Report, then forget, the refusals {@link refuse} kept quiet. */
  #reportQuieted(): void {
    for (const [cause, n] of this.#quieted) {
      if (n > 0) this.log(`${this.where}: ${n} more refused accesses: ${cause}`);
    }
    this.#quieted.clear();
  }

  /** The features the device offers through this interface. */
  get offered(): bigint {
    // Legacy interfaces show only bits 0-31 and never VERSION_1.
    const all = this.device.features | this.transportFeatures;
    return this.legacy ? all & 0xffffffffn : all;
  }

  /** 32 bits of the offered features selected by `sel`. */
  deviceFeatureWord(sel: number): number {
    if (sel > 3) return 0;
    return Number((this.offered >> BigInt(sel * 32)) & 0xffffffffn);
  }

  /** Write 32 bits of driver features at window `sel`. */
  writeDriverFeatures(register: string, sel: number, value: number): void {
    const FEATURES_OK = DeviceStatus.FEATURES_OK;
    if (this.status & FEATURES_OK) {
      return this.refuse(register, value, "features written after FEATURES_OK (3.1.1)");
    }
    if (this.status & DeviceStatus.DRIVER_OK) {
      return this.refuse(register, value, "features written after DRIVER_OK (3.1.1)");
    }
    if (sel > 3) return this.refuse(register, value, `feature select ${sel} is past bit 127`);
    const shift = BigInt(sel * 32);
    this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) |
      (BigInt(value >>> 0) << shift);
  }

  /** The currently selected queue, or undefined (and a log line) when out of range. */
  selected(register: string, value?: number): QueueRegs | undefined {
    const q = this.queues[this.queueSel];
    if (q === undefined) {
      this.refuse(
        register,
        value,
        `queue select ${this.queueSel} is out of range (${this.queues.length} queues)`,
      );
    }
    return q;
  }

  /** Can the selected queue's registers be changed now? */
  queueWritable(register: string, q: QueueRegs, value: number): boolean {
    if (q.ready) {
      this.refuse(register, value, `queue ${this.queueSel} is enabled (4.2.2.2 / 4.1.4.3.2)`);
      return false;
    }
    if (this.status & DeviceStatus.DRIVER_OK && !this.ringResetNegotiated) {
      this.refuse(register, value, "queue setup after DRIVER_OK");
      return false;
    }
    return true;
  }

  /** Did the driver accept VIRTIO_F_RING_RESET? */
  get ringResetNegotiated(): boolean {
    return (this.driverFeatures & (1n << BigInt(VIRTIO_F_RING_RESET))) !== 0n;
  }

  /** Did the driver accept VIRTIO_F_RING_PACKED (modern interfaces only)? */
  get packed(): boolean {
    return !this.legacy && (this.driverFeatures & (1n << BigInt(VIRTIO_F_RING_PACKED))) !== 0n;
  }

  /** Set the selected queue's size, refusing 0, > max, or not a power of two for split. */
  setQueueSize(register: string, value: number): void {
    const q = this.selected(register, value);
    if (q === undefined || !this.queueWritable(register, q, value)) return;
    const why = value === 0
      ? "queue size 0"
      : value > q.max
      ? `queue size above the maximum ${q.max}`
      : !this.packed && !isPow2(value)
      ? "split queue size is not a power of 2 (2.7)"
      : undefined;
    q.sizeRefused = why !== undefined;
    if (why !== undefined) return this.refuse(register, value, why);
    q.size = value;
  }

  /** Enable or disable the selected queue (modern QueueReady / queue_enable). */
  setQueueReady(register: string, value: number): void {
    const q = this.selected(register, value);
    if (q === undefined) return;
    if (value === 0) {
      // 4.1.4.3.2: the driver MUST NOT write 0 to queue_enable; MMIO allows it.
      if (q.ready) this.disableQueue(this.queueSel);
      return;
    }
    if (value !== 1) return this.refuse(register, value, "only 0 or 1 may be written");
    if (q.ready) return;
    if (!this.queueWritable(register, q, value)) return;
    if (q.sizeRefused) {
      return this.refuse(register, value, `queue ${this.queueSel} has a refused size`);
    }
    if (q.desc === 0 || q.driver === 0 || q.device === 0) {
      return this.refuse(register, value, `queue ${this.queueSel} enabled with unset addresses`);
    }
    // 2.7.10.1 split: 16, 2, 4; 2.8.10.1 packed: 16, 4, 4.
    const align = this.packed ? [16, 4, 4] : [16, 2, 4];
    if (q.desc % align[0] || q.driver % align[1] || q.device % align[2]) {
      return this.refuse(register, value, `queue ${this.queueSel} areas are misaligned (2.7)`);
    }
    q.ready = true;
    if (this.#active) this.#enableLive(this.queueSel);
  }

  /** Legacy: set the selected queue by page frame number (0 disables). */
  setQueuePfn(register: string, value: number): void {
    const q = this.selected(register, value);
    if (q === undefined) return;
    if (value === 0) {
      if (q.ready) this.disableQueue(this.queueSel);
      q.pfn = 0;
      return;
    }
    if (q.ready) return this.refuse(register, value, `queue ${this.queueSel} is in use`);
    if (q.sizeRefused) {
      return this.refuse(register, value, `queue ${this.queueSel} has a refused size`);
    }
    if (!isPow2(q.size)) return this.refuse(register, value, "queue size is not a power of 2");
    const base = value * this.pageSize;
    const l = legacyRingLayout(base, q.size, this.queueAlign);
    q.pfn = value >>> 0;
    q.desc = l.desc;
    q.driver = l.driver;
    q.device = l.device;
    q.ready = true;
    if (this.#active) this.#enableLive(this.queueSel);
  }

  /** Take queue `index` out of service (QueueReady 0, QueueReset, PFN 0). */
  disableQueue(index: number): void {
    const q = this.queues[index];
    if (q === undefined) return;
    this.queues[index] = { ...freshQueue(q.max), vector: q.vector };
    if (this.#active) this.#active.queues[index] = undefined;
    if (this.#transportCtx) this.#transportCtx.queues[index] = undefined;
  }

  #enableLive(index: number): void {
    const active = this.#active;
    if (active === undefined) return;
    const q = this.queues[index];
    const ctx = index < this.deviceQueueCount ? active : this.#transportCtx;
    if (ctx === undefined) return;
    try {
      ctx.queues[index] = createDeviceQueue(
        this.memory,
        { size: q.size, desc: q.desc, driver: q.driver, device: q.device },
        queueOptionsFromFeatures(active.features, index),
      );
    } catch (e) {
      this.needsReset(e);
    }
  }

  /** A driver write to the status register (spec 2.1, 3.1.1). */
  writeStatus(register: string, value: number): void {
    value &= 0xff;
    if (value === 0) return this.reset();
    const S = DeviceStatus;
    // DEVICE_NEEDS_RESET is the device's to set; the driver echoing it back is harmless.
    const driverBits = value & ~S.DEVICE_NEEDS_RESET;
    const old = this.status & ~S.DEVICE_NEEDS_RESET;
    if ((old & ~driverBits) !== 0) {
      return this.refuse(register, value, "status bits cleared without a reset (2.1.1)");
    }
    let next = driverBits;
    const newly = driverBits & ~old;
    if (newly & S.FEATURES_OK) {
      if (this.legacy) {
        // Legacy interfaces have no FEATURES_OK: ignore the bit quietly.
        next &= ~S.FEATURES_OK;
      } else {
        const extra = this.driverFeatures & ~this.offered;
        const v1 = (this.driverFeatures & (1n << BigInt(VIRTIO_F_VERSION_1))) !== 0n;
        if (extra !== 0n) {
          this.refuse(register, value, `driver features 0x${extra.toString(16)} not offered`);
          next &= ~S.FEATURES_OK;
        } else if (!v1) {
          this.refuse(register, value, "FEATURES_OK without VIRTIO_F_VERSION_1");
          next &= ~S.FEATURES_OK;
        } else if (!this.#deviceAccepts(this.driverFeatures)) {
          this.refuse(
            register,
            value,
            `the device refuses features 0x${this.driverFeatures.toString(16)} (3.1.1)`,
          );
          next &= ~S.FEATURES_OK;
        }
      }
    }
    if (newly & S.DRIVER_OK && !this.legacy && !(next & S.FEATURES_OK)) {
      this.refuse(register, value, "DRIVER_OK before FEATURES_OK (3.1.1)");
      next &= ~S.DRIVER_OK;
    }
    if (newly & S.SUSPEND) {
      // VIRTIO_F_SUSPEND is not offered by this transport: ignore the bit.
      next &= ~S.SUSPEND;
    }
    this.status = next | (this.status & S.DEVICE_NEEDS_RESET);
    if ((newly & S.DRIVER_OK) && (next & S.DRIVER_OK)) this.#activate();
  }

  #deviceAccepts(features: bigint): boolean {
    const accept = this.device.acceptFeatures;
    if (accept === undefined) return true;
    try {
      // The device model judges its own bits; the transport's (ADMIN_VQ) are not its business.
      return accept.call(this.device, features & ~this.transportFeatures) !== false;
    } catch (e) {
      this.log(
        `${this.where}: acceptFeatures threw: ${e instanceof Error ? e.message : String(e)}`,
      );
      return false;
    }
  }

  #activate(): void {
    const features = this.legacy ? this.driverFeatures & this.offered : this.driverFeatures;
    // The device model sees its own queues only; the transport's own queues
    // live in a second context, at their global indices.
    const queues: (DeviceQueue | undefined)[] = this.device.queueMaxSizes.map(() => undefined);
    const active = new ActiveContext(this, features, queues);
    this.#active = active;
    this.#transportCtx = new ActiveContext(
      this,
      features,
      this.queues.map(() => undefined),
    );
    for (let i = 0; i < this.queues.length; i++) {
      if (this.queues[i].ready) this.#enableLive(i);
    }
    try {
      const r = this.device.activate(active);
      if (r instanceof Promise) r.catch((e) => active.needsReset(e));
    } catch (e) {
      this.needsReset(e);
      return;
    }
    const kicks = [...this.#pendingKicks];
    this.#pendingKicks.clear();
    for (const i of kicks) this.notify(i);
  }

  /** The driver notified queue `index`. */
  notify(index: number): void {
    const q = this.queues[index];
    if (q === undefined) {
      return this.refuse("QueueNotify", index, `queue ${index} does not exist`);
    }
    if (this.#active === undefined) {
      // 2.1.2: no buffers are consumed before DRIVER_OK; remember the kick.
      if (q.ready) this.#pendingKicks.add(index);
      return;
    }
    if (!q.ready || this.status & DeviceStatus.DEVICE_NEEDS_RESET) return;
    if (index >= this.deviceQueueCount) return this.#notifyTransportQueue(index);
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.needsReset(e);
    }
  }

  #notifyTransportQueue(index: number): void {
    const t = this.transportQueues[index - this.deviceQueueCount];
    const ctx = this.#transportCtx;
    if (ctx === undefined) return;
    if (!(ctx.features & (1n << BigInt(t.feature)))) {
      return this.refuse("QueueNotify", index, `queue ${index} needs feature bit ${t.feature}`);
    }
    try {
      t.serve(ctx, index);
    } catch (e) {
      this.needsReset(e);
    }
  }

  /** The device entered an error state (2.1.2). */
  needsReset(reason: unknown): void {
    const msg = reason instanceof Error ? reason.message : String(reason);
    this.log(`${this.where}: device needs reset: ${msg}`);
    const had = this.status & DeviceStatus.DEVICE_NEEDS_RESET;
    this.status |= DeviceStatus.DEVICE_NEEDS_RESET;
    if (!had && this.status & DeviceStatus.DRIVER_OK) this.sink.config();
  }

  /** Is `ctx` the live context? */
  isLive(ctx: DeviceContext): boolean {
    return this.#active === ctx || this.#transportCtx === ctx;
  }

  /** Is the device activated (DRIVER_OK seen, not reset since)? */
  get active(): boolean {
    return this.#active !== undefined;
  }

  /**
   * A read-only diagnostic of the device, several lines of text: the device
   * type and model, the status byte with its flags by name, the features
   * offered and written by the driver (and those in use once activated),
   * whether the device is activated, the transport's interrupt state (see
   * {@link InterruptSink.describe}), kicks held back until DRIVER_OK, and
   * per queue its registers (ready, size, MSI-X vector, ring areas), its
   * ring read from guest memory (split: the avail ring's idx and flags and
   * `used_event`, the used ring's idx and flags and `avail_event`; packed:
   * the flags of the descriptor the device reads next and both event
   * suppression structures) and where the device's queue stands
   * (`DeviceQueue.position()`, `inFlight`): with a split ring, how many
   * chains are available that the device has not taken.
   *
   * For an error message when a guest stops answering (the v86 host appends
   * it to `ERR_VIRTIO_V86_TIMEOUT`): whether the driver published requests
   * the device never took, the device holds chains it never returned, or a
   * notification is pending that the guest never took. It only reads: no
   * ring is written, no interrupt acknowledged, no state changed. It never
   * throws: a ring area outside guest memory is reported "unreadable", and
   * anything else that fails is reported in its place.
   *
   * @example
   * ```ts
   * import { GuestMemory } from "../memory.ts";
   * import { NullDevice } from "../devices/null/device.ts";
   * import { MmioDevice } from "./mmio/mod.ts";
   *
   * const m = new MmioDevice(new NullDevice(), GuestMemory.fromBuffer(new ArrayBuffer(1 << 16)));
   * const text = m.core.describe();
   * if (!text.includes("status 0x0 (none), not activated")) throw new Error("unreachable");
   * if (!text.includes("queue 0: not ready")) throw new Error("unreachable");
   * ```
   */
  describe(): string {
    const lines: string[] = [];
    const section = (indent: string, what: string, f: () => readonly string[]): void => {
      try {
        for (const l of f()) lines.push(indent + l);
      } catch (e) {
        lines.push(`${indent}${what}: not described (${e instanceof Error ? e.message : e})`);
      }
    };
    section("", "device", () => [
      `${this.where}: ${deviceLabel(this.device.deviceId, this.device)}`,
    ]);
    section("  ", "status", () => [
      `status ${hex(this.status)} (${flagNames(this.status, DeviceStatus)}), ` +
      `${this.#active ? "activated" : "not activated"}${this.legacy ? ", legacy interface" : ""}`,
    ]);
    section("  ", "features", () => {
      const used = this.#active?.features;
      const inUse = used !== undefined && used !== this.driverFeatures
        ? `, in use ${hex(used)}`
        : "";
      return [`features: offered ${hex(this.offered)}, driver ${hex(this.driverFeatures)}${inUse}`];
    });
    section("  ", "interrupts", () => {
      const irq = this.sink.describe?.();
      return irq === undefined ? [] : [`interrupts: ${irq}`];
    });
    if (this.#pendingKicks.size > 0) {
      lines.push(`  kicks held until DRIVER_OK: queue ${[...this.#pendingKicks].join(", ")}`);
    }
    const features = this.#active?.features ?? this.driverFeatures;
    const eventIdx = (features & (1n << BigInt(VIRTIO_F_EVENT_IDX))) !== 0n;
    const packed = !this.legacy && (features & (1n << BigInt(VIRTIO_F_RING_PACKED))) !== 0n;
    for (let i = 0; i < this.queues.length; i++) {
      section("  ", `queue ${i}`, () => {
        const own = i >= this.deviceQueueCount;
        const ctx = own ? this.#transportCtx : this.#active;
        const live = ctx?.queues[i];
        return describeQueue({
          index: i,
          regs: this.queues[i],
          packed,
          eventIdx,
          live,
          whyNotLive: ctx === undefined
            ? "the device is not activated"
            : "no live queue: its setup failed, or it was reset",
          inProgress: own ? undefined : this.#inProgress(i),
          transportQueue: own,
          memory: this.memory,
        });
      });
    }
    return lines.join("\n");
  }

  #inProgress(index: number): number | undefined {
    try {
      return this.device.inProgress?.(index);
    } catch {
      return undefined;
    }
  }

  /** Device reset (spec 2.4): status 0, every queue dropped, the model reset. */
  reset(): void {
    this.#reportQuieted();
    this.#active = undefined;
    this.#transportCtx = undefined;
    this.#pendingKicks.clear();
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.queues = this.#freshQueues();
    for (const t of this.transportQueues) t.reset();
    try {
      this.device.reset();
    } catch (e) {
      this.log(`${this.where}: device reset threw: ${e instanceof Error ? e.message : e}`);
    }
  }
}

function freshQueue(max: number): QueueRegs {
  return {
    max,
    size: max,
    ready: false,
    desc: 0,
    driver: 0,
    device: 0,
    vector: VIRTIO_MSI_NO_VECTOR,
    pfn: 0,
    sizeRefused: false,
  };
}

/** The {@link DeviceContext} of one activation; dead once the device resets. */
class ActiveContext implements DeviceContext {
  readonly #core: TransportDeviceState;
  readonly features: bigint;
  readonly queues: (DeviceQueue | undefined)[];

  constructor(core: TransportDeviceState, features: bigint, queues: (DeviceQueue | undefined)[]) {
    this.#core = core;
    this.features = features;
    this.queues = queues;
  }

  get memory(): GuestMemory {
    return this.#core.memory;
  }

  notifyUsed(index: number): void {
    if (this.#core.isLive(this)) this.#core.sink.used(index);
  }

  configChanged(): void {
    if (this.#core.isLive(this)) this.#core.sink.config();
  }

  needsReset(reason: unknown): void {
    if (this.#core.isLive(this)) this.#core.needsReset(reason);
  }

  queueAddresses(index: number): QueueAddresses | undefined {
    if (!this.#core.isLive(this) || this.queues[index] === undefined) return undefined;
    const q = this.#core.queues[index];
    return { size: q.size, desc: q.desc, driver: q.driver, device: q.device };
  }
}

/**
 * Wraps a driver-side interrupt handler so that an exception thrown by the
 * driver (a queue callback, a config-change callback) stays on the driver's
 * side: it is logged and never reaches the device model, which would
 * otherwise be marked DEVICE_NEEDS_RESET for a driver bug.
 */
export function guardInterrupts(
  handler: (vector: number) => void,
  log: TransportLog,
  name: string,
): (vector: number) => void {
  return (vector: number): void => {
    try {
      handler(vector);
    } catch (e) {
      log(
        `${name}: the driver's interrupt handler threw (vector ${vector}): ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
    }
  };
}
