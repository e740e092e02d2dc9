// The scenarios every transport runs in its one shared boot.
import assert from "node:assert/strict";
import type { V86Machine } from "../../../src/hosts/v86/machine.ts";
import type { V86Transport } from "../../../src/hosts/v86/host.ts";
import { BlkDevice, MemoryStorage } from "../../../src/devices/blk/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../../src/generated/common.ts";
import { VIRTIO_ID_BLOCK } from "../../../src/generated/common.ts";
import { boot, kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";

/** The devices of one boot and what the scenarios need of them. */
export interface Rig {
  readonly image: Uint8Array;
  readonly blk: BlkDevice;
}

export function makeRig(): Rig {
  const image = new Uint8Array(16 << 20);
  return { image, blk: new BlkDevice({ storage: new MemoryStorage(image) }) };
}

/** Checks what the guest negotiated: a subset of the offer, VERSION_1 iff not legacy. */
export async function checkFeatures(
  m: V86Machine,
  type: number,
  offered: bigint,
  transport: V86Transport,
): Promise<bigint> {
  const f = await negotiated(m, await sysfsDevice(m, type));
  assert.equal(f & ~offered, 0n, `guest accepted features the device did not offer`);
  const legacy = transport === "pci-transitional" || transport === "mmio-v1";
  assert.equal((f >> BigInt(VIRTIO_F_VERSION_1)) & 1n, legacy ? 0n : 1n, "VIRTIO_F_VERSION_1");
  return f;
}

/** Reads a file out of an ext2 image with e2fsprogs' debugfs: the host's own look at the disk. */
async function debugfsCat(image: Uint8Array, path: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(file, image);
    const out = await new Deno.Command("debugfs", { args: ["-R", `cat ${path}`, file] }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}

/** blk: mkfs.ext2, mount, write files, unmount; the host finds the files in the image. */
export async function blkScenario(m: V86Machine, rig: Rig, transport: V86Transport): Promise<void> {
  await checkFeatures(m, VIRTIO_ID_BLOCK, rig.blk.features, transport);
  const sectors = Number((await m.run("cat /sys/block/vda/size")).trim());
  assert.equal(sectors * 512, rig.image.length, "the guest sees the image's size");
  await m.run(
    "mkfs.ext2 -q /dev/vda && mount -t ext2 /dev/vda /mnt && " +
      `echo 'written by Linux over ${transport}' > /mnt/greeting && mkdir /mnt/dir && ` +
      "seq 1 50000 > /mnt/dir/numbers && umount /mnt && sync",
  );
  assert.equal(await debugfsCat(rig.image, "/greeting"), `written by Linux over ${transport}\n`);
  const numbers = (await debugfsCat(rig.image, "/dir/numbers")).trim().split("\n");
  assert.equal(numbers.length, 50000);
  assert.equal(numbers.at(-1), "50000");
}

/**
 * Declares the test of one transport: one boot with every device attached,
 * each scenario a step. Skipped (outside CI) without the kit.
 */
export async function transportTest(transport: V86Transport, title: string): Promise<void> {
  const ready = await kitOrSkip();
  Deno.test({
    name: `v86 + Linux over ${title}: the guest drives our devices`,
    ignore: !ready,
    // v86 keeps timers and the emulator's resources until it is destroyed.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const rig = makeRig();
      const log = new Log();
      const m = await boot(transport, [rig.blk], log);
      try {
        await t.step(
          "blk: mkfs.ext2, mount, write, umount; the host reads the files",
          () => blkScenario(m, rig, transport),
        );
      } finally {
        m.stop();
      }
    },
  });
}
