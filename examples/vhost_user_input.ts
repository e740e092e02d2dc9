/**
 * A vhost-user-input back-end: our virtio-input device model (a keyboard,
 * mouse or tablet profile) served to QEMU's `vhost-user-input-pci`, with
 * events injected from commands on standard input. Deno only (FFI).
 *
 * ```
 * deno task vhost-user-input --socket /tmp/vinput.sock [--profile keyboard|mouse|tablet]
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c2,path=/tmp/vinput.sock -device vhost-user-input-pci,chardev=c2
 * ```
 *
 * Commands, one per line on stdin (see {@link runInputCommand}):
 * `key CODE` (press and release), `press CODE`, `release CODE`,
 * `type TEXT` (lower-case letters, digits and spaces), `rel DX DY`,
 * `abs X Y`, `event TYPE CODE VALUE` (raw, no SYN_REPORT), `sync`.
 * Prints `vhost-user-input: ready ...`, then `ok` or `error: ...` per
 * command; the end of stdin only stops the commands. Exits cleanly on
 * SIGINT or SIGTERM.
 *
 * @module
 */

import {
  EV_KEY,
  InputDevice,
  keyboardProfile,
  mouseProfile,
  tabletProfile,
} from "../src/devices/input/device.ts";
import { flagValue, parseFlags, serveDevice } from "./vhost_user_serve.ts";

/** Linux key codes of the lower-case letters, digits and space (US layout). */
export const KEY_CODES: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(
    [..."qwertyuiop"].map((c, i) => [c, 16 + i]),
  ),
  ...Object.fromEntries([..."asdfghjkl"].map((c, i) => [c, 30 + i])),
  ...Object.fromEntries([..."zxcvbnm"].map((c, i) => [c, 44 + i])),
  ...Object.fromEntries([..."1234567890"].map((c, i) => [c, 2 + i])),
  " ": 57,
  "\n": 28,
});

function int(s: string | undefined, what: string): number {
  const n = Number(s);
  if (s === undefined || !Number.isInteger(n)) throw new Error(`${what} must be an integer`);
  return n;
}

/** Runs one stdin command against `device`; throws with a message for a bad one. */
export function runInputCommand(device: InputDevice, line: string): void {
  const [cmd, ...rest] = line.trim().split(/\s+/);
  switch (cmd) {
    case "key":
      device.key(int(rest[0], "CODE"), true);
      device.key(int(rest[0], "CODE"), false);
      return;
    case "press":
    case "release":
      device.key(int(rest[0], "CODE"), cmd === "press");
      return;
    case "type": {
      const text = line.trim().slice(4).trimStart();
      for (const c of text) {
        const code = KEY_CODES[c];
        if (code === undefined) throw new Error(`no key for ${JSON.stringify(c)}`);
        device.key(code, true);
        device.key(code, false);
      }
      return;
    }
    case "rel":
      device.moveRel(int(rest[0], "DX"), int(rest[1], "DY"));
      return;
    case "abs":
      device.moveAbs(int(rest[0], "X"), int(rest[1], "Y"));
      return;
    case "event":
      device.inject(int(rest[0], "TYPE"), int(rest[1], "CODE"), int(rest[2], "VALUE"));
      return;
    case "sync":
      device.sync();
      return;
    case "":
    case undefined:
      return;
    default:
      throw new Error(`unknown command ${cmd} (key, press, release, type, rel, abs, event, sync)`);
  }
}

const USAGE = "usage: vhost_user_input.ts --socket PATH [--profile keyboard|mouse|tablet] " +
  "[--name NAME]";

async function readCommands(device: InputDevice, signal: AbortSignal): Promise<void> {
  const dec = new TextDecoder();
  let pending = "";
  const reader = Deno.stdin.readable.getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += dec.decode(value, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          runInputCommand(device, line);
          console.log("ok");
        } catch (e) {
          console.log(`error: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  } catch {
    // stdin closed or cancelled
  } finally {
    reader.releaseLock();
  }
}

async function main(): Promise<number> {
  let socket: string;
  let device: InputDevice;
  try {
    const f = parseFlags(Deno.args, { socket: true, profile: true, name: true }, USAGE);
    socket = flagValue(f, "socket") ?? "";
    if (socket === "") throw new Error(`--socket is required\n${USAGE}`);
    const name = flagValue(f, "name");
    const profile = flagValue(f, "profile") ?? "keyboard";
    const p = profile === "keyboard"
      ? keyboardProfile(name)
      : profile === "mouse"
      ? mouseProfile(name)
      : profile === "tablet"
      ? tabletProfile(name)
      : undefined;
    if (p === undefined) throw new Error(`unknown profile ${profile}\n${USAGE}`);
    device = new InputDevice(p);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const stop = new AbortController();
  const commands = readCommands(device, stop.signal);
  await serveDevice(
    "vhost-user-input",
    device,
    socket,
    `${device.profile.name}, ${device.profile.events.get(EV_KEY)?.length ?? 0} keys`,
    () => stop.abort(),
  );
  stop.abort();
  await commands;
  return 0;
}

if (import.meta.main) Deno.exit(await main());
