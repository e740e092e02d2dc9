// virtio-crypto: sessions on a crypto device over PCI, each result checked against node:crypto.
// Run: deno run examples/crypto.ts

import assert from "node:assert/strict";
import { createCipheriv, createHash, createHmac } from "node:crypto";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { VirtioBus } from "../src/bus.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { CryptoDevice, cryptoDriver } from "../src/devices/crypto/mod.ts";
import {
  VIRTIO_CRYPTO_AEAD_GCM,
  VIRTIO_CRYPTO_CIPHER_AES_CBC,
  VIRTIO_CRYPTO_HASH_SHA_256,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
} from "../src/generated/devices/crypto.ts";

const memory = GuestMemory.fromBuffer(new ArrayBuffer(4 << 20));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (4 << 20) - 0x1000) });
const device = new CryptoDevice({ dataQueues: 2 });
const driver = cryptoDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (transport === undefined) throw new Error("no virtio PCI function found");
const dev = await bus.addDevice(transport);
const engine = await driver.nextEngine();
const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
console.log(
  `services 0b${engine.capabilities.services.toString(2)}, ${engine.dataqs.length} data queues`,
);

// AES-256-CBC: an encrypt session and a decrypt session (the op belongs to the session).
const key = crypto.getRandomValues(new Uint8Array(32));
const iv = crypto.getRandomValues(new Uint8Array(16));
const plain = new TextEncoder().encode("sixteen byte blk".repeat(4));
const enc = await engine.createSession({
  service: "cipher",
  algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
  key,
  op: "encrypt",
});
const dec = await engine.createSession({
  service: "cipher",
  algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
  key,
  op: "decrypt",
});
const ct = await enc.encrypt(iv, plain);
const ref = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
assert.deepEqual(ct, new Uint8Array([...ref.update(plain), ...ref.final()]));
assert.deepEqual(await dec.decrypt(iv, ct), plain);
console.log(`aes-256-cbc: ${hex(ct.subarray(0, 16))}... (matches node:crypto, decrypts back)`);

const sha = await engine.createSession({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 });
const digest = await sha.hash(plain);
assert.equal(hex(digest), createHash("sha256").update(plain).digest("hex"));
console.log(`sha-256:     ${hex(digest)}`);

const hmac = await engine.createSession({
  service: "mac",
  algo: VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
  key,
});
const tag = await hmac.mac(plain);
assert.equal(hex(tag), createHmac("sha256", key).update(plain).digest("hex"));
console.log(`hmac-sha256: ${hex(tag)}`);

const seal = await engine.createSession({
  service: "aead",
  algo: VIRTIO_CRYPTO_AEAD_GCM,
  key,
  op: "encrypt",
});
const open = await engine.createSession({
  service: "aead",
  algo: VIRTIO_CRYPTO_AEAD_GCM,
  key,
  op: "decrypt",
});
const nonce = crypto.getRandomValues(new Uint8Array(12));
const aad = new TextEncoder().encode("header");
const sealed = await seal.seal(nonce, aad, plain);
assert.deepEqual(await open.open(nonce, aad, sealed), plain);
sealed[0] ^= 1;
await assert.rejects(open.open(nonce, aad, sealed), { code: "ERR_VIRTIO_DEVICE_CRYPTO_BADMSG" });
console.log(`aes-256-gcm: sealed ${sealed.length} bytes; a flipped bit is VIRTIO_CRYPTO_BADMSG`);

for (const s of [enc, dec, sha, hmac, seal, open]) await s.destroy();
console.log(`sessions left on the device: ${device.sessionCount}`);
await bus.removeDevice(dev);
