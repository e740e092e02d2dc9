// Pixel formats of 2D resources (spec 5.7.6.8, enum virtio_gpu_formats): every one is
// 4 bytes a pixel, named by its bytes in memory order (B8G8R8X8 is blue, green, red,
// unused, which is DRM's little-endian XRGB8888). Shared by the device (resource to RGBA)
// and the driver (colours into the framebuffer).

import {
  VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM,
  VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM,
  VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM,
  VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
  VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM,
  VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM,
  VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM,
  VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM,
} from "../../generated/devices/gpu.ts";

/** Bytes per pixel of every 2D format. */
export const BYTES_PER_PIXEL = 4;

/** Where red, green, blue and alpha sit in a pixel's 4 bytes; alpha -1 means opaque. */
export interface Channels {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

const CHANNELS: ReadonlyMap<number, Channels> = new Map([
  [VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, { r: 2, g: 1, b: 0, a: 3 }],
  [VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, { r: 2, g: 1, b: 0, a: -1 }],
  [VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, { r: 1, g: 2, b: 3, a: 0 }],
  [VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, { r: 1, g: 2, b: 3, a: -1 }],
  [VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, { r: 0, g: 1, b: 2, a: 3 }],
  [VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, { r: 3, g: 2, b: 1, a: -1 }],
  [VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, { r: 3, g: 2, b: 1, a: 0 }],
  [VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, { r: 0, g: 1, b: 2, a: -1 }],
]);

/** The channel positions of `format`, or undefined for a format the spec does not list. */
export function channels(format: number): Channels | undefined {
  return CHANNELS.get(format);
}

/**
 * Converts the `w` x `h` rectangle at (`x`, `y`) of an image `stride` bytes
 * a row in `format` into RGBA bytes.
 */
export function toRgba(
  src: Uint8Array,
  stride: number,
  format: number,
  x: number,
  y: number,
  w: number,
  h: number,
): Uint8Array {
  const ch = CHANNELS.get(format) ?? { r: 0, g: 1, b: 2, a: -1 };
  const out = new Uint8Array(w * h * 4);
  let o = 0;
  for (let row = 0; row < h; row++) {
    let s = (y + row) * stride + x * BYTES_PER_PIXEL;
    for (let col = 0; col < w; col++, s += 4, o += 4) {
      out[o] = src[s + ch.r];
      out[o + 1] = src[s + ch.g];
      out[o + 2] = src[s + ch.b];
      out[o + 3] = ch.a < 0 ? 255 : src[s + ch.a];
    }
  }
  return out;
}
