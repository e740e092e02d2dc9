/**
 * A vhost-user-net back-end: our virtio-net device model served to QEMU
 * (`-netdev vhost-user` + `virtio-net-pci`), with a tiny host on the other
 * end of the cable that answers ARP and ICMP echo (ping) for one IPv4
 * address. Deno only (FFI).
 *
 * ```
 * deno task vhost-user-net --socket /tmp/vnet.sock --ip 10.0.2.2 [--mac 52:54:00:00:00:02]
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c1,path=/tmp/vnet.sock \
 *   -netdev vhost-user,id=n0,chardev=c1 -device virtio-net-pci,netdev=n0
 * # in the guest: ip addr add 10.0.2.15/24 dev eth0; ip link set eth0 up; ping 10.0.2.2
 * ```
 *
 * QEMU keeps the control queue and the config space (the guest's MAC is
 * QEMU's `mac=` property); `--mac` is the host's own address in ARP replies.
 * Prints `vhost-user-net: ready ...`, and exits cleanly on SIGINT/SIGTERM.
 *
 * With `--join PATH` instead of `--ip`, it serves two devices, on `--socket`
 * and on `--join`, joined by a virtual cable: two guests (two QEMUs) on the
 * same link, each seeing the other's frames.
 *
 * ```
 * deno task vhost-user-net --socket /tmp/a.sock --join /tmp/b.sock
 * ```
 *
 * @module
 */

import type { NetBackend, NetPort } from "../src/devices/net/backend.ts";
import { connectBackToBack } from "../src/devices/net/backend.ts";
import { formatMac, NetDevice, parseMac } from "../src/devices/net/device.ts";
import {
  foldChecksum,
  type NetFrameMeta,
  NO_OFFLOADS,
  onesSum,
} from "../src/devices/net/offload.ts";
import type { NetOffloads } from "../src/devices/net/offload.ts";
import {
  DEFAULT_PROTOCOL_FEATURES,
  VhostUserBackend,
} from "../src/transport/vhost_user/backend.ts";
import { VHOST_USER_PROTOCOL_F_CONFIG } from "../src/generated/vhost_user.ts";
import { bit } from "../src/features.ts";
import { flagValue, parseFlags, serveDevice } from "./vhost_user_serve.ts";

const ETH_P_IP = 0x0800;
const ETH_P_ARP = 0x0806;
const IPPROTO_ICMP = 1;
/** Frames held while the guest has no receive buffers. */
const MAX_HELD = 64;

/** Counters of a {@link PingHost}. */
export interface PingHostStats {
  /** ARP requests for our address answered. */
  arpReplies: number;
  /** ICMP echo requests answered. */
  echoReplies: number;
  /** Frames that were neither (ignored). */
  ignored: number;
}

/** Parses a dotted IPv4 address into 4 bytes; throws for anything else. */
export function parseIPv4(ip: string): Uint8Array {
  const p = ip.split(".");
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) {
    throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  }
  return Uint8Array.from(p, Number);
}

function sameBytes(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/**
 * The far end of the cable: a host with one IPv4 address that answers ARP
 * requests for it and ICMP echo requests to it. Everything else is ignored.
 */
export class PingHost implements NetBackend {
  /** The host's IPv4 address. */
  readonly ip: Uint8Array;
  /** The host's MAC address. */
  readonly mac: Uint8Array;
  /** Counters. */
  readonly stats: PingHostStats = { arpReplies: 0, echoReplies: 0, ignored: 0 };
  /** No offloads: the device completes checksums before frames reach us. */
  readonly offloads: NetOffloads = NO_OFFLOADS;
  #port: NetPort | undefined;
  #held: Uint8Array[] = [];

  /** A host at `ip` with hardware address `mac`. */
  constructor(ip: Uint8Array, mac: Uint8Array) {
    this.ip = ip;
    this.mac = mac;
  }

  /** Connects the device's port. */
  attach(port: NetPort): void {
    this.#port = port;
  }

  /** A frame from the guest: answered, or ignored. Always taken. */
  transmit(frame: Uint8Array, _meta: NetFrameMeta): boolean {
    const reply = this.answer(frame);
    if (reply === undefined) {
      this.stats.ignored++;
      return true;
    }
    this.#deliver(reply);
    return true;
  }

  /** The reply to `frame` (a new buffer), or `undefined` when it asks nothing of this host. */
  answer(frame: Uint8Array): Uint8Array | undefined {
    if (frame.length < 14) return undefined;
    const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const type = v.getUint16(12);
    if (type === ETH_P_ARP && frame.length >= 42) {
      // Ethernet/IPv4 ARP request (op 1) for our address.
      if (v.getUint16(14) !== 1 || v.getUint16(16) !== ETH_P_IP || v.getUint16(20) !== 1) {
        return undefined;
      }
      if (!sameBytes(frame, 38, this.ip)) return undefined;
      const r = new Uint8Array(42);
      r.set(frame.subarray(6, 12), 0); // to the asker
      r.set(this.mac, 6);
      r.set(frame.subarray(12, 22), 12); // type, htype, ptype, hlen, plen
      r[21] = 2; // reply
      r.set(this.mac, 22);
      r.set(this.ip, 28);
      r.set(frame.subarray(22, 32), 32); // the asker's MAC and IP
      this.stats.arpReplies++;
      return r;
    }
    if (type === ETH_P_IP && frame.length >= 34) {
      const ihl = (frame[14] & 0x0f) * 4;
      const total = v.getUint16(16);
      if (frame[14] >> 4 !== 4 || ihl < 20 || total < ihl + 8 || 14 + total > frame.length) {
        return undefined;
      }
      if (frame[23] !== IPPROTO_ICMP || !sameBytes(frame, 30, this.ip)) return undefined;
      const icmp = 14 + ihl;
      if (frame[icmp] !== 8) return undefined; // echo request
      const r = frame.slice(0, 14 + total);
      const rv = new DataView(r.buffer);
      r.set(frame.subarray(6, 12), 0);
      r.set(this.mac, 6);
      r.set(frame.subarray(30, 34), 26); // source: us
      r.set(frame.subarray(26, 30), 30); // destination: the asker
      r[22] = 64; // TTL
      rv.setUint16(24, 0);
      rv.setUint16(24, foldChecksum(onesSum(r, 14, 14 + ihl)));
      r[icmp] = 0; // echo reply
      rv.setUint16(icmp + 2, 0);
      rv.setUint16(icmp + 2, foldChecksum(onesSum(r, icmp, 14 + total)));
      this.stats.echoReplies++;
      return r;
    }
    return undefined;
  }

  #deliver(frame: Uint8Array): void {
    if (this.#held.length > 0 || this.#port?.receive(frame, undefined) === false) {
      if (this.#held.length < MAX_HELD) this.#held.push(frame);
    }
  }

  /** The guest posted receive buffers: deliver what was held back. */
  rxReady(): void {
    while (this.#held.length > 0) {
      if (this.#port?.receive(this.#held[0], undefined) === false) return;
      this.#held.shift();
    }
  }

  /** Drops held frames. */
  close(): void {
    this.#held = [];
  }
}

const USAGE = "usage: vhost_user_net.ts --socket PATH (--ip A.B.C.D [--mac MAC] | --join PATH) " +
  "[--queue-size N]";

// QEMU keeps a network device's config itself; QEMU 7.2 crashes at start
// when a vhost-user-net back-end offers the CONFIG protocol feature.
const NET_PROTOCOL_FEATURES = DEFAULT_PROTOCOL_FEATURES &
  ~bit(VHOST_USER_PROTOCOL_F_CONFIG);

/** Serves two devices joined back to back, one per socket, until SIGINT/SIGTERM. */
async function serveJoined(sockets: [string, string], queueSize: number): Promise<number> {
  const ends = connectBackToBack();
  const devices = ends.map((backend) => new NetDevice({ backend, queueSize }));
  const backends = devices.map((d, i) =>
    new VhostUserBackend(d, { socketPath: sockets[i], protocolFeatures: NET_PROTOCOL_FEATURES })
  );
  for (const b of backends) b.listen();
  const stop = () => backends.forEach((b) => b.close());
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`vhost-user-net: ready on ${sockets[0]} and ${sockets[1]} (joined)`);
  try {
    await Promise.all(backends.map((b) => b.serve()));
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
  console.log(
    `vhost-user-net: ${devices[0].stats.txFrames} frames one way, ` +
      `${devices[1].stats.txFrames} the other`,
  );
  return 0;
}

async function main(): Promise<number> {
  let socket: string;
  let ip: Uint8Array;
  let mac: Uint8Array;
  let queueSize: number;
  let join: string | undefined;
  try {
    const f = parseFlags(
      Deno.args,
      { socket: true, ip: true, mac: true, "queue-size": true, join: true },
      USAGE,
    );
    socket = flagValue(f, "socket") ?? "";
    const ipText = flagValue(f, "ip");
    join = flagValue(f, "join");
    if (socket === "" || (ipText === undefined) === (join === undefined)) {
      throw new Error(`--socket and one of --ip or --join are required\n${USAGE}`);
    }
    if (join === socket) throw new Error(`--join must be another socket than --socket\n${USAGE}`);
    ip = parseIPv4(ipText ?? "0.0.0.0");
    mac = parseMac(flagValue(f, "mac") ?? "52:54:00:00:00:02");
    queueSize = Number(flagValue(f, "queue-size") ?? 256);
    if (!Number.isInteger(queueSize) || queueSize < 2) {
      throw new Error(`bad --queue-size\n${USAGE}`);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  if (join !== undefined) return await serveJoined([socket, join], queueSize);
  const host = new PingHost(ip, mac);
  const device = new NetDevice({ backend: host, queueSize });
  await serveDevice(
    "vhost-user-net",
    device,
    socket,
    `host ${[...ip].join(".")} at ${formatMac(mac)}`,
    undefined,
    NET_PROTOCOL_FEATURES,
  );
  console.log(
    `vhost-user-net: answered ${host.stats.arpReplies} ARP, ${host.stats.echoReplies} echo ` +
      `requests; tx ${device.stats.txFrames}, rx ${device.stats.rxFrames} frames`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
