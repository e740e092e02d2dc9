/**
 * One display of a gpu device ({@link GpuScanout}): its preferred mode
 * ({@link GpuMode}), the part of a resource it shows ({@link GpuRect}), and
 * those pixels as RGBA or as a PNG file. The device sets what it shows
 * (SET_SCANOUT) through `_scanout_hooks.ts`.
 *
 * @example
 * ```ts
 * import { GpuDevice } from "./device.ts";
 *
 * const [screen] = new GpuDevice({ scanouts: [{ width: 640, height: 480 }] }).scanouts;
 * if (screen.width !== 640 || screen.resourceId !== 0 || screen.png() !== undefined) throw new Error("off until SET_SCANOUT");
 * ```
 *
 * @module
 */

import type { Resource } from "./_resources.ts";
import { BYTES_PER_PIXEL, toRgba } from "./_pixels.ts";
import { scanoutHooks } from "./_scanout_hooks.ts";
import { encodePng } from "./png.ts";

/** A rectangle in pixels; 0,0 is top left. */
export interface GpuRect {
  /** Left edge; larger x moves right. */
  readonly x: number;
  /** Top edge; larger y moves down. */
  readonly y: number;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** One display's preferred mode in {@link GpuDeviceOptions.scanouts}. */
export interface GpuMode {
  /** Width in pixels, 1..4095. */
  readonly width: number;
  /** Height in pixels, 1..4095. */
  readonly height: number;
  /** Is the display connected (default true)? */
  readonly enabled?: boolean;
}

const NO_RECT: GpuRect = Object.freeze({ x: 0, y: 0, width: 0, height: 0 });

/** One display of a {@link GpuDevice}: its mode, what it shows, and its pixels. */
export class GpuScanout {
  /** The scanout id (0-based). */
  readonly id: number;
  #mode: GpuMode;
  #resource: Resource | undefined;
  #rect: GpuRect = NO_RECT;
  /** Flushes that reached this scanout. */
  get flushes(): number {
    return this.#flushes;
  }
  #flushes = 0;

  static {
    scanoutHooks.setMode = (s, mode) => s.#setMode(mode);
    scanoutHooks.show = (s, resource, rect) => s.#show(resource, rect);
    scanoutHooks.off = (s) => s.#show(undefined, NO_RECT);
    scanoutHooks.shows = (s, resource) => s.#shows(resource);
    scanoutHooks.flushed = (s) => void s.#flushes++;
  }

  /** @internal made by the device */
  constructor(id: number, mode: GpuMode) {
    this.id = id;
    this.#mode = mode;
  }

  /** The preferred width (GET_DISPLAY_INFO). */
  get width(): number {
    return this.#mode.width;
  }

  /** The preferred height (GET_DISPLAY_INFO). */
  get height(): number {
    return this.#mode.height;
  }

  /** Is the display connected? */
  get enabled(): boolean {
    return this.#mode.enabled ?? true;
  }

  /** The resource shown (0: none, the scanout is off). */
  get resourceId(): number {
    return this.#resource?.id ?? 0;
  }

  /** The part of the resource shown (SET_SCANOUT's rectangle); empty when off. */
  get rect(): GpuRect {
    return this.#rect;
  }

  /**
   * What the scanout shows as RGBA bytes, `rect.width` x `rect.height`
   * pixels (a copy); empty when the scanout is off.
   */
  rgba(): Uint8Array {
    const r = this.#resource;
    if (r === undefined) return new Uint8Array(0);
    const { x, y, width, height } = this.#rect;
    return toRgba(r.data, r.width * BYTES_PER_PIXEL, r.format, x, y, width, height);
  }

  /** What the scanout shows as a PNG file; undefined when the scanout is off. */
  png(): Uint8Array | undefined {
    if (this.#resource === undefined) return undefined;
    return encodePng(this.#rect.width, this.#rect.height, this.rgba());
  }

  #setMode(mode: GpuMode): void {
    this.#mode = mode;
  }

  #show(resource: Resource | undefined, rect: GpuRect): void {
    this.#resource = resource;
    this.#rect = resource === undefined ? NO_RECT : rect;
  }

  #shows(resource: Resource): boolean {
    return this.#resource === resource;
  }
}
