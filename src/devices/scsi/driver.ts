/**
 * The virtio-scsi driver (spec 5.6): a {@link ScsiHost} per device that
 * issues CDBs on the request queues, task management and asynchronous
 * notification requests on the control queue, and reports hotplug events
 * from the event queue; and a {@link ScsiDisk} per logical unit with a
 * block-device API (read, write, flush, discard, inquiry, capacity).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { MmioDevice, probeMmio } from "../../transport/mmio/mod.ts";
 * import { MemoryStorage } from "../blk/storage.ts";
 * import { ScsiDevice } from "./device.ts";
 * import { scsiDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const storage = new MemoryStorage(new Uint8Array(64 * 1024));
 * const device = new ScsiDevice({ luns: [{ lun: 0, storage }] });
 * const driver = scsiDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probeMmio(new MmioDevice(device, memory))!);
 * const host = await driver.nextHost();
 * const disk = await host.disk(0);
 *
 * await disk.write(8, new Uint8Array(512).fill(7));
 * const back = new Uint8Array(512);
 * await disk.read(8, back);
 * assert.equal(back[511], 7);
 * assert.equal(disk.blocks, 128);
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import { VIRTIO_ID_SCSI } from "../../generated/common.ts";
import {
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  VIRTIO_SCSI_F_CHANGE,
  VIRTIO_SCSI_F_HOTPLUG,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_T_AN_QUERY,
  VIRTIO_SCSI_T_AN_SUBSCRIBE,
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_TMF,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
  VirtioScsiCmdReqHdr,
  VirtioScsiCmdRespHdr,
  VirtioScsiConfig,
  VirtioScsiCtrlAn,
  VirtioScsiCtrlTmf,
  VirtioScsiEvent,
  VirtioScsiLun,
} from "../../generated/devices/scsi.ts";
import {
  INQUIRY,
  MODE_PAGE_CACHING,
  MODE_SENSE_10,
  REPORT_LUNS,
  SAI_READ_CAPACITY_16,
  SAM_STAT_GOOD,
  ScsiCachingPage,
  ScsiFixedSense,
  ScsiInquiryCdb,
  ScsiInquiryData,
  ScsiLunLevel,
  ScsiModeHeader10,
  ScsiModeSense10Cdb,
  ScsiReadCapacity16Cdb,
  ScsiReadCapacity16Data,
  ScsiReportLunsCdb,
  ScsiReportLunsHeader,
  ScsiVpdBlockLimits,
  ScsiVpdHeader,
  SERVICE_ACTION_IN_16,
  VPD_BLOCK_LIMITS,
  VPD_UNIT_SERIAL_NUMBER,
} from "../../generated/scsi.ts";
import { Arrivals } from "../_arrivals.ts";
import { SCSI_CONTROLQ, SCSI_EVENTQ, SCSI_REQUESTQ } from "./device.ts";
import { ScsiDisk } from "./disk.ts";

/** What the device answered to one command. */
export interface ScsiResult {
  /** `VIRTIO_SCSI_S_*`. */
  readonly response: number;
  /** SAM status (`SAM_STAT_*`), meaningful when `response` is `VIRTIO_SCSI_S_OK`. */
  readonly status: number;
  /** Sense data the device wrote. */
  readonly sense: Uint8Array;
  /** Data length minus the bytes transferred. */
  readonly residual: number;
  /** The data-in bytes (the first `dataInLength - residual` are valid). */
  readonly data: Uint8Array;
}

/** A command's data. */
export interface ScsiCommandOptions {
  /** Data-out (to the device). */
  readonly dataOut?: Uint8Array;
  /** Bytes of data-in room (from the device). */
  readonly dataInLength?: number;
  /** Request queue to use (default: round robin). */
  readonly queue?: number;
  /** The command identifier (default: the next of a counter from 1), for ABORT TASK. */
  readonly id?: bigint;
}

/** A request laid out by the caller: the device-readable bytes as they are, for tests. */
export interface ScsiRawRequest {
  /** Device-readable bytes: header, CDB, data-out; sent as one buffer. */
  readonly out: Uint8Array;
  /** Device-writable bytes (response header, sense, data-in); one buffer. */
  readonly inLength: number;
  /** Request queue (default 0). */
  readonly queue?: number;
}

/** A command that did not end with `VIRTIO_SCSI_S_OK` and GOOD status. */
export class ScsiCommandError extends DeviceError {
  /** The default code of this class. */
  static override readonly defaultCode: string = "ERR_VIRTIO_DEVICE_SCSI_COMMAND";
  /** The virtio response. */
  readonly response: number;
  /** The SAM status. */
  readonly status: number;
  /** Sense key, ASC and ASCQ from the sense data (0 without sense). */
  readonly senseKey: number;
  /** Additional sense code. */
  readonly asc: number;
  /** Additional sense code qualifier. */
  readonly ascq: number;

  /** The error for `result` of the command with opcode `opcode`. */
  constructor(opcode: number, result: ScsiResult, what: string) {
    let key = 0, asc = 0, ascq = 0;
    if (result.sense.length >= ScsiFixedSense.SIZE) {
      const s = new ScsiFixedSense(
        new DataView(result.sense.buffer, result.sense.byteOffset, result.sense.length),
      );
      key = s.senseKey;
      asc = s.additionalSenseCode;
      ascq = s.additionalSenseCodeQualifier;
    }
    const code = result.response !== VIRTIO_SCSI_S_OK
      ? "ERR_VIRTIO_DEVICE_SCSI_RESPONSE"
      : "ERR_VIRTIO_DEVICE_SCSI_CHECK_CONDITION";
    super(
      `${what}: opcode 0x${opcode.toString(16)} ended with response ${result.response}, ` +
        `status 0x${result.status.toString(16)}, sense ${key}/0x${asc.toString(16)}/0x${
          ascq.toString(16)
        }`,
      { code },
    );
    this.response = result.response;
    this.status = result.status;
    this.senseKey = key;
    this.asc = asc;
    this.ascq = ascq;
  }
}

/** A hotplug or other event the device reported. */
export interface ScsiHostEvent {
  /** `VIRTIO_SCSI_T_*` without the missed flag. */
  readonly event: number;
  /** True when the device lost events before this one (rescan everything). */
  readonly missed: boolean;
  /** The LUN it is about. */
  readonly lun: number;
  /** The reason (`VIRTIO_SCSI_EVT_RESET_*` for transport resets). */
  readonly reason: number;
}

/** What INQUIRY says about a unit. */
export interface ScsiInquiry {
  /** Peripheral qualifier (0: a unit is connected, 3: none can be). */
  readonly qualifier: number;
  /** Peripheral device type (0: direct access). */
  readonly deviceType: number;
  /** T10 vendor identification, trimmed. */
  readonly vendor: string;
  /** Product identification, trimmed. */
  readonly product: string;
  /** Product revision, trimmed. */
  readonly revision: string;
  /** Unit serial number (VPD 0x80), when the unit has one. */
  readonly serial?: string;
}

/** Options of {@link scsiDriver}. */
export interface ScsiDriverOptions {
  /** Use at most this many request queues (default: all). */
  readonly maxQueues?: number;
  /** Queue size to ask for (default: the device's maximum, capped at 128). */
  readonly queueSize?: number;
  /** Event buffers to give the device (default 8). */
  readonly eventBuffers?: number;
}

/** The token of an event buffer. */
interface EventBuffer {
  addr: number;
}

const dec = new TextDecoder();
const CDB_SIZE = 32;
const SENSE_SIZE = 96;
const REQ_LEN = VirtioScsiCmdReqHdr.SIZE + CDB_SIZE;
const RESP_LEN = VirtioScsiCmdRespHdr.SIZE + SENSE_SIZE;

/** One virtio-scsi device as the driver sees it. */
export class ScsiHost {
  /** The bus's handle. */
  readonly dev: DriverDevice;
  /** Number of request queues in use. */
  readonly requestQueues: number;
  /** Highest LUN the device suggests (`max_lun`). */
  readonly maxLun: number;
  /** Events received. */
  readonly events: ScsiHostEvent[] = [];
  readonly #vqs: Virtqueue<unknown>[];
  #next = 0;
  #dead = false;
  #listener: ((e: ScsiHostEvent) => void) | undefined;
  readonly #eventBufs: number[] = [];
  readonly #evq: Virtqueue<EventBuffer>;

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: ScsiDriverOptions) {
    this.dev = dev;
    const cfg = new VirtioScsiConfig(dev.configSnapshot(VirtioScsiConfig.SIZE));
    // 5.6.5: the driver may set sense_size and cdb_size; these are the sizes this driver lays out.
    dev.writeConfig(VirtioScsiConfig.OFFSETS.senseSize, 4, SENSE_SIZE);
    dev.writeConfig(VirtioScsiConfig.OFFSETS.cdbSize, 4, CDB_SIZE);
    this.maxLun = cfg.maxLun;
    let n = Math.max(1, cfg.numQueues);
    if (options.maxQueues !== undefined) n = Math.max(1, Math.min(n, options.maxQueues));
    this.requestQueues = n;
    const size = options.queueSize ?? 128;
    // Control and request queues carry requests (vq.request); the event queue a callback.
    const vqs = dev.findVqs<unknown>([
      { name: "control", size },
      { name: "event", size, callback: (vq) => this.#event(vq as Virtqueue<EventBuffer>) },
      ...Array.from({ length: n }, (_, i) => ({ name: `request.${i}`, size })),
    ]);
    this.#vqs = vqs;
    this.#evq = vqs[SCSI_EVENTQ] as Virtqueue<EventBuffer>;
  }

  /** Gives the device `count` event buffers (more than the queue holds are not given). */
  addEventBuffers(count: number): void {
    const { memory, dma } = this.dev.dmaContext;
    const n = Math.min(count, this.#evq.numFree);
    for (let i = 0; i < n; i++) {
      const addr = dma.alloc(VirtioScsiEvent.SIZE, 8);
      memory.bytes(addr, VirtioScsiEvent.SIZE).fill(0);
      this.#eventBufs.push(addr);
      this.#evq.addInbuf({ addr, len: VirtioScsiEvent.SIZE }, this.#eventPending(addr));
    }
    this.#evq.kick();
  }

  /** Called for each event as it arrives (hotplug: `VIRTIO_SCSI_T_TRANSPORT_RESET`). */
  onEvent(listener: ((e: ScsiHostEvent) => void) | undefined): void {
    this.#listener = listener;
  }

  /** True when the device offered and the driver accepted hotplug events. */
  get hotplug(): boolean {
    return this.dev.hasFeature(VIRTIO_SCSI_F_HOTPLUG);
  }

  /**
   * Sends `cdb` to `lun` and returns what the device answered, whatever the
   * status (no exception for CHECK CONDITION).
   */
  async command(
    lun: number,
    cdb: Uint8Array,
    options: ScsiCommandOptions = {},
  ): Promise<ScsiResult> {
    checkLun(lun);
    if (cdb.length < 1 || cdb.length > CDB_SIZE) {
      throw new ArgumentError(`${this.dev.name}: a CDB of ${cdb.length} bytes (1..${CDB_SIZE})`, {
        code: "ERR_VIRTIO_ARGUMENT_SCSI_CDB",
      });
    }
    const out = options.dataOut;
    const inLen = options.dataInLength ?? 0;
    if (out !== undefined && inLen > 0) {
      throw new ArgumentError(
        `${this.dev.name}: both data-out and data-in (no VIRTIO_SCSI_F_INOUT)`,
        {
          code: "ERR_VIRTIO_ARGUMENT_SCSI_DIRECTION",
        },
      );
    }
    const outLen = out?.length ?? 0;
    const qi = options.queue ?? (this.#next++ % this.requestQueues);
    const vq = this.#vqs[SCSI_REQUESTQ + qi];
    if (vq === undefined) {
      throw new ArgumentError(`${this.dev.name}: no request queue ${qi}`, {
        code: "ERR_VIRTIO_ARGUMENT_SCSI_QUEUE",
      });
    }
    // The device-readable part: header, CDB (cdb_size bytes), data-out.
    const req = new Uint8Array(REQ_LEN + outLen);
    const view = new DataView(req.buffer);
    encodeLun(new VirtioScsiLun(view), lun);
    new VirtioScsiCmdReqHdr(view).id = options.id ?? BigInt(++this.#tag);
    req.set(cdb, VirtioScsiCmdReqHdr.SIZE);
    if (out !== undefined) req.set(out, REQ_LEN);
    // The device-writable part: response header, sense (sense_size bytes), data-in.
    const written = await vq.request(req, RESP_LEN + inLen);
    const resp = new Uint8Array(RESP_LEN + inLen);
    resp.set(written.subarray(0, resp.length));
    const r = new VirtioScsiCmdRespHdr(new DataView(resp.buffer));
    const senseLen = Math.min(r.senseLen, SENSE_SIZE);
    return {
      response: r.response,
      status: r.status,
      sense: resp.slice(VirtioScsiCmdRespHdr.SIZE, VirtioScsiCmdRespHdr.SIZE + senseLen),
      residual: r.residual,
      data: resp.slice(RESP_LEN),
    };
  }

  #tag = 0;

  /**
   * Sends `req.out` as the whole device-readable part and returns the
   * device-writable bytes and the used length, without any check: for
   * tests of what a device does with malformed requests.
   */
  async rawRequest(req: ScsiRawRequest): Promise<{ bytes: Uint8Array; usedLen: number }> {
    const vq = this.#vqs[SCSI_REQUESTQ + (req.queue ?? 0)];
    const written = await vq.request(req.out, req.inLength);
    const bytes = new Uint8Array(req.inLength);
    bytes.set(written.subarray(0, req.inLength));
    return { bytes, usedLen: written.length };
  }

  /** Like {@link ScsiHost.command}, but throws {@link ScsiCommandError} unless OK and GOOD. */
  async execute(
    lun: number,
    cdb: Uint8Array,
    options: ScsiCommandOptions = {},
  ): Promise<ScsiResult> {
    const r = await this.command(lun, cdb, options);
    if (r.response !== VIRTIO_SCSI_S_OK || r.status !== SAM_STAT_GOOD) {
      throw new ScsiCommandError(cdb[0], r, `${this.dev.name} LUN ${lun}`);
    }
    return r;
  }

  /** REPORT LUNS: the LUNs of target 0, ascending. */
  async reportLuns(): Promise<number[]> {
    const cdb = new Uint8Array(12);
    const c = new ScsiReportLunsCdb(new DataView(cdb.buffer));
    c.operationCode = REPORT_LUNS;
    const alloc = 8 + 8 * 1024;
    c.allocationLength = alloc;
    const r = await this.execute(0, cdb, { dataInLength: alloc });
    const view = new DataView(r.data.buffer);
    const n = Math.min(
      new ScsiReportLunsHeader(view).lunListLength,
      alloc - ScsiReportLunsHeader.SIZE,
    ) / ScsiLunLevel.SIZE;
    const e = new ScsiLunLevel(view, ScsiReportLunsHeader.SIZE);
    const luns: number[] = [];
    for (let i = 0; i < n; i++) {
      e.at(ScsiReportLunsHeader.SIZE + i * ScsiLunLevel.SIZE);
      luns.push(e.addressMethod === 0 ? e.lun & 0xff : e.lun);
    }
    return luns.sort((a, b) => a - b);
  }

  /** INQUIRY (and the unit serial number page) of `lun`. */
  async inquiry(lun: number): Promise<ScsiInquiry> {
    const cdb = new Uint8Array(6);
    const c = new ScsiInquiryCdb(new DataView(cdb.buffer));
    c.operationCode = INQUIRY;
    c.allocationLength = ScsiInquiryData.SIZE;
    const r = await this.execute(lun, cdb, { dataInLength: ScsiInquiryData.SIZE });
    const d = new ScsiInquiryData(new DataView(r.data.buffer));
    const text = (b: Uint8Array) => dec.decode(b).trim();
    const base = {
      qualifier: d.peripheralQualifier,
      deviceType: d.peripheralDeviceType,
      vendor: text(d.t10VendorIdentificationBytes()),
      product: text(d.productIdentificationBytes()),
      revision: text(d.productRevisionLevelBytes()),
    };
    if (base.qualifier !== 0) return base;
    const page = await this.vpd(lun, VPD_UNIT_SERIAL_NUMBER).catch(() => undefined);
    return page === undefined ? base : { ...base, serial: dec.decode(page).trim() };
  }

  /** The body of VPD page `page` of `lun` (without its 4-byte header). */
  async vpd(lun: number, page: number): Promise<Uint8Array> {
    const cdb = new Uint8Array(6);
    const c = new ScsiInquiryCdb(new DataView(cdb.buffer));
    c.operationCode = INQUIRY;
    c.evpd = 1;
    c.pageCode = page;
    c.allocationLength = 255;
    const r = await this.execute(lun, cdb, { dataInLength: 255 });
    const h = new ScsiVpdHeader(new DataView(r.data.buffer));
    const len = Math.min(h.pageLength, 255 - ScsiVpdHeader.SIZE);
    return r.data.slice(ScsiVpdHeader.SIZE, ScsiVpdHeader.SIZE + len);
  }

  /** A block-device view of `lun` (READ CAPACITY(16), block limits, caching page). */
  async disk(lun: number): Promise<ScsiDisk> {
    const cdb = new Uint8Array(16);
    const c = new ScsiReadCapacity16Cdb(new DataView(cdb.buffer));
    c.operationCode = SERVICE_ACTION_IN_16;
    c.serviceAction = SAI_READ_CAPACITY_16;
    c.allocationLength = ScsiReadCapacity16Data.SIZE;
    const r = await this.execute(lun, cdb, { dataInLength: ScsiReadCapacity16Data.SIZE });
    const d = new ScsiReadCapacity16Data(new DataView(r.data.buffer));
    const blocks = Number(d.returnedLogicalBlockAddress) + 1;
    let maxTransfer = 0;
    let maxUnmapDescriptors = 0;
    if (d.lbpme === 1) {
      const page = await this.vpd(lun, VPD_BLOCK_LIMITS).catch(() => undefined);
      if (page !== undefined && page.length + ScsiVpdHeader.SIZE >= ScsiVpdBlockLimits.SIZE) {
        const full = new Uint8Array(ScsiVpdBlockLimits.SIZE);
        full.set(page, ScsiVpdHeader.SIZE);
        const b = new ScsiVpdBlockLimits(new DataView(full.buffer));
        maxTransfer = b.maximumTransferLength;
        maxUnmapDescriptors = b.maximumUnmapBlockDescriptorCount;
      }
    }
    // MODE SENSE(10), caching page: WCE says whether writes need SYNCHRONIZE CACHE.
    const ms = new Uint8Array(10);
    const m = new ScsiModeSense10Cdb(new DataView(ms.buffer));
    m.operationCode = MODE_SENSE_10;
    m.dbd = 1;
    m.pageCode = MODE_PAGE_CACHING;
    const msLen = ScsiModeHeader10.SIZE + ScsiCachingPage.SIZE;
    m.allocationLength = msLen;
    const mr = await this.execute(lun, ms, { dataInLength: msLen });
    const mv = new DataView(mr.data.buffer);
    const hdr = new ScsiModeHeader10(mv);
    const page = new ScsiCachingPage(mv, ScsiModeHeader10.SIZE + hdr.blockDescriptorLength);
    return new ScsiDisk(this, lun, {
      blockSize: d.logicalBlockLength,
      blocks,
      thin: d.lbpme === 1 && maxUnmapDescriptors > 0,
      readOnly: hdr.wp10 === 1,
      writeback: page.wce === 1,
      maxTransferBlocks: maxTransfer,
    });
  }

  /** A task management function (`VIRTIO_SCSI_T_TMF_*`); resolves with the response byte. */
  async taskManagement(subtype: number, lun: number, id: bigint = 0n): Promise<number> {
    checkLun(lun);
    const at = VirtioScsiCtrlTmf.OFFSETS.response;
    const req = new Uint8Array(VirtioScsiCtrlTmf.SIZE);
    const view = new DataView(req.buffer);
    const t = new VirtioScsiCtrlTmf(view);
    t.type = VIRTIO_SCSI_T_TMF;
    t.subtype = subtype;
    encodeLun(new VirtioScsiLun(view, VirtioScsiCtrlTmf.OFFSETS.lun), lun);
    t.id = id;
    const written = await this.#vqs[SCSI_CONTROLQ].request(req.subarray(0, at), req.length - at);
    req.set(written.subarray(0, req.length - at), at);
    return t.response;
  }

  /** An asynchronous notification query or subscription (5.6.6.2). */
  async asyncNotification(
    subscribe: boolean,
    lun: number,
    events: number,
  ): Promise<{ response: number; eventActual: number }> {
    checkLun(lun);
    const at = VirtioScsiCtrlAn.OFFSETS.eventActual;
    const req = new Uint8Array(VirtioScsiCtrlAn.SIZE);
    const view = new DataView(req.buffer);
    const a = new VirtioScsiCtrlAn(view);
    a.type = subscribe ? VIRTIO_SCSI_T_AN_SUBSCRIBE : VIRTIO_SCSI_T_AN_QUERY;
    encodeLun(new VirtioScsiLun(view, VirtioScsiCtrlAn.OFFSETS.lun), lun);
    a.eventRequested = events;
    const written = await this.#vqs[SCSI_CONTROLQ].request(req.subarray(0, at), req.length - at);
    req.set(written.subarray(0, req.length - at), at);
    return { response: a.response, eventActual: a.eventActual };
  }

  /** Fails every outstanding request; the device is going away. */
  detach(_reason: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.dev.reset();
    this.dev.delVqs();
    const { dma } = this.dev.dmaContext;
    for (const a of this.#eventBufs.splice(0)) dma.free(a);
  }

  #eventPending(addr: number): EventBuffer {
    return { addr };
  }

  #event(vq: Virtqueue<EventBuffer>): void {
    const { memory } = this.dev.dmaContext;
    for (let b = vq.getBuf(); b !== null; b = vq.getBuf()) {
      const addr = b.token.addr;
      if (b.len >= VirtioScsiEvent.SIZE) {
        const view = memory.view(addr, VirtioScsiEvent.SIZE);
        const e = new VirtioScsiEvent(view);
        const l = new VirtioScsiLun(view, VirtioScsiEvent.OFFSETS.lun);
        const ev: ScsiHostEvent = {
          event: (e.event & ~VIRTIO_SCSI_T_EVENTS_MISSED) >>> 0,
          missed: (e.event & VIRTIO_SCSI_T_EVENTS_MISSED) !== 0,
          lun: l.lunAddressMethod === 0 ? l.lunId & 0xff : l.lunId,
          reason: e.reason,
        };
        this.events.push(ev);
        this.#listener?.(ev);
      }
      // 5.6.6.3: give the buffer back for the next event.
      memory.bytes(addr, VirtioScsiEvent.SIZE).fill(0);
      if (!this.#dead) vq.addInbuf({ addr, len: VirtioScsiEvent.SIZE }, b.token);
    }
    if (!this.#dead) vq.kick();
  }
}

function checkLun(lun: number): void {
  if (!Number.isInteger(lun) || lun < 0 || lun > 16383) {
    throw new ArgumentError(`LUN ${lun} (0..16383)`, { code: "ERR_VIRTIO_ARGUMENT_SCSI_LUN" });
  }
}

/** 5.6.6.1: target 0, single-level LUN with flat space addressing. */
function encodeLun(v: VirtioScsiLun, lun: number): void {
  v.addressing = 1;
  v.target = 0;
  v.lunAddressMethod = 1;
  v.lunId = lun;
}

/** The scsi driver plus the hosts it has bound. */
export interface ScsiDriver extends VirtioDriver {
  /** Bound hosts, by device. */
  readonly hosts: Map<DriverDevice, ScsiHost>;
  /** The next host to be probed. */
  nextHost(): Promise<ScsiHost>;
}

/** Feature bits the scsi driver understands. */
export const SCSI_DRIVER_FEATURES: readonly number[] = Object.freeze([
  VIRTIO_SCSI_F_HOTPLUG,
  VIRTIO_SCSI_F_CHANGE,
]);

/** A virtio-scsi driver for the bus. */
export function scsiDriver(options: ScsiDriverOptions = {}): ScsiDriver {
  const arrivals = new Arrivals<ScsiHost>();
  return {
    name: "virtio-scsi",
    idTable: [{ device: VIRTIO_ID_SCSI }],
    featureTable: SCSI_DRIVER_FEATURES,
    hosts: arrivals.bound,
    nextHost(): Promise<ScsiHost> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const host = new ScsiHost(dev, options);
      dev.deviceReady();
      host.addEventBuffers(options.eventBuffers ?? 8);
      arrivals.arrive(dev, host);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach("device removed");
    },
  };
}

export {
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
};
