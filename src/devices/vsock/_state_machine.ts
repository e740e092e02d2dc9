/**
 * The vsock connection state machine (spec 5.10.6): a connection's state as
 * its endpoint reads and writes it, and what each packet from the peer does
 * to it. A REQUEST to a listening port of its type opens a connection and
 * is answered with RESPONSE; RESPONSE or RST settles a connect; RW carries
 * data within our credit; CREDIT_REQUEST is answered with CREDIT_UPDATE;
 * SHUTDOWN ends a direction (both: RST, and the connection is done); RST
 * ends it. A packet the state does not allow resets the connection, one
 * for no connection is answered with RST.
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import {
  VIRTIO_VSOCK_OP_CREDIT_REQUEST,
  VIRTIO_VSOCK_OP_CREDIT_UPDATE,
  VIRTIO_VSOCK_OP_REQUEST,
  VIRTIO_VSOCK_OP_RESPONSE,
  VIRTIO_VSOCK_OP_RST,
  VIRTIO_VSOCK_OP_RW,
  VIRTIO_VSOCK_OP_SHUTDOWN,
  VIRTIO_VSOCK_SEQ_EOM,
  VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE,
  VIRTIO_VSOCK_SHUTDOWN_F_SEND,
  VIRTIO_VSOCK_TYPE_SEQPACKET,
  VIRTIO_VSOCK_TYPE_STREAM,
} from "../../generated/devices/vsock.ts";
import type {
  VsockConnection,
  VsockConnectionState,
  VsockEndpoint,
  VsockListener,
  VsockPacket,
} from "./connection.ts";
import { type Credit, ourCredit, peerCounters } from "./_credit.ts";
import type { Outbox } from "./_outbox.ts";

/** SHUTDOWN flag masks (the spec gives bit numbers). */
export const SHUT_RCV = 1 << VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE;
export const SHUT_SEND = 1 << VIRTIO_VSOCK_SHUTDOWN_F_SEND;

/** A write waiting to go out in RW packets. */
export interface PendingWrite {
  data: Uint8Array;
  off: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A connection's state and counters, which its endpoint reads and writes. */
export interface ConnState extends Credit {
  state: VsockConnectionState;
  peerShut: number;
  localShut: number;
  readonly tx: PendingWrite[];
  /** A CREDIT_UPDATE is queued already (one is enough, whatever the peer asks). */
  creditQueued: boolean;
  /** A SHUTDOWN to send once `tx` is empty. */
  shutAfterTx: number;
}

/** The key of a connection in its endpoint's table. */
export function connKey(peerCid: number, peerPort: number, localPort: number): string {
  return `${peerCid}:${peerPort}:${localPort}`;
}

/** The private members of the connection layer's classes the state machine uses (lent by them). */
export interface ConnectionAccess {
  /** The state of `c`. */
  state(c: VsockConnection): ConnState;
  /** A connection for the peer's REQUEST `p`, in no table yet. */
  open(p: VsockPacket): VsockConnection;
  /** Payload from an RW packet (credit already checked); `eom`: a message ends. */
  data(c: VsockConnection, d: Uint8Array, eom: boolean): void;
  /** The peer shut down `flags` (SHUT_RCV, SHUT_SEND). */
  peerShutdown(c: VsockConnection, flags: number): void;
  /** RESPONSE arrived. */
  connected(c: VsockConnection): void;
  /** The connection is over; `error` (if any) fails what waits on it. */
  end(c: VsockConnection, error: DeviceError | undefined): void;
  /** Offers a new connection to listener `l`; false when its backlog is full. */
  offer(l: VsockListener, c: VsockConnection): boolean;
  /** Counts a packet refused as malformed (VsockEndpoint.badPackets). */
  badPacket(): void;
}

/** What the peer's packets do to the connections of one endpoint. */
export class StateMachine {
  readonly #e: VsockEndpoint;
  readonly #conns: Map<string, VsockConnection>;
  readonly #listeners: Map<number, VsockListener>;
  readonly #out: Outbox;
  readonly #c: ConnectionAccess;

  /** The state machine of `e`, over its tables, sending through `out`. */
  constructor(
    e: VsockEndpoint,
    conns: Map<string, VsockConnection>,
    listeners: Map<number, VsockListener>,
    out: Outbox,
    access: ConnectionAccess,
  ) {
    this.#e = e;
    this.#conns = conns;
    this.#listeners = listeners;
    this.#out = out;
    this.#c = access;
  }

  /** A packet from the peer (header fields already copied out of guest memory). */
  receive(p: VsockPacket): void {
    const e = this.#e;
    const typeOk = p.type === VIRTIO_VSOCK_TYPE_STREAM ||
      (p.type === VIRTIO_VSOCK_TYPE_SEQPACKET && e.seqpacket);
    if (p.dstCid !== e.localCid || !typeOk) {
      this.#c.badPacket();
      return this.#out.refuse(p);
    }
    const c = this.#conns.get(connKey(p.srcCid, p.srcPort, p.dstPort));
    if (c === undefined) return this.#unconnected(p);
    if (p.type !== c.type) {
      this.#c.badPacket();
      return this.#resetConn(
        c,
        "ERR_VIRTIO_DEVICE_VSOCK_PROTOCOL",
        `type ${p.type} on a ${c.type}`,
      );
    }
    const s = this.#c.state(c);
    peerCounters(s, p.bufAlloc, p.fwdCnt);
    if (s.state === "connecting") {
      if (p.op === VIRTIO_VSOCK_OP_RESPONSE) return this.#c.connected(c);
      if (p.op === VIRTIO_VSOCK_OP_RST) {
        return this.#c.end(
          c,
          new DeviceError(`vsock: port ${p.srcPort} of CID ${p.srcCid} refused`, {
            code: "ERR_VIRTIO_DEVICE_VSOCK_REFUSED",
          }),
        );
      }
      this.#c.badPacket();
      return this.#resetConn(c, "ERR_VIRTIO_DEVICE_VSOCK_PROTOCOL", `op ${p.op} while connecting`);
    }
    switch (p.op) {
      case VIRTIO_VSOCK_OP_RW: {
        // 5.10.6.3: the peer must not send more than our free space.
        const credit = ourCredit(s, e.bufAlloc);
        if (p.data.length > credit) {
          this.#c.badPacket();
          return this.#resetConn(
            c,
            "ERR_VIRTIO_DEVICE_VSOCK_CREDIT",
            `${p.data.length} bytes with ${credit} of credit`,
          );
        }
        if (s.peerShut & SHUT_SEND) {
          this.#c.badPacket();
          return this.#resetConn(c, "ERR_VIRTIO_DEVICE_VSOCK_PROTOCOL", "data after SHUTDOWN");
        }
        this.#c.data(c, p.data, (p.flags & VIRTIO_VSOCK_SEQ_EOM) !== 0);
        break;
      }
      case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        break;
      case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        this.#out.control(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
        break;
      case VIRTIO_VSOCK_OP_SHUTDOWN: {
        this.#c.peerShutdown(c, p.flags & (SHUT_RCV | SHUT_SEND));
        // Both directions shut by the peer: it waits for our RST to free the port (as Linux does).
        if ((s.peerShut & (SHUT_RCV | SHUT_SEND)) === (SHUT_RCV | SHUT_SEND)) {
          this.#out.control(c, VIRTIO_VSOCK_OP_RST, 0);
          this.#c.end(c, undefined);
          return;
        }
        this.maybeFinish(c);
        break;
      }
      case VIRTIO_VSOCK_OP_RST:
        this.#c.end(
          c,
          (s.peerShut & SHUT_SEND && s.localShut & SHUT_SEND) ||
            (s.localShut | s.shutAfterTx) === (SHUT_RCV | SHUT_SEND)
            ? undefined
            : new DeviceError(
              `vsock: connection reset by CID ${p.srcCid} port ${p.srcPort}`,
              { code: "ERR_VIRTIO_DEVICE_VSOCK_RESET" },
            ),
        );
        return;
      default:
        // REQUEST or RESPONSE on a live connection, or an op we do not know.
        this.#c.badPacket();
        return this.#resetConn(c, "ERR_VIRTIO_DEVICE_VSOCK_PROTOCOL", `unexpected op ${p.op}`);
    }
    this.#out.notify(c);
  }

  /** Both sides shut down sending and nothing is left to say: the connection is done. */
  maybeFinish(c: VsockConnection): void {
    const s = this.#c.state(c);
    if (
      s.state === "connected" && s.peerShut & SHUT_SEND && s.localShut & SHUT_SEND &&
      s.tx.length === 0 && !s.shutAfterTx
    ) {
      // Tell the peer both directions are closed; it answers with RST (or we are already done).
      if (!(s.localShut & SHUT_RCV)) {
        s.localShut |= SHUT_RCV;
        this.#out.control(c, VIRTIO_VSOCK_OP_SHUTDOWN, SHUT_RCV | SHUT_SEND);
      }
    }
  }

  #unconnected(p: VsockPacket): void {
    if (p.op === VIRTIO_VSOCK_OP_REQUEST) {
      const l = this.#listeners.get(p.dstPort);
      // A listener of the other socket type refuses, as Linux does.
      if (l !== undefined && l.type === p.type) {
        const c = this.#c.open(p);
        const s = this.#c.state(c);
        peerCounters(s, p.bufAlloc, p.fwdCnt);
        s.state = "connected";
        if (this.#c.offer(l, c)) {
          this.#conns.set(connKey(p.srcCid, p.srcPort, p.dstPort), c);
          this.#out.control(c, VIRTIO_VSOCK_OP_RESPONSE, 0);
          return;
        }
      }
    }
    // A packet for no connection (often one that crossed our RST): answered with RST, not counted.
    this.#out.refuse(p);
  }

  #resetConn(c: VsockConnection, code: string, why: string): void {
    this.#out.control(c, VIRTIO_VSOCK_OP_RST, 0);
    this.#c.end(
      c,
      new DeviceError(`vsock ${c.localPort} <-> ${c.peerCid}:${c.peerPort}: ${why}`, {
        code,
      }),
    );
  }
}
