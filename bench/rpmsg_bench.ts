// Messages through virtio rpmsg, in one run: each iteration sends 256 messages of 256 bytes and
// waits for 256 replies. rpmsg: our driver (Linux's end) to our device model (the remote
// processor's end) over PCI, both in this thread, the device echoing every message back from an
// endpoint (512-byte buffers, 64 each way). Baseline: the same 256 round trips of 256-byte
// messages through a MessageChannel (the platform's in-process message passing). `deno bench`
// prints rpmsg's cost relative to the baseline.

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { RpmsgDevice, rpmsgDriver } from "../src/devices/rpmsg/mod.ts";

const N = 256;
const payload = new Uint8Array(256).fill(0x5a);

// ---- baseline: MessageChannel ping-pong ----
{
  const { port1, port2 } = new MessageChannel();
  port2.onmessage = (e) => port2.postMessage(e.data);
  let got = 0;
  let done: () => void = () => {};
  port1.onmessage = () => {
    if (++got === N) done();
  };
  Deno.bench("256 round trips through a MessageChannel", { group: "rpmsg", baseline: true }, () => {
    got = 0;
    const finished = new Promise<void>((r) => (done = r));
    for (let i = 0; i < N; i++) port1.postMessage(payload);
    return finished;
  });
  globalThis.addEventListener("unload", () => {
    port1.close();
    port2.close();
  });
}

// ---- rpmsg over PCI: driver to device and back ----
{
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(8 << 20));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (8 << 20) - 0x1000) });
  const driver = rpmsgDriver();
  await bus.registerDriver(driver);
  const device = new RpmsgDevice({ queueSize: 64 });
  const echo = device.createEndpoint("echo", 0x400);
  echo.onMessage((m) => void echo.sendTo(m.src, m.data));
  const transport = probePci(new PciFunction(device, memory));
  if (transport === undefined) throw new Error("no virtio PCI function");
  await bus.addDevice(transport);
  const rpmsg = await driver.nextRpmsg();
  const ch = await rpmsg.waitChannel("echo");
  const ep = rpmsg.createEndpoint("", undefined, { remote: ch.addr });
  let got = 0;
  let done: () => void = () => {};
  ep.onMessage(() => {
    if (++got === N) done();
  });
  Deno.bench("256 round trips through virtio rpmsg (PCI)", { group: "rpmsg" }, async () => {
    got = 0;
    const finished = new Promise<void>((r) => (done = r));
    const sent: Promise<void>[] = [];
    for (let i = 0; i < N; i++) sent.push(ep.send(payload));
    await Promise.all(sent);
    await finished;
  });
}
