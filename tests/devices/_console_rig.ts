// Shared by console_test.ts (the device model and driver, on Deno and Node) and
// console_stdio_test.ts (the Deno-only stdio backend): a console device on MMIO or PCI with the
// driver bound, and byte helpers.

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import type { DriverDevice } from "../../src/driver.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import type { MainKind } from "../transport/_kinds.ts";
import {
  type Console,
  ConsoleDevice,
  type ConsoleDeviceOptions,
  ConsoleDriver,
  type ConsoleDriverOptions,
} from "../../src/devices/console/mod.ts";

const MEM = 8 << 20;
export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

/** A console device on `kind` with the console driver bound to it. */
export async function rig(
  kind: MainKind,
  dopts: ConsoleDeviceOptions = {},
  ropts: ConsoleDriverOptions = {},
) {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000), log });
  const device = new ConsoleDevice(dopts);
  const t: Transport | undefined = kind === "mmio-v2"
    ? probeMmio(new MmioDevice(device, memory, { log }))
    : probePci(new PciFunction(device, memory, { log }));
  if (t === undefined) throw new Error("probe failed");
  const driver = new ConsoleDriver(ropts);
  await bus.registerDriver(driver);
  const dev: DriverDevice = await bus.addDevice(t);
  const con = driver.consoleOf(dev);
  assert.ok(con, `console driver did not bind: ${logs.join("; ")}`);
  return { device, con: con as Console, dev, bus, memory, logs };
}

/** Reads until `n` bytes arrived. */
export async function readBytes(
  r: ReadableStreamDefaultReader<Uint8Array>,
  n: number,
): Promise<Uint8Array> {
  const parts: number[] = [];
  while (parts.length < n) {
    const { value, done } = await r.read();
    if (done) break;
    parts.push(...value);
  }
  return Uint8Array.from(parts);
}
