/**
 * The typed-virtio demo, in three acts:
 *
 * 1. Layouts: a split virtqueue laid out in "guest memory" through the
 *    generated accessors, as a reader of the spec would draw it.
 * 2. One queue: a driver and a device exchanging requests through the
 *    virtqueue engine, each side printing what it sees.
 * 3. One bus, several devices: blk, net, rng, console, input and balloon on
 *    MMIO and PCI; each probed, used once and hot-unplugged.
 *
 * Run: `deno task demo` (no network, no QEMU; only random bytes vary).
 *
 * @module
 */
import {
  DeviceStatus,
  VirtioBalloonFeatures,
  VirtioBlkFeatures,
  VirtioConsoleFeatures,
  VirtioFeatures,
  VirtioNetFeatures,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
} from "../mod.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../src/virtqueue/mod.ts";
import { VirtioBus } from "../src/bus.ts";
import type { DriverDevice } from "../src/driver.ts";
import type { VirtioDevice } from "../src/device.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import type { Transport } from "../src/transport/transport.ts";
import { BlkDevice, blkDriver, MemoryStorage } from "../src/devices/blk/mod.ts";
import { connectBackToBack, NetDevice, NetDriver } from "../src/devices/net/mod.ts";
import { RngDevice, rngDriver } from "../src/devices/rng/mod.ts";
import { ConsoleDevice, ConsoleDriver } from "../src/devices/console/mod.ts";
import {
  InputDevice,
  InputDriver,
  type InputEvent,
  KEY_A,
  keyboardProfile,
} from "../src/devices/input/mod.ts";
import { BalloonDevice, balloonDriver } from "../src/devices/balloon/mod.ts";

const hex = (n: number, w = 4) => "0x" + n.toString(16).padStart(w, "0");
const enc = new TextEncoder();
const dec = new TextDecoder();
const heading = (s: string) => console.log(`\n=== ${s} ${"=".repeat(Math.max(0, 74 - s.length))}`);

// ---------------------------------------------------------------------------
heading("1. Layouts: a split virtqueue in guest memory");

const QUEUE_SIZE = 8;
const memory = new DataView(new ArrayBuffer(0x4000));
// 2.7: descriptor table (16-byte aligned), available ring (2), used ring (4).
const descAt = 0x0000;
const availAt = descAt + QUEUE_SIZE * VirtqDesc.SIZE;
const usedAt = Math.ceil((availAt + VirtqAvail.size(QUEUE_SIZE)) / 4) * 4;
const dataAt = 0x1000;
console.log(
  `queue size ${QUEUE_SIZE}: descriptors at ${
    hex(descAt)
  } (${QUEUE_SIZE} x ${VirtqDesc.SIZE} B), ` +
    `avail at ${hex(availAt)} (${VirtqAvail.size(QUEUE_SIZE)} B), ` +
    `used at ${hex(usedAt)} (${VirtqUsed.size(QUEUE_SIZE)} B)`,
);

// The driver writes one request by hand: a header the device reads, a data
// buffer and a status byte the device writes.
const desc = new VirtqDesc(memory);
const parts = [
  { len: 16, flags: 0, what: "request header (device reads)" },
  { len: 512, flags: VIRTQ_DESC_F_WRITE, what: "data (device writes)" },
  { len: 1, flags: VIRTQ_DESC_F_WRITE, what: "status (device writes)" },
];
let addr = dataAt;
parts.forEach((p, i) => {
  desc.at(descAt + i * VirtqDesc.SIZE);
  desc.addr = addr;
  desc.len = p.len;
  desc.flags = p.flags | (i < parts.length - 1 ? VIRTQ_DESC_F_NEXT : 0);
  desc.next = i < parts.length - 1 ? i + 1 : 0;
  addr += p.len;
});
const avail = new VirtqAvail(memory, availAt, QUEUE_SIZE);
avail.setRing(avail.idx % QUEUE_SIZE, 0);
avail.idx = avail.idx + 1;

console.log("  idx  addr    len  flags       next  what");
parts.forEach((p, i) => {
  desc.at(descAt + i * VirtqDesc.SIZE);
  const flags =
    [desc.flags & VIRTQ_DESC_F_NEXT ? "NEXT" : "", desc.flags & VIRTQ_DESC_F_WRITE ? "WRITE" : ""]
      .filter(Boolean).join("|") || "-";
  console.log(
    `  ${String(i).padEnd(4)} ${hex(desc.addr)}  ${String(desc.len).padEnd(4)} ${
      flags.padEnd(11)
    } ${String(desc.next).padEnd(5)} ${p.what}`,
  );
});
console.log(`available ring: idx=${avail.idx} ring[0]=${avail.ring(0)}`);

// The device consumes it and reports 513 bytes written.
const used = new VirtqUsed(memory, usedAt, QUEUE_SIZE);
const elem = used.ring(used.idx % QUEUE_SIZE);
elem.id = avail.ring(0);
elem.len = 512 + 1;
used.idx = used.idx + 1;
console.log(
  `used ring:      idx=${used.idx} ring[0]={id: ${used.ring(0).id}, len: ${used.ring(0).len}}`,
);
const bytes = [...new Uint8Array(memory.buffer, descAt, 16)].map((b) =>
  b.toString(16).padStart(2, "0")
);
console.log(`descriptor 0 as bytes: ${bytes.join(" ")}`);
const S = DeviceStatus;
console.log(
  `device status after a full handshake: ${
    hex(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK, 2)
  } (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)`,
);

// ---------------------------------------------------------------------------
heading("2. One queue: a driver and a device through the engine");

// 64 KiB of guest memory at 0x10000, and the allocator the driver uses.
const qmem = GuestMemory.fromBuffer(new ArrayBuffer(0x10000), 0x10000);
const qdma = new DmaAllocator(0x10000, 0x10000);
const opts = queueOptionsFromFeatures(1n << BigInt(VirtioFeatures.VIRTIO_F_EVENT_IDX), 0);
const addrs = allocateQueue(qdma, 16, opts.packed);
const driverQ = createDriverQueue<string>(qmem, addrs, opts, qdma);
const deviceQ = createDeviceQueue(qmem, addrs, opts);
console.log(
  `split ring of ${addrs.size}, EVENT_IDX: desc ${hex(addrs.desc, 5)}, ` +
    `avail ${hex(addrs.driver, 5)}, used ${hex(addrs.device, 5)}`,
);

// The driver: each request is a readable text, a writable reply buffer and a
// writable status byte. The device upper-cases the text.
const replies = new Map<string, number>();
for (const text of ["hello, device", "virtio", "split rings"]) {
  const req = qdma.alloc(text.length, 8);
  const resp = qdma.alloc(32, 8);
  const status = qdma.alloc(1, 1);
  qmem.write(req, enc.encode(text));
  driverQ.addSgs([{ addr: req, len: text.length }], [{ addr: resp, len: 32 }, {
    addr: status,
    len: 1,
  }], text);
  replies.set(text, resp);
}
console.log(
  `driver: added 3 requests, kick -> ${driverQ.kick() ? "notify the device" : "no notification"}`,
);

for (let chain = deviceQ.pop(); chain !== null; chain = deviceQ.pop()) {
  const segs = Array.from(
    { length: chain.length },
    (_, i) => `${chain.isWritable(i) ? "W" : "R"} ${hex(chain.addr(i), 5)}+${chain.len(i)}`,
  );
  const input = new Uint8Array(chain.readableLength);
  chain.read(0, input);
  const text = dec.decode(input);
  const out = enc.encode(text.toUpperCase());
  const written = chain.write(0, out) + chain.write(32, new Uint8Array([0])); // text, status OK
  console.log(`device: chain head ${chain.head}: [${segs.join(", ")}] "${text}"`);
  deviceQ.addUsed(chain, written);
}
console.log(`device: interrupt the driver? ${deviceQ.needsNotification() ? "yes" : "no"}`);

for (let u = driverQ.getBuf(); u !== null; u = driverQ.getBuf()) {
  const answer = dec.decode(qmem.bytes(replies.get(u.token) ?? 0, u.len - 1));
  console.log(`driver: "${u.token}" back, used len ${u.len}: "${answer}" + status 0`);
}

// ---------------------------------------------------------------------------
heading("3. One bus, several devices: probe, use, remove");

const MEM = 16 << 20;
const guest = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const bus = new VirtioBus({
  memory: guest,
  dma: new DmaAllocator(0x1000, MEM - 0x1000),
  log: (m) => console.log(`bus: ${m}`), // probe failures, if any
});

const blk = blkDriver();
const net = new NetDriver();
const rng = rngDriver();
const con = new ConsoleDriver();
const input = new InputDriver();
const balloon = balloonDriver();
for (const d of [blk, net, rng, con, input, balloon]) await bus.registerDriver(d);
console.log(`drivers: ${bus.drivers.map((d) => d.name).join(", ")}`);

// Feature bit numbers to names, from the generated constant groups: bits
// 24-49 are the transport's (VirtioFeatures), the others the device type's.
const deviceFeatures: Record<number, Record<string, number>> = {
  1: VirtioNetFeatures,
  2: VirtioBlkFeatures,
  3: VirtioConsoleFeatures,
  5: VirtioBalloonFeatures,
};
function featureNames(dev: DriverDevice): string {
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (!dev.hasFeature(b)) continue;
    const group = b >= 24 && b < 50 ? VirtioFeatures : deviceFeatures[dev.deviceId] ?? {};
    const name = Object.entries(group).find(([, v]) => v === b)?.[0] ?? `bit ${b}`;
    out.push(name.replace(/^VIRTIO_([A-Z]+_)?F_/, ""));
  }
  return out.join(" ");
}

async function plug(model: VirtioDevice, kind: "MMIO" | "PCI"): Promise<DriverDevice> {
  const t: Transport | undefined = kind === "MMIO"
    ? probeMmio(new MmioDevice(model, guest))
    : probePci(new PciFunction(model, guest));
  if (t === undefined) throw new Error(`${kind} probe found no device`);
  const dev = await bus.addDevice(t);
  const feats = featureNames(dev);
  console.log(
    `${dev.name} ${kind.padEnd(4)} ${dev.modalias} -> ${dev.driver?.name ?? "(no driver)"}`,
  );
  // Wrap long feature lists at ~100 columns.
  let line = "   features:";
  for (const f of feats.split(" ")) {
    if (line.length + f.length + 1 > 100) {
      console.log(line);
      line = "            ";
    }
    line += " " + f;
  }
  console.log(line);
  return dev;
}

// virtio-blk over MMIO, backed by 64 KiB of memory: write sector 8, read it back.
const blkDev = await plug(
  new BlkDevice({ storage: new MemoryStorage(new Uint8Array(64 << 10)) }),
  "MMIO",
);
const disk = await blk.nextDisk();
const sector = new Uint8Array(512);
sector.set(enc.encode("typed-virtio was here"));
await disk.write(8, sector);
const back = new Uint8Array(512);
await disk.read(8, back);
console.log(
  `   use: ${disk.capacity} sectors; wrote sector 8, read back "${
    dec.decode(back.subarray(0, 21))
  }"`,
);

// virtio-net: two devices joined back to back, one on MMIO, one on PCI.
const [left, right] = connectBackToBack();
const netA = await plug(new NetDevice({ backend: left, mac: "52:54:00:00:00:01" }), "MMIO");
const netB = await plug(new NetDevice({ backend: right, mac: "52:54:00:00:00:02" }), "PCI");
const a = net.interfaceOf(netA)!;
const b = net.interfaceOf(netB)!;
const got = new Promise<Uint8Array>((resolve) => b.onFrame((f) => resolve(f.slice())));
const frame = new Uint8Array(60);
frame.set(b.mac, 0);
frame.set(a.mac, 6);
frame.set([0x88, 0xb5], 12); // local experimental ethertype
frame.set(enc.encode("ping over virtio-net"), 14);
await a.send(frame);
const rx = await got;
console.log(
  `   use: ${a.macString} sent ${frame.length} bytes, ${b.macString} received ${rx.length}: ` +
    `"${dec.decode(rx.subarray(14, 34))}"`,
);

// virtio-rng over MMIO: 16 random bytes (the only line that changes per run).
const rngDev = await plug(new RngDevice(), "MMIO");
const src = await rng.nextSource();
const random = await src.read(16);
console.log(
  `   use: 16 random bytes ${[...random].map((x) => x.toString(16).padStart(2, "0")).join("")}`,
);

// virtio-console over PCI: the guest writes to port 0, the host reads it.
const consoleModel = new ConsoleDevice({ size: { cols: 80, rows: 25 } });
const conDev = await plug(consoleModel, "PCI");
const port = await con.consoleOf(conDev)!.whenPort(0);
const hostReader = consoleModel.port(0)!.readable.getReader();
const writer = port.writable.getWriter();
await writer.write(enc.encode("hello from the guest console\n"));
writer.releaseLock();
const hostGot = dec.decode((await hostReader.read()).value);
hostReader.releaseLock();
console.log(
  `   use: ${port.size?.cols}x${port.size?.rows} console, host read ${JSON.stringify(hostGot)}`,
);

// virtio-input over MMIO: the host presses a key, the driver gets the events.
const keyboard = new InputDevice(keyboardProfile());
const inDev = await plug(keyboard, "MMIO");
const kbd = input.inputOf(inDev)!;
const events: InputEvent[] = [];
const synced = new Promise<void>((resolve) =>
  kbd.onEvent((e) => {
    events.push({ ...e }); // the driver reuses one event object
    if (e.type === 0) resolve(); // EV_SYN ends the report
  })
);
keyboard.key(KEY_A, true);
await synced;
console.log(
  `   use: "${kbd.name}" pressed KEY_A -> ${
    events.map((e) => `{type ${e.type}, code ${e.code}, value ${e.value}}`).join(" ")
  }`,
);

// virtio-balloon over PCI (packed ring): the host asks for 16 pages.
const balloonModel = new BalloonDevice();
const balDev = await plug(balloonModel, "PCI");
const bal = await balloon.nextBalloon();
balloonModel.setTarget(16);
await bal.settled();
console.log(
  `   use: host target 16 pages, guest gave ${balloonModel.actual} (${
    balloonModel.actual * 4
  } KiB)`,
);

// Hot unplug, in probe order.
for (const dev of [blkDev, netA, netB, rngDev, conDev, inDev, balDev]) {
  const name = dev.driver?.name;
  const left = await bus.removeDevice(dev);
  console.log(
    `bus: remove ${dev.name} (${name}): status ${hex(dev.getStatus(), 2)}, ` +
      `${left.length} buffers left over`,
  );
}
console.log(`bus: ${bus.devices.length} devices, ${bus.drivers.length} drivers`);
