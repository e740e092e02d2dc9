// Linux in v86 drives our virtio-gpu over PCI modern (its own boot): `modprobe virtio-gpu`,
// the DRM driver binds and reads our display info and EDID, fbdev emulation gives /dev/fb0,
// the built-in fbcon takes the virtual terminals over from v86's VGA text console, and text
// written to /dev/tty1 is drawn by the kernel into our scanout. The host saves the scanout
// as a PNG, reads it back with the independent reader, and finds the text: foreground pixels
// in every character cell of the line written, none in the line below.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildEdid } from "../../../src/devices/gpu/edid.ts";
import { GpuDevice } from "../../../src/devices/gpu/mod.ts";
import { VIRTIO_F_VERSION_1, VIRTIO_ID_GPU } from "../../../src/generated/common.ts";
import { VIRTIO_GPU_F_EDID } from "../../../src/generated/devices/gpu.ts";
import { decodePng } from "../../devices/_png_ref.ts";
import { boot, kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";

const WIDTH = 640, HEIGHT = 480;
const TEXT = "HELLO-FROM-THE-V86-GUEST";

const ready = await kitOrSkip();

/** Resolves once `check` holds after a flush (checked at once, then after each flush). */
function whenShown(gpu: GpuDevice, check: () => boolean, what: string): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no flush showed ${what} within 300 s`));
    }, 300_000);
    const stop = gpu.onFlush(() => {
      if (!check()) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

/** The colour that covers most of `img` (the console's background). */
function background(img: Uint8Array): number {
  const count = new Map<number, number>();
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  for (let i = 0; i < img.length; i += 4) {
    const c = v.getUint32(i);
    count.set(c, (count.get(c) ?? 0) + 1);
  }
  return [...count].sort((a, b) => b[1] - a[1])[0][0];
}

/** Pixels of the cell `w` x `h` at (x, y) that are not the background. */
function inked(img: Uint8Array, bg: number, x: number, y: number, w: number, h: number): number {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  let n = 0;
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) if (v.getUint32((yy * WIDTH + xx) * 4) !== bg) n++;
  }
  return n;
}

Deno.test({
  name: "v86 + Linux over PCI modern: virtio-gpu binds, fbcon draws text, the host saves a PNG",
  ignore: !ready,
  // v86 keeps timers and the emulator's resources until it is destroyed.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const gpu = new GpuDevice({ scanouts: [{ width: WIDTH, height: HEIGHT }] });
    const log = new Log();
    const m = await boot("pci", [gpu], log);
    try {
      await t.step("modprobe virtio-gpu: the DRM driver binds and negotiates EDID", async () => {
        await m.run("modprobe virtio-gpu");
        const dir = await sysfsDevice(m, VIRTIO_ID_GPU);
        assert.match(await m.run(`readlink ${dir}/driver`), /virtio_gpu/);
        const f = await negotiated(m, dir);
        assert.ok(f & (1n << BigInt(VIRTIO_F_VERSION_1)));
        assert.ok(f & (1n << BigInt(VIRTIO_GPU_F_EDID)));
        assert.match(await m.run("cat /proc/fb"), /virtio_gpu/);
      });

      await t.step("the connector has our mode and our EDID, byte for byte", async () => {
        const conn = (await m.run("ls -d /sys/class/drm/card*-Virtual-1")).trim();
        assert.equal((await m.run(`cat ${conn}/status`)).trim(), "connected");
        const modes = (await m.run(`cat ${conn}/modes`)).split("\n").map((l) => l.trim());
        assert.ok(modes.includes(`${WIDTH}x${HEIGHT}`), `modes: ${modes}`);
        const sum = (await m.run(`sha256sum ${conn}/edid`)).trim().split(/\s+/)[0];
        assert.equal(sum, createHash("sha256").update(buildEdid(WIDTH, HEIGHT)).digest("hex"));
      });

      await t.step(
        "fbcon draws text written to /dev/tty1 on our scanout; the PNG shows it",
        async () => {
          // The scanout shows Linux's framebuffer once fbdev emulation set it up.
          await whenShown(gpu, () => gpu.scanouts[0].rect.width === WIDTH, "the framebuffer");
          // fbcon took the virtual terminals over (from v86's VGA text console) by itself.
          const names = await m.run("grep -l 'frame buffer' /sys/class/vtconsole/*/name");
          const vtcon = names.trim().split("\n").at(-1)?.trim().replace(/\/name$/, "");
          assert.equal((await m.run(`cat ${vtcon}/bind`)).trim(), "1", "fbcon is bound");
          // Clear tty1 (cursor to the top left), then write one line.
          await m.run(`printf '\\033[2J\\033[H${TEXT}\\n' > /dev/tty1`);
          const cellW = 8, cellH = 16; // fbcon's default font on a 640x480 mode: VGA 8x16
          const drawn = () => {
            const img = gpu.scanouts[0].rgba();
            if (img.length !== WIDTH * HEIGHT * 4) return false;
            const bg = background(img);
            for (
              let i = 0;
              i < TEXT.length;
              i++
            ) if (inked(img, bg, i * cellW, 0, cellW, cellH) === 0) return false;
            return true;
          };
          await whenShown(gpu, drawn, `"${TEXT}" on the first line`);
          const png = gpu.scanouts[0].png();
          assert.ok(png);
          const dir = Deno.env.get("TV_GPU_PNG_DIR") ?? await Deno.makeTempDir();
          const file = `${dir}/v86_fbcon.png`;
          await Deno.writeFile(file, png);
          console.log(`scanout saved: ${file}`);
          const d = decodePng(await Deno.readFile(file));
          assert.deepEqual([d.width, d.height], [WIDTH, HEIGHT]);
          const bg = background(d.rgba);
          const cells = Array.from(
            { length: TEXT.length },
            (_, i) => inked(d.rgba, bg, i * cellW, 0, cellW, cellH),
          );
          // Every character cell of the line has ink, and more than a cursor would leave.
          assert.ok(
            cells.every((n) => n >= 6),
            `ink per cell: ${cells}`,
          );
          assert.ok(cells.reduce((a, b) => a + b, 0) > 20 * TEXT.length, `ink per cell: ${cells}`);
          // The rest of the screen, past the cursor on line 2, is background.
          const rest = inked(d.rgba, bg, 0, 3 * cellH, WIDTH, HEIGHT - 3 * cellH);
          assert.equal(rest, 0, "the screen below the text is clear");
        },
      );

      assert.equal(gpu.errorResponses, 0, "the guest's driver got no error response");
    } finally {
      m.stop();
    }
  },
});
