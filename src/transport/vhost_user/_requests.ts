/**
 * What each front-end request does to a session's device and rings: the
 * checks of every field a message carries, and the state it changes. A
 * message that cannot be honoured throws a {@link VhostUserError} with the
 * code of its cause (the session then ends).
 *
 * @module
 */

import {
  VHOST_F_LOG_ALL,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
  VhostUserRequest as R,
} from "../../generated/vhost_user.ts";
import { bit, type DeviceRings } from "./_device_rings.ts";
import { checkBackendChannel, checkPeerFd } from "./_fd.ts";
import { newInflightArea } from "./_inflight_area.ts";
import { closeFd, setNonblocking } from "./_libc.ts";
import {
  configPayload,
  decodeConfig,
  decodeInflight,
  decodeU64,
  decodeVringAddr,
  decodeVringFd,
  decodeVringState,
  requestName,
  u64Payload,
  type VhostUserMessage,
} from "./_protocol.ts";
import type { Ring } from "./_rings.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";

const PROTOCOL_FEATURES_BIT = bit(VHOST_USER_F_PROTOCOL_FEATURES);
const VHOST_F_LOG_ALL_BIT = bit(VHOST_F_LOG_ALL);

/** What the requests need of their connection. */
export interface RequestIo {
  /** The connection's socket. */
  readonly fd: number;
  /** The protocol features the back-end offers. */
  readonly offeredProtocol: bigint;
  /** Sends the reply to `request`. */
  reply(request: number, payload: Uint8Array, fds?: readonly number[]): void;
  /** Stops ring `index` and answers GET_VRING_BASE (`request`) with where it stopped. */
  finishStop(index: number, request: number): void;
  /** Answers GET_VRING_BASE once the device completed what it holds of ring `index`. */
  drain(index: number, request: number): void;
}

/** The request handlers of one session. */
export class Requests {
  readonly #dev: DeviceRings;
  readonly #io: RequestIo;

  /** Handlers over `dev`, replying through `io`. */
  constructor(dev: DeviceRings, io: RequestIo) {
    this.#dev = dev;
    this.#io = io;
  }

  /**
   * Takes the one descriptor a message must carry, removing it from the list
   * to close, once it is of the `kind` expected (a file is checked further
   * when it is mapped, by `mapPeerFile` of `_fd.ts`).
   */
  #takeFd(m: VhostUserMessage, what: string, kind: "socket" | "eventfd" | "file"): number {
    if (m.fds.length !== 1) {
      throw new VhostUserError(
        `${requestName(m.request)}: expected 1 file descriptor for ${what}, got ${m.fds.length}`,
        { code: VhostUserErrorCode.MISSING_FD },
      );
    }
    // Checked while still in the list, so a refused one is closed with the message's.
    if (kind !== "file") checkPeerFd(m.fds[0], kind === "socket", `${requestName(m.request)}`);
    const fd = m.fds.pop() as number;
    try {
      setNonblocking(fd);
    } catch (e) {
      closeFd(fd);
      throw new VhostUserError(`${requestName(m.request)}: bad file descriptor for ${what}`, {
        cause: e,
        code: VhostUserErrorCode.BAD_FD,
      });
    }
    return fd;
  }

  #ring(index: number, request: number): Ring {
    const r = this.#dev.rings[index];
    if (r === undefined) {
      throw new VhostUserError(
        `${
          requestName(request)
        }: vring ${index} does not exist (the device has ${this.#dev.rings.length})`,
        { code: VhostUserErrorCode.NO_SUCH_VRING },
      );
    }
    return r;
  }

  #offeredFeatures(): bigint {
    return this.#dev.device.features | PROTOCOL_FEATURES_BIT;
  }

  handle(m: VhostUserMessage): void {
    switch (m.request) {
      case R.VHOST_USER_GET_FEATURES:
        this.#io.reply(m.request, u64Payload(this.#offeredFeatures()));
        return;
      case R.VHOST_USER_SET_FEATURES: {
        const f = decodeU64(m);
        const extra = f & ~(this.#offeredFeatures() | VHOST_F_LOG_ALL_BIT);
        if (extra !== 0n) {
          throw new VhostUserError(
            `VHOST_USER_SET_FEATURES: bits 0x${extra.toString(16)} were not offered`,
            { code: VhostUserErrorCode.FEATURES_NOT_OFFERED },
          );
        }
        if ((f & VHOST_F_LOG_ALL_BIT) !== 0n) {
          throw new VhostUserError("VHOST_USER_SET_FEATURES: dirty logging is not supported", {
            code: VhostUserErrorCode.UNSUPPORTED_REQUEST,
          });
        }
        this.#dev.features = f & ~PROTOCOL_FEATURES_BIT;
        this.#dev.protocolAcked = (f & PROTOCOL_FEATURES_BIT) !== 0n;
        this.#dev.featuresSet = true;
        return;
      }
      case R.VHOST_USER_GET_PROTOCOL_FEATURES:
        this.#io.reply(m.request, u64Payload(this.#io.offeredProtocol));
        return;
      case R.VHOST_USER_SET_PROTOCOL_FEATURES: {
        const f = decodeU64(m);
        const extra = f & ~this.#io.offeredProtocol;
        if (extra !== 0n) {
          throw new VhostUserError(
            `VHOST_USER_SET_PROTOCOL_FEATURES: bits 0x${extra.toString(16)} were not offered`,
            { code: VhostUserErrorCode.FEATURES_NOT_OFFERED },
          );
        }
        this.#dev.protocolFeatures = f;
        return;
      }
      case R.VHOST_USER_SET_OWNER:
        if (this.#dev.owner) this.#dev.log("warn", "VHOST_USER_SET_OWNER sent twice");
        this.#dev.owner = true;
        return;
      case R.VHOST_USER_RESET_OWNER:
        // Deprecated; as the spec recommends, it only disables the rings.
        this.#dev.stopAll();
        return;
      case R.VHOST_USER_RESET_DEVICE:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_RESET_DEVICE);
        this.#dev.stopAll();
        this.#dev.table.drop();
        this.#dev.features = 0n;
        this.#dev.featuresSet = false;
        this.#dev.protocolAcked = false;
        return;
      case R.VHOST_USER_SET_BACKEND_REQ_FD: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_BACKEND_REQ);
        const fd = this.#takeFd(m, "the back-end request channel", "socket");
        try {
          checkBackendChannel(fd, this.#io.fd, "VHOST_USER_SET_BACKEND_REQ_FD");
        } catch (e) {
          closeFd(fd);
          throw e;
        }
        if (this.#dev.backendFd >= 0) closeFd(this.#dev.backendFd);
        this.#dev.backendFd = fd;
        return;
      }
      case R.VHOST_USER_GET_INFLIGHT_FD:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
        this.#getInflight(m);
        return;
      case R.VHOST_USER_SET_INFLIGHT_FD:
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
        this.#setInflight(m);
        return;
      case R.VHOST_USER_GET_QUEUE_NUM:
        this.#io.reply(m.request, u64Payload(BigInt(this.#dev.rings.length)));
        return;
      case R.VHOST_USER_SET_MEM_TABLE:
        this.#setMemTable(m);
        return;
      case R.VHOST_USER_SET_VRING_NUM: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        const max = this.#dev.device.queueMaxSizes[s.index];
        if (s.num === 0 || s.num > max) {
          throw new VhostUserError(
            `VHOST_USER_SET_VRING_NUM: size ${s.num} for vring ${s.index} (maximum ${max})`,
            { code: VhostUserErrorCode.BAD_VRING_STATE },
          );
        }
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_NUM: vring ${s.index} is running`, {
            code: VhostUserErrorCode.BAD_VRING_STATE,
          });
        }
        r.size = s.num;
        return;
      }
      case R.VHOST_USER_SET_VRING_ADDR: {
        const a = decodeVringAddr(m);
        const r = this.#ring(a.index, m.request);
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_ADDR: vring ${a.index} is running`, {
            code: VhostUserErrorCode.BAD_VRING_STATE,
          });
        }
        r.addr = a;
        return;
      }
      case R.VHOST_USER_SET_VRING_BASE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        if (r.started) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_BASE: vring ${s.index} is running`, {
            code: VhostUserErrorCode.BAD_VRING_STATE,
          });
        }
        r.base = s.num;
        return;
      }
      case R.VHOST_USER_GET_VRING_BASE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        const busy = r.started ? this.#dev.device.inProgress?.(s.index) ?? 0 : 0;
        if (busy > 0) {
          // Stopped now, requests the device is completing would never be used
          // and the base would skip them: wait for them (messages wait too).
          this.#dev.log("debug", `vring ${s.index}: stopping after ${busy} requests complete`);
          this.#io.drain(s.index, m.request); // the reply comes when the ring has drained
          return;
        }
        this.#io.finishStop(s.index, m.request);
        return;
      }
      case R.VHOST_USER_SET_VRING_KICK: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the kick eventfd", "eventfd");
        if (r.kickFd >= 0) closeFd(r.kickFd);
        r.kickFd = fd;
        if (v.noFd) {
          throw new VhostUserError(
            `VHOST_USER_SET_VRING_KICK: vring ${v.index} without a kick fd (polling mode is not supported)`,
            { code: VhostUserErrorCode.UNSUPPORTED_REQUEST },
          );
        }
        if (!r.started) this.#dev.startRing(v.index);
        return;
      }
      case R.VHOST_USER_SET_VRING_CALL: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the call eventfd", "eventfd");
        if (r.callFd >= 0) closeFd(r.callFd);
        r.callFd = fd;
        // A running ring whose call fd changes (QEMU swaps it as the guest masks and
        // unmasks MSI-X vectors) may have signalled the old one just before: that
        // interrupt is lost, and a guest that never times a request out (Linux's
        // virtio_scsi) waits forever. One spurious interrupt on the new fd costs
        // nothing; libvhost-user does the same.
        if (fd >= 0 && r.started) this.#dev.call(v.index);
        return;
      }
      case R.VHOST_USER_SET_VRING_ERR: {
        const v = decodeVringFd(m);
        const r = this.#ring(v.index, m.request);
        const fd = v.noFd ? -1 : this.#takeFd(m, "the error eventfd", "eventfd");
        if (r.errFd >= 0) closeFd(r.errFd);
        r.errFd = fd;
        return;
      }
      case R.VHOST_USER_SET_VRING_ENABLE: {
        const s = decodeVringState(m);
        const r = this.#ring(s.index, m.request);
        if (s.num > 1) {
          throw new VhostUserError(`VHOST_USER_SET_VRING_ENABLE: value ${s.num} is not 0 or 1`, {
            code: VhostUserErrorCode.BAD_VRING_STATE,
          });
        }
        const was = r.enabled;
        r.enabled = s.num === 1;
        // Work may have arrived while the ring was disabled.
        if (r.enabled && !was && r.started) this.#dev.kick(s.index);
        return;
      }
      case R.VHOST_USER_GET_CONFIG: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_CONFIG);
        const c = decodeConfig(m);
        const out = new Uint8Array(c.size);
        const limit = this.#dev.device.configSize;
        for (let i = 0; i < c.size; i++) {
          const off = c.offset + i;
          if (off < limit) out[i] = this.#dev.device.readConfig(off, 1);
        }
        this.#io.reply(m.request, configPayload(c.offset, c.flags, out));
        return;
      }
      case R.VHOST_USER_SET_CONFIG: {
        this.#requireProtocol(m, VHOST_USER_PROTOCOL_F_CONFIG);
        const c = decodeConfig(m);
        if (c.offset + c.size > this.#dev.device.configSize) {
          throw new VhostUserError(
            `VHOST_USER_SET_CONFIG: bytes ${c.offset}..${
              c.offset + c.size
            } are outside the ${this.#dev.device.configSize}-byte config space`,
            { code: VhostUserErrorCode.BAD_CONFIG },
          );
        }
        const v = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
        if (c.size === 1 || c.size === 2 || c.size === 4) {
          const value = c.size === 1
            ? v.getUint8(0)
            : c.size === 2
            ? v.getUint16(0, true)
            : v.getUint32(0, true);
          this.#dev.device.writeConfig(c.offset, c.size, value);
        } else {
          for (let i = 0; i < c.size; i++) this.#dev.device.writeConfig(c.offset + i, 1, c.data[i]);
        }
        return;
      }
      case R.VHOST_USER_SET_LOG_BASE:
      case R.VHOST_USER_SET_LOG_FD:
        throw new VhostUserError(`${requestName(m.request)}: dirty logging is not supported`, {
          code: VhostUserErrorCode.UNSUPPORTED_REQUEST,
        });
      default:
        throw new VhostUserError(
          `${requestName(m.request)} is not supported (or not negotiated) by this back-end`,
          { code: VhostUserErrorCode.UNSUPPORTED_REQUEST },
        );
    }
  }

  #requireProtocol(m: VhostUserMessage, feature: number): void {
    if ((this.#dev.protocolFeatures & bit(feature)) === 0n) {
      throw new VhostUserError(
        `${requestName(m.request)} sent without negotiating protocol feature ${feature}`,
        { code: VhostUserErrorCode.UNSUPPORTED_REQUEST },
      );
    }
  }

  #setMemTable(m: VhostUserMessage): void {
    if (this.#dev.rings.some((r) => r.started)) {
      // Rings point into the old mappings; QEMU stops them before changing the table.
      throw new VhostUserError(
        "VHOST_USER_SET_MEM_TABLE while rings are running is not supported",
        { code: VhostUserErrorCode.UNSUPPORTED_REQUEST },
      );
    }
    // The mappings keep the memory alive; the descriptors can go (closed by dispatch).
    this.#dev.log("debug", `memory table: ${this.#dev.table.set(m)}`);
  }

  /** GET_INFLIGHT_FD: a new zeroed area, sent as a memfd the front-end keeps. */
  #getInflight(m: VhostUserMessage): void {
    const area = newInflightArea(decodeInflight(m));
    try {
      this.#io.reply(m.request, area.payload, [area.fd]);
    } finally {
      closeFd(area.fd);
    }
    this.#dev.log("debug", `inflight area of ${area.size} bytes`);
  }

  /** SET_INFLIGHT_FD: maps the area the front-end keeps; rings started from now on are tracked in it. */
  #setInflight(m: VhostUserMessage): void {
    const d = decodeInflight(m);
    const fd = this.#takeFd(m, "the inflight area", "file");
    try {
      this.#dev.inflight.set(d, fd);
    } finally {
      closeFd(fd);
    }
  }
}
