// A host-side network of one address for the net scenario: answers ARP
// requests and ICMP echo requests for HOST_IP, as a router would.
import type { NetBackend, NetPort } from "../../../src/devices/net/backend.ts";
import { NO_OFFLOADS } from "../../../src/devices/net/offload.ts";

export const HOST_IP = [10, 0, 2, 2];
export const HOST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];

const sum16 = (b: Uint8Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
};

/** Counts what it answered so the test can tell the replies came from here. */
export class IcmpResponder implements NetBackend {
  readonly offloads = NO_OFFLOADS;
  port: NetPort | undefined;
  arpReplies = 0;
  echoReplies = 0;

  attach(port: NetPort): void {
    this.port = port;
  }
  rxReady(): void {}
  close(): void {}

  transmit(frame: Uint8Array): boolean {
    const f = frame.slice();
    const type = (f[12] << 8) | f[13];
    const isHost = (at: number) => HOST_IP.every((b, i) => f[at + i] === b);
    if (type === 0x0806 && ((f[20] << 8) | f[21]) === 1 && isHost(38)) {
      const r = new Uint8Array(42);
      r.set(f.subarray(6, 12), 0); // to the asker
      r.set(HOST_MAC, 6);
      r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
      r.set(HOST_MAC, 22);
      r.set(HOST_IP, 28);
      r.set(f.subarray(22, 32), 32); // sender MAC + IP become the target
      this.arpReplies++;
      this.port?.receive(r, undefined);
    } else if (type === 0x0800 && f[23] === 1 && isHost(30)) {
      const ihl = (f[14] & 0xf) * 4;
      const icmp = 14 + ihl;
      if (f[icmp] !== 8) return true; // echo requests only
      const r = f.slice();
      r.set(f.subarray(6, 12), 0);
      r.set(HOST_MAC, 6);
      r.set(f.subarray(30, 34), 26); // swap addresses
      r.set(f.subarray(26, 30), 30);
      r[24] = r[25] = 0;
      const ipSum = sum16(r, 14, icmp);
      r[24] = ipSum >> 8;
      r[25] = ipSum & 0xff;
      r[icmp] = 0; // echo reply
      r[icmp + 2] = r[icmp + 3] = 0;
      const total = (f[16] << 8) | f[17];
      const s = sum16(r, icmp, 14 + total);
      r[icmp + 2] = s >> 8;
      r[icmp + 3] = s & 0xff;
      this.echoReplies++;
      this.port?.receive(r, undefined);
    }
    return true;
  }
}
