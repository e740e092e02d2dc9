/**
 * The packets a vsock endpoint owes its peer, in the order they go out
 * (spec 5.10.6): control packets first (REQUEST, RESPONSE, SHUTDOWN, RST,
 * CREDIT_UPDATE, and RSTs to packets outside any connection, a bounded
 * number of them), then data: each connection with
 * writes pending in turn, an RW packet no larger than its credit and the
 * transport's payload allows, VIRTIO_VSOCK_SEQ_EOM on a seqpacket
 * message's last packet, and the SHUTDOWN a close asked for once the
 * writes before it are out. Each packet is built when it is taken, so it
 * carries the counters of that moment.
 *
 * @module
 */

import {
  VIRTIO_VSOCK_OP_CREDIT_UPDATE,
  VIRTIO_VSOCK_OP_RST,
  VIRTIO_VSOCK_OP_RW,
  VIRTIO_VSOCK_OP_SHUTDOWN,
  VIRTIO_VSOCK_SEQ_EOM,
  VIRTIO_VSOCK_TYPE_SEQPACKET,
} from "../../generated/devices/vsock.ts";
import type { VsockConnection, VsockEndpoint, VsockPacket } from "./connection.ts";
import { advertise, countSent } from "./_credit.ts";
import type { ConnState } from "./_state_machine.ts";

const EMPTY = new Uint8Array(0);

/** RSTs for packets outside any connection queued at most; beyond, such packets are dropped. */
const MAX_STRAY_CONTROL = 1024;

interface Control {
  conn: VsockConnection | undefined;
  /** For packets outside a connection (RST to a stray packet): the addressing. */
  srcPort: number;
  dstCid: number;
  dstPort: number;
  type: number;
  op: number;
  flags: number;
}

/** The packets one endpoint owes its peer. */
export class Outbox {
  readonly #e: VsockEndpoint;
  readonly #onOutput: () => void;
  readonly #state: (c: VsockConnection) => ConnState;
  readonly #afterShutdown: (c: VsockConnection) => void;
  readonly #control: Control[] = [];
  readonly #senders = new Set<VsockConnection>();

  /**
   * The outbox of `e`, calling `onOutput` when it has packets to send;
   * `state` gives a connection's state, and `afterShutdown` is called once
   * a connection's SHUTDOWN went out after its writes.
   */
  constructor(
    e: VsockEndpoint,
    onOutput: () => void,
    state: (c: VsockConnection) => ConnState,
    afterShutdown: (c: VsockConnection) => void,
  ) {
    this.#e = e;
    this.#onOutput = onOutput;
    this.#state = state;
    this.#afterShutdown = afterShutdown;
  }

  /** Is there a packet to send? */
  get hasOutput(): boolean {
    if (this.#control.length > 0) return true;
    for (const c of this.#senders) if (this.#sendable(c)) return true;
    return false;
  }

  /** The next packet to send with at most `maxPayload` bytes of payload, or null. */
  next(maxPayload: number): VsockPacket | null {
    const ctl = this.#control.shift();
    if (ctl !== undefined) {
      const c = ctl.conn;
      if (c === undefined) {
        return packet(this.#e.localCid, ctl.srcPort, ctl.dstCid, ctl.dstPort, ctl.type, ctl.op);
      }
      if (ctl.op === VIRTIO_VSOCK_OP_CREDIT_UPDATE) this.#state(c).creditQueued = false;
      return this.#fromConn(c, ctl.op, ctl.flags, EMPTY);
    }
    for (const c of this.#senders) {
      const s = this.#state(c);
      const w = s.tx[0];
      if (w === undefined) {
        this.#senders.delete(c);
        if (s.shutAfterTx && s.state === "connected") {
          const f = s.shutAfterTx;
          s.shutAfterTx = 0;
          s.localShut |= f;
          const p = this.#fromConn(c, VIRTIO_VSOCK_OP_SHUTDOWN, s.localShut, EMPTY);
          this.#afterShutdown(c);
          return p;
        }
        continue;
      }
      const n = Math.min(maxPayload, c.credit, w.data.length - w.off);
      if (n <= 0 && !(w.data.length === 0 && c.type === VIRTIO_VSOCK_TYPE_SEQPACKET)) continue;
      const data = w.data.subarray(w.off, w.off + n);
      w.off += n;
      countSent(s, n);
      let flags = 0;
      if (w.off === w.data.length) {
        s.tx.shift();
        w.resolve();
        if (c.type === VIRTIO_VSOCK_TYPE_SEQPACKET) flags = VIRTIO_VSOCK_SEQ_EOM;
      }
      // Round robin: this connection goes to the back.
      this.#senders.delete(c);
      if (s.tx.length > 0 || s.shutAfterTx) this.#senders.add(c);
      return this.#fromConn(c, VIRTIO_VSOCK_OP_RW, flags, data);
    }
    return null;
  }

  /** Queues control packet `op` of `c`; one CREDIT_UPDATE queued at a time is enough. */
  control(c: VsockConnection, op: number, flags: number): void {
    if (op === VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
      // The update carries the counters as they are when it goes out: one queued is enough.
      const s = this.#state(c);
      if (s.creditQueued) return;
      s.creditQueued = true;
    }
    this.#control.push({
      conn: c,
      srcPort: c.localPort,
      dstCid: c.peerCid,
      dstPort: c.peerPort,
      type: c.type,
      op,
      flags,
    });
    this.#onOutput();
  }

  /** Answers a packet with RST (never an RST with an RST, 5.10.6.4). */
  refuse(p: VsockPacket): void {
    if (p.op === VIRTIO_VSOCK_OP_RST) return;
    // A peer that floods us while not taking our packets does not grow this without bound.
    if (this.#control.length >= MAX_STRAY_CONTROL) return;
    this.#control.push({
      conn: undefined,
      srcPort: p.dstPort,
      dstCid: p.srcCid,
      dstPort: p.srcPort,
      type: p.type,
      op: VIRTIO_VSOCK_OP_RST,
      flags: 0,
    });
    this.#onOutput();
  }

  /** `c` has writes (or a SHUTDOWN after them) to send. */
  wantSend(c: VsockConnection): void {
    this.#senders.add(c);
    this.notify(c);
  }

  /** Tells the transport when `c` can send now (credit came, a write is pending). */
  notify(c: VsockConnection): void {
    if (this.#sendable(c)) this.#onOutput();
  }

  /** `c` is over: nothing more of it goes out but its control packets already queued. */
  forget(c: VsockConnection): void {
    this.#senders.delete(c);
  }

  /** A transport reset: every packet owed is dropped. */
  clear(): void {
    this.#control.length = 0;
    this.#senders.clear();
  }

  #sendable(c: VsockConnection): boolean {
    const s = this.#state(c);
    const w = s.tx[0];
    return w === undefined ? s.shutAfterTx !== 0 : c.credit > 0 || w.data.length === 0;
  }

  #fromConn(c: VsockConnection, op: number, flags: number, data: Uint8Array): VsockPacket {
    const s = this.#state(c);
    const fwdCnt = advertise(s);
    return {
      srcCid: this.#e.localCid,
      dstCid: c.peerCid,
      srcPort: c.localPort,
      dstPort: c.peerPort,
      type: c.type,
      op,
      flags,
      bufAlloc: this.#e.bufAlloc,
      fwdCnt,
      data,
    };
  }
}

/** A packet outside any connection: no payload, no credit. */
function packet(
  srcCid: number,
  srcPort: number,
  dstCid: number,
  dstPort: number,
  type: number,
  op: number,
): VsockPacket {
  return {
    srcCid,
    dstCid,
    srcPort,
    dstPort,
    type,
    op,
    flags: 0,
    bufAlloc: 0,
    fwdCnt: 0,
    data: EMPTY,
  };
}
