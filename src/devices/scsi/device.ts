/**
 * The virtio SCSI host device model (spec 5.6): one target (target 0) whose
 * logical units are blk storages, served by a {@link ScsiTarget}.
 *
 * Queues (5.6.2): the control queue (task management and asynchronous
 * notification), the event queue (hotplug events), and `queues` request
 * queues. Features: `VIRTIO_SCSI_F_HOTPLUG`, `VIRTIO_SCSI_F_CHANGE` and the ring
 * features.
 *
 * Every request is hostile input. Its header and CDB are copied out of the
 * chain once, into the device's own buffer, and used from there only; the
 * LUN encoding is checked (5.6.6.1: byte 0 is 1, byte 1 the target, bytes
 * 2-3 a single-level LUN, bytes 4-7 zero, or the REPORT LUNS well-known LU),
 * and the driver-writable `cdb_size` and `sense_size` only move where the
 * data starts: an absurd value leaves no room for data, and the request ends
 * in `VIRTIO_SCSI_S_OVERRUN` or CHECK CONDITION, not in a crash. A chain
 * without room for the response header sets DEVICE_NEEDS_RESET.
 *
 * Task management (5.6.6.2): ABORT TASK, ABORT TASK SET, CLEAR TASK SET,
 * LOGICAL UNIT RESET and I_T NEXUS RESET complete the commands still
 * waiting for storage with `VIRTIO_SCSI_S_ABORTED` / `VIRTIO_SCSI_S_RESET`
 * at once; QUERY TASK and QUERY TASK SET answer FUNCTION SUCCEEDED when one
 * is in flight; CLEAR ACA is rejected (no ACA). Asynchronous notification:
 * the device supports no event class, so `event_actual` is 0.
 *
 * Hotplug (5.6.6.3): with `VIRTIO_SCSI_F_HOTPLUG`, adding or removing a LUN
 * ({@link ScsiDevice.addLun}, {@link ScsiDevice.removeLun}) sends
 * `VIRTIO_SCSI_T_TRANSPORT_RESET` with `RESCAN` or `REMOVED`; when the
 * driver gave no event buffer the event is lost, and the next event carries
 * `VIRTIO_SCSI_T_EVENTS_MISSED` (the driver then rescans everything).
 *
 * @example
 * ```ts
 * import { VirtioScsiConfig } from "../../generated/devices/scsi.ts";
 * import { MemoryStorage } from "../blk/storage.ts";
 * import { ScsiDevice } from "./device.ts";
 *
 * const dev = new ScsiDevice({ luns: [{ lun: 0, storage: new MemoryStorage(new Uint8Array(1 << 20)) }] });
 * if (dev.queueMaxSizes.length !== 3) throw new Error("control, event and one request queue");
 * if (dev.readConfig(VirtioScsiConfig.OFFSETS.numQueues, 4) !== 1) throw new Error("num_queues");
 * ```
 *
 * @module
 */

import { ConfigDevice, type ConfigWidth, type DeviceContext } from "../../device.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_SCSI } from "../../generated/common.ts";
import {
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  VIRTIO_SCSI_F_CHANGE,
  VIRTIO_SCSI_F_HOTPLUG,
  VIRTIO_SCSI_S_ABORTED,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_FUNCTION_COMPLETE,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_FUNCTION_SUCCEEDED,
  VIRTIO_SCSI_S_INCORRECT_LUN,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_OVERRUN,
  VIRTIO_SCSI_S_RESET,
  VIRTIO_SCSI_T_AN_QUERY,
  VIRTIO_SCSI_T_AN_SUBSCRIBE,
  VIRTIO_SCSI_T_TMF,
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
  VIRTIO_SCSI_T_TMF_CLEAR_ACA,
  VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET,
  VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  VIRTIO_SCSI_T_TMF_QUERY_TASK,
  VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
  VirtioScsiCmdReqHdr,
  VirtioScsiCmdRespHdr,
  VirtioScsiConfig,
  VirtioScsiCtrl,
  VirtioScsiCtrlAn,
  VirtioScsiCtrlTmf,
  VirtioScsiEvent,
  VirtioScsiLun,
} from "../../generated/devices/scsi.ts";
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/mod.ts";
import { bit, checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { CHAIN_HELD, type ChainServer, completeUsed } from "../../queue_service.ts";
import { ScsiCommand, type ScsiDataBuffers } from "./command.ts";
import { ScsiEventQueue } from "./_event_queue.ts";
import type { ScsiLogicalUnit, ScsiLunOptions } from "./logical_unit.ts";
import { SCSI_MAX_LUN, ScsiTarget } from "./target.ts";

/** Queue index of the control queue (5.6.2). */
export const SCSI_CONTROLQ = 0;
/** Queue index of the event queue (5.6.2). */
export const SCSI_EVENTQ = 1;
/** Queue index of the first request queue (5.6.2). */
export const SCSI_REQUESTQ = 2;
/** `sense_size` after reset (5.6.4). */
export const SCSI_DEFAULT_SENSE_SIZE = 96;
/** `cdb_size` after reset (5.6.4). */
export const SCSI_DEFAULT_CDB_SIZE = 32;
/** The LUN given to commands sent to the REPORT LUNS well-known LU (no unit is there). */
export const SCSI_WLUN_REPORT_LUNS: number = -1;

/** A LUN to create with the device. */
export interface ScsiLunSpec extends ScsiLunOptions {
  /** The LUN (0..16383). */
  readonly lun: number;
}

/** Options of a {@link ScsiDevice}. */
export interface ScsiDeviceOptions {
  /** Units to start with. */
  readonly luns?: readonly ScsiLunSpec[];
  /** A target to serve (default: a new one with `luns`). */
  readonly target?: ScsiTarget;
  /** Number of request queues (default 1). */
  readonly queues?: number;
  /** Maximum size of each queue (default 128). */
  readonly queueSize?: number;
  /** Offer `VIRTIO_SCSI_F_HOTPLUG` (default true). */
  readonly hotplug?: boolean;
  /**
   * Offer `VIRTIO_SCSI_F_CHANGE` (default true): the device may report LUN
   * parameter changes. It never changes a LUN's parameters, so it never sends
   * one; QEMU's vhost-user-scsi front-end passes the bit on from its own
   * device whatever the back-end offers.
   */
  readonly paramChange?: boolean;
  /** Offer the packed ring (default true). */
  readonly packed?: boolean;
  /** Most events kept while the driver has no event buffer, before they count as missed (default 0). */
  readonly eventBacklog?: number;
}

/** Counts of what the device served. */
export interface ScsiStats {
  /** Commands completed (any status). */
  commands: number;
  /** Commands that ended in CHECK CONDITION. */
  checkConditions: number;
  /** Requests answered with a virtio response other than OK. */
  failures: number;
  /** Task management functions served. */
  tmfs: number;
  /** Events delivered. */
  events: number;
  /** Events lost for want of an event buffer. */
  eventsMissed: number;
}

/** A command on its way: the device's copy of the request and where it goes back. */
class Pending implements ScsiDataBuffers {
  readonly cmd: ScsiCommand = new ScsiCommand();
  chain: DescriptorChain | undefined;
  q: DeviceQueue | undefined;
  ctx: DeviceContext | undefined;
  id = 0n;
  outBase = 0;
  outLength = 0;
  inBase = 0;
  inLength = 0;
  senseRoom = 0;
  done = false;

  readOut(offset: number, dst: Uint8Array): number {
    return this.chain?.read(this.outBase + offset, dst) ?? 0;
  }
  writeIn(offset: number, src: Uint8Array): number {
    return this.chain?.write(this.inBase + offset, src) ?? 0;
  }
  outViews(offset: number, count: number, into: Uint8Array[]): number {
    return this.chain?.readableViews(this.outBase + offset, count, into) ?? 0;
  }
  inViews(offset: number, count: number, into: Uint8Array[]): number {
    return this.chain?.writableViews(this.inBase + offset, count, into) ?? 0;
  }
}

const REQ_HDR: number = VirtioScsiCmdReqHdr.SIZE;
const RESP_HDR: number = VirtioScsiCmdRespHdr.SIZE;
const TMF_OUT: number = VirtioScsiCtrlTmf.OFFSETS.response;
const AN_OUT: number = VirtioScsiCtrlAn.OFFSETS.eventActual;
const AN_IN: number = VirtioScsiCtrlAn.SIZE - AN_OUT;

/** The virtio-scsi device model. */
export class ScsiDevice extends ConfigDevice<VirtioScsiConfig> {
  /** `VIRTIO_ID_SCSI`. */
  readonly deviceId: number = VIRTIO_ID_SCSI;
  /** Offered features. */
  readonly features: bigint;
  /** Control, event, then the request queues. */
  readonly queueMaxSizes: readonly number[];
  /** The target the LUNs live in. */
  readonly target: ScsiTarget;
  /** What was served. */
  get stats(): Readonly<ScsiStats> {
    return Object.freeze({ ...this.#stats });
  }
  readonly #stats: ScsiStats = {
    commands: 0,
    checkConditions: 0,
    failures: 0,
    tmfs: 0,
    events: 0,
    eventsMissed: 0,
  };
  readonly #eventq: ScsiEventQueue;
  // Guest-controlled bytes are copied here once, then checked and used from here.
  readonly #req = new Uint8Array(REQ_HDR + SCSI_DEFAULT_CDB_SIZE);
  readonly #reqHdr = new VirtioScsiCmdReqHdr(new DataView(this.#req.buffer));
  readonly #lunView = new VirtioScsiLun(new DataView(this.#req.buffer));
  readonly #resp = new Uint8Array(RESP_HDR);
  readonly #respHdr = new VirtioScsiCmdRespHdr(new DataView(this.#resp.buffer));
  readonly #ctrl = new Uint8Array(VirtioScsiCtrlTmf.SIZE);
  readonly #ctrlView = new DataView(this.#ctrl.buffer);
  readonly #ctrlType = new VirtioScsiCtrl(this.#ctrlView);
  readonly #tmf = new VirtioScsiCtrlTmf(this.#ctrlView);
  readonly #an = new VirtioScsiCtrlAn(this.#ctrlView);
  readonly #ctrlLun = new VirtioScsiLun(this.#ctrlView, VirtioScsiCtrlTmf.OFFSETS.lun);
  readonly #anLun = new VirtioScsiLun(this.#ctrlView, VirtioScsiCtrlAn.OFFSETS.lun);
  readonly #pool: Pending[] = [];
  /** Commands waiting for asynchronous storage. */
  readonly #inflight = new Set<Pending>();
  readonly #inProgress: number[];
  readonly #reqServer: ChainServer = {
    serveChain: (c, q, ctx) => this.#serveRequest(ctx, q, c),
    isLive: (ctx) => this.isLive(ctx),
  };
  readonly #ctrlServer: ChainServer = {
    serveChain: (c, q, ctx) => this.#serveControl(ctx, q, c),
    isLive: (ctx) => this.isLive(ctx),
  };
  readonly #eventServer: ChainServer = {
    serveChain: (c) => {
      this.#eventq.hold(c);
      return CHAIN_HELD;
    },
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A SCSI host with one target. */
  constructor(options: ScsiDeviceOptions = {}) {
    super(VirtioScsiConfig);
    const queues = options.queues ?? 1;
    if (!Number.isInteger(queues) || queues < 1 || queues > 0xfffd) {
      throw new DeviceError(`virtio-scsi: ${queues} request queues (1..65533)`, {
        code: "ERR_VIRTIO_DEVICE_SCSI_OPTION",
      });
    }
    const size = checkDeviceQueueSize("virtio-scsi", options.queueSize ?? 128);
    this.#eventq = new ScsiEventQueue(options.eventBacklog ?? 0, this.#stats);
    this.target = options.target ?? new ScsiTarget();
    for (const l of options.luns ?? []) this.target.addLun(l.lun, l);
    this.target.onLunChange((lun, added) => this.#lunChanged(lun, added));
    this.queueMaxSizes = Array.from({ length: 2 + queues }, () => size);
    this.#inProgress = this.queueMaxSizes.map(() => 0);
    let f = ringFeatures(options.packed ?? true);
    if (options.hotplug ?? true) f |= bit(VIRTIO_SCSI_F_HOTPLUG);
    if (options.paramChange ?? true) f |= bit(VIRTIO_SCSI_F_CHANGE);
    this.features = f;
    this.config.update(() => {
      const c = this.cfg;
      c.numQueues = queues;
      c.segMax = Math.max(1, size - 2);
      c.maxSectors = 0xffff;
      c.cmdPerLun = size;
      c.eventInfoSize = VirtioScsiEvent.SIZE;
      c.senseSize = SCSI_DEFAULT_SENSE_SIZE;
      c.cdbSize = SCSI_DEFAULT_CDB_SIZE;
      c.maxChannel = 0;
      c.maxTarget = 0;
      c.maxLun = SCSI_MAX_LUN;
    });
  }

  /** Adds a LUN at run time (a hotplug event tells the driver). */
  addLun(lun: number, options: ScsiLunOptions): ScsiLogicalUnit {
    return this.target.addLun(lun, options);
  }

  /** Removes a LUN at run time (a hotplug event tells the driver). */
  removeLun(lun: number): ScsiLogicalUnit {
    return this.target.removeLun(lun);
  }

  /** 5.6.4: only `sense_size` and `cdb_size` are driver-writable (as 32-bit writes). */
  protected override configWritable(offset: number, width: ConfigWidth): boolean {
    return width === 4 &&
      (offset === VirtioScsiConfig.OFFSETS.senseSize ||
        offset === VirtioScsiConfig.OFFSETS.cdbSize);
  }

  /** 5.6.4: back to the defaults; held event buffers and commands in flight are dropped. */
  override reset(): void {
    super.reset();
    this.cfg.senseSize = SCSI_DEFAULT_SENSE_SIZE;
    this.cfg.cdbSize = SCSI_DEFAULT_CDB_SIZE;
    this.#eventq.reset();
    for (const p of this.#inflight) {
      p.done = true;
      p.cmd.aborted = true;
    }
    this.#inflight.clear();
    this.#inProgress.fill(0);
  }

  /** Requests of queue `index` waiting for asynchronous storage. */
  inProgress(index: number): number {
    return this.#inProgress[index] ?? 0;
  }

  /** Serves queue `index`. */
  queueNotify(index: number): void {
    const ctx = this.context;
    if (ctx === undefined || ctx.queues[index] === undefined) return;
    if (index === SCSI_CONTROLQ) this.serve(index, this.#ctrlServer);
    else if (index === SCSI_EVENTQ) {
      this.serve(index, this.#eventServer);
      this.#eventq.deliver(ctx);
    } else this.serve(index, this.#reqServer);
  }

  /**
   * Decodes a LUN field (5.6.6.1) at `v`: the LUN, {@link SCSI_WLUN_REPORT_LUNS},
   * or -2 when it names another target or is malformed.
   */
  #decodeLun(v: VirtioScsiLun, bytes: Uint8Array, at: number): number {
    const end = at + VirtioScsiLun.SIZE;
    if (v.addressing === 0xc1 && v.target === 0x01) {
      for (let i = at + VirtioScsiLun.OFFSETS.singleLevel; i < end; i++) {
        if (bytes[i] !== 0) return -2;
      }
      return SCSI_WLUN_REPORT_LUNS;
    }
    if (v.addressing !== 1 || v.target !== 0) return -2;
    // Flat space (01b) as the spec writes it; peripheral (00b, bus 0) tolerated.
    const method = v.lunAddressMethod;
    if (method > 1 || (method === 0 && v.lunId > 0xff)) return -2;
    for (let i = at + VirtioScsiLun.OFFSETS.lunReserved; i < end; i++) {
      if (bytes[i] !== 0) return -2;
    }
    return v.lunId;
  }

  #serveRequest(ctx: DeviceContext, q: DeviceQueue, c: DescriptorChain): number {
    const wl = c.writableLength;
    if (wl < RESP_HDR) {
      ctx.needsReset(
        new DeviceError(
          `virtio-scsi: queue ${q.index} request ${c.head} has ${wl} writable bytes, ` +
            `less than the ${RESP_HDR}-byte response (5.6.6.1)`,
          { code: "ERR_VIRTIO_DEVICE_SCSI_NO_RESPONSE" },
        ),
      );
      return 0;
    }
    // Sizes the driver may rewrite at any time (5.6.4): one snapshot per request.
    const cdbSize = this.cfg.cdbSize;
    const senseSize = this.cfg.senseSize;
    // Header and CDB, copied once.
    this.#req.fill(0);
    const got = c.read(0, this.#req, 0, Math.min(this.#req.length, REQ_HDR + cdbSize));
    if (got < REQ_HDR) {
      this.#stats.failures++;
      return this.#respond(c, VIRTIO_SCSI_S_FAILURE, 0, 0, 0, 0);
    }
    const lun = this.#decodeLun(this.#lunView, this.#req, 0);
    if (lun === -2) {
      this.#stats.failures++;
      return this.#respond(c, VIRTIO_SCSI_S_BAD_TARGET, 0, 0, 0, 0);
    }
    const p = this.#pool.pop() ?? new Pending();
    p.chain = c;
    p.q = q;
    p.ctx = ctx;
    p.done = false;
    p.id = this.#reqHdr.id;
    p.outBase = REQ_HDR + cdbSize;
    p.outLength = Math.max(0, c.readableLength - p.outBase);
    p.inBase = Math.min(wl, RESP_HDR + senseSize);
    p.inLength = wl - p.inBase;
    p.senseRoom = Math.min(senseSize, wl - RESP_HDR);
    p.cmd.prepare(lun, this.#req, p, REQ_HDR, got - REQ_HDR);
    let r: void | Promise<void>;
    try {
      r = this.target.execute(p.cmd);
    } catch {
      // The target does not throw for what the driver sent; a bug must not take the device down.
      r = undefined;
      p.cmd.overrun = false;
      p.cmd.status = 0;
      return this.#finishFailure(p);
    }
    if (r === undefined) return this.#finish(p);
    this.#inflight.add(p);
    this.#inProgress[q.index]++;
    r.then(() => {
      if (p.done) return;
      this.#inflight.delete(p);
      this.#inProgress[q.index]--;
      if (!this.isLive(ctx) || ctx.queues[q.index] !== q) return;
      completeUsed(ctx, q, c, this.#finish(p));
    });
    return CHAIN_HELD;
  }

  #finishFailure(p: Pending): number {
    const c = p.chain;
    this.#release(p);
    this.#stats.failures++;
    return c === undefined ? 0 : this.#respond(c, VIRTIO_SCSI_S_FAILURE, 0, 0, 0, 0);
  }

  /** Writes the response of a completed command; returns the used length. */
  #finish(p: Pending): number {
    const c = p.chain;
    const cmd = p.cmd;
    if (c === undefined) return 0;
    this.#stats.commands++;
    let used: number;
    if (cmd.overrun) {
      this.#stats.failures++;
      used = this.#respond(c, VIRTIO_SCSI_S_OVERRUN, 0, 0, 0, p.inLength + p.outLength);
    } else {
      const senseLen = Math.min(cmd.senseLength, p.senseRoom);
      if (senseLen > 0) {
        this.#stats.checkConditions++;
        c.write(RESP_HDR, cmd.sense, 0, senseLen);
      }
      // 5.6.6.1: residual is the data length minus what was transferred.
      const dataLen = p.inLength > 0 ? p.inLength : p.outLength;
      const residual = Math.max(0, dataLen - cmd.transferred);
      used = this.#respond(c, VIRTIO_SCSI_S_OK, cmd.status, senseLen, 0, residual);
      if (p.inLength > 0 && cmd.transferred > 0) used = p.inBase + cmd.transferred;
      else used = Math.max(used, RESP_HDR + senseLen);
    }
    this.#release(p);
    return used;
  }

  #release(p: Pending): void {
    p.done = true;
    p.chain = undefined;
    p.q = undefined;
    p.ctx = undefined;
    this.#pool.push(p);
  }

  /** Writes the response header; returns its length. */
  #respond(
    c: DescriptorChain,
    response: number,
    status: number,
    senseLen: number,
    qualifier: number,
    residual: number,
  ): number {
    const r = this.#respHdr;
    r.senseLen = senseLen;
    r.residual = residual;
    r.statusQualifier = qualifier;
    r.status = status;
    r.response = response;
    c.write(0, this.#resp);
    return RESP_HDR;
  }

  /** Completes an in-flight command now with `response` (an abort or a reset). */
  #cancel(p: Pending, response: number): void {
    const { chain, q, ctx } = p;
    p.cmd.aborted = true;
    this.#inflight.delete(p);
    if (q !== undefined) this.#inProgress[q.index]--;
    if (chain !== undefined && q !== undefined && ctx !== undefined && this.isLive(ctx)) {
      this.#respond(chain, response, 0, 0, 0, p.inLength + p.outLength);
      completeUsed(ctx, q, chain, RESP_HDR);
    }
    // The storage call still runs; its result is dropped (p.done), and p is not reused for it.
    p.done = true;
    p.chain = undefined;
  }

  #serveControl(ctx: DeviceContext, _q: DeviceQueue, c: DescriptorChain): number {
    const wl = c.writableLength;
    if (wl < 1) {
      ctx.needsReset(
        new DeviceError(`virtio-scsi: control request ${c.head} has no response byte (5.6.6.2)`, {
          code: "ERR_VIRTIO_DEVICE_SCSI_NO_RESPONSE",
        }),
      );
      return 0;
    }
    this.#ctrl.fill(0);
    const got = c.read(0, this.#ctrl, 0, TMF_OUT);
    const type = got >= 4 ? this.#ctrlType.type : -1;
    if (type === VIRTIO_SCSI_T_TMF && got >= TMF_OUT) {
      this.#stats.tmfs++;
      c.writeUint8(0, this.#taskManagement());
      return 1;
    }
    if ((type === VIRTIO_SCSI_T_AN_QUERY || type === VIRTIO_SCSI_T_AN_SUBSCRIBE) && got >= AN_OUT) {
      if (wl < AN_IN) {
        c.writeUint8(0, VIRTIO_SCSI_S_FAILURE);
        return 1;
      }
      const an = this.#an;
      const lun = this.#decodeLun(this.#anLun, this.#ctrl, VirtioScsiCtrlAn.OFFSETS.lun);
      // No asynchronous event class is supported: none of the requested events are.
      an.eventActual = 0;
      an.response = lun === -2 ? VIRTIO_SCSI_S_BAD_TARGET : VIRTIO_SCSI_S_OK;
      c.write(0, this.#ctrl, AN_OUT, AN_IN);
      return AN_IN;
    }
    // An unknown type, or a request shorter than its type needs.
    c.writeUint8(0, VIRTIO_SCSI_S_FAILURE);
    return 1;
  }

  /** Runs the TMF in the control copy; returns its response byte. */
  #taskManagement(): number {
    const t = this.#tmf;
    const lun = this.#decodeLun(this.#ctrlLun, this.#ctrl, VirtioScsiCtrlTmf.OFFSETS.lun);
    if (lun === -2) return VIRTIO_SCSI_S_BAD_TARGET;
    const sub = t.subtype;
    if (sub === VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET) {
      for (const p of [...this.#inflight]) this.#cancel(p, VIRTIO_SCSI_S_RESET);
      return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
    }
    if (lun === SCSI_WLUN_REPORT_LUNS || this.target.unit(lun) === undefined) {
      return VIRTIO_SCSI_S_INCORRECT_LUN;
    }
    const id = t.id;
    const onLun = (p: Pending) => p.cmd.lun === lun;
    switch (sub) {
      case VIRTIO_SCSI_T_TMF_ABORT_TASK:
        // SAM-5 7.2: FUNCTION COMPLETE whether or not the task was still there.
        for (const p of [...this.#inflight]) {
          if (onLun(p) && p.id === id) this.#cancel(p, VIRTIO_SCSI_S_ABORTED);
        }
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
      case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
      case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
        for (const p of [...this.#inflight]) if (onLun(p)) this.#cancel(p, VIRTIO_SCSI_S_ABORTED);
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
      case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
        for (const p of [...this.#inflight]) if (onLun(p)) this.#cancel(p, VIRTIO_SCSI_S_RESET);
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
      case VIRTIO_SCSI_T_TMF_QUERY_TASK:
        for (const p of this.#inflight) {
          if (onLun(p) && p.id === id) return VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
        }
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
      case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
        for (const p of this.#inflight) if (onLun(p)) return VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
        return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
      case VIRTIO_SCSI_T_TMF_CLEAR_ACA: // no ACA condition is ever established
      default:
        return VIRTIO_SCSI_S_FUNCTION_REJECTED;
    }
  }

  #lunChanged(lun: number, added: boolean): void {
    const ctx = this.context;
    if (ctx === undefined || (ctx.features & bit(VIRTIO_SCSI_F_HOTPLUG)) === 0n) return;
    if (!added) {
      for (const p of [...this.#inflight]) {
        if (p.cmd.lun === lun) this.#cancel(p, VIRTIO_SCSI_S_RESET);
      }
    }
    const reason = added ? VIRTIO_SCSI_EVT_RESET_RESCAN : VIRTIO_SCSI_EVT_RESET_REMOVED;
    this.#eventq.post(ctx, lun, reason);
  }
}
