/**
 * A small PNG encoder (RFC 2083 / ISO 15948) for 8-bit RGBA images: the
 * signature, IHDR, one IDAT compressed with `node:zlib`'s deflate, and IEND,
 * each chunk with its CRC-32. Every row is written with filter type 0
 * (None); deflate does the rest. Enough to save a GPU scanout.
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 *
 * const red = new Uint8Array([255, 0, 0, 255]); // one opaque red pixel
 * const png = encodePng(1, 1, red);
 * if (png[1] !== 0x50 || png[2] !== 0x4e || png[3] !== 0x47) throw new Error("unreachable"); // "PNG"
 * ```
 *
 * @module
 */

// The npm build type-checks against Deno's types alone, where node: modules have no
// declarations (scripts/build_npm.ts); on Deno and Node the import is typed and works.
// @ts-ignore: no Node type definitions in the npm build
import { deflateSync } from "node:zlib";
import { ArgumentError } from "../../errors.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let table: Uint32Array | undefined;

/** The CRC-32 of PNG and zlib (ISO 3309, polynomial 0xedb88320 reflected) of `bytes`. */
export function crc32(bytes: Uint8Array, crc: number = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes a `width` x `height` image of RGBA bytes (4 per pixel, rows top to
 * bottom, no padding) as a PNG file (colour type 6, bit depth 8).
 */
export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
    width > 0x7fffffff || height > 0x7fffffff
  ) {
    throw new ArgumentError(`PNG size ${width}x${height} is not 1..2^31-1 each`, {
      code: "ERR_VIRTIO_ARGUMENT_PNG_SIZE",
    });
  }
  const row = width * 4;
  if (rgba.length !== row * height) {
    throw new ArgumentError(
      `PNG of ${width}x${height} needs ${row * height} RGBA bytes, got ${rgba.length}`,
      { code: "ERR_VIRTIO_ARGUMENT_PNG_SIZE" },
    );
  }
  const ihdr = new Uint8Array(13);
  const h = new DataView(ihdr.buffer);
  h.setUint32(0, width);
  h.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGB with alpha
  // compression 0 (deflate), filter method 0, interlace 0 (none)
  const raw = new Uint8Array((row + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (row + 1)] = 0; // filter type None
    raw.set(rgba.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  }
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}
