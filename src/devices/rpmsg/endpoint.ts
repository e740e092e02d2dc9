/**
 * rpmsg endpoints and channels, the queue-free layer both ends of the bus
 * share: the device (the remote processor, {@link RpmsgDevice}) and the
 * driver (Linux's side, {@link Rpmsg}) each keep a table of local
 * endpoints by address, dispatch every incoming message by its `dst`, and
 * learn the peer's services from name-service announcements on address 53
 * (`RPMSG_NS_ADDR`).
 *
 * An {@link RpmsgEndpoint} has a local address and a default remote one:
 * `send(data)` goes to the remote address, `sendTo(dst, data)` anywhere;
 * messages arrive through `onMessage` listeners or `receive()`. An endpoint
 * created with an address of `RPMSG_ADDR_ANY` whose remote address is
 * unknown takes the source of the first message it gets as its remote (as
 * OpenAMP's remote side does).
 *
 * @example
 * ```ts ignore
 * const ep = device.createEndpoint("rpmsg-raw", 0x400);   // announced to the driver
 * ep.onMessage((m) => ep.sendTo(m.src, m.data));          // an echo service
 * ```
 *
 * @module
 */

import { ArgumentError, DeviceError } from "../../errors.ts";
import {
  RPMSG_ADDR_ANY,
  RPMSG_NAME_SIZE,
  RPMSG_NS_ADDR,
  RPMSG_NS_CREATE,
  RPMSG_NS_DESTROY,
  RPMSG_RESERVED_ADDRESSES,
  RpmsgNsMsg,
} from "../../generated/devices/rpmsg.ts";

/** One message as an endpoint receives it. */
export interface RpmsgMessage {
  /** The sender's address. */
  readonly src: number;
  /** The receiving endpoint's address. */
  readonly dst: number;
  /** The payload (our own copy). */
  readonly data: Uint8Array;
}

/** A service the peer announced on the name-service channel. */
export interface RpmsgChannel {
  /** The service name (at most 31 bytes). */
  readonly name: string;
  /** The peer endpoint's address. */
  readonly addr: number;
}

/** What a channel listener hears: a service appeared or went away. */
export type RpmsgChannelEvent = "create" | "destroy";

/** Options of `createEndpoint`. */
export interface RpmsgEndpointOptions {
  /**
   * Announce the endpoint to the peer with a name-service CREATE (and a
   * DESTROY on close) when VIRTIO_RPMSG_F_NS was negotiated (default true
   * when the endpoint has a name).
   */
  readonly announce?: boolean;
  /** The default destination of {@link RpmsgEndpoint.send} (default: learned from the first message). */
  readonly remote?: number;
}

/** Messages kept for {@link RpmsgEndpoint.receive} when nobody listens; older ones are dropped past this. */
const BACKLOG = 4096;

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The part of each end that moves bytes, under an {@link RpmsgNode}:
 * {@link RpmsgDevice} and {@link Rpmsg} each give their node one.
 */
export interface RpmsgTransmitter {
  /** Largest payload of one message (the buffer size minus the header). */
  readonly maxPayload: number;
  /** A name for messages (`rpmsg device`, `virtio0`). */
  readonly label: string;
  /** Queue one message; resolves once it is in a buffer of the peer. */
  transmit(src: number, dst: number, data: Uint8Array): Promise<void>;
}

/** RpmsgEndpoint's private members, for the rest of this module (set in its `static` block). */
let endpointHooks: {
  deliver(ep: RpmsgEndpoint, m: RpmsgMessage): void;
};

/** A local endpoint: an address that receives messages and sends from it. */
export class RpmsgEndpoint {
  /** The name (announced when it is not empty). */
  readonly name: string;
  /** The local address. */
  readonly addr: number;
  /** Where {@link RpmsgEndpoint.send} goes; `RPMSG_ADDR_ANY` until known. */
  get remote(): number {
    return this.#remote;
  }
  #remote: number;
  /** Was it announced (and so is withdrawn with a DESTROY on close)? */
  readonly announce: boolean;
  /** Messages received since creation. */
  get received(): number {
    return this.#received;
  }
  #received = 0;
  /** Messages dropped because {@link RpmsgEndpoint.receive}'s backlog was full. */
  get dropped(): number {
    return this.#dropped;
  }
  #dropped = 0;
  #closed = false;
  readonly #node: RpmsgNode;
  readonly #listeners = new Set<(m: RpmsgMessage) => void>();
  readonly #backlog: RpmsgMessage[] = [];
  readonly #waiters: { resolve: (m: RpmsgMessage) => void; reject: (e: Error) => void }[] = [];

  static {
    endpointHooks = {
      deliver: (ep, m) => ep.#deliver(m),
    };
  }

  /** Made by `createEndpoint`. */
  constructor(node: RpmsgNode, name: string, addr: number, options: RpmsgEndpointOptions) {
    this.#node = node;
    this.name = name;
    this.addr = addr;
    this.#remote = options.remote ?? RPMSG_ADDR_ANY;
    this.announce = (options.announce ?? true) && name !== "";
  }

  /** Closed with {@link RpmsgEndpoint.close}? */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends `data` to {@link RpmsgEndpoint.remote}. */
  send(data: Uint8Array): Promise<void> {
    if (this.#remote === RPMSG_ADDR_ANY) {
      return Promise.reject(
        new ArgumentError(
          `rpmsg endpoint ${this.addr}: no remote address yet (use sendTo, or set remote)`,
          { code: "ERR_VIRTIO_ARGUMENT_RPMSG_NO_REMOTE" },
        ),
      );
    }
    return this.sendTo(this.#remote, data);
  }

  /** Sends `data` from this endpoint to address `dst`; resolves once it is in the peer's buffer. */
  sendTo(dst: number, data: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new DeviceError(`rpmsg endpoint ${this.addr} is closed`, {
          code: "ERR_VIRTIO_DEVICE_RPMSG_CLOSED",
        }),
      );
    }
    return nodeHooks.send(this.#node, this.addr, dst, data);
  }

  /** Calls `listener` for every message; returns an unsubscribe function. */
  onMessage(listener: (m: RpmsgMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The next message not given to a listener (messages wait in a backlog
   * while nobody listens or asks). Rejects once the endpoint is closed.
   */
  receive(): Promise<RpmsgMessage> {
    const m = this.#backlog.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Withdraws the endpoint: a DESTROY announcement if it was announced, pending receives reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    nodeHooks.remove(this.#node, this);
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
  }

  #closedError(): DeviceError {
    return new DeviceError(`rpmsg endpoint ${this.addr} is closed`, {
      code: "ERR_VIRTIO_DEVICE_RPMSG_CLOSED",
    });
  }

  /** A message for this endpoint. */
  #deliver(m: RpmsgMessage): void {
    this.#received++;
    if (this.#remote === RPMSG_ADDR_ANY) this.#remote = m.src;
    const w = this.#waiters.shift();
    if (w !== undefined) return w.resolve(m);
    if (this.#listeners.size > 0) {
      for (const l of this.#listeners) l(m);
      return;
    }
    if (this.#backlog.length >= BACKLOG) {
      this.#backlog.shift();
      this.#dropped++;
    }
    this.#backlog.push(m);
  }
}

/** RpmsgNode's private members, for its endpoints (set in its `static` block). */
let nodeHooks: {
  /** Sends from `src`, checking the size first. */
  send(node: RpmsgNode, src: number, dst: number, data: Uint8Array): Promise<void>;
  /** An endpoint closed. */
  remove(node: RpmsgNode, ep: RpmsgEndpoint): void;
};

/**
 * One end of the bus without its queues: the endpoint table, address
 * allocation, dispatch by `dst`, and the name service, over an
 * {@link RpmsgTransmitter}. {@link RpmsgDevice} and {@link Rpmsg} each own
 * one; their `createEndpoint`, `channels` and friends are its.
 */
export class RpmsgNode {
  /** Local endpoints by address. */
  readonly endpoints: Map<number, RpmsgEndpoint> = new Map();
  /** Messages dropped: no endpoint at their `dst`. */
  get unknownDst(): number {
    return this.#unknownDst;
  }
  #unknownDst = 0;
  /** Name-service messages dropped: wrong size or unknown flags. */
  get badAnnouncements(): number {
    return this.#badAnnouncements;
  }
  #badAnnouncements = 0;
  /** Was VIRTIO_RPMSG_F_NS negotiated (announcements go out and are heard)? */
  get ns(): boolean {
    return this.#ns;
  }
  #ns = false;
  readonly #io: RpmsgTransmitter;
  readonly #channels = new Map<string, RpmsgChannel>();
  readonly #channelListeners = new Set<(c: RpmsgChannel, e: RpmsgChannelEvent) => void>();
  readonly #channelWaiters: { name: string; resolve: (c: RpmsgChannel) => void }[] = [];
  #next = RPMSG_RESERVED_ADDRESSES;
  readonly #nsOut = new RpmsgNsMsg(new DataView(new ArrayBuffer(RpmsgNsMsg.SIZE)));

  static {
    nodeHooks = {
      send: (node, src, dst, data) => node.#send(src, dst, data),
      remove: (node, ep) => node.#remove(ep),
    };
  }

  /** An end that sends through `io`. */
  constructor(io: RpmsgTransmitter) {
    this.#io = io;
  }

  /** The services the peer announced and has not withdrawn. */
  get channels(): RpmsgChannel[] {
    return [...this.#channels.values()];
  }

  /** Calls `listener` when the peer announces or withdraws a service; returns an unsubscribe function. */
  onChannel(listener: (c: RpmsgChannel, e: RpmsgChannelEvent) => void): () => void {
    this.#channelListeners.add(listener);
    return () => this.#channelListeners.delete(listener);
  }

  /** The peer's channel named `name`, once announced. */
  waitChannel(name: string): Promise<RpmsgChannel> {
    const c = this.channels.find((c) => c.name === name);
    if (c !== undefined) return Promise.resolve(c);
    return new Promise((resolve) => this.#channelWaiters.push({ name, resolve }));
  }

  /** Creates a local endpoint at `addr` (`RPMSG_ADDR_ANY`: the next free one from 1024). */
  createEndpoint(
    name: string,
    addr: number = RPMSG_ADDR_ANY,
    options: RpmsgEndpointOptions = {},
  ): RpmsgEndpoint {
    if (enc.encode(name).length >= RPMSG_NAME_SIZE) {
      throw new ArgumentError(
        `rpmsg endpoint name ${JSON.stringify(name)} is longer than ${RPMSG_NAME_SIZE - 1} bytes`,
        { code: "ERR_VIRTIO_ARGUMENT_RPMSG_NAME" },
      );
    }
    if (addr === RPMSG_ADDR_ANY) addr = this.#allocate();
    else if (
      !Number.isInteger(addr) || addr < 0 || addr >= RPMSG_ADDR_ANY || addr === RPMSG_NS_ADDR ||
      this.endpoints.has(addr)
    ) {
      throw new ArgumentError(
        `rpmsg address ${addr} is in use, reserved (53) or not in 0..0xfffffffe`,
        { code: "ERR_VIRTIO_ARGUMENT_RPMSG_ADDR" },
      );
    }
    const ep = new RpmsgEndpoint(this, name, addr, options);
    this.endpoints.set(addr, ep);
    if (ep.announce && this.ns) this.#announce(ep, RPMSG_NS_CREATE);
    return ep;
  }

  /** The link came up (activate / probe): announce every named endpoint if the name service is on. */
  up(ns: boolean): void {
    this.#ns = ns;
    this.#channels.clear();
    if (!ns) return;
    for (const ep of this.endpoints.values()) if (ep.announce) this.#announce(ep, RPMSG_NS_CREATE);
  }

  /** The link went down (reset, removal): the peer's services are gone. */
  down(): void {
    const gone = this.channels;
    this.#channels.clear();
    for (const c of gone) for (const l of this.#channelListeners) l(c, "destroy");
  }

  #send(src: number, dst: number, data: Uint8Array): Promise<void> {
    if (
      data.length > this.#io.maxPayload || !Number.isInteger(dst) || dst < 0 || dst > 0xffffffff
    ) {
      return Promise.reject(
        new ArgumentError(
          `${this.#io.label}: a message of ${data.length} bytes to ${dst} does not fit ` +
            `(payload at most ${this.#io.maxPayload}, dst a 32-bit address)`,
          { code: "ERR_VIRTIO_ARGUMENT_RPMSG_MSGSIZE" },
        ),
      );
    }
    return this.#io.transmit(src, dst, data.slice());
  }

  #remove(ep: RpmsgEndpoint): void {
    if (this.endpoints.get(ep.addr) !== ep) return;
    this.endpoints.delete(ep.addr);
    if (ep.announce && this.ns) this.#announce(ep, RPMSG_NS_DESTROY);
  }

  /**
   * One message from the peer, already copied out of guest memory and
   * checked for size: to the name service or an endpoint, or counted.
   */
  receive(src: number, dst: number, data: Uint8Array): void {
    if (dst === RPMSG_NS_ADDR && this.ns) return this.#nameService(data);
    const ep = this.endpoints.get(dst);
    if (ep === undefined) {
      this.#unknownDst++;
      return;
    }
    endpointHooks.deliver(ep, { src, dst, data });
  }

  #allocate(): number {
    while (this.endpoints.has(this.#next) || this.#next === RPMSG_NS_ADDR) {
      this.#next = this.#next >= 0xfffffffe ? RPMSG_RESERVED_ADDRESSES : this.#next + 1;
    }
    return this.#next++;
  }

  #announce(ep: RpmsgEndpoint, flags: number): void {
    const m = this.#nsOut;
    const bytes = new Uint8Array(m.view.buffer);
    bytes.fill(0);
    m.nameBytes().set(enc.encode(ep.name));
    m.addr = ep.addr;
    m.flags = flags;
    // An announcement the link drops (reset) is repeated by the next `up`.
    this.#io.transmit(ep.addr, RPMSG_NS_ADDR, bytes.slice()).catch(() => {});
  }

  #nameService(data: Uint8Array): void {
    // ns.h: exactly one rpmsg_ns_msg (Linux's rpmsg_ns_cb refuses other sizes).
    if (data.length !== RpmsgNsMsg.SIZE) {
      this.#badAnnouncements++;
      return;
    }
    const m = new RpmsgNsMsg(new DataView(data.buffer, data.byteOffset, data.length));
    const raw = m.nameBytes();
    // As Linux's strscpy into a 32-byte name: up to the first NUL, at most 31 bytes.
    const end = raw.indexOf(0);
    const name = dec.decode(
      raw.subarray(0, end < 0 || end > RPMSG_NAME_SIZE - 1 ? RPMSG_NAME_SIZE - 1 : end),
    );
    const addr = m.addr;
    const flags = m.flags;
    const key = `${name}\0${addr}`;
    if (flags === RPMSG_NS_CREATE) {
      if (this.#channels.has(key)) return;
      const c: RpmsgChannel = { name, addr };
      this.#channels.set(key, c);
      for (const l of this.#channelListeners) l(c, "create");
      for (let i = 0; i < this.#channelWaiters.length; i++) {
        if (this.#channelWaiters[i].name === name) {
          this.#channelWaiters.splice(i--, 1)[0].resolve(c);
        }
      }
    } else if (flags === RPMSG_NS_DESTROY) {
      const c = this.#channels.get(key);
      if (c === undefined) return;
      this.#channels.delete(key);
      for (const l of this.#channelListeners) l(c, "destroy");
    } else this.#badAnnouncements++;
  }
}
