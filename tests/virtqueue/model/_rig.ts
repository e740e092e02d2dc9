// The differential rig: the engine and the reference model, each on its own
// copy of guest memory, driven by the same operations. Every operation's
// result (or error code) is compared, then every byte of the two memories
// and the positions of both sides.
import assert from "node:assert/strict";
import { QueueError } from "../../../src/errors.ts";
import { DmaAllocator, GuestMemory } from "../../../src/memory.ts";
import {
  createDeviceQueue,
  createDriverQueue,
  type DescriptorChain,
  type DeviceQueue,
  type DriverQueue,
  type QueueOptions,
} from "../../../src/virtqueue/mod.ts";
import {
  type ModelChain,
  ModelFault,
  ModelMemory,
  type ModelOptions,
  PackedModelDevice,
  PackedModelDriver,
  type Segment,
  SplitModelDevice,
  SplitModelDriver,
  writableLength,
} from "./mod.ts";

export const BASE = 0x10000;
export const MEM_SIZE = 0x8000;
/** Ring areas at fixed addresses (aligned as 2.7 and 2.8.10.1 ask). */
export const DESC = BASE;
export const DRIVER_AREA = BASE + 0x400;
export const DEVICE_AREA = BASE + 0x800;
/** Buffers live in DATA .. DATA + DATA_SIZE; indirect tables come from TABLES. */
export const DATA = BASE + 0x1000;
export const DATA_SIZE = 0x2000;
export const TABLES = BASE + 0x4000;
export const TABLES_SIZE = 0x3000;

export interface Features {
  packed: boolean;
  eventIdx: boolean;
  indirect: boolean;
  inOrder: boolean;
}

type ModelDriver = SplitModelDriver<number> | PackedModelDriver<number>;
type ModelDevice = SplitModelDevice | PackedModelDevice;

/** What one side did: a value, or a fault by code. */
type Outcome = { ok: unknown } | { code: string };

function engineOutcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof QueueError) return { code: e.code };
    throw e;
  }
}

function modelOutcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof ModelFault) return { code: e.code };
    throw e;
  }
}

/** A chain as both sides describe it. */
function engineChain(c: DescriptorChain) {
  const segments: Segment[] = [];
  for (let i = 0; i < c.length; i++) {
    segments.push({ addr: c.addr(i), len: c.len(i), writable: c.isWritable(i) });
  }
  return { head: c.head, segments, descriptorCount: c.descriptorCount, indirect: c.indirect };
}

function modelChain(c: ModelChain) {
  return {
    head: c.head,
    segments: c.segments,
    descriptorCount: c.descriptorCount,
    indirect: c.indirect,
  };
}

export class Rig {
  readonly eBuf = new ArrayBuffer(MEM_SIZE);
  readonly mBytes = new Uint8Array(MEM_SIZE);
  readonly eMem = GuestMemory.fromBuffer(this.eBuf, BASE);
  readonly mMem = new ModelMemory(BASE, this.mBytes);
  readonly opts: QueueOptions;
  readonly mOpts: ModelOptions;
  readonly addrs;
  driver: DriverQueue<number>;
  device: DeviceQueue;
  mDriver: ModelDriver;
  mDevice: ModelDevice;
  eHeld: DescriptorChain[] = [];
  mHeld: ModelChain[] = [];
  token = 0;
  /** A log of the operations, for a failure's message. */
  log: string[] = [];

  constructor(readonly size: number, readonly f: Features) {
    this.opts = { ...f, index: 3 };
    this.mOpts = { size, eventIdx: f.eventIdx, indirect: f.indirect, inOrder: f.inOrder };
    this.addrs = { size, desc: DESC, driver: DRIVER_AREA, device: DEVICE_AREA };
    const eAlloc = new DmaAllocator(TABLES, TABLES_SIZE);
    const mAlloc = new DmaAllocator(TABLES, TABLES_SIZE);
    this.driver = createDriverQueue<number>(this.eMem, this.addrs, this.opts, eAlloc);
    this.device = createDeviceQueue(this.eMem, this.addrs, this.opts);
    const a = { desc: DESC, avail: DRIVER_AREA, used: DEVICE_AREA };
    const p = { desc: DESC, driver: DRIVER_AREA, device: DEVICE_AREA };
    this.mDriver = f.packed
      ? new PackedModelDriver<number>(this.mMem, p, this.mOpts, mAlloc)
      : new SplitModelDriver<number>(this.mMem, a, this.mOpts, mAlloc);
    this.mDevice = this.#modelDevice();
  }

  #modelDevice(): ModelDevice {
    return this.f.packed
      ? new PackedModelDevice(this.mMem, {
        desc: DESC,
        driver: DRIVER_AREA,
        device: DEVICE_AREA,
      }, this.mOpts)
      : new SplitModelDevice(this.mMem, {
        desc: DESC,
        avail: DRIVER_AREA,
        used: DEVICE_AREA,
      }, this.mOpts);
  }

  /** Runs `what` on both sides and asserts the same outcome; returns it. */
  same(what: string, engine: () => unknown, model: () => unknown): Outcome {
    this.log.push(what);
    const e = engineOutcome(engine);
    const m = modelOutcome(model);
    assert.deepEqual(
      e,
      m,
      `${what} differs: engine ${JSON.stringify(e)}, model ${JSON.stringify(m)}\n${
        this.log.join("\n")
      }`,
    );
    this.check(what);
    return e;
  }

  /** The memories byte for byte, and both sides' positions. */
  check(what: string): void {
    const e = new Uint8Array(this.eBuf);
    const m = this.mBytes;
    for (let i = 0; i < MEM_SIZE; i++) {
      if (e[i] !== m[i]) {
        assert.fail(
          `after ${what}: guest memory differs at 0x${(BASE + i).toString(16)}: engine ${
            e[i]
          }, model ${m[i]}\n${this.log.join("\n")}`,
        );
      }
    }
    assert.deepEqual(
      [this.driver.numFree, this.driver.inFlight, this.device.inFlight, this.device.position()],
      [this.mDriver.numFree, this.mDriver.inFlight, this.mDevice.inFlight, this.mDevice.position()],
      `after ${what}: queue state differs\n${this.log.join("\n")}`,
    );
  }

  add(out: { addr: number; len: number }[], in_: { addr: number; len: number }[]): void {
    const t = this.token++;
    const segs = (l: { addr: number; len: number }[], w: boolean) =>
      l.map((s) => ({ ...s, writable: w }));
    this.same(
      `add ${JSON.stringify([out, in_])} token ${t}`,
      () => this.driver.addSgs(out, in_, t),
      () => this.mDriver.addSgs(segs(out, false), segs(in_, true), t),
    );
  }

  pop(): void {
    let e: DescriptorChain | null = null;
    let m: ModelChain | null = null;
    this.same(
      "pop",
      () => {
        e = this.device.pop();
        return e === null ? null : engineChain(e);
      },
      () => {
        m = this.mDevice.pop();
        return m === null ? null : modelChain(m);
      },
    );
    if (e !== null && m !== null) {
      this.eHeld.push(e);
      this.mHeld.push(m);
    }
  }

  /** The device writes `len` bytes (or all, or too many) into held chain `pick` and uses it. */
  use(pick: number, frac: number, flush: boolean, fill: number, over = false): void {
    if (this.eHeld.length === 0) return;
    const i = pick % this.eHeld.length;
    const e = this.eHeld[i];
    const m = this.mHeld[i];
    const wl = writableLength(m);
    const len = over ? wl + 1 : Math.floor(wl * frac);
    const n = Math.min(len, wl);
    const bytes = new Uint8Array(n);
    for (let k = 0; k < n; k++) bytes[k] = (fill + k) & 0xff;
    e.write(0, bytes);
    let k = 0;
    for (const s of m.segments) {
      if (!s.writable) continue;
      for (let j = 0; j < s.len && k < n; j++) this.mBytes[s.addr - BASE + j] = bytes[k++];
    }
    const r = this.same(
      `use held[${i}] (head ${m.head}) len ${len}`,
      () => this.device.pushUsed(e, len),
      () => this.mDevice.pushUsed(m, len),
    );
    if ("ok" in r) {
      this.eHeld.splice(i, 1);
      this.mHeld.splice(i, 1);
    }
    if (flush) this.same("flush", () => this.device.flushUsed(), () => this.mDevice.flushUsed());
  }

  /** Replaces the device side by a new one resumed at a position (2.6: queue state kept). */
  restart(kind: number, junk: { availIdx: number; availWrap: number; usedIdx: number }): void {
    const pos = this.device.position();
    let target: { availIdx: number; availWrap?: number; usedIdx?: number; usedWrap?: number };
    if (kind === 0) target = pos;
    else if (kind === 1) target = { availIdx: pos.usedIdx, availWrap: pos.usedWrap };
    else target = junk;
    if (this.device.inFlight > 0 || kind === 3) {
      // In place: refused while chains are held (and for bad positions), else resumed.
      this.same(
        `restore ${JSON.stringify(target)} in place`,
        () => this.device.restore(target),
        () => this.mDevice.restore(target),
      );
      return;
    }
    this.same("flush", () => this.device.flushUsed(), () => this.mDevice.flushUsed());
    const device = createDeviceQueue(this.eMem, this.addrs, this.opts);
    const mDevice = this.#modelDevice();
    const r = this.same(
      `restart at ${JSON.stringify(target)}`,
      () => device.restore(target),
      () => mDevice.restore(target),
    );
    if ("ok" in r) {
      this.device = device;
      this.mDevice = mDevice;
      this.check("restart");
    }
  }

  /** A hostile write into the rings, the same on both memories. */
  corrupt(offset: number, value: number, wide: boolean): void {
    const at = (offset & ~1) % 0x1000;
    this.log.push(`corrupt 0x${(BASE + at).toString(16)} = ${value} (${wide ? 32 : 16} bit)`);
    const e = new DataView(this.eBuf);
    const m = new DataView(this.mBytes.buffer);
    if (wide && (at & 3) === 0) {
      e.setUint32(at, value >>> 0, true);
      m.setUint32(at, value >>> 0, true);
    } else {
      e.setUint16(at, value & 0xffff, true);
      m.setUint16(at, value & 0xffff, true);
    }
  }
}
