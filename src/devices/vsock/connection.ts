/**
 * The vsock connection layer (spec 5.10.6), free of queues: one
 * {@link VsockEndpoint} per side (the device's host end at CID 2, the
 * driver's guest end at `guest_cid`) turns packets from its peer into
 * connections and stream data, and hands out the packets it wants to send
 * with {@link VsockEndpoint.nextPacket} when its transport has room. The
 * device model and the driver only move these packets through their queues.
 *
 * What it enforces, in both directions:
 * - the state machine per (peer cid, peer port, local port): REQUEST,
 *   RESPONSE, RW, SHUTDOWN, RST, CREDIT_UPDATE, CREDIT_REQUEST;
 * - credit-based flow control (5.10.6.3): we never send more than the
 *   peer's `buf_alloc - (tx_cnt - peer_fwd_cnt)`, and a peer that sends
 *   more than our credit allows gets its connection reset;
 * - anything it cannot accept (unknown op or type, a packet for a
 *   connection that does not exist, the wrong destination CID) is answered
 *   with RST (never an RST to an RST); all but the packets for no
 *   connection (which cross an RST in normal use) are counted in
 *   {@link VsockEndpoint.badPackets}.
 *
 * Stream sockets, and seqpacket sockets once VIRTIO_VSOCK_F_SEQPACKET is
 * negotiated ({@link VsockEndpoint.seqpacket}): each write of a seqpacket
 * connection is one message, sent in as many RW packets as credit and
 * buffers need with VIRTIO_VSOCK_SEQ_EOM on the last (5.10.6.6.1), and the
 * reader gets each message whole, as one chunk.
 *
 * @example Two endpoints joined back to back
 * ```ts
 * import { VsockEndpoint } from "./connection.ts";
 *
 * const pump = () => {
 *   for (let p = host.nextPacket(4096); p; p = host.nextPacket(4096)) guest.receive(p);
 *   for (let p = guest.nextPacket(4096); p; p = guest.nextPacket(4096)) host.receive(p);
 * };
 * const host = new VsockEndpoint({ localCid: 2, onOutput: () => queueMicrotask(pump) });
 * const guest = new VsockEndpoint({ localCid: 3, onOutput: () => queueMicrotask(pump) });
 * const listener = host.listen(1234);
 * const client = await guest.connect(2, 1234);
 * const server = await listener.accept();
 * const w = client.writable.getWriter();
 * await w.write(new TextEncoder().encode("hi"));
 * const { value } = await server!.readable.getReader().read();
 * if (new TextDecoder().decode(value) !== "hi") throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import {
  VIRTIO_VSOCK_OP_CREDIT_UPDATE,
  VIRTIO_VSOCK_OP_REQUEST,
  VIRTIO_VSOCK_OP_RST,
  VIRTIO_VSOCK_TYPE_SEQPACKET,
  VIRTIO_VSOCK_TYPE_STREAM,
} from "../../generated/devices/vsock.ts";
import {
  countAllRead,
  countRead,
  countReceived,
  peerCredit,
  unread,
  updateDue,
} from "./_credit.ts";
import { Outbox } from "./_outbox.ts";
import {
  type ConnectionAccess,
  connKey,
  type ConnState,
  SHUT_RCV,
  SHUT_SEND,
  StateMachine,
} from "./_state_machine.ts";

/** The host's CID (spec 5.10.4: 2 is the host). */
export const VMADDR_CID_HOST = 2;

/** One packet, header fields as numbers (CIDs fit in 32 bits) and the payload (`len` bytes). */
export interface VsockPacket {
  /** `src_cid`. */
  srcCid: number;
  /** `dst_cid`. */
  dstCid: number;
  /** `src_port`. */
  srcPort: number;
  /** `dst_port`. */
  dstPort: number;
  /** `type`: VIRTIO_VSOCK_TYPE_*. */
  type: number;
  /** `op`: VIRTIO_VSOCK_OP_*. */
  op: number;
  /** `flags`: SHUTDOWN bits, or VIRTIO_VSOCK_SEQ_* on seqpacket RW. */
  flags: number;
  /** `buf_alloc`: the sender's receive buffer. */
  bufAlloc: number;
  /** `fwd_cnt`: bytes the sender's reader has taken. */
  fwdCnt: number;
  /** The payload; its length is the header's `len`. */
  data: Uint8Array;
}

/** Options of a {@link VsockEndpoint}. */
export interface VsockEndpointOptions {
  /** This side's CID. */
  localCid: number;
  /** Receive buffer per connection, advertised as `buf_alloc` (default 256 KiB). */
  bufAlloc?: number;
  /** Called when the endpoint has packets to send (call {@link VsockEndpoint.nextPacket}). */
  onOutput: () => void;
  /** Most connections waiting in a listener's accept queue (default 128); more are refused. */
  backlog?: number;
  /** Accept seqpacket packets (VIRTIO_VSOCK_F_SEQPACKET negotiated; default false). */
  seqpacket?: boolean;
}

/** Options of {@link VsockEndpoint.listen} and {@link VsockEndpoint.connect}. */
export interface VsockSocketOptions {
  /** A seqpacket socket (needs VIRTIO_VSOCK_F_SEQPACKET) instead of a stream. */
  seqpacket?: boolean;
}

/** The state of a {@link VsockConnection}. */
export type VsockConnectionState = "connecting" | "connected" | "closed";

// The three classes below work together; each keeps its engine members `#`
// private and lends them to the other two through these module-private views,
// set in its `static` block (docs/architecture.md, "Naming"). An endpoint lends
// them on to its state machine and outbox (_state_machine.ts, _outbox.ts).
let stateOf: (c: VsockConnection) => ConnState;
let connectionHooks: Pick<ConnectionAccess, "data" | "peerShutdown" | "connected" | "end"> & {
  awaitConnect(c: VsockConnection): Promise<VsockConnection>;
};
let listenerHooks: { offer(l: VsockListener, c: VsockConnection): boolean };
let endpointHooks: {
  sendControl(e: VsockEndpoint, c: VsockConnection, op: number, flags: number): void;
  wantSend(e: VsockEndpoint, c: VsockConnection): void;
  consumed(e: VsockEndpoint, c: VsockConnection): void;
  forget(e: VsockEndpoint, c: VsockConnection): void;
  unlisten(e: VsockEndpoint, l: VsockListener): void;
};

/** One stream connection, either side's view. */
export class VsockConnection {
  /** Bytes the peer sent, in order; ends when the peer shuts down sending. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to send; a write resolves once its bytes are in packets. Closing it shuts down sending. */
  readonly writable: WritableStream<Uint8Array>;
  readonly #s: ConnState = {
    state: "connecting",
    peerBufAlloc: 0,
    peerFwdCnt: 0,
    txCnt: 0,
    rxCnt: 0,
    fwdCnt: 0,
    fwdSent: 0,
    peerShut: 0,
    localShut: 0,
    tx: [],
    creditQueued: false,
    shutAfterTx: 0,
  };
  readonly #rx: Uint8Array[] = [];
  /** Fragments of the seqpacket message being received. */
  readonly #msg: Uint8Array[] = [];
  #pull: (() => void) | undefined;
  #readEnded = false;
  #error: DeviceError | undefined;
  #settle: { resolve: (c: VsockConnection) => void; reject: (e: unknown) => void } | undefined;

  static {
    stateOf = (c) => c.#s;
    connectionHooks = {
      data: (c, d, eom) => c.#data(d, eom),
      peerShutdown: (c, flags) => c.#peerShutdown(flags),
      awaitConnect: (c) => c.#awaitConnect(),
      connected: (c) => c.#connected(),
      end: (c, error) => c.#end(error),
    };
  }

  /** Made by the endpoint. */
  constructor(
    readonly endpoint: VsockEndpoint,
    /** This side's CID. */
    readonly localCid: number,
    /** This side's port. */
    readonly localPort: number,
    /** The peer's CID. */
    readonly peerCid: number,
    /** The peer's port. */
    readonly peerPort: number,
    /** VIRTIO_VSOCK_TYPE_STREAM (1) or VIRTIO_VSOCK_TYPE_SEQPACKET (2). */
    readonly type: number = VIRTIO_VSOCK_TYPE_STREAM,
  ) {
    this.readable = new ReadableStream<Uint8Array>({
      pull: (c) => this.#pullInto(c),
      cancel: () => this.#shutdown(SHUT_RCV),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.#shutdown(SHUT_SEND),
      abort: () => this.reset(),
    });
  }

  /** The connection's state. */
  get state(): VsockConnectionState {
    return this.#s.state;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return unread(this.#s);
  }

  /** What we may still send: the peer's `buf_alloc - (tx_cnt - fwd_cnt)` (5.10.6.3). */
  get credit(): number {
    return peerCredit(this.#s);
  }

  /** Reads with `for await (const chunk of conn)`. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.readable[Symbol.asyncIterator]();
  }

  /** Closes both directions: pending writes go out first, then SHUTDOWN (both flags). */
  close(): void {
    this.#shutdown(SHUT_RCV | SHUT_SEND);
  }

  /** Ends the connection at once with RST. */
  reset(): void {
    if (this.#s.state === "closed") return;
    endpointHooks.sendControl(this.endpoint, this, VIRTIO_VSOCK_OP_RST, 0);
    this.#end(
      new DeviceError(`vsock ${this.#name()}: reset locally`, {
        code: "ERR_VIRTIO_DEVICE_VSOCK_RESET",
      }),
    );
  }

  #name(): string {
    return `${this.localCid}:${this.localPort} <-> ${this.peerCid}:${this.peerPort}`;
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (this.#s.state !== "connected" || this.#s.localShut & SHUT_SEND) {
      return Promise.reject(
        this.#error ??
          new DeviceError(`vsock ${this.#name()}: not connected for sending`, {
            code: "ERR_VIRTIO_DEVICE_VSOCK_CLOSED",
          }),
      );
    }
    if (chunk.length === 0 && this.type !== VIRTIO_VSOCK_TYPE_SEQPACKET) return Promise.resolve();
    if (this.type === VIRTIO_VSOCK_TYPE_SEQPACKET && chunk.length > this.#s.peerBufAlloc) {
      // The peer could never hold the whole message (Linux: EMSGSIZE).
      return Promise.reject(
        new DeviceError(
          `vsock ${this.#name()}: a ${chunk.length}-byte message is over the peer's ` +
            `buf_alloc ${this.#s.peerBufAlloc}`,
          { code: "ERR_VIRTIO_DEVICE_VSOCK_MSGSIZE" },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#s.tx.push({ data: chunk.slice(), off: 0, resolve, reject });
      endpointHooks.wantSend(this.endpoint, this);
    });
  }

  #shutdown(flags: number): void {
    if (this.#s.state === "closed") return;
    const add = flags & ~this.#s.localShut & ~this.#s.shutAfterTx;
    if (add === 0) return;
    if (add & SHUT_RCV) this.#endRead();
    if (this.#s.state === "connecting") {
      this.#s.localShut |= add;
      return;
    }
    this.#s.shutAfterTx |= add;
    endpointHooks.wantSend(this.endpoint, this);
  }

  #pullInto(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    const chunk = this.#rx.shift();
    if (chunk !== undefined) {
      c.enqueue(chunk);
      countRead(this.#s, chunk.length);
      endpointHooks.consumed(this.endpoint, this);
      return;
    }
    if (this.#readEnded) {
      if (this.#error !== undefined && !(this.#s.peerShut & SHUT_SEND)) c.error(this.#error);
      else c.close();
      return;
    }
    return new Promise<void>((resolve) => (this.#pull = resolve)).then(() => this.#pullInto(c));
  }

  #wake(): void {
    const p = this.#pull;
    this.#pull = undefined;
    p?.();
  }

  #endRead(): void {
    this.#readEnded = true;
    this.#wake();
  }

  /** Payload from an RW packet (credit already checked); `eom`: a message ends. */
  #data(d: Uint8Array, eom: boolean): void {
    countReceived(this.#s, d.length);
    if (this.#readEnded) {
      // Nobody reads any more: consume at once so the peer keeps its credit.
      countAllRead(this.#s);
      return;
    }
    if (this.type === VIRTIO_VSOCK_TYPE_SEQPACKET) {
      this.#msg.push(d);
      if (!eom) return;
      const parts = this.#msg.splice(0);
      d = parts.length === 1 ? parts[0] : new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      if (parts.length > 1) {
        let o = 0;
        for (const p of parts) (d.set(p, o), o += p.length);
      }
    } else if (d.length === 0) return;
    this.#rx.push(d);
    this.#wake();
  }

  /** The peer shut down sending: the reader sees the end after the data. */
  #peerShutdown(flags: number): void {
    this.#s.peerShut |= flags;
    if (flags & SHUT_SEND) this.#endRead();
    if (flags & SHUT_RCV) {
      const e = new DeviceError(`vsock ${this.#name()}: the peer receives no more`, {
        code: "ERR_VIRTIO_DEVICE_VSOCK_CLOSED",
      });
      for (const w of this.#s.tx.splice(0)) w.reject(e);
    }
  }

  /** Connection promise. */
  #awaitConnect(): Promise<VsockConnection> {
    return new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
  }

  /** RESPONSE arrived. */
  #connected(): void {
    this.#s.state = "connected";
    this.#settle?.resolve(this);
    this.#settle = undefined;
    if (this.#s.localShut) {
      const f = this.#s.localShut;
      this.#s.localShut = 0;
      this.#shutdown(f);
    }
  }

  /** The connection is over; `error` (if any) fails what waits on it. */
  #end(error: DeviceError | undefined): void {
    if (this.#s.state === "closed") return;
    this.#s.state = "closed";
    endpointHooks.forget(this.endpoint, this);
    if (error !== undefined) this.#error = error;
    const e = error ??
      new DeviceError(`vsock ${this.#name()}: closed`, { code: "ERR_VIRTIO_DEVICE_VSOCK_CLOSED" });
    this.#settle?.reject(e);
    this.#settle = undefined;
    for (const w of this.#s.tx.splice(0)) w.reject(e);
    this.#s.shutAfterTx = 0;
    // Data already received stays readable; then the end (or the error).
    if (error === undefined) this.#s.peerShut |= SHUT_SEND;
    this.#endRead();
  }
}

/** A listening port: accepts connections the peer requests. */
export class VsockListener implements AsyncIterable<VsockConnection> {
  readonly #queue: VsockConnection[] = [];
  readonly #waiting: {
    resolve: (c: VsockConnection | null) => void;
  }[] = [];
  #closed = false;

  static {
    listenerHooks = { offer: (l, c) => l.#offer(c) };
  }

  /** Made by {@link VsockEndpoint.listen}. */
  constructor(
    readonly endpoint: VsockEndpoint,
    readonly port: number,
    readonly backlog: number,
    /** The socket type it accepts (a REQUEST of another type gets RST). */
    readonly type: number = VIRTIO_VSOCK_TYPE_STREAM,
  ) {}

  /** The next connection, or `null` once the listener is closed. */
  accept(): Promise<VsockConnection | null> {
    const c = this.#queue.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting.push({ resolve }));
  }

  /** Accepts connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<VsockConnection> {
    for (let c = await this.accept(); c !== null; c = await this.accept()) yield c;
  }

  /** Stops listening; connections not yet accepted are reset. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    endpointHooks.unlisten(this.endpoint, this);
    for (const c of this.#queue.splice(0)) c.reset();
    for (const w of this.#waiting.splice(0)) w.resolve(null);
  }

  /** A new connection; false when the backlog is full. */
  #offer(c: VsockConnection): boolean {
    const w = this.#waiting.shift();
    if (w !== undefined) {
      w.resolve(c);
      return true;
    }
    if (this.#queue.length >= this.backlog) return false;
    this.#queue.push(c);
    return true;
  }
}

/** One side of vsock: its connections, listeners and the packets it owes its peer. */
export class VsockEndpoint {
  /** This side's CID (the driver updates it after a transport reset). */
  localCid: number;
  /** `buf_alloc` of each connection. */
  readonly bufAlloc: number;
  /** Seqpacket sockets are allowed (VIRTIO_VSOCK_F_SEQPACKET was negotiated). */
  seqpacket: boolean;
  /** Packets refused as malformed: unknown op or type, credit violations, wrong CID. */
  get badPackets(): number {
    return this.#badPackets;
  }
  #badPackets = 0;
  readonly #backlog: number;
  readonly #conns = new Map<string, VsockConnection>();
  readonly #listeners = new Map<number, VsockListener>();
  readonly #out: Outbox;
  readonly #sm: StateMachine;
  #nextPort = 49152;

  static {
    endpointHooks = {
      sendControl: (e, c, op, flags) => e.#out.control(c, op, flags),
      wantSend: (e, c) => e.#out.wantSend(c),
      consumed: (e, c) => e.#consumed(c),
      forget: (e, c) => e.#forget(c),
      unlisten: (e, l) => e.#unlisten(l),
    };
  }

  /** See {@link VsockEndpointOptions}. */
  constructor(options: VsockEndpointOptions) {
    this.localCid = options.localCid;
    this.bufAlloc = options.bufAlloc ?? 256 * 1024;
    this.#backlog = options.backlog ?? 128;
    this.seqpacket = options.seqpacket ?? false;
    this.#out = new Outbox(this, options.onOutput, stateOf, (c) => this.#sm.maybeFinish(c));
    const h = connectionHooks;
    this.#sm = new StateMachine(this, this.#conns, this.#listeners, this.#out, {
      state: stateOf,
      open: (p) => new VsockConnection(this, this.localCid, p.dstPort, p.srcCid, p.srcPort, p.type),
      data: h.data,
      peerShutdown: h.peerShutdown,
      connected: h.connected,
      end: h.end,
      offer: listenerHooks.offer,
      badPacket: () => void this.#badPackets++,
    });
  }

  #type(options: VsockSocketOptions): number {
    if (!options.seqpacket) return VIRTIO_VSOCK_TYPE_STREAM;
    if (!this.seqpacket) {
      throw new DeviceError("vsock: seqpacket sockets need VIRTIO_VSOCK_F_SEQPACKET", {
        code: "ERR_VIRTIO_DEVICE_VSOCK_SEQPACKET",
      });
    }
    return VIRTIO_VSOCK_TYPE_SEQPACKET;
  }

  /** Live connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Listens on `port`. */
  listen(port: number, options: VsockSocketOptions = {}): VsockListener {
    checkPort(port);
    // Allowed before negotiation: seqpacket REQUESTs are refused while it is not negotiated.
    const type = options.seqpacket ? VIRTIO_VSOCK_TYPE_SEQPACKET : VIRTIO_VSOCK_TYPE_STREAM;
    if (this.#listeners.has(port)) {
      throw new DeviceError(`vsock port ${port} is already listening`, {
        code: "ERR_VIRTIO_DEVICE_VSOCK_PORT_IN_USE",
      });
    }
    const l = new VsockListener(this, port, this.#backlog, type);
    this.#listeners.set(port, l);
    return l;
  }

  /** Connects to `port` at `cid`; rejects with `ERR_VIRTIO_DEVICE_VSOCK_REFUSED` on RST. */
  connect(cid: number, port: number, options: VsockSocketOptions = {}): Promise<VsockConnection> {
    checkPort(port);
    const type = this.#type(options);
    let local = this.#nextPort;
    for (let i = 0; i < 16384; i++) {
      local = 49152 + ((this.#nextPort - 49152 + i) % 16384);
      if (!this.#listeners.has(local) && !this.#conns.has(connKey(cid, port, local))) break;
    }
    this.#nextPort = 49152 + ((local - 49152 + 1) % 16384);
    const c = new VsockConnection(this, this.localCid, local, cid, port, type);
    this.#conns.set(connKey(cid, port, local), c);
    const p = connectionHooks.awaitConnect(c);
    this.#out.control(c, VIRTIO_VSOCK_OP_REQUEST, 0);
    return p;
  }

  /**
   * Ends every connection with `ERR_VIRTIO_DEVICE_VSOCK_TRANSPORT_RESET`
   * (a transport reset, 5.10.6.7) and drops the packets owed; listeners stay.
   */
  resetAll(): void {
    this.#out.clear();
    for (const c of [...this.#conns.values()]) {
      connectionHooks.end(
        c,
        new DeviceError("vsock: transport reset", {
          code: "ERR_VIRTIO_DEVICE_VSOCK_TRANSPORT_RESET",
        }),
      );
    }
  }

  /** Is there a packet to send? */
  get hasOutput(): boolean {
    return this.#out.hasOutput;
  }

  /** The next packet to send with at most `maxPayload` bytes of payload, or null. */
  nextPacket(maxPayload: number): VsockPacket | null {
    return this.#out.next(maxPayload);
  }

  /** A packet from the peer (header fields already copied out of guest memory). */
  receive(p: VsockPacket): void {
    this.#sm.receive(p);
  }

  /** The reader took bytes: tell the peer once a quarter of the buffer is free again. */
  #consumed(c: VsockConnection): void {
    const s = stateOf(c);
    if (s.state !== "connected") return;
    if (updateDue(s, this.bufAlloc)) this.#out.control(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
  }

  #forget(c: VsockConnection): void {
    const k = connKey(c.peerCid, c.peerPort, c.localPort);
    if (this.#conns.get(k) === c) this.#conns.delete(k);
    this.#out.forget(c);
  }

  #unlisten(l: VsockListener): void {
    if (this.#listeners.get(l.port) === l) this.#listeners.delete(l.port);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff) {
    throw new DeviceError(`vsock port ${port} is not a 32-bit unsigned integer`, {
      code: "ERR_VIRTIO_DEVICE_VSOCK_PORT",
    });
  }
}
