// The algorithms the crypto device model runs, on node:crypto: which spec
// algorithm ids (5.9.4) it knows, their key, IV and digest sizes, and the
// operations themselves. AES-XTS is built here on AES-ECB (IEEE Std 1619-2007,
// with ciphertext stealing) because node:crypto under Deno has no XTS.

import {
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
} from "node:crypto";
import {
  VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305,
  VIRTIO_CRYPTO_AEAD_GCM,
  VIRTIO_CRYPTO_CIPHER_AES_CBC,
  VIRTIO_CRYPTO_CIPHER_AES_CTR,
  VIRTIO_CRYPTO_CIPHER_AES_ECB,
  VIRTIO_CRYPTO_CIPHER_AES_XTS,
  VIRTIO_CRYPTO_HASH_MD5,
  VIRTIO_CRYPTO_HASH_SHA1,
  VIRTIO_CRYPTO_HASH_SHA3_224,
  VIRTIO_CRYPTO_HASH_SHA3_256,
  VIRTIO_CRYPTO_HASH_SHA3_384,
  VIRTIO_CRYPTO_HASH_SHA3_512,
  VIRTIO_CRYPTO_HASH_SHA_224,
  VIRTIO_CRYPTO_HASH_SHA_256,
  VIRTIO_CRYPTO_HASH_SHA_384,
  VIRTIO_CRYPTO_HASH_SHA_512,
  VIRTIO_CRYPTO_MAC_HMAC_MD5,
  VIRTIO_CRYPTO_MAC_HMAC_SHA1,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_224,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_384,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_512,
} from "../../generated/devices/crypto.ts";

/** A symmetric cipher the device knows (5.9.4.1). */
export interface CipherAlgorithm {
  readonly algo: number;
  readonly name: string;
  /** Accepted key lengths in bytes. */
  readonly keyLens: readonly number[];
  /** The IV length every request must give (0: none). */
  readonly ivLen: number;
  /** Source lengths must be a multiple of this (1: any). */
  readonly block: number;
  /** Smallest source length (XTS needs a whole block). */
  readonly minLen: number;
}

/** A hash the device knows (5.9.4.2), also the base of an HMAC (5.9.4.3). */
export interface HashAlgorithm {
  readonly algo: number;
  readonly name: string;
  readonly digestLen: number;
}

/** An AEAD the device knows (5.9.4.4). */
export interface AeadAlgorithm {
  readonly algo: number;
  readonly name: string;
  readonly keyLens: readonly number[];
  readonly ivLen: number;
  /** Accepted tag lengths. */
  readonly tagLens: readonly number[];
}

const AES_KEYS = [16, 24, 32];

/** Ciphers by VIRTIO_CRYPTO_CIPHER_* id. */
export const CIPHERS: ReadonlyMap<number, CipherAlgorithm> = new Map([
  [VIRTIO_CRYPTO_CIPHER_AES_ECB, {
    algo: VIRTIO_CRYPTO_CIPHER_AES_ECB,
    name: "aes-ecb",
    keyLens: AES_KEYS,
    ivLen: 0,
    block: 16,
    minLen: 0,
  }],
  [VIRTIO_CRYPTO_CIPHER_AES_CBC, {
    algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
    name: "aes-cbc",
    keyLens: AES_KEYS,
    ivLen: 16,
    block: 16,
    minLen: 0,
  }],
  [VIRTIO_CRYPTO_CIPHER_AES_CTR, {
    algo: VIRTIO_CRYPTO_CIPHER_AES_CTR,
    name: "aes-ctr",
    keyLens: AES_KEYS,
    ivLen: 16,
    block: 1,
    minLen: 0,
  }],
  // Two AES keys of 128 or 256 bits, the tweak as the IV (5.9.9.6).
  [VIRTIO_CRYPTO_CIPHER_AES_XTS, {
    algo: VIRTIO_CRYPTO_CIPHER_AES_XTS,
    name: "aes-xts",
    keyLens: [32, 64],
    ivLen: 16,
    block: 1,
    minLen: 16,
  }],
]);

/** Hashes by VIRTIO_CRYPTO_HASH_* id. */
export const HASHES: ReadonlyMap<number, HashAlgorithm> = new Map(
  ([
    [VIRTIO_CRYPTO_HASH_MD5, "md5", 16],
    [VIRTIO_CRYPTO_HASH_SHA1, "sha1", 20],
    [VIRTIO_CRYPTO_HASH_SHA_224, "sha224", 28],
    [VIRTIO_CRYPTO_HASH_SHA_256, "sha256", 32],
    [VIRTIO_CRYPTO_HASH_SHA_384, "sha384", 48],
    [VIRTIO_CRYPTO_HASH_SHA_512, "sha512", 64],
    [VIRTIO_CRYPTO_HASH_SHA3_224, "sha3-224", 28],
    [VIRTIO_CRYPTO_HASH_SHA3_256, "sha3-256", 32],
    [VIRTIO_CRYPTO_HASH_SHA3_384, "sha3-384", 48],
    [VIRTIO_CRYPTO_HASH_SHA3_512, "sha3-512", 64],
  ] as const).map(([algo, name, digestLen]) => [algo, { algo, name, digestLen }]),
);

/** HMACs by VIRTIO_CRYPTO_MAC_* id, each over a hash of {@link HASHES}. */
export const MACS: ReadonlyMap<number, HashAlgorithm> = new Map(
  ([
    [VIRTIO_CRYPTO_MAC_HMAC_MD5, VIRTIO_CRYPTO_HASH_MD5],
    [VIRTIO_CRYPTO_MAC_HMAC_SHA1, VIRTIO_CRYPTO_HASH_SHA1],
    [VIRTIO_CRYPTO_MAC_HMAC_SHA_224, VIRTIO_CRYPTO_HASH_SHA_224],
    [VIRTIO_CRYPTO_MAC_HMAC_SHA_256, VIRTIO_CRYPTO_HASH_SHA_256],
    [VIRTIO_CRYPTO_MAC_HMAC_SHA_384, VIRTIO_CRYPTO_HASH_SHA_384],
    [VIRTIO_CRYPTO_MAC_HMAC_SHA_512, VIRTIO_CRYPTO_HASH_SHA_512],
  ] as const).map(([mac, hash]) => {
    const h = HASHES.get(hash);
    if (h === undefined) throw new TypeError(`hash ${hash} missing`); // a table typo, at load
    return [mac, { algo: mac, name: h.name, digestLen: h.digestLen }];
  }),
);

/**
 * AEADs by VIRTIO_CRYPTO_AEAD_* id. GCM with 96-bit IVs only (a 16-byte J0
 * is refused) and 128- or 256-bit keys (node:crypto under Deno has no
 * aes-192-gcm).
 */
export const AEADS: ReadonlyMap<number, AeadAlgorithm> = new Map([
  [VIRTIO_CRYPTO_AEAD_GCM, {
    algo: VIRTIO_CRYPTO_AEAD_GCM,
    name: "gcm",
    keyLens: [16, 32],
    ivLen: 12,
    tagLens: [4, 8, 12, 13, 14, 15, 16],
  }],
  [VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305, {
    algo: VIRTIO_CRYPTO_AEAD_CHACHA20_POLY1305,
    name: "chacha20-poly1305",
    keyLens: [32],
    ivLen: 12,
    tagLens: [16],
  }],
]);

/** A mask of bit `n` split into its low and high 32-bit words (`*_algo_l`, `*_algo_h`). */
export function algoMask(ids: Iterable<number>): { l: number; h: number } {
  let l = 0, h = 0;
  for (const id of ids) {
    if (id < 32) l |= 1 << id;
    else h |= 1 << (id - 32);
  }
  return { l: l >>> 0, h: h >>> 0 };
}

function nodeCipherName(c: CipherAlgorithm, keyLen: number): string {
  const [, mode] = c.name.split("-");
  return `aes-${keyLen * 8}-${mode}`;
}

/** Runs cipher `c` over `src` (lengths checked by the caller); returns a new buffer. */
export function runCipher(
  c: CipherAlgorithm,
  key: Uint8Array,
  iv: Uint8Array,
  encrypt: boolean,
  src: Uint8Array,
): Uint8Array {
  if (c.algo === VIRTIO_CRYPTO_CIPHER_AES_XTS) return xts(key, iv, encrypt, src);
  // node:crypto under Deno has no aes-192-cbc: CBC over ECB then (NIST SP 800-38A 6.2).
  if (c.algo === VIRTIO_CRYPTO_CIPHER_AES_CBC && key.length === 24) {
    return cbc(key, iv, encrypt, src);
  }
  const name = nodeCipherName(c, key.length);
  const ivArg = c.ivLen === 0 ? null : iv;
  const x = encrypt ? createCipheriv(name, key, ivArg) : createDecipheriv(name, key, ivArg);
  x.setAutoPadding(false);
  return concat(x.update(src), x.final());
}

/** Digest of `src` under hash `h`. */
export function runHash(h: HashAlgorithm, src: Uint8Array): Uint8Array {
  return createHash(h.name).update(src).digest();
}

/** HMAC of `src` under `key` with hash `h`. */
export function runHmac(h: HashAlgorithm, key: Uint8Array, src: Uint8Array): Uint8Array {
  return createHmac(h.name, key).update(src).digest();
}

// ChaCha20-Poly1305 has the GCM API in node:crypto; its name is typed as a GCM one.
function aeadName(a: AeadAlgorithm, key: Uint8Array): CipherGCMTypes {
  return (a.name === "gcm" ? `aes-${key.length * 8}-gcm` : a.name) as CipherGCMTypes;
}

/** AEAD seal: returns ciphertext || tag. */
export function aeadSeal(
  a: AeadAlgorithm,
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  src: Uint8Array,
  tagLen: number,
): Uint8Array {
  const x = createCipheriv(aeadName(a, key), key, iv, { authTagLength: tagLen });
  x.setAAD(aad);
  return concat(x.update(src), x.final(), x.getAuthTag());
}

/** AEAD open of ciphertext `ct` with `tag`: the plaintext, or undefined when the tag is wrong. */
export function aeadOpen(
  a: AeadAlgorithm,
  key: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  tag: Uint8Array,
): Uint8Array | undefined {
  const x = createDecipheriv(aeadName(a, key), key, iv, { authTagLength: tag.length });
  x.setAuthTag(tag);
  x.setAAD(aad);
  const body = x.update(ct);
  try {
    return concat(body, x.final());
  } catch {
    return undefined; // authentication failed: the caller answers VIRTIO_CRYPTO_BADMSG
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// IEEE Std 1619-2007: multiply the tweak by alpha in GF(2^128), little-endian bytes.
function mulAlpha(t: Uint8Array): void {
  let carry = 0;
  for (let i = 0; i < 16; i++) {
    const b = t[i];
    t[i] = ((b << 1) | carry) & 0xff;
    carry = b >>> 7;
  }
  if (carry) t[0] ^= 0x87;
}

function ecb(key: Uint8Array, encrypt: boolean, data: Uint8Array): Uint8Array {
  const name = `aes-${key.length * 8}-ecb`;
  const x = encrypt ? createCipheriv(name, key, null) : createDecipheriv(name, key, null);
  x.setAutoPadding(false);
  return concat(x.update(data), x.final());
}

function cbc(key: Uint8Array, iv: Uint8Array, encrypt: boolean, src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  if (!encrypt) {
    const mid = ecb(key, false, src);
    for (let i = 0; i < src.length; i++) out[i] = mid[i] ^ (i < 16 ? iv[i] : src[i - 16]);
    return out;
  }
  const x = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  x.setAutoPadding(false);
  const block = new Uint8Array(16);
  let prev = iv;
  for (let o = 0; o < src.length; o += 16) {
    for (let i = 0; i < 16; i++) block[i] = src[o + i] ^ prev[i];
    const c = x.update(block);
    out.set(c, o);
    prev = out.subarray(o, o + 16);
  }
  return out;
}

/**
 * XTS-AES (IEEE Std 1619-2007 section 5): key = key1 || key2, `iv` the
 * 128-bit tweak, any length from 16 bytes (the last partial block by
 * ciphertext stealing). The whole message goes through ECB in one call.
 */
function xts(key: Uint8Array, iv: Uint8Array, encrypt: boolean, src: Uint8Array): Uint8Array {
  const half = key.length / 2;
  const k1 = key.subarray(0, half);
  const k2 = key.subarray(half);
  const full = Math.floor(src.length / 16);
  const rest = src.length % 16;
  // With stealing, the last full block and the partial one are done by hand.
  const bulk = rest === 0 ? full : full - 1;
  const tweaks = new Uint8Array((full + 1) * 16);
  const t = ecb(k2, true, iv).slice(0, 16);
  for (let j = 0; j <= full; j++) {
    tweaks.set(t, j * 16);
    mulAlpha(t);
  }
  const buf = new Uint8Array(bulk * 16);
  for (let i = 0; i < buf.length; i++) buf[i] = src[i] ^ tweaks[i];
  const mid = ecb(k1, encrypt, buf);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < mid.length; i++) out[i] = mid[i] ^ tweaks[i];
  if (rest === 0) return out;
  const one = (block: Uint8Array, j: number): Uint8Array => {
    const tw = tweaks.subarray(j * 16, j * 16 + 16);
    const x = new Uint8Array(16);
    for (let i = 0; i < 16; i++) x[i] = block[i] ^ tw[i];
    const y = ecb(k1, encrypt, x);
    for (let i = 0; i < 16; i++) y[i] ^= tw[i];
    return y;
  };
  const m = bulk; // index of the last full block
  const last = src.subarray(m * 16, m * 16 + 16);
  const tail = src.subarray(m * 16 + 16);
  // Encryption uses tweaks m then m+1; decryption m+1 then m (1619 5.3.2 / 5.4.2).
  const cc = one(last, encrypt ? m : m + 1);
  const pp = new Uint8Array(16);
  pp.set(tail);
  pp.set(cc.subarray(rest), rest);
  out.set(one(pp, encrypt ? m + 1 : m), m * 16);
  out.set(cc.subarray(0, rest), m * 16 + 16);
  return out;
}
