/**
 * The page's network peer: a net backend that is one host, 10.0.2.2, which
 * answers ARP requests for its address and ICMP echo requests (`ping
 * 10.0.2.2` in the guest). Ethernet, ARP and IPv4 are not virtio layouts, so
 * their offsets are spelled here (RFC 826, RFC 791, RFC 792).
 *
 * @module
 */

import type { NetBackend, NetPort } from "../src/devices/net/backend.ts";
import { type NetOffloads, NO_OFFLOADS } from "../src/devices/net/offload.ts";

/** The peer's IPv4 address. */
export const PEER_IP: readonly number[] = [10, 0, 2, 2];
/** The peer's MAC address. */
export const PEER_MAC: readonly number[] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];

const ETH_TYPE = 12, ETH_HDR = 14;
const ARP_OPER = ETH_HDR + 6, ARP_SHA = ETH_HDR + 8, ARP_TPA = ETH_HDR + 24;
const IP_TOTAL_LEN = ETH_HDR + 2, IP_PROTO = ETH_HDR + 9, IP_SUM = ETH_HDR + 10;
const IP_SRC = ETH_HDR + 12, IP_DST = ETH_HDR + 16;

/** RFC 1071 Internet checksum of `b[from, to)`. */
const checksum = (b: Uint8Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
};

/** A one-host network: answers ARP and ping for {@link PEER_IP}; counts what it answered. */
export class EchoPeer implements NetBackend {
  /** Frames are complete: no offloads. */
  readonly offloads: NetOffloads = NO_OFFLOADS;
  /** ARP replies and echo replies sent. */
  arpReplies = 0;
  echoReplies = 0;
  #port: NetPort | undefined;

  /** Called by the net device. */
  attach(port: NetPort): void {
    this.#port = port;
  }

  /** Nothing is held back. */
  rxReady(): void {}

  /** Nothing to release. */
  close(): void {}

  /** A frame from the guest. */
  transmit(frame: Uint8Array): boolean {
    if (frame.length < ETH_HDR + 28) return true;
    const f = frame.slice();
    const type = (f[ETH_TYPE] << 8) | f[ETH_TYPE + 1];
    const toPeer = (at: number) => PEER_IP.every((b, i) => f[at + i] === b);
    if (type === 0x0806 && ((f[ARP_OPER] << 8) | f[ARP_OPER + 1]) === 1 && toPeer(ARP_TPA)) {
      const r = new Uint8Array(ETH_HDR + 28);
      r.set(f.subarray(6, 12), 0);
      r.set(PEER_MAC, 6);
      r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], ETH_TYPE);
      r.set(PEER_MAC, ARP_SHA);
      r.set(PEER_IP, ARP_SHA + 6);
      r.set(f.subarray(ARP_SHA, ARP_SHA + 10), ARP_SHA + 10); // the asker becomes the target
      this.arpReplies++;
      this.#port?.receive(r, undefined);
    } else if (type === 0x0800 && f[IP_PROTO] === 1 && toPeer(IP_DST)) {
      const icmp = ETH_HDR + (f[ETH_HDR] & 0xf) * 4;
      const end = ETH_HDR + ((f[IP_TOTAL_LEN] << 8) | f[IP_TOTAL_LEN + 1]);
      if (f[icmp] !== 8 || end > f.length) return true; // echo requests only
      const r = f.slice(0, end);
      r.set(f.subarray(6, 12), 0);
      r.set(PEER_MAC, 6);
      r.set(f.subarray(IP_DST, IP_DST + 4), IP_SRC);
      r.set(f.subarray(IP_SRC, IP_SRC + 4), IP_DST);
      r[IP_SUM] = r[IP_SUM + 1] = 0;
      const ipSum = checksum(r, ETH_HDR, icmp);
      r[IP_SUM] = ipSum >> 8;
      r[IP_SUM + 1] = ipSum & 0xff;
      r[icmp] = 0; // echo reply
      r[icmp + 2] = r[icmp + 3] = 0;
      const s = checksum(r, icmp, end);
      r[icmp + 2] = s >> 8;
      r[icmp + 3] = s & 0xff;
      this.echoReplies++;
      this.#port?.receive(r, undefined);
    }
    return true;
  }
}
