/**
 * The long soak with faults (issue 18): runs tests/interop/soak_test.ts
 * (`--host qemu`, the default: a QEMU guest on our vhost-user-blk back-end)
 * or tests/hosts/v86/soak_test.ts (`--host v86`: Linux in v86 on our blk over
 * PCI and MMIO) for a given time, with a given fault seed.
 *
 * ```
 * deno task soak --seconds 3600 [--seed 1818] [--host qemu|v86]
 * ```
 *
 * The tests themselves read `TYPED_VIRTIO_SOAK_SECONDS` (default 120, what CI
 * runs) and `TYPED_VIRTIO_SOAK_SEED`; this script only sets them. See
 * docs/reliability.md, "Soak with faults".
 *
 * @module
 */

const USAGE = "usage: deno task soak [--seconds N] [--seed N] [--host qemu|v86]";

/** The soak's settings from the command line. */
export interface SoakArgs {
  /** How long the guest writes. */
  seconds: number;
  /** The fault injector's seed. */
  seed: number;
  /** Which soak: the QEMU guest on vhost-user, or Linux in v86. */
  host: "qemu" | "v86";
}

/** The test file of each soak. */
export const SOAK_TESTS: Readonly<Record<SoakArgs["host"], string>> = {
  qemu: "../tests/interop/soak_test.ts",
  v86: "../tests/hosts/v86/soak_test.ts",
};

/**
 * Parses `--seconds N`, `--seed N` and `--host qemu|v86` (also `--seconds=N`);
 * throws with the usage on a mistake.
 */
export function parseSoakArgs(args: readonly string[]): SoakArgs {
  const out: SoakArgs = { seconds: 3600, seed: 1818, host: "qemu" };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=") ? a.split("=", 2) : [a, undefined];
    if (flag === "--host") {
      const h = inline ?? args[++i];
      if (h !== "qemu" && h !== "v86") throw new TypeError(`bad --host ${h}\n${USAGE}`);
      out.host = h;
      continue;
    }
    const v = Number(inline ?? args[++i]);
    if (flag === "--seconds") out.seconds = v;
    else if (flag === "--seed") out.seed = v;
    else throw new TypeError(`unknown argument ${a}\n${USAGE}`);
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`bad ${flag}\n${USAGE}`);
  }
  return out;
}

if (import.meta.main) {
  let args: SoakArgs;
  try {
    args = parseSoakArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
  console.log(`soak: ${args.host}, ${args.seconds} s, seed ${args.seed}`);
  const test = new URL(SOAK_TESTS[args.host], import.meta.url).pathname;
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", test],
    env: {
      TYPED_VIRTIO_SOAK_SECONDS: String(args.seconds),
      TYPED_VIRTIO_SOAK_SEED: String(args.seed),
    },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  Deno.exit(status.code);
}
