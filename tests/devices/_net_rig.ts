// Shared by net_test.ts (the device model and driver, on Deno and Node) and net_udp_test.ts (the
// UDP backend, left out of the npm build): a net device on MMIO or PCI with its own driver bound,
// and IPv4/TCP frames with checksums to check (by the independent RFC 1071 reference of
// _inet_ref.ts, not by the checksum code under test).

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import type { VirtioDevice } from "../../src/device.ts";
import type { DriverDevice } from "../../src/driver.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import type { MainKind } from "../transport/_kinds.ts";
import {
  type NetBackend,
  NetDevice,
  type NetDeviceOptions,
  NetDriver,
  type NetDriverOptions,
  type NetInterface,
  type ReceivedFrame,
} from "../../src/devices/net/mod.ts";
import { concat, l4ChecksumOk, rfc1071 } from "./_inet_ref.ts";

export const MEM = 16 << 20;

/** Probes `device` over `kind`; the transports log into `logs`. */
function transportFor(
  kind: MainKind,
  device: VirtioDevice,
  memory: GuestMemory,
  logs: string[],
) {
  const log = (m: string) => logs.push(m);
  const t: Transport | undefined = kind === "mmio-v2"
    ? probeMmio(new MmioDevice(device, memory, { log }))
    : probePci(new PciFunction(device, memory, { log }));
  if (t === undefined) throw new Error(`probe failed (${kind})`);
  return t;
}

/** Guest memory of {@link MEM} bytes, its DMA allocator, and a bus over them that keeps its log lines in `logs`. */
export function netBus(): {
  memory: GuestMemory;
  bus: VirtioBus;
  logs: string[];
  dma: DmaAllocator;
} {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const logs: string[] = [];
  const dma = new DmaAllocator(0x1000, MEM - 0x1000);
  const bus = new VirtioBus({ memory, dma, log: (m) => logs.push(m) });
  return { memory, bus, logs, dma };
}

export interface Side {
  device: NetDevice;
  nic: NetInterface;
  dev: DriverDevice;
  driver: NetDriver;
  frames: ReceivedFrame[];
}

/** Adds a net device on `backend` to `bus`, bound to a driver of its own. */
export async function attach(
  bus: VirtioBus,
  memory: GuestMemory,
  logs: string[],
  kind: MainKind,
  backend: NetBackend,
  dopts: NetDeviceOptions,
  ropts: NetDriverOptions,
): Promise<Side> {
  const device = new NetDevice({ backend, ...dopts });
  // One bus, one driver per side: register this side's driver only while adding its device.
  const driver = new NetDriver(ropts);
  await bus.registerDriver(driver);
  const dev = await bus.addDevice(transportFor(kind, device, memory, logs));
  const nic = driver.interfaceOf(dev);
  assert.ok(nic, `net driver did not bind: ${logs.join("; ")}`);
  // Keep the binding but let the next device go to its own driver.
  (bus.drivers as NetDriver[]).splice(bus.drivers.indexOf(driver), 1);
  const frames: ReceivedFrame[] = [];
  nic.onFrame((f, info) => frames.push({ ...info, data: f.slice() }));
  return { device, nic, dev, driver, frames };
}

/** IPv4/TCP frame with `payload` bytes; checksum field holds the pseudo-header sum (partial). */
export function tcp4(dst: Uint8Array, src: Uint8Array, payload: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  const ip = 14;
  f[ip] = 0x45;
  const tot = 40 + payload;
  f[ip + 2] = tot >> 8;
  f[ip + 3] = tot & 0xff;
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  f.set([10, 0, 0, 1], ip + 12);
  f.set([10, 0, 0, 2], ip + 16);
  const ipc = rfc1071(f.subarray(ip, ip + 20));
  f[ip + 10] = ipc >> 8;
  f[ip + 11] = ipc & 0xff;
  const t = 34;
  f.set([0x30, 0x39, 0x00, 0x50], t); // ports 12345 -> 80
  f.set([0, 0, 0x10, 0], t + 4); // seq 4096
  f[t + 12] = 0x50; // data offset 5
  f[t + 13] = 0x18; // PSH ACK
  f[t + 14] = 0xff;
  for (let i = 0; i < payload; i++) f[54 + i] = (i * 7) & 0xff;
  // Pseudo-header sum, not inverted (what a stack leaves for NEEDS_CSUM).
  const tcpLen = 20 + payload;
  const s = 0xffff -
    rfc1071(concat(f.subarray(ip + 12, ip + 20), [0, 6, tcpLen >> 8, tcpLen & 0xff]));
  f[t + 16] = s >> 8;
  f[t + 17] = s & 0xff;
  return f;
}

/** True when the TCP checksum of an IPv4 frame verifies. */
export function tcpChecksumOk(f: Uint8Array): boolean {
  const ip = 14;
  const end = ip + ((f[ip + 2] << 8) | f[ip + 3]);
  return l4ChecksumOk({ frame: f.subarray(0, end), ip, l4: 34, headers: 54 }, 4, 6);
}
