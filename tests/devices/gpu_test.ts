// virtio-gpu: our driver (a framebuffer API) against our device model over MMIO and PCI.
// Expected pixels are computed here from the spec's format names (B8G8R8X8: bytes blue,
// green, red, unused in memory), never read back from the code under test; PNG files are
// checked with the independent reader of _png_ref.ts, EDIDs by their VESA checksum.

import assert from "node:assert/strict";
import {
  Framebuffer,
  GpuDevice,
  type GpuDeviceOptions,
  gpuDriver,
  type GpuDriverOptions,
  type GpuFlushEvent,
  GpuResponseError,
} from "../../src/devices/gpu/mod.ts";
import { ArgumentError } from "../../src/errors.ts";
import { decodePng } from "./_png_ref.ts";
import { coded } from "./_coded.ts";
import { rig } from "./_rig.ts";
import { type Kind, MAIN_KINDS } from "../transport/_kinds.ts";

// Spec values written out (5.7.6.7, 5.7.6.8).
const ERR_INVALID_RESOURCE_ID = 0x1203;
const FORMAT_B8G8R8X8 = 2, FORMAT_R8G8B8A8 = 67, FORMAT_A8R8G8B8 = 3;

async function setup(kind: Kind, devOpts: GpuDeviceOptions = {}, drvOpts: GpuDriverOptions = {}) {
  const device = new GpuDevice(devOpts);
  const r = rig(kind, device, 16 << 20);
  const driver = gpuDriver(drvOpts);
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  const display = driver.displayOf(dev);
  assert.ok(display, "the driver bound");
  const flushes: GpuFlushEvent[] = [];
  device.onFlush((e) => flushes.push(e));
  return { ...r, device, driver, dev, display, flushes };
}

/** RGBA of an opaque 0xRRGGBB. */
const rgba = (c: number) => [(c >> 16) & 255, (c >> 8) & 255, c & 255, 255];

function pixelAt(img: Uint8Array, width: number, x: number, y: number): number[] {
  const o = (y * width + x) * 4;
  return [...img.subarray(o, o + 4)];
}

for (const kind of MAIN_KINDS) {
  Deno.test(`gpu over ${kind}: display info and EDIDs of two scanouts`, async () => {
    const s = await setup(kind, {
      scanouts: [{ width: 640, height: 480 }, { width: 320, height: 200, enabled: false }],
    });
    assert.deepEqual(s.display.scanouts, [
      { x: 0, y: 0, width: 640, height: 480, enabled: true },
      { x: 640, y: 0, width: 320, height: 200, enabled: false },
    ]);
    for (const [i, [w, h]] of [[640, 480], [320, 200]].entries()) {
      const e = s.display.edid(i);
      assert.ok(e);
      assert.equal(e.length, 128);
      assert.equal(e.reduce((a, b) => a + b, 0) % 256, 0);
      // Detailed timing 1 (byte 54): horizontal active at 56/58, vertical at 59/61.
      assert.equal(e[56] | ((e[58] & 0xf0) << 4), w);
      assert.equal(e[59] | ((e[61] & 0xf0) << 4), h);
    }
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: without VIRTIO_GPU_F_EDID no EDID is asked for`, async () => {
    const s = await setup(kind, { scanouts: [{ width: 64, height: 48 }], edid: false });
    assert.equal(s.device.features & (1n << 1n), 0n, "feature bit 1 (5.7.3) not offered");
    assert.equal(s.display.edid(0), undefined);
    assert.deepEqual(s.display.scanouts, [{ x: 0, y: 0, width: 64, height: 48, enabled: true }]);
    assert.equal(s.device.errorResponses, 0, "the driver sent no GET_EDID");
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: draw, transfer and flush; the host sees the frame and saves a PNG`, async () => {
    // 4 KiB segments: the 64x48 framebuffer's 12 KiB backing is a 3-entry scatter list.
    const s = await setup(kind, { scanouts: [{ width: 64, height: 48 }] }, { segmentSize: 4096 });
    const fb = await s.display.createFramebuffer();
    assert.equal(fb.width, 64);
    assert.equal(fb.height, 48);
    assert.equal(fb.format, FORMAT_B8G8R8X8);
    await fb.show(0);
    fb.fill(0x102030);
    fb.fillRect(8, 4, 20, 30, 0xff8000);
    // B8G8R8X8: blue, green, red, unused in memory.
    assert.deepEqual([...fb.pixels.subarray(0, 3)], [0x30, 0x20, 0x10]);
    await fb.flush();
    assert.equal(s.flushes.length, 1);
    const e = s.flushes[0];
    assert.deepEqual(e.rect, { x: 0, y: 0, width: 64, height: 48 });
    assert.equal(e.scanout.id, 0);
    assert.equal(e.scanout.resourceId, fb.resourceId);
    const img = e.scanout.rgba();
    assert.equal(img.length, 64 * 48 * 4);
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 64; x++) {
        const inRect = x >= 8 && x < 28 && y >= 4 && y < 34;
        assert.deepEqual(pixelAt(img, 64, x, y), rgba(inRect ? 0xff8000 : 0x102030), `${x},${y}`);
      }
    }
    const png = e.scanout.png();
    assert.ok(png);
    const d = decodePng(png);
    assert.equal(d.width, 64);
    assert.equal(d.height, 48);
    assert.deepEqual(d.rgba, img);

    // A partial flush moves only its rectangle: what is drawn outside stays on the guest side.
    // Each pixel a colour of its own (x in green, y in blue), so a row or column taken from
    // the wrong place shows.
    const colour = (x: number, y: number) => 0x800000 | (x << 8) | y;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) fb.fillRect(x, y, 1, 1, colour(x, y));
    await fb.flush({ x: 40, y: 10, width: 5, height: 7 });
    assert.equal(s.flushes.length, 2);
    assert.deepEqual(s.flushes[1].rect, { x: 40, y: 10, width: 5, height: 7 });
    const after = s.device.scanouts[0].rgba();
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 64; x++) {
        const flushed = x >= 40 && x < 45 && y >= 10 && y < 17;
        const before = x >= 8 && x < 28 && y >= 4 && y < 34 ? 0xff8000 : 0x102030;
        assert.deepEqual(
          pixelAt(after, 64, x, y),
          rgba(flushed ? colour(x, y) : before),
          `${x},${y}`,
        );
      }
    }
    assert.equal(s.device.scanouts[0].flushes, 2);

    await fb.destroy();
    assert.equal(s.device.resourceCount, 0);
    assert.equal(s.device.hostMemory, 0);
    assert.equal(s.device.scanouts[0].resourceId, 0, "unref turns the scanout off");
    assert.equal(s.device.errorResponses, 0);
    // GET_DISPLAY_INFO, GET_EDID; CREATE_2D, ATTACH_BACKING; SET_SCANOUT; two transfers and
    // two flushes; DETACH_BACKING, UNREF: 11 commands, each fenced and each fence echoed.
    assert.equal(s.display.fencesCompleted, 11);
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: formats, a scanout showing part of a bigger resource, page flip`, async () => {
    const s = await setup(kind, { scanouts: [{ width: 32, height: 16 }] });
    const big = await s.display.createFramebuffer({
      width: 64,
      height: 32,
      format: FORMAT_R8G8B8A8,
    });
    const other = await s.display.createFramebuffer({ format: FORMAT_A8R8G8B8 });
    assert.deepEqual([other.width, other.height], [32, 16]);
    big.fill(0x0000ff);
    big.fillRect(32, 16, 32, 16, 0xabcdef); // the bottom-right quarter
    // R8G8B8A8: red, green, blue, alpha in memory.
    assert.deepEqual([...big.pixels.subarray(0, 4)], [0, 0, 0xff, 0xff]);
    await big.show(0, { x: 32, y: 16, width: 32, height: 16 });
    await big.flush();
    const shown = s.device.scanouts[0].rgba();
    assert.equal(shown.length, 32 * 16 * 4);
    for (let i = 0; i < shown.length; i += 4) {
      assert.deepEqual([...shown.subarray(i, i + 4)], rgba(0xabcdef));
    }
    // The flush rectangle comes in the scanout's coordinates.
    assert.deepEqual(s.flushes.at(-1)?.rect, { x: 0, y: 0, width: 32, height: 16 });
    // A flush of the part not shown reaches no scanout.
    const n = s.flushes.length;
    await big.flush({ x: 0, y: 0, width: 16, height: 16 });
    assert.equal(s.flushes.length, n);

    // Page flip: the other framebuffer (A8R8G8B8: alpha, red, green, blue) on the same scanout.
    other.fill(0x123456);
    assert.deepEqual([...other.pixels.subarray(0, 4)], [0xff, 0x12, 0x34, 0x56]);
    await other.flush();
    await other.show(0);
    await other.flush();
    assert.deepEqual(pixelAt(s.device.scanouts[0].rgba(), 32, 5, 5), rgba(0x123456));
    assert.equal(s.device.scanouts[0].resourceId, other.resourceId);
    await big.destroy();
    await other.destroy();
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: the cursor on the cursorq`, async () => {
    const s = await setup(kind, { scanouts: [{ width: 200, height: 100 }] });
    const cur = await s.display.createFramebuffer({ width: 64, height: 64 });
    cur.fill(0xffffff);
    cur.fillRect(0, 0, 1, 1, 0xff0000);
    await cur.flush();
    await s.display.updateCursor(cur, { x: 10, y: 20, hotX: 3, hotY: 4 });
    const c = s.device.cursor;
    assert.deepEqual(
      [c.scanoutId, c.x, c.y, c.resourceId, c.hotX, c.hotY],
      [0, 10, 20, cur.resourceId, 3, 4],
    );
    assert.ok(c.image);
    assert.deepEqual([...c.image.subarray(0, 4)], rgba(0xff0000));
    assert.deepEqual([...c.image.subarray(4, 8)], rgba(0xffffff));
    await s.display.moveCursor(0, 150, 90);
    assert.deepEqual([s.device.cursor.x, s.device.cursor.y], [150, 90]);
    assert.equal(s.device.cursor.resourceId, cur.resourceId, "MOVE_CURSOR keeps the image");
    await s.display.updateCursor(undefined, { x: 0, y: 0 });
    assert.equal(s.device.cursor.resourceId, 0);
    assert.equal(s.device.cursor.image, undefined);
    // A cursor that is not 64x64 is refused before it is sent (the device refuses it too:
    // gpu_hostile_test.ts).
    const wrong = await s.display.createFramebuffer({ width: 32, height: 32 });
    await assert.rejects(
      s.display.updateCursor(wrong, { x: 1, y: 1 }),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_GPU_RECT"),
    );
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: a display change is fetched again and the event cleared`, async () => {
    const s = await setup(kind, { scanouts: [{ width: 640, height: 480 }] });
    const changed = new Promise<void>((resolve) => s.display.onDisplayChange(resolve));
    s.device.setMode(0, { width: 800, height: 600 });
    assert.equal(s.device.cfg.eventsRead, 1, "VIRTIO_GPU_EVENT_DISPLAY is pending");
    await changed;
    assert.deepEqual(s.display.scanouts[0], { x: 0, y: 0, width: 800, height: 600, enabled: true });
    const e = s.display.edid(0);
    assert.ok(e);
    assert.equal(e[56] | ((e[58] & 0xf0) << 4), 800);
    assert.equal(s.device.cfg.eventsRead, 0, "the driver wrote events_clear");
    await s.bus.removeDevice(s.dev);
  });

  Deno.test(`gpu over ${kind}: errors come back typed; a reset drops every resource`, async () => {
    const s = await setup(kind, { scanouts: [{ width: 64, height: 64 }] });
    const fb = await s.display.createFramebuffer();
    await fb.show(0);
    // A framebuffer the device never created: its first command fails on the device.
    const stray = new Framebuffer(s.display, 999, 1, 1, fb.format, fb.addr, fb.pixels);
    await assert.rejects(
      stray.show(0, { x: 0, y: 0, width: 1, height: 1 }),
      (e) => {
        assert.ok(e instanceof GpuResponseError);
        assert.equal(e.code, "ERR_VIRTIO_DEVICE_GPU_RESPONSE");
        assert.equal(e.response, ERR_INVALID_RESOURCE_ID);
        assert.match(
          e.message,
          /VIRTIO_GPU_CMD_SET_SCANOUT answered VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID/,
        );
        return true;
      },
    );
    assert.equal(s.device.resourceCount, 1);
    s.dev.reset();
    assert.equal(s.device.resourceCount, 0);
    assert.equal(s.device.hostMemory, 0);
    assert.equal(s.device.scanouts[0].resourceId, 0);
    await s.bus.removeDevice(s.dev);
  });
}
