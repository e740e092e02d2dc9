/**
 * The receive filter of the virtio-net device model: the receive modes
 * (VIRTIO_NET_CTRL_RX, spec 5.1.6.5.1), the unicast and multicast MAC
 * tables (VIRTIO_NET_CTRL_MAC_TABLE_SET, 5.1.6.5.2) and the VLAN table
 * (VIRTIO_NET_CTRL_VLAN, 5.1.6.5.3), and the test every received frame
 * passes before it reaches a receive buffer.
 *
 * @module
 */

import {
  type VirtioNetConfig,
  VirtioNetCtrlMac,
  VirtioNetCtrlMacAddr,
} from "../../generated/devices/net.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { vlanId } from "./offload.ts";

/** Entries of each MAC filter table (unicast, multicast); more sets the overflow flag (accept all). */
export const DEFAULT_MAC_TABLE = 64;

/** A MAC address as a number (48 bits fit a double exactly). */
function macNumber(b: Uint8Array, at: number): number {
  const low = ((b[at + 2] << 24) | (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5]) >>> 0;
  return b[at] * 2 ** 40 + b[at + 1] * 2 ** 32 + low;
}

/** The 6 bytes of a MAC address kept as a number by {@link RxFilter}. */
export function macFromNumber(n: number): Uint8Array {
  const b = new Uint8Array(6);
  let v = n;
  for (let i = 5; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

const BROADCAST = 2 ** 48 - 1;

/** Receive modes, MAC tables and VLAN table of one device (5.1.6.5.1, 5.1.6.5.2, 5.1.6.5.3). */
export class RxFilter {
  promisc = true;
  allMulti = false;
  allUni = false;
  noMulti = false;
  noUni = false;
  noBcast = false;
  /** Unicast addresses (as numbers); the first {@link RxFilter.uniCount} are in use. */
  readonly uni: Float64Array;
  uniCount = 0;
  uniOverflow = false;
  /** Multicast addresses (as numbers); the first {@link RxFilter.multiCount} are in use. */
  readonly multi: Float64Array;
  multiCount = 0;
  multiOverflow = false;
  /** Tagged frames pass only for VLANs in the table (VIRTIO_NET_F_CTRL_VLAN negotiated). */
  vlanFilter = false;
  readonly #vlans = new Uint8Array(4096 / 8);
  readonly #macTableSize: number;

  /** A filter with `macTableSize` entries per MAC table. */
  constructor(macTableSize: number) {
    this.#macTableSize = macTableSize;
    this.uni = new Float64Array(macTableSize);
    this.multi = new Float64Array(macTableSize);
  }

  /** Back to receiving everything, with empty tables; `vlanFilter` as negotiated. */
  reset(vlanFilter: boolean): void {
    this.promisc = true;
    this.allMulti =
      this.allUni =
      this.noMulti =
      this.noUni =
      this.noBcast =
        false;
    this.uniCount = this.multiCount = 0;
    this.uniOverflow = this.multiOverflow = false;
    this.vlanFilter = vlanFilter;
    this.#vlans.fill(0);
  }

  /** The receive mode flags. */
  modes(): {
    promisc: boolean;
    allMulti: boolean;
    allUni: boolean;
    noMulti: boolean;
    noUni: boolean;
    noBcast: boolean;
  } {
    return {
      promisc: this.promisc,
      allMulti: this.allMulti,
      allUni: this.allUni,
      noMulti: this.noMulti,
      noUni: this.noUni,
      noBcast: this.noBcast,
    };
  }

  /** Is VLAN `vid` in the table? */
  hasVlan(vid: number): boolean {
    return (this.#vlans[vid >> 3] & (1 << (vid & 7))) !== 0;
  }

  /** VIRTIO_NET_CTRL_VLAN_ADD (`vid` below 4096). */
  addVlan(vid: number): void {
    this.#vlans[vid >> 3] |= 1 << (vid & 7);
  }

  /** VIRTIO_NET_CTRL_VLAN_DEL (`vid` below 4096). */
  delVlan(vid: number): void {
    this.#vlans[vid >> 3] &= ~(1 << (vid & 7));
  }

  /** Does `frame` pass the filter? `cfg` holds the device's own MAC address. */
  accept(frame: Uint8Array, cfg: VirtioNetConfig): boolean {
    if (this.vlanFilter) {
      const vid = vlanId(frame);
      // 5.1.6.5.3: with CTRL_VLAN, tagged frames pass only for VLANs in the table.
      if (vid >= 0 && !this.hasVlan(vid)) return false;
    }
    if (this.promisc) return true;
    const dst = macNumber(frame, 0);
    if (dst === BROADCAST) return !this.noBcast;
    if (frame[0] & 1) {
      if (this.noMulti) return false;
      if (this.allMulti || this.multiOverflow) return true;
      for (let i = 0; i < this.multiCount; i++) if (this.multi[i] === dst) return true;
      return false;
    }
    if (this.noUni) return false;
    if (this.allUni || this.uniOverflow) return true;
    if (dst === macNumber(cfg.macBytes(), 0)) return true;
    for (let i = 0; i < this.uniCount; i++) if (this.uni[i] === dst) return true;
    return false;
  }

  /**
   * VIRTIO_NET_CTRL_MAC_TABLE_SET: two `virtio_net_ctrl_mac` tables, unicast
   * then multicast, from offset `start` of the command to its end `len`.
   * Each `entries` is read once and each address once.
   */
  setMacTables(c: DescriptorChain, start: number, len: number): boolean {
    const ENTRY = VirtioNetCtrlMacAddr.SIZE;
    let off = start;
    const counts = [0, 0];
    const starts = [0, 0];
    const word = new Uint8Array(VirtioNetCtrlMac.SIZE);
    const table = new VirtioNetCtrlMac(new DataView(word.buffer));
    for (let t = 0; t < 2; t++) {
      if (c.read(off, word) < VirtioNetCtrlMac.SIZE) return false;
      const n = table.entries;
      off += VirtioNetCtrlMac.OFFSETS.macs;
      if (n > (len - off) / ENTRY) return false;
      counts[t] = n;
      starts[t] = off;
      off += ENTRY * n;
    }
    if (off !== len) return false;
    const mac = new Uint8Array(ENTRY);
    const fill = (table: Float64Array, start: number, n: number): number => {
      const k = Math.min(n, table.length);
      for (let i = 0; i < k; i++) {
        c.read(start + ENTRY * i, mac);
        table[i] = macNumber(mac, 0);
      }
      return k;
    };
    this.uniCount = fill(this.uni, starts[0], counts[0]);
    this.uniOverflow = counts[0] > this.#macTableSize;
    this.multiCount = fill(this.multi, starts[1], counts[1]);
    this.multiOverflow = counts[1] > this.#macTableSize;
    return true;
  }
}
