/**
 * A virtio-net backend on a UDP socket bound to 127.0.0.1: each datagram
 * is one Ethernet frame, so a frame can leave the process (to another
 * process, or another device in this one). Loopback only, by design: the
 * backend refuses any other address.
 *
 * It uses `Deno.listenDatagram` when the runtime has it (Deno with
 * `--unstable-net`) and `node:dgram` otherwise (Deno without the flag,
 * Node). Frames a device cannot take yet (no receive buffers) wait in a
 * bounded queue and are dropped beyond it, as a real NIC would.
 *
 * @example Two backends talking over loopback
 * ```ts
 * import { DatagramBackend } from "./datagram.ts";
 *
 * const a = await DatagramBackend.open();
 * const b = await DatagramBackend.open({ peerPort: a.localPort });
 * a.connect(b.localPort);
 * if (a.localPort === 0 || b.localPort === 0) throw new Error("unreachable");
 * a.close();
 * b.close();
 * ```
 *
 * @module
 */

import { createSocket, type Socket } from "node:dgram";
import { DeviceError } from "../../errors.ts";
import type { NetBackend, NetPort } from "./backend.ts";
import type { NetFrameMeta, NetOffloads } from "./offload.ts";
import { NO_OFFLOADS } from "./offload.ts";

/** Options of {@link DatagramBackend.open}. */
export interface DatagramBackendOptions {
  /** Local UDP port on 127.0.0.1 (default 0: any free port). */
  readonly port?: number;
  /** UDP port on 127.0.0.1 that transmitted frames go to (settable later with {@link DatagramBackend.connect}). */
  readonly peerPort?: number;
  /** The host to bind and send to; only `"127.0.0.1"` is accepted. */
  readonly hostname?: string;
  /** Frames kept while the device has no receive buffers (default 256). */
  readonly queueLimit?: number;
}

const LOOPBACK = "127.0.0.1";

/** A socket that sends and receives datagrams: the part of both APIs the backend uses. */
interface DatagramSocket {
  readonly port: number;
  send(data: Uint8Array, port: number): void;
  close(): void;
}

interface DenoDatagramConn {
  readonly addr: { port: number };
  send(p: Uint8Array, addr: { transport: "udp"; hostname: string; port: number }): Promise<number>;
  receive(p?: Uint8Array): Promise<[Uint8Array, unknown]>;
  close(): void;
}

type ListenDatagram = (o: { transport: "udp"; hostname: string; port: number }) => DenoDatagramConn;

async function openSocket(
  port: number,
  onMessage: (data: Uint8Array) => void,
): Promise<DatagramSocket> {
  const listen = (globalThis as { Deno?: { listenDatagram?: ListenDatagram } }).Deno
    ?.listenDatagram;
  if (typeof listen === "function") {
    const conn = listen({ transport: "udp", hostname: LOOPBACK, port });
    let open = true;
    (async () => {
      while (open) {
        try {
          const [data] = await conn.receive();
          onMessage(data);
        } catch {
          break; // closed
        }
      }
    })();
    return {
      port: conn.addr.port,
      send: (data, to) => {
        conn.send(data, { transport: "udp", hostname: LOOPBACK, port: to }).catch(() => {});
      },
      close: () => {
        open = false;
        conn.close();
      },
    };
  }
  const sock: Socket = createSocket("udp4");
  sock.on("message", (msg: Uint8Array) => onMessage(new Uint8Array(msg)));
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, LOOPBACK, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  sock.on("error", () => {});
  return {
    port: sock.address().port,
    send: (data, to) => sock.send(data, to, LOOPBACK),
    close: () => sock.close(),
  };
}

/** A {@link NetBackend} on a loopback UDP socket; make one with {@link DatagramBackend.open}. */
export class DatagramBackend implements NetBackend {
  /** Frames sent as datagrams. */
  get sent(): number {
    return this.#sent;
  }
  #sent = 0;
  /** Datagrams received. */
  get received(): number {
    return this.#received;
  }
  #received = 0;
  /** Datagrams dropped: the device had no buffers and the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }
  #dropped = 0;
  #socket: DatagramSocket | undefined;
  #port: NetPort | undefined;
  #peer: number | undefined;
  readonly #queue: Uint8Array[] = [];
  readonly #limit: number;
  #closed = false;

  private constructor(limit: number, peer: number | undefined) {
    this.#limit = limit;
    this.#peer = peer;
  }

  /** Bind a socket on 127.0.0.1; throws a {@link DeviceError} for another host or a bad port. */
  static async open(options: DatagramBackendOptions = {}): Promise<DatagramBackend> {
    const host = options.hostname ?? LOOPBACK;
    if (host !== LOOPBACK) {
      throw new DeviceError(`datagram backend is loopback only: ${host} is not ${LOOPBACK}`, {
        code: "ERR_VIRTIO_DEVICE_NET_BACKEND",
      });
    }
    const port = options.port ?? 0;
    checkPort(port, true);
    if (options.peerPort !== undefined) checkPort(options.peerPort, false);
    const b = new DatagramBackend(options.queueLimit ?? 256, options.peerPort);
    b.#socket = await openSocket(port, (d) => b.#incoming(d));
    return b;
  }

  /** The local UDP port. */
  get localPort(): number {
    return this.#socket?.port ?? 0;
  }

  /** Send transmitted frames to `port` on 127.0.0.1. */
  connect(port: number): void {
    checkPort(port, false);
    this.#peer = port;
  }

  /** Frames leave complete: no offloads. */
  get offloads(): NetOffloads {
    return NO_OFFLOADS;
  }

  /** Called by the device. */
  attach(port: NetPort): void {
    this.#port = port;
  }

  /** One datagram per frame; without a peer the frame is dropped. */
  transmit(frame: Uint8Array, _meta: NetFrameMeta): boolean {
    if (this.#closed || this.#peer === undefined || this.#socket === undefined) return true;
    this.#socket.send(frame.slice(), this.#peer);
    this.#sent++;
    return true;
  }

  /** Deliver queued datagrams now that the device has buffers. */
  rxReady(): void {
    const port = this.#port;
    while (port && this.#queue.length) {
      if (!port.receive(this.#queue[0], undefined)) return;
      this.#queue.shift();
    }
  }

  /** Close the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.close();
    this.#queue.length = 0;
  }

  #incoming(data: Uint8Array): void {
    if (this.#closed) return;
    this.#received++;
    const port = this.#port;
    if (this.#queue.length === 0 && port?.receive(data, undefined)) return;
    if (this.#queue.length >= this.#limit) {
      this.#dropped++;
      return;
    }
    this.#queue.push(data);
  }
}

function checkPort(port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new DeviceError(`UDP port ${port} is outside ${allowZero ? 0 : 1}..65535`, {
      code: "ERR_VIRTIO_DEVICE_NET_BACKEND",
    });
  }
}
