/**
 * The virtio-net driver's side of the control queue (spec 5.1.6.5): each
 * command goes out as `class`, `command` and data with one device-writable
 * byte for the ack; the ack resolves the command's promise. Commands still
 * in flight fail when the queue breaks and resolve with 0xff when the
 * interface is released. Also the encodings of the commands' data.
 *
 * @module
 */

import type { DriverDevice, Virtqueue } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import type { DmaAllocator } from "../../memory.ts";
import {
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_OK,
  VirtioNetCtrlMac,
  VirtioNetCtrlMacAddr,
} from "../../generated/devices/net.ts";
import { parseMac } from "./device.ts";

/** A command in flight: its buffer and where the device writes the ack. */
interface CtrlToken {
  addr: number;
  ackAt: number;
  resolve: (ack: number) => void;
  reject: (e: DeviceError) => void;
}

/** Buffer tokens: an index for data queues, the command for the control queue. */
export type NetToken = number | CtrlToken;

/** The control queue of one interface (`vq` once the queues are set up, if the device has one). */
export class NetCommands {
  /** The control queue; undefined without VIRTIO_NET_F_CTRL_VQ. */
  vq: Virtqueue<NetToken> | undefined;
  readonly #dev: DriverDevice;
  readonly #pending = new Set<CtrlToken>();

  /** The commands of `dev`. */
  constructor(dev: DriverDevice) {
    this.#dev = dev;
  }

  /** Send a raw control command; resolves with the ack (VIRTIO_NET_OK or VIRTIO_NET_ERR). */
  send(cls: number, cmd: number, data: Uint8Array): Promise<number> {
    const vq = this.vq;
    if (vq === undefined) {
      return Promise.reject(
        new DeviceError(`${this.#dev.name}: no control queue (VIRTIO_NET_F_CTRL_VQ)`, {
          code: "ERR_VIRTIO_DEVICE_NET_FEATURE",
        }),
      );
    }
    const { memory, dma } = this.#dev.dmaContext;
    const len = 2 + data.length;
    const addr = dma.alloc(len + 1, 8);
    const b = memory.bytes(addr, len + 1);
    b[0] = cls;
    b[1] = cmd;
    b.set(data, 2);
    b[len] = 0xff;
    return new Promise<number>((resolve, reject) => {
      const token: CtrlToken = { addr, ackAt: addr + len, resolve, reject };
      try {
        vq.addSgs([{ addr, len }], [{ addr: addr + len, len: 1 }], token);
        this.#pending.add(token);
        vq.kick();
      } catch (e) {
        dma.free(addr);
        reject(e);
      }
    });
  }

  /**
   * A command that needs `feature` and must be acked VIRTIO_NET_OK: a
   * {@link DeviceError} when the feature is not negotiated or the device
   * refuses (`what` names the command).
   */
  async ok(
    cls: number,
    cmd: number,
    data: Uint8Array,
    what: string,
    feature: number,
  ): Promise<void> {
    if (!this.#dev.hasFeature(feature)) {
      throw new DeviceError(`${this.#dev.name}: ${what} needs feature ${feature}, not negotiated`, {
        code: "ERR_VIRTIO_DEVICE_NET_FEATURE",
      });
    }
    const ack = await this.send(cls, cmd, data);
    if (ack !== VIRTIO_NET_OK) {
      throw new DeviceError(`${this.#dev.name}: device refused ${what}`, {
        code: "ERR_VIRTIO_DEVICE_NET_REFUSED",
      });
    }
  }

  /** A VIRTIO_NET_CTRL_RX command: one receive-mode flag on or off (5.1.6.5.1). */
  rx(cmd: number, on: boolean, what: string, feature: number): Promise<void> {
    return this.ok(VIRTIO_NET_CTRL_RX, cmd, Uint8Array.of(on ? 1 : 0), what, feature);
  }

  /** The device used control buffers: resolve their commands with the ack. */
  irq(vq: Virtqueue<NetToken>): void {
    const { memory, dma } = this.#dev.dmaContext;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const t = b.token;
      if (typeof t === "number") continue;
      const ack = b.len >= 1 ? memory.readUint8(t.ackAt) : 0xff;
      dma.free(t.addr);
      this.#pending.delete(t);
      t.resolve(ack);
    }
  }

  /** The control queue broke: pending commands fail now (their buffers are freed on release). */
  broken(error: DeviceError): void {
    for (const t of this.#pending) t.reject(error);
  }

  /** The device went away: free the buffers of pending commands, which resolve with 0xff. */
  release(dma: DmaAllocator): void {
    for (const t of this.#pending) {
      dma.free(t.addr);
      t.resolve(0xff);
    }
    this.#pending.clear();
  }
}

/** VIRTIO_NET_CTRL_MAC_TABLE_SET's data: two `virtio_net_ctrl_mac` tables, unicast then multicast. */
export function macTableData(
  unicast: readonly (string | Uint8Array)[],
  multicast: readonly (string | Uint8Array)[],
): Uint8Array {
  const ENTRY = VirtioNetCtrlMacAddr.SIZE;
  const d = new Uint8Array(
    2 * VirtioNetCtrlMac.SIZE + ENTRY * (unicast.length + multicast.length),
  );
  const table = new VirtioNetCtrlMac(new DataView(d.buffer));
  let o = 0;
  for (const list of [unicast, multicast]) {
    table.at(o).entries = list.length;
    o += VirtioNetCtrlMac.OFFSETS.macs;
    for (const m of list) {
      d.set(typeof m === "string" ? parseMac(m) : m.subarray(0, ENTRY), o);
      o += ENTRY;
    }
  }
  return d;
}

/** A le16 command argument (VLAN id, queue pairs). */
export function le16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}

/** A le64 command argument (guest offloads). */
export function le64(v: bigint): Uint8Array {
  const d = new Uint8Array(8);
  new DataView(d.buffer).setBigUint64(0, v, true);
  return d;
}
