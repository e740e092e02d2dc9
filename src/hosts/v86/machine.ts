/**
 * A v86 machine running the kit's Linux with typed-virtio devices attached by
 * a {@link V86Host}, and a driver for its serial console: {@link bootV86}
 * starts it, {@link V86Machine.run} runs a shell command in the guest and
 * returns its output.
 *
 * @example Boot with a block device over PCI and list it (needs the kit)
 * ```ts ignore
 * import { bootV86 } from "./machine.ts";
 * import { BlkDevice, MemoryStorage } from "../../devices/blk/mod.ts";
 * const disk = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(8 << 20)) });
 * const m = await bootV86({ devices: [{ device: disk, transport: "pci" }] });
 * console.log(await m.run("cat /sys/block/vda/size"));
 * m.stop();
 * ```
 *
 * @module
 */

import { V86 } from "./_v86.ts";
import type { VirtioDevice } from "../../device.ts";
import type { TransportLog } from "../../transport/device_state.ts";
import { V86HostError, v86Wasm, type WasmInstantiate } from "./_internals.ts";
import { V86Host, type V86Transport } from "./host.ts";
import { loadKit, type V86Kit } from "./kit.ts";
import { readFile, resolvePackageFile, timers } from "./_runtime.ts";
import { type GuestFile, withGuestFiles } from "./_cpio.ts";

export type { GuestFile } from "./_cpio.ts";
export type { V86Emulator } from "./_v86.ts";
export type { WasmInstantiate } from "./_internals.ts";
import type { V86Emulator } from "./_v86.ts";

/** Options of {@link bootV86}. */
export interface BootV86Options {
  /** Devices to attach, in order (PCI slots and MMIO addresses follow it). */
  readonly devices: readonly { device: VirtioDevice; transport: V86Transport }[];
  /** The kit (default: {@link loadKit}). */
  readonly kit?: V86Kit;
  /** Guest RAM in MiB (default 160; the initrd sits at 64 MiB). */
  readonly memoryMiB?: number;
  /** Extra kernel command line words, e.g. `virtio_pci.force_legacy=1`. */
  readonly cmdline?: string;
  /** Every byte the guest writes to its serial console. */
  readonly onSerial?: (byte: number) => void;
  /** Where refused guest accesses are logged (default `console.warn`). */
  readonly log?: TransportLog;
  /** Called at `emulator-ready` with the host, before the first instruction. */
  readonly onHost?: (host: V86Host) => void;
  /** Extra `V86` constructor options (v86's own devices, for comparisons). */
  readonly v86Options?: Record<string, unknown>;
  /** Called with v86's emulator before it starts (to listen to its own devices, for comparisons). */
  readonly onEmulator?: (emulator: V86Emulator) => void;
  /** How long the boot may take before it is called hung (default 600 s). */
  readonly bootTimeoutMs?: number;
  /**
   * Extra files for the guest, by absolute path (e.g. a test program built at
   * test time): added to the initramfs, so they are there when `/init` runs.
   */
  readonly files?: Readonly<Record<string, GuestFile>>;
  /**
   * Run the kernel's crypto self-tests (default false: {@link BASE_CMDLINE}
   * has `cryptomgr.notests`, which keeps the other boots fast); a boot that
   * checks a crypto driver's self-tests drops the word.
   */
  readonly cryptoSelfTests?: boolean;
}

/** The kernel command line the host boots with (before the caller's words). */
export const BASE_CMDLINE: string =
  "console=ttyS0 quiet loglevel=3 tsc=reliable mitigations=off random.trust_cpu=on " +
  "pci=nomsi cryptomgr.notests";

const toBuffer = (b: Uint8Array): { buffer: ArrayBuffer } => ({
  buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
});

/** V86Machine's private members, for the rest of this module (set in its `static` block). */
let machineHooks: {
  feed(m: V86Machine, byte: number): void;
  booted(m: V86Machine, seconds: number): void;
};

/** A booted guest. */
export class V86Machine {
  /** The v86 emulator object (its API is v86's own, kept inside this host). */
  readonly #emulator: V86Emulator;
  /** The host serving our devices. */
  readonly host: V86Host;
  /** Seconds from start to the shell prompt. */
  get bootSeconds(): number {
    return this.#bootSeconds;
  }
  #bootSeconds = 0;
  #out = "";
  #waiters: { marker: string; resolve: (s: string) => void }[] = [];
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();

  static {
    machineHooks = {
      feed: (m, byte) => m.#feed(byte),
      booted: (m, seconds) => void (m.#bootSeconds = seconds),
    };
  }

  /** @internal use {@link bootV86} */
  constructor(emulator: V86Emulator, host: V86Host) {
    this.#emulator = emulator;
    this.host = host;
  }

  /** A byte the guest wrote to the serial port. */
  #feed(byte: number): void {
    this.#out += String.fromCharCode(byte);
    if (this.#out.length > 1 << 24) this.#out = this.#out.slice(-(1 << 20));
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i];
      const at = this.#out.indexOf(w.marker);
      if (at >= 0) {
        const text = this.#out.slice(0, at);
        this.#out = this.#out.slice(at + w.marker.length);
        this.#waiters.splice(i, 1);
        w.resolve(text);
        return;
      }
    }
  }

  /** Everything the console printed that no wait consumed yet. */
  get pending(): string {
    return this.#out;
  }

  /**
   * Resolves with the console output before `marker` once it appears. After
   * `timeoutMs` it rejects with `ERR_VIRTIO_V86_TIMEOUT`, whose message has
   * the console's last 2000 characters and then the state of every attached
   * device ({@link V86Host.describe}): the CPU, each device's interrupt line
   * in the host and in v86's 8259, and its transport state and queues.
   */
  waitFor(marker: string, timeoutMs = 600_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = timers.setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.marker !== marker);
        reject(
          new V86HostError(
            `v86 guest: no "${marker}" within ${timeoutMs} ms; console tail: ${
              JSON.stringify(this.#out.slice(-2000))
            }\ndevice state at the timeout:\n${this.#deviceState()}`,
            { code: "ERR_VIRTIO_V86_TIMEOUT" },
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        marker,
        resolve: (s) => {
          timers.clearTimeout(timer);
          resolve(s);
        },
      });
      this.#feed(0x20); // look at what is already there (a space is harmless)
    });
  }

  /** {@link V86Host.describe}, which does not throw; should it, the error says so instead. */
  #deviceState(): string {
    try {
      return this.host.describe();
    } catch (e) {
      return `not described (${e instanceof Error ? e.message : String(e)})`;
    }
  }

  /** Types `text` on the guest's serial console. */
  send(text: string): void {
    this.#emulator.serial0_send(text);
  }

  /**
   * Runs `command` in the guest shell and resolves with its output (stdout
   * and stderr); rejects with `ERR_VIRTIO_V86_COMMAND` if it exits non-zero,
   * and with `ERR_VIRTIO_V86_TIMEOUT` (and the device state, see
   * {@link V86Machine.waitFor}) if its output does not end within `timeoutMs`.
   * Commands run one at a time in the order given.
   */
  run(command: string, timeoutMs = 600_000): Promise<string> {
    const next = this.#queue.then(() => this.#run(command, timeoutMs));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #run(command: string, timeoutMs: number): Promise<string> {
    const n = ++this.#seq;
    // The marker is split in the command so that the echoed line does not match it.
    const begin = `{tv-${n}-begin}`;
    const end = `{tv-${n}-end:`;
    const started = this.waitFor(begin, timeoutMs);
    const ended = started.then(() => this.waitFor(end, timeoutMs));
    this.send(
      `echo '{tv-${n}''-begin}'; ( ${command} ) 2>&1; echo "{tv-${n}""-end:$?}"\n`,
    );
    await started;
    const out = await ended;
    const rc = await this.waitFor("}", 10_000);
    const text = out.replace(/^\r?\n/, "").replace(/\r\n/g, "\n");
    if (rc.trim() !== "0") {
      throw new V86HostError(`v86 guest: \`${command}\` exited ${rc.trim()}:\n${text}`, {
        code: "ERR_VIRTIO_V86_COMMAND",
      });
    }
    return text;
  }

  /** Stops the emulator. */
  stop(): void {
    this.host.close();
    void this.#emulator.destroy();
  }
}

/**
 * Boots the kit's Linux in v86 with `options.devices` attached by a
 * {@link V86Host}; resolves at the guest's shell prompt.
 */
export async function bootV86(options: BootV86Options): Promise<V86Machine> {
  const kit = options.kit ?? await loadKit();
  const mmio = options.devices.filter((d) => d.transport.startsWith("mmio")).length;
  const { mmioKernelArgs } = await import("./host.ts");
  const base = options.cryptoSelfTests
    ? BASE_CMDLINE.replace(" cryptomgr.notests", "")
    : BASE_CMDLINE;
  const cmdline = [base, mmioKernelArgs(mmio), options.cmdline ?? ""].filter((s) => s)
    .join(" ");
  const started = performance.now();
  const memorySize = (options.memoryMiB ?? 160) * 1024 * 1024;
  const vgaMemorySize = 2 * 1024 * 1024;
  const emulator = new V86({
    memory_size: memorySize,
    vga_memory_size: vgaMemorySize,
    bios: toBuffer(kit.bios),
    vga_bios: toBuffer(kit.vgaBios),
    bzimage: toBuffer(kit.bzImage),
    initrd: toBuffer(options.files ? withGuestFiles(kit.initrd, options.files) : kit.initrd),
    cmdline,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    // A page passes its own `wasm_fn` (v86Wasm over the fetched bytes): no file system there.
    ...(options.v86Options?.wasm_fn === undefined
      ? await wasmOption({ memoryBytes: memorySize + vgaMemorySize })
      : {}),
    ...options.v86Options,
  });
  let machine: V86Machine | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    emulator.add_listener("emulator-ready", () => {
      try {
        const host = new V86Host(emulator, { log: options.log });
        machine = new V86Machine(emulator, host);
        for (const d of options.devices) host.attach(d.device, d.transport);
        options.onHost?.(host);
        resolve();
      } catch (e) {
        void emulator.destroy();
        reject(e);
      }
    });
  });
  options.onEmulator?.(emulator);
  emulator.add_listener("serial0-output-byte", (byte: number) => {
    options.onSerial?.(byte);
    if (machine) machineHooks.feed(machine, byte);
  });
  await ready;
  const m = machine as unknown as V86Machine;
  try {
    await m.waitFor("tv-init: up", options.bootTimeoutMs ?? 600_000);
    await m.run("true");
  } catch (e) {
    m.stop();
    throw e;
  }
  machineHooks.booted(m, (performance.now() - started) / 1000);
  return m;
}

/**
 * The `wasm_fn` option for `new V86`: v86's wasm from its package, patched so
 * that the host's views of guest memory stay valid (see `v86Wasm`).
 * `memoryBytes` is the guest RAM and VGA memory the emulator will allocate
 * (default 512 MiB; it sizes the memory where the runtime cannot resize
 * wasm buffers); `fixed` forces the memory that does not grow.
 */
export async function wasmOption(
  options: { memoryBytes?: number; fixed?: boolean } = {},
): Promise<{ wasm_fn: WasmInstantiate }> {
  const bytes = await readFile(await resolvePackageFile("v86/build/v86.wasm"));
  return { wasm_fn: v86Wasm(bytes, options) };
}
