/**
 * The EDID the GPU device gives for each scanout (VIRTIO_GPU_CMD_GET_EDID):
 * a VESA EDID 1.4 base block of 128 bytes, built for the scanout's mode.
 *
 * Layout (VESA E-EDID, release A, revision 2): the 8-byte header, vendor and
 * product (bytes 8-17), version 1.4 (18-19), basic display parameters
 * (20-24: digital input with 8 bits per colour, the screen size in cm at
 * 96 dots per inch, gamma 2.2, sRGB default and "preferred timing is
 * native"), sRGB chromaticity (25-34), no established or standard timings,
 * four 18-byte descriptors (54-125): the detailed timing of the mode
 * (reduced blanking, 60 Hz), a display range limits descriptor, the product
 * name and a serial string, then no extension blocks (126) and a checksum
 * (127) that makes the 128 bytes sum to 0 modulo 256.
 *
 * @example
 * ```ts
 * import { buildEdid } from "./edid.ts";
 *
 * const edid = buildEdid(1024, 768);
 * if (edid.reduce((a, b) => a + b, 0) % 256 !== 0) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { ArgumentError } from "../../errors.ts";

/** The largest width or height a detailed timing descriptor holds (12 bits). */
export const EDID_MAX_DIMENSION = 4095;

/** Options of {@link buildEdid}. */
export interface EdidOptions {
  /** The monitor name (ASCII, at most 13 characters; default "typed-virtio"). */
  readonly name?: string;
  /** The serial number string (ASCII, at most 13 characters; default "0"). */
  readonly serial?: string;
  /** Refresh rate in Hz of the detailed timing (default 60). */
  readonly refresh?: number;
}

// Reduced blanking in the manner of VESA CVT-RB: a fixed horizontal blank of
// 160 pixels (48 front porch, 32 sync), a short vertical front porch and sync.
const H_BLANK = 160, H_FRONT = 48, H_SYNC = 32;
const V_FRONT = 3, V_SYNC = 6, V_BLANK_MIN = 23;

function text(tag: number, s: string): number[] {
  const d = [0, 0, 0, tag, 0];
  for (let i = 0; i < 13; i++) {
    d.push(i < s.length ? s.charCodeAt(i) : i === s.length ? 0x0a : 0x20);
  }
  return d;
}

function ascii(what: string, s: string): string {
  if (s.length > 13 || !/^[\x20-\x7e]*$/.test(s)) {
    throw new ArgumentError(`EDID ${what} "${s}" is not printable ASCII of at most 13 characters`, {
      code: "ERR_VIRTIO_ARGUMENT_EDID",
    });
  }
  return s;
}

/**
 * A 128-byte EDID 1.4 base block whose preferred (and only) mode is
 * `width` x `height` (each 1..{@link EDID_MAX_DIMENSION}).
 */
export function buildEdid(width: number, height: number, options: EdidOptions = {}): Uint8Array {
  for (const [what, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > EDID_MAX_DIMENSION) {
      throw new ArgumentError(`EDID ${what} ${v} is not an integer in 1..${EDID_MAX_DIMENSION}`, {
        code: "ERR_VIRTIO_ARGUMENT_EDID",
      });
    }
  }
  const name = ascii("name", options.name ?? "typed-virtio");
  const serial = ascii("serial", options.serial ?? "0");
  const refresh = options.refresh ?? 60;
  const e = new Uint8Array(128);
  e.set([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00], 0);
  // Manufacturer "TVT": three letters of 5 bits (A = 1), big-endian.
  const letters = "TVT".split("").map((c) => c.charCodeAt(0) - 64);
  const mfg = (letters[0] << 10) | (letters[1] << 5) | letters[2];
  e[8] = mfg >> 8;
  e[9] = mfg & 0xff;
  e[10] = 0x01; // product code 0x0001, little-endian
  e[11] = 0x00;
  // bytes 12-15: serial number 0
  e[16] = 1; // week of manufacture
  e[17] = 2024 - 1990; // year of manufacture
  e[18] = 1; // EDID version 1
  e[19] = 4; // revision 4
  e[20] = 0x80 | (0b010 << 4); // digital input, 8 bits per primary colour, interface undefined
  // Screen size in cm at 96 dots per inch (at least 1 cm each).
  const widthMm = Math.max(10, Math.round((width * 25.4) / 96));
  const heightMm = Math.max(10, Math.round((height * 25.4) / 96));
  e[21] = Math.min(255, Math.round(widthMm / 10));
  e[22] = Math.min(255, Math.round(heightMm / 10));
  e[23] = 220 - 100; // gamma 2.2, stored as (gamma * 100) - 100
  e[24] = 0x06; // RGB 4:4:4, sRGB is the default colour space, preferred timing is native
  // Chromaticity of sRGB as 10-bit binary fractions.
  const c = [0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329].map((v) => Math.round(v * 1024));
  const lo = (i: number) => c[i] & 3;
  e[25] = (lo(0) << 6) | (lo(1) << 4) | (lo(2) << 2) | lo(3);
  e[26] = (lo(4) << 6) | (lo(5) << 4) | (lo(6) << 2) | lo(7);
  for (let i = 0; i < 8; i++) e[27 + i] = c[i] >> 2;
  // 35-37: no established timings. 38-53: standard timings unused (0x01 0x01).
  for (let i = 38; i < 54; i++) e[i] = 0x01;
  // Descriptor 1: the detailed timing of the preferred mode.
  const vBlank = Math.max(V_BLANK_MIN, Math.ceil(height / 30));
  const hTotal = width + H_BLANK;
  const vTotal = height + vBlank;
  const clock = Math.max(1, Math.min(0xffff, Math.round((hTotal * vTotal * refresh) / 10_000)));
  const d = 54;
  e[d] = clock & 0xff;
  e[d + 1] = clock >> 8;
  e[d + 2] = width & 0xff;
  e[d + 3] = H_BLANK & 0xff;
  e[d + 4] = ((width >> 8) << 4) | (H_BLANK >> 8);
  e[d + 5] = height & 0xff;
  e[d + 6] = vBlank & 0xff;
  e[d + 7] = ((height >> 8) << 4) | (vBlank >> 8);
  e[d + 8] = H_FRONT & 0xff;
  e[d + 9] = H_SYNC & 0xff;
  e[d + 10] = ((V_FRONT & 0xf) << 4) | (V_SYNC & 0xf);
  e[d + 11] = ((H_FRONT >> 8) << 6) | ((H_SYNC >> 8) << 4) | ((V_FRONT >> 4) << 2) |
    (V_SYNC >> 4);
  e[d + 12] = widthMm & 0xff;
  e[d + 13] = heightMm & 0xff;
  e[d + 14] = ((widthMm >> 8) << 4) | (heightMm >> 8);
  // 15, 16: no borders. 17: digital separate sync, vertical sync negative, horizontal positive.
  e[d + 17] = 0x18 | 0x02;
  // Descriptor 2: display range limits (0xfd), no timing formula.
  const hKhz = Math.ceil((clock * 10) / hTotal); // line rate in kHz
  const maxClock10 = Math.max(1, Math.min(255, Math.ceil(clock / 1000))); // units of 10 MHz
  e.set(
    [
      0,
      0,
      0,
      0xfd,
      0,
      50,
      Math.max(75, refresh),
      Math.max(1, Math.min(255, hKhz - 10)),
      Math.min(
        255,
        hKhz + 10,
      ),
      maxClock10,
      0x01,
      0x0a,
      0x20,
      0x20,
      0x20,
      0x20,
      0x20,
      0x20,
    ],
    72,
  );
  // Descriptors 3 and 4: the product name (0xfc) and a serial string (0xff).
  e.set(text(0xfc, name), 90);
  e.set(text(0xff, serial), 108);
  e[126] = 0; // no extension blocks
  let sum = 0;
  for (let i = 0; i < 127; i++) sum += e[i];
  e[127] = (256 - (sum & 0xff)) & 0xff;
  return e;
}
