// virtio-crypto against node:crypto called directly, in one run: each group does the same
// operation on the same bytes, once through our driver, our device model (which calls
// node:crypto) and the MMIO transport in this thread, once by node:crypto alone (the
// baseline). `deno bench` prints the device path's cost as a ratio to the baseline: what the
// virtqueue round trip, the request layout and the copies in and out of guest memory add.

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

for (const size of [4096, 65536]) {
  const data = new Uint8Array(size).map((_, i) => i & 0xff);
  const kib = `${size / 1024} KiB`;
  Deno.bench(`aes-256-cbc ${kib}: node:crypto`, { group: `cbc ${kib}`, baseline: true }, () => {
    const c = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
    c.update(data);
    c.final();
  });
  Deno.bench(`aes-256-cbc ${kib}: virtio-crypto`, { group: `cbc ${kib}` }, async () => {
    await cbc.encrypt(iv, data);
  });
  Deno.bench(`sha-256 ${kib}: node:crypto`, { group: `sha ${kib}`, baseline: true }, () => {
    createHash("sha256").update(data).digest();
  });
  Deno.bench(`sha-256 ${kib}: virtio-crypto`, { group: `sha ${kib}` }, async () => {
    await sha.hash(data);
  });
  Deno.bench(`aes-256-gcm ${kib}: node:crypto`, { group: `gcm ${kib}`, baseline: true }, () => {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.setAAD(aad);
    c.update(data);
    c.final();
    c.getAuthTag();
  });
  Deno.bench(`aes-256-gcm ${kib}: virtio-crypto`, { group: `gcm ${kib}` }, async () => {
    await gcm.seal(nonce, aad, data);
  });
}
