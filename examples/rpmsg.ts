// virtio rpmsg: a remote processor (our device model) offers two services, Linux's side (our
// driver) discovers them through the name service and talks to both, over PCI.
// Run: deno run examples/rpmsg.ts

import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { RpmsgDevice, rpmsgDriver } from "../src/devices/rpmsg/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// The remote processor: an upper-casing echo at a fixed address, and a sensor that answers
// "read" with a reading and then pushes two more on its own.
const remote = new RpmsgDevice();
const upper = remote.createEndpoint("rpmsg-upper", 0x400);
upper.onMessage((m) => void upper.sendTo(m.src, enc.encode(dec.decode(m.data).toUpperCase())));
const sensor = remote.createEndpoint("rpmsg-sensor"); // the next free address from 1024
let reading = 20.5;
sensor.onMessage(async (m) => {
  for (let i = 0; i < 3; i++) await sensor.sendTo(m.src, enc.encode(`${(reading += 0.25)} C`));
});

// Linux's side.
const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const driver = rpmsgDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(remote, memory));
if (transport === undefined) throw new Error("no virtio PCI function found");
const dev = await bus.addDevice(transport);
const rpmsg = await driver.nextRpmsg();

const a = await rpmsg.waitChannel("rpmsg-upper");
const b = await rpmsg.waitChannel("rpmsg-sensor");
console.log(
  "channels announced:",
  rpmsg.channels.map((c) => `${c.name}@0x${c.addr.toString(16)}`).join(", "),
);

// One local endpoint per channel, as /dev/rpmsg_ctrl0's RPMSG_CREATE_EPT_IOCTL makes them.
const toUpper = rpmsg.createEndpoint("", undefined, { remote: a.addr });
await toUpper.send(enc.encode("hello, remote processor"));
const reply = await toUpper.receive();
console.log(`0x${reply.src.toString(16)} -> ${reply.dst}: ${dec.decode(reply.data)}`);

const toSensor = rpmsg.createEndpoint("", undefined, { remote: b.addr });
await toSensor.send(enc.encode("read"));
for (let i = 0; i < 3; i++) console.log("sensor:", dec.decode((await toSensor.receive()).data));

console.log(
  `buffers: ${rpmsg.rxBuffers} of ${rpmsg.bufferSize} bytes each way; ` +
    `largest payload ${rpmsg.maxPayload} bytes`,
);
await bus.removeDevice(dev);
