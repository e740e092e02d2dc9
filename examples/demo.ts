/**
 * The typed-virtio demo: a split virtqueue laid out in a few pages of
 * "guest memory" through the generated accessors, printed as a reader of
 * the spec would draw it.
 *
 * Run: `deno task demo`
 *
 * @module
 */
import {
  DeviceStatus,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
} from "../mod.ts";

const QUEUE_SIZE = 8;
const memory = new DataView(new ArrayBuffer(0x4000));

// 2.7: descriptor table (16-byte aligned), available ring (2), used ring (4).
const descAt = 0x0000;
const availAt = descAt + QUEUE_SIZE * VirtqDesc.SIZE;
const usedAt = Math.ceil((availAt + VirtqAvail.size(QUEUE_SIZE)) / 4) * 4;
const dataAt = 0x1000;

const hex = (n: number, w = 4) => "0x" + n.toString(16).padStart(w, "0");

console.log(`split virtqueue, queue size ${QUEUE_SIZE}`);
console.log(`  descriptor table at ${hex(descAt)} (${QUEUE_SIZE} x ${VirtqDesc.SIZE} bytes)`);
console.log(`  available ring   at ${hex(availAt)} (${VirtqAvail.size(QUEUE_SIZE)} bytes)`);
console.log(`  used ring        at ${hex(usedAt)} (${VirtqUsed.size(QUEUE_SIZE)} bytes)`);
console.log();

// The driver builds one request: a 16-byte header the device reads, a
// 512-byte buffer the device writes and a 1-byte status it writes.
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

console.log("descriptor table:");
console.log("  idx  addr      len   flags        next  what");
parts.forEach((p, i) => {
  desc.at(descAt + i * VirtqDesc.SIZE);
  const flags =
    [desc.flags & VIRTQ_DESC_F_NEXT ? "NEXT" : "", desc.flags & VIRTQ_DESC_F_WRITE ? "WRITE" : ""]
      .filter(Boolean).join("|") || "-";
  console.log(
    `  ${String(i).padEnd(4)} ${hex(desc.addr)}    ${String(desc.len).padEnd(5)} ${
      flags.padEnd(12)
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

console.log();
const bytes = [...new Uint8Array(memory.buffer, descAt, 16)].map((b) =>
  b.toString(16).padStart(2, "0")
);
console.log(`descriptor 0 as bytes: ${bytes.join(" ")}`);
console.log(
  `device status after a full handshake: 0x${
    (DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER |
      DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK).toString(16)
  }`,
);
