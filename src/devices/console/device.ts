/**
 * The virtio console device model (spec 5.3, device id 3): one console
 * port, or with VIRTIO_CONSOLE_F_MULTIPORT up to `max_nr_ports` ports
 * driven by the control queues (DEVICE_READY, DEVICE_ADD/REMOVE (the
 * "port add/remove" messages), PORT_READY, CONSOLE_PORT, PORT_OPEN,
 * PORT_NAME, RESIZE). Also VIRTIO_CONSOLE_F_SIZE (console size in config,
 * resize with a configuration change) and VIRTIO_CONSOLE_F_EMERG_WRITE
 * (`emerg_wr`, usable before the driver is ready, 5.3.5.1).
 *
 * With `rprocSerial: true` it is a remote processor's serial port instead
 * (device id 11, `VIRTIO_ID_RPROC_SERIAL`, Linux's `virtio_rproc_serial`
 * driver in `drivers/char/virtio_console.c`): one port that is not a console,
 * no multiport, no console size and no emergency write (Linux tests none of
 * those features for it), and the port is open from the start (Linux
 * assumes the remote processor is connected).
 *
 * Each port is a pair of web streams on the device side:
 * {@link ConsoleDevicePort.readable} carries what the driver wrote (guest
 * output), {@link ConsoleDevicePort.writable} takes what the driver should read
 * (guest input). Both have backpressure. Guest output is copied out of each
 * transmit buffer and the buffer goes back to the driver at once, while the
 * port holds less than its output budget unread
 * ({@link ConsolePortOptions.outputBuffer}, 1 MiB by default); once the
 * budget is full, transmit buffers stay in the ring (a buffer that does not
 * fit is held and copied out as the reader makes room) until the host reads.
 * A write resolves once its bytes are in receive buffers. `attachStdio`
 * (./stdio.ts) joins a port to a terminal.
 *
 * Guest data is untrusted: control messages that are short, name a port
 * that does not exist or an event the driver may not send are ignored;
 * a chain the ring engine rejects sets DEVICE_NEEDS_RESET. A port never
 * holds more than its output budget of unread guest output, whatever the
 * size of the driver's buffers; emergency writes that find it full are
 * dropped and counted in {@link ConsoleDevice.droppedEmergWrites}.
 *
 * @example
 * ```ts
 * import { VirtioConsoleConfig } from "../../generated/devices/console.ts";
 * import { ConsoleDevice } from "./device.ts";
 *
 * const dev = new ConsoleDevice({ maxPorts: 4, ports: [{ console: true }, { name: "org.example.0" }] });
 * if (dev.queueMaxSizes.length !== 2 * (4 + 1)) throw new Error("unreachable");
 * dev.writeConfig(VirtioConsoleConfig.OFFSETS.emergWr, 4, 0x41); // emergency write of "A": appears on port 0's readable
 * ```
 *
 * @module
 */

import { ConfigDevice, type ConfigWidth, type DeviceContext } from "../../device.ts";
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
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { bit, ringFeatures } from "../../features.ts";
import { type ChainServer, publishUsed, serveQueue } from "../../queue_service.ts";
import {
  CONSOLE_OUTPUT_BUFFER,
  ConsoleDevicePort,
  type ConsolePortOptions,
  portHooks,
} from "./_device_port.ts";

export { CONSOLE_OUTPUT_BUFFER, ConsoleDevicePort, type ConsolePortOptions };

/** Queue index of port `id`'s receiveq (5.3.2): 0 for port 0, 2(id+1) after. */
export function consoleRxQueue(id: number): number {
  return id === 0 ? 0 : 2 * (id + 1);
}

/** Options of a {@link ConsoleDevice}. */
export interface ConsoleDeviceOptions {
  /** Offer VIRTIO_CONSOLE_F_MULTIPORT with this many ports at most (default: single port). */
  readonly maxPorts?: number;
  /** Ports present from the start (default one console port, port 0). */
  readonly ports?: readonly ConsolePortOptions[];
  /** Console size for VIRTIO_CONSOLE_F_SIZE (default 80x25; `null` to not offer the feature). */
  readonly size?: { readonly cols: number; readonly rows: number } | null;
  /** Offer VIRTIO_CONSOLE_F_EMERG_WRITE (default true). */
  readonly emergWrite?: boolean;
  /** Maximum size of every queue (default 64). */
  readonly queueSize?: number;
  /**
   * Be an rproc-serial device (`VIRTIO_ID_RPROC_SERIAL`, 11): one port, not a
   * console; `maxPorts`, `size` and `emergWrite` do not apply (default false).
   */
  readonly rprocSerial?: boolean;
}

/** A virtio-console device model; see the module documentation. */
export class ConsoleDevice extends ConfigDevice<VirtioConsoleConfig> {
  /** `VIRTIO_ID_CONSOLE` (3), or `VIRTIO_ID_RPROC_SERIAL` (11) in rproc-serial mode. */
  readonly deviceId: number;
  /** Is it an rproc-serial device? */
  readonly rprocSerial: boolean;
  /** Offered features. */
  readonly features: bigint;
  /** Queues: port 0's pair, then with MULTIPORT the control pair and a pair per further port. */
  readonly queueMaxSizes: readonly number[];
  /** Ports supported: `max_nr_ports`, or 1 without MULTIPORT. */
  readonly maxPorts: number;
  /** Control messages the device ignored (bad length, port or event). */
  get badControl(): number {
    return this.#badControl;
  }
  #badControl = 0;
  /** Emergency writes dropped because port 0's output budget was full. */
  get droppedEmergWrites(): number {
    return this.#droppedEmergWrites;
  }
  #droppedEmergWrites = 0;
  readonly #ports: (ConsoleDevicePort | undefined)[] = [];
  #multiport = false;
  #driverReady = false;
  readonly #outbox: Uint8Array[] = [];
  /** Per port id: a transmit chain partly copied out, waiting for room in the port's budget. */
  readonly #txHeld = new Map<number, { chain: DescriptorChain; off: number }>();
  readonly #txBusy = new Set<number>();
  readonly #ctl = new VirtioConsoleControl(
    new DataView(new ArrayBuffer(VirtioConsoleControl.SIZE)),
  );
  readonly #ctlBytes = new Uint8Array(this.#ctl.view.buffer);
  readonly #ctlGot: number[] = [];
  readonly #ctlServer: ChainServer = {
    serveChain: (c) => this.#serveControl(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A console device; see {@link ConsoleDeviceOptions}. */
  constructor(options: ConsoleDeviceOptions = {}) {
    super(VirtioConsoleConfig); // config bytes: `virtio_console_config`
    const rproc = options.rprocSerial ?? false;
    if (rproc && (options.maxPorts !== undefined || (options.ports?.length ?? 1) !== 1)) {
      throw new DeviceError("an rproc-serial device has exactly one port (no maxPorts)", {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_OPTION",
      });
    }
    this.rprocSerial = rproc;
    this.deviceId = rproc ? VIRTIO_ID_RPROC_SERIAL : VIRTIO_ID_CONSOLE;
    const multi = options.maxPorts !== undefined;
    const max = options.maxPorts ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 0x7fff) {
      throw new DeviceError(`maxPorts ${max} is outside 1..32767`, {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_OPTION",
      });
    }
    this.maxPorts = max;
    const size = rproc ? null : options.size === undefined ? { cols: 80, rows: 25 } : options.size;
    let f = ringFeatures(false);
    if (multi) f |= bit(VIRTIO_CONSOLE_F_MULTIPORT);
    if (size !== null) f |= bit(VIRTIO_CONSOLE_F_SIZE);
    if (!rproc && (options.emergWrite ?? true)) f |= bit(VIRTIO_CONSOLE_F_EMERG_WRITE);
    this.features = f;
    const qs = options.queueSize ?? 64;
    this.queueMaxSizes = Array.from({ length: multi ? 2 * (max + 1) : 2 }, () => qs);
    this.config.update(() => {
      this.cfg.cols = size?.cols ?? 0;
      this.cfg.rows = size?.rows ?? 0;
      this.cfg.maxNrPorts = multi ? max : 0;
    });
    const ports = options.ports ?? [{ console: !rproc }];
    if (ports.length > max) {
      throw new DeviceError(`${ports.length} ports but maxPorts is ${max}`, {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_OPTION",
      });
    }
    ports.forEach((p, i) => this.#makePort(i, p));
  }

  /** Console size from config. */
  get size(): { cols: number; rows: number } {
    return { cols: this.cfg.cols, rows: this.cfg.rows };
  }

  /** Port `id`, if it exists. */
  port(id: number): ConsoleDevicePort | undefined {
    return this.#ports[id];
  }

  /** Existing ports. */
  get ports(): ConsoleDevicePort[] {
    return this.#ports.filter((p): p is ConsoleDevicePort => p !== undefined);
  }

  /** Did the driver send DEVICE_READY? */
  get driverReady(): boolean {
    return this.#driverReady;
  }

  #makePort(id: number, o: ConsolePortOptions): ConsoleDevicePort {
    const p = new ConsoleDevicePort(
      id,
      o,
      (port) => this.#pullTx(port),
      (port) => this.#pushRx(port),
      this.rprocSerial,
    );
    this.#ports[id] = p;
    return p;
  }

  /**
   * Hot-add a port (multiport): sends VIRTIO_CONSOLE_DEVICE_ADD once the
   * driver is ready. `id` defaults to the lowest free number.
   */
  addPort(options: ConsolePortOptions = {}, id?: number): ConsoleDevicePort {
    if (!(this.features & bit(VIRTIO_CONSOLE_F_MULTIPORT))) {
      throw new DeviceError("addPort needs VIRTIO_CONSOLE_F_MULTIPORT (maxPorts)", {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_FEATURE",
      });
    }
    let n = id ?? 0;
    if (id === undefined) { while (this.#ports[n] !== undefined) n++; }
    // 5.3.6.2.1: never a port that exists, nor one >= max_nr_ports.
    if (this.#ports[n] !== undefined || n >= this.maxPorts || n < 0 || !Number.isInteger(n)) {
      throw new DeviceError(
        `cannot add console port ${n}: exists or is >= max_nr_ports ${this.maxPorts}`,
        { code: "ERR_VIRTIO_DEVICE_CONSOLE_PORT" },
      );
    }
    const p = this.#makePort(n, options);
    if (this.#driverReady) this.#send(n, VIRTIO_CONSOLE_DEVICE_ADD, 0);
    return p;
  }

  /** Hot-remove a port: sends VIRTIO_CONSOLE_DEVICE_REMOVE and ends its streams. */
  removePort(id: number): void {
    const p = this.#ports[id];
    if (p === undefined) {
      throw new DeviceError(`console port ${id} does not exist`, {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_NO_PORT",
      });
    }
    this.#ports[id] = undefined;
    this.#txHeld.delete(id);
    portHooks.state(p).removed = true;
    for (const w of portHooks.pending(p).splice(0)) w.resolve();
    try {
      portHooks.controller(p)?.close();
    } catch { /* already closed */ }
    if (this.#driverReady && this.#multiport) this.#send(id, VIRTIO_CONSOLE_DEVICE_REMOVE, 0);
  }

  /** Tell the driver the host side of port `id` opened or closed (PORT_OPEN). */
  setHostOpen(id: number, open: boolean): void {
    const p = this.#ports[id];
    if (p === undefined) {
      throw new DeviceError(`console port ${id} does not exist`, {
        code: "ERR_VIRTIO_DEVICE_CONSOLE_NO_PORT",
      });
    }
    portHooks.state(p).hostOpen = open;
    if (p.ready && this.#multiport) this.#send(id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0);
  }

  /**
   * The console changed size: with VIRTIO_CONSOLE_F_SIZE, update `cols` and
   * `rows` in config and raise a configuration change; with MULTIPORT,
   * also send VIRTIO_CONSOLE_RESIZE for console port `id` (default 0).
   */
  resize(cols: number, rows: number, id: number = 0): void {
    if (id === 0) {
      this.config.update(() => {
        this.cfg.cols = cols;
        this.cfg.rows = rows;
      });
      const f = this.context?.features ?? 0n;
      if (f & bit(VIRTIO_CONSOLE_F_SIZE) && !this.#multiport) this.context?.configChanged();
    }
    const p = this.#ports[id];
    if (this.#multiport && p?.ready && p.console) {
      const extra = new Uint8Array(VirtioConsoleResize.SIZE);
      const r = new VirtioConsoleResize(new DataView(extra.buffer));
      r.cols = cols;
      r.rows = rows;
      this.#send(id, VIRTIO_CONSOLE_RESIZE, 0, extra);
    }
  }

  /** Read config. */
  override readConfig(offset: number, width: ConfigWidth): number {
    // emerg_wr is write-only; it reads as 0.
    if (offset >= VirtioConsoleConfig.OFFSETS.emergWr) return 0;
    return this.config.read(offset, width);
  }

  /**
   * Writes to `emerg_wr` output one character on port 0 (5.3.5.1: even on
   * an unconfigured device); every other field is read-only.
   */
  override writeConfig(offset: number, _width: ConfigWidth, value: number): void {
    if (offset !== VirtioConsoleConfig.OFFSETS.emergWr) return;
    if (!(this.features & bit(VIRTIO_CONSOLE_F_EMERG_WRITE))) return;
    const p = this.#ports[0];
    const c = p && portHooks.controller(p);
    if (c === undefined) return;
    // The output budget holds for emergency writes too: a full port drops them.
    if ((c.desiredSize ?? 0) <= 0) {
      this.#droppedEmergWrites++;
      return;
    }
    // 5.3.5.1: the lower byte is the character.
    try {
      c.enqueue(Uint8Array.of(value & 0xff));
    } catch { /* stream closed */ }
  }

  /** Start serving. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
    this.#multiport = (ctx.features & bit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n;
    this.#driverReady = false;
    this.#outbox.length = 0;
    this.#txHeld.clear();
    for (const p of this.ports) {
      portHooks.state(p).ready = !this.#multiport && p.id === 0; // single port: port 0 is there at once
      portHooks.setGuestOpen(p, !this.#multiport && p.id === 0);
    }
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined) return;
    try {
      if (this.#multiport && index === 2) return this.#flushControl();
      if (this.#multiport && index === 3) return this.#processControl(ctx);
      const id = index < 2 ? 0 : (index >> 1) - 1;
      const p = this.#ports[id];
      if (p === undefined || (!this.#multiport && id !== 0)) return;
      if (index % 2 === 0) this.#pushRx(p);
      else this.#pullTx(p);
    } catch (e) {
      ctx.needsReset(e);
    }
  }

  /** Drop the driver's state; ports, their streams and pending writes stay. */
  override reset(): void {
    super.reset();
    this.#driverReady = false;
    this.#outbox.length = 0;
    this.#txHeld.clear();
    for (const p of this.ports) {
      portHooks.state(p).ready = false;
      portHooks.setGuestOpen(p, false);
    }
  }

  // ---- data ----

  /**
   * Move guest output from port `p`'s transmitq to its readable while the
   * port's output budget has room: each buffer is copied out and given back
   * at once. A buffer larger than the room left is copied out in parts as
   * the reader makes room, and given back after its last part, so the
   * readable never holds more than the budget.
   */
  #pullTx(p: ConsoleDevicePort): void {
    const ctx = this.context;
    const c = portHooks.controller(p);
    const qi = consoleRxQueue(p.id) + 1;
    const q = ctx?.queues[qi];
    if (ctx === undefined || q === undefined || c === undefined || !p.ready) return;
    // `enqueue` can call the stream's pull, so back here: the outer call goes on.
    if (this.#txBusy.has(p.id)) return;
    this.#txBusy.add(p.id);
    let used = 0;
    try {
      for (;;) {
        // Recomputed each time: a chunk handed straight to a waiting read takes no room.
        const room = c.desiredSize ?? 0;
        if (room <= 0) break;
        const held = this.#txHeld.get(p.id);
        const chain = held?.chain ?? q.pop();
        if (chain === null) break;
        const off = held?.off ?? 0;
        const n = Math.min(chain.readableLength - off, room);
        if (n > 0) {
          const data = new Uint8Array(n);
          chain.read(off, data);
          c.enqueue(data);
        }
        if (off + n < chain.readableLength) {
          // The budget is full before the end of this buffer: keep it (the
          // next turn goes on with it if a waiting read took the part).
          if (held) held.off = off + n;
          else this.#txHeld.set(p.id, { chain, off: off + n });
          continue;
        }
        if (held) this.#txHeld.delete(p.id);
        q.pushUsed(chain, 0);
        used++;
      }
    } catch (e) {
      this.#txHeld.delete(p.id);
      ctx.needsReset(e);
    } finally {
      this.#txBusy.delete(p.id);
    }
    if (used) publishUsed(ctx, q);
  }

  /** Move pending host writes for port `p` into its receiveq buffers. */
  #pushRx(p: ConsoleDevicePort): void {
    const ctx = this.context;
    const qi = consoleRxQueue(p.id);
    const q = ctx?.queues[qi];
    if (ctx === undefined || q === undefined || !p.ready) return;
    const pending = portHooks.pending(p);
    let used = 0;
    try {
      while (pending.length) {
        const w = pending[0];
        const chain = q.pop();
        if (chain === null) break;
        const n = chain.write(0, w.data, w.off);
        q.pushUsed(chain, n);
        used++;
        w.off += n;
        if (w.off >= w.data.length) {
          pending.shift();
          w.resolve();
        }
      }
    } catch (e) {
      ctx.needsReset(e);
    }
    if (used) publishUsed(ctx, q);
  }

  // ---- control (5.3.6.2) ----

  #send(id: number, event: number, value: number, extra?: Uint8Array): void {
    const c = this.#ctl;
    c.id = id;
    c.event = event;
    c.value = value;
    const msg = new Uint8Array(VirtioConsoleControl.SIZE + (extra?.length ?? 0));
    msg.set(this.#ctlBytes);
    if (extra) msg.set(extra, VirtioConsoleControl.SIZE);
    this.#outbox.push(msg);
    this.#flushControl();
  }

  #flushControl(): void {
    const ctx = this.context;
    const q = ctx?.queues[2];
    if (ctx === undefined || q === undefined) return;
    let used = 0;
    try {
      while (this.#outbox.length) {
        const chain = q.pop();
        if (chain === null) break;
        const msg = this.#outbox.shift() as Uint8Array;
        q.pushUsed(chain, chain.write(0, msg));
        used++;
      }
    } catch (e) {
      ctx.needsReset(e);
    }
    if (used) publishUsed(ctx, q);
  }

  #processControl(ctx: DeviceContext): void {
    // Handle messages after the ring work so replies see a consistent ring.
    const msgs = this.#ctlGot;
    serveQueue(ctx, 3, this.#ctlServer);
    const got = msgs.splice(0);
    for (let i = 0; i < got.length; i += 3) this.#control(got[i], got[i + 1], got[i + 2]);
  }

  /** One control message from the driver, kept as id, event, value for `#control`. */
  #serveControl(chain: DescriptorChain): number {
    const c = this.#ctl;
    // Copied once; id, event and value are read from the copy.
    if (chain.read(0, this.#ctlBytes) === VirtioConsoleControl.SIZE) {
      this.#ctlGot.push(c.id, c.event, c.value);
    } else this.#badControl++;
    return 0;
  }

  #control(id: number, event: number, value: number): void {
    switch (event) {
      case VIRTIO_CONSOLE_DEVICE_READY:
        if (value !== 1 || this.#driverReady) return;
        this.#driverReady = true;
        for (const p of this.ports) this.#send(p.id, VIRTIO_CONSOLE_DEVICE_ADD, 0);
        return;
      case VIRTIO_CONSOLE_PORT_READY: {
        const p = this.#ports[id];
        if (p === undefined || p.ready || !this.#driverReady) {
          this.#badControl++;
          return;
        }
        if (value !== 1) return; // the driver could not set the port up
        portHooks.state(p).ready = true;
        if (p.console) {
          this.#send(id, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
          if (this.features & bit(VIRTIO_CONSOLE_F_SIZE)) {
            this.resize(this.cfg.cols, this.cfg.rows, id);
          }
        }
        if (p.name !== undefined) {
          this.#send(id, VIRTIO_CONSOLE_PORT_NAME, 1, new TextEncoder().encode(p.name));
        }
        if (p.hostOpen) this.#send(id, VIRTIO_CONSOLE_PORT_OPEN, 1);
        this.#pushRx(p);
        return;
      }
      case VIRTIO_CONSOLE_PORT_OPEN: {
        const p = this.#ports[id];
        if (p === undefined || !p.ready || value > 1) {
          this.#badControl++;
          return;
        }
        portHooks.setGuestOpen(p, value === 1);
        if (value === 1) this.#pullTx(p);
        return;
      }
      default:
        // Events only the device sends, or unknown ones.
        this.#badControl++;
    }
  }
}
