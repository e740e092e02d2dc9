/**
 * The soak test's back-end: examples/vhost_user_blk.ts's device and
 * back-end (a {@link BlkDevice} on a {@link PosixFileStorage}, served by
 * {@link VhostUserBackend}), with the fault hooks a soak needs, driven by
 * commands on stdin (one per line):
 *
 * - `enospc on` / `enospc off`: every write (and write zeroes) fails with
 *   ENOSPC, as a full file system does, until `off` ({@link FaultStorage}). The device must
 *   complete such requests with VIRTIO_BLK_S_IOERR. Nothing of a refused
 *   write reaches the image.
 * - `notify on` / `notify off`: kicks and calls are dropped or delayed at
 *   random (seeded with `--seed`, {@link RandomNotifyFaults}) through
 *   {@link VhostUserBackendOptions.notifyFaults}; a dropped one is
 *   delivered by a watchdog 100-1000 ms later (see `NotifyFault`).
 * - `release`: with `--hold-after-writes N` (the storage hangs after N
 *   writes, {@link HoldStorage}; each request it holds prints a `soak-held`
 *   line), fails every held request and stops holding. The fault tests use
 *   the hang to kill a peer while the guest has writes in flight.
 * - `stats`: prints a `soak-stats` line.
 * - `heap`: runs a full garbage collection when the process was started
 *   with `--v8-flags=--expose-gc` (the soak does), then prints a `soak-heap`
 *   line: the time (`at`, ms since the epoch), whether it collected (`gc`),
 *   and V8's and the process's figures in bytes (`heapUsed`, `heapTotal`,
 *   `external`, `malloced`, `rss`). After a full collection `heapUsed` is
 *   what the program still holds, without the garbage a sample of RSS
 *   cannot tell apart from it.
 * - `snapshot PATH`: collects as `heap` does, then writes a V8 heap snapshot
 *   to PATH (for investigation; the soak does not use it).
 *
 * Every fault is counted; `soak-stats` lines report them. Started by
 * tests/interop/soak_test.ts through `startBackend`.
 *
 * @module
 */

import { getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { VhostUserBackend } from "../../src/transport/vhost_user/mod.ts";
import { BlkDevice, PosixFileStorage } from "../../src/devices/blk/mod.ts";
import { FaultStorage, HoldStorage, mulberry32, RandomNotifyFaults } from "./_soak_faults.ts";

/** The `gc()` of `--v8-flags=--expose-gc`, if the process has it. */
function exposedGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: unknown }).gc;
  return typeof g === "function" ? () => g() : undefined;
}

/**
 * A full garbage collection (when exposed), then the `soak-heap` line's
 * figures: what the heap holds after it, and the process's RSS.
 */
export function heapLine(): string {
  const gc = exposedGc();
  gc?.();
  const m = Deno.memoryUsage();
  const h = getHeapStatistics();
  return `soak-heap at=${Date.now()} gc=${gc === undefined ? 0 : 1} heapUsed=${m.heapUsed} ` +
    `heapTotal=${m.heapTotal} external=${m.external} malloced=${h.malloced_memory} rss=${m.rss}`;
}

const encoder = new TextEncoder();

/**
 * Prints one line on stdout, bypassing `console`: V8 keeps the arguments of
 * the last 1000 console calls for a debugger that may attach later (its
 * inspector's console message storage), so lines printed with
 * `console.log` would stay in the heap this back-end measures.
 */
export function say(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  for (let o = 0; o < bytes.length;) o += Deno.stdout.writeSync(bytes.subarray(o));
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i < 0 ? undefined : Deno.args[i + 1];
}

async function main(): Promise<number> {
  const socket = arg("--socket");
  const image = arg("--image");
  const seed = Number(arg("--seed") ?? "1");
  const holdAfter = arg("--hold-after-writes");
  if (
    socket === undefined || image === undefined ||
    (holdAfter !== undefined && !/^\d+$/.test(holdAfter))
  ) {
    console.error(
      "usage: _soak_backend.ts --socket PATH --image FILE [--seed N] [--hold-after-writes N]",
    );
    return 2;
  }
  const file = new PosixFileStorage(image);
  const storage = new FaultStorage(file, `image ${image}`);
  const hold = holdAfter === undefined ? undefined : new HoldStorage(
    storage,
    Number(holdAfter),
    (r) => say(`soak-held ${r.kind} offset=${r.offset} length=${r.length}`),
  );
  const device = new BlkDevice({ storage: hold ?? storage, queues: 1, queueSize: 256 });
  const faults = new RandomNotifyFaults(mulberry32(seed));
  const backend = new VhostUserBackend(device, { socketPath: socket, notifyFaults: faults });
  backend.listen();
  const stats = () =>
    say(
      `soak-stats seed=${seed} refused=${storage.refusedTotal} ` +
        `kicksDropped=${faults.counts.kicksDropped} kicksDelayed=${faults.counts.kicksDelayed} ` +
        `callsDropped=${faults.counts.callsDropped} callsDelayed=${faults.counts.callsDelayed} ` +
        `writes=${device.stats.writes} reads=${device.stats.reads} errors=${device.stats.errors}`,
    );
  const commands = (async () => {
    let pending = "";
    const dec = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) {
      pending += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const cmd = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (cmd === "enospc on") storage.fault = "ENOSPC";
        else if (cmd === "enospc off") storage.fault = undefined;
        else if (cmd === "notify on") faults.on = true;
        else if (cmd === "notify off") faults.on = false;
        else if (cmd === "release") hold?.release();
        else if (cmd === "heap") {
          say(heapLine());
          continue;
        } else if (cmd.startsWith("snapshot ")) {
          say(heapLine());
          say(`soak-snapshot ${writeHeapSnapshot(cmd.slice("snapshot ".length))}`);
          continue;
        } else if (cmd !== "stats") console.error(`soak back-end: unknown command ${cmd}`);
        say(`soak-command ${cmd}`);
        stats();
      }
    }
  })();
  const stop = () => backend.close();
  Deno.addSignalListener("SIGTERM", stop);
  say(`soak back-end: ready on ${socket} (seed ${seed})`);
  await backend.serve();
  Deno.removeSignalListener("SIGTERM", stop);
  file.flush();
  file.close();
  stats();
  say(`soak back-end: stopped after ${backend.sessions.length} session(s)`);
  void commands;
  return 0;
}

if (import.meta.main) Deno.exit(await main());
