// virtio-crypto: our driver against our device model over MMIO and PCI. Results are checked
// against published test vectors typed in here (NIST SP 800-38A, IEEE Std 1619-2007, FIPS 180
// examples, RFC 4231, the GCM specification's test cases) and against node:crypto called
// directly on random inputs.

import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import {
  CryptoDevice,
  type CryptoDeviceOptions,
  cryptoDriver,
  type CryptoEngine,
} from "../../src/devices/crypto/mod.ts";
import { DeviceError } from "../../src/errors.ts";
import {
  VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305,
  VIRTIO_CRYPTO_AEAD_GCM,
  VIRTIO_CRYPTO_CIPHER_3DES_CBC,
  VIRTIO_CRYPTO_CIPHER_AES_CBC,
  VIRTIO_CRYPTO_CIPHER_AES_CTR,
  VIRTIO_CRYPTO_CIPHER_AES_ECB,
  VIRTIO_CRYPTO_CIPHER_AES_XTS,
  VIRTIO_CRYPTO_HASH_SHA1,
  VIRTIO_CRYPTO_HASH_SHA3_256,
  VIRTIO_CRYPTO_HASH_SHA_224,
  VIRTIO_CRYPTO_HASH_SHA_256,
  VIRTIO_CRYPTO_HASH_SHA_384,
  VIRTIO_CRYPTO_HASH_SHA_512,
  VIRTIO_CRYPTO_MAC_CMAC_AES,
  VIRTIO_CRYPTO_MAC_HMAC_SHA1,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_512,
  VIRTIO_CRYPTO_SERVICE_AEAD,
  VIRTIO_CRYPTO_SERVICE_CIPHER,
  VIRTIO_CRYPTO_SERVICE_HASH,
  VIRTIO_CRYPTO_SERVICE_MAC,
} from "../../src/generated/devices/crypto.ts";
import { coded } from "./_coded.ts";
import { type Kind, MAIN_KINDS } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s/g, "").match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
const utf8 = (s: string) => new TextEncoder().encode(s);
const rand = (n: number) => new Uint8Array(randomBytes(n));

async function setup(kind: Kind, opts: CryptoDeviceOptions = {}) {
  const device = new CryptoDevice(opts);
  const r = rig(kind, device, 8 << 20);
  const driver = cryptoDriver();
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-crypto", r.logs.join("; "));
  return { r, device, engine: await driver.nextEngine() };
}

async function cipher(
  e: CryptoEngine,
  algo: number,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  op: "encrypt" | "decrypt",
): Promise<Uint8Array> {
  const s = await e.createSession({ service: "cipher", algo, key, op });
  try {
    return op === "encrypt" ? await s.encrypt(iv, data) : await s.decrypt(iv, data);
  } finally {
    await s.destroy();
  }
}

// NIST SP 800-38A, F.2.1 (CBC-AES128) and F.5.1 (CTR-AES128).
const SP800_38A_KEY = hex("2b7e151628aed2a6abf7158809cf4f3c");
const SP800_38A_PT = hex(
  "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51" +
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
);
const CBC_IV = hex("000102030405060708090a0b0c0d0e0f");
const CBC_CT = hex(
  "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2" +
    "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
);
const CTR_IV = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
const CTR_CT = hex(
  "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff" +
    "5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
);

for (const kind of MAIN_KINDS) {
  Deno.test(`crypto ${kind}: the configuration offers the four services and their algorithms`, async () => {
    const { engine, r } = await setup(kind, { dataQueues: 3, maxSize: 4096 });
    const c = engine.capabilities;
    assert.equal(c.ready, true);
    assert.equal(c.maxDataqueues, 3);
    assert.equal(engine.dataqs.length, 3);
    assert.equal(
      c.services,
      (1 << VIRTIO_CRYPTO_SERVICE_CIPHER) | (1 << VIRTIO_CRYPTO_SERVICE_HASH) |
        (1 << VIRTIO_CRYPTO_SERVICE_MAC) | (1 << VIRTIO_CRYPTO_SERVICE_AEAD),
    );
    // 5.9.4: algorithm bit n stands for algorithm value n.
    assert.equal(c.cipherAlgos, (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 13n));
    assert.equal(c.hashAlgos, 0b111_1111_1110);
    assert.equal(c.macAlgos, 0b111_1110n);
    assert.equal(c.aeadAlgos, (1 << 1) | (1 << 3));
    assert.equal(c.maxCipherKeyLen, 64);
    assert.equal(c.maxSize, 4096n);
    assert.ok(engine.supports("cipher", VIRTIO_CRYPTO_CIPHER_AES_XTS));
    assert.ok(!engine.supports("cipher", VIRTIO_CRYPTO_CIPHER_3DES_CBC));
    assert.ok(!engine.supports("mac", VIRTIO_CRYPTO_MAC_CMAC_AES));
    assert.deepEqual(r.logs, []);
  });

  Deno.test(`crypto ${kind}: only the services asked for are offered, and the others refused`, async () => {
    const { engine } = await setup(kind, { services: ["hash"] });
    assert.equal(engine.capabilities.services, 1 << VIRTIO_CRYPTO_SERVICE_HASH);
    assert.equal(engine.capabilities.cipherAlgos, 0n);
    await assert.rejects(
      engine.createSession({
        service: "cipher",
        algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
        key: new Uint8Array(16),
        op: "encrypt",
      }),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_NOTSUPP"),
    );
  });

  Deno.test(`crypto ${kind}: AES-CBC and AES-CTR match NIST SP 800-38A`, async () => {
    const { engine } = await setup(kind);
    const cbc = VIRTIO_CRYPTO_CIPHER_AES_CBC, ctr = VIRTIO_CRYPTO_CIPHER_AES_CTR;
    const k = SP800_38A_KEY;
    assert.equal(
      toHex(await cipher(engine, cbc, k, CBC_IV, SP800_38A_PT, "encrypt")),
      toHex(CBC_CT),
    );
    assert.equal(
      toHex(await cipher(engine, cbc, k, CBC_IV, CBC_CT, "decrypt")),
      toHex(SP800_38A_PT),
    );
    assert.equal(
      toHex(await cipher(engine, ctr, k, CTR_IV, SP800_38A_PT, "encrypt")),
      toHex(CTR_CT),
    );
    // F.2.3 (CBC-AES192) and F.2.5 (CBC-AES256), same IV and plaintext.
    const k192 = hex("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b");
    const ct192 = hex(
      "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a" +
        "571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
    );
    assert.equal(
      toHex(await cipher(engine, cbc, k192, CBC_IV, SP800_38A_PT, "encrypt")),
      toHex(ct192),
    );
    assert.equal(
      toHex(await cipher(engine, cbc, k192, CBC_IV, ct192, "decrypt")),
      toHex(SP800_38A_PT),
    );
    const k256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    const ct256 = hex(
      "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d" +
        "39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
    );
    assert.equal(
      toHex(await cipher(engine, cbc, k256, CBC_IV, SP800_38A_PT, "encrypt")),
      toHex(ct256),
    );
    assert.equal(
      toHex(await cipher(engine, ctr, k, CTR_IV, CTR_CT, "decrypt")),
      toHex(SP800_38A_PT),
    );
  });

  Deno.test(`crypto ${kind}: AES-XTS matches IEEE Std 1619-2007 vectors 1 and 2`, async () => {
    const { engine } = await setup(kind);
    const xts = VIRTIO_CRYPTO_CIPHER_AES_XTS;
    // Vector 1: both keys 0, data unit 0, 32 zero bytes.
    assert.equal(
      toHex(
        await cipher(
          engine,
          xts,
          new Uint8Array(32),
          new Uint8Array(16),
          new Uint8Array(32),
          "encrypt",
        ),
      ),
      "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e",
    );
    // Vector 2: key1 = 11.., key2 = 22.., data unit 0x3333333333 (little-endian tweak), 44.. x 32.
    const key = new Uint8Array(32).fill(0x11, 0, 16).fill(0x22, 16);
    const tweak = hex("3333333333000000 0000000000000000");
    const ct = await cipher(engine, xts, key, tweak, new Uint8Array(32).fill(0x44), "encrypt");
    assert.equal(toHex(ct), "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0");
    assert.deepEqual(
      await cipher(engine, xts, key, tweak, ct, "decrypt"),
      new Uint8Array(32).fill(0x44),
    );
  });

  Deno.test(`crypto ${kind}: AES-XTS with ciphertext stealing matches OpenSSL`, async () => {
    const { engine } = await setup(kind);
    // Outputs of OpenSSL 3's aes-128-xts (Node 20's node:crypto), key i*7+1, tweak 0..15, data 0..n-1.
    const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
    const tweak = Uint8Array.from({ length: 16 }, (_, i) => i);
    const expected: [number, string][] = [
      [17, "3aa8a3c6e4604ef03e7b79fcacd3fef9df"],
      [31, "93863ac3988ea7169db997939e3c329edfc8bf855470af7396ab575a12deb1"],
      [40, "dfc8bf855470af7396ab575a12deb162d8c21ba5e64bc9fe1a5a88ca470371632eb93b7b896f08a2"],
    ];
    for (const [n, ct] of expected) {
      const pt = Uint8Array.from({ length: n }, (_, i) => i);
      const xts = VIRTIO_CRYPTO_CIPHER_AES_XTS;
      assert.equal(toHex(await cipher(engine, xts, key, tweak, pt, "encrypt")), ct, `${n} bytes`);
      assert.deepEqual(await cipher(engine, xts, key, tweak, hex(ct), "decrypt"), pt);
    }
  });

  Deno.test(`crypto ${kind}: ciphers agree with node:crypto on random keys and data`, async () => {
    const { engine } = await setup(kind);
    const cases: [number, string, number[], number][] = [
      [VIRTIO_CRYPTO_CIPHER_AES_ECB, "ecb", [16, 24, 32], 0],
      // No aes-192-cbc in node:crypto under Deno: SP 800-38A F.2.3 checks that key size.
      [VIRTIO_CRYPTO_CIPHER_AES_CBC, "cbc", [16, 32], 16],
      [VIRTIO_CRYPTO_CIPHER_AES_CTR, "ctr", [16, 24, 32], 16],
    ];
    for (const [algo, mode, keys, ivLen] of cases) {
      for (const kl of keys) {
        const key = rand(kl), iv = rand(ivLen);
        const data = rand(mode === "ctr" ? 1000 : 1024);
        const name = `aes-${kl * 8}-${mode}`;
        const ref = createCipheriv(name, key, ivLen ? iv : null).setAutoPadding(false);
        const want = new Uint8Array([...ref.update(data), ...ref.final()]);
        const got = await cipher(engine, algo, key, iv, data, "encrypt");
        assert.equal(toHex(got), toHex(want), name);
        const back = createDecipheriv(name, key, ivLen ? iv : null).setAutoPadding(false);
        assert.deepEqual(await cipher(engine, algo, key, iv, got, "decrypt"), data, name);
        assert.deepEqual(new Uint8Array([...back.update(got), ...back.final()]), data);
      }
    }
  });

  Deno.test(`crypto ${kind}: hashes match FIPS 180 examples and node:crypto`, async () => {
    const { engine } = await setup(kind);
    // FIPS 180-2 appendix examples for "abc".
    const abc: [number, string][] = [
      [VIRTIO_CRYPTO_HASH_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"],
      [
        VIRTIO_CRYPTO_HASH_SHA_256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      ],
      [
        VIRTIO_CRYPTO_HASH_SHA_384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
      ],
      [
        VIRTIO_CRYPTO_HASH_SHA_512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
      ],
    ];
    for (const [algo, want] of abc) {
      const s = await engine.createSession({ service: "hash", algo });
      assert.equal(toHex(await s.hash(utf8("abc"))), want);
      await s.destroy();
    }
    const data = rand(5000);
    for (
      const [algo, name] of [[VIRTIO_CRYPTO_HASH_SHA_224, "sha224"], [
        VIRTIO_CRYPTO_HASH_SHA3_256,
        "sha3-256",
      ]] as const
    ) {
      const s = await engine.createSession({ service: "hash", algo });
      assert.equal(toHex(await s.hash(data)), createHash(name).update(data).digest("hex"));
      assert.equal(toHex(await s.hash(new Uint8Array(0))), createHash(name).digest("hex"));
    }
    const short = await engine.createSession({
      service: "hash",
      algo: VIRTIO_CRYPTO_HASH_SHA_256,
      resultLen: 8,
    });
    assert.equal(toHex(await short.hash(utf8("abc"))), "ba7816bf8f01cfea", "hash_result_len bytes");
  });

  Deno.test(`crypto ${kind}: HMACs match RFC 4231 and node:crypto`, async () => {
    const { engine } = await setup(kind);
    const mac = (algo: number, key: Uint8Array) =>
      engine.createSession({ service: "mac", algo, key });
    // RFC 4231 test cases 1 and 2 (HMAC-SHA-256).
    const s1 = await mac(VIRTIO_CRYPTO_MAC_HMAC_SHA_256, new Uint8Array(20).fill(0x0b));
    assert.equal(
      toHex(await s1.mac(utf8("Hi There"))),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    const s2 = await mac(VIRTIO_CRYPTO_MAC_HMAC_SHA_256, utf8("Jefe"));
    assert.equal(
      toHex(await s2.mac(utf8("what do ya want for nothing?"))),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    for (
      const [algo, name] of [[VIRTIO_CRYPTO_MAC_HMAC_SHA1, "sha1"], [
        VIRTIO_CRYPTO_MAC_HMAC_SHA_512,
        "sha512",
      ]] as const
    ) {
      const key = rand(200), data = rand(3000); // a key longer than the block is hashed first
      const s = await mac(algo, key);
      assert.equal(toHex(await s.mac(data)), createHmac(name, key).update(data).digest("hex"));
    }
  });

  Deno.test(`crypto ${kind}: AES-GCM matches the GCM specification's test cases 2 and 4`, async () => {
    const { engine } = await setup(kind);
    const gcm = (key: Uint8Array, op: "encrypt" | "decrypt") =>
      engine.createSession({ service: "aead", algo: VIRTIO_CRYPTO_AEAD_GCM, key, op });
    const z = new Uint8Array(16);
    const t2 = await (await gcm(z, "encrypt")).seal(new Uint8Array(12), new Uint8Array(0), z);
    assert.equal(
      toHex(t2),
      "0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf",
    );
    const key = hex("feffe9928665731c6d6a8f9467308308");
    const iv = hex("cafebabefacedbaddecaf888");
    const pt = hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    const aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const sealed = await (await gcm(key, "encrypt")).seal(iv, aad, pt);
    assert.equal(
      toHex(sealed),
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091" +
        "5bc94fbc3221a5db94fae95ae7121a47",
    );
    const open = await gcm(key, "decrypt");
    assert.deepEqual(await open.open(iv, aad, sealed), pt);
    // One flipped bit anywhere fails authentication: VIRTIO_CRYPTO_BADMSG.
    for (const at of [0, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] ^= 1;
      await assert.rejects(
        open.open(iv, aad, bad),
        coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_BADMSG"),
      );
    }
    await assert.rejects(
      open.open(iv, aad.subarray(1), sealed),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_BADMSG"),
    );
  });

  Deno.test(`crypto ${kind}: AEADs agree with node:crypto (GCM tag lengths, ChaCha20-Poly1305)`, async () => {
    const { engine } = await setup(kind);
    const cases: [number, string, number, number][] = [
      [VIRTIO_CRYPTO_AEAD_GCM, "aes-256-gcm", 32, 16],
      [VIRTIO_CRYPTO_AEAD_GCM, "aes-256-gcm", 32, 12],
      [VIRTIO_CRYPTO_AEAD_GCM, "aes-128-gcm", 16, 8],
      [VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305, "chacha20-poly1305", 32, 16],
    ];
    for (const [algo, name, kl, tagLen] of cases) {
      const key = rand(kl), iv = rand(12), aad = rand(33), pt = rand(777);
      const seal = await engine.createSession({
        service: "aead",
        algo,
        key,
        op: "encrypt",
        tagLen,
      });
      const sealed = await seal.seal(iv, aad, pt);
      // deno-lint-ignore no-explicit-any -- node's overloads want a literal cipher name
      const ref = createCipheriv(name as any, key, iv, { authTagLength: tagLen });
      ref.setAAD(aad, { plaintextLength: pt.length });
      const want = new Uint8Array([...ref.update(pt), ...ref.final(), ...ref.getAuthTag()]);
      assert.equal(toHex(sealed), toHex(want), name);
      const open = await engine.createSession({
        service: "aead",
        algo,
        key,
        op: "decrypt",
        tagLen,
      });
      assert.deepEqual(await open.open(iv, aad, sealed), pt, name);
    }
  });

  Deno.test(`crypto ${kind}: algorithm chaining (both orders, hash and HMAC) matches node:crypto`, async () => {
    const { engine } = await setup(kind);
    const key = rand(16), authKey = rand(40), iv = rand(16), aad = rand(8), data = rand(64);
    const cbc = (d: Uint8Array, encrypt: boolean) => {
      const c = (encrypt ? createCipheriv : createDecipheriv)("aes-128-cbc", key, iv)
        .setAutoPadding(false);
      return new Uint8Array([...c.update(d), ...c.final()]);
    };
    for (const order of ["hash-then-cipher", "cipher-then-hash"] as const) {
      for (const auth of [false, true]) {
        for (const op of ["encrypt", "decrypt"] as const) {
          const s = await engine.createSession({
            service: "cipher",
            algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
            key,
            op,
            chain: auth
              ? { order, algo: VIRTIO_CRYPTO_MAC_HMAC_SHA_256, authKey }
              : { order, algo: VIRTIO_CRYPTO_HASH_SHA_256 },
          });
          const got = await s.chain({ iv, data, aad, cipher: [16, 48], hash: [8, 56] });
          // The reference: cipher over bytes 16..63 (the rest as it is), hash over aad and
          // bytes 8..63 of the input (hash first) or of the output (cipher first).
          const out = data.slice();
          out.set(cbc(data.subarray(16), op === "encrypt"), 16);
          const hashed = order === "hash-then-cipher" ? data : out;
          const h = auth ? createHmac("sha256", authKey) : createHash("sha256");
          const digest = h.update(aad).update(hashed.subarray(8)).digest("hex");
          const what = `${order} ${auth ? "hmac" : "hash"} ${op}`;
          assert.equal(toHex(got.data), toHex(out), what);
          assert.equal(toHex(got.digest), digest, what);
          assert.throws(
            () => op === "encrypt" ? s.encrypt(iv, data) : s.decrypt(iv, data),
            /use chain\(\)/,
          );
          await s.destroy();
        }
      }
    }
  });
}
