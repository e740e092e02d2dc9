/**
 * A vhost-user-scsi back-end: serves raw disk images as the LUNs of one
 * SCSI target to QEMU through the virtio-scsi device model, over a Unix
 * socket. Deno only (FFI).
 *
 * ```
 * deno task vhost-user-scsi --socket /tmp/vscsi.sock --image disk.img [--image disk2.img] \
 *   [--queues N] [--readonly]
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c0,path=/tmp/vscsi.sock -device vhost-user-scsi-pci,chardev=c0
 * ```
 *
 * The n-th `--image` is LUN n-1. Commands, one per line on stdin, change the
 * LUNs while the guest runs (the guest gets a hotplug event):
 *
 * - `add LUN FILE`: a new LUN backed by FILE;
 * - `remove LUN`: the LUN goes away;
 * - `stats`: prints the device's counters.
 *
 * `--discard` serves UNMAP by writing zeroes (the image file cannot
 * deallocate); without it the LUNs report full provisioning and no UNMAP.
 *
 * Each command answers `ok` or `error: ...`. Prints `vhost-user-scsi: ready
 * ...` once the socket listens, and exits cleanly on SIGINT or SIGTERM.
 *
 * @module
 */

import { VhostUserBackend } from "../src/transport/vhost_user/backend.ts";
import { type BlockStorage, PosixFileStorage } from "../src/devices/blk/mod.ts";
import { type ScsiCommand, ScsiDevice, type ScsiTarget } from "../src/devices/scsi/mod.ts";

/** Parsed command line. */
export interface ScsiArgs {
  /** Socket path. */
  socket: string;
  /** Images, LUN 0 first. */
  images: string[];
  /** Number of request queues. */
  queues: number;
  /** Read-only LUNs. */
  readonly: boolean;
  /** Print every command, its status and sense to stderr. */
  trace: boolean;
  /** Serve UNMAP by writing zeroes (the file storage cannot deallocate). */
  discard: boolean;
}

const USAGE =
  "usage: vhost_user_scsi.ts --socket PATH --image FILE [--image FILE...] [--queues N] [--readonly] [--trace] [--discard]";

/** Parses the command line; throws with the usage text on a mistake. */
export function parseScsiArgs(args: readonly string[]): ScsiArgs {
  const out: ScsiArgs = {
    socket: "",
    images: [],
    queues: 1,
    readonly: false,
    trace: false,
    discard: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf("=");
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case "--socket":
      case "--socket-path":
        out.socket = value();
        break;
      case "--image":
        out.images.push(value());
        break;
      case "--queues":
        out.queues = Number(value());
        break;
      case "--readonly":
      case "--read-only":
        out.readonly = true;
        break;
      case "--trace":
        out.trace = true;
        break;
      case "--discard":
        out.discard = true;
        break;
      default:
        throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (out.socket === "") throw new Error(`--socket is required\n${USAGE}`);
  if (!Number.isInteger(out.queues) || out.queues < 1 || out.queues > 64) {
    throw new Error(`bad --queues (1..64)\n${USAGE}`);
  }
  return out;
}

/**
 * `file` as a LUN's storage; with `discard`, UNMAP writes zeroes over the
 * range (SBC-3 lets an unmapped block read back anything, zeroes included).
 */
export function lunStorage(file: PosixFileStorage, discard: boolean): BlockStorage {
  if (!discard) return file;
  const zeroes = new Uint8Array(1 << 16);
  return {
    get size(): number {
      return file.size;
    },
    read: (o, d) => file.read(o, d),
    write: (o, b) => file.write(o, b),
    readv: (o, d) => file.readv(o, d),
    writev: (o, b) => file.writev(o, b),
    flush: () => file.flush(),
    discard: (o, n) => {
      for (let done = 0; done < n; done += zeroes.length) {
        file.write(o + done, zeroes.subarray(0, Math.min(zeroes.length, n - done)));
      }
    },
  };
}

/** Runs one stdin command; throws with a message for a bad one. */
export function runScsiCommand(
  device: ScsiDevice,
  storages: Map<number, PosixFileStorage>,
  line: string,
  readonly: boolean,
  discard: boolean = false,
): void {
  const words = line.trim().split(/\s+/);
  if (words[0] === "add" && words.length === 3) {
    const lun = Number(words[1]);
    const storage = new PosixFileStorage(words[2], readonly);
    try {
      device.addLun(lun, { storage: lunStorage(storage, discard), readOnly: readonly });
    } catch (e) {
      storage.close();
      throw e;
    }
    storages.set(lun, storage);
    return;
  }
  if (words[0] === "stats" && words.length === 1) {
    console.log(`stats ${JSON.stringify(device.stats)} in-flight ${device.inProgress(2)}`);
    return;
  }
  if (words[0] === "remove" && words.length === 2) {
    const lun = Number(words[1]);
    device.removeLun(lun);
    storages.get(lun)?.close();
    storages.delete(lun);
    return;
  }
  throw new Error(`unknown command: ${line} (add LUN FILE | remove LUN | stats)`);
}

async function readCommands(
  device: ScsiDevice,
  storages: Map<number, PosixFileStorage>,
  args: ScsiArgs,
  signal: AbortSignal,
): Promise<void> {
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
        if (line.trim() === "") continue;
        try {
          runScsiCommand(device, storages, line, args.readonly, args.discard);
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

/** Wraps `target.execute` to print each command and its outcome to stderr. */
function traceCommands(target: ScsiTarget): void {
  const execute = target.execute.bind(target);
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const show = (cmd: ScsiCommand) => {
    const s = cmd.senseCode;
    console.error(
      `scsi: lun ${cmd.lun} cdb ${hex(cmd.cdb.subarray(0, Math.min(16, cmd.cdbLength)))} ` +
        `status ${cmd.status} moved ${cmd.transferred}${cmd.overrun ? " overrun" : ""}` +
        (s === undefined ? "" : ` sense ${s.key}/${s.asc.toString(16)}/${s.ascq.toString(16)}`),
    );
  };
  target.execute = (cmd: ScsiCommand) => {
    const r = execute(cmd);
    if (r === undefined) show(cmd);
    else r.then(() => show(cmd));
    return r;
  };
}

async function main(): Promise<number> {
  let args: ScsiArgs;
  try {
    args = parseScsiArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const storages = new Map<number, PosixFileStorage>();
  args.images.forEach((img, i) => storages.set(i, new PosixFileStorage(img, args.readonly)));
  const device = new ScsiDevice({
    queues: args.queues,
    luns: [...storages].map(([lun, file]) => ({
      lun,
      storage: lunStorage(file, args.discard),
      readOnly: args.readonly,
    })),
  });
  if (args.trace) traceCommands(device.target);
  const backend = new VhostUserBackend(device, { socketPath: args.socket });
  backend.listen();
  const stopCommands = new AbortController();
  const commands = readCommands(device, storages, args, stopCommands.signal);
  const stop = () => backend.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(
    `vhost-user-scsi: ready on ${args.socket} (LUNs ${device.target.luns.join(",") || "none"}, ` +
      `${args.queues} request queue(s)${args.readonly ? ", read-only" : ""})`,
  );
  await backend.serve();
  stopCommands.abort();
  await commands;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  for (const s of storages.values()) {
    await s.flush();
    s.close();
  }
  const st = device.stats;
  console.log(
    `vhost-user-scsi: stopped after ${backend.sessions.length} session(s); commands ` +
      `${st.commands}, check conditions ${st.checkConditions}, events ${st.events}`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
