/**
 * The v86 soak's host process (issue 18), started by
 * tests/hosts/v86/soak_test.ts with `--v8-flags=--expose-gc`:
 *
 * ```
 * _soak_host.ts --dir DIR --seconds N --seed N [--snapshots DIR]
 * ```
 *
 * Boots the kit's Linux in v86 with two {@link SoakDisk}s on images in DIR
 * (`pci.img` over our PCI modern transport, `mmio.img` over our MMIO v2
 * transport), runs the shared guest I/O script (tests/interop/_soak_io.ts)
 * on both for N seconds, and meanwhile injects faults, seeded: storage full
 * (ENOSPC) and failing (EIO) windows, kicks and interrupts dropped and
 * delayed, and device model restarts. Every `seconds / 60` (at least every
 * 2 s) it collects garbage and samples its own memory; with `--snapshots`,
 * it also writes V8 heap snapshots there at samples 1, 15, 30, 45 and 58.
 *
 * It prints, one per line: `guest: <console line>` for each line of the
 * guest's console, `soak-disks {json}` (which /dev name each transport got),
 * `soak-note <text>` (faults, with the time), `soak-mem {json}` samples,
 * and at the end `soak-stats {json}` and `soak-exit {json}`. The test
 * reads them; the check of the images is the test's.
 *
 * @module
 */

import { writeHeapSnapshot } from "node:v8";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { guestRam, type V86Cpu } from "../../../src/hosts/v86/_internals.ts";
import { mulberry32, RandomNotifyFaults, type StorageFault } from "../../interop/_soak_faults.ts";
import { guestScript, sleepUnless as sleep } from "../../interop/_soak_io.ts";
import { SoakDisk } from "./_soak_device.ts";

/** Writers per disk, and blocks per writer (the test checks `WRITERS * PER_WRITER` per disk). */
export const WRITERS = 2;
export const PER_WRITER = 16;
/** Size of each image. */
export const IMAGE_BYTES = 4 << 20;
/** The transports, in attach order, and their images in the run's directory. */
export const TRANSPORTS = ["pci", "mmio"] as const;

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i < 0 ? undefined : Deno.args[i + 1];
}

const enc = new TextEncoder();
const out = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));

/**
 * How many guest code pages v86's JIT holds compiled: the occupied slots of
 * the part of its wasm function table that holds JIT code (each is a
 * `WebAssembly.Instance` of its own, with V8's feedback for it, on the JS
 * heap). v86's internals (`cpu.wm.wasm_table`, the 900 slots from 1024 that
 * its `jit_clear_func` and `jit_clear_all_funcs` clear), read for the
 * memory samples only: `undefined` if they moved.
 */
export function jitFunctions(emulator: unknown): number | undefined {
  const table = (emulator as { v86?: { cpu?: { wm?: { wasm_table?: unknown } } } } | undefined)
    ?.v86?.cpu?.wm?.wasm_table;
  if (!(table instanceof WebAssembly.Table) || table.length < JIT_TABLE_BASE + JIT_TABLE_SLOTS) {
    return undefined;
  }
  let n = 0;
  for (let i = JIT_TABLE_BASE; i < JIT_TABLE_BASE + JIT_TABLE_SLOTS; i++) {
    if (table.get(i) !== null) n++;
  }
  return n;
}
/**
 * Makes v86 drop every compiled page (`cpu.jit_clear_cache()`, v86's own
 * clearing, as when its table is full or a state is restored); false if
 * that internal moved.
 */
export function clearJit(emulator: unknown): boolean {
  const cpu = (emulator as { v86?: { cpu?: { jit_clear_cache?: unknown } } } | undefined)?.v86
    ?.cpu;
  if (typeof cpu?.jit_clear_cache !== "function") return false;
  cpu.jit_clear_cache();
  return true;
}
/**
 * Writes each 4 KiB page of v86's wasm memory (the guest's RAM and v86's
 * own data beside it) with the byte it holds, so that all of it is
 * resident from the start: the guest's page cache filling pages it never
 * touched before (160 MiB of RAM, tens of MiB touched late in a run) would
 * otherwise count as the host's RSS growing. v86 runs on this thread, so
 * the guest is not running meanwhile, and no byte changes (its compiled
 * code stays valid). Undefined if those internals moved.
 */
export function touchGuestMemory(
  emulator: unknown,
): { wasmBytes: number; ramBytes: number } | undefined {
  const cpu = (emulator as { v86?: { cpu?: Partial<V86Cpu> } } | undefined)?.v86?.cpu;
  if (cpu?.wasm_memory === undefined || cpu.mem8 === undefined || cpu.memory_size === undefined) {
    return undefined;
  }
  const ram = guestRam(cpu as V86Cpu);
  // All of v86's wasm memory as it is now: the guest's RAM, and what v86's
  // own allocator (its JIT's data) has taken so far beside it.
  const all = new Uint8Array(ram.buffer);
  // `|= 0`: a write of the same byte.
  for (let i = 0; i < all.length; i += 4096) all[i] |= 0;
  return { wasmBytes: all.length, ramBytes: ram.length };
}
/** `RssAnon` and `RssFile` of this process, KiB (`/proc/self/status`), or nothing where there is none. */
function rssParts(): { rssAnonKiB?: number; rssFileKiB?: number } {
  try {
    const text = Deno.readTextFileSync("/proc/self/status");
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
    return { rssAnonKiB: kib("RssAnon"), rssFileKiB: kib("RssFile") };
  } catch {
    return {};
  }
}
/** The size of v86's wasm memory (it grows as v86's own allocator needs), or undefined if that internal moved. */
export function wasmMemoryKiB(emulator: unknown): number | undefined {
  const memory = (emulator as { v86?: { cpu?: { wasm_memory?: unknown } } } | undefined)?.v86?.cpu
    ?.wasm_memory;
  return memory instanceof WebAssembly.Memory ? memory.buffer.byteLength >> 10 : undefined;
}
/** Every this many memory samples, one also without v86's JIT cache ({@link clearJit}). */
const CLEAR_EVERY = 10;
/** Where v86's JIT code starts in its wasm table, and how many slots it has (v86 0.5.462). */
const JIT_TABLE_BASE = 1024;
const JIT_TABLE_SLOTS = 900;

async function main(): Promise<number> {
  const dir = arg("--dir");
  const seconds = Number(arg("--seconds") ?? "120");
  const seed = Number(arg("--seed") ?? "1818");
  if (dir === undefined) {
    console.error("usage: _soak_host.ts --dir DIR [--seconds N] [--seed N]");
    return 2;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    console.error("_soak_host.ts: run with --v8-flags=--expose-gc (memory is sampled after a gc)");
    return 2;
  }
  const random = mulberry32(seed);
  const t0 = Date.now();
  const note = (s: string) => out(`soak-note [+${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
  const disks = TRANSPORTS.map((t, i) => {
    // Twice the QEMU soak's drop rate: a slow guest sends few notifications per window.
    const faults = new RandomNotifyFaults(mulberry32(seed + 1 + i), { drop: 0.3, delay: 0.3 });
    return { transport: t, faults, disk: new SoakDisk(`${dir}/${t}.img`, random, faults) };
  });

  const stop = { stopped: false };
  // Faults end when the writers do: the verification reads run without them.
  const quiet = { stopped: false };

  // The guest's console, line by line.
  let pending = "";
  let started: () => void = () => {};
  const guestStarted = new Promise<void>((r) => (started = r));
  const onSerial = (byte: number) => {
    if (byte === 10) {
      const line = pending.replace(/\r$/, "");
      pending = "";
      out(`guest: ${line}`);
      if (line.includes("@@start=1")) started();
      if (line.includes("@@writers_done=1")) {
        // Lift every fault before the guest's next instruction: it verifies next.
        quiet.stopped = true;
        for (const d of disks) {
          d.disk.setFault(undefined);
          d.faults.on = false;
        }
      }
    } else if (pending.length < 4096) pending += String.fromCharCode(byte);
  };

  // The guest names its disks after its own probe order: ask it which is which.
  const script = guestScript({
    seconds,
    disks: ["$1", "$2"],
    writers: WRITERS,
    perWriter: PER_WRITER,
  });
  note(`seed ${seed}, ${seconds} s; booting`);
  let emulator: unknown;
  const m = await bootV86({
    devices: disks.map((d) => ({ device: d.disk, transport: d.transport })),
    files: { "/opt/tv/soak.sh": enc.encode(script) },
    onSerial,
    onEmulator: (e) => (emulator = e),
    // The test's own boot deadline (BOOT_MS in _soak.ts) is the one that counts.
    bootTimeoutMs: 1_500_000,
  });
  note(`booted in ${m.bootSeconds.toFixed(1)} s`);
  const touched = touchGuestMemory(emulator);
  if (touched === undefined) {
    throw new Error(
      "v86's CPU internals moved: its memory cannot be made resident before sampling",
    );
  }
  note(
    `wasm memory made resident: ${touched.wasmBytes >> 20} MiB ` +
      `(guest RAM ${touched.ramBytes >> 20} MiB)`,
  );
  const names: Record<string, string> = {};
  for (
    const line
      of (await m.run("for d in /sys/block/vd*; do echo $d $(readlink -f $d/device); done")).split(
        "\n",
      )
  ) {
    const [block, path] = line.trim().split(" ");
    if (block === undefined || path === undefined) continue;
    const name = block.slice("/sys/block/".length);
    names[path.includes("virtio-mmio") || path.includes("fe8") ? "mmio" : "pci"] = name;
  }
  out(`soak-disks ${JSON.stringify(names)}`);
  if (names.pci === undefined || names.mmio === undefined) {
    note(`the guest does not show both disks: ${JSON.stringify(names)}`);
    m.stop();
    return 1;
  }

  const refusals = () =>
    disks.reduce((n, d) => {
      const r = d.disk.stats().refused;
      return n + r.reads + r.writes + r.flushes;
    }, 0);
  const dropped = () =>
    disks.reduce((n, d) => n + d.faults.counts.kicksDropped + d.faults.counts.callsDropped, 0);
  const counts = {
    enospc: 0,
    eio: 0,
    notify: 0,
    restarts: 0,
    drainMsMax: 0,
    refusedEnospc: 0,
    refusedEio: 0,
    dropped: 0,
  };
  const pause = () => sleep(3_000 + random() * 5_000, quiet);
  // Three loops at once, so that a guest as slow as v86 on a loaded machine
  // still meets every kind of fault in a short run: the storage (ENOSPC and
  // EIO windows in turn), the notifications, the device model restarts. They
  // end when the guest's writers do (and the faults are lifted at once then,
  // in onSerial): the verification reads run without them.
  const storage = (async () => {
    await guestStarted;
    for (let n = 0; !quiet.stopped; n++) {
      await pause();
      if (quiet.stopped) break;
      const f: StorageFault = n % 2 === 0 ? "ENOSPC" : "EIO";
      const ms = 2_000 + Math.floor(random() * 3_000);
      note(`fault: storage ${f} for ${ms} ms`);
      counts[f === "ENOSPC" ? "enospc" : "eio"]++;
      const before = refusals();
      const opened = Date.now();
      for (const d of disks) d.disk.setFault(f);
      await sleep(ms, quiet);
      // A slow guest may make no request in a short window: keep the fault
      // until one was refused (at most 60 s).
      while (!quiet.stopped && refusals() === before && Date.now() - opened < 60_000) {
        await sleep(100, quiet);
      }
      for (const d of disks) d.disk.setFault(undefined);
      const refused = refusals() - before;
      counts[f === "ENOSPC" ? "refusedEnospc" : "refusedEio"] += refused;
      note(`fault: storage ${f} over (${refused} requests refused)`);
    }
  })();
  const notifications = (async () => {
    await guestStarted;
    while (!quiet.stopped) {
      await pause();
      if (quiet.stopped) break;
      const ms = 4_000 + Math.floor(random() * 6_000);
      note(`fault: kicks and interrupts dropped and delayed for ${ms} ms`);
      counts.notify++;
      const before = dropped();
      const opened = Date.now();
      for (const d of disks) d.faults.on = true;
      await sleep(ms, quiet);
      // As above: until one kick or interrupt was dropped (at most 60 s).
      while (!quiet.stopped && dropped() === before && Date.now() - opened < 60_000) {
        await sleep(100, quiet);
      }
      for (const d of disks) d.faults.on = false;
      counts.dropped += dropped() - before;
      note(`fault: notifications delivered again (${dropped() - before} dropped)`);
    }
  })();
  const restarts = (async () => {
    await guestStarted;
    while (!quiet.stopped) {
      await sleep(1_000 + random() * 4_000, quiet);
      for (const d of disks) {
        if (quiet.stopped) break;
        const ms = await d.disk.restart();
        counts.restarts++;
        counts.drainMsMax = Math.max(counts.drainMsMax, ms);
        note(`fault: ${d.transport} device model restarted (drained in ${ms} ms)`);
      }
      await sleep(10_000 + random() * 15_000, quiet);
    }
  })();
  const injector = Promise.all([storage, notifications, restarts]).then(() =>
    note("fault injector done")
  );

  // `--snapshots DIR`: a V8 heap snapshot at some samples, to compare what
  // the process keeps (by object id: what was allocated between two and lives).
  const snapshots = arg("--snapshots");
  const snapshotAt = new Set([1, 15, 30, 45, 58]);
  const sampler = (async () => {
    const every = Math.max(2_000, Math.floor((seconds * 1000) / 60));
    for (let n = 0; !stop.stopped; n++) {
      gc();
      if (snapshots !== undefined && snapshotAt.has(n)) {
        const path = `${snapshots}/heap-${String(n).padStart(2, "0")}.heapsnapshot`;
        writeHeapSnapshot(path);
        note(`heap snapshot ${path}`);
      }
      const mem = Deno.memoryUsage();
      const jit = jitFunctions(emulator);
      // Every CLEAR_EVERY samples, the heap without v86's JIT cache: v86
      // drops its compiled code (what it does itself when its table is
      // full), and a second collection frees it.
      let cleared: { heapKiB: number; jit: number | undefined } | undefined;
      if (n % CLEAR_EVERY === 0 && clearJit(emulator)) {
        gc();
        const after = Deno.memoryUsage();
        cleared = { heapKiB: Math.round(after.heapUsed / 1024), jit: jitFunctions(emulator) };
      }
      out(
        `soak-mem ${
          JSON.stringify({
            t: Date.now() - t0,
            rssKiB: Math.round(mem.rss / 1024),
            heapKiB: Math.round(mem.heapUsed / 1024),
            externalKiB: Math.round(mem.external / 1024),
            wasmKiB: wasmMemoryKiB(emulator),
            ...rssParts(),
            jit,
            cleared,
          })
        }`,
      );
      await sleep(every, stop);
    }
  })();

  let guestRc = 0;
  let guestError = "";
  try {
    await m.run(`sh /opt/tv/soak.sh ${names.pci} ${names.mmio}`, (seconds + 3600) * 1000);
  } catch (e) {
    guestRc = 1;
    guestError = e instanceof Error ? e.message.slice(0, 2000) : String(e);
  }
  stop.stopped = true;
  quiet.stopped = true;
  started();
  await injector;
  await sampler;
  if (pending !== "") out(`guest: ${pending}`);
  const stats: Record<string, unknown> = { counts, refusedByHost: m.host.refused };
  for (const d of disks) stats[d.transport] = { ...d.disk.stats(), notify: d.faults.counts };
  out(`soak-stats ${JSON.stringify(stats)}`);
  m.stop();
  for (const d of disks) d.disk.close();
  out(`soak-exit ${JSON.stringify({ guestRc, guestError })}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
