/**
 * The virtio-input driver (spec 5.8, driver side): a {@link VirtioDriver}
 * for the bus and an {@link InputHandle} per bound device, which reads the
 * device's identity and capabilities through the config selectors at
 * probe (ID_NAME, ID_SERIAL, ID_DEVIDS, PROP_BITS, EV_BITS for every event
 * type, ABS_INFO for every absolute axis), keeps the eventq full, delivers
 * events by callback or async iterator, and sends LED changes on the
 * statusq.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "../../bus.ts";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { EV_KEY, KEY_A, keyboardProfile, InputDevice } from "./device.ts";
 * import { InputDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const driver = new InputDriver();
 * await bus.registerDriver(driver);
 * const kbd = new InputDevice(keyboardProfile());
 * const t = probeMmio(new MmioDevice(kbd, memory));
 * if (t === undefined) throw new Error("no device");
 * const input = driver.inputOf(await bus.addDevice(t));
 * assert.equal(input?.name, "virtio keyboard");
 * const seen: number[] = [];
 * input?.onEvent((e) => seen.push(e.type, e.code, e.value));
 * kbd.key(KEY_A, true);
 * assert.deepEqual(seen, [EV_KEY, KEY_A, 1, 0, 0, 0]);
 * ```
 *
 * @module
 */

import {
  type DriverDevice,
  ERR_VIRTIO_DEVICE_REMOVED,
  type VirtioDriver,
  type Virtqueue,
} from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_INPUT } from "../../generated/common.ts";
import {
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VIRTIO_INPUT_CFG_PROP_BITS,
  VirtioInputAbsinfo,
  VirtioInputConfig,
  VirtioInputDevids,
  VirtioInputEvent,
} from "../../generated/devices/input.ts";
import { type AbsInfo, EV_ABS, EV_LED, EV_MAX } from "./device.ts";

/** One input event (Linux `struct input_event` without the time). */
export interface InputEvent {
  /** EV_* type. */
  type: number;
  /** Code within the type. */
  code: number;
  /** Value (signed). */
  value: number;
}

/** Options of a {@link InputDriver}. */
export interface InputDriverOptions {
  /** Events kept for a slow async iterator before the oldest are dropped (default 4096). */
  readonly backlog?: number;
}

type Token = number | { addr: number };

/** The driver for virtio-input devices. */
export class InputDriver implements VirtioDriver {
  /** `virtio-input`. */
  readonly name: string = "virtio-input";
  /** Binds to `VIRTIO_ID_INPUT`. */
  readonly idTable: readonly { device: number }[] = [{ device: VIRTIO_ID_INPUT }];
  /** No device-specific features exist. */
  readonly featureTable: readonly number[] = [];
  readonly #options: InputDriverOptions;
  readonly #inputs = new Map<DriverDevice, InputHandle>();

  /** A driver; see {@link InputDriverOptions}. */
  constructor(options: InputDriverOptions = {}) {
    this.#options = options;
  }

  /** The handle of `dev`, once bound. */
  inputOf(dev: DriverDevice): InputHandle | undefined {
    return this.#inputs.get(dev);
  }

  /** Bind: read the config, fill the eventq. */
  probe(dev: DriverDevice): void {
    const h = new InputHandle(dev, this.#options);
    this.#inputs.set(dev, h);
    inputHooks.start(h);
  }

  /** Unbind. */
  remove(dev: DriverDevice): void {
    const h = this.#inputs.get(dev);
    this.#inputs.delete(dev);
    dev.reset();
    dev.delVqs();
    if (h) inputHooks.release(h);
  }
}

/** A virtio-input driver for the bus; the same as `new InputDriver(options)`. */
export function inputDriver(options: InputDriverOptions = {}): InputDriver {
  return new InputDriver(options);
}

const EVENT_SIZE = VirtioInputEvent.SIZE;

/** InputHandle's private members, for the rest of this module (set in its `static` block). */
let inputHooks: {
  start(h: InputHandle): void;
  release(h: InputHandle): void;
};

/** A bound input device: identity, capabilities, events, LEDs. */
export class InputHandle {
  /** The device. */
  readonly dev: DriverDevice;
  /** ID_NAME. */
  readonly name: string;
  /** ID_SERIAL. */
  readonly serial: string;
  /** ID_DEVIDS, when the device has them. */
  readonly ids: { bustype: number; vendor: number; product: number; version: number } | undefined;
  /** PROP_BITS. */
  readonly props: ReadonlySet<number>;
  /** EV_BITS: codes per event type. */
  readonly events: ReadonlyMap<number, ReadonlySet<number>>;
  /** ABS_INFO per absolute axis. */
  readonly abs: ReadonlyMap<number, AbsInfo>;
  /** Events the async iterator dropped because nobody read them. */
  get dropped(): number {
    return this.#dropped;
  }
  #dropped = 0;
  readonly #options: InputDriverOptions;
  #base = 0;
  #count = 0;
  #status: Virtqueue<Token> | undefined;
  #onEvent: ((e: InputEvent) => void) | undefined;
  #backlog: InputEvent[] = [];
  #readers: {
    resolve: (r: IteratorResult<InputEvent>) => void;
    reject: (e: DeviceError) => void;
  }[] = [];
  /** Why the eventq broke (reset, DEVICE_NEEDS_RESET), which ends the stream with an error. */
  #broken: DeviceError | undefined;
  #closed = false;
  readonly #event: InputEvent = { type: 0, code: 0, value: 0 };
  readonly #ev = new VirtioInputEvent(new DataView(new ArrayBuffer(EVENT_SIZE)));

  static {
    inputHooks = {
      start: (h) => h.#start(),
      release: (h) => h.#release(),
    };
  }

  /** Made by {@link InputDriver.probe}: reads every selector (5.8.5). */
  constructor(dev: DriverDevice, options: InputDriverOptions) {
    this.dev = dev;
    this.#options = options;
    const dec = new TextDecoder();
    this.name = dec.decode(this.query(VIRTIO_INPUT_CFG_ID_NAME, 0));
    this.serial = dec.decode(this.query(VIRTIO_INPUT_CFG_ID_SERIAL, 0));
    const idb = this.query(VIRTIO_INPUT_CFG_ID_DEVIDS, 0);
    if (idb.length >= VirtioInputDevids.SIZE) {
      const d = new VirtioInputDevids(new DataView(idb.buffer));
      this.ids = { bustype: d.bustype, vendor: d.vendor, product: d.product, version: d.version };
    }
    this.props = bits(this.query(VIRTIO_INPUT_CFG_PROP_BITS, 0));
    const events = new Map<number, ReadonlySet<number>>();
    for (let t = 1; t <= EV_MAX; t++) {
      const b = bits(this.query(VIRTIO_INPUT_CFG_EV_BITS, t));
      if (b.size) events.set(t, b);
    }
    this.events = events;
    const abs = new Map<number, AbsInfo>();
    for (const axis of events.get(EV_ABS) ?? []) {
      const b = this.query(VIRTIO_INPUT_CFG_ABS_INFO, axis);
      if (b.length < VirtioInputAbsinfo.SIZE) continue;
      const a = new VirtioInputAbsinfo(new DataView(b.buffer));
      abs.set(axis, {
        min: a.min | 0,
        max: a.max | 0,
        fuzz: a.fuzz | 0,
        flat: a.flat | 0,
        res: a.res | 0,
      });
    }
    this.abs = abs;
  }

  /**
   * One config query: write `select` and `subsel` (5.8.5.1: both), read
   * `size` and that many bytes of the union (5.8.5.1: check size first).
   */
  query(select: number, subsel: number): Uint8Array {
    const dev = this.dev;
    const O = VirtioInputConfig.OFFSETS;
    dev.writeConfig(O.select, 1, select);
    dev.writeConfig(O.subsel, 1, subsel);
    return dev.readConfig((c) => {
      const size = Math.min(c.u8(O.infoSize), 128);
      const out = new Uint8Array(size);
      for (let i = 0; i < size; i++) out[i] = c.u8(O.u + i);
      return out;
    });
  }

  /** Does the device report `code` for event `type`? */
  hasEvent(type: number, code: number): boolean {
    return this.events.get(type)?.has(code) ?? false;
  }

  #start(): void {
    const dev = this.dev;
    const [eventq, statusq] = dev.findVqs<Token>([
      { name: "events", callback: (vq) => this.#irq(vq), onBroken: (_vq, e) => this.#broke(e) },
      { name: "status", callback: (vq) => this.#statusIrq(vq) },
    ]);
    this.#status = statusq;
    // 5.8.6.1: keep the eventq populated with event-sized writable buffers.
    this.#count = eventq.size;
    this.#base = dev.dmaContext.dma.alloc(this.#count * EVENT_SIZE, 8);
    for (let i = 0; i < this.#count; i++) {
      eventq.addInbuf({ addr: this.#base + i * EVENT_SIZE, len: EVENT_SIZE }, i);
    }
    dev.deviceReady();
    eventq.kick();
  }

  #irq(vq: Virtqueue<Token>): void {
    const mem = this.dev.dmaContext.memory;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const i = b.token;
      if (typeof i !== "number" || i >= this.#count) continue;
      const addr = this.#base + i * EVENT_SIZE;
      if (b.len >= EVENT_SIZE) {
        mem.read(addr, new Uint8Array(this.#ev.view.buffer));
        this.#deliver(this.#ev.type, this.#ev.code, this.#ev.value | 0);
      }
      vq.addInbuf({ addr, len: EVENT_SIZE }, i);
      posted++;
    }
    if (posted) vq.kick();
  }

  #deliver(type: number, code: number, value: number): void {
    if (this.#onEvent) {
      const e = this.#event;
      e.type = type;
      e.code = code;
      e.value = value;
      this.#onEvent(e);
      return;
    }
    const e = { type, code, value };
    const r = this.#readers.shift();
    if (r) return r.resolve({ value: e, done: false });
    this.#backlog.push(e);
    if (this.#backlog.length > (this.#options.backlog ?? 4096)) {
      this.#backlog.shift();
      this.#dropped++;
    }
  }

  /**
   * Receive events by callback (the object passed is reused: copy what you
   * keep); events that arrived before are handed over first. `undefined`
   * stops, and events queue for {@link InputHandle.eventStream} again.
   */
  onEvent(callback: ((e: InputEvent) => void) | undefined): void {
    this.#onEvent = callback;
    if (callback === undefined) return;
    for (const e of this.#backlog.splice(0)) callback(e);
  }

  /** Events in order, as an async iterator (ends when the device is removed). */
  eventStream(): AsyncIterableIterator<InputEvent> {
    const next = (): Promise<IteratorResult<InputEvent>> => {
      const f = this.#backlog.shift();
      if (f) return Promise.resolve({ value: f, done: false });
      if (this.#closed) return Promise.resolve({ value: undefined, done: true });
      if (this.#broken !== undefined) return Promise.reject(this.#broken);
      return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
    };
    const it: AsyncIterableIterator<InputEvent> = {
      [Symbol.asyncIterator]: () => it,
      next,
      return: (): Promise<IteratorResult<InputEvent>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
    return it;
  }

  /** Send one event on the statusq (feedback such as EV_LED). */
  sendStatus(type: number, code: number, value: number): void {
    const vq = this.#status;
    if (vq === undefined || this.#closed) {
      throw new DeviceError(`${this.dev.name}: input device is gone`, {
        code: "ERR_VIRTIO_DEVICE_INPUT_GONE",
      });
    }
    if (vq.numFree === 0) this.#statusIrq(vq);
    const { memory, dma } = this.dev.dmaContext;
    const addr = dma.alloc(EVENT_SIZE, 8);
    const ev = new VirtioInputEvent(memory.view(addr, EVENT_SIZE));
    ev.type = type;
    ev.code = code;
    ev.value = value >>> 0;
    vq.addOutbuf({ addr, len: EVENT_SIZE }, { addr });
    vq.kick();
  }

  /** Turn LED `code` (LED_NUML, LED_CAPSL...) on or off. */
  setLed(code: number, on: boolean): void {
    this.sendStatus(EV_LED, code, on ? 1 : 0);
  }

  #statusIrq(vq: Virtqueue<Token>): void {
    const { dma } = this.dev.dmaContext;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      if (typeof b.token !== "number") dma.free(b.token.addr);
    }
  }

  /** The eventq broke: on removal the stream ends (below, in _release); otherwise readers fail. */
  #broke(error: DeviceError): void {
    if (error.code === ERR_VIRTIO_DEVICE_REMOVED) return;
    this.#broken = error;
    for (const r of this.#readers.splice(0)) r.reject(error);
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dev.dmaContext.dma.free(this.#base);
    for (const r of this.#readers) r.resolve({ value: undefined, done: true });
    this.#readers = [];
  }
}

function bits(b: Uint8Array): Set<number> {
  const s = new Set<number>();
  for (let i = 0; i < b.length; i++) {
    for (let j = 0; j < 8; j++) if (b[i] & (1 << j)) s.add(8 * i + j);
  }
  return s;
}
