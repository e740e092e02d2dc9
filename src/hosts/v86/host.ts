/**
 * The v86 host: puts our device-side transports in front of Linux running in
 * v86. {@link V86Host} attaches any {@link VirtioDevice} as a PCI function
 * ({@link PciFunction}, modern or transitional) or an MMIO device
 * ({@link MmioDevice}, version 2 or 1) on a v86 machine: config space
 * through v86's PCI bus, BARs and MMIO windows through its memory map and
 * I/O ports, interrupts on its IRQ lines, and guest memory as a
 * {@link GuestMemory} over v86's memory.
 *
 * Linux sees the same function it would under QEMU, with two v86 limits:
 * INTx only (boot with `pci=nomsi`; v86 has no MSI), and BARs stay where the
 * host put them (a guest that moves one is refused and logged, as v86 does
 * for its own devices).
 *
 * @module
 */

import type { ConfigWidth, VirtioDevice } from "../../device.ts";
import { GuestMemory, type MemoryRegion } from "../../memory.ts";
import { MmioDevice } from "../../transport/mmio/mod.ts";
import { PciFunction } from "../../transport/pci/mod.ts";
import type { TransportLog } from "../../transport/device_state.ts";
import {
  VIRTIO_PCI_CAP_COMMON_CFG,
  VirtioPciCap,
  VirtioPciCommonCfg,
} from "../../generated/pci.ts";
import {
  cpuRunState,
  dropStaleCascade,
  guestRam,
  MMAP_BLOCK_SIZE,
  pciIrq,
  picLine,
  type V86Cpu,
  V86HostError,
  v86Internals,
} from "./_internals.ts";
import { type TimerId, timers, unrefTimer } from "./_runtime.ts";

export { V86_VERSION, V86HostError } from "./_internals.ts";

/** Where the host puts PCI memory BARs (fixed; v86 cannot move them). */
const PCI_MMIO_BASE = 0xfe000000;
/** Room per PCI function in that window. */
const PCI_MMIO_STRIDE = 0x10000;
/** The first I/O port of transitional functions' legacy BAR0, 0x100 per function. */
const PCI_IO_BASE = 0xd000;
/** The first PCI slot of our functions (v86 uses 0, 1, 5, 0x12 and 0x1e for its own). */
const PCI_FIRST_SLOT = 0x08;
/** Where MMIO devices go, 0x1000 apart. */
const MMIO_BASE = 0xfe800000;
/** 4.2.2: the register window of one virtio-mmio device (config space included). */
const MMIO_SIZE = 0x200;
/** ISA IRQs free on a v86 machine, given to MMIO devices in turn. */
const MMIO_IRQS = [5, 7, 9, 3, 6, 15];

/** The legacy VGA window, the one hole in v86's RAM below its size. */
const VGA_START = 0xa0000;
const VGA_END = 0xc0000;

const PCI_COMMAND = 0x04;
const PCI_BAR0 = 0x10;
const PCI_CAPABILITY_LIST = 0x34;
const PCI_INTERRUPT_PIN = 0x3d;
const PCI_COMMAND_INTX_DISABLE = 0x400;

/** How often a line still up is raised again (see `#startRepulse`). */
const REPULSE_MS = 50;

/** How a device is attached. */
export type V86Transport = "pci" | "pci-transitional" | "mmio" | "mmio-v1";

/** Options of {@link V86Host}. */
export interface V86HostOptions {
  /** Where refused guest accesses are logged (default `console.warn`). */
  readonly log?: TransportLog;
}

/** One attached device. */
export interface V86Attachment {
  /** The hosted device model. */
  readonly device: VirtioDevice;
  /** How it is attached. */
  readonly transport: V86Transport;
  /** The transport object (our device side). */
  readonly function: PciFunction | MmioDevice;
  /** The ISA IRQ it raises (for PCI, the one the PIRQ routing gives at the time). */
  irq(): number;
  /** PCI: the slot; MMIO: undefined. */
  readonly slot?: number;
  /** MMIO: the base address; PCI: undefined. */
  readonly base?: number;
}

/** A memory-mapped window served by the host. */
interface Window {
  readonly base: number;
  readonly size: number;
  read(offset: number, width: ConfigWidth): number;
  write(offset: number, width: ConfigWidth, value: number): void;
  /** Read width of a 1-byte read at `offset` (v86 splits 16-bit reads into bytes). */
  readWidth(offset: number): { at: number; width: ConfigWidth };
}

/**
 * Guest memory over v86's memory. Device models write guest buffers through
 * zero-copy views, which bypass v86's write path, so every range handed out
 * is noted and, before the guest runs again (at each interrupt and after
 * each register access), v86's JIT drops code compiled from those pages: the
 * same as v86's own `write_blob`.
 */
class V86Memory extends GuestMemory {
  readonly #starts = new Float64Array(256);
  readonly #ends = new Float64Array(256);
  #count = 0;
  #overflow = false;
  readonly #cpu: V86Cpu;
  readonly #ram: Uint8Array;

  constructor(cpu: V86Cpu) {
    super();
    this.#cpu = cpu;
    const ram = guestRam(cpu);
    this.#ram = ram;
    // v86's RAM is all of mem8 but the VGA window 0xa0000-0xbffff (which it maps to VGA).
    this.addRegion(0, ram.subarray(0, VGA_START));
    this.addRegion(VGA_END, ram.subarray(VGA_END));
  }

  override regionFor(addr: number, len: number): MemoryRegion | undefined {
    const r = super.regionFor(addr, len);
    if (r !== undefined && len > 0) {
      const n = this.#count;
      if (n > 0 && this.#ends[n - 1] === addr) this.#ends[n - 1] = addr + len;
      else if (n < this.#starts.length) {
        this.#starts[n] = addr;
        this.#ends[n] = addr + len;
        this.#count = n + 1;
      } else this.#overflow = true;
    }
    return r;
  }

  /** Tell v86's JIT about every range handed out since the last flush. */
  flush(): void {
    if (this.#ram.byteLength === 0) {
      // only where the memory cannot be resizable: v86 grew it past its headroom
      throw new V86HostError(
        "v86 host: v86 grew its wasm memory past the headroom it was given, which detached " +
          "the host's view of guest memory (a runtime with " +
          "WebAssembly.Memory.prototype.toResizableBuffer does not need the headroom)",
        { code: "ERR_VIRTIO_V86_MEMORY_GREW" },
      );
    }
    if (this.#overflow) {
      this.#cpu.jit_dirty_cache(0, this.#cpu.memory_size[0]);
    } else {
      for (let i = 0; i < this.#count; i++) {
        this.#cpu.jit_dirty_cache(this.#starts[i], this.#ends[i]);
      }
    }
    this.#count = 0;
    this.#overflow = false;
  }
}

/**
 * Hosts typed-virtio devices on a v86 machine. Make it at `emulator-ready`
 * (before the first instruction), attach devices, then let the emulator run.
 * For MMIO devices, the guest needs their addresses and IRQs:
 * {@link V86Host.mmioKernelArgs} gives them in the form the kit's initramfs
 * reads (the kernel command line must be chosen before the machine starts,
 * so {@link mmioKernelArgs} computes the same words from the count in advance).
 */
export class V86Host {
  /** Guest memory as a {@link GuestMemory}. */
  readonly memory: GuestMemory;
  /** The attached devices in order. */
  readonly attached: V86Attachment[] = [];
  /** Guest accesses refused by the host itself (outside every device's window, moved BARs). */
  get refused(): number {
    return this.#refused;
  }
  #refused = 0;
  readonly #cpu: V86Cpu;
  readonly #log: TransportLog;
  readonly #windows: Window[] = [];
  readonly #mappedBlocks = new Set<number>();
  readonly #pciBySlot = new Map<number, PciFunction>();
  readonly #levels = new Map<
    number,
    { sources: Set<object>; applied: boolean; pulse: boolean }
  >();
  #applyQueued = false;
  #pciCount = 0;
  #mmioCount = 0;
  #repulse: TimerId | undefined;
  #closed = false;

  /** A host on `emulator` (a `V86` after `emulator-ready`). */
  constructor(emulator: unknown, options: V86HostOptions = {}) {
    this.#cpu = v86Internals(emulator);
    this.#log = options.log ?? ((m) => console.warn(m));
    this.memory = new V86Memory(this.#cpu);
    this.#hookPciConfig();
    this.#hookWrite16();
  }

  /** Attach `device` with `transport`; returns what was attached where. */
  attach(device: VirtioDevice, transport: V86Transport): V86Attachment {
    return transport === "pci" || transport === "pci-transitional"
      ? this.#attachPci(device, transport === "pci-transitional")
      : this.#attachMmio(device, transport === "mmio-v1" ? 1 : 2);
  }

  /**
   * A read-only diagnostic of the machine's devices, several lines of text
   * (`V86Machine` appends it to an `ERR_VIRTIO_V86_TIMEOUT` error): first
   * v86's CPU (in HLT or running, the interrupt flag, the instruction
   * pointer), then for each attached device where it sits and its IRQ, the
   * level the host keeps on that line for it, v86's 8259 view of the line
   * (level, requested, in service, masked; for a slave line also the
   * master's cascade line 2), and the transport's
   * `core.describe()` (`TransportDeviceState`: status, features, interrupt
   * state, each queue from guest memory). It only reads, and never throws:
   * what cannot be read is said so in its place.
   */
  describe(): string {
    const lines: string[] = [];
    const say = (what: string, f: () => string): void => {
      try {
        lines.push(f());
      } catch (e) {
        lines.push(`${what}: not described (${e instanceof Error ? e.message : String(e)})`);
      }
    };
    say("v86 CPU", () => {
      const c = cpuRunState(this.#cpu);
      return `v86 CPU: ${c.halted ? "halted (HLT, waiting for an interrupt)" : "running"}, ` +
        `interrupts ${c.interrupts ? "enabled" : "disabled"} (IF), EIP 0x${c.eip.toString(16)}`;
    });
    if (this.attached.length === 0) lines.push("no device attached");
    this.attached.forEach((a, n) => {
      say(`device ${n}`, () => {
        const irq = a.irq();
        const at = a.slot !== undefined
          ? `PCI slot 0x${a.slot.toString(16)}`
          : `MMIO 0x${(a.base ?? 0).toString(16)}`;
        const line = this.#levels.get(irq);
        const mine = line?.sources.has(a.function) ?? false;
        const others = (line?.sources.size ?? 0) - (mine ? 1 : 0);
        const host = `host line ${line?.applied ? "up" : "down"}` +
          `${mine ? ", asserted by this device" : ", not asserted by this device"}` +
          `${others > 0 ? `, asserted by ${others} other device(s)` : ""}`;
        const pic = picLine(this.#cpu, irq).map((p) =>
          `v86 ${p.chip} 8259 (vectors 0x${p.vectorBase.toString(16)}+) IRQ ${p.irq}: ` +
          `level ${p.level ? "high" : "low"}, ${p.requested ? "requested" : "not requested"} ` +
          `(IRR), ${p.inService ? "in service" : "not in service"} (ISR), ` +
          `${p.masked ? "masked" : "unmasked"} (IMR)`
        ).join("; ");
        return `device ${n}: ${a.transport} at ${at}, IRQ ${irq}: ${host}; ${pic}`;
      });
      say(`device ${n}`, () => a.function.core.describe());
    });
    return lines.join("\n");
  }

  /** The kernel command line words that declare the attached MMIO devices (kit's initramfs). */
  mmioKernelArgs(): string {
    return mmioKernelArgs(this.#mmioCount);
  }

  // ---- interrupts ----

  /**
   * Set the level of `source` on `irq`. The line itself changes later, in a
   * microtask: v86 delivers an interrupt as soon as a line rises, and a rise
   * inside a register access would enter the guest's handler in the middle
   * of the instruction doing the access (which v86 then runs again: an ISR
   * read would clear the status twice and lose the interrupt).
   */
  #level(irq: number, source: object, up: boolean, fresh = false): void {
    let line = this.#levels.get(irq);
    if (line === undefined) {
      this.#levels.set(irq, line = { sources: new Set(), applied: false, pulse: false });
    }
    const was = line.sources.size > 0;
    if (up) line.sources.add(source);
    else line.sources.delete(source);
    // v86's PIC latches a request only when a line is raised, and forgets it
    // once acknowledged: a line that stays up for another source, or carries
    // a new interrupt, is raised anew.
    if (was && line.sources.size > 0 && (fresh || !up)) line.pulse = true;
    if (!this.#applyQueued) {
      this.#applyQueued = true;
      queueMicrotask(() => this.#applyLevels());
    }
  }

  #applyLevels(): void {
    this.#applyQueued = false;
    if (this.#closed) return;
    let any = false;
    for (const [irq, line] of this.#levels) {
      const now = line.sources.size > 0;
      any ||= now;
      if (now && !line.applied) this.#cpu.device_raise_irq(irq);
      else if (now && line.pulse) this.#pulse(irq);
      else if (!now && line.applied) {
        this.#cpu.device_lower_irq(irq);
        if (irq >= 8) dropStaleCascade(this.#cpu);
      }
      line.applied = now;
      line.pulse = false;
    }
    if (any) this.#startRepulse();
  }

  #pulse(irq: number): void {
    this.#cpu.device_lower_irq(irq);
    this.#cpu.device_raise_irq(irq);
  }

  /**
   * While any line is up, raise it again every few milliseconds: a level
   * line that a real PIC would keep requesting, which v86's does not (an
   * acknowledged request of a line still up is otherwise lost).
   */
  #startRepulse(): void {
    if (this.#repulse !== undefined || this.#closed) return;
    const timer = timers.setInterval(() => {
      let any = false;
      for (const [irq, line] of this.#levels) {
        if (line.applied) {
          any = true;
          this.#pulse(irq);
        }
      }
      if (!any) {
        timers.clearInterval(timer);
        this.#repulse = undefined;
      }
    }, REPULSE_MS);
    unrefTimer(timer);
    this.#repulse = timer;
  }

  /** Stops the host's timer (the emulator is the caller's to destroy). */
  close(): void {
    this.#closed = true;
    if (this.#repulse !== undefined) timers.clearInterval(this.#repulse);
    this.#repulse = undefined;
  }

  #memoryFlush(): void {
    (this.memory as V86Memory).flush();
  }

  // ---- PCI ----

  #attachPci(device: VirtioDevice, transitional: boolean): V86Attachment {
    const n = this.#pciCount++;
    const slot = PCI_FIRST_SLOT + n;
    const fn = new PciFunction(device, this.memory, {
      transitional,
      log: this.#log,
      name: `v86 ${transitional ? "transitional" : "modern"} ${slot.toString(16)}.0`,
    });
    // Firmware's job, done once here: the BARs at fixed places.
    const mem = PCI_MMIO_BASE + n * PCI_MMIO_STRIDE;
    const bars: number[] = [];
    let memAt = mem;
    for (let b = 0; b < 6; b++) {
      const off = PCI_BAR0 + 4 * b;
      const flags = fn.configRead(off, 4);
      fn.configWrite(off, 4, 0xffffffff);
      const mask = fn.configRead(off, 4);
      if (mask === 0 || mask === flags) {
        bars.push(fn.configRead(off, 4));
        continue;
      }
      const io = (flags & 1) === 1;
      const size = (~(mask & (io ? ~3 : ~0xf)) >>> 0) + 1;
      // Naturally aligned, as BARs must be.
      const addr = io ? PCI_IO_BASE + n * 0x100 : Math.ceil(memAt / size) * size;
      if (!io) memAt = addr + Math.max(size, 0x1000);
      fn.configWrite(off, 4, addr);
      bars.push(fn.configRead(off, 4));
      if (io) this.#mapPorts(fn, b, addr, size);
      else this.#mapWindow(this.#pciWindow(fn, b, addr, size));
      if ((flags & 0x6) === 0x4) { // 64-bit: the upper half
        fn.configWrite(off + 4, 4, 0);
        bars.push(0);
        b++;
      }
    }
    const pin = fn.configRead(PCI_INTERRUPT_PIN, 1);
    const irq = () => pciIrq(this.#cpu, slot, pin);
    fn.connect(() => this.#pciSync(fn, irq, true));
    this.#pciBySlot.set(slot, fn);
    this.#fixedBars.set(fn, bars);
    // Registered with v86 too, so that its bus lists the slot (config goes through the hook).
    const space: number[] = [];
    for (let i = 0; i < 64; i++) space.push(fn.configRead(i, 1));
    this.#cpu.devices.pci.register_device({
      name: `typed-virtio ${device.deviceId}`,
      pci_id: slot << 3,
      pci_space: space,
      pci_bars: [],
    });
    const a: V86Attachment = {
      device,
      transport: transitional ? "pci-transitional" : "pci",
      function: fn,
      irq,
      slot,
    };
    this.attached.push(a);
    return a;
  }

  readonly #fixedBars = new Map<PciFunction, number[]>();

  #pciSync(fn: PciFunction, irq: () => number, fresh = false): void {
    const cmd = fn.configRead(PCI_COMMAND, 2);
    this.#level(irq(), fn, fn.isr !== 0 && (cmd & PCI_COMMAND_INTX_DISABLE) === 0, fresh);
    this.#memoryFlush();
  }

  #syncAll(fn: PciFunction): void {
    const a = this.attached.find((x) => x.function === fn);
    if (a !== undefined) this.#pciSync(fn, a.irq);
  }

  /** Route config cycles for our slots to our functions instead of v86's static bytes. */
  #hookPciConfig(): void {
    const pci = this.#cpu.devices.pci;
    const query = pci.pci_query.bind(pci);
    const fnAt = (address: number): [PciFunction | undefined, number] => {
      const bdf = (address >> 8) & 0xffff;
      // Function 0 of bus 0 only.
      return [(bdf & 0xff07) === 0 ? this.#pciBySlot.get(bdf >> 3) : undefined, address & 0xff];
    };
    pci.pci_query = () => {
      const a = pci.pci_addr;
      const address = a[2] << 16 | a[1] << 8 | a[0];
      const [fn, reg] = fnAt(address);
      if (fn === undefined || (a[3] & 0x80) === 0) return query();
      pci.pci_status32[0] = 0x80000000 | 0;
      pci.pci_response32[0] = fn.configRead(reg & 0xfc, 4) | 0;
    };
    const hook =
      (width: ConfigWidth, orig: (address: number, value: number) => void) =>
      (address: number, value: number) => {
        const [fn, reg] = fnAt(address);
        if (fn === undefined) return orig.call(pci, address, value);
        this.#pciConfigWrite(fn, reg, width, value);
      };
    pci.pci_write8 = hook(1, pci.pci_write8);
    pci.pci_write16 = hook(2, pci.pci_write16);
    pci.pci_write32 = hook(4, pci.pci_write32);
  }

  #pciConfigWrite(fn: PciFunction, reg: number, width: ConfigWidth, value: number): void {
    if (reg >= PCI_BAR0 && reg < PCI_BAR0 + 24 && width === 4) {
      const b = (reg - PCI_BAR0) >> 2;
      const fixed = this.#fixedBars.get(fn)?.[b] ?? 0;
      // Sizing (all ones) goes through; any other value puts the fixed address back.
      if ((value >>> 0) === 0xffffffff) return fn.configWrite(reg, 4, value);
      if ((value >>> 0) !== (fixed >>> 0) && (value & ~0xf) !== 0) {
        this.#refused++;
        this.#log(
          `v86 host: BAR${b} of slot ${fn.core.where}: move to 0x${(value >>> 0).toString(16)} ` +
            `refused, BARs stay at 0x${(fixed >>> 0).toString(16)}`,
        );
      }
      fn.configWrite(reg, 4, fixed);
      return;
    }
    fn.configWrite(reg, width, value);
    if (reg <= PCI_COMMAND + 1 && reg + width > PCI_COMMAND) this.#syncAll(fn);
  }

  /** BAR `bar` of `fn` as a memory window at `addr`. */
  #pciWindow(fn: PciFunction, bar: number, addr: number, size: number): Window {
    // v86 splits 16-bit reads into byte reads; a byte of a common config field
    // is read as the whole field (the fields have no read side effects).
    const common = this.#capWindow(fn, VIRTIO_PCI_CAP_COMMON_CFG);
    const fields = Object.values(VirtioPciCommonCfg.OFFSETS).sort((x, y) => x - y);
    const widthAt = (offset: number): { at: number; width: ConfigWidth } => {
      if (common !== undefined && common.bar === bar) {
        const rel = offset - common.offset;
        if (rel >= 0 && rel < VirtioPciCommonCfg.SIZE) {
          let i = fields.length - 1;
          while (fields[i] > rel) i--;
          const end = fields[i + 1] ?? VirtioPciCommonCfg.SIZE;
          const w = end - fields[i];
          if (w === 2 || w === 4) return { at: common.offset + fields[i], width: w };
        }
      }
      return { at: offset, width: 1 };
    };
    return {
      base: addr,
      size,
      read: (offset, width) => {
        const v = fn.barRead(bar, offset, width);
        this.#syncAll(fn);
        return v;
      },
      write: (offset, width, value) => {
        fn.barWrite(bar, offset, width, value);
        this.#syncAll(fn);
      },
      readWidth: widthAt,
    };
  }

  /** Where a virtio capability of type `type` points (bar, offset), read from config space. */
  #capWindow(fn: PciFunction, type: number): { bar: number; offset: number } | undefined {
    const c = new DataView(new ArrayBuffer(256));
    for (let i = 0; i < 256; i += 4) c.setUint32(i, fn.configRead(i, 4), true);
    const cap = new VirtioPciCap(c);
    for (let at = c.getUint8(PCI_CAPABILITY_LIST) & 0xfc, n = 0; at !== 0 && n < 48; n++) {
      cap.at(at);
      if (cap.capVndr === 0x09 && cap.cfgType === type) {
        return { bar: cap.bar, offset: cap.barOffset };
      }
      at = cap.capNext & 0xfc;
    }
    return undefined;
  }

  /** An I/O BAR on v86's port table, one closure per port and width. */
  #mapPorts(fn: PciFunction, bar: number, port: number, size: number): void {
    const io = this.#cpu.io;
    for (let i = 0; i < size; i++) {
      const rd = (w: ConfigWidth) => () => {
        const v = fn.barRead(bar, i, w);
        this.#syncAll(fn);
        return v;
      };
      const wr = (w: ConfigWidth) => (value: number) => {
        fn.barWrite(bar, i, w, value);
        this.#syncAll(fn);
      };
      io.register_read(port + i, fn, rd(1), rd(2), rd(4));
      io.register_write(port + i, fn, wr(1), wr(2), wr(4));
    }
  }

  // ---- MMIO ----

  #attachMmio(device: VirtioDevice, version: 1 | 2): V86Attachment {
    const n = this.#mmioCount;
    if (n >= MMIO_IRQS.length) {
      throw new V86HostError(`v86 host: at most ${MMIO_IRQS.length} MMIO devices`, {
        code: "ERR_VIRTIO_V86_TOO_MANY",
      });
    }
    this.#mmioCount++;
    const base = MMIO_BASE + n * 0x1000;
    const irqNo = MMIO_IRQS[n];
    const dev = new MmioDevice(device, this.memory, {
      version,
      log: this.#log,
      name: `v86 mmio v${version} @0x${base.toString(16)}`,
    });
    const sync = (fresh = false) => {
      this.#level(irqNo, dev, dev.interruptStatus !== 0, fresh);
      this.#memoryFlush();
    };
    dev.connect(() => sync(true));
    this.#mapWindow({
      base,
      size: MMIO_SIZE,
      read: (offset, width) => {
        const v = dev.read(offset, width);
        sync();
        return v;
      },
      write: (offset, width, value) => {
        dev.write(offset, width, value);
        sync();
      },
      readWidth: (offset) => ({ at: offset, width: 1 }),
    });
    const a: V86Attachment = {
      device,
      transport: version === 1 ? "mmio-v1" : "mmio",
      function: dev,
      irq: () => irqNo,
      base,
    };
    this.attached.push(a);
    return a;
  }

  // ---- the memory map ----

  #mapWindow(w: Window): void {
    this.#windows.push(w);
    const first = Math.floor(w.base / MMAP_BLOCK_SIZE);
    const last = Math.floor((w.base + w.size - 1) / MMAP_BLOCK_SIZE);
    for (let b = first; b <= last; b++) {
      if (this.#mappedBlocks.has(b)) continue;
      this.#mappedBlocks.add(b);
      this.#cpu.io.mmap_register(
        b * MMAP_BLOCK_SIZE,
        MMAP_BLOCK_SIZE,
        (addr) => this.#mmioRead8(addr >>> 0),
        (addr, value) => this.#mmioWrite(addr >>> 0, 1, value),
        (addr) => this.#mmioRead(addr >>> 0, 4) | 0,
        (addr, value) => this.#mmioWrite(addr >>> 0, 4, value),
      );
    }
  }

  #window(addr: number, width: number): Window | undefined {
    for (const w of this.#windows) {
      if (addr >= w.base && addr + width <= w.base + w.size) return w;
    }
    return undefined;
  }

  #mmioRead8(addr: number): number {
    const w = this.#window(addr, 1);
    if (w === undefined) return this.#stray(addr, 1);
    const off = addr - w.base;
    const { at, width } = w.readWidth(off);
    if (width === 1) return w.read(off, 1) & 0xff;
    return (w.read(at, width) >>> (8 * (off - at))) & 0xff;
  }

  #mmioRead(addr: number, width: ConfigWidth): number {
    const w = this.#window(addr, width);
    if (w === undefined) return this.#stray(addr, width);
    return w.read(addr - w.base, width);
  }

  #mmioWrite(addr: number, width: ConfigWidth, value: number): void {
    const w = this.#window(addr, width);
    if (w === undefined) {
      this.#stray(addr, width, value);
      return;
    }
    w.write(addr - w.base, width, value >>> 0);
  }

  #stray(addr: number, width: number, value?: number): number {
    this.#refused++;
    this.#log(
      `v86 host: ${width}-byte ${value === undefined ? "read" : "write"} at 0x${
        addr.toString(16)
      } hits no device window: refused`,
    );
    return 0xffffffff >>> (32 - 8 * width);
  }

  /** v86 turns a 16-bit MMIO write into two byte writes; ours are taken whole. */
  #hookWrite16(): void {
    const cpu = this.#cpu;
    const orig = cpu.mmap_write16.bind(cpu);
    cpu.mmap_write16 = (addr: number, value: number) => {
      const a = addr >>> 0;
      if (!this.#mappedBlocks.has(Math.floor(a / MMAP_BLOCK_SIZE))) return orig(addr, value);
      this.#mmioWrite(a, 2, value & 0xffff);
    };
  }
}

/** The kernel command line words declaring `count` MMIO devices (see {@link V86Host}). */
export function mmioKernelArgs(count: number): string {
  if (count === 0) return "";
  const n = Math.min(count, MMIO_IRQS.length);
  const bases = Array.from({ length: n }, (_, i) => "0x" + (MMIO_BASE + i * 0x1000).toString(16));
  return `tv_mmio.base=${bases.join(",")} tv_mmio.irq=${MMIO_IRQS.slice(0, n).join(",")}`;
}
