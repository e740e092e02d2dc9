/**
 * What only the gpu device changes on a {@link GpuScanout}: its mode and
 * what it shows. The device (`device.ts`) calls these; GpuScanout's
 * `static` block puts them in place when `scanout.ts` loads (before any
 * scanout exists).
 *
 * @module
 */

import type { Resource } from "./_resources.ts";
import type { GpuMode, GpuRect, GpuScanout } from "./scanout.ts";

/** The device's access to a scanout's private members. */
export const scanoutHooks: {
  /** Sets the preferred mode. */
  setMode: (s: GpuScanout, mode: GpuMode) => void;
  /** Shows `rect` of `resource` (SET_SCANOUT). */
  show: (s: GpuScanout, resource: Resource, rect: GpuRect) => void;
  /** Shows nothing: the scanout is off. */
  off: (s: GpuScanout) => void;
  /** Does the scanout show `resource`? */
  shows: (s: GpuScanout, resource: Resource) => boolean;
  /** Counts a flush that reached the scanout. */
  flushed: (s: GpuScanout) => void;
} = { setMode: notLoaded, show: notLoaded, off: notLoaded, shows: () => false, flushed: notLoaded };

function notLoaded(): void {
  // Replaced by GpuScanout's static block: no GpuScanout exists before scanout.ts has run.
}
