// The PNG encoder against an independent reader (tests/devices/_png_ref.ts) and the CRC-32
// check values of ISO 3309 / the PNG spec.

import assert from "node:assert/strict";
import { crc32, encodePng } from "../../src/devices/gpu/png.ts";
import { ArgumentError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { crcBitwise, decodePng } from "./_png_ref.ts";

Deno.test("gpu png: CRC-32 of the check string and of an empty IEND chunk", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32(check), 0xcbf43926); // the standard check value
  assert.equal(crcBitwise(check), 0xcbf43926);
  assert.equal(crc32(new TextEncoder().encode("IEND")), 0xae426082); // every PNG ends with it
});

Deno.test("gpu png: an image round-trips through an independent reader", () => {
  const w = 37, h = 11;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 31 + (i >> 7)) & 0xff;
  const png = encodePng(w, h, rgba);
  const d = decodePng(png);
  assert.deepEqual(d.chunks, ["IHDR", "IDAT", "IEND"]);
  assert.equal(d.width, w);
  assert.equal(d.height, h);
  assert.deepEqual(d.rgba, rgba);
});

Deno.test("gpu png: sizes that do not match the bytes are refused", () => {
  assert.throws(
    () => encodePng(2, 2, new Uint8Array(15)),
    coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_PNG_SIZE"),
  );
  assert.throws(
    () => encodePng(0, 2, new Uint8Array(0)),
    coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_PNG_SIZE"),
  );
});
