// Best-of-N CPU time of virtio-crypto (our driver, our device model calling node:crypto, MMIO,
// one thread) against node:crypto called directly, per operation and size, the two interleaved
// so that load on a shared machine hits them alike (as the other bench/_*_compare.ts do). Time
// is the process's CPU time (user + system). Prints one ratio per case.
//
// Run: deno run -A bench/_crypto_compare.ts [runs=9] [bytes per case=4194304]
import process from "node:process";
import { createCipheriv, createHash } from "node:crypto";
import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { CryptoDevice, cryptoDriver } from "../src/devices/crypto/mod.ts";
import {
  VIRTIO_CRYPTO_AEAD_GCM,
  VIRTIO_CRYPTO_CIPHER_AES_CBC,
  VIRTIO_CRYPTO_HASH_SHA_256,
} from "../src/generated/devices/crypto.ts";

const runs = Number(Deno.args[0] ?? 9);
const volume = Number(Deno.args[1] ?? 4 << 20);

const memory = GuestMemory.fromBuffer(new ArrayBuffer(16 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (16 << 20) - 0x1000) });
const driver = cryptoDriver();
await bus.registerDriver(driver);
const transport = probeMmio(new MmioDevice(new CryptoDevice({ maxSize: 4 << 20 }), memory));
if (transport === undefined) throw new Error("no virtio-mmio device");
await bus.addDevice(transport);
const engine = await driver.nextEngine();
const key = new Uint8Array(32).fill(7);
const iv = new Uint8Array(16).fill(9);
const nonce = new Uint8Array(12).fill(3);
const aad = new Uint8Array(16);
const cbc = await engine.createSession({
  service: "cipher",
  algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
  key,
  op: "encrypt",
});
const sha = await engine.createSession({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 });
const gcm = await engine.createSession({
  service: "aead",
  algo: VIRTIO_CRYPTO_AEAD_GCM,
  key,
  op: "encrypt",
});

type Op = (data: Uint8Array) => unknown;
const ops: [string, Op, Op][] = [
  ["aes-256-cbc", (d) => {
    const c = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
    c.update(d);
    c.final();
  }, (d) => cbc.encrypt(iv, d)],
  ["sha-256", (d) => createHash("sha256").update(d).digest(), (d) => sha.hash(d)],
  ["aes-256-gcm", (d) => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.setAAD(aad);
    c.update(d);
    c.final();
    c.getAuthTag();
  }, (d) => gcm.seal(nonce, aad, d)],
];

async function cpu(op: Op, data: Uint8Array, n: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await op(data);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

console.log(`best of ${runs}, ${volume >> 20} MiB per case, CPU time`);
for (const size of [256, 4096, 65536]) {
  const data = new Uint8Array(size).map((_, i) => i & 0xff);
  const n = Math.max(1, Math.floor(volume / size));
  for (const [name, direct, virtio] of ops) {
    await cpu(direct, data, Math.min(n, 64)); // warm up both
    await cpu(virtio, data, Math.min(n, 64));
    let bestDirect = Infinity, bestVirtio = Infinity;
    for (let r = 0; r < runs; r++) {
      bestDirect = Math.min(bestDirect, await cpu(direct, data, n));
      bestVirtio = Math.min(bestVirtio, await cpu(virtio, data, n));
    }
    console.log(
      `${name.padEnd(12)} ${String(size).padStart(6)} B: node:crypto ${
        bestDirect.toFixed(1)
      } ms, ` +
        `virtio-crypto ${bestVirtio.toFixed(1)} ms, ratio ${(bestVirtio / bestDirect).toFixed(2)}x`,
    );
  }
}
