// Frames per second through two virtio-net devices joined back to back:
// driver A copies a frame into a transmit buffer, device A reads it out of
// the ring and hands it over the in-memory link, device B writes it into a
// mergeable receive buffer, driver B's callback sees it and re-posts the
// buffer. The baseline in the same run copies each frame between two
// ArrayBuffers directly (what moving the bytes costs without virtio).
// `deno bench` prints the stack's cost relative to the baseline.

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import type { Transport } from "../src/transport/transport.ts";
import {
  connectBackToBack,
  NetDevice,
  NetDriver,
  type NetInterface,
} from "../src/devices/net/mod.ts";

const BATCH = 64;
const MEM = 16 << 20;

for (const size of [64, 1514]) {
  const frame = new Uint8Array(size);
  for (let i = 0; i < size; i++) frame[i] = i & 0xff;

  // ---- baseline: copy frames between two ArrayBuffers ----
  {
    const src = new Uint8Array(new ArrayBuffer(2048 * BATCH));
    const dst = new Uint8Array(new ArrayBuffer(2048 * BATCH));
    let got = 0;
    Deno.bench(`copy ${size}-byte frames between ArrayBuffers`, {
      group: `net ${size}`,
      baseline: true,
      n: 20000,
    }, () => {
      for (let i = 0; i < BATCH; i++) src.set(frame, i * 2048);
      for (let i = 0; i < BATCH; i++) {
        dst.set(src.subarray(i * 2048, i * 2048 + size), i * 2048);
        got++;
      }
    });
  }

  for (const kind of ["mmio", "pci"] as const) {
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
    const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
    const driver = new NetDriver();
    await bus.registerDriver(driver);
    const [l, r] = connectBackToBack();
    const nics: NetInterface[] = [];
    for (const backend of [l, r]) {
      const device = new NetDevice({ backend });
      const t: Transport | undefined = kind === "mmio"
        ? probeMmio(new MmioDevice(device, memory))
        : probePci(new PciFunction(device, memory));
      if (t === undefined) throw new Error("probe failed");
      const nic = driver.interfaceOf(await bus.addDevice(t));
      if (nic === undefined) throw new Error("not bound");
      nics.push(nic);
    }
    const [a, b] = nics;
    await b.setPromisc(true);
    let received = 0;
    b.onFrame(() => {
      received++;
    });
    frame.set(b.mac, 0);
    frame.set(a.mac, 6);
    Deno.bench(`virtio-net ${kind} back to back, ${size}-byte frames`, {
      group: `net ${size}`,
      n: 20000,
    }, () => {
      const before = received;
      for (let i = 0; i < BATCH; i++) {
        if (!a.trySend(frame)) throw new Error("transmit queue full");
      }
      if (received - before !== BATCH) throw new Error(`lost frames: ${received - before}`);
    });
  }
}
