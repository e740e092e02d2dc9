/**
 * The page: Linux in v86 with typed-virtio devices (blk, net, console, rng,
 * input) on our PCI transport through the v86 host, the guest's virtio
 * console in an xterm.js terminal, and the virtqueue inspector.
 *
 * Query parameters: `packed=1` (blk and rng offer VIRTIO_F_RING_PACKED),
 * `inspector=0` (start with the inspector closed), `autoboot=0` (wait for
 * the Boot button, to pick a disk image first).
 *
 * The page's state and a few actions are on `globalThis.typedVirtio` for
 * the browser test (tests/web/page_test.ts) and for the curious.
 *
 * @module
 */

import { Terminal } from "@xterm/xterm";
import { bootV86, type V86Machine } from "../src/hosts/v86/machine.ts";
import type { V86Kit } from "../src/hosts/v86/kit.ts";
import { v86Wasm } from "../src/hosts/v86/_internals.ts";
import type { PciFunction } from "../src/transport/pci/mod.ts";
import type { MmioDevice } from "../src/transport/mmio/mod.ts";
import { BlkDevice, MemoryStorage } from "../src/devices/blk/mod.ts";
import { NetDevice } from "../src/devices/net/device.ts";
import { ConsoleDevice } from "../src/devices/console/mod.ts";
import { RngDevice } from "../src/devices/rng/mod.ts";
import { InputDevice, keyboardProfile } from "../src/devices/input/mod.ts";
import type { VirtioDevice } from "../src/device.ts";
import { QueueInspector } from "./inspector.ts";
import { InspectorView } from "./_view.ts";
import { EchoPeer } from "./_echo_peer.ts";
import { linuxKeyCode } from "./_keys.ts";

const params = new URLSearchParams(location.search);
const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page: #${id} is missing`);
  return e as T;
};

const statusEl = $("status");
const setStatus = (s: string): void => {
  statusEl.textContent = s;
};

/** What the page exposes on `globalThis.typedVirtio`. */
interface PageApi {
  state: "idle" | "booting" | "ready" | "error";
  error?: string;
  bootSeconds?: number;
  machine?: V86Machine;
  inspectors: QueueInspector[];
  /** Runs a command on the guest's serial console (not the terminal) and returns its output. */
  run(cmd: string): Promise<string>;
  /** The terminal's text, line by line. */
  terminalText(): string;
  /** Opens or closes the inspector. */
  setInspector(open: boolean): void;
  /** Selects `device/q` in the inspector's detail view. */
  select(id: string): boolean;
  /** Guest-observed read throughput of the disk in MB/s (page cache dropped first). */
  readThroughput(mib: number): Promise<number>;
  /** Inspector redraws so far and the main-thread milliseconds they took. */
  renderStats: { renders: number; ms: number; intervalMs: number };
  /** Resolves when the guest's shell is up on the terminal; rejects if the boot fails. */
  ready: Promise<void>;
  /** Resolves when the terminal shows `text`; rejects after `timeoutMs`. */
  waitForTerminal(text: string, timeoutMs: number): Promise<void>;
  /**
   * Starts recording every value the inspector shows in the `field` cell of
   * queue `id` (`blk/0`, `avail-idx`); the returned function stops and
   * returns them in order.
   */
  watchCell(id: string, field: string): () => string[];
}

let readyResolve: () => void = () => {};
let readyReject: (e: unknown) => void = () => {};

const term = new Terminal({ cols: 90, rows: 30, fontSize: 13 });
term.open($("terminal"));
const serialEl = $("serial");
let serialText = "";
let serialFlush = false;
const onSerial = (b: number): void => {
  serialText += String.fromCharCode(b);
  if (!serialFlush) {
    serialFlush = true;
    requestAnimationFrame(() => {
      serialFlush = false;
      if (serialText.length > 200_000) serialText = serialText.slice(-100_000);
      serialEl.textContent = serialText;
      serialEl.scrollTop = serialEl.scrollHeight;
    });
  }
};

const inspectorPanel = $("inspector");
const toggle = $<HTMLButtonElement>("toggle-inspector");
let inspectorOpen = params.get("inspector") !== "0";
let view: InspectorView | undefined;
let renderTimer: ReturnType<typeof setInterval> | undefined;
const RENDER_MS = 200;

function setInspector(open: boolean): void {
  inspectorOpen = open;
  inspectorPanel.hidden = !open;
  toggle.textContent = open ? "Close inspector" : "Open inspector";
  if (renderTimer !== undefined) clearInterval(renderTimer);
  renderTimer = undefined;
  if (open && view !== undefined) {
    const v = view;
    const render = () => {
      const t0 = performance.now();
      v.render();
      api.renderStats.renders++;
      api.renderStats.ms += performance.now() - t0;
    };
    render();
    renderTimer = setInterval(render, RENDER_MS);
  }
}
toggle.addEventListener("click", () => setInspector(!inspectorOpen));

const api: PageApi = {
  state: "idle",
  inspectors: [],
  renderStats: { renders: 0, ms: 0, intervalMs: RENDER_MS },
  run: (cmd) => {
    if (api.machine === undefined) return Promise.reject(new Error("not booted"));
    return api.machine.run(cmd);
  },
  terminalText: () => {
    const b = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  },
  setInspector,
  select: (id) => view?.selectByName(id) ?? false,
  ready: new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  }),
  waitForTerminal: (text, timeoutMs) =>
    new Promise<void>((resolve, reject) => {
      if (api.terminalText().includes(text)) return resolve();
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new Error(`page: no ${JSON.stringify(text)} on the terminal in ${timeoutMs} ms`));
      }, timeoutMs);
      const sub = term.onWriteParsed(() => {
        if (!api.terminalText().includes(text)) return;
        clearTimeout(timer);
        sub.dispose();
        resolve();
      });
    }),
  watchCell: (id, field) => {
    const cell = document.querySelector(`[data-queue="${id}"] [data-field="${field}"]`);
    if (cell === null) throw new Error(`page: no inspector cell ${id} ${field}`);
    const seen = [cell.textContent ?? ""];
    const obs = new MutationObserver(() => seen.push(cell.textContent ?? ""));
    obs.observe(cell, { childList: true, characterData: true, subtree: true });
    return () => {
      obs.disconnect();
      return seen;
    };
  },
  readThroughput: async (mib) => {
    const out = await api.run(
      `echo 3 > /proc/sys/vm/drop_caches; a=$(cut -d' ' -f1 /proc/uptime); ` +
        `dd if=/dev/vda of=/dev/null bs=64k count=${mib * 16} 2>/dev/null; ` +
        `b=$(cut -d' ' -f1 /proc/uptime); echo "@@t=$a $b"`,
    );
    const m = /@@t=([\d.]+) ([\d.]+)/.exec(out);
    if (m === null) throw new Error(`page: no timing in ${JSON.stringify(out)}`);
    return mib / Math.max(0.01, Number(m[2]) - Number(m[1]));
  },
};
(globalThis as { typedVirtio?: PageApi }).typedVirtio = api;
// A failed boot is shown in the status line (and thrown by `start` below, so it reaches the console).
api.ready.then(undefined, (e) => setStatus(`failed: ${e instanceof Error ? e.message : e}`));

async function fetchBytes(path: string): Promise<Uint8Array> {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`page: GET ${path}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadPageKit(): Promise<V86Kit> {
  const [stamp, bios, vgaBios, bzImage, initrd] = await Promise.all([
    fetch("kit/kit.json").then((r) => r.json()),
    fetchBytes("kit/bios.bin"),
    fetchBytes("kit/vgabios.bin"),
    fetchBytes("kit/bzImage"),
    fetchBytes("kit/initrd.img"),
  ]);
  return {
    dir: "kit/",
    bios,
    vgaBios,
    bzImage,
    initrd,
    kernel: String(stamp.kernel),
    extraModules: Array.isArray(stamp.extra_modules) ? stamp.extra_modules.map(String) : [],
  };
}

/** A 32 MiB disk whose first sector says what it is. */
function builtInDisk(): Uint8Array {
  const d = new Uint8Array(32 << 20);
  d.set(new TextEncoder().encode("typed-virtio built-in disk\n"));
  for (let i = 4096; i < d.length; i += 4096) d[i] = i >>> 12;
  return d;
}

async function boot(image: Uint8Array | undefined): Promise<void> {
  api.state = "booting";
  setStatus("loading the kit…");
  const packed = params.get("packed") === "1";
  const [kit, wasm] = await Promise.all([loadPageKit(), fetchBytes("v86.wasm")]);
  const console_ = new ConsoleDevice({ size: { cols: term.cols, rows: term.rows } });
  const input = new InputDevice(keyboardProfile());
  const peer = new EchoPeer();
  const named: [string, VirtioDevice][] = [
    ["blk", new BlkDevice({ storage: new MemoryStorage(image ?? builtInDisk()), packed })],
    ["net", new NetDevice({ backend: peer })],
    ["console", console_],
    ["rng", new RngDevice({ packed })],
    ["input", input],
  ];
  setStatus("booting Linux in v86…");
  term.write(
    "Booting Linux in v86 (a minute or more; its log is under Serial console).\r\n" +
      "The shell opens here, on /dev/hvc0: our virtio-console.\r\n\r\n",
  );
  const started = performance.now();
  const inspectors: QueueInspector[] = [];
  const machine = await bootV86({
    kit,
    devices: named.map(([, device]) => ({ device, transport: "pci" as const })),
    onSerial,
    // `?debug=1`: the kernel's messages on the serial console.
    cmdline: params.get("debug") === "1" ? "loglevel=7" : "",
    log: (m) => console.warn(`[host] ${m}`),
    v86Options: { wasm_fn: v86Wasm(wasm) },
    // Before the first guest instruction: the inspector taps the devices and shows the boot too.
    onHost: (host) => {
      host.attached.forEach((a, i) => {
        const fn = a.function as PciFunction | MmioDevice;
        inspectors.push(new QueueInspector(named[i][0], fn.core));
      });
      api.inspectors = inspectors;
      view = new InspectorView(inspectorPanel.querySelector(".body") as HTMLElement, inspectors);
      setInterval(() => {
        const now = performance.now();
        for (const i of inspectors) i.sample(now);
      }, 1000);
      setInspector(inspectorOpen);
    },
  });
  api.machine = machine;

  // The terminal is the guest's virtio console: a shell on /dev/hvc0.
  const port = console_.port(0);
  if (port === undefined) throw new Error("page: console port 0 is missing");
  const writer = port.writable.getWriter();
  const enc = new TextEncoder();
  term.onData((d) => void writer.write(enc.encode(d)));
  term.onKey(({ domEvent }) => {
    const code = linuxKeyCode(domEvent.code);
    if (code !== undefined) {
      input.key(code, true);
      input.key(code, false);
    }
  });
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of port.readable) term.write(dec.decode(chunk, { stream: true }));
  })();
  await machine.run("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up");
  await machine.run(
    "setsid sh -c 'exec sh -i </dev/hvc0 >/dev/hvc0 2>&1' </dev/null >/dev/null 2>&1 &",
  );
  // The shell on hvc0 prints its prompt once it is up.
  await api.waitForTerminal("# ", 600_000);
  api.bootSeconds = (performance.now() - started) / 1000;
  api.state = "ready";
  readyResolve();
  setStatus(
    `Linux up in ${api.bootSeconds.toFixed(1)} s: blk, net (ping 10.0.2.2), console, rng, ` +
      `input on virtio-pci${packed ? " (blk and rng packed)" : ""}`,
  );
  term.focus();
}

const picker = $<HTMLInputElement>("disk");
const bootButton = $<HTMLButtonElement>("boot");
const start = async (): Promise<void> => {
  bootButton.disabled = true;
  picker.disabled = true;
  try {
    const f = picker.files?.[0];
    await boot(f ? new Uint8Array(await f.arrayBuffer()) : undefined);
  } catch (e) {
    api.state = "error";
    api.error = e instanceof Error ? e.message : String(e);
    setStatus(`failed: ${api.error}`);
    readyReject(e);
    throw e;
  }
};
bootButton.addEventListener("click", () => void start());
if (params.get("autoboot") !== "0") void start();
