/**
 * The virtio-gpu device model (spec 5.7, device id 16), 2D only: resources
 * kept on the host side, backed by guest memory through scatter lists,
 * shown on scanouts, with a cursor on the cursorq. Queues: controlq (0) and
 * cursorq (1). VIRTIO_GPU_F_EDID is offered, with an EDID built for each
 * scanout's mode ({@link buildEdid}); 3D (virgl), blob resources and UUIDs
 * are not.
 *
 * The host side sees what the guest shows: every RESOURCE_FLUSH that touches
 * a scanout is a {@link GpuFlushEvent} for the listeners of
 * {@link GpuDevice.onFlush}, and a {@link GpuScanout} gives its pixels as
 * RGBA ({@link GpuScanout.rgba}) or a PNG file ({@link GpuScanout.png}).
 *
 * Commands complete before their response is written, so a response with
 * VIRTIO_GPU_FLAG_FENCE (5.7.6.7: flag, `fence_id` and `ctx_id` echoed) always
 * means the work is done.
 *
 * The driver is hostile: each request is copied out of guest memory once
 * into our own buffer and only that copy is checked and used. A request
 * shorter than its command's struct, an unknown resource or scanout, a
 * rectangle outside its resource (checked without overflow), a scatter list
 * with more than {@link GpuDeviceOptions.maxBackingEntries} entries or an
 * entry outside guest memory, a transfer past the backing, or a resource
 * over the memory limit is answered with the matching
 * VIRTIO_GPU_RESP_ERR_* and changes nothing. A response buffer too short for
 * the answer gets ERR_UNSPEC (and the command is not run); one too short for
 * a header gets nothing (counted in {@link GpuDevice.droppedRequests}).
 *
 * @example A 640x480 display that saves each flushed frame
 * ```ts
 * import { GpuDevice } from "./device.ts";
 *
 * const gpu = new GpuDevice({ scanouts: [{ width: 640, height: 480 }] });
 * const stop = gpu.onFlush((e) => {
 *   const png = e.scanout.png(); // the whole scanout as a PNG file
 *   if (png !== undefined) console.log(`frame: ${png.length} bytes of PNG`);
 * });
 * if (gpu.cfg.numScanouts !== 1) throw new Error("unreachable");
 * stop();
 * ```
 *
 * @module
 */

import {
  type ChainServer,
  ConfigDevice,
  type ConfigWidth,
  type DeviceContext,
} from "../../device.ts";
import { ArgumentError } from "../../errors.ts";
import { bit, checkDeviceQueueSize, hasFeature, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_GPU } from "../../generated/common.ts";
import {
  VIRTIO_GPU_CMD_GET_CAPSET,
  VIRTIO_GPU_CMD_GET_CAPSET_INFO,
  VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
  VIRTIO_GPU_CMD_GET_EDID,
  VIRTIO_GPU_CMD_MOVE_CURSOR,
  VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
  VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
  VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
  VIRTIO_GPU_CMD_RESOURCE_FLUSH,
  VIRTIO_GPU_CMD_RESOURCE_UNREF,
  VIRTIO_GPU_CMD_SET_SCANOUT,
  VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
  VIRTIO_GPU_CMD_UPDATE_CURSOR,
  VIRTIO_GPU_EVENT_DISPLAY,
  VIRTIO_GPU_F_EDID,
  VIRTIO_GPU_FLAG_FENCE,
  VIRTIO_GPU_MAX_SCANOUTS,
  VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
  VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
  VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
  VIRTIO_GPU_RESP_ERR_UNSPEC,
  VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
  VIRTIO_GPU_RESP_OK_EDID,
  VIRTIO_GPU_RESP_OK_NODATA,
  VirtioGpuConfig,
  VirtioGpuCtrlHdr,
  VirtioGpuGetEdid,
  VirtioGpuResourceAttachBacking,
  VirtioGpuResourceCreate2d,
  VirtioGpuResourceDetachBacking,
  VirtioGpuResourceFlush,
  VirtioGpuResourceUnref,
  VirtioGpuRespDisplayInfo,
  VirtioGpuRespEdid,
  VirtioGpuSetScanout,
  VirtioGpuTransferToHost2d,
  VirtioGpuUpdateCursor,
} from "../../generated/devices/gpu.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { buildEdid, EDID_MAX_DIMENSION } from "./edid.ts";
import { BYTES_PER_PIXEL, toRgba } from "./_pixels.ts";
import { inside, ResourceTable } from "./_resources.ts";
import { scanoutHooks } from "./_scanout_hooks.ts";
import { type GpuMode, type GpuRect, GpuScanout } from "./scanout.ts";

/** Queue indices (5.7.2). */
export const GPU_CONTROL_QUEUE = 0;
/** The cursor queue. */
export const GPU_CURSOR_QUEUE = 1;

/** The cursor image's size in pixels, each way (5.7.6.1: "must be 64x64"). */
export const GPU_CURSOR_SIZE: number = 64;

/** Options of a {@link GpuDevice}. */
export interface GpuDeviceOptions {
  /** The displays, 1 to 16 (default one of 1024x768). */
  readonly scanouts?: readonly GpuMode[];
  /** Offer VIRTIO_GPU_F_EDID (default true). */
  readonly edid?: boolean;
  /** Most bytes all resources together may take on the host (default 256 MiB). */
  readonly maxHostMemory?: number;
  /** Most resources at a time (default 4096). */
  readonly maxResources?: number;
  /** Most scatter-list entries in one RESOURCE_ATTACH_BACKING (default 16384). */
  readonly maxBackingEntries?: number;
  /** Maximum size of each queue (default 256). */
  readonly queueSize?: number;
  /** A first flush listener (see {@link GpuDevice.onFlush}). */
  readonly onFlush?: (event: GpuFlushEvent) => void;
}

/** What {@link GpuDevice.onFlush} listeners get: a scanout whose pixels changed. */
export interface GpuFlushEvent {
  /** The scanout; read its pixels with {@link GpuScanout.rgba} or {@link GpuScanout.png}. */
  readonly scanout: GpuScanout;
  /** The flushed part, in the scanout's coordinates. */
  readonly rect: GpuRect;
}

/** The cursor as the cursorq set it. */
export interface GpuCursor {
  /** The scanout it is on. */
  readonly scanoutId: number;
  /** Position. */
  readonly x: number;
  /** Position. */
  readonly y: number;
  /** The resource its image came from; 0 when hidden. */
  readonly resourceId: number;
  /** Hot spot. */
  readonly hotX: number;
  /** Hot spot. */
  readonly hotY: number;
  /** The 64x64 image as RGBA, copied at UPDATE_CURSOR; undefined when hidden. */
  readonly image: Uint8Array | undefined;
}

/** Room for the largest fixed request the device reads (UPDATE_CURSOR and TRANSFER_TO_HOST_2D: 56). */
const REQUEST_MAX = 128;

function checkMode(m: GpuMode, i: number): GpuMode {
  for (const v of [m.width, m.height]) {
    if (!Number.isInteger(v) || v < 1 || v > EDID_MAX_DIMENSION) {
      throw new ArgumentError(
        `gpu scanout ${i}: mode ${m.width}x${m.height} is not 1..${EDID_MAX_DIMENSION} each way`,
        { code: "ERR_VIRTIO_ARGUMENT_GPU_MODE" },
      );
    }
  }
  return { ...m };
}

function positiveInteger(what: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new ArgumentError(`gpu ${what} ${v} is not a positive integer`, {
      code: "ERR_VIRTIO_ARGUMENT_GPU_LIMIT",
    });
  }
  return v;
}

/** The virtio-gpu device model (2D); see the module documentation. */
export class GpuDevice extends ConfigDevice<VirtioGpuConfig> {
  /** `VIRTIO_ID_GPU` (16). */
  readonly deviceId: number = VIRTIO_ID_GPU;
  /** Ring features and, unless turned off, VIRTIO_GPU_F_EDID. */
  readonly features: bigint;
  /** controlq, cursorq. */
  readonly queueMaxSizes: readonly number[];
  /** The displays. */
  readonly scanouts: readonly GpuScanout[];
  /** Requests whose response buffer could not hold even a header: used with nothing written. */
  get droppedRequests(): number {
    return this.#droppedRequests;
  }
  #droppedRequests = 0;
  /** Error responses sent (any VIRTIO_GPU_RESP_ERR_*), and cursor commands ignored. */
  get errorResponses(): number {
    return this.#errorResponses;
  }
  #errorResponses = 0;
  readonly #resources: ResourceTable;
  readonly #listeners = new Set<(e: GpuFlushEvent) => void>();
  /** Flush events of the request being served, told once its response is written. */
  #pending: GpuFlushEvent[] = [];
  #cursor: GpuCursor = {
    scanoutId: 0,
    x: 0,
    y: 0,
    resourceId: 0,
    hotX: 0,
    hotY: 0,
    image: undefined,
  };
  // Our own copy of each request and the response we build: guest memory is read once.
  readonly #req = new Uint8Array(REQUEST_MAX);
  readonly #reqView = new DataView(this.#req.buffer);
  readonly #hdr = new VirtioGpuCtrlHdr(this.#reqView);
  readonly #create = new VirtioGpuResourceCreate2d(this.#reqView);
  readonly #unref = new VirtioGpuResourceUnref(this.#reqView);
  readonly #attach = new VirtioGpuResourceAttachBacking(this.#reqView);
  readonly #detach = new VirtioGpuResourceDetachBacking(this.#reqView);
  readonly #setScanout = new VirtioGpuSetScanout(this.#reqView);
  readonly #flush = new VirtioGpuResourceFlush(this.#reqView);
  readonly #transfer = new VirtioGpuTransferToHost2d(this.#reqView);
  readonly #getEdid = new VirtioGpuGetEdid(this.#reqView);
  readonly #cursorReq = new VirtioGpuUpdateCursor(this.#reqView);
  readonly #resp = new Uint8Array(VirtioGpuRespEdid.SIZE);
  readonly #respView = new DataView(this.#resp.buffer);
  readonly #respHdr = new VirtioGpuCtrlHdr(this.#respView);
  readonly #control: ChainServer = {
    serveChain: (c) => this.#serveControl(c),
    isLive: (ctx) => this.isLive(ctx),
  };
  readonly #cursorServer: ChainServer = {
    serveChain: (c) => this.#serveCursor(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A device with `options.scanouts` displays (default one of 1024x768). */
  constructor(options: GpuDeviceOptions = {}) {
    super(VirtioGpuConfig);
    const modes = options.scanouts ?? [{ width: 1024, height: 768 }];
    if (modes.length < 1 || modes.length > VIRTIO_GPU_MAX_SCANOUTS) {
      throw new ArgumentError(
        `gpu: ${modes.length} scanouts is not 1..${VIRTIO_GPU_MAX_SCANOUTS} (spec 5.7.4)`,
        { code: "ERR_VIRTIO_ARGUMENT_GPU_MODE" },
      );
    }
    this.scanouts = modes.map((m, i) => new GpuScanout(i, checkMode(m, i)));
    this.#resources = new ResourceTable(
      positiveInteger("maxHostMemory", options.maxHostMemory ?? 256 << 20),
      positiveInteger("maxResources", options.maxResources ?? 4096),
      positiveInteger("maxBackingEntries", options.maxBackingEntries ?? 16384),
    );
    const qs = checkDeviceQueueSize("virtio-gpu", options.queueSize ?? 256);
    this.queueMaxSizes = [qs, qs];
    this.features = ringFeatures(false) | (options.edid ?? true ? bit(VIRTIO_GPU_F_EDID) : 0n);
    this.config.update(() => {
      this.cfg.numScanouts = modes.length;
      this.cfg.numCapsets = 0;
    });
    if (options.onFlush) this.#listeners.add(options.onFlush);
  }

  /**
   * Calls `listener` for every flush that reaches a scanout (after the
   * pixels are in place). Returns a function that removes it. A listener
   * that throws is removed from nothing and breaks nothing: the error is
   * reported with `console.error`.
   */
  onFlush(listener: (event: GpuFlushEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The cursor as the cursorq last set it. */
  get cursor(): GpuCursor {
    return this.#cursor;
  }

  /** Bytes all resources take on the host. */
  get hostMemory(): number {
    return this.#resources.hostMemory;
  }

  /** Resources that exist. */
  get resourceCount(): number {
    return this.#resources.size;
  }

  /**
   * Changes scanout `id`'s mode (a window resized, a display plugged in or
   * out): sets VIRTIO_GPU_EVENT_DISPLAY in `events_read` and notifies the
   * driver (5.7.4.2), which fetches the display info again.
   */
  setMode(id: number, mode: GpuMode): void {
    const s = this.scanouts[id];
    if (s === undefined) {
      throw new ArgumentError(`gpu: no scanout ${id}`, { code: "ERR_VIRTIO_ARGUMENT_GPU_MODE" });
    }
    scanoutHooks.setMode(s, checkMode(mode, id));
    this.updateConfig((cfg) => (cfg.eventsRead = cfg.eventsRead | VIRTIO_GPU_EVENT_DISPLAY));
  }

  /** `events_clear` is write-1-to-clear over `events_read` (5.7.4.1); the rest is read-only. */
  override writeConfig(offset: number, width: ConfigWidth, value: number): void {
    if (offset === VirtioGpuConfig.OFFSETS.eventsClear && width === 4) {
      this.config.update(() => (this.cfg.eventsRead = (this.cfg.eventsRead & ~value) >>> 0));
    }
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    if (index === GPU_CONTROL_QUEUE) this.serve(index, this.#control);
    else if (index === GPU_CURSOR_QUEUE) this.serve(index, this.#cursorServer);
  }

  /** The driver reset the device: every resource goes, scanouts turn off, the cursor hides. */
  override reset(): void {
    super.reset();
    this.#resources.clear();
    for (const s of this.scanouts) scanoutHooks.off(s);
    this.#cursor = { ...this.#cursor, resourceId: 0, image: undefined };
  }

  /** Reads the request (once) into our buffer; returns its length there. */
  #readRequest(c: DescriptorChain): number {
    this.#req.fill(0);
    return c.read(0, this.#req, 0, Math.min(REQUEST_MAX, c.readableLength));
  }

  #serveControl(c: DescriptorChain): number {
    const ctx = this.context;
    if (ctx === undefined) return 0;
    const got = this.#readRequest(c);
    const room = c.writableLength;
    if (room < VirtioGpuCtrlHdr.SIZE) {
      this.#droppedRequests++;
      return 0;
    }
    this.#resp.fill(0, 0, VirtioGpuRespEdid.SIZE);
    let len = VirtioGpuCtrlHdr.SIZE;
    let type: number;
    const cmd = got >= VirtioGpuCtrlHdr.SIZE ? this.#hdr.type : 0;
    const need = cmd === VIRTIO_GPU_CMD_GET_DISPLAY_INFO
      ? VirtioGpuRespDisplayInfo.SIZE
      : cmd === VIRTIO_GPU_CMD_GET_EDID
      ? VirtioGpuRespEdid.SIZE
      : VirtioGpuCtrlHdr.SIZE;
    if (got < VirtioGpuCtrlHdr.SIZE) type = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    else if (room < need) type = VIRTIO_GPU_RESP_ERR_UNSPEC;
    else {
      [type, len] = this.#command(cmd, got, c, ctx);
    }
    if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC) {
      this.#errorResponses++;
      len = VirtioGpuCtrlHdr.SIZE;
    }
    this.#writeHeader(type, got);
    const written = c.write(0, this.#resp, 0, len);
    this.#notifyFlushes();
    return written;
  }

  #serveCursor(c: DescriptorChain): number {
    const got = this.#readRequest(c);
    let ok = false;
    if (got >= VirtioGpuUpdateCursor.SIZE) {
      const t = this.#cursorReq.hdr.type;
      if (t === VIRTIO_GPU_CMD_UPDATE_CURSOR) ok = this.#updateCursor(false);
      else if (t === VIRTIO_GPU_CMD_MOVE_CURSOR) ok = this.#updateCursor(true);
    }
    if (!ok) this.#errorResponses++;
    // 5.7.6.10: cursor commands answer OK_NODATA; Linux gives no response buffer at all.
    if (c.writableLength < VirtioGpuCtrlHdr.SIZE) return 0;
    this.#resp.fill(0, 0, VirtioGpuCtrlHdr.SIZE);
    this.#writeHeader(ok ? VIRTIO_GPU_RESP_OK_NODATA : VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, got);
    return c.write(0, this.#resp, 0, VirtioGpuCtrlHdr.SIZE);
  }

  /** The response header: its type, and the fence echoed (5.7.6.7). */
  #writeHeader(type: number, got: number): void {
    const h = this.#respHdr;
    h.type = type;
    if (got >= VirtioGpuCtrlHdr.SIZE && (this.#hdr.flags & VIRTIO_GPU_FLAG_FENCE) !== 0) {
      h.flags = VIRTIO_GPU_FLAG_FENCE;
      h.fenceId = this.#hdr.fenceId;
      h.ctxId = this.#hdr.ctxId;
    }
  }

  /** Runs one control command from our copy; returns the response type and length. */
  #command(cmd: number, got: number, c: DescriptorChain, ctx: DeviceContext): [number, number] {
    const ERR_PARAM = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const OK = VIRTIO_GPU_RESP_OK_NODATA;
    const hdr = VirtioGpuCtrlHdr.SIZE;
    switch (cmd) {
      case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        return [this.#displayInfo(), VirtioGpuRespDisplayInfo.SIZE];
      case VIRTIO_GPU_CMD_GET_EDID: {
        if (got < VirtioGpuGetEdid.SIZE) return [ERR_PARAM, hdr];
        if (!hasFeature(ctx.features, VIRTIO_GPU_F_EDID)) return [VIRTIO_GPU_RESP_ERR_UNSPEC, hdr];
        const s = this.scanouts[this.#getEdid.scanout];
        if (s === undefined) return [VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, hdr];
        const r = new VirtioGpuRespEdid(this.#respView);
        const edid = buildEdid(s.width, s.height);
        r.edidSize = edid.length;
        r.edidBytes().set(edid);
        return [VIRTIO_GPU_RESP_OK_EDID, VirtioGpuRespEdid.SIZE];
      }
      case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
        return [
          got < VirtioGpuResourceCreate2d.SIZE ? ERR_PARAM : this.#resources.create(this.#create),
          hdr,
        ];
      case VIRTIO_GPU_CMD_RESOURCE_UNREF:
        return [got < VirtioGpuResourceUnref.SIZE ? ERR_PARAM : this.#unrefResource(), hdr];
      case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
        return [
          got < VirtioGpuResourceAttachBacking.SIZE
            ? ERR_PARAM
            : this.#resources.attachBacking(this.#attach, c, ctx.memory),
          hdr,
        ];
      case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: {
        if (got < VirtioGpuResourceDetachBacking.SIZE) return [ERR_PARAM, hdr];
        const r = this.#resources.get(this.#detach.resourceId);
        if (r === undefined) return [VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, hdr];
        if (r.backing === undefined) return [VIRTIO_GPU_RESP_ERR_UNSPEC, hdr];
        r.backing = undefined;
        return [OK, hdr];
      }
      case VIRTIO_GPU_CMD_SET_SCANOUT:
        return [got < VirtioGpuSetScanout.SIZE ? ERR_PARAM : this.#setScanoutCmd(), hdr];
      case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        return [
          got < VirtioGpuTransferToHost2d.SIZE
            ? ERR_PARAM
            : this.#resources.transfer(this.#transfer, ctx.memory),
          hdr,
        ];
      case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
        return [got < VirtioGpuResourceFlush.SIZE ? ERR_PARAM : this.#flushCmd(), hdr];
      case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
      case VIRTIO_GPU_CMD_GET_CAPSET:
        return [ERR_PARAM, hdr]; // num_capsets is 0: every index is out of range
      default:
        // 3D, blob and UUID commands need features this device does not offer.
        return [VIRTIO_GPU_RESP_ERR_UNSPEC, hdr];
    }
  }

  #displayInfo(): number {
    const info = new VirtioGpuRespDisplayInfo(this.#respView);
    let x = 0;
    for (const s of this.scanouts) {
      const p = info.pmodes(s.id);
      p.r.write(x, 0, s.width, s.height);
      p.enabled = s.enabled ? 1 : 0;
      p.flags = 0;
      x += s.width; // side by side, left to right
    }
    return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
  }

  #unrefResource(): number {
    const r = this.#resources.get(this.#unref.resourceId);
    if (r === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    // A scanout showing it turns off; a cursor made from it keeps its copied image.
    for (const s of this.scanouts) {
      if (scanoutHooks.shows(s, r)) scanoutHooks.off(s);
    }
    this.#resources.delete(r);
    return VIRTIO_GPU_RESP_OK_NODATA;
  }

  #setScanoutCmd(): number {
    const q = this.#setScanout;
    const s = this.scanouts[q.scanoutId];
    if (s === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
    const id = q.resourceId;
    if (id === 0) {
      scanoutHooks.off(s); // 5.7.6.8: resource 0 disables the scanout
      return VIRTIO_GPU_RESP_OK_NODATA;
    }
    const r = this.#resources.get(id);
    if (r === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    const rect = q.r;
    if (rect.width === 0 || rect.height === 0 || !inside(rect, r.width, r.height)) {
      return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    }
    scanoutHooks.show(s, r, { x: rect.x, y: rect.y, width: rect.width, height: rect.height });
    return VIRTIO_GPU_RESP_OK_NODATA;
  }

  #flushCmd(): number {
    const q = this.#flush;
    const r = this.#resources.get(q.resourceId);
    if (r === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    const f = q.r;
    if (!inside(f, r.width, r.height)) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    for (const s of this.scanouts) {
      if (!scanoutHooks.shows(s, r)) continue;
      const v = s.rect;
      const x0 = Math.max(f.x, v.x), y0 = Math.max(f.y, v.y);
      const x1 = Math.min(f.x + f.width, v.x + v.width);
      const y1 = Math.min(f.y + f.height, v.y + v.height);
      if (x1 <= x0 || y1 <= y0) continue;
      scanoutHooks.flushed(s);
      this.#pending.push({
        scanout: s,
        rect: { x: x0 - v.x, y: y0 - v.y, width: x1 - x0, height: y1 - y0 },
      });
    }
    return VIRTIO_GPU_RESP_OK_NODATA;
  }

  /** Tells the listeners, after the response is written (a listener may be slow or throw). */
  #notifyFlushes(): void {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    for (const e of events) {
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch (err) {
          console.error("virtio-gpu: a flush listener threw", err);
        }
      }
    }
  }

  #updateCursor(moveOnly: boolean): boolean {
    const q = this.#cursorReq;
    const p = q.pos;
    if (this.scanouts[p.scanoutId] === undefined) return false;
    const moved = { ...this.#cursor, scanoutId: p.scanoutId, x: p.x, y: p.y };
    if (moveOnly) {
      this.#cursor = moved;
      return true;
    }
    const id = q.resourceId;
    if (id === 0) {
      this.#cursor = { ...moved, resourceId: 0, image: undefined, hotX: 0, hotY: 0 };
      return true;
    }
    const r = this.#resources.get(id);
    if (r === undefined || r.width !== GPU_CURSOR_SIZE || r.height !== GPU_CURSOR_SIZE) {
      return false;
    }
    const image = toRgba(r.data, r.width * BYTES_PER_PIXEL, r.format, 0, 0, r.width, r.height);
    this.#cursor = { ...moved, resourceId: id, hotX: q.hotX, hotY: q.hotY, image };
    return true;
  }
}
