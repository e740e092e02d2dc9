/**
 * The virtio input device model (spec 5.8, device id 18): Linux evdev
 * events to the driver on the eventq, feedback (LEDs) from the driver on
 * the statusq, and the config-space query window: the driver writes
 * `select` and `subsel`, the device answers with `size` and the union
 * (ID_NAME, ID_SERIAL, ID_DEVIDS, PROP_BITS, EV_BITS, ABS_INFO; size 0 for
 * anything it does not support, 5.8.5.2).
 *
 * Profiles for a keyboard, a mouse and a tablet ({@link keyboardProfile},
 * {@link mouseProfile}, {@link tabletProfile}) use the Linux evdev codes
 * defined below (they are Linux's, from `input-event-codes.h`, not
 * virtio's). Events are injected with {@link InputDevice.inject}
 * and delivered a whole sequence (up to SYN_REPORT) at a time: when the
 * driver has too few buffers the sequence waits, and beyond the backlog
 * whole sequences are dropped, never single events (5.8.6.2).
 *
 * No feature bits besides VERSION_1, EVENT_IDX and INDIRECT_DESC: the
 * device type has none.
 *
 * @example
 * ```ts
 * import { VirtioInputConfig, VIRTIO_INPUT_CFG_ID_NAME } from "../../generated/devices/input.ts";
 * import { EV_KEY, KEY_A, keyboardProfile, InputDevice } from "./device.ts";
 *
 * const at = VirtioInputConfig.OFFSETS;
 * const kbd = new InputDevice(keyboardProfile());
 * kbd.writeConfig(at.select, 1, VIRTIO_INPUT_CFG_ID_NAME);
 * kbd.writeConfig(at.subsel, 1, 0);
 * if (kbd.readConfig(at.infoSize, 1) !== "virtio keyboard".length) throw new Error("unreachable");
 * kbd.key(KEY_A, true); // queued until a driver posts buffers
 * if (kbd.pendingEvents !== 2 || EV_KEY !== 1) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ConfigDevice, type ConfigWidth, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_INPUT } from "../../generated/common.ts";
import {
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VIRTIO_INPUT_CFG_PROP_BITS,
  VirtioInputConfig,
  VirtioInputEvent,
} from "../../generated/devices/input.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { ringFeatures } from "../../features.ts";
import { type ChainServer, publishUsed, serveQueue } from "../../queue_service.ts";

// ---- Linux evdev codes (include/uapi/linux/input-event-codes.h) ----

/** Event type: synchronization marker. */
export const EV_SYN: number = 0x00;
/** Event type: keys and buttons. */
export const EV_KEY: number = 0x01;
/** Event type: relative axes. */
export const EV_REL: number = 0x02;
/** Event type: absolute axes. */
export const EV_ABS: number = 0x03;
/** Event type: miscellaneous. */
export const EV_MSC: number = 0x04;
/** Event type: LEDs (also sent by the driver on the statusq). */
export const EV_LED: number = 0x11;
/** Event type: autorepeat. */
export const EV_REP: number = 0x14;
/** Highest event type. */
export const EV_MAX: number = 0x1f;
/** EV_SYN code ending a sequence of events. */
export const SYN_REPORT: number = 0;
/** Key codes used by the profiles and examples. */
export const KEY_ESC: number = 1;
/** `1` key. */
export const KEY_1: number = 2;
/** `Q` key. */
export const KEY_Q: number = 16;
/** `Enter` key. */
export const KEY_ENTER: number = 28;
/** `A` key. */
export const KEY_A: number = 30;
/** Left shift key. */
export const KEY_LEFTSHIFT: number = 42;
/** Space bar. */
export const KEY_SPACE: number = 57;
/** Caps lock key. */
export const KEY_CAPSLOCK: number = 58;
/** Highest key a plain keyboard reports here. */
export const KEY_MAX_KEYBOARD: number = 248;
/** Left mouse button. */
export const BTN_LEFT: number = 0x110;
/** Right mouse button. */
export const BTN_RIGHT: number = 0x111;
/** Middle mouse button. */
export const BTN_MIDDLE: number = 0x112;
/** Relative X axis. */
export const REL_X: number = 0x00;
/** Relative Y axis. */
export const REL_Y: number = 0x01;
/** Wheel. */
export const REL_WHEEL: number = 0x08;
/** Absolute X axis. */
export const ABS_X: number = 0x00;
/** Absolute Y axis. */
export const ABS_Y: number = 0x01;
/** Num lock LED. */
export const LED_NUML: number = 0x00;
/** Caps lock LED. */
export const LED_CAPSL: number = 0x01;
/** Scroll lock LED. */
export const LED_SCROLLL: number = 0x02;
/** Autorepeat delay code of EV_REP. */
export const REP_DELAY: number = 0x00;
/** Autorepeat period code of EV_REP. */
export const REP_PERIOD: number = 0x01;
/** Input property: a direct input device (touchscreen). */
export const INPUT_PROP_DIRECT: number = 0x01;
/** Input property: needs a pointer. */
export const INPUT_PROP_POINTER: number = 0x00;
/** Bus type: virtual. */
export const BUS_VIRTUAL: number = 0x06;

/** One absolute axis (`virtio_input_absinfo`). */
export interface AbsInfo {
  /** Minimum value. */
  readonly min: number;
  /** Maximum value. */
  readonly max: number;
  /** Fuzz (noise filter). */
  readonly fuzz?: number;
  /** Flat (dead zone). */
  readonly flat?: number;
  /** Resolution, units per mm. */
  readonly res?: number;
}

/** What an input device says about itself through the config selectors. */
export interface InputProfile {
  /** VIRTIO_INPUT_CFG_ID_NAME. */
  readonly name: string;
  /** VIRTIO_INPUT_CFG_ID_SERIAL. */
  readonly serial?: string;
  /** VIRTIO_INPUT_CFG_ID_DEVIDS. */
  readonly ids?: {
    readonly bustype: number;
    readonly vendor: number;
    readonly product: number;
    readonly version: number;
  };
  /** VIRTIO_INPUT_CFG_PROP_BITS: INPUT_PROP_* numbers. */
  readonly props?: readonly number[];
  /** VIRTIO_INPUT_CFG_EV_BITS: for each event type, the codes the device can send. */
  readonly events: ReadonlyMap<number, readonly number[]>;
  /** VIRTIO_INPUT_CFG_ABS_INFO: for each absolute axis, its range. */
  readonly abs?: ReadonlyMap<number, AbsInfo>;
}

const ids = (product: number) => ({ bustype: BUS_VIRTUAL, vendor: 0x0627, product, version: 1 });

/** A keyboard: keys 1..248, num/caps/scroll lock LEDs, autorepeat. */
export function keyboardProfile(name: string = "virtio keyboard"): InputProfile {
  return {
    name,
    serial: "typed-virtio-kbd",
    ids: ids(1),
    events: new Map([
      [EV_KEY, Array.from({ length: KEY_MAX_KEYBOARD }, (_, i) => i + 1)],
      [EV_LED, [LED_NUML, LED_CAPSL, LED_SCROLLL]],
      [EV_REP, [REP_DELAY, REP_PERIOD]],
    ]),
  };
}

/** A mouse: three buttons, X/Y motion and a wheel. */
export function mouseProfile(name: string = "virtio mouse"): InputProfile {
  return {
    name,
    serial: "typed-virtio-mouse",
    ids: ids(2),
    props: [INPUT_PROP_POINTER],
    events: new Map([
      [EV_KEY, [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE]],
      [EV_REL, [REL_X, REL_Y, REL_WHEEL]],
    ]),
  };
}

/** A tablet: three buttons and absolute X/Y in 0..`max` (default 32767). */
export function tabletProfile(name: string = "virtio tablet", max: number = 0x7fff): InputProfile {
  return {
    name,
    serial: "typed-virtio-tablet",
    ids: ids(3),
    props: [INPUT_PROP_DIRECT],
    events: new Map([
      [EV_KEY, [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE]],
      [EV_ABS, [ABS_X, ABS_Y]],
    ]),
    abs: new Map([[ABS_X, { min: 0, max }], [ABS_Y, { min: 0, max }]]),
  };
}

/** Options of a {@link InputDevice}. */
export interface InputDeviceOptions {
  /** Maximum size of both queues (default 64). */
  readonly queueSize?: number;
  /** Events kept while the driver has no buffers; older whole sequences are dropped beyond it (default 1024). */
  readonly backlog?: number;
}

/** An event the driver sent on the statusq. */
export interface StatusEvent {
  /** Event type (EV_LED...). */
  readonly type: number;
  /** Event code. */
  readonly code: number;
  /** Value. */
  readonly value: number;
}

const EVENT_SIZE = VirtioInputEvent.SIZE;

/** A virtio-input device model; see the module documentation. */
export class InputDevice extends ConfigDevice<VirtioInputConfig> {
  /** `VIRTIO_ID_INPUT` (18). */
  readonly deviceId: number = VIRTIO_ID_INPUT;
  /** VERSION_1, EVENT_IDX, INDIRECT_DESC. */
  readonly features: bigint = ringFeatures(false);
  /** eventq and statusq. */
  readonly queueMaxSizes: readonly number[];
  /** The profile answered through config. */
  readonly profile: InputProfile;
  /** Events dropped (whole sequences) because the backlog was full. */
  get dropped(): number {
    return this.#dropped;
  }
  #dropped = 0;
  /** Status buffers that were too short for an event. */
  get badStatus(): number {
    return this.#badStatus;
  }
  #badStatus = 0;
  /** LED states as the driver last set them, by LED code. */
  readonly leds: Map<number, boolean> = new Map();
  readonly #backlog: number;
  // Ready events (whole sequences), as type/code/value triples in a ring of numbers.
  #ready: number[] = [];
  #partial: number[] = [];
  #held: DescriptorChain[] = [];
  readonly #ev = new VirtioInputEvent(new DataView(new ArrayBuffer(EVENT_SIZE)));
  readonly #evBytes = new Uint8Array(this.#ev.view.buffer);
  readonly #status = new Set<(e: StatusEvent) => void>();
  readonly #statusGot: StatusEvent[] = [];
  readonly #statusServer: ChainServer = {
    serveChain: (c) => this.#serveStatus(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** An input device answering with `profile`. */
  constructor(profile: InputProfile, options: InputDeviceOptions = {}) {
    super(VirtioInputConfig);
    this.profile = profile;
    const qs = options.queueSize ?? 64;
    this.queueMaxSizes = [qs, qs];
    this.#backlog = options.backlog ?? 1024;
    const enc = new TextEncoder();
    for (const s of [profile.name, profile.serial ?? ""]) {
      if (enc.encode(s).length > 128) {
        throw new DeviceError(`input id string ${JSON.stringify(s)} is over 128 bytes`, {
          code: "ERR_VIRTIO_DEVICE_INPUT_OPTION",
        });
      }
    }
    for (const [type, codes] of profile.events) {
      if (type < 0 || type > EV_MAX) {
        throw new DeviceError(`event type ${type} is outside 0..${EV_MAX}`, {
          code: "ERR_VIRTIO_DEVICE_INPUT_OPTION",
        });
      }
      for (const c of codes) {
        if (!(c >= 0 && c < 128 * 8)) {
          throw new DeviceError(`event code ${c} does not fit a 128-byte bitmap`, {
            code: "ERR_VIRTIO_DEVICE_INPUT_OPTION",
          });
        }
      }
    }
  }

  /** Events waiting for eventq buffers. */
  get pendingEvents(): number {
    return this.#ready.length / 3;
  }

  /**
   * The driver writes `select` and `subsel` (5.8.5.1); the device answers in
   * `size` and the union at once. Writes to other fields are ignored.
   */
  override writeConfig(offset: number, width: ConfigWidth, value: number): void {
    let touched = false;
    for (let i = 0; i < width; i++) {
      const o = offset + i;
      if (o > 1) continue;
      this.config.bytes[o] = (value >>> (8 * i)) & 0xff;
      touched = true;
    }
    if (touched) this.config.update(() => this.#answer());
  }

  /** Fill `size` and `u` for the current select/subsel (size 0 when unsupported). */
  #answer(): void {
    const cfg = this.cfg;
    const u = cfg.u;
    const bytes = this.config.bytes;
    bytes.fill(0, VirtioInputConfig.OFFSETS.infoSize, VirtioInputConfig.SIZE);
    const p = this.profile;
    const sub = cfg.subsel;
    let size = 0;
    switch (cfg.select) {
      case VIRTIO_INPUT_CFG_ID_NAME:
      case VIRTIO_INPUT_CFG_ID_SERIAL: {
        const s = cfg.select === VIRTIO_INPUT_CFG_ID_NAME ? p.name : p.serial;
        if (sub !== 0 || s === undefined) break;
        const b = new TextEncoder().encode(s);
        u.stringBytes().set(b);
        size = b.length;
        break;
      }
      case VIRTIO_INPUT_CFG_ID_DEVIDS:
        if (sub !== 0 || p.ids === undefined) break;
        u.ids.bustype = p.ids.bustype;
        u.ids.vendor = p.ids.vendor;
        u.ids.product = p.ids.product;
        u.ids.version = p.ids.version;
        size = 8;
        break;
      case VIRTIO_INPUT_CFG_PROP_BITS:
        if (sub !== 0) break;
        size = this.#bitmap(p.props ?? []);
        break;
      case VIRTIO_INPUT_CFG_EV_BITS: {
        const codes = p.events.get(sub);
        if (codes === undefined) break;
        size = this.#bitmap(codes);
        break;
      }
      case VIRTIO_INPUT_CFG_ABS_INFO: {
        const a = p.abs?.get(sub);
        if (a === undefined) break;
        const ai = u.abs;
        ai.min = a.min >>> 0;
        ai.max = a.max >>> 0;
        ai.fuzz = (a.fuzz ?? 0) >>> 0;
        ai.flat = (a.flat ?? 0) >>> 0;
        ai.res = (a.res ?? 0) >>> 0;
        size = 20;
        break;
      }
    }
    cfg.infoSize = size;
  }

  /** Writes a bitmap of `bits` into the union; returns its size (up to the last non-zero byte). */
  #bitmap(bits: readonly number[]): number {
    const u = this.cfg.u;
    let size = 0;
    for (const b of bits) {
      const i = b >> 3;
      u.setBitmap(i, u.bitmap(i) | (1 << (b & 7)));
      size = Math.max(size, i + 1);
    }
    return size;
  }

  /**
   * Queue one event. Events are delivered when a SYN_REPORT ends the
   * sequence (call {@link InputDevice.sync} or inject EV_SYN yourself).
   */
  inject(type: number, code: number, value: number): void {
    this.#partial.push(type & 0xffff, code & 0xffff, value >>> 0);
    if (type === EV_SYN && code === SYN_REPORT) {
      const seq = this.#partial;
      this.#partial = [];
      // Drop whole sequences, oldest first, beyond the backlog (5.8.6.2).
      while (this.#ready.length && (this.#ready.length + seq.length) / 3 > this.#backlog) {
        this.#dropOldest();
      }
      if (seq.length / 3 > this.#backlog) {
        this.#dropped += seq.length / 3;
        return;
      }
      for (const v of seq) this.#ready.push(v);
      this.#flush();
    }
  }

  #dropOldest(): void {
    const r = this.#ready;
    let n = 0;
    while (n < r.length && !(r[n] === EV_SYN && r[n + 1] === SYN_REPORT)) n += 3;
    n += 3;
    this.#dropped += n / 3;
    r.splice(0, n);
  }

  /** End the current sequence: EV_SYN / SYN_REPORT. */
  sync(): void {
    this.inject(EV_SYN, SYN_REPORT, 0);
  }

  /** Press or release a key or button, with a SYN_REPORT. */
  key(code: number, down: boolean): void {
    this.inject(EV_KEY, code, down ? 1 : 0);
    this.sync();
  }

  /** Relative motion (mouse), with a SYN_REPORT. */
  moveRel(dx: number, dy: number, wheel: number = 0): void {
    if (dx) this.inject(EV_REL, REL_X, dx);
    if (dy) this.inject(EV_REL, REL_Y, dy);
    if (wheel) this.inject(EV_REL, REL_WHEEL, wheel);
    this.sync();
  }

  /** Absolute position (tablet), with a SYN_REPORT. */
  moveAbs(x: number, y: number): void {
    this.inject(EV_ABS, ABS_X, x);
    this.inject(EV_ABS, ABS_Y, y);
    this.sync();
  }

  /** Call `listener` for each statusq event (LEDs...); returns an unsubscribe function. */
  onStatus(listener: (e: StatusEvent) => void): () => void {
    this.#status.add(listener);
    return () => this.#status.delete(listener);
  }

  /** Start serving. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#held = [];
    this.#flush();
  }

  /** eventq kick: new buffers; statusq kick: feedback from the driver. */
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined) return;
    if (index === 0) this.#flush();
    else if (index === 1) this.#processStatus(ctx);
  }

  /** Drop the driver's buffers; queued events stay for the next driver. */
  override reset(): void {
    super.reset();
    this.#held = [];
  }

  /** Write whole ready sequences into eventq buffers while there are enough. */
  #flush(): void {
    const ctx = this.context;
    const q = ctx?.queues[0];
    if (ctx === undefined || q === undefined) return;
    const r = this.#ready;
    let used = 0;
    try {
      while (r.length) {
        // The length of the first sequence.
        let n = 0;
        while (n < r.length && !(r[n] === EV_SYN && r[n + 1] === SYN_REPORT)) n += 3;
        n = Math.min(n + 3, r.length) / 3;
        if (n > q.size) {
          // Longer than the ring: it can never be delivered whole (5.8.6.2): drop it.
          r.splice(0, 3 * n);
          this.#dropped += n;
          continue;
        }
        while (this.#held.length < n) {
          const c = q.pop();
          if (c === null) break;
          if (c.writableLength < EVENT_SIZE) {
            // 5.8.6.1: buffers must hold an event; return it unused.
            q.pushUsed(c, 0);
            used++;
            continue;
          }
          this.#held.push(c);
        }
        if (this.#held.length < n) break; // wait for buffers: never split a sequence
        const ev = this.#ev;
        for (let i = 0; i < n; i++) {
          ev.type = r[3 * i];
          ev.code = r[3 * i + 1];
          ev.value = r[3 * i + 2];
          const c = this.#held[i];
          c.write(0, this.#evBytes);
          q.pushUsed(c, EVENT_SIZE);
          used++;
        }
        this.#held.splice(0, n);
        r.splice(0, 3 * n);
      }
    } catch (e) {
      ctx.needsReset(e);
    }
    if (used) publishUsed(ctx, q);
  }

  /** statusq: take every feedback event, return the buffers, then tell the listeners. */
  #processStatus(ctx: DeviceContext): void {
    const got = this.#statusGot;
    serveQueue(ctx, 1, this.#statusServer);
    for (const e of got.splice(0)) {
      if (e.type === EV_LED && (this.profile.events.get(EV_LED) ?? []).includes(e.code)) {
        this.leds.set(e.code, e.value !== 0);
      }
      for (const l of this.#status) l(e);
    }
  }

  /** One statusq buffer: an event to keep for the listeners; nothing is written. */
  #serveStatus(c: DescriptorChain): number {
    if (c.readableLength < EVENT_SIZE) {
      this.#badStatus++;
    } else {
      c.read(0, this.#evBytes);
      const e = this.#ev;
      this.#statusGot.push({ type: e.type, code: e.code, value: e.value | 0 });
    }
    return 0;
  }
}
