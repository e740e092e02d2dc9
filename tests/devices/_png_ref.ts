// An independent PNG reader for the gpu tests (PNG spec, ISO 15948): chunks parsed by hand,
// each CRC recomputed bit by bit (no table), IDAT inflated with node:zlib and every filter
// type undone, so a file our encoder wrote is checked by code that shares nothing with it.

import { inflateSync } from "node:zlib";

/** CRC-32 (polynomial 0xedb88320), one bit at a time. */
export function crcBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface DecodedPng {
  width: number;
  height: number;
  rgba: Uint8Array;
  chunks: string[];
}

/** Decodes an 8-bit RGBA, non-interlaced PNG; throws on anything wrong. */
export function decodePng(file: Uint8Array): DecodedPng {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  sig.forEach((b, i) => {
    if (file[i] !== b) throw new Error(`signature byte ${i}`);
  });
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = 8, width = 0, height = 0;
  const idat: Uint8Array[] = [];
  const chunks: string[] = [];
  while (at < file.length) {
    const len = v.getUint32(at);
    const type = String.fromCharCode(...file.subarray(at + 4, at + 8));
    const data = file.subarray(at + 8, at + 8 + len);
    if (crcBitwise(file.subarray(at + 4, at + 8 + len)) !== v.getUint32(at + 8 + len)) {
      throw new Error(`bad CRC in ${type}`);
    }
    chunks.push(type);
    if (type === "IHDR") {
      width = v.getUint32(at + 8);
      height = v.getUint32(at + 12);
      if (data[8] !== 8 || data[9] !== 6 || data[12] !== 0) throw new Error("not 8-bit RGBA");
    } else if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  const z = new Uint8Array(inflateSync(Uint8Array.from(idat.flatMap((d) => [...d]))));
  const row = width * 4;
  const out = new Uint8Array(row * height);
  for (let y = 0; y < height; y++) {
    const f = z[y * (row + 1)];
    for (let i = 0; i < row; i++) {
      const x = z[y * (row + 1) + 1 + i];
      const a = i >= 4 ? out[y * row + i - 4] : 0;
      const b = y > 0 ? out[(y - 1) * row + i] : 0;
      const c = i >= 4 && y > 0 ? out[(y - 1) * row + i - 4] : 0;
      let p = 0;
      if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (f !== 0) throw new Error(`filter ${f}`);
      out[y * row + i] = (x + p) & 0xff;
    }
  }
  return { width, height, rgba: out, chunks };
}
