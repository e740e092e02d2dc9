// The EDID builder read back by a decoder written from the VESA E-EDID layout (base block
// of 128 bytes: header 0-7, vendor 8-9, version 18-19, descriptors at 54/72/90/108,
// extension count 126, checksum 127); Linux parses the same bytes in the v86 test.

import assert from "node:assert/strict";
import { buildEdid } from "../../src/devices/gpu/edid.ts";
import { ArgumentError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";

function decode(e: Uint8Array) {
  const vendor = [(e[8] >> 2) & 31, ((e[8] & 3) << 3) | (e[9] >> 5), e[9] & 31]
    .map((n) => String.fromCharCode(64 + n)).join("");
  const d = e.subarray(54, 72);
  const descriptor = (tag: number) => {
    for (const at of [72, 90, 108]) {
      if (e[at] === 0 && e[at + 1] === 0 && e[at + 3] === tag) {
        return String.fromCharCode(...e.subarray(at + 5, at + 18)).split("\n")[0];
      }
    }
    return undefined;
  };
  return {
    header: [...e.subarray(0, 8)],
    sum: e.reduce((a, b) => a + b, 0) % 256,
    vendor,
    version: `${e[18]}.${e[19]}`,
    digital: (e[20] & 0x80) !== 0,
    pixelClockKhz: (d[0] | (d[1] << 8)) * 10,
    hActive: d[2] | ((d[4] & 0xf0) << 4),
    hBlank: d[3] | ((d[4] & 0x0f) << 8),
    vActive: d[5] | ((d[7] & 0xf0) << 4),
    vBlank: d[6] | ((d[7] & 0x0f) << 8),
    name: descriptor(0xfc),
    serial: descriptor(0xff),
    hasRangeLimits: e[72 + 3] === 0xfd,
    extensions: e[126],
  };
}

Deno.test("gpu edid: a valid EDID 1.4 block whose detailed timing is the mode", () => {
  for (const [w, h] of [[1024, 768], [640, 480], [1920, 1080], [4095, 4095], [1, 1], [800, 600]]) {
    const e = buildEdid(w, h);
    assert.equal(e.length, 128);
    const d = decode(e);
    assert.deepEqual(d.header, [0, 255, 255, 255, 255, 255, 255, 0]);
    assert.equal(d.sum, 0, `checksum of ${w}x${h}`);
    assert.equal(d.version, "1.4");
    assert.equal(d.vendor, "TVT");
    assert.ok(d.digital);
    assert.equal(d.hActive, w);
    assert.equal(d.vActive, h);
    assert.ok(d.pixelClockKhz > 0);
    assert.equal(d.name, "typed-virtio");
    assert.equal(d.serial, "0");
    assert.ok(d.hasRangeLimits);
    assert.equal(d.extensions, 0);
  }
  // 1024x768 at 60 Hz with a 160-pixel horizontal blank: about 56 MHz.
  const d = decode(buildEdid(1024, 768));
  const refresh = (d.pixelClockKhz * 1000) / ((1024 + d.hBlank) * (768 + d.vBlank));
  assert.ok(Math.abs(refresh - 60) < 0.5, `refresh ${refresh}`);
});

Deno.test("gpu edid: name and serial strings, and sizes it cannot describe, are checked", () => {
  const d = decode(buildEdid(320, 200, { name: "panel", serial: "ABC123" }));
  assert.equal(d.name, "panel");
  assert.equal(d.serial, "ABC123");
  for (const [w, h] of [[0, 10], [4096, 10], [10, 1.5]]) {
    assert.throws(() => buildEdid(w, h), coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_EDID"));
  }
  assert.throws(
    () => buildEdid(10, 10, { name: "fourteen chars" }),
    coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_EDID"),
  );
});
