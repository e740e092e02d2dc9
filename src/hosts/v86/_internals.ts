/**
 * Every use of v86's internal API in one place. v86 exports an emulator
 * object, but its PCI bus, I/O port table, memory map, interrupt lines and
 * JIT are internals reached through `emulator.v86.cpu`. {@link v86Internals}
 * checks each member this host uses and throws a {@link V86HostError} naming
 * the first one missing, so that a v86 upgrade that moves one fails at once
 * and clearly (tests/hosts/v86/internals_test.ts runs the check).
 *
 * @module
 */

import { VirtioError } from "../../errors.ts";
import { WasmPatchError, withFixedMemory, withMemoryMaximum } from "./_wasm_patch.ts";

/** The v86 version this host is written and tested against (npm `v86`). */
export const V86_VERSION = "0.5.462";

/** A v86 host failure: a missing v86 internal, a missing kit, a guest that did not answer. */
export class V86HostError extends VirtioError {
  /** The default code of this class: `ERR_VIRTIO_V86`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_V86";
}

/** An I/O port read handler (v86 passes no port: one closure per port). */
export type PortRead = () => number;
/** An I/O port write handler. */
export type PortWrite = (value: number) => void;
/** A memory-mapped read handler; v86 passes the address as a signed 32-bit number. */
export type MmapRead = (addr: number) => number;
/** A memory-mapped write handler. */
export type MmapWrite = (addr: number, value: number) => void;

/** The part of v86's PCI bus this host uses. */
export interface V86Pci {
  register_device(device: {
    name: string;
    pci_id: number;
    pci_space: number[];
    pci_bars: unknown[];
  }): Int32Array;
  pci_query(): void;
  pci_write8(address: number, value: number): void;
  pci_write16(address: number, value: number): void;
  pci_write32(address: number, value: number): void;
  readonly pci_addr: Uint8Array;
  readonly pci_status32: Int32Array;
  readonly pci_response32: Int32Array;
  readonly isa_bridge_space8: Uint8Array;
}

/** The part of v86's I/O port table this host uses. */
export interface V86Io {
  register_read(port: number, device: object, r8?: PortRead, r16?: PortRead, r32?: PortRead): void;
  register_write(
    port: number,
    device: object,
    w8?: PortWrite,
    w16?: PortWrite,
    w32?: PortWrite,
  ): void;
  mmap_register(
    addr: number,
    size: number,
    r8: MmapRead,
    w8: MmapWrite,
    r32: MmapRead,
    w32: MmapWrite,
  ): void;
}

/**
 * The part of a `WebAssembly.Memory` the host uses (typed here: the npm
 * package's declarations must not need the WebAssembly types, which Node's
 * type definitions lack).
 */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  /** Deno 2 and Node 22+. */
  toResizableBuffer?(): ArrayBuffer;
}

/** v86's `wasm_fn` option: instantiates v86's wasm with the imports v86 gives, to its exports. */
export type WasmInstantiate = (imports: object) => Promise<Record<string, unknown>>;

/** The part of v86's CPU this host uses. */
export interface V86Cpu {
  /** Guest RAM: a Proxy that makes a fresh view on each access (the wasm memory may grow). */
  readonly mem8: { readonly byteOffset: number; readonly length: number };
  /** A Proxy over a one-element Uint32Array. */
  readonly memory_size: { readonly [0]: number };
  readonly wasm_memory: WasmMemory;
  readonly io: V86Io;
  readonly devices: { readonly pci: V86Pci };
  device_raise_irq(irq: number): void;
  device_lower_irq(irq: number): void;
  /** Drops JIT-compiled code of the pages in `[start, end)`: what v86's own write path does. */
  jit_dirty_cache(start: number, end: number): void;
  /** Where the master and slave 8259 state sit in the wasm memory (v86's state saving reads them). */
  get_pic_addr_master(): number;
  get_pic_addr_slave(): number;
  /** v86 splits a 16-bit MMIO write into two 8-bit ones here; the host takes it whole. */
  mmap_write16(addr: number, value: number): void;
  /** A Proxy over a one-element Uint8Array: 1 while the CPU sits in HLT (read for diagnostics). */
  readonly in_hlt: { readonly [0]: number };
  /** A Proxy over a one-element Int32Array: EFLAGS (read for diagnostics: IF). */
  readonly flags: { readonly [0]: number };
  /** A Proxy over a one-element Int32Array: the linear address of the next instruction. */
  readonly instruction_pointer: { readonly [0]: number };
}

/** Whether this runtime has `WebAssembly.Memory.prototype.toResizableBuffer` (Deno 2, Node 22+). */
export function hasResizableWasmBuffer(): boolean {
  return typeof (WebAssembly.Memory.prototype as { toResizableBuffer?: unknown })
    .toResizableBuffer === "function";
}

/**
 * Guest RAM as a plain `Uint8Array` over v86's wasm memory that stays valid
 * while v86 runs. v86's JIT allocates in the same wasm memory, so it grows
 * while the guest runs, and growth detaches an ordinary `ArrayBuffer` (v86
 * itself re-creates its views on every access). Where the runtime has
 * `toResizableBuffer`, the view is over the resizable buffer, which growth
 * does not detach ({@link v86Wasm} gave the memory the maximum this needs);
 * elsewhere (Node 20) {@link v86Wasm} made the memory one that does not grow
 * (see `withFixedMemory`), and the view is over its buffer as it is.
 */
export function guestRam(cpu: V86Cpu): Uint8Array {
  const memory = cpu.wasm_memory;
  const buffer = typeof memory.toResizableBuffer === "function"
    ? memory.toResizableBuffer()
    : memory.buffer;
  return new Uint8Array(buffer, cpu.mem8.byteOffset, cpu.memory_size[0]);
}

/** Bytes of wasm memory v86's JIT gets beside the guest's RAM where the memory cannot grow. */
export const JIT_HEADROOM = 256 << 20;

/**
 * The `wasm_fn` option for `new V86`. Where the runtime has
 * `toResizableBuffer`: v86's wasm with a maximum on its memory (it has
 * none), so that {@link guestRam} can make the memory's buffer resizable.
 * Elsewhere: with a memory of `memoryBytes` (guest RAM and VGA memory) plus
 * {@link JIT_HEADROOM} from the start that v86's allocator takes pages of
 * instead of growing it (`withFixedMemory`). `fixed` forces the second
 * (tests run it on Deno too). Throws if the module is not shaped as v86
 * 0.5.462's is.
 */
export function v86Wasm(
  bytes: Uint8Array,
  options: { memoryBytes?: number; fixed?: boolean } = {},
): WasmInstantiate {
  let patched: Uint8Array;
  try {
    patched = options.fixed || !hasResizableWasmBuffer()
      ? withFixedMemory(bytes, (options.memoryBytes ?? 512 << 20) + JIT_HEADROOM).bytes
      : withMemoryMaximum(bytes);
  } catch (e) {
    if (!(e instanceof WasmPatchError)) throw e;
    need(false, `${e.message} (v86.wasm)`);
    throw e;
  }
  const module = WebAssembly.compile(patched as Uint8Array<ArrayBuffer>);
  return async (imports) =>
    (await WebAssembly.instantiate(await module, imports as WebAssembly.Imports)).exports;
}

/** Bytes of one block of v86's memory map (`mmap_register` takes whole blocks). */
export const MMAP_BLOCK_SIZE = 0x20000;

const need = (ok: boolean, what: string): void => {
  if (!ok) {
    throw new V86HostError(
      `v86 internal API moved: ${what} is missing. This host is written against v86 ` +
        `${V86_VERSION}; update src/hosts/v86/_internals.ts for the installed version.`,
      { code: "ERR_VIRTIO_V86_INTERNAL_API" },
    );
  }
};

const isFn = (o: unknown, name: string): boolean =>
  typeof o === "object" && o !== null && typeof (o as Record<string, unknown>)[name] === "function";

/**
 * The v86 internals behind `emulator` (a `V86` object after `emulator-ready`),
 * checked member by member.
 */
export function v86Internals(emulator: unknown): V86Cpu {
  const v86 = (emulator as { v86?: { cpu?: unknown } } | null)?.v86;
  need(typeof v86 === "object" && v86 !== null, "emulator.v86 (call after emulator-ready)");
  const cpu = v86?.cpu as Partial<V86Cpu> | undefined;
  need(typeof cpu === "object" && cpu !== null, "emulator.v86.cpu");
  const c = cpu as V86Cpu;
  need(c.wasm_memory instanceof WebAssembly.Memory, "cpu.wasm_memory");
  need(
    typeof c.mem8?.byteOffset === "number" && c.mem8.length > 0,
    "cpu.mem8 (guest memory)",
  );
  need(
    typeof c.memory_size?.[0] === "number" && c.memory_size[0] === c.mem8.length,
    "cpu.memory_size",
  );
  for (
    const f of [
      "device_raise_irq",
      "device_lower_irq",
      "jit_dirty_cache",
      "mmap_write16",
      "get_pic_addr_master",
      "get_pic_addr_slave",
    ]
  ) {
    need(isFn(c, f), `cpu.${f}()`);
  }
  for (const f of ["in_hlt", "flags", "instruction_pointer"] as const) {
    need(typeof c[f]?.[0] === "number", `cpu.${f}`);
  }
  for (const f of ["register_read", "register_write", "mmap_register"]) {
    need(isFn(c.io, f), `cpu.io.${f}()`);
  }
  const pci = c.devices?.pci;
  for (const f of ["register_device", "pci_query", "pci_write8", "pci_write16", "pci_write32"]) {
    need(isFn(pci, f), `cpu.devices.pci.${f}()`);
  }
  need(pci.pci_addr instanceof Uint8Array, "cpu.devices.pci.pci_addr");
  need(pci.pci_status32 instanceof Int32Array, "cpu.devices.pci.pci_status32");
  need(pci.pci_response32 instanceof Int32Array, "cpu.devices.pci.pci_response32");
  need(pci.isa_bridge_space8 instanceof Uint8Array, "cpu.devices.pci.isa_bridge_space8");
  return c;
}

/**
 * The ISA IRQ that v86's PIIX3 routes a PCI function's INTx pin to: its slot
 * and pin swizzled onto PIRQA-D, then the PIRQ route registers (0x60-0x63)
 * the firmware or Linux programmed. The same rule as v86's own devices.
 */
export function pciIrq(cpu: V86Cpu, slot: number, pin: number): number {
  const pirq = ((pin - 1) + (slot - 1)) & 3;
  return cpu.devices.pci.isa_bridge_space8[0x60 + pirq];
}

/**
 * Offsets in v86's 8259 state (the order its `get_state` saves them in, the
 * fields of its `Pic`): `irq_mask` has a bit set for each line that is
 * enabled (the inverse of the IMR the guest writes), `irq_map` is the vector
 * of line 0 (ICW2), `isr` and `irr` the in-service and request registers,
 * `irq_value` the level of each line.
 */
const PIC_IRQ_MASK = 0;
const PIC_IRQ_MAP = 1;
const PIC_ISR = 2;
const PIC_IRR = 3;
const PIC_IRQ_VALUE = 4;
const PIC_SIZE = 13;

/**
 * After a slave line (IRQ 8-15) went low: if the slave has no request left,
 * drop the cascade request (IRQ 2) the master latched for it. v86's master
 * latches IRQ 2 as an edge; if the slave's level line drops before the CPU
 * takes it (a shared line's other handler read our ISR first), v86 would
 * acknowledge IRQ 2, find nothing on the slave and leave IRQ 2 in service
 * for good, blocking IRQs 8-15. A real 8259 gives a spurious IRQ 15 there.
 */
export function dropStaleCascade(cpu: V86Cpu): void {
  const buffer = cpu.wasm_memory.buffer;
  const master = new Uint8Array(buffer, cpu.get_pic_addr_master(), PIC_SIZE);
  const slave = new Uint8Array(buffer, cpu.get_pic_addr_slave(), PIC_SIZE);
  if ((slave[PIC_IRR] & slave[PIC_IRQ_MASK]) === 0) master[PIC_IRR] &= ~(1 << 2);
}

/** What v86's 8259 holds for one IRQ line (see {@link picLine}). */
export interface PicLine {
  /** The IRQ (0-15). */
  readonly irq: number;
  /** Which 8259 has the line. */
  readonly chip: "master" | "slave";
  /** The chip's vector base (ICW2; Linux programs 0x30 and 0x38). */
  readonly vectorBase: number;
  /** The line's level as v86 last saw it (`irq_value`). */
  readonly level: boolean;
  /** A request latched and not yet taken by the CPU (IRR). */
  readonly requested: boolean;
  /** Taken by the CPU and not yet ended (ISR: waiting for the guest's EOI). */
  readonly inService: boolean;
  /** Masked by the guest (IMR). */
  readonly masked: boolean;
}

/**
 * v86's 8259 state for `irq` (0-15) and, for a slave line, the master's
 * cascade line 2: read from the wasm memory (as v86's own `get_state_pic`),
 * never written. For a diagnostic of a lost interrupt.
 */
export function picLine(cpu: V86Cpu, irq: number): PicLine[] {
  const buffer = cpu.wasm_memory.buffer;
  const chip = (slave: boolean, line: number): PicLine => {
    const at = slave ? cpu.get_pic_addr_slave() : cpu.get_pic_addr_master();
    const pic = new Uint8Array(buffer, at, PIC_SIZE);
    const bit = 1 << (line & 7);
    return {
      irq: line,
      chip: slave ? "slave" : "master",
      vectorBase: pic[PIC_IRQ_MAP],
      level: (pic[PIC_IRQ_VALUE] & bit) !== 0,
      requested: (pic[PIC_IRR] & bit) !== 0,
      inService: (pic[PIC_ISR] & bit) !== 0,
      masked: (pic[PIC_IRQ_MASK] & bit) === 0,
    };
  };
  return irq >= 8 ? [chip(true, irq), chip(false, 2)] : [chip(false, irq)];
}

/** Whether v86's CPU sits in HLT, has interrupts enabled (IF), and where it runs. */
export function cpuRunState(cpu: V86Cpu): { halted: boolean; interrupts: boolean; eip: number } {
  return {
    halted: cpu.in_hlt[0] !== 0,
    interrupts: (cpu.flags[0] & 0x200) !== 0,
    eip: cpu.instruction_pointer[0] >>> 0,
  };
}
