/**
 * The driver side of an administration virtqueue (spec 2.12, 2.13) on a
 * PCI group owner: {@link findAdminQueue} sets up the owner's queues and
 * its administration queue (4.1.4.3 `admin_queue_index` / `admin_queue_num`,
 * once VIRTIO_F_ADMIN_VQ was negotiated), and {@link AdminQueue} sends
 * commands on it: the command lists (2.12.1.1) and the legacy interface of
 * SR-IOV members (2.12.1.2). A command that does not complete with
 * VIRTIO_ADMIN_STATUS_OK rejects with an {@link AdminCommandError} carrying
 * `status` and `statusQualifier`.
 *
 * Commands are sent one at a time: 2.13 leaves ordering between
 * outstanding commands to the driver, and LIST_USE must not overlap others.
 *
 * @example Read a member's device config through its group owner
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import type { VirtioDriver } from "../../driver.ts";
 * import { VIRTIO_F_ADMIN_VQ } from "../../generated/common.ts";
 * import { NullDevice } from "../../devices/null/device.ts";
 * import { BalloonDevice } from "../../devices/balloon/device.ts";
 * import { AdminQueue, findAdminQueue, PciFunction, probePci } from "./mod.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const balloon = new BalloonDevice();
 * balloon.setTarget(7); // num_pages, the first field of its config
 * const vf = new PciFunction(balloon, memory, { transitional: true });
 * const pf = new PciFunction(new NullDevice(), memory, { groupMembers: [vf] });
 * let admin: AdminQueue | undefined;
 * const driver: VirtioDriver = {
 *   name: "owner",
 *   idTable: [{ device: NullDevice.DEVICE_ID }],
 *   featureTable: [VIRTIO_F_ADMIN_VQ],
 *   probe(dev) {
 *     admin = findAdminQueue(dev, [{ name: "requests" }]).admin;
 *   },
 *   remove(dev) {
 *     dev.reset();
 *     dev.delVqs();
 *   },
 * };
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * await bus.registerDriver(driver);
 * await bus.addDevice(probePci(pf)!);
 * await admin!.listUse(await admin!.listQuery());
 * const numPages = await admin!.legacyDevCfgRead(1, 0, 4);
 * assert.deepEqual([...numPages], [7, 0, 0, 0]);
 * ```
 *
 * @module
 */

import type { DriverDevice, Virtqueue, VqInfo } from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import {
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO,
  VIRTIO_ADMIN_CMD_LIST_QUERY,
  VIRTIO_ADMIN_CMD_LIST_USE,
  VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_END,
  VIRTIO_ADMIN_GROUP_TYPE_SRIOV,
  VIRTIO_ADMIN_STATUS_OK,
  VirtioAdminCmd,
  VirtioAdminCmdLegacyCommonCfgRdData,
  VirtioAdminCmdLegacyCommonCfgWrData,
  VirtioAdminCmdLegacyNotifyInfoResult,
  VirtioAdminCmdList,
  VirtioPciLegacyNotifyInfo,
} from "../../generated/admin.ts";
import { VIRTIO_F_ADMIN_VQ } from "../../generated/common.ts";
import { PciTransport } from "./driver.ts";

/** An administration command that completed with a status other than VIRTIO_ADMIN_STATUS_OK. */
export class AdminCommandError extends DeviceError {
  /** The default code of this class. */
  static override readonly defaultCode: string = "ERR_VIRTIO_DEVICE_ADMIN_COMMAND";
  /** The command's opcode (VIRTIO_ADMIN_CMD_*). */
  readonly opcode: number;
  /** VIRTIO_ADMIN_STATUS_* (2.12.1). */
  readonly status: number;
  /** VIRTIO_ADMIN_STATUS_Q_* (2.12.1). */
  readonly statusQualifier: number;

  /** The error of command `opcode` completing with `status` and `statusQualifier`. */
  constructor(opcode: number, status: number, statusQualifier: number) {
    super(
      `administration command 0x${opcode.toString(16)} failed: status ${status}, ` +
        `qualifier ${statusQualifier} (2.12.1)`,
      { code: "ERR_VIRTIO_DEVICE_ADMIN_COMMAND" },
    );
    this.opcode = opcode;
    this.status = status;
    this.statusQualifier = statusQualifier;
  }
}

/** One region of {@link AdminQueue.legacyNotifyInfo} (`struct virtio_pci_legacy_notify_info`). */
export interface LegacyNotifyRegion {
  /** VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM or _MEMBER_MEM. */
  readonly flags: number;
  /** The BAR of the owner or of the member. */
  readonly bar: number;
  /** Offset of the 16-bit notification register in that BAR. */
  readonly offset: bigint;
}

const HEAD = VirtioAdminCmd.OFFSETS.commandSpecificData;
const STATUS_PART = VirtioAdminCmd.size(0, 0) - HEAD;

/** The administration virtqueue of a group owner, driver side. */
export class AdminQueue {
  /** The queue the commands go on. */
  readonly vq: Virtqueue;
  /** The group the commands address (default VIRTIO_ADMIN_GROUP_TYPE_SRIOV). */
  readonly groupType: number;
  #tail: Promise<unknown> = Promise.resolve();

  /** Commands for group `groupType` on `vq`, a request queue (no callback). */
  constructor(vq: Virtqueue, groupType: number = VIRTIO_ADMIN_GROUP_TYPE_SRIOV) {
    this.vq = vq;
    this.groupType = groupType;
  }

  /**
   * One command: `data` as `command_specific_data`, room for `resultLen`
   * bytes of `command_specific_result`. Resolves with the result, zero-extended
   * to `resultLen` when the device wrote less (2.13); rejects with an
   * {@link AdminCommandError} unless the status is VIRTIO_ADMIN_STATUS_OK.
   * Commands run one after the other.
   */
  command(
    opcode: number,
    memberId: bigint | number,
    data: Uint8Array,
    resultLen: number,
  ): Promise<Uint8Array> {
    const run = this.#tail.then(() => this.#send(opcode, BigInt(memberId), data, resultLen));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #send(
    opcode: number,
    memberId: bigint,
    data: Uint8Array,
    resultLen: number,
  ): Promise<Uint8Array> {
    const out = new Uint8Array(HEAD + data.length);
    const cmd = new VirtioAdminCmd(new DataView(out.buffer));
    cmd.opcode = opcode;
    cmd.groupType = this.groupType;
    cmd.groupMemberId = memberId;
    out.set(data, HEAD);
    const written = await this.vq.request(out, STATUS_PART + resultLen);
    // Our own copy, zero-extended past what the device wrote (2.13).
    const back = new Uint8Array(VirtioAdminCmd.size(0, resultLen));
    back.set(written.subarray(0, STATUS_PART + resultLen), HEAD);
    const res = new VirtioAdminCmd(new DataView(back.buffer), 0, 0, resultLen);
    if (res.status !== VIRTIO_ADMIN_STATUS_OK) {
      throw new AdminCommandError(opcode, res.status, res.statusQualifier);
    }
    return res.commandSpecificResultBytes().slice();
  }

  /** VIRTIO_ADMIN_CMD_LIST_QUERY: the bitmap of commands the device supports for the group. */
  async listQuery(): Promise<bigint> {
    const r = await this.command(VIRTIO_ADMIN_CMD_LIST_QUERY, 0n, new Uint8Array(0), 8);
    return new VirtioAdminCmdList(new DataView(r.buffer), 0, 1).deviceAdminCmdOpcodes(0);
  }

  /** VIRTIO_ADMIN_CMD_LIST_USE: tell the device the commands the driver uses (opcodes below 64). */
  async listUse(opcodes: bigint): Promise<void> {
    if (opcodes < 0n || opcodes >= 1n << 64n) {
      throw new ArgumentError(`listUse: bitmap 0x${opcodes.toString(16)} is not 64 bits`, {
        code: "ERR_VIRTIO_ARGUMENT_ADMIN_LIST",
      });
    }
    const data = new Uint8Array(VirtioAdminCmdList.size(1));
    new VirtioAdminCmdList(new DataView(data.buffer), 0, 1).setDeviceAdminCmdOpcodes(0, opcodes);
    await this.command(VIRTIO_ADMIN_CMD_LIST_USE, 0n, data, 0);
  }

  /** VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ: `length` bytes of member `member`'s legacy header. */
  legacyCommonCfgRead(
    member: bigint | number,
    offset: number,
    length: number,
  ): Promise<Uint8Array> {
    return this.#read(VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ, member, offset, length);
  }

  /** VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE: write `bytes` (little-endian) at `offset`. */
  async legacyCommonCfgWrite(
    member: bigint | number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<void> {
    await this.#write(VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE, member, offset, bytes);
  }

  /** VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ: `length` bytes of the member's device config. */
  legacyDevCfgRead(member: bigint | number, offset: number, length: number): Promise<Uint8Array> {
    return this.#read(VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ, member, offset, length);
  }

  /** VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE: write `bytes` into the member's device config. */
  async legacyDevCfgWrite(
    member: bigint | number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<void> {
    await this.#write(VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE, member, offset, bytes);
  }

  /** VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO: where the member's legacy notifications go. */
  async legacyNotifyInfo(member: bigint | number): Promise<LegacyNotifyRegion[]> {
    const size = VirtioAdminCmdLegacyNotifyInfoResult.SIZE;
    const r = await this.command(
      VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO,
      member,
      new Uint8Array(0),
      size,
    );
    const view = new DataView(r.buffer);
    const list = new VirtioAdminCmdLegacyNotifyInfoResult(view);
    const e = new VirtioPciLegacyNotifyInfo(view);
    const regions: LegacyNotifyRegion[] = [];
    for (let i = 0; i < size / VirtioPciLegacyNotifyInfo.SIZE; i++) {
      e.at(list.entriesOffset(i));
      if (e.flags === VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_END) break;
      regions.push({ flags: e.flags, bar: e.bar, offset: e.barOffset });
    }
    return regions;
  }

  #read(opcode: number, member: bigint | number, offset: number, length: number) {
    checkOffset(offset);
    if (!Number.isSafeInteger(length) || length < 1 || length > 256) {
      return Promise.reject(
        new ArgumentError(`legacy read of ${length} bytes: need 1 to 256`, {
          code: "ERR_VIRTIO_ARGUMENT_LENGTH",
        }),
      );
    }
    // The readable part is the whole 64-bit word the offset starts (2.13).
    const data = new Uint8Array(8);
    new VirtioAdminCmdLegacyCommonCfgRdData(new DataView(data.buffer)).cfgOffset = offset;
    return this.command(opcode, member, data, length);
  }

  #write(opcode: number, member: bigint | number, offset: number, bytes: Uint8Array) {
    checkOffset(offset);
    const data = new Uint8Array(VirtioAdminCmdLegacyCommonCfgWrData.size(bytes.length));
    new VirtioAdminCmdLegacyCommonCfgWrData(new DataView(data.buffer)).cfgOffset = offset;
    data.set(bytes, VirtioAdminCmdLegacyCommonCfgWrData.OFFSETS.data);
    return this.command(opcode, member, data, 0);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > 0xff) {
    throw new ArgumentError(`legacy access offset ${offset} is not a u8`, {
      code: "ERR_VIRTIO_ARGUMENT_OFFSET",
    });
  }
}

/**
 * Set up the owner's queues `infos` (indices 0 to `infos.length - 1`, all of
 * the device's queues) and its first administration virtqueue, which
 * follows them. Needs VIRTIO_F_ADMIN_VQ negotiated (put it in the driver's
 * `featureTable`) on a modern PCI transport; a {@link DeviceError} otherwise.
 */
export function findAdminQueue(
  dev: DriverDevice,
  infos: readonly VqInfo[],
): { vqs: Virtqueue[]; admin: AdminQueue } {
  const t = dev.transport;
  if (!dev.hasFeature(VIRTIO_F_ADMIN_VQ) || !(t instanceof PciTransport)) {
    throw new DeviceError(
      `${dev.name}: no administration virtqueue: VIRTIO_F_ADMIN_VQ not negotiated over modern PCI`,
      { code: "ERR_VIRTIO_DEVICE_NO_ADMIN_VQ" },
    );
  }
  const { index, num } = t.adminQueues();
  if (num === 0 || index !== infos.length) {
    throw new DeviceError(
      `${dev.name}: administration queue at ${index} (${num} of them), ` +
        `not right after the ${infos.length} queues asked for`,
      { code: "ERR_VIRTIO_DEVICE_NO_ADMIN_VQ" },
    );
  }
  const all = dev.findVqs([...infos, { name: "adminq" }]);
  return { vqs: all.slice(0, index), admin: new AdminQueue(all[index]) };
}
