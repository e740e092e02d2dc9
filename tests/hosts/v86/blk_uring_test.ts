// Linux's virtio-blk driver in the v86 guest (i386, PCI modern) on our BlkDevice over
// UringFileStorage (io_uring through Deno FFI) on an image file. The guest runs
// tests/interop/guest/blk_verify.c (built here with gcc -m32 -static): patterned writes of
// 512 B to 256 KiB submitted together with Linux AIO and O_DIRECT, an fdatasync, then the same
// ranges read back and checked; the host finds the pattern in the image file (zeroes elsewhere)
// and sees that requests shared passes and went through the ring. One boot of its own.

import assert from "node:assert/strict";
import { BlkDevice, UringFileStorage } from "../../../src/devices/blk/mod.ts";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { kitOrSkip, Log } from "./_guest.ts";
import { gcc32OrSkip, guestProgram } from "./_modules.ts";
import { blkVerifyPattern as pattern } from "../../interop/_blk_pattern.ts";

const kit = await kitOrSkip();
const gcc = kit ? await gcc32OrSkip() : false;
const program = gcc ? await guestProgram("../../../interop/guest/blk_verify.c") : undefined;
const KiB = 1024;
const MiB = 1024 * KiB;

Deno.test({
  name:
    "v86 + Linux over PCI modern: virtio-blk on UringFileStorage, O_DIRECT AIO writes and reads in shared passes; the image file holds them",
  ignore: program === undefined,
  // v86 keeps timers and the emulator's resources until it is destroyed.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(program !== undefined);
    const image = await Deno.makeTempFile({ prefix: "typed-virtio-v86-uring-", suffix: ".img" });
    try {
      await Deno.truncate(image, 8 * MiB);
      const ranges = [
        { offset: 0, length: 512 },
        { offset: 4 * KiB + 512, length: 4 * KiB },
        { offset: 64 * KiB, length: 64 * KiB },
        { offset: 1 * MiB, length: 256 * KiB },
        { offset: 3 * MiB + 1536, length: 8 * KiB },
        { offset: 8 * MiB - 4 * KiB, length: 4 * KiB },
      ];
      const spec = (kind: string) =>
        ranges.map((r) => `${kind}:5:${r.offset}:${r.length}`).join(" ");
      const storage = new UringFileStorage(image);
      const log = new Log();
      const m = await bootV86({
        devices: [{ device: new BlkDevice({ storage }), transport: "pci" }],
        log: log.fn,
        files: { "/opt/tv/blk_verify": { data: program, mode: 0o755 } },
      });
      let out: string;
      try {
        out = await m.run(
          `/opt/tv/blk_verify /dev/vda wr ${spec("w")} && /opt/tv/blk_verify /dev/vda rd ${
            spec("r")
          } && echo done`,
        );
      } finally {
        m.stop();
      }
      const requests = storage.ringRequests;
      const enters = storage.enters;
      storage.close();
      assert.match(out, /done/, out);
      for (const phase of ["wr", "rd"]) {
        ranges.forEach((_, i) => assert.match(out, new RegExp(`@@${phase}_${i}=ok `), out));
      }
      assert.match(out, /@@wr_sync0=0/, out);
      const file = await Deno.readFile(image);
      const covered = new Uint8Array(file.length);
      for (const r of ranges) {
        assert.deepEqual(
          file.subarray(r.offset, r.offset + r.length),
          pattern(5, r.offset, r.length),
          `image bytes at ${r.offset}`,
        );
        covered.fill(1, r.offset, r.offset + r.length);
      }
      assert.ok(file.every((b, i) => covered[i] === 1 || b === 0), "zeroes where not written");
      assert.ok(requests >= 2 && requests > enters, `ring: ${requests} requests, ${enters} enters`);
    } finally {
      await Deno.remove(image);
    }
  },
});
