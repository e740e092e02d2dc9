/**
 * The administration virtqueue of a PCI group owner, device side (spec
 * 2.12, 2.13): {@link AdminServer} serves `struct virtio_admin_cmd` chains
 * for the SR-IOV group (type 1) whose members are other PCI functions of
 * ours, and routes the legacy-interface commands (2.12.1.2) to each
 * member's legacy header.
 *
 * The driver is hostile: the device-readable part is copied once into our
 * own buffer (truncated to what we can use, zero-extended when short,
 * 2.13), every field is checked on that copy, and `status` /
 * `status_qualifier` are always written (as far as the device-writable part
 * reaches). Commands are served one at a time, in queue order.
 *
 * Private to src/transport/pci/.
 *
 * @module
 */

import type { ConfigWidth, DeviceContext } from "../../device.ts";
import {
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO,
  VIRTIO_ADMIN_CMD_LIST_QUERY,
  VIRTIO_ADMIN_CMD_LIST_USE,
  VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM,
  VIRTIO_ADMIN_GROUP_TYPE_SRIOV,
  VIRTIO_ADMIN_STATUS_EINVAL,
  VIRTIO_ADMIN_STATUS_OK,
  VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD,
  VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP,
  VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
  VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE,
  VIRTIO_ADMIN_STATUS_Q_OK,
  VirtioAdminCmd,
  VirtioAdminCmdLegacyCommonCfgRdData,
  VirtioAdminCmdLegacyCommonCfgWrData,
  VirtioAdminCmdLegacyNotifyInfoResult,
  VirtioAdminCmdList,
  VirtioPciLegacyNotifyInfo,
} from "../../generated/admin.ts";
import { VIRTIO_F_ADMIN_VQ } from "../../generated/common.ts";
import { type ChainServer, serveQueue } from "../../queue_service.ts";
import type { DescriptorChain } from "../../virtqueue/mod.ts";
import type { TransportQueue } from "../device_state.ts";
import type { LegacyHeader } from "./_legacy_header.ts";

/** What the owner needs of one member of its SR-IOV group. */
export interface AdminMember {
  /** The member's legacy interface (its legacy header emulation). */
  readonly legacy: LegacyHeader;
  /** The size of the member's device config. */
  readonly configSize: number;
}

/** The commands this owner supports for the SR-IOV group (2.12.1.1). */
export const SUPPORTED_OPCODES: readonly number[] = Object.freeze([
  VIRTIO_ADMIN_CMD_LIST_QUERY,
  VIRTIO_ADMIN_CMD_LIST_USE,
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO,
]);

const SUPPORTED_MASK: bigint = SUPPORTED_OPCODES.reduce((m, o) => m | (1n << BigInt(o)), 0n);
/** Before LIST_USE (and after a reset), only LIST_QUERY and LIST_USE are legal (2.12.1.1). */
const INITIAL_USE: bigint = (1n << BigInt(VIRTIO_ADMIN_CMD_LIST_QUERY)) |
  (1n << BigInt(VIRTIO_ADMIN_CMD_LIST_USE));

/** The header of the device-readable part: opcode through group_member_id. */
const HEAD = VirtioAdminCmd.OFFSETS.commandSpecificData;
/** The header of the device-writable part: status, status_qualifier, reserved2. */
const STATUS_PART = VirtioAdminCmd.size(0, 0) - HEAD;
/** The legacy write data header (offset, reserved) before `data`. */
const WR_HEAD = VirtioAdminCmdLegacyCommonCfgWrData.SIZE;
/** The most command_specific_data we look at: a write header and 256 bytes (a u8 offset). */
const MAX_DATA = WR_HEAD + 256;
/** The most command_specific_result we produce. */
const MAX_RESULT = 256;
/** Words of a command list bitmap we look at. */
const LIST_WORDS = MAX_DATA / 8;

/** Where a member's legacy notifications go in the owner's memory (LEGACY_NOTIFY_INFO). */
export interface AdminNotifyRegion {
  /** The owner's BAR. */
  readonly bar: number;
  /** The offset in that BAR of member `id`'s 16-bit notification register. */
  offset(id: number): number;
}

/**
 * The administration virtqueue server of one owner function. Made once;
 * serving a command allocates nothing.
 */
export class AdminServer implements TransportQueue, ChainServer {
  readonly max: number;
  readonly feature: number = VIRTIO_F_ADMIN_VQ;
  readonly #members: readonly AdminMember[];
  readonly #notify: AdminNotifyRegion;
  readonly #isLive: (ctx: DeviceContext) => boolean;
  /** The commands the driver said it uses (LIST_USE). */
  #used: bigint = INITIAL_USE;
  /** Our copy of the command: readable part, zero-extended, then the writable part. */
  readonly #buf = new Uint8Array(HEAD + MAX_DATA + STATUS_PART + MAX_RESULT);
  readonly #view = new DataView(this.#buf.buffer);
  readonly #cmd = new VirtioAdminCmd(this.#view, 0, MAX_DATA / 8, MAX_RESULT);
  readonly #data = new VirtioAdminCmdLegacyCommonCfgWrData(this.#view, HEAD);
  readonly #list = new VirtioAdminCmdList(this.#view, HEAD, LIST_WORDS);
  readonly #resultAt = HEAD + MAX_DATA + STATUS_PART;
  readonly #resultList = new VirtioAdminCmdList(this.#view, this.#resultAt, 1);
  readonly #notifyInfo = new VirtioAdminCmdLegacyNotifyInfoResult(this.#view, this.#resultAt);
  readonly #entry = new VirtioPciLegacyNotifyInfo(this.#view, this.#resultAt);

  /** A server for the group `members` (member id i + 1 is `members[i]`). */
  constructor(
    members: readonly AdminMember[],
    notify: AdminNotifyRegion,
    isLive: (ctx: DeviceContext) => boolean,
    max = 64,
  ) {
    this.#members = members;
    this.#notify = notify;
    this.#isLive = isLive;
    this.max = max;
  }

  /** The commands the driver uses now (a bitmap of opcodes). */
  get used(): bigint {
    return this.#used;
  }

  serve(ctx: DeviceContext, index: number): void {
    serveQueue(ctx, index, this);
  }

  reset(): void {
    this.#used = INITIAL_USE;
  }

  isLive(ctx: DeviceContext): boolean {
    return this.#isLive(ctx);
  }

  serveChain(chain: DescriptorChain): number {
    const buf = this.#buf;
    buf.fill(0);
    // 2.13: read the readable part once, truncated to what we use; missing bytes are zero.
    const readable = Math.min(chain.readableLength, HEAD + MAX_DATA);
    chain.read(0, buf, 0, readable);
    const dataLen = Math.max(0, readable - HEAD);
    const writable = chain.writableLength;
    const resultRoom = Math.max(0, Math.min(writable - STATUS_PART, MAX_RESULT));
    const resultLen = this.#execute(dataLen, resultRoom);
    // Write status through the result, as far as the writable part reaches.
    const out = Math.min(writable, STATUS_PART + resultLen);
    if (out > 0) chain.write(0, buf, HEAD + MAX_DATA, out);
    return out;
  }

  /** Run the command in #buf; set status and qualifier; return the result length. */
  #execute(dataLen: number, resultRoom: number): number {
    const cmd = this.#cmd;
    const fail = (qualifier: number): number => {
      cmd.status = VIRTIO_ADMIN_STATUS_EINVAL;
      cmd.statusQualifier = qualifier;
      return 0;
    };
    // 2.12.1 device requirements: group, then opcode, then member.
    if (cmd.groupType !== VIRTIO_ADMIN_GROUP_TYPE_SRIOV) {
      return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP);
    }
    const opcode = cmd.opcode;
    if (opcode >= 64 || !((this.#used >> BigInt(opcode)) & 1n)) {
      return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE);
    }
    if (opcode === VIRTIO_ADMIN_CMD_LIST_QUERY) {
      // A result part shorter than the bitmap gets what fits (2.13).
      this.#resultList.setDeviceAdminCmdOpcodes(0, SUPPORTED_MASK);
      return this.#ok(Math.min(resultRoom, 8));
    }
    if (opcode === VIRTIO_ADMIN_CMD_LIST_USE) {
      let use = 0n;
      const words = Math.ceil(dataLen / 8);
      for (let w = 0; w < words; w++) {
        const v = this.#list.deviceAdminCmdOpcodes(w);
        if (w > 0 ? v !== 0n : (v & ~SUPPORTED_MASK) !== 0n) {
          return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD);
        }
        if (w === 0) use = v;
      }
      // LIST_QUERY and LIST_USE stay legal, so a driver can always start over.
      this.#used = use | INITIAL_USE;
      return this.#ok(0);
    }
    const id = cmd.groupMemberId;
    if (id < 1n || id > BigInt(this.#members.length)) {
      return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER);
    }
    const member = this.#members[Number(id) - 1];
    switch (opcode) {
      case VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE:
      case VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_WRITE: {
        const n = dataLen - WR_HEAD;
        const at = this.#data.cfgOffset;
        const common = opcode === VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_WRITE;
        if (n <= 0 || !this.#inRange(member, common, at, n, true)) {
          return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD);
        }
        this.#access(member, common, at, n, HEAD + WR_HEAD, true);
        return this.#ok(0);
      }
      case VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ:
      case VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ: {
        // The read's length is the length of the result the driver made room for.
        const at = this.#view.getUint8(
          HEAD + VirtioAdminCmdLegacyCommonCfgRdData.OFFSETS.cfgOffset,
        );
        const common = opcode === VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ;
        const n = resultRoom;
        if (n <= 0 || !this.#inRange(member, common, at, n, false)) {
          return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD);
        }
        this.#access(member, common, at, n, this.#resultAt, false);
        return this.#ok(n);
      }
      case VIRTIO_ADMIN_CMD_LEGACY_NOTIFY_INFO: {
        // One region, in the owner's BAR; the zeroed entry after it ends the list.
        const e = this.#entry.at(this.#notifyInfo.entriesOffset(0));
        e.flags = VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM;
        e.bar = this.#notify.bar;
        e.barOffset = BigInt(this.#notify.offset(Number(id)));
        return this.#ok(Math.min(resultRoom, VirtioAdminCmdLegacyNotifyInfoResult.SIZE));
      }
      default:
        return fail(VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE);
    }
  }

  #ok(resultLen: number): number {
    this.#cmd.status = VIRTIO_ADMIN_STATUS_OK;
    this.#cmd.statusQualifier = VIRTIO_ADMIN_STATUS_Q_OK;
    return resultLen;
  }

  /** 2.12.1.2: the access is one field of the common cfg, or within the device cfg. */
  #inRange(m: AdminMember, common: boolean, at: number, n: number, write: boolean): boolean {
    if (common) return m.legacy.isRegister(at, n, write);
    return at + n <= m.configSize;
  }

  /**
   * The access itself, little-endian (2.12.1.2), through the member's legacy
   * header: a common cfg register whole, the device cfg in naturally
   * aligned pieces of 4, 2 or 1 bytes.
   */
  #access(m: AdminMember, common: boolean, at: number, n: number, bufAt: number, write: boolean) {
    const v = this.#view;
    const base = common ? 0 : m.legacy.configOffset();
    for (let done = 0; done < n;) {
      const o = at + done;
      const left = n - done;
      const w: ConfigWidth = left >= 4 && o % 4 === 0 ? 4 : left >= 2 && o % 2 === 0 ? 2 : 1;
      const p = bufAt + done;
      if (write) {
        const value = w === 4
          ? v.getUint32(p, true)
          : w === 2
          ? v.getUint16(p, true)
          : v.getUint8(p);
        m.legacy.write(base + o, w, value);
      } else {
        const value = m.legacy.read(base + o, w);
        if (w === 4) v.setUint32(p, value, true);
        else if (w === 2) v.setUint16(p, value, true);
        else v.setUint8(p, value);
      }
      done += w;
    }
  }
}
