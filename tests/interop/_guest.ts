/**
 * Boots a tiny Linux guest under QEMU (TCG) for interop tests.
 *
 * The guest is the installed Debian kernel with an initramfs built here:
 * static busybox, the virtio modules the test names (resolved with their
 * dependencies from the kernel's `modules.dep` and insmodded in dependency
 * order) and an `/init` that mounts the basics, loads the modules, runs the
 * test's shell script and powers off. Everything the guest prints goes to
 * its serial console, which the host captures; lines of the form
 * `@@key=value` become {@link GuestResult.markers}.
 *
 * Every boot has a hard timeout and QEMU is always killed at the end.
 *
 * @module
 */

/** Marker prefix a guest script prints to report a value to the host. */
export const MARKER: string = "@@";

/**
 * What the interop tests need that is not here: one entry per missing tool,
 * empty when everything is present. `scripts/install_interop_deps.sh` ends by
 * running this check (`deno run --allow-all tests/interop/_guest.ts`), so it
 * checks exactly what the tests look for.
 */
export function interopMissing(): string[] {
  const missing: string[] = [];
  if (Deno.build.os !== "linux") return ["Linux (vhost-user and QEMU's -accel tcg guests)"];
  if (which("qemu-system-x86_64") === undefined) missing.push("qemu-system-x86_64");
  if (!haveStorageDaemon()) missing.push("qemu-storage-daemon");
  if (which("cpio") === undefined) missing.push("cpio");
  if (which("gcc") === undefined) missing.push("gcc (static guest programs)");
  if (busyboxPath() === undefined) missing.push("static busybox");
  if (kernelInfo() === undefined) {
    const env = Deno.env.get("TYPED_VIRTIO_KERNEL");
    missing.push(
      `a /boot/vmlinuz-${env === undefined ? "*" : `*${env}*`} kernel with ` +
        `/lib/modules/<release>/modules.dep`,
    );
  }
  if (newerQemu() === undefined) missing.push(`a QEMU >= 8 (system or at ${NEWER_QEMU_ROOT})`);
  return missing;
}

/** True when the tests run in CI (`CI=true`), where a missing interop tool is a failure. */
export function inCi(): boolean {
  return Deno.env.get("CI") === "true";
}

/** A test file's interop tools are missing while CI=true. */
export class InteropToolMissing extends Error {
  override name = "InteropToolMissing";
}

/**
 * The one gate of every interop skip: `reason` (why `file`'s tests cannot run
 * here) is printed and returned, so the caller sets `ignore`; undefined means
 * they run. In CI (`CI=true`) a reason throws {@link InteropToolMissing}
 * instead, so a CI run never goes green while interop tests did nothing.
 */
export function skipUnlessCi(file: string, reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (inCi()) {
    throw new InteropToolMissing(
      `${file}: ${reason}; with CI=true a missing interop tool is a failure, not a skip`,
    );
  }
  console.log(`${file}: skipped: ${reason}`);
  return reason;
}

/**
 * Why the guest-booting interop tests cannot run here, or `undefined` when
 * they can. Throws {@link InteropToolMissing} in CI (see {@link skipUnlessCi}).
 */
export function interopSkipReason(file: string = "interop"): string | undefined {
  const missing: string[] = [];
  if (Deno.build.os !== "linux") missing.push("Linux");
  if (which("qemu-system-x86_64") === undefined) missing.push("qemu-system-x86_64");
  if (which("cpio") === undefined) missing.push("cpio");
  if (busyboxPath() === undefined) missing.push("static busybox");
  if (kernelInfo() === undefined) missing.push("a /boot/vmlinuz-* kernel with modules");
  if (missing.length === 0) return undefined;
  return skipUnlessCi(
    file,
    `${missing.join(", ")} not installed (run scripts/install_interop_deps.sh)`,
  );
}

/**
 * A second, newer QEMU (Debian bookworm-backports' build, unpacked by
 * scripts/install_interop_deps.sh under {@link NEWER_QEMU_ROOT}) for the
 * devices the system's QEMU 7.2 cannot run under TCG: its
 * vhost-user-input refuses to start without KVM's ioeventfds.
 */
export interface QemuBuild {
  /** The system emulator binary. */
  readonly binary: string;
  /** Its firmware directory (`-L`), when not the system's. */
  readonly dataDir?: string;
  /** Its loadable modules (`QEMU_MODULE_DIR`), when not the system's. */
  readonly moduleDir?: string;
}

/** Where scripts/install_interop_deps.sh unpacks the newer QEMU. */
export const NEWER_QEMU_ROOT: string = Deno.env.get("TYPED_VIRTIO_NEWER_QEMU") ??
  "/opt/typed-virtio/qemu-backports";

/** A QEMU of version 8 or newer: the system's if it is one, else the unpacked one, else undefined. */
export function newerQemu(): QemuBuild | undefined {
  if (which("qemu-system-x86_64") !== undefined) {
    const out = new Deno.Command("qemu-system-x86_64", { args: ["--version"] }).outputSync();
    const major = /version (\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1];
    if (Number(major) >= 8) return { binary: "qemu-system-x86_64" };
  }
  const binary = `${NEWER_QEMU_ROOT}/usr/bin/qemu-system-x86_64`;
  try {
    Deno.statSync(binary);
  } catch {
    return undefined;
  }
  return {
    binary,
    dataDir: `${NEWER_QEMU_ROOT}/usr/share/qemu`,
    moduleDir: `${NEWER_QEMU_ROOT}/usr/lib/x86_64-linux-gnu/qemu`,
  };
}

/** True when `qemu-storage-daemon` is installed. */
export function haveStorageDaemon(): boolean {
  return which("qemu-storage-daemon") !== undefined;
}

/** Full path of `cmd` on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  for (const dir of path.split(":")) {
    const p = `${dir}/${cmd}`;
    try {
      const st = Deno.statSync(p);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function busyboxPath(): string | undefined {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The kernel image and its module directory. */
export interface KernelInfo {
  /** Path of the bzImage. */
  readonly image: string;
  /** `/lib/modules/<release>`. */
  readonly moduleDir: string;
}

/** The newest kernel in /boot that has a module tree, or undefined. */
export function kernelInfo(): KernelInfo | undefined {
  const env = Deno.env.get("TYPED_VIRTIO_KERNEL");
  const releases: string[] = [];
  try {
    for (const e of Deno.readDirSync("/boot")) {
      if (e.name.startsWith("vmlinuz-")) releases.push(e.name.slice("vmlinuz-".length));
    }
  } catch {
    return undefined;
  }
  releases.sort().reverse();
  for (const r of releases) {
    if (env !== undefined && !r.includes(env)) continue;
    try {
      Deno.statSync(`/lib/modules/${r}/modules.dep`);
      Deno.statSync(`/boot/vmlinuz-${r}`);
      return { image: `/boot/vmlinuz-${r}`, moduleDir: `/lib/modules/${r}` };
    } catch {
      // no modules for this one
    }
  }
  return undefined;
}

/**
 * Resolves module names (`virtio_blk`, `virtio-pci`...) to `.ko` paths
 * relative to the module directory, dependencies first. Names not found are
 * assumed built in and skipped.
 */
export function resolveModules(moduleDir: string, names: readonly string[]): string[] {
  const dep = Deno.readTextFileSync(`${moduleDir}/modules.dep`);
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of dep.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    const rest = line.slice(colon + 1).trim();
    deps.set(path, rest === "" ? [] : rest.split(/\s+/));
    byName.set(moduleName(path), path);
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const d of deps.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const n of names) {
    const path = byName.get(n.replace(/-/g, "_"));
    if (path !== undefined) visit(path);
  }
  return order;
}

function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, "").replace(/-/g, "_");
}

/** How to boot a guest. */
export interface GuestOptions {
  /** Shell script (busybox sh) the guest runs after loading modules. */
  readonly script: string;
  /** Kernel modules to load (names as in modules.dep, `-` or `_`). */
  readonly modules?: readonly string[];
  /** Extra QEMU arguments (devices, chardevs, netdevs). */
  readonly qemuArgs?: readonly string[];
  /** Virtual CPUs (default 1; a multi-queue device uses at most one queue per CPU). */
  readonly cpus?: number;
  /** Guest RAM in MiB (default 256). */
  readonly memoryMiB?: number;
  /**
   * Back guest RAM with a shared memfd (`memory-backend-memfd,share=on`), as
   * vhost-user backends need. Default true.
   */
  readonly sharedMemory?: boolean;
  /** Hard timeout for the whole boot in milliseconds (default 120000). */
  readonly timeoutMs?: number;
  /**
   * Called with every console line as it arrives. With {@link GuestOptions.input}, `reply`
   * types a text on the guest's serial console (a script reads it with `read -r x < /dev/ttyS0`):
   * how a guest waits for the host instead of sleeping.
   */
  readonly onLine?: (line: string, reply: (text: string) => Promise<void>) => void;
  /** Pipe QEMU's stdin to the guest's serial console, for `onLine`'s `reply`. */
  readonly input?: boolean;
  /** Echo the console to stderr (also when `TYPED_VIRTIO_GUEST_LOG=1`). */
  readonly echo?: boolean;
  /** Kill QEMU with SIGKILL as soon as a console line makes this return true (fault tests). */
  readonly killWhen?: (line: string) => boolean;
  /**
   * Kill QEMU with SIGKILL when this aborts (fault tests whose moment to kill comes from
   * elsewhere than a console line, such as a back-end's output); `killed` is then true.
   */
  readonly killSignal?: AbortSignal;
  /** Run this QEMU build instead of the system's `qemu-system-x86_64`. */
  readonly qemu?: QemuBuild;
  /** Extra files for the initramfs: path in the guest (`/name`) to the host file to copy. */
  readonly files?: Readonly<Record<string, string>>;
}

/** What a guest run produced. */
export interface GuestResult {
  /** The whole serial console output. */
  readonly output: string;
  /** `@@key=value` lines, last value wins. */
  readonly markers: ReadonlyMap<string, string>;
  /** Exit code of the guest script (marker `@@rc`), or undefined if it never finished. */
  readonly scriptStatus: number | undefined;
  /** True when the hard timeout killed QEMU. */
  readonly timedOut: boolean;
  /** True when {@link GuestOptions.killWhen} killed QEMU. */
  readonly killed: boolean;
  /** QEMU's exit code. */
  readonly qemuStatus: number;
  /** QEMU's stderr. */
  readonly qemuStderr: string;
}

const INIT_PREFIX = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
for m in $(cat /modules.order); do insmod /lib/modules/$m || echo "${MARKER}insmod_failed=$m"; done
mdev -s 2>/dev/null
echo "${MARKER}booted=1"
`;

const INIT_SUFFIX = `
rc=$?
sync
echo "${MARKER}rc=$rc"
poweroff -f
`;

/** Builds the initramfs for `script` and `modules`; returns its path inside `dir`. */
export async function buildInitramfs(
  dir: string,
  script: string,
  modules: readonly string[],
  files: Readonly<Record<string, string>> = {},
): Promise<string> {
  const kernel = kernelInfo();
  const busybox = busyboxPath();
  if (kernel === undefined || busybox === undefined) {
    throw new Error(interopSkipReason() ?? "no kernel or busybox");
  }
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/bin`, { recursive: true });
  await Deno.mkdir(`${root}/lib/modules`, { recursive: true });
  await Deno.copyFile(busybox, `${root}/bin/busybox`);
  await Deno.chmod(`${root}/bin/busybox`, 0o755);
  const order = resolveModules(kernel.moduleDir, modules);
  const names: string[] = [];
  for (const rel of order) {
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    await Deno.copyFile(`${kernel.moduleDir}/${rel}`, `${root}/lib/modules/${name}`);
    names.push(name);
  }
  await Deno.writeTextFile(`${root}/modules.order`, names.join("\n") + "\n");
  for (const [at, from] of Object.entries(files)) {
    await Deno.copyFile(from, `${root}/${at.replace(/^\/+/, "")}`);
    await Deno.chmod(`${root}/${at.replace(/^\/+/, "")}`, 0o755);
  }
  // The script runs in a subshell so `exit` in it still reaches poweroff.
  const init = INIT_PREFIX + `(\n${script}\n)` + INIT_SUFFIX;
  await Deno.writeTextFile(`${root}/init`, init, { mode: 0o755 });
  await Deno.chmod(`${root}/init`, 0o755);
  const out = `${dir}/initramfs.cpio`;
  const cmd = new Deno.Command("sh", {
    args: ["-c", `cd "${root}" && find . | cpio -o -H newc --quiet > "${out}"`],
    stdout: "null",
    stderr: "piped",
  });
  const r = await cmd.output();
  if (!r.success) throw new Error(`cpio failed: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

/**
 * Boots a guest that runs `opts.script`, waits for it to power off (or for
 * the hard timeout), and returns its console output. QEMU is killed in
 * every case before this returns.
 */
export async function runGuest(opts: GuestOptions): Promise<GuestResult> {
  const kernel = kernelInfo();
  if (kernel === undefined) throw new Error(interopSkipReason() ?? "no kernel");
  const dir = await Deno.makeTempDir({ prefix: "typed-virtio-guest-" });
  try {
    const initrd = await buildInitramfs(dir, opts.script, opts.modules ?? [], opts.files);
    const mem = opts.memoryMiB ?? 256;
    const args = [
      "-accel",
      "tcg",
      "-m",
      `${mem}M`,
      "-smp",
      String(opts.cpus ?? 1),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-serial",
      "stdio",
      "-no-reboot",
      "-kernel",
      kernel.image,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 panic=-1 quiet loglevel=3",
    ];
    if (opts.sharedMemory ?? true) {
      args.push(
        "-object",
        `memory-backend-memfd,id=mem,size=${mem}M,share=on`,
        "-numa",
        "node,memdev=mem",
      );
    }
    if (opts.qemu?.dataDir !== undefined) args.push("-L", opts.qemu.dataDir);
    args.push(...(opts.qemuArgs ?? []));
    return await runQemu(args, opts);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function runQemu(args: string[], opts: GuestOptions): Promise<GuestResult> {
  const echo = opts.echo ?? Deno.env.get("TYPED_VIRTIO_GUEST_LOG") === "1";
  const child = new Deno.Command(opts.qemu?.binary ?? "qemu-system-x86_64", {
    args,
    env: opts.qemu?.moduleDir === undefined ? undefined : { QEMU_MODULE_DIR: opts.qemu.moduleDir },
    stdin: opts.input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = opts.input ? child.stdin.getWriter() : undefined;
  const encoder = new TextEncoder();
  const reply = async (text: string): Promise<void> => {
    if (writer === undefined) throw new Error("runGuest: reply() needs the input option");
    await writer.write(encoder.encode(text));
  };
  let timedOut = false;
  let killed = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killQuietly(child);
  }, opts.timeoutMs ?? 120_000);
  const markers = new Map<string, string>();
  let output = "";
  const stderrText = new Response(child.stderr).text();
  const killNow = () => {
    if (killed) return;
    killed = true;
    killQuietly(child);
  };
  opts.killSignal?.addEventListener("abort", killNow);
  if (opts.killSignal?.aborted) killNow();
  try {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stdout) {
      const text = decoder.decode(chunk, { stream: true });
      output += text;
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, "");
        pending = pending.slice(nl + 1);
        if (echo) console.error(`[guest] ${line}`);
        const at = line.indexOf(MARKER);
        if (at >= 0) {
          const kv = line.slice(at + MARKER.length);
          const eq = kv.indexOf("=");
          if (eq > 0) markers.set(kv.slice(0, eq), kv.slice(eq + 1).trim());
        }
        opts.onLine?.(line, reply);
        if (!killed && opts.killWhen?.(line)) killNow();
      }
    }
  } finally {
    opts.killSignal?.removeEventListener("abort", killNow);
    clearTimeout(timer);
    killQuietly(child);
    try {
      await writer?.close();
    } catch {
      // QEMU is gone: its end of the pipe is closed
    }
  }
  const status = await child.status;
  const rc = markers.get("rc");
  return {
    output,
    markers,
    scriptStatus: rc === undefined ? undefined : Number(rc),
    timedOut,
    killed,
    qemuStatus: status.code,
    qemuStderr: await stderrText,
  };
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** A short summary of a guest run for assertion messages. */
export function describe(r: GuestResult): string {
  const tail = r.output.split("\n").slice(-40).join("\n");
  return `timedOut=${r.timedOut} qemu=${r.qemuStatus} rc=${r.scriptStatus}\n` +
    `--- console (tail) ---\n${tail}\n--- qemu stderr ---\n${r.qemuStderr}`;
}

// `deno run --allow-all tests/interop/_guest.ts`: exits 1 naming what the
// interop tests would miss (the last step of scripts/install_interop_deps.sh).
if (import.meta.main) {
  const missing = interopMissing();
  if (missing.length > 0) {
    console.error(`interop tests would miss: ${missing.join("; ")}`);
    Deno.exit(1);
  }
  console.log("interop tests: every tool they need is here");
}
