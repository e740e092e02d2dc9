/**
 * Fuzzing of the register interfaces of the MMIO and PCI transports (issue
 * 18, "Fuzzing at scale"): random register reads and writes of any width and
 * offset, garbage included, against MMIO v1 and v2 and PCI modern and legacy
 * functions that host a real device model (virtio-blk over memory storage),
 * with random bytes in guest memory so that a device activated by the fuzzer
 * meets hostile rings. For every case it checks that:
 *
 * - an access with arguments a bus can carry (width 1, 2 or 4, a safe
 *   non-negative integer offset, a number for a value) never throws out of
 *   the device side;
 * - an access with arguments no bus can carry throws an `ArgumentError`, and
 *   nothing else;
 * - driver-side steps the fuzzer takes through our own transports throw
 *   nothing but `VirtioError`s;
 * - afterwards a correct driver (the bus and the blk driver, after the bus's
 *   reset; for PCI with MSI-X or INTx) brings the device up and reads back
 *   what it wrote, within a deadline (a hang is a failure).
 *
 * `fuzzMmio({seed, cases})` and `fuzzPci({seed, cases})` return
 * `{cases, failures}`; each failure names the case's own seed, which
 * {@link fuzzRegisterCase} replays alone.
 *
 * @module
 */

import { VirtioBus } from "../../src/bus.ts";
import type { ConfigWidth } from "../../src/device.ts";
import { BlkDevice, MemoryStorage } from "../../src/devices/blk/device.ts";
import { blkDriver } from "../../src/devices/blk/driver.ts";
import { ArgumentError, VirtioError } from "../../src/errors.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import { VirtioMmio, VirtioMmioLegacy } from "../../src/generated/mmio.ts";
import { VirtioPciCommonCfg, VirtioPciLegacy } from "../../src/generated/pci.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";

/** Which register interface a case drives. */
export type RegisterFuzzKind = "mmio-v1" | "mmio-v2" | "pci-modern" | "pci-legacy";

/** Options of {@link fuzzMmio} and {@link fuzzPci}. */
export interface RegisterFuzzOptions {
  /** The run's seed: the same seed runs the same cases. */
  readonly seed: number;
  /** How many cases (each a fresh device and up to `maxOps` accesses). */
  readonly cases: number;
  /** Accesses per case at most (default 200). */
  readonly maxOps?: number;
  /** How long the correct driver may take to bring a device up afterwards (default 2000 ms). */
  readonly deadlineMs?: number;
}

/** One failed case. */
export interface RegisterFuzzFailure {
  /** The register interface. */
  readonly kind: RegisterFuzzKind;
  /** The case's own seed: `fuzzRegisterCase(kind, caseSeed)` replays it. */
  readonly caseSeed: number;
  /** What went wrong. */
  readonly message: string;
  /** The accesses of the case up to the failure, newest last (at most 40). */
  readonly ops: readonly string[];
}

/** The result of a run. */
export interface RegisterFuzzResult {
  /** Cases run. */
  readonly cases: number;
  /** Cases that failed. */
  readonly failures: RegisterFuzzFailure[];
}

/** Fuzz the MMIO register file (versions 1 and 2, alternately). */
export function fuzzMmio(options: RegisterFuzzOptions): Promise<RegisterFuzzResult> {
  return run(["mmio-v2", "mmio-v1"], options);
}

/** Fuzz the PCI function (modern and transitional driven through legacy, alternately). */
export function fuzzPci(options: RegisterFuzzOptions): Promise<RegisterFuzzResult> {
  return run(["pci-modern", "pci-legacy"], options);
}

async function run(
  kinds: readonly RegisterFuzzKind[],
  options: RegisterFuzzOptions,
): Promise<RegisterFuzzResult> {
  const failures: RegisterFuzzFailure[] = [];
  const rng = new Rng(options.seed);
  for (let i = 0; i < options.cases; i++) {
    const kind = kinds[i % kinds.length];
    const failure = await fuzzRegisterCase(kind, rng.u32(), options);
    if (failure !== undefined) failures.push(failure);
  }
  return { cases: options.cases, failures };
}

/** Run one case of `kind` from its own seed; undefined when it passed. */
export async function fuzzRegisterCase(
  kind: RegisterFuzzKind,
  caseSeed: number,
  options: Partial<RegisterFuzzOptions> = {},
): Promise<RegisterFuzzFailure | undefined> {
  const rng = new Rng(caseSeed);
  const ops: string[] = [];
  const fail = (message: string): RegisterFuzzFailure => ({
    kind,
    caseSeed,
    message,
    ops: ops.slice(-40),
  });
  // Random bytes in the lower half, where the fuzzer points queues: hostile rings.
  const bytes = new ArrayBuffer(MEM_SIZE);
  rng.fill(new Uint8Array(bytes, 0, MEM_SIZE / 2));
  const memory = GuestMemory.fromBuffer(bytes);
  const image = new Uint8Array(STORAGE_SIZE);
  const device = new BlkDevice({ storage: new MemoryStorage(image) });
  const log = () => {};
  const host = kind === "mmio-v1" || kind === "mmio-v2"
    ? new MmioDevice(device, memory, { version: kind === "mmio-v1" ? 1 : 2, log })
    : new PciFunction(device, memory, { transitional: kind === "pci-legacy", log });
  host.connect(() => {});
  const fuzzer = host instanceof MmioDevice ? new MmioFuzzer(host, rng) : new PciFuzzer(host, rng);
  const n = 1 + rng.below(options.maxOps ?? 200);
  for (let i = 0; i < n; i++) {
    const op = fuzzer.next(kind);
    ops.push(op.text);
    const problem = attempt(op);
    if (problem !== undefined) return fail(problem);
    // Let a device's asynchronous completions run between accesses now and then.
    if (rng.below(8) === 0) await new Promise((res) => setTimeout(res, 0));
  }
  ops.push("-- a correct driver takes over");
  const problem = await withDeadline(
    // PCI: MSI-X or INTx, whichever the case's seed says.
    bringUp(kind, host, memory, (caseSeed & 1) === 0),
    options.deadlineMs ?? 2000,
  );
  return problem === undefined ? undefined : fail(problem);
}

const MEM_SIZE = 1 << 18;
const STORAGE_SIZE = 64 * 1024;

interface Op {
  readonly text: string;
  /** True when the arguments are ones a bus can carry (then nothing may throw). */
  readonly valid: boolean;
  /** A driver-side step through our transports: only VirtioErrors may come out. */
  readonly driverSide?: boolean;
  readonly run: () => unknown;
}

function attempt(op: Op): string | undefined {
  try {
    op.run();
  } catch (e) {
    const what = e instanceof Error ? `${e.name} ${e.message}` : String(e);
    if (op.driverSide) {
      return e instanceof VirtioError ? undefined : `driver side threw an untyped ${what}`;
    }
    if (op.valid) return `a carriable access threw: ${what}`;
    if (!(e instanceof ArgumentError)) return `a bad argument threw ${what}, not an ArgumentError`;
    return undefined;
  }
  if (!op.valid && !op.driverSide) return "a bad argument was accepted";
  return undefined;
}

async function bringUp(
  kind: RegisterFuzzKind,
  host: MmioDevice | PciFunction,
  memory: GuestMemory,
  msix: boolean,
): Promise<string | undefined> {
  let transport: Transport | undefined;
  try {
    transport = host instanceof MmioDevice
      ? probeMmio(host)
      : probePci(host, { forceLegacy: kind === "pci-legacy", msix });
  } catch (e) {
    return `the probe threw ${e instanceof Error ? e.message : e}`;
  }
  if (transport === undefined) return "the probe found no device";
  const bus = new VirtioBus({
    memory,
    dma: new DmaAllocator(MEM_SIZE / 2, MEM_SIZE / 2),
    log: () => {},
  });
  const driver = blkDriver();
  await bus.registerDriver(driver);
  const dev = await bus.addDevice(transport);
  if (dev.driver !== driver) {
    return `the blk driver did not bind (status 0x${dev.getStatus().toString(16)})`;
  }
  const disk = await driver.nextDisk();
  if (disk.capacity !== STORAGE_SIZE / 512) return `capacity ${disk.capacity}`;
  const data = new Uint8Array(1024).map((_, i) => (i * 7 + 3) & 0xff);
  await disk.write(4, data);
  const back = new Uint8Array(1024);
  await disk.read(4, back);
  if (!back.every((b, i) => b === data[i])) return "data read back differs from data written";
  await bus.removeDevice(dev);
  return undefined;
}

async function withDeadline(
  p: Promise<string | undefined>,
  ms: number,
): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((res) => {
    timer = setTimeout(() => res(`no bring-up within ${ms} ms (a hang)`), ms);
  });
  try {
    return await Promise.race([
      p.catch((e) => `bring-up threw ${e instanceof Error ? `${e.name} ${e.message}` : e}`),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small seeded generator (mulberry32): the same seed, the same case. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
  fill(b: Uint8Array): void {
    for (let i = 0; i < b.length; i += 4) {
      const v = this.u32();
      for (let k = 0; k < 4 && i + k < b.length; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
    }
  }
}

const GOOD_WIDTHS: readonly ConfigWidth[] = [4, 4, 4, 2, 1];
const BAD_WIDTHS = [0, 3, 8, -1, 1.5, NaN, 16] as unknown as ConfigWidth[];
const BAD_OFFSETS = [-1, -4, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 1e300];
const S = DeviceStatus;
const STATUS_VALUES = [
  0,
  S.ACKNOWLEDGE,
  S.ACKNOWLEDGE | S.DRIVER,
  S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK,
  S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK,
  S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK,
  S.FAILED,
  S.DEVICE_NEEDS_RESET,
  0xff,
];

/** What both fuzzers share: widths, values, and the driver-side steps. */
abstract class Fuzzer {
  readonly rng: Rng;
  constructor(rng: Rng) {
    this.rng = rng;
  }

  width(): { width: ConfigWidth; ok: boolean } {
    return this.rng.below(20) === 0
      ? { width: this.rng.pick(BAD_WIDTHS), ok: false }
      : { width: this.rng.pick(GOOD_WIDTHS), ok: true };
  }

  value(): number {
    const r = this.rng;
    switch (r.below(8)) {
      case 0:
        return r.pick(STATUS_VALUES);
      case 1:
        return r.below(4); // small: selectors, queue indices
      case 2:
        return 1 << r.below(12); // sizes and page sizes
      case 3:
        return r.below(MEM_SIZE / 2) & ~r.pick([0, 1, 3, 15, 4095]); // guest addresses
      case 4:
        return r.pick([0, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x10000]);
      case 5:
        return r.pick([-1, 2 ** 40, 1.5, NaN, -(2 ** 31)]); // numbers a bus would cut
      default:
        return r.u32();
    }
  }

  /** The driver side of our transport, probed afresh, taking a few random steps. */
  driverSteps(probe: () => Transport | undefined): Op {
    const r = this.rng;
    const steps = 1 + r.below(6);
    const seed = r.u32();
    return {
      text: `driver steps x${steps} (seed ${seed})`,
      valid: true,
      driverSide: true,
      run: () => {
        const t = probe();
        if (t === undefined) return;
        const q = new Rng(seed);
        for (let i = 0; i < steps; i++) {
          switch (q.below(7)) {
            case 0:
              t.reset();
              break;
            case 1:
              t.setStatus(q.pick(STATUS_VALUES));
              break;
            case 2:
              t.setDriverFeatures(
                t.getDeviceFeatures() & BigInt(q.u32()) << BigInt(q.below(2) * 32),
              );
              break;
            case 3: {
              const size = q.pick([0, 1, 6, 8, 64, 128, 256, 1024, t.queueMaxSize(0)]);
              const base = (q.below(MEM_SIZE / 2 / 4096)) * 4096;
              const legacy = t.legacy;
              t.setupQueue(q.below(3), size, {
                desc: base,
                driver: legacy ? base + 16 * size : q.below(MEM_SIZE / 2) & ~3,
                device: legacy
                  ? base + Math.ceil((16 * size + 6 + 2 * size) / 4096) * 4096
                  : q.below(MEM_SIZE / 2) & ~3,
              });
              break;
            }
            case 4:
              t.notify(q.below(3));
              break;
            case 5:
              t.readConfig(q.below(64), q.pick(GOOD_WIDTHS));
              break;
            default:
              t.setStatus(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
          }
        }
      },
    };
  }

  abstract next(kind: RegisterFuzzKind): Op;
}

class MmioFuzzer extends Fuzzer {
  readonly m: MmioDevice;
  constructor(m: MmioDevice, rng: Rng) {
    super(rng);
    this.m = m;
  }

  #offset(kind: RegisterFuzzKind): { offset: number; ok: boolean } {
    const r = this.rng;
    const regs = kind === "mmio-v1" ? VirtioMmioLegacy.REGISTERS : VirtioMmio.REGISTERS;
    switch (r.below(10)) {
      case 0:
        return { offset: r.pick(BAD_OFFSETS), ok: false };
      case 1:
        return { offset: r.below(0x400), ok: true };
      case 2:
      case 3:
        return { offset: 0x100 + r.below(0x50), ok: true }; // device config and past it
      case 4:
        return { offset: r.pick(regs).offset + r.below(4), ok: true };
      default:
        return { offset: r.pick(regs).offset, ok: true };
    }
  }

  next(kind: RegisterFuzzKind): Op {
    const r = this.rng;
    const m = this.m;
    if (r.below(25) === 0) return this.driverSteps(() => probeMmio(m));
    const { offset, ok: offsetOk } = this.#offset(kind);
    const { width, ok: widthOk } = this.width();
    const valid = offsetOk && widthOk;
    if (r.below(3) === 0) {
      return { text: `read(${offset}, ${width})`, valid, run: () => m.read(offset, width) };
    }
    const value = r.below(40) === 0 ? (1n as unknown as number) : this.value();
    return {
      text: `write(${offset}, ${width}, ${String(value)})`,
      valid: valid && typeof value === "number",
      run: () => m.write(offset, width, value),
    };
  }
}

const CC = VirtioPciCommonCfg.OFFSETS;
const COMMON = Object.values(CC);
const LEGACY = VirtioPciLegacy.REGISTERS.map((reg) => reg.offset);

class PciFuzzer extends Fuzzer {
  readonly p: PciFunction;
  constructor(p: PciFunction, rng: Rng) {
    super(rng);
    this.p = p;
  }

  #barOffset(bar: number): number {
    const r = this.rng;
    if (bar === 4) {
      switch (r.below(6)) {
        case 0:
          return r.pick(COMMON);
        case 1:
          return 0x1000 + r.below(4); // ISR
        case 2:
          return 0x2000 + r.below(0x50); // device config and past it
        case 3:
          return 0x3000 + 4 * r.below(3) + r.below(2); // notify
        case 4:
          return r.below(0x5000);
        default:
          return r.pick(COMMON) + r.below(4);
      }
    }
    if (bar === 0) return r.below(2) ? r.pick(LEGACY) : r.below(0x60);
    if (bar === 1) return r.below(2) ? r.below(3) * 16 + 4 * r.below(4) : 0x800 + r.below(8);
    return r.below(0x100);
  }

  next(kind: RegisterFuzzKind): Op {
    const r = this.rng;
    const p = this.p;
    const choice = r.below(30);
    if (choice === 0) {
      return this.driverSteps(() =>
        probePci(p, { forceLegacy: kind === "pci-legacy", msix: r.below(2) === 0 })
      );
    }
    if (choice === 1) {
      const cmd = r.pick([0, 1, 2, 3, 7, 0x400, 0x403]);
      return {
        text: `configWrite(4, 2, 0x${cmd.toString(16)})`,
        valid: true,
        run: () => p.configWrite(4, 2, cmd),
      };
    }
    const { width, ok: widthOk } = this.width();
    let value = r.below(40) === 0 ? (1n as unknown as number) : this.value();
    if (choice < 8) {
      // PCI configuration space: the header, the capabilities, past 256, or garbage.
      const bad = r.below(15) === 0;
      const offset = bad
        ? r.pick(BAD_OFFSETS)
        : r.below(6) === 0
        ? r.below(0x1000)
        : r.below(0x100);
      const valid = widthOk && !bad;
      if (r.below(2) === 0) {
        return {
          text: `configRead(${offset}, ${width})`,
          valid,
          run: () => p.configRead(offset, width),
        };
      }
      // Writes that switch MSI-X and INTx on and off matter most here.
      if (r.below(4) === 0) value = r.pick([0x8000, 0xc000, 0x4000, 0, 0x400]);
      return {
        text: `configWrite(${offset}, ${width}, ${String(value)})`,
        valid: valid && typeof value === "number",
        run: () => p.configWrite(offset, width, value),
      };
    }
    const badBar = r.below(25) === 0;
    const bar = badBar ? r.pick([-1, 6, 7, 1.5, NaN]) : r.pick([4, 4, 4, 0, 0, 1, 2, 3, 5]);
    const badOffset = r.below(20) === 0;
    const offset = badOffset ? r.pick(BAD_OFFSETS) : this.#barOffset(bar);
    const valid = widthOk && !badBar && !badOffset;
    if (r.below(3) === 0) {
      return {
        text: `barRead(${bar}, ${offset}, ${width})`,
        valid,
        run: () => p.barRead(bar, offset, width),
      };
    }
    return {
      text: `barWrite(${bar}, ${offset}, ${width}, ${String(value)})`,
      valid: valid && typeof value === "number",
      run: () => p.barWrite(bar, offset, width, value),
    };
  }
}
