/**
 * The control queue of the virtio-net device model (spec 5.1.6.5): each
 * buffer is one command (`class`, `command`, data), run against the device
 * and answered with VIRTIO_NET_OK or VIRTIO_NET_ERR in its one
 * device-writable byte. Unknown, not negotiated or malformed commands get
 * VIRTIO_NET_ERR; a buffer without room for the ack is a
 * {@link DeviceError} (the device then needs a reset).
 *
 * @module
 */

import type { DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import {
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_ALLUNI,
  VIRTIO_NET_CTRL_RX_NOBCAST,
  VIRTIO_NET_CTRL_RX_NOMULTI,
  VIRTIO_NET_CTRL_RX_NOUNI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_CTRL_VLAN,
  VIRTIO_NET_CTRL_VLAN_ADD,
  VIRTIO_NET_CTRL_VLAN_DEL,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_RX_EXTRA,
  VIRTIO_NET_F_CTRL_VLAN,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
  VirtioNetCtrl,
  VirtioNetCtrlMacAddr,
  VirtioNetCtrlMqPairsSet,
} from "../../generated/devices/net.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { bit } from "../../features.ts";
import type { NetDeviceStats } from "./device.ts";
import { GUEST_OFFLOAD_BITS } from "./_header_offloads.ts";
import type { RxFilter } from "./_rx_filter.ts";
import type { FlowSteering } from "./_steering.ts";

/** Where a control command's data starts: after `class` and `command` (5.1.9.5). */
const CTRL_DATA_AT: number = VirtioNetCtrl.OFFSETS.commandSpecificData;
/** The longest fixed command data this device reads: GUEST_OFFLOADS_SET's le64 (5.1.9.5.9). */
const CTRL_FIXED_DATA = 8;

/** What the commands read and change in their device. */
export interface ControlTarget {
  /** The negotiated features. */
  negotiated(): bigint;
  /** Queue pairs the device has. */
  readonly maxQueuePairs: number;
  /** The device's counters (ctrlOk, ctrlErr). */
  readonly stats: NetDeviceStats;
  /** Receive modes, MAC and VLAN tables. */
  readonly filter: RxFilter;
  /** Queue pairs in use. */
  readonly steering: FlowSteering;
  /** VIRTIO_NET_CTRL_MAC_ADDR_SET: `mac` into config (before the buffer is used, 5.1.6.5.2). */
  setMac(mac: Uint8Array): void;
  /** VIRTIO_NET_CTRL_ANNOUNCE_ACK: clear VIRTIO_NET_S_ANNOUNCE (before the buffer is used, 5.1.6.5.4). */
  ackAnnounce(): void;
  /** VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: the GUEST_* offloads now on (all negotiated). */
  setGuestOffloads(mask: bigint): void;
}

/** The control queue's command handling for one device. */
export class NetControl {
  readonly #dev: ControlTarget;
  // A control command is copied here once (class, command, fixed data) and read from the copy.
  readonly #ctrlBytes = new Uint8Array(CTRL_DATA_AT + CTRL_FIXED_DATA);
  readonly #ctrlView = new DataView(this.#ctrlBytes.buffer);
  readonly #ctrl = new VirtioNetCtrl(this.#ctrlView, 0, CTRL_FIXED_DATA);
  readonly #mqSet = new VirtioNetCtrlMqPairsSet(this.#ctrlView, CTRL_DATA_AT);

  /** Commands against `dev`. */
  constructor(dev: ControlTarget) {
    this.#dev = dev;
  }

  /** One control buffer: run the command, write the ack (5.1.6.5); the used length is 1. */
  serve(c: DescriptorChain, ctx: DeviceContext): number {
    if (c.writableLength < 1) {
      throw new DeviceError(
        `control buffer ${c.head} has no device-writable byte for the ack (5.1.6.5)`,
        { code: "ERR_VIRTIO_DEVICE_NET_NO_ACK" },
      );
    }
    const ack = this.#command(c, ctx);
    if (ack === VIRTIO_NET_OK) this.#dev.stats.ctrlOk++;
    else this.#dev.stats.ctrlErr++;
    c.writeUint8(0, ack);
    return 1;
  }

  #has(n: number): boolean {
    return (this.#dev.negotiated() & bit(n)) !== 0n;
  }

  /**
   * Runs one command; returns the ack. The command is copied out of the
   * chain once (the MAC table, longer, in {@link RxFilter.setMacTables}) and
   * every value is checked and used from the copy.
   */
  #command(c: DescriptorChain, ctx: DeviceContext): number {
    const len = c.readableLength;
    if (len < CTRL_DATA_AT) return VIRTIO_NET_ERR;
    const bytes = this.#ctrlBytes;
    bytes.fill(0);
    c.read(0, bytes, 0, Math.min(len, bytes.length));
    const cls = this.#ctrl.class;
    const cmd = this.#ctrl.command;
    const data = len - CTRL_DATA_AT;
    const ERR = VIRTIO_NET_ERR;
    const OK = VIRTIO_NET_OK;
    const filter = this.#dev.filter;
    switch (cls) {
      case VIRTIO_NET_CTRL_RX: {
        if (!this.#has(VIRTIO_NET_F_CTRL_RX) || data !== 1) return ERR;
        const on = this.#ctrl.commandSpecificData(0); // u8 on
        if (on > 1) return ERR;
        const v = on === 1;
        if (cmd === VIRTIO_NET_CTRL_RX_PROMISC) filter.promisc = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_ALLMULTI) filter.allMulti = v;
        else if (!this.#has(VIRTIO_NET_F_CTRL_RX_EXTRA)) return ERR;
        else if (cmd === VIRTIO_NET_CTRL_RX_ALLUNI) filter.allUni = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOMULTI) filter.noMulti = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOUNI) filter.noUni = v;
        else if (cmd === VIRTIO_NET_CTRL_RX_NOBCAST) filter.noBcast = v;
        else return ERR;
        return OK;
      }
      case VIRTIO_NET_CTRL_MAC: {
        if (cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET) {
          if (!this.#has(VIRTIO_NET_F_CTRL_MAC_ADDR) || data !== VirtioNetCtrlMacAddr.SIZE) {
            return ERR;
          }
          this.#dev.setMac(
            bytes.subarray(CTRL_DATA_AT, CTRL_DATA_AT + VirtioNetCtrlMacAddr.SIZE),
          );
          return OK;
        }
        if (cmd === VIRTIO_NET_CTRL_MAC_TABLE_SET) {
          if (!this.#has(VIRTIO_NET_F_CTRL_RX)) return ERR;
          return filter.setMacTables(c, CTRL_DATA_AT, len) ? OK : ERR;
        }
        return ERR;
      }
      case VIRTIO_NET_CTRL_VLAN: {
        if (!this.#has(VIRTIO_NET_F_CTRL_VLAN) || data !== 2) return ERR;
        const vid = this.#ctrlView.getUint16(CTRL_DATA_AT, true); // le16 vlan id
        if (vid > 4095) return ERR;
        if (cmd === VIRTIO_NET_CTRL_VLAN_ADD) filter.addVlan(vid);
        else if (cmd === VIRTIO_NET_CTRL_VLAN_DEL) filter.delVlan(vid);
        else return ERR;
        return OK;
      }
      case VIRTIO_NET_CTRL_ANNOUNCE: {
        if (!this.#has(VIRTIO_NET_F_GUEST_ANNOUNCE) || cmd !== VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
          return ERR;
        }
        this.#dev.ackAnnounce();
        return OK;
      }
      case VIRTIO_NET_CTRL_MQ: {
        if (
          !this.#has(VIRTIO_NET_F_MQ) || cmd !== VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
          data !== VirtioNetCtrlMqPairsSet.SIZE
        ) return ERR;
        const n = this.#mqSet.virtqueuePairs;
        if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > this.#dev.maxQueuePairs) return ERR;
        for (let i = 0; i < n; i++) {
          if (ctx.queues[2 * i] === undefined || ctx.queues[2 * i + 1] === undefined) return ERR;
        }
        this.#dev.steering.pairs = n;
        return OK;
      }
      case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
        if (
          !this.#has(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
          cmd !== VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || data !== CTRL_FIXED_DATA
        ) return ERR;
        const want = this.#ctrlView.getBigUint64(CTRL_DATA_AT, true); // le64 offloads
        // Only GUEST_* offloads that were negotiated may be switched on (5.1.6.5.6.1).
        if (want & ~(this.#dev.negotiated() & GUEST_OFFLOAD_BITS)) return ERR;
        this.#dev.setGuestOffloads(want);
        return OK;
      }
      default:
        return ERR;
    }
  }
}
