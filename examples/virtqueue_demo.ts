/**
 * A driver and a device exchanging requests through a split virtqueue in
 * guest memory, each side printing what it sees. The "device" upper-cases
 * text: the driver sends a string in a device-readable buffer and gets the
 * answer back in a device-writable one.
 *
 * Run: `deno run examples/virtqueue_demo.ts`
 *
 * @module
 */
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../src/virtqueue/mod.ts";

const hex = (n: number) => "0x" + n.toString(16).padStart(5, "0");
const enc = new TextEncoder();
const dec = new TextDecoder();

// 64 KiB of "guest memory" at guest-physical address 0x10000, and an
// allocator the driver uses to place the rings and its buffers.
const mem = GuestMemory.fromBuffer(new ArrayBuffer(0x10000), 0x10000);
const alloc = new DmaAllocator(0x10000, 0x10000);

// Features the two sides agreed on: VIRTIO_F_EVENT_IDX (bit 29) only.
const opts = queueOptionsFromFeatures(1n << 29n, 0);
const addrs = allocateQueue(alloc, 8, opts.packed);
console.log(`queue 0: split ring of ${addrs.size} descriptors`);
console.log(
  `  descriptor table ${hex(addrs.desc)}, available ring ${hex(addrs.driver)}, used ring ${
    hex(addrs.device)
  }\n`,
);

const driver = createDriverQueue<string>(mem, addrs, opts, alloc);
const device = createDeviceQueue(mem, addrs, opts);

// --- driver: three requests -------------------------------------------------
const requests = ["hello, device", "virtio", "split rings"];
const replies = new Map<string, number>();
for (const text of requests) {
  const bytes = enc.encode(text);
  const req = alloc.alloc(bytes.length, 8);
  const resp = alloc.alloc(64, 8);
  mem.write(req, bytes);
  driver.addSgs([{ addr: req, len: bytes.length }], [{ addr: resp, len: 64 }], text);
  replies.set(text, resp);
  console.log(
    `driver: made "${text}" available (readable ${hex(req)}+${bytes.length}, writable ${
      hex(resp)
    }+64)`,
  );
}
console.log(`driver: kick -> ${driver.kick() ? "notify the device" : "no notification needed"}\n`);

// --- device: serve whatever is available -------------------------------------
for (let chain = device.pop(); chain !== null; chain = device.pop()) {
  const input = new Uint8Array(chain.readableLength);
  chain.read(0, input);
  const text = dec.decode(input);
  console.log(
    `device: chain at head ${chain.head}: ${chain.readableCount} readable (${chain.readableLength} bytes), ` +
      `${chain.writableCount} writable (${chain.writableLength} bytes): "${text}"`,
  );
  const written = chain.write(0, enc.encode(text.toUpperCase()));
  device.addUsed(chain, written);
}
console.log(`device: interrupt the driver? ${device.needsNotification() ? "yes" : "no"}\n`);

// --- driver: collect the answers ---------------------------------------------
for (let used = driver.getBuf(); used !== null; used = driver.getBuf()) {
  const answer = dec.decode(mem.bytes(replies.get(used.token) ?? 0, used.len));
  console.log(`driver: "${used.token}" came back with ${used.len} bytes: "${answer}"`);
}

// --- a hostile driver: a descriptor that points at itself --------------------
console.log("\na driver writes a chain whose descriptor 0 points at itself...");
const v = mem.regions[0].view;
const at = (addr: number) => addr - mem.regions[0].base;
v.setUint16(at(addrs.desc) + 12, 1, true); // flags: VIRTQ_DESC_F_NEXT
v.setUint16(at(addrs.desc) + 14, 0, true); // next: 0
const availIdx = v.getUint16(at(addrs.driver) + 2, true);
v.setUint16(at(addrs.driver) + 4 + 2 * (availIdx % 8), 0, true);
v.setUint16(at(addrs.driver) + 2, availIdx + 1, true);
try {
  device.pop();
} catch (e) {
  console.log(`device: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
  console.log("device: (a device model now sets DEVICE_NEEDS_RESET)");
}
