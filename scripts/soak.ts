/**
 * The long soak with faults (issue 18): runs tests/interop/soak_test.ts for
 * a given time, with a given fault seed.
 *
 * ```
 * deno task soak --seconds 3600 [--seed 1818]
 * ```
 *
 * The test itself reads `TYPED_VIRTIO_SOAK_SECONDS` (default 120, what CI
 * runs) and `TYPED_VIRTIO_SOAK_SEED`; this script only sets them. See
 * docs/reliability.md, "Soak with faults".
 *
 * @module
 */

const USAGE = "usage: deno task soak [--seconds N] [--seed N]";

/** The soak's settings from the command line. */
export interface SoakArgs {
  /** How long the guest writes. */
  seconds: number;
  /** The fault injector's seed. */
  seed: number;
}

/** Parses `--seconds N` and `--seed N` (also `--seconds=N`); throws with the usage on a mistake. */
export function parseSoakArgs(args: readonly string[]): SoakArgs {
  const out: SoakArgs = { seconds: 3600, seed: 1818 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=") ? a.split("=", 2) : [a, undefined];
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
  console.log(`soak: ${args.seconds} s, seed ${args.seed}`);
  const test = new URL("../tests/interop/soak_test.ts", import.meta.url).pathname;
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
