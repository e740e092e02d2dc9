// Out-of-tree kernel modules (scripts/install_v86_modules.sh) and small i386 programs built
// at test time, as guest files for bootV86({ files }).
import { kitDir } from "../../../src/hosts/v86/kit.ts";

const inCi = (): boolean => Deno.env.get("CI") === "true";

/** Where scripts/install_v86_modules.sh puts its sets. */
export function modulesDir(): string {
  const set = Deno.env.get("TYPED_VIRTIO_V86_MODULES");
  if (set) return set;
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.cache`;
  return `${cache}/typed-virtio/v86-modules`;
}

/** A built set: its modules as guest files and the shell command that loads them in order. */
export interface ModuleSet {
  readonly files: Record<string, Uint8Array>;
  /** `insmod` of every module, dependencies first. */
  readonly insmod: string;
  /** The modules' file names, in load order. */
  readonly modules: readonly string[];
}

/**
 * The built modules of `set` for the kit's kernel, or undefined (with a warning) when they are
 * missing; under CI=true a missing set is an error (the CI runs the install script).
 */
export async function moduleSetOrSkip(set: string): Promise<ModuleSet | undefined> {
  const dir = `${modulesDir()}/${set}`;
  let why: string | undefined;
  try {
    const stamp = JSON.parse(await Deno.readTextFile(`${dir}/set.json`));
    const kit = JSON.parse(await Deno.readTextFile(`${kitDir()}/kit.json`));
    if (stamp.kernel !== kit.kernel) {
      why = `module set ${set} is built for ${stamp.kernel}, the kit runs ${kit.kernel}`;
    } else {
      const files: Record<string, Uint8Array> = {};
      const guest = `/lib/modules/tv-extra/${set}`;
      for (const m of stamp.modules as string[]) {
        files[`${guest}/${m}`] = await Deno.readFile(`${dir}/${m}`);
      }
      const insmod = (stamp.modules as string[]).map((m) => `insmod ${guest}/${m}`).join(" && ");
      return { files, insmod, modules: stamp.modules };
    }
  } catch (e) {
    why = `module set ${set} missing in ${dir} (${(e as Error).message})`;
  }
  why += ": run scripts/install_v86_modules.sh";
  if (inCi()) throw new Error(`CI=true and ${why}`);
  console.warn(`skipping: ${why}`);
  return undefined;
}

/** Whether gcc can build static i386 programs; under CI=true its absence is an error. */
export async function gcc32OrSkip(): Promise<boolean> {
  const ok = await new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
  if (ok) return true;
  const why = "gcc missing (scripts/install_interop_deps.sh installs gcc-multilib)";
  if (inCi()) throw new Error(`CI=true and ${why}`);
  console.warn(`skipping: ${why}`);
  return false;
}

/** Builds `source` (a C file beside this one, in guest/) with `gcc -m32 -static`; its bytes. */
export async function guestProgram(source: string): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-v86-prog-" });
  try {
    const out = `${dir}/prog`;
    const r = await new Deno.Command("gcc", {
      args: [
        "-m32",
        "-static",
        "-O2",
        "-Wall",
        "-o",
        out,
        new URL(`./guest/${source}`, import.meta.url).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(`gcc -m32 failed:\n${new TextDecoder().decode(r.stderr)}`);
    return await Deno.readFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
