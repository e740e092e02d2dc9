/**
 * What every `examples/vhost_user_*.ts` back-end shares: command-line
 * parsing of `--flag value` / `--flag=value`, the listening back-end, the
 * ready line, and a clean stop on SIGINT or SIGTERM.
 *
 * @module
 */

import type { VirtioDevice } from "../src/device.ts";
import { VhostUserBackend } from "../src/transport/vhost_user/backend.ts";

/** Flags and their values (`true` for a flag without a value). */
export type ParsedFlags = Map<string, string | true>;

/**
 * Parses `args` against `spec` (flag name to "takes a value"); throws with
 * `usage` for an unknown flag or a missing value.
 */
export function parseFlags(
  args: readonly string[],
  spec: Readonly<Record<string, boolean>>,
  usage: string,
): ParsedFlags {
  const out: ParsedFlags = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const takes = spec[flag.replace(/^--/, "")];
    if (!flag.startsWith("--") || takes === undefined) {
      throw new Error(`unknown argument ${a}\n${usage}`);
    }
    if (!takes) {
      out.set(flag.slice(2), true);
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new Error(`${flag} needs a value\n${usage}`);
    out.set(flag.slice(2), v);
  }
  return out;
}

/** A string flag's value, or `undefined`. */
export function flagValue(flags: ParsedFlags, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/**
 * Serves `device` on `socket` until SIGINT or SIGTERM: prints
 * `<name>: ready on <socket>` (plus `detail`) once listening, then
 * `<name>: stopped after N session(s)`. `onStop` runs before the back-end
 * closes (to stop a stdin reader, say); `protocolFeatures` overrides the
 * offered protocol features. Resolves with the back-end once it
 * has stopped.
 */
export async function serveDevice(
  name: string,
  device: VirtioDevice,
  socket: string,
  detail: string = "",
  onStop?: () => void,
  protocolFeatures?: bigint,
): Promise<VhostUserBackend> {
  const backend = new VhostUserBackend(device, { socketPath: socket, protocolFeatures });
  backend.listen();
  const stop = () => {
    onStop?.();
    backend.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`${name}: ready on ${socket}${detail ? ` (${detail})` : ""}`);
  try {
    await backend.serve();
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
  console.log(`${name}: stopped after ${backend.sessions.length} session(s)`);
  return backend;
}
