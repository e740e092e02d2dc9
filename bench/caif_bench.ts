// Frames through a virtio-caif link, in one run: each iteration moves 256 frames of 1500 bytes
// one way. caif: our driver (host end) and the modem model over MMIO, both in this thread;
// uplink with `link.send` (64 in flight), downlink with `modem.send` and `link.nextFrame` (the
// modem drives the downlink ring over 64 lent buffers). Baseline: the same frames copied into a
// buffer and out again (what the link must do at least), in the same run. `deno bench` prints
// the link's cost relative to the baseline.

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { CaifDevice, caifDriver } from "../src/devices/caif/mod.ts";

const FRAMES = 256;
const frame = new Uint8Array(1500).fill(0x5a);

// ---- baseline: copy each frame into a buffer with headroom and out again ----
{
  const buf = new Uint8Array(32 + 1500 + 32);
  let sink = 0;
  Deno.bench("256 frames copied in and out of a buffer", { group: "caif", baseline: true }, () => {
    for (let i = 0; i < FRAMES; i++) {
      buf.set(frame, 32);
      sink += buf.slice(32, 32 + 1500)[i & 1023];
    }
  });
  globalThis.addEventListener("unload", () => void (sink === -1 && console.log(sink)));
}

// ---- caif over MMIO ----
{
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(16 << 20));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (16 << 20) - 0x1000) });
  let got = 0;
  const modem = new CaifDevice({ onFrame: () => got++ });
  const driver = caifDriver({ downlinkSize: 64 });
  await bus.registerDriver(driver);
  const transport = probeMmio(new MmioDevice(modem, memory));
  if (transport === undefined) throw new Error("no virtio-mmio device");
  await bus.addDevice(transport);
  const link = await driver.nextLink();

  Deno.bench("256 frames uplink (driver to modem, MMIO)", { group: "caif" }, async () => {
    const start = got;
    for (let i = 0; i < FRAMES; i += 64) {
      await Promise.all(Array.from({ length: 64 }, () => link.send(frame)));
    }
    if (got - start !== FRAMES) throw new Error("frames lost");
  });

  Deno.bench("256 frames downlink (modem to driver, MMIO)", { group: "caif" }, async () => {
    for (let i = 0; i < FRAMES; i++) modem.send(frame);
    for (let i = 0; i < FRAMES; i++) await link.nextFrame();
  });
}
