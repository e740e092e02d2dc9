/**
 * The guest kit of the v86 host: the files `scripts/install_v86_kit.sh`
 * puts in its cache (Debian's i386 kernel, SeaBIOS, the initramfs with the
 * virtio modules and the tv_mmio helper).
 *
 * @module
 */

import { V86HostError } from "./_internals.ts";
import { readFile } from "./_runtime.ts";

/** The files of a kit, read into memory. */
export interface V86Kit {
  /** The directory they came from. */
  readonly dir: string;
  /** SeaBIOS (`bios.bin`). */
  readonly bios: Uint8Array;
  /** The VGA BIOS (`vgabios-stdvga.bin`). */
  readonly vgaBios: Uint8Array;
  /** The i386 kernel. */
  readonly bzImage: Uint8Array;
  /** The initramfs (busybox, the virtio modules, the tv_mmio helper, `/init`). */
  readonly initrd: Uint8Array;
  /** The kernel release (`6.1.0-NN-686`). */
  readonly kernel: string;
  /**
   * Modules the initramfs carries but does not load at boot (paths under
   * `/lib/modules/<kernel>/`): a test loads them with `modprobe <name>`.
   */
  readonly extraModules: readonly string[];
}

/**
 * The kit layout this code expects; `scripts/install_v86_kit.sh` writes the
 * same number into `kit.json` (tests/repo_test.ts keeps the two equal).
 */
export const V86_KIT_VERSION = 5;

const env = (name: string): string | undefined => {
  const g = globalThis as {
    Deno?: { env: { get(n: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  try {
    return g.Deno?.env.get(name) ?? g.process?.env[name];
  } catch {
    return undefined; // no env permission
  }
};

/** Where the kit lives: `$TYPED_VIRTIO_V86_KIT`, else `$XDG_CACHE_HOME` or `~/.cache`. */
export function kitDir(): string {
  const set = env("TYPED_VIRTIO_V86_KIT");
  if (set) return set;
  const cache = env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "."}/.cache`;
  return `${cache}/typed-virtio/v86-kit`;
}

/**
 * Loads the kit from `dir` (default {@link kitDir}); throws a
 * {@link V86HostError} (`ERR_VIRTIO_V86_NO_KIT`) that says how to install it.
 */
export async function loadKit(dir: string = kitDir()): Promise<V86Kit> {
  try {
    const stamp = JSON.parse(new TextDecoder().decode(await readFile(`${dir}/kit.json`)));
    if (stamp.kit_version !== V86_KIT_VERSION) {
      throw new Error(`kit version ${stamp.kit_version}, this code needs ${V86_KIT_VERSION}`);
    }
    const [bios, vgaBios, bzImage, initrd] = await Promise.all(
      ["bios.bin", "vgabios.bin", "bzImage", "initrd.img"].map((f) => readFile(`${dir}/${f}`)),
    );
    return {
      dir,
      bios,
      vgaBios,
      bzImage,
      initrd,
      kernel: String(stamp.kernel),
      extraModules: Array.isArray(stamp.extra_modules) ? stamp.extra_modules.map(String) : [],
    };
  } catch (e) {
    throw new V86HostError(
      `no usable v86 guest kit in ${dir}: run scripts/install_v86_kit.sh (${e})`,
      { code: "ERR_VIRTIO_V86_NO_KIT", cause: e },
    );
  }
}

/** True when a complete kit is in `dir`. */
export async function haveKit(dir: string = kitDir()): Promise<boolean> {
  try {
    await loadKit(dir);
    return true;
  } catch {
    return false;
  }
}
