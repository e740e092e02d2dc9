/**
 * The virtio-console driver (spec 5.3, driver side): a {@link VirtioDriver}
 * for the bus and a {@link Console} per bound device, whose ports
 * are web streams: {@link ConsolePort.readable} yields what the device
 * sent, {@link ConsolePort.writable} sends to the device. With
 * VIRTIO_CONSOLE_F_MULTIPORT it runs the control protocol (DEVICE_READY,
 * port add/remove, PORT_READY, CONSOLE_PORT answered with PORT_OPEN,
 * PORT_NAME, RESIZE); it follows the console size (VIRTIO_CONSOLE_F_SIZE)
 * and offers emergency writes (VIRTIO_CONSOLE_F_EMERG_WRITE).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioBus } from "../../bus.ts";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { ConsoleDevice } from "./device.ts";
 * import { ConsoleDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
 * const driver = new ConsoleDriver();
 * await bus.registerDriver(driver);
 * const device = new ConsoleDevice({ maxPorts: 2, ports: [{}, { name: "chan" }] });
 * const t = probeMmio(new MmioDevice(device, memory));
 * if (t === undefined) throw new Error("no device");
 * const con = driver.consoleOf(await bus.addDevice(t));
 * const port = await con?.whenPort("chan");
 * const w = port?.writable.getWriter();
 * await w?.write(new TextEncoder().encode("hi host"));
 * const r = device.port(1)?.readable.getReader();
 * assert.equal(new TextDecoder().decode((await r?.read())?.value), "hi host");
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue, VqInfo } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_CONSOLE, VIRTIO_ID_RPROC_SERIAL } from "../../generated/common.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
  VirtioConsoleConfig,
  VirtioConsoleControl,
  VirtioConsoleResize,
} from "../../generated/devices/console.ts";
import { consoleRxQueue } from "./device.ts";

/** Options of a {@link ConsoleDriver}. */
export interface ConsoleDriverOptions {
  /** Feature bits to negotiate (default SIZE, MULTIPORT, EMERG_WRITE). */
  readonly features?: readonly number[];
  /** Most ports to set queues up for (default 32). */
  readonly maxPorts?: number;
  /** Receive buffers per port (default 16) and their size (default 4096). */
  readonly rxBuffers?: number;
  /** Size of each receive buffer (default 4096). */
  readonly rxBufferSize?: number;
  /**
   * Drive rproc-serial devices (`VIRTIO_ID_RPROC_SERIAL`, 11) instead, as
   * Linux's `virtio_rproc_serial`: no features, one port that is not a
   * console (default false).
   */
  readonly rprocSerial?: boolean;
}

interface TxToken {
  addr: number;
  resolve: () => void;
  /** Fails the write (its queue broke); undefined for control messages. */
  reject: ((e: DeviceError) => void) | undefined;
}

/** Buffer tokens: a buffer index for receive queues, a send for transmit queues. */
type Token = number | TxToken;

interface RxBuffers {
  base: number;
  count: number;
  held: number[];
}

/** A console size. */
export interface ConsoleSize {
  /** Columns. */
  readonly cols: number;
  /** Rows. */
  readonly rows: number;
}

/** The driver for virtio-console devices. */
export class ConsoleDriver implements VirtioDriver {
  /** `virtio-console`, or `virtio_rproc_serial`. */
  readonly name: string;
  /** Binds to `VIRTIO_ID_CONSOLE`, or `VIRTIO_ID_RPROC_SERIAL` in rproc-serial mode. */
  readonly idTable: readonly { device: number }[];
  /** Features negotiated. */
  readonly featureTable: readonly number[];
  readonly #options: ConsoleDriverOptions;
  readonly #consoles = new Map<DriverDevice, Console>();

  /** A driver; see {@link ConsoleDriverOptions}. */
  constructor(options: ConsoleDriverOptions = {}) {
    this.#options = options;
    const rproc = options.rprocSerial ?? false;
    this.name = rproc ? "virtio_rproc_serial" : "virtio-console";
    this.idTable = [{ device: rproc ? VIRTIO_ID_RPROC_SERIAL : VIRTIO_ID_CONSOLE }];
    // virtio_console.c: rproc_serial_features is empty; MULTIPORT and SIZE are not valid for it.
    this.featureTable = options.features ?? (rproc ? [] : [
      VIRTIO_CONSOLE_F_SIZE,
      VIRTIO_CONSOLE_F_MULTIPORT,
      VIRTIO_CONSOLE_F_EMERG_WRITE,
    ]);
  }

  /** The console of `dev`, once bound. */
  consoleOf(dev: DriverDevice): Console | undefined {
    return this.#consoles.get(dev);
  }

  /** Bind: queues, buffers, DRIVER_OK, DEVICE_READY. */
  probe(dev: DriverDevice): void {
    const c = new Console(dev, this.#options);
    this.#consoles.set(dev, c);
    consoleHooks.start(c);
  }

  /** Unbind: reset, reclaim, end every port's streams. */
  remove(dev: DriverDevice): void {
    const c = this.#consoles.get(dev);
    this.#consoles.delete(dev);
    dev.reset();
    dev.delVqs();
    if (c) consoleHooks.release(c);
  }

  /** Console size changed (single-port devices with VIRTIO_CONSOLE_F_SIZE). */
  configChanged(dev: DriverDevice): void {
    const c = this.#consoles.get(dev);
    if (c) consoleHooks.configChanged(c);
  }
}

/** A virtio-console driver for the bus; the same as `new ConsoleDriver(options)`. */
export function consoleDriver(options: ConsoleDriverOptions = {}): ConsoleDriver {
  return new ConsoleDriver(options);
}

/** A {@link ConsolePort}'s state as the device reported it; users read it through getters. */
interface PortState {
  name: string | undefined;
  isConsole: boolean;
  hostOpen: boolean;
  guestOpen: boolean;
  size: ConsoleSize | undefined;
  removed: boolean;
}

/** ConsolePort's private members, for the rest of this module (set in its `static` block). */
let portHooks: {
  state(p: ConsolePort): PortState;
  controller(p: ConsolePort): ReadableStreamDefaultController<Uint8Array> | undefined;
  setSize(p: ConsolePort, size: ConsoleSize): void;
  setHostOpen(p: ConsolePort, open: boolean): void;
};

/** One port as the driver sees it. */
export class ConsolePort {
  /** Port number. */
  readonly id: number;
  /** Data the device sent to this port. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Data to send to the device; a write resolves once the device has used the buffers. */
  readonly writable: WritableStream<Uint8Array>;
  /** What the device told us about the port; {@link Console} writes it through `portHooks`. */
  readonly #s: PortState = {
    name: undefined,
    isConsole: false,
    hostOpen: false,
    guestOpen: false,
    size: undefined,
    removed: false,
  };
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  readonly #console: Console;
  readonly #resize = new Set<(size: ConsoleSize) => void>();
  readonly #hostOpen = new Set<(open: boolean) => void>();

  static {
    portHooks = {
      state: (p) => p.#s,
      controller: (p) => p.#controller,
      setSize: (p, size) => p.#setSize(size),
      setHostOpen: (p, open) => p.#setHostOpen(open),
    };
  }

  /** Made by {@link Console}. */
  constructor(console: Console, id: number, pull: () => void) {
    this.#console = console;
    this.id = id;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull,
    }, new CountQueuingStrategy({ highWaterMark: 16 }));
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => consoleHooks.write(this.#console, this, chunk),
    });
  }

  /** Name from VIRTIO_CONSOLE_PORT_NAME. */
  get name(): string | undefined {
    return this.#s.name;
  }

  /** Nominated as a console (VIRTIO_CONSOLE_CONSOLE_PORT; port 0 of a single-port device). */
  get isConsole(): boolean {
    return this.#s.isConsole;
  }

  /** The host side is open (VIRTIO_CONSOLE_PORT_OPEN from the device). */
  get hostOpen(): boolean {
    return this.#s.hostOpen;
  }

  /** We told the device the port is open. */
  get guestOpen(): boolean {
    return this.#s.guestOpen;
  }

  /** Console size (RESIZE or config). */
  get size(): ConsoleSize | undefined {
    return this.#s.size;
  }

  /** Removed by the device (DEVICE_REMOVE) or the device went away. */
  get removed(): boolean {
    return this.#s.removed;
  }

  /** Tell the device the port is open or closed here (VIRTIO_CONSOLE_PORT_OPEN). */
  setOpen(open: boolean): void {
    this.#s.guestOpen = open;
    consoleHooks.control(this.#console, this.id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0);
  }

  /** Call `listener` on console resizes; returns an unsubscribe function. */
  onResize(listener: (size: ConsoleSize) => void): () => void {
    this.#resize.add(listener);
    return () => this.#resize.delete(listener);
  }

  /** Call `listener` when the host opens or closes the port; returns an unsubscribe function. */
  onHostOpenChange(listener: (open: boolean) => void): () => void {
    this.#hostOpen.add(listener);
    return () => this.#hostOpen.delete(listener);
  }

  #setSize(size: ConsoleSize): void {
    this.#s.size = size;
    for (const l of this.#resize) l(size);
  }

  #setHostOpen(open: boolean): void {
    if (open === this.#s.hostOpen) return;
    this.#s.hostOpen = open;
    for (const l of this.#hostOpen) l(open);
  }
}

/** Console's private members, for the rest of this module (set in its `static` block). */
let consoleHooks: {
  start(c: Console): void;
  write(c: Console, p: ConsolePort, chunk: Uint8Array): Promise<void>;
  control(c: Console, id: number, event: number, value: number): void;
  configChanged(c: Console): void;
  release(c: Console): void;
};

/** A bound console device: its ports, size and emergency write. */
export class Console {
  /** The device. */
  readonly dev: DriverDevice;
  /** Was VIRTIO_CONSOLE_F_MULTIPORT negotiated? */
  readonly multiport: boolean;
  /** Ports the driver set queues up for. */
  readonly maxPorts: number;
  readonly #ports = new Map<number, ConsolePort>();
  readonly #rx = new Map<number, RxBuffers>();
  readonly #allocs: number[] = [];
  readonly #options: ConsoleDriverOptions;
  readonly #waiters: { match: number | string; resolve: (p: ConsolePort) => void }[] = [];
  readonly #added = new Set<(p: ConsolePort) => void>();
  readonly #removedL = new Set<(p: ConsolePort) => void>();
  readonly #txWait: (() => void)[] = [];
  /** Writes the device holds, failed if their queue breaks. */
  readonly #txPending = new Set<TxToken>();
  readonly #ctl = new VirtioConsoleControl(new DataView(new ArrayBuffer(8)));
  #ctrlRx: RxBuffers | undefined;
  #ctrlBusy = false;
  #ctrlAgain = false;
  #closed = false;
  #bufSize: number;
  /** Control messages from the device that were malformed or unexpected. */
  get badControl(): number {
    return this.#badControl;
  }
  #badControl = 0;

  static {
    consoleHooks = {
      start: (c) => c.#start(),
      write: (c, p, chunk) => c.#write(p, chunk),
      control: (c, id, event, value) => c.#control(id, event, value),
      configChanged: (c) => c.#configChanged(),
      release: (c) => c.#release(),
    };
  }

  /** Made by {@link ConsoleDriver.probe}. */
  constructor(dev: DriverDevice, options: ConsoleDriverOptions) {
    this.dev = dev;
    this.#options = options;
    this.multiport = dev.hasFeature(VIRTIO_CONSOLE_F_MULTIPORT);
    const max = this.multiport
      ? dev.readConfig((c) => c.le32(VirtioConsoleConfig.OFFSETS.maxNrPorts))
      : 1;
    this.maxPorts = Math.max(1, Math.min(max, options.maxPorts ?? 32));
    this.#bufSize = options.rxBufferSize ?? 4096;
  }

  /** Existing ports. */
  get ports(): ConsolePort[] {
    return [...this.#ports.values()];
  }

  /** Port `id`, if the device added it. */
  port(id: number): ConsolePort | undefined {
    return this.#ports.get(id);
  }

  /** Resolves with the port of that id or name once the device adds it. */
  whenPort(match: number | string): Promise<ConsolePort> {
    const found = this.ports.find((p) => p.id === match || p.name === match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Call `listener` for every port added; returns an unsubscribe function. */
  onPortAdded(listener: (p: ConsolePort) => void): () => void {
    this.#added.add(listener);
    return () => this.#added.delete(listener);
  }

  /** Call `listener` for every port removed; returns an unsubscribe function. */
  onPortRemoved(listener: (p: ConsolePort) => void): () => void {
    this.#removedL.add(listener);
    return () => this.#removedL.delete(listener);
  }

  /**
   * Write `text` through `emerg_wr`, a byte at a time (VIRTIO_CONSOLE_F_EMERG_WRITE):
   * the path that works when the queues do not. Returns false without the feature.
   */
  emergencyWrite(text: string | Uint8Array): boolean {
    if (!this.dev.hasFeature(VIRTIO_CONSOLE_F_EMERG_WRITE)) return false;
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    for (const b of bytes) this.dev.writeConfig(VirtioConsoleConfig.OFFSETS.emergWr, 4, b);
    return true;
  }

  #start(): void {
    const dev = this.dev;
    const infos: VqInfo<Token>[] = [];
    const n = this.multiport ? 2 * (this.maxPorts + 1) : 2;
    for (let q = 0; q < n; q++) {
      const rx = q % 2 === 0;
      infos.push({
        name: q === 2 && this.multiport
          ? "control.rx"
          : q === 3 && this.multiport
          ? "control.tx"
          : `port.${rx ? "rx" : "tx"}${q}`,
        callback: (vq) => this.#irq(q, vq),
        // Transmit queues: writes waiting for the device or for room fail when the queue breaks.
        onBroken: rx ? undefined : (_vq, error) => this.#txBroken(error),
      });
    }
    dev.findVqs<Token>(infos);
    dev.deviceReady();
    if (this.multiport) {
      this.#ctrlRx = this.#postBuffers(2, 16, 512);
      dev.vqs[2].kick();
      // 5.3.6.2.2: the driver MUST send DEVICE_READY.
      this.#control(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    } else {
      const p = this.#addPort(0);
      const s = portHooks.state(p);
      s.isConsole = dev.deviceId !== VIRTIO_ID_RPROC_SERIAL;
      s.hostOpen = true;
      s.guestOpen = true;
      if (dev.hasFeature(VIRTIO_CONSOLE_F_SIZE)) this.#configChanged();
    }
  }

  #postBuffers(q: number, count: number, size: number): RxBuffers {
    const { dma } = this.dev.dmaContext;
    const vq = this.dev.vqs[q] as Virtqueue<Token>;
    const n = Math.min(count, vq.size);
    const base = dma.alloc(n * size, 16);
    this.#allocs.push(base);
    for (let i = 0; i < n; i++) vq.addInbuf({ addr: base + i * size, len: size }, i);
    return { base, count: n, held: [] };
  }

  #addPort(id: number): ConsolePort {
    const q = consoleRxQueue(id);
    const p = new ConsolePort(this, id, () => this.#repost(id));
    this.#ports.set(id, p);
    // Buffers stay in the ring across remove/add of the same id.
    if (!this.#rx.has(q)) {
      this.#rx.set(q, this.#postBuffers(q, this.#options.rxBuffers ?? 16, this.#bufSize));
      this.dev.vqs[q].kick();
    }
    return p;
  }

  #announce(p: ConsolePort, added: boolean): void {
    if (added) { for (const l of this.#added) l(p); }
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i];
      if (w.match === p.id || w.match === p.name) {
        this.#waiters.splice(i, 1);
        w.resolve(p);
      }
    }
  }

  #repost(id: number): void {
    const q = consoleRxQueue(id);
    const rx = this.#rx.get(q);
    const vq = this.dev.vqs[q] as Virtqueue<Token> | undefined;
    if (rx === undefined || vq === undefined || vq.broken || rx.held.length === 0) return;
    for (const i of rx.held.splice(0)) {
      vq.addInbuf({ addr: rx.base + i * this.#bufSize, len: this.#bufSize }, i);
    }
    vq.kick();
  }

  #irq(q: number, vq: Virtqueue<Token>): void {
    if (this.multiport && q === 2) return this.#ctrlIrq(vq);
    if (q % 2 === 1) return this.#txIrq(vq);
    const rx = this.#rx.get(q);
    if (rx === undefined) return;
    const id = q === 0 ? 0 : q / 2 - 1;
    const p = this.#ports.get(id);
    const mem = this.dev.dmaContext.memory;
    let posted = 0;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const i = b.token;
      if (typeof i !== "number" || i >= rx.count) continue;
      const addr = rx.base + i * this.#bufSize;
      const len = Math.min(b.len, this.#bufSize);
      const c = p && portHooks.controller(p);
      if (c && len > 0 && !p?.removed) {
        try {
          c.enqueue(mem.bytes(addr, len).slice());
        } catch { /* reader cancelled */ }
      }
      // Backpressure: keep the buffer while the reader is behind.
      if (c && (c.desiredSize ?? 1) <= 0) {
        rx.held.push(i);
      } else {
        vq.addInbuf({ addr, len: this.#bufSize }, i);
        posted++;
      }
    }
    if (posted) vq.kick();
  }

  /** A transmit queue broke: pending writes fail, writers waiting for room wake and fail. */
  #txBroken(error: DeviceError): void {
    for (const t of this.#txPending) t.reject?.(error);
    this.#txPending.clear();
    for (const w of this.#txWait.splice(0)) w();
  }

  #txIrq(vq: Virtqueue<Token>): void {
    const { dma } = this.dev.dmaContext;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const t = b.token;
      if (typeof t === "number") continue;
      dma.free(t.addr);
      this.#txPending.delete(t);
      t.resolve();
    }
    while (this.#txWait.length) this.#txWait.shift()?.();
  }

  /** Sends `chunk` on port `p`, in pieces of at most 4 KiB. */
  async #write(p: ConsolePort, chunk: Uint8Array): Promise<void> {
    const q = consoleRxQueue(p.id) + 1;
    const done: Promise<void>[] = [];
    for (let off = 0; off < chunk.length; off += 4096) {
      if (this.#closed || p.removed) {
        throw new DeviceError(`console port ${p.id} is gone`, {
          code: "ERR_VIRTIO_DEVICE_CONSOLE_GONE",
        });
      }
      const vq = this.dev.vqs[q] as Virtqueue<Token>;
      while (vq.numFree === 0) {
        await new Promise<void>((r) => this.#txWait.push(r));
        if (vq.brokenError !== undefined) throw vq.brokenError;
        if (this.#closed) {
          throw new DeviceError(`console port ${p.id} is gone`, {
            code: "ERR_VIRTIO_DEVICE_CONSOLE_GONE",
          });
        }
      }
      const piece = chunk.subarray(off, off + 4096);
      const { memory, dma } = this.dev.dmaContext;
      const addr = dma.alloc(piece.length, 8);
      memory.write(addr, piece);
      const sent = new Promise<void>((resolve, reject) => {
        const t: TxToken = { addr, resolve, reject };
        vq.addOutbuf({ addr, len: piece.length }, t);
        this.#txPending.add(t);
      });
      done.push(sent);
      try {
        vq.kick();
      } catch (e) {
        await Promise.allSettled(done);
        throw e;
      }
    }
    await Promise.all(done);
  }

  /** Sends a control message (multiport). */
  #control(id: number, event: number, value: number): void {
    if (!this.multiport || this.#closed) return;
    const { memory, dma } = this.dev.dmaContext;
    const c = this.#ctl;
    c.id = id;
    c.event = event;
    c.value = value;
    const addr = dma.alloc(8, 8);
    memory.write(addr, new Uint8Array(c.view.buffer));
    const vq = this.dev.vqs[3] as Virtqueue<Token>;
    if (vq.numFree === 0) this.#txIrq(vq);
    vq.addOutbuf({ addr, len: 8 }, { addr, resolve: () => {}, reject: undefined });
    vq.kick();
  }

  #ctrlIrq(vq: Virtqueue<Token>): void {
    if (this.#ctrlBusy) {
      this.#ctrlAgain = true;
      return;
    }
    this.#ctrlBusy = true;
    try {
      do {
        this.#ctrlAgain = false;
        this.#ctrlDrain(vq);
      } while (this.#ctrlAgain);
    } finally {
      this.#ctrlBusy = false;
    }
  }

  #ctrlDrain(vq: Virtqueue<Token>): void {
    const rx = this.#ctrlRx;
    if (rx === undefined) return;
    const mem = this.dev.dmaContext.memory;
    const size = 512;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const i = b.token;
      if (typeof i !== "number" || i >= rx.count) continue;
      const addr = rx.base + i * size;
      const len = Math.min(b.len, size);
      const msg = mem.bytes(addr, len).slice();
      vq.addInbuf({ addr, len: size }, i);
      vq.kick();
      this.#message(msg);
    }
  }

  #message(msg: Uint8Array): void {
    if (msg.length < 8) {
      this.#badControl++;
      return;
    }
    const c = new VirtioConsoleControl(new DataView(msg.buffer));
    const id = c.id;
    const p = this.#ports.get(id);
    switch (c.event) {
      case VIRTIO_CONSOLE_DEVICE_ADD: {
        if (p !== undefined) {
          this.#badControl++;
          return;
        }
        if (id >= this.maxPorts) {
          // No queues for it: tell the device the port failed.
          this.#control(id, VIRTIO_CONSOLE_PORT_READY, 0);
          return;
        }
        const np = this.#addPort(id);
        this.#control(id, VIRTIO_CONSOLE_PORT_READY, 1);
        this.#announce(np, true);
        return;
      }
      case VIRTIO_CONSOLE_DEVICE_REMOVE: {
        if (p === undefined) {
          this.#badControl++;
          return;
        }
        this.#ports.delete(id);
        portHooks.state(p).removed = true;
        try {
          portHooks.controller(p)?.close();
        } catch { /* closed */ }
        for (const l of this.#removedL) l(p);
        return;
      }
      case VIRTIO_CONSOLE_CONSOLE_PORT:
        if (p === undefined) break;
        portHooks.state(p).isConsole = true;
        // 5.3.6.2.2: answer with PORT_OPEN, value 1.
        p.setOpen(true);
        return;
      case VIRTIO_CONSOLE_RESIZE: {
        if (p === undefined || msg.length < 8 + VirtioConsoleResize.SIZE) break;
        const r = new VirtioConsoleResize(new DataView(msg.buffer, 8));
        portHooks.setSize(p, { cols: r.cols, rows: r.rows });
        return;
      }
      case VIRTIO_CONSOLE_PORT_OPEN:
        if (p === undefined || c.value > 1) break;
        portHooks.setHostOpen(p, c.value === 1);
        return;
      case VIRTIO_CONSOLE_PORT_NAME:
        if (p === undefined) break;
        portHooks.state(p).name = new TextDecoder().decode(msg.subarray(8));
        this.#announce(p, false);
        return;
    }
    this.#badControl++;
  }

  /** Single-port console size from config. */
  #configChanged(): void {
    const p = this.#ports.get(0);
    if (p === undefined || this.multiport || !this.dev.hasFeature(VIRTIO_CONSOLE_F_SIZE)) return;
    const size = this.dev.readConfig((c) => ({
      cols: c.le16(VirtioConsoleConfig.OFFSETS.cols),
      rows: c.le16(VirtioConsoleConfig.OFFSETS.rows),
    }));
    if (p.size?.cols !== size.cols || p.size?.rows !== size.rows) portHooks.setSize(p, size);
  }

  /** The device went away. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    const dma = this.dev.dmaContext.dma;
    for (const a of this.#allocs) dma.free(a);
    for (const p of this.#ports.values()) {
      portHooks.state(p).removed = true;
      try {
        portHooks.controller(p)?.close();
      } catch { /* closed */ }
    }
    for (const w of this.#txWait.splice(0)) w();
  }
}
