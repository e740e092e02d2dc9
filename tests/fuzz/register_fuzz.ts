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
 *   the device side, even when (one case in 4) the device model itself
 *   throws now and then (the transport sets DEVICE_NEEDS_RESET instead);
 * - an access with arguments no bus can carry throws an `ArgumentError`, and
 *   nothing else;
 * - driver-side steps the fuzzer takes through our own transports throw
 *   nothing but `VirtioError`s;
 * - afterwards a correct driver (the bus and the blk driver, after the bus's
 *   reset; for PCI with MSI-X or INTx, and one case in 4 behind a quirk of
 *   `_hostile_pci.ts` the driver must get past: refused vectors, a small
 *   table, a stuck function mask) brings the device up and reads back what it
 *   wrote, within a deadline (a hang is a failure);
 * - in between, `core.describe()` (the state dump a timeout reports) of
 *   whatever state the accesses left neither throws nor changes anything.
 *
 * `fuzzMmio({seed, cases})` and `fuzzPci({seed, cases})` return
 * `{cases, failures}`; each failure names the case's own seed, which
 * {@link fuzzRegisterCase} replays alone.
 *
 * The other direction, {@link fuzzHostileDevice}: our driver side (probe,
 * bus handshake, queue setup, config reads, a request) over MMIO windows
 * and PCI functions whose registers answer random values. Every failure must
 * be a typed error; the bus must come back, FAILED or working.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { VIRTIO_DEV_ANY_ID, VirtioBus } from "../../src/bus.ts";
import type { ConfigWidth, DeviceContext } from "../../src/device.ts";
import { BlkDevice, type BlockStorage, MemoryStorage } from "../../src/devices/blk/device.ts";
import { withSequentialBatch } from "./_batched_storage.ts";
import { blkDriver } from "../../src/devices/blk/driver.ts";
import { ArgumentError, VirtioError } from "../../src/errors.ts";
import { DeviceStatus, VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import { VirtioMmio, VirtioMmioLegacy } from "../../src/generated/mmio.ts";
import { VirtioPciCommonCfg, VirtioPciLegacy } from "../../src/generated/pci.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { legacyRingLayout } from "../../src/transport/_address.ts";
import type { PciBus } from "../../src/transport/pci/mod.ts";
import type { VirtioDriver } from "../../src/driver.ts";
import { VIRTIO_MMIO_MAGIC } from "../../src/generated/mmio.ts";
import { type PciQuirks, quirkyFunction } from "./_hostile_pci.ts";

/** Which register interface a case drives. */
export type RegisterFuzzKind = "mmio-v1" | "mmio-v2" | "pci-modern" | "pci-legacy";

/** Options of {@link fuzzMmio} and {@link fuzzPci}. */
export interface RegisterFuzzOptions {
  /** The run's seed: the same seed runs the same cases. */
  readonly seed: number;
  /** How many cases (each a fresh device and up to `maxOps` accesses). */
  readonly cases: number;
  /** Index of the first case (to replay one: `first: i, cases: 1`; default 0). */
  readonly first?: number;
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
  /** The case's index in its run (`first: case, cases: 1` replays it), when run by one. */
  readonly case?: number;
  /** What went wrong. */
  readonly message: string;
  /** The same, under the name the fuzz entry point (`scripts/fuzz.ts`) reports. */
  readonly error: string;
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
  const first = options.first ?? 0;
  for (let i = 0; i < first + options.cases; i++) {
    const caseSeed = rng.u32();
    if (i < first) continue;
    const failure = await fuzzRegisterCase(kinds[i % kinds.length], caseSeed, options);
    if (failure !== undefined) failures.push({ ...failure, case: i });
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
    error: message,
    ops: ops.slice(-40),
  });
  // Random bytes in the lower half, where the fuzzer points queues: hostile rings. They are
  // copied from a fixed pool of random bytes at an offset the case's seed picks (any byte
  // offset, so any alignment): generating 128 KiB afresh took a quarter of a case's time.
  // One buffer serves every case of a run (the cases run one after the other, and a case's
  // bus is removed before the next): the upper half, the correct driver's, is zeroed again.
  const bytes = caseBuffer();
  const pool = randomPool();
  const from = rng.below(pool.length - MEM_SIZE / 2 + 1);
  bytes.set(pool.subarray(from, from + MEM_SIZE / 2));
  bytes.fill(0, MEM_SIZE / 2);
  const memory = GuestMemory.fromBuffer(bytes.buffer);
  const image = new Uint8Array(STORAGE_SIZE);
  // Every other case seed, the storage has a batch (a pass's reads and writes made at its end, as
  // FileStorage's): the device's held-chain path under hostile rings. (The seed's parity, not a
  // draw, so the cases of a seed stay what they were.)
  const memStorage = new MemoryStorage(image);
  const storage: BlockStorage = caseSeed % 2 === 0 ? memStorage : withSequentialBatch(memStorage);
  if (storage !== memStorage) ops.push("(storage with a batch)");
  const device = new FlakyBlkDevice({ storage });
  // One case in 4 hosts a device model that throws now and then while the fuzzer runs.
  if (rng.below(4) === 0) {
    device.faults = new Rng(rng.u32());
    ops.push("(a device model that throws)");
  }
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
    // (setImmediate, not setTimeout(0): the same turn of the event loop without the timer's
    // clamp of 1 to 4 ms, which made the waits most of a case's time.)
    if (rng.below(8) === 0) await new Promise((res) => setImmediate(res));
  }
  // The state dump a timeout reports, of whatever state the accesses left (rings the fuzzer
  // pointed anywhere, over random bytes): it never throws and changes nothing.
  const dumped = describeReadOnly(host, bytes);
  if (dumped !== undefined) return fail(dumped);
  if (device.faults !== undefined) {
    // A driver session that gets the throwing model running and kicks it (random accesses
    // rarely get that far): its rings in 16 KiB of the lower half zeroed for the purpose.
    bytes.fill(0, 0, SESSION_RINGS);
    const session = sessionOp(() =>
      host instanceof MmioDevice
        ? probeMmio(host)
        : probePci(host, { forceLegacy: kind === "pci-legacy", msix: (caseSeed & 2) === 0 })
    );
    ops.push(session.text);
    const problem = attempt(session);
    if (problem !== undefined) return fail(problem);
    // The correct driver meets a well-behaved model: a rejected activation's handler has run.
    device.faults = undefined;
    await new Promise((res) => setImmediate(res));
  }
  // PCI: one case in 4 puts the function behind a quirk a correct driver must get past.
  const quirk = host instanceof PciFunction && rng.below(4) === 0
    ? survivableQuirk(rng)
    : undefined;
  ops.push(`-- a correct driver takes over${quirk ? ` a function with ${quirk.text}` : ""}`);
  const problem = await withDeadline(
    // PCI: MSI-X or INTx, whichever the case's seed says.
    bringUp(kind, host, memory, (caseSeed & 1) === 0, quirk?.quirks),
    options.deadlineMs ?? 2000,
  );
  return problem === undefined ? undefined : fail(problem);
}

/**
 * The blk model, throwing now and then while `faults` is set: from
 * `activate` (at once, or as a rejected promise), `queueNotify` and the
 * config accessors, with errors that are not `VirtioError`s. The transport
 * must turn each into DEVICE_NEEDS_RESET (2.1.2) and never throw it at the
 * register access that led there.
 */
class FlakyBlkDevice extends BlkDevice {
  faults: Rng | undefined;

  #fault(): boolean {
    return this.faults !== undefined && this.faults.below(4) === 0;
  }

  override activate(ctx: DeviceContext): void | Promise<void> {
    if (this.#fault()) {
      if (this.faults?.below(2)) return Promise.reject(new Error("activate rejected"));
      throw new TypeError("activate threw");
    }
    return super.activate(ctx);
  }

  override queueNotify(index: number): void {
    if (this.#fault()) throw new RangeError(`queueNotify(${index}) threw`);
    super.queueNotify(index);
  }

  override readConfig(offset: number, width: ConfigWidth): number {
    if (this.#fault()) throw new Error(`readConfig(${offset}) threw`);
    return super.readConfig(offset, width);
  }

  override writeConfig(offset: number, width: ConfigWidth, value: number): void {
    if (this.#fault()) throw new Error(`writeConfig(${offset}) threw`);
    super.writeConfig(offset, width, value);
  }
}

const MEM_SIZE = 1 << 18;
const SESSION_RINGS = 0x4000;

/**
 * A driver's session through our transport: reset, features, queue 0 of 8
 * entries over zeroed rings at 0x1000 (0 reads as unset), DRIVER_OK, four kicks.
 * Only `VirtioError`s may come out.
 */
function sessionOp(probe: () => Transport | undefined): Op {
  return {
    text: "-- a driver session: queue 0 at 0x1000, DRIVER_OK, 4 kicks",
    valid: true,
    driverSide: true,
    run: () => {
      const t = probe();
      if (t === undefined) return;
      t.reset();
      t.setStatus(S.ACKNOWLEDGE | S.DRIVER);
      t.setDriverFeatures(t.getDeviceFeatures() & (1n << BigInt(VIRTIO_F_VERSION_1)));
      let status = S.ACKNOWLEDGE | S.DRIVER;
      if (!t.legacy) t.setStatus(status |= S.FEATURES_OK);
      const size = t.queueSizeFixed ? t.queueMaxSize(0) : 8;
      t.setupQueue(
        0,
        size,
        t.legacy ? legacyRingLayout(0x1000, size, t.legacyQueueAlign) : {
          desc: 0x1000,
          driver: 0x2000,
          device: 0x3000,
        },
      );
      t.setStatus(status | S.DRIVER_OK);
      for (let i = 0; i < 4; i++) t.notify(0);
    },
  };
}
const STORAGE_SIZE = 64 * 1024;

let buffer: Uint8Array | undefined;
function caseBuffer(): Uint8Array {
  return buffer ??= new Uint8Array(MEM_SIZE);
}

/** 1 MiB of random bytes from a fixed seed, made once: the source of each case's memory. */
let pool: Uint8Array | undefined;
function randomPool(): Uint8Array {
  if (pool === undefined) {
    pool = new Uint8Array(1 << 20);
    new Rng(0x9001).fill(pool);
  }
  return pool;
}

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

/**
 * `host.core.describe()` must not throw, nor change guest memory, the status, the queue
 * registers or the interrupt state (an ISR read clears it; a dump must not): a message
 * when it does.
 */
function describeReadOnly(host: MmioDevice | PciFunction, bytes: Uint8Array): string | undefined {
  const state = () =>
    JSON.stringify({
      status: host.core.status,
      queues: host.core.queues,
      interrupts: host instanceof MmioDevice
        ? [host.interruptStatus]
        : [host.isr, ...host.msixPending, host.config.getUint16(6, true)],
    });
  const memory = bytes.slice();
  const before = state();
  try {
    host.core.describe();
  } catch (e) {
    return `core.describe() threw: ${e instanceof Error ? `${e.name} ${e.message}` : String(e)}`;
  }
  if (state() !== before) return "core.describe() changed the device's state";
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== memory[i]) return `core.describe() wrote guest memory at 0x${i.toString(16)}`;
  }
  return undefined;
}

async function bringUp(
  kind: RegisterFuzzKind,
  host: MmioDevice | PciFunction,
  memory: GuestMemory,
  msix: boolean,
  quirks?: PciQuirks,
): Promise<string | undefined> {
  let transport: Transport | undefined;
  try {
    transport = host instanceof MmioDevice
      ? probeMmio(host)
      : probePci(quirks ? quirkyFunction(host, quirks) : host, {
        forceLegacy: kind === "pci-legacy",
        msix,
      });
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
              // Now and then a legacy layout that is not contiguous, or an index that is
              // no queue index (our own caller's mistakes: typed errors too).
              const legacy = t.legacy && q.below(8) !== 0;
              const index = q.below(16) === 0 ? q.pick([-1, 0x10000, 1.5, NaN]) : q.below(3);
              t.setupQueue(index, size, {
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

/**
 * Fuzz our driver side against a hostile device: MMIO windows (versions 1
 * and 2) and PCI functions (a capability list pointing into BAR4, or a
 * transitional id for the legacy header) whose registers answer random
 * values, mixed with plausible ones so that probes get deep; one PCI function
 * in 3 also has a quirk of `_hostile_pci.ts` (MSI-X control, table, vectors,
 * queue_enable). The probe, the
 * bus's handshake and a driver that sets up a queue, reads config and sends a
 * request may fail only with `VirtioError`s.
 */
export async function fuzzHostileDevice(options: RegisterFuzzOptions): Promise<RegisterFuzzResult> {
  const failures: RegisterFuzzFailure[] = [];
  const seeds = new Rng(options.seed);
  const first = options.first ?? 0;
  for (let i = 0; i < first + options.cases; i++) {
    const caseSeed = seeds.u32();
    if (i < first) continue;
    const kind: RegisterFuzzKind = i % 2 ? "mmio-v2" : "pci-modern";
    const r = new Rng(caseSeed);
    const untyped: string[] = [];
    const note = (e: unknown) => {
      if (!(e instanceof VirtioError)) {
        untyped.push(e instanceof Error ? `${e.name} ${e.message}` : String(e));
      }
    };
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM_SIZE));
    const bus = new VirtioBus({
      memory,
      dma: new DmaAllocator(0x1000, MEM_SIZE - 0x1000),
      log: () => {},
    });
    await bus.registerDriver(probingDriver(note));
    try {
      // PCI: MSI-X or INTx, modern or (a transitional id) legacy, as the case's seed says.
      const t = kind === "mmio-v2"
        ? probeMmio(hostileWindow(r))
        : probePci(hostileFunction(r), { forceLegacy: r.below(4) === 0, msix: r.below(3) !== 0 });
      if (t !== undefined) await bus.addDevice(t);
    } catch (e) {
      note(e);
    }
    if (untyped.length) {
      failures.push({
        kind,
        caseSeed,
        case: i,
        message: `untyped: ${untyped[0]}`,
        error: `untyped: ${untyped[0]}`,
        ops: untyped.slice(0, 40),
      });
    }
  }
  return { cases: options.cases, failures };
}

/**
 * A driver for any device: config reads (one at the PCI device config capability's length), one
 * queue, one request; it reports what it caught.
 */
function probingDriver(note: (e: unknown) => void): VirtioDriver {
  return {
    name: "fuzz-probe",
    idTable: [{ device: VIRTIO_DEV_ANY_ID }],
    featureTable: [],
    probe(dev): void {
      try {
        // At the device config capability's length (0x40, when the hostile function's reads
        // are true): past the config, refused with an ArgumentError.
        dev.readConfig((c) => c.le32(0x40));
      } catch (e) {
        note(e);
      }
      try {
        dev.readConfig((c) => c.le32(0));
        const [vq] = dev.findVqs([{ name: "q", callback: (q) => void q.getBuf() }]);
        dev.deviceReady();
        vq.addSgs([{ addr: dev.dmaContext.dma.alloc(64, 8), len: 64 }], [], 1);
        vq.kick();
      } catch (e) {
        note(e);
        throw e;
      }
    },
    remove(): void {},
  };
}

/** A value of `width` bytes: random, all ones, zero, a small power of 2, or undefined (plausible). */
function hostile(r: Rng, width: number): number | undefined {
  const mask = width === 4 ? 0xffffffff : width === 2 ? 0xffff : 0xff;
  switch (r.below(6)) {
    case 0:
      return 0;
    case 1:
      return mask;
    case 2:
      return r.u32() & mask;
    case 3:
      return (1 << r.below(16)) & mask;
    default:
      return undefined;
  }
}

/**
 * Registers that read back what was written, with hostile values one read in
 * three; and, in one case in three, one register stuck at a value whatever is
 * written (a status that never reads 0, a queue_enable or an MSI-X vector that
 * reads back 0 or NO_VECTOR): the refusals our drivers must turn into errors.
 */
class EchoRegisters {
  readonly #r: Rng;
  readonly #written = new Map<number, number>();
  readonly #stuck: { offset: number; value: number } | undefined;
  constructor(r: Rng, stuckAt: readonly number[]) {
    this.#r = r;
    this.#stuck = r.below(3) === 0
      ? { offset: r.pick(stuckAt), value: r.pick([0, 1, 0xff, 0xffff, 0xffffffff]) }
      : undefined;
  }
  read(offset: number, width: number, plausible: () => number): number {
    if (offset === this.#stuck?.offset) {
      return this.#stuck.value & (width === 4 ? 0xffffffff : width === 2 ? 0xffff : 0xff);
    }
    const v = this.#r.below(3) === 0 ? hostile(this.#r, width) : undefined;
    return v ?? this.#written.get(offset) ?? plausible();
  }
  write(offset: number, value: number): void {
    this.#written.set(offset, value >>> 0);
  }
}

function hostileWindow(r: Rng): RegisterBusLike {
  const R = VirtioMmio.OFFSETS;
  const regs = new EchoRegisters(r, [R.status, R.status, R.queueReady]);
  const version = r.pick([1, 2]);
  return {
    read(offset: number, width: ConfigWidth): number {
      if (offset === R.magicValue && r.below(8)) return VIRTIO_MMIO_MAGIC;
      if (offset === R.version && r.below(8)) return version;
      if (offset === R.deviceID && r.below(8)) return 63;
      if (offset === R.queueSizeMax) return hostile(r, 4) ?? r.pick([0, 16, 256, 1024]);
      if (offset === R.deviceFeatures) return hostile(r, 4) ?? 1;
      return regs.read(offset, width, () => r.u32() & 0xff);
    },
    write(offset: number, _width: ConfigWidth, value: number): void {
      regs.write(offset, value);
    },
  };
}

interface RegisterBusLike {
  read(offset: number, width: ConfigWidth): number;
  write(offset: number, width: ConfigWidth, value: number): void;
}

function hostileFunction(r: Rng): PciBus {
  // A config space with a capability list: common, notify, ISR, device (BAR4, 16 bytes apart).
  const cfg = new Uint8Array(256);
  const dv = new DataView(cfg.buffer);
  dv.setUint16(0, 0x1af4, true);
  dv.setUint16(2, r.pick([0x1040 + 63, 0x1005]), true); // modern null, or transitional rng
  dv.setUint16(0x2e, 4, true);
  dv.setUint16(6, 0x10, true);
  cfg[0x34] = 0x40;
  for (
    const [at, next, type] of [[0x40, 0x54, 1], [0x54, 0x68, 2], [0x68, 0x7c, 3], [0x7c, 0, 4]]
  ) {
    cfg.set([9, next, 20, type, 4], at);
    dv.setUint32(at + 8, (type - 1) * 0x100, true);
    dv.setUint32(at + 12, 0x40, true);
  }
  dv.setUint32(0x54 + 16, 4, true); // notify_off_multiplier
  // One function in 8 has no device config capability (the list ends before it).
  const last = r.below(8) === 0 ? 0x68 : 0x7c;
  cfg[last + 1] = 0;
  // And an MSI-X capability: a table of 4 entries at BAR4 + 0x800, the PBA at BAR4 + 0xc00.
  if (r.below(2) === 0) {
    cfg[last + 1] = 0x90;
    cfg.set([0x11, 0], 0x90);
    dv.setUint16(0x92, 3 | r.pick([0, 0, 0x8000, 0xc000]), true); // sometimes left enabled
    dv.setUint32(0x94, 0x800 | 4, true);
    dv.setUint32(0x98, 0xc00 | 4, true);
  }
  const C = VirtioPciCommonCfg.OFFSETS;
  const common = (o: number) => 4 * 0x10000 + o;
  const regs = new EchoRegisters(r, [
    common(C.deviceStatus),
    common(C.queueEnable),
    common(C.configMsixVector),
    common(C.queueMsixVector),
    common(C.queueSize),
  ]);
  // Hostile config reads one in 3 (the probe rarely gets past the ids and capabilities), or
  // rarely, so that the bus's handshake and the queue set-up meet the hostile registers.
  const cfgNoise = r.pick([3, 30, 30, 1000]);
  const word = (at: number, width: number) =>
    width === 1 ? dv.getUint8(at) : width === 2 ? dv.getUint16(at, true) : dv.getUint32(at, true);
  const plain: PciBus = {
    configRead(offset: number, width: ConfigWidth): number {
      return offset + width <= 256 ? word(offset, width) : 0;
    },
    configWrite(offset: number, width: ConfigWidth, value: number): void {
      if (offset + width > 256) return;
      if (width === 1) dv.setUint8(offset, value);
      else if (width === 2) dv.setUint16(offset, value, true);
      else dv.setUint32(offset, value, true);
    },
    barRead(bar: number, offset: number, width: ConfigWidth): number {
      return regs.read(
        bar * 0x10000 + offset,
        width,
        () => r.pick([0, 1, 16, 256, r.u32() & 0xff]),
      );
    },
    barWrite(bar: number, offset: number, _width: ConfigWidth, value: number): void {
      regs.write(bar * 0x10000 + offset, value);
    },
    connect(): void {},
  };
  // One function in 2 has quirks (_hostile_pci.ts): MSI-X, vectors, queue_enable, status.
  const fn = r.below(2) === 0 ? quirkyFunction(plain, hostileQuirks(r)) : plain;
  return {
    configRead(offset: number, width: ConfigWidth): number {
      const v = r.below(cfgNoise) === 0 ? hostile(r, width) : undefined;
      return v ?? fn.configRead(offset, width);
    },
    configWrite: (offset, width, value) => fn.configWrite(offset, width, value),
    barRead: (bar, offset, width) => fn.barRead(bar, offset, width),
    barWrite: (bar, offset, width, value) => fn.barWrite(bar, offset, width, value),
    connect(): void {},
  };
}

/** Quirks of the MSI-X capability, the vectors, queue_enable or the status: each one time in 3. */
function hostileQuirks(r: Rng): PciQuirks {
  const from = r.below(3);
  const one = () => r.below(3) === 0;
  return {
    msixControlStuck: one(), // MSI-X control that keeps its enable bit
    msixMaskStuck: one(),
    msixTableEntries: one() ? r.pick([1, 2, 3]) : undefined,
    msixTableBar: one() ? r.pick([6, 7]) : undefined,
    refuseVector: one() ? (v) => v >= from : undefined,
    queueEnableIgnored: one(),
    needsResetOnQueueEnable: one(),
  };
}

/**
 * A quirk a correct driver must get past and bring the device up anyway (the
 * others, an MSI-X enable that cannot be cleared or a queue_enable that
 * reads 0, must fail with a typed error: tests/transport/pci_hostile_test.ts):
 * vectors refused from some vector on (a shared vector, or INTx), a table
 * smaller than the queues, a function mask that stays set, a table in no BAR.
 */
function survivableQuirk(r: Rng): { text: string; quirks: PciQuirks } {
  switch (r.below(4)) {
    case 0: {
      const from = r.below(3);
      return { text: `vectors from ${from} refused`, quirks: { refuseVector: (v) => v >= from } };
    }
    case 1: {
      const entries = r.pick([1, 2]);
      return { text: `an MSI-X table of ${entries}`, quirks: { msixTableEntries: entries } };
    }
    case 2:
      return { text: "the MSI-X function mask stuck", quirks: { msixMaskStuck: true } };
    default: {
      const bar = r.pick([6, 7]);
      return { text: `the MSI-X table in BAR ${bar}`, quirks: { msixTableBar: bar } };
    }
  }
}
