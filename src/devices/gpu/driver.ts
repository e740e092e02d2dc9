/**
 * The virtio-gpu driver (spec 5.7), 2D: a framebuffer API over our driver
 * API. At probe it fetches the display info and, with VIRTIO_GPU_F_EDID, each
 * scanout's EDID (5.7.5: driver initialisation); a {@link GpuDisplay} then
 * makes {@link Framebuffer}s: a 2D resource with backing in DMA memory
 * (described to the device as a scatter list), shown on a scanout, drawn
 * into, and sent with TRANSFER_TO_HOST_2D + RESOURCE_FLUSH. Every command
 * carries VIRTIO_GPU_FLAG_FENCE with a fresh fence id, and the response must
 * echo it.
 *
 * @example
 * ```ts ignore
 * const driver = gpuDriver();
 * await bus.registerDriver(driver);
 * const display = driver.displayOf(await bus.addDevice(transport))!;
 * const fb = await display.createFramebuffer(); // the size of scanout 0
 * await fb.show(0);
 * fb.fillRect(10, 10, 100, 50, 0xff0000);
 * await fb.flush();
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { ArgumentError, DeviceError } from "../../errors.ts";
import { VIRTIO_ID_GPU } from "../../generated/common.ts";
import {
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
  VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
  VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
  VIRTIO_GPU_RESP_OK_EDID,
  VIRTIO_GPU_RESP_OK_NODATA,
  VirtioGpuConfig,
  VirtioGpuCtrlHdr,
  VirtioGpuCtrlType,
  VirtioGpuGetEdid,
  VirtioGpuMemEntry,
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
import { GPU_CONTROL_QUEUE, GPU_CURSOR_QUEUE, GPU_CURSOR_SIZE } from "./device.ts";
import type { GpuRect } from "./scanout.ts";
import { BYTES_PER_PIXEL, channels } from "./_pixels.ts";

/** Options of a {@link GpuDriver}. */
export interface GpuDriverOptions {
  /**
   * Bytes of one scatter-list entry of a framebuffer's backing (default
   * 64 KiB, a multiple of 4): the backing is contiguous DMA memory described
   * to the device in pieces of this size.
   */
  readonly segmentSize?: number;
}

/** One scanout as GET_DISPLAY_INFO describes it. */
export interface GpuDisplayMode extends GpuRect {
  /** Is the display connected? */
  readonly enabled: boolean;
}

/** Options of {@link GpuDisplay.createFramebuffer}. */
export interface FramebufferOptions {
  /** Width in pixels (default scanout 0's). */
  readonly width?: number;
  /** Height in pixels (default scanout 0's). */
  readonly height?: number;
  /** A VIRTIO_GPU_FORMAT_* (default B8G8R8X8, DRM's XRGB8888). */
  readonly format?: number;
}

/** Where {@link GpuDisplay.updateCursor} puts the cursor. */
export interface CursorPosition {
  /** The scanout (default 0). */
  readonly scanout?: number;
  /** Position. */
  readonly x: number;
  /** Position. */
  readonly y: number;
  /** Hot spot (default 0). */
  readonly hotX?: number;
  /** Hot spot (default 0). */
  readonly hotY?: number;
}

/** The device answered a command with something other than the success it owes. */
export class GpuResponseError extends DeviceError {
  /** The response type (a VIRTIO_GPU_RESP_* value), 0 when the response was short. */
  readonly response: number;
  /** The command (a VIRTIO_GPU_CMD_* value). */
  readonly command: number;

  /** Made by the driver. */
  constructor(command: number, response: number, message: string, code: string) {
    super(message, { code });
    this.command = command;
    this.response = response;
  }
}

const NAMES = new Map(Object.entries(VirtioGpuCtrlType).map(([k, v]) => [v, k]));
const typeName = (t: number): string => NAMES.get(t) ?? `0x${t.toString(16)}`;

/** A 2D framebuffer: a host resource backed by DMA memory the driver draws into. */
export class Framebuffer {
  /** The resource id. */
  readonly resourceId: number;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** The VIRTIO_GPU_FORMAT_* of its pixels. */
  readonly format: number;
  /** Bytes a row. */
  readonly stride: number;
  /** The pixels, in guest (DMA) memory: draw here, then {@link Framebuffer.flush}. */
  readonly pixels: Uint8Array;
  /** Guest address of the pixels. */
  readonly addr: number;
  readonly #display: GpuDisplay;
  #destroyed = false;

  /** @internal made by {@link GpuDisplay.createFramebuffer} */
  constructor(
    display: GpuDisplay,
    id: number,
    width: number,
    height: number,
    format: number,
    addr: number,
    pixels: Uint8Array,
  ) {
    this.#display = display;
    this.resourceId = id;
    this.width = width;
    this.height = height;
    this.format = format;
    this.stride = width * BYTES_PER_PIXEL;
    this.addr = addr;
    this.pixels = pixels;
  }

  /** The 4 bytes of colour `rgb` (0xRRGGBB, opaque) in this framebuffer's format. */
  pixel(rgb: number): Uint8Array {
    const ch = channels(this.format) ?? { r: 2, g: 1, b: 0, a: 3 };
    const p = new Uint8Array(4);
    p[ch.r] = (rgb >> 16) & 0xff;
    p[ch.g] = (rgb >> 8) & 0xff;
    p[ch.b] = rgb & 0xff;
    if (ch.a >= 0) p[ch.a] = 0xff;
    return p;
  }

  /** Fills the rectangle with `rgb` (0xRRGGBB); clipped to the framebuffer. */
  fillRect(x: number, y: number, width: number, height: number, rgb: number): void {
    const x0 = Math.max(0, x), y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + width), y1 = Math.min(this.height, y + height);
    if (x1 <= x0 || y1 <= y0) return;
    const p = this.pixel(rgb);
    const row = this.pixels.subarray(y0 * this.stride + x0 * 4, y0 * this.stride + x1 * 4);
    for (let i = 0; i < row.length; i += 4) row.set(p, i);
    for (let yy = y0 + 1; yy < y1; yy++) this.pixels.set(row, yy * this.stride + x0 * 4);
  }

  /** Fills the whole framebuffer with `rgb`. */
  fill(rgb: number): void {
    this.fillRect(0, 0, this.width, this.height, rgb);
  }

  /** Shows the framebuffer (or its part `rect`) on scanout `scanout` (SET_SCANOUT). */
  async show(scanout: number = 0, rect?: GpuRect): Promise<void> {
    const r = rect ?? { x: 0, y: 0, width: this.width, height: this.height };
    await displayHooks.setScanout(this.#display, scanout, this.resourceId, r);
  }

  /**
   * Sends what was drawn in `rect` (default everything) to the device and
   * to every scanout showing it: TRANSFER_TO_HOST_2D, then RESOURCE_FLUSH.
   */
  async flush(rect?: GpuRect): Promise<void> {
    const r = rect ?? { x: 0, y: 0, width: this.width, height: this.height };
    if (
      r.x < 0 || r.y < 0 || r.width < 0 || r.height < 0 || r.x + r.width > this.width ||
      r.y + r.height > this.height
    ) {
      throw new ArgumentError(
        `flush of ${r.width}x${r.height} at ${r.x},${r.y} is outside the ${this.width}x${this.height} framebuffer`,
        { code: "ERR_VIRTIO_ARGUMENT_GPU_RECT" },
      );
    }
    await displayHooks.transfer(this.#display, this, r);
    await displayHooks.flush(this.#display, this.resourceId, r);
  }

  /** Detaches the backing, destroys the resource, and frees the DMA memory. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await displayHooks.destroy(this.#display, this);
  }
}

/** GpuDisplay's private members, for the rest of this module (set in its `static` block). */
let displayHooks: {
  setScanout(d: GpuDisplay, scanout: number, resourceId: number, r: GpuRect): Promise<void>;
  transfer(d: GpuDisplay, fb: Framebuffer, r: GpuRect): Promise<void>;
  flush(d: GpuDisplay, resourceId: number, r: GpuRect): Promise<void>;
  destroy(d: GpuDisplay, fb: Framebuffer): Promise<void>;
  configChanged(d: GpuDisplay): Promise<void>;
  release(d: GpuDisplay): void;
};

/** One bound virtio-gpu device: its scanouts and the framebuffers made on it. */
export class GpuDisplay {
  /** The device. */
  readonly dev: DriverDevice;
  /** The scanouts as the last GET_DISPLAY_INFO gave them (one entry each of `num_scanouts`). */
  get scanouts(): readonly GpuDisplayMode[] {
    return this.#scanouts;
  }
  #scanouts: readonly GpuDisplayMode[] = [];
  /** Fences the device answered (each command carries one). */
  get fencesCompleted(): number {
    return this.#fencesCompleted;
  }
  #fencesCompleted = 0;
  readonly #control: Virtqueue<unknown>;
  readonly #cursor: Virtqueue<unknown>;
  readonly #segment: number;
  readonly #numScanouts: number;
  #edids: (Uint8Array | undefined)[] = [];
  #nextResource = 1;
  #nextFence = 1n;
  readonly #framebuffers = new Set<Framebuffer>();
  readonly #listeners = new Set<() => void>();

  static {
    displayHooks = {
      setScanout: (d, scanout, resourceId, r) => d.#setScanout(scanout, resourceId, r),
      transfer: (d, fb, r) => d.#transfer(fb, r),
      flush: (d, resourceId, r) => d.#flush(resourceId, r),
      destroy: (d, fb) => d.#destroy(fb),
      configChanged: (d) => d.#configChanged(),
      release: (d) => d.#release(),
    };
  }

  /** Made by the driver's probe; call {@link GpuDisplay.refresh} before use. */
  constructor(dev: DriverDevice, options: GpuDriverOptions = {}) {
    this.dev = dev;
    const seg = options.segmentSize ?? 64 * 1024;
    if (!Number.isSafeInteger(seg) || seg < 4 || seg % 4 !== 0 || seg > 0xfffff000) {
      throw new ArgumentError(`gpu segmentSize ${seg} is not a positive multiple of 4`, {
        code: "ERR_VIRTIO_ARGUMENT_GPU_SEGMENT",
      });
    }
    this.#segment = seg;
    this.#numScanouts = new VirtioGpuConfig(dev.configSnapshot(VirtioGpuConfig.SIZE)).numScanouts;
    const vqs = dev.findVqs([{ name: "control" }, { name: "cursor" }]);
    this.#control = vqs[GPU_CONTROL_QUEUE];
    this.#cursor = vqs[GPU_CURSOR_QUEUE];
    dev.deviceReady();
  }

  /** The EDID of scanout `id` (with VIRTIO_GPU_F_EDID), as the device gave it. */
  edid(id: number): Uint8Array | undefined {
    return this.#edids[id];
  }

  /** Calls `listener` after the display info changed (VIRTIO_GPU_EVENT_DISPLAY); returns a remover. */
  onDisplayChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Fetches the display info and, with VIRTIO_GPU_F_EDID, every scanout's EDID. */
  async refresh(): Promise<void> {
    const info = await this.#command(
      this.#header(VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_CMD_GET_DISPLAY_INFO),
      VirtioGpuRespDisplayInfo.SIZE,
      VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
    );
    const d = new VirtioGpuRespDisplayInfo(new DataView(info.buffer));
    const n = Math.min(this.#numScanouts, 16);
    const modes: GpuDisplayMode[] = [];
    for (let i = 0; i < n; i++) {
      const p = d.pmodes(i);
      modes.push({
        x: p.r.x,
        y: p.r.y,
        width: p.r.width,
        height: p.r.height,
        enabled: p.enabled !== 0,
      });
    }
    this.#scanouts = modes;
    const edids: (Uint8Array | undefined)[] = [];
    if (this.dev.hasFeature(VIRTIO_GPU_F_EDID)) {
      for (let i = 0; i < n; i++) {
        const [req, q] = this.#request(VirtioGpuGetEdid, VIRTIO_GPU_CMD_GET_EDID);
        q.scanout = i;
        const resp = await this.#command(req, VirtioGpuRespEdid.SIZE, VIRTIO_GPU_RESP_OK_EDID);
        const e = new VirtioGpuRespEdid(new DataView(resp.buffer));
        edids.push(e.edidBytes().slice(0, Math.min(e.edidSize, 1024)));
      }
    }
    this.#edids = edids;
  }

  /**
   * Makes a framebuffer: RESOURCE_CREATE_2D, DMA memory for its pixels, and
   * RESOURCE_ATTACH_BACKING with one scatter-list entry per segment.
   */
  async createFramebuffer(options: FramebufferOptions = {}): Promise<Framebuffer> {
    const width = options.width ?? this.scanouts[0]?.width ?? 1024;
    const height = options.height ?? this.scanouts[0]?.height ?? 768;
    const format = options.format ?? VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new ArgumentError(`framebuffer ${width}x${height} is not a positive size`, {
        code: "ERR_VIRTIO_ARGUMENT_GPU_RECT",
      });
    }
    const id = this.#nextResource++;
    const [create, c] = this.#request(VirtioGpuResourceCreate2d, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
    c.resourceId = id;
    c.format = format;
    c.width = width;
    c.height = height;
    await this.#command(create, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
    const size = width * height * BYTES_PER_PIXEL;
    const { memory, dma } = this.dev.dmaContext;
    let addr: number;
    try {
      addr = dma.alloc(size, 4096);
    } catch (e) {
      await this.#unref(id);
      throw e;
    }
    const n = Math.ceil(size / this.#segment);
    const req = new Uint8Array(VirtioGpuResourceAttachBacking.SIZE + n * VirtioGpuMemEntry.SIZE);
    const view = new DataView(req.buffer);
    const a = new VirtioGpuResourceAttachBacking(view);
    this.#fill(a.hdr, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
    a.resourceId = id;
    a.nrEntries = n;
    const entry = new VirtioGpuMemEntry(view);
    for (let i = 0; i < n; i++) {
      const off = i * this.#segment;
      entry.at(VirtioGpuResourceAttachBacking.SIZE + i * VirtioGpuMemEntry.SIZE)
        .write(addr + off, Math.min(this.#segment, size - off), 0);
    }
    try {
      await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
    } catch (e) {
      dma.free(addr);
      try {
        await this.#unref(id);
      } catch {
        // The attach error is the one to report.
      }
      throw e;
    }
    const fb = new Framebuffer(this, id, width, height, format, addr, memory.bytes(addr, size));
    this.#framebuffers.add(fb);
    return fb;
  }

  /**
   * Sets the cursor image from `fb` (a 64x64 framebuffer whose pixels were
   * flushed) at `pos` (UPDATE_CURSOR); `undefined` hides it.
   */
  async updateCursor(fb: Framebuffer | undefined, pos: CursorPosition): Promise<void> {
    if (fb !== undefined && (fb.width !== GPU_CURSOR_SIZE || fb.height !== GPU_CURSOR_SIZE)) {
      throw new ArgumentError(`a cursor is 64x64, not ${fb.width}x${fb.height} (spec 5.7.6.1)`, {
        code: "ERR_VIRTIO_ARGUMENT_GPU_RECT",
      });
    }
    await this.#cursorCommand(VIRTIO_GPU_CMD_UPDATE_CURSOR, pos, fb?.resourceId ?? 0);
  }

  /** Moves the cursor (MOVE_CURSOR). */
  async moveCursor(scanout: number, x: number, y: number): Promise<void> {
    await this.#cursorCommand(VIRTIO_GPU_CMD_MOVE_CURSOR, { scanout, x, y }, 0);
  }

  /** SET_SCANOUT. */
  async #setScanout(scanout: number, resourceId: number, r: GpuRect): Promise<void> {
    const [req, q] = this.#request(VirtioGpuSetScanout, VIRTIO_GPU_CMD_SET_SCANOUT);
    q.scanoutId = scanout;
    q.resourceId = resourceId;
    q.r.write(r.x, r.y, r.width, r.height);
    await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
  }

  /** TRANSFER_TO_HOST_2D of `r`: row k from offset + k * stride (5.7.6.8). */
  async #transfer(fb: Framebuffer, r: GpuRect): Promise<void> {
    const [req, q] = this.#request(VirtioGpuTransferToHost2d, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);
    q.resourceId = fb.resourceId;
    q.r.write(r.x, r.y, r.width, r.height);
    q.resourceOffset = BigInt(r.y * fb.stride + r.x * BYTES_PER_PIXEL);
    await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
  }

  /** RESOURCE_FLUSH. */
  async #flush(resourceId: number, r: GpuRect): Promise<void> {
    const [req, q] = this.#request(VirtioGpuResourceFlush, VIRTIO_GPU_CMD_RESOURCE_FLUSH);
    q.resourceId = resourceId;
    q.r.write(r.x, r.y, r.width, r.height);
    await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
  }

  /** DETACH_BACKING, UNREF, and the DMA memory back. */
  async #destroy(fb: Framebuffer): Promise<void> {
    this.#framebuffers.delete(fb);
    try {
      const [req, q] = this.#request(
        VirtioGpuResourceDetachBacking,
        VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
      );
      q.resourceId = fb.resourceId;
      await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
      await this.#unref(fb.resourceId);
    } finally {
      // After DETACH_BACKING completed (fenced) the device no longer reads it.
      this.dev.dmaContext.dma.free(fb.addr);
    }
  }

  /** The device's configuration changed. */
  async #configChanged(): Promise<void> {
    const cfg = new VirtioGpuConfig(this.dev.configSnapshot(VirtioGpuConfig.SIZE));
    if ((cfg.eventsRead & VIRTIO_GPU_EVENT_DISPLAY) === 0) return;
    await this.refresh();
    this.dev.writeConfig(VirtioGpuConfig.OFFSETS.eventsClear, 4, VIRTIO_GPU_EVENT_DISPLAY);
    for (const l of this.#listeners) l();
  }

  /** The device went away: framebuffers' memory comes back. */
  #release(): void {
    for (const fb of this.#framebuffers) this.dev.dmaContext.dma.free(fb.addr);
    this.#framebuffers.clear();
  }

  async #unref(id: number): Promise<void> {
    const [req, q] = this.#request(VirtioGpuResourceUnref, VIRTIO_GPU_CMD_RESOURCE_UNREF);
    q.resourceId = id;
    await this.#command(req, VirtioGpuCtrlHdr.SIZE, VIRTIO_GPU_RESP_OK_NODATA);
  }

  async #cursorCommand(type: number, pos: CursorPosition, resourceId: number): Promise<void> {
    const [req, q] = this.#request(VirtioGpuUpdateCursor, type);
    q.pos.scanoutId = pos.scanout ?? 0;
    q.pos.x = pos.x;
    q.pos.y = pos.y;
    q.resourceId = resourceId;
    q.hotX = pos.hotX ?? 0;
    q.hotY = pos.hotY ?? 0;
    const resp = await this.#cursor.request(req, VirtioGpuCtrlHdr.SIZE);
    this.#check(type, req, resp, VIRTIO_GPU_RESP_OK_NODATA);
  }

  /** A zeroed request of struct `T` with its header filled in. */
  #request<T extends { readonly hdr: VirtioGpuCtrlHdr }>(
    accessor: { new (view: DataView): T; readonly SIZE: number },
    type: number,
  ): [Uint8Array, T] {
    const bytes = new Uint8Array(accessor.SIZE);
    const q = new accessor(new DataView(bytes.buffer));
    this.#fill(q.hdr, type);
    return [bytes, q];
  }

  #header(size: number, type: number): Uint8Array {
    const bytes = new Uint8Array(size);
    this.#fill(new VirtioGpuCtrlHdr(new DataView(bytes.buffer)), type);
    return bytes;
  }

  #fill(h: VirtioGpuCtrlHdr, type: number): void {
    h.type = type;
    h.flags = VIRTIO_GPU_FLAG_FENCE;
    h.fenceId = this.#nextFence++;
  }

  async #command(req: Uint8Array, respLen: number, ok: number): Promise<Uint8Array> {
    const resp = await this.#control.request(req, respLen);
    this.#check(new VirtioGpuCtrlHdr(new DataView(req.buffer)).type, req, resp, ok);
    return resp;
  }

  /** Checks the response type and the fence echo (5.7.6.7). */
  #check(cmd: number, req: Uint8Array, resp: Uint8Array, ok: number): void {
    const sent = new VirtioGpuCtrlHdr(new DataView(req.buffer));
    if (resp.length < VirtioGpuCtrlHdr.SIZE) {
      throw new GpuResponseError(
        cmd,
        0,
        `${this.dev.name}: ${typeName(cmd)} got a ${resp.length}-byte response`,
        "ERR_VIRTIO_DEVICE_GPU_SHORT_RESPONSE",
      );
    }
    const h = new VirtioGpuCtrlHdr(new DataView(resp.buffer, resp.byteOffset));
    if (h.type !== ok) {
      throw new GpuResponseError(
        cmd,
        h.type,
        `${this.dev.name}: ${typeName(cmd)} answered ${typeName(h.type)}`,
        "ERR_VIRTIO_DEVICE_GPU_RESPONSE",
      );
    }
    if ((h.flags & VIRTIO_GPU_FLAG_FENCE) === 0 || h.fenceId !== sent.fenceId) {
      throw new GpuResponseError(
        cmd,
        h.type,
        `${this.dev.name}: ${
          typeName(cmd)
        } sent fence ${sent.fenceId}; the response has flags ${h.flags} and fence ${h.fenceId} (spec 5.7.6.7)`,
        "ERR_VIRTIO_DEVICE_GPU_FENCE",
      );
    }
    this.#fencesCompleted++;
  }
}

/** The virtio-gpu driver: binds virtio-gpu devices and gives each a {@link GpuDisplay}. */
export function gpuDriver(options: GpuDriverOptions = {}): GpuDriver {
  return new GpuDriver(options);
}

/** The virtio-gpu driver and the devices it bound. */
export class GpuDriver implements VirtioDriver {
  /** `virtio-gpu`. */
  readonly name: string = "virtio-gpu";
  /** Binds to `VIRTIO_ID_GPU`. */
  readonly idTable: readonly { device: number }[] = [{ device: VIRTIO_ID_GPU }];
  /** VIRTIO_GPU_F_EDID (2D only: no virgl, blobs or UUIDs). */
  readonly featureTable: readonly number[] = [VIRTIO_GPU_F_EDID];
  readonly #options: GpuDriverOptions;
  readonly #bound = new Map<DriverDevice, GpuDisplay>();

  /** See {@link GpuDriverOptions}. */
  constructor(options: GpuDriverOptions = {}) {
    this.#options = options;
  }

  /** The bound device `dev`, if any. */
  displayOf(dev: DriverDevice): GpuDisplay | undefined {
    return this.#bound.get(dev);
  }

  /** Bind: queues, then the display info and EDIDs. */
  async probe(dev: DriverDevice): Promise<void> {
    const d = new GpuDisplay(dev, this.#options);
    this.#bound.set(dev, d);
    await d.refresh();
  }

  /** VIRTIO_GPU_EVENT_DISPLAY: the display info is fetched again and the event cleared. */
  configChanged(dev: DriverDevice): void {
    const d = this.#bound.get(dev);
    if (d === undefined) return;
    displayHooks.configChanged(d).catch((e) => console.warn(`${dev.name}: display change: ${e}`));
  }

  /** Unbind: the device is reset, framebuffers' memory comes back. */
  remove(dev: DriverDevice): void {
    const d = this.#bound.get(dev);
    this.#bound.delete(dev);
    dev.reset();
    dev.delVqs();
    if (d) displayHooks.release(d);
  }
}
