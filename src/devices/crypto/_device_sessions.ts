// The crypto device model's sessions (spec 5.9.9.2.1): what the device
// keeps for a session of each service, and the parsing of a CREATE_SESSION
// request's op_flf (already copied out of guest memory) into one. The
// device (`device.ts`) owns the session table, ids and the control queue.

import {
  VIRTIO_CRYPTO_ERR,
  VIRTIO_CRYPTO_NOTSUPP,
  VIRTIO_CRYPTO_OP_DECRYPT,
  VIRTIO_CRYPTO_OP_ENCRYPT,
  VIRTIO_CRYPTO_SERVICE_AEAD,
  VIRTIO_CRYPTO_SERVICE_CIPHER,
  VIRTIO_CRYPTO_SERVICE_HASH,
  VIRTIO_CRYPTO_SERVICE_MAC,
  VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH,
  VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER,
  VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH,
  VIRTIO_CRYPTO_SYM_HASH_MODE_NESTED,
  VIRTIO_CRYPTO_SYM_HASH_MODE_PLAIN,
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
  VIRTIO_CRYPTO_SYM_OP_CIPHER,
  VirtioCryptoAeadCreateSessionFlf,
  VirtioCryptoAlgChainSessionFlf,
  VirtioCryptoCipherSessionFlf,
  VirtioCryptoHashCreateSessionFlf,
  VirtioCryptoMacCreateSessionFlf,
  VirtioCryptoSymCreateSessionFlf,
} from "../../generated/devices/crypto.ts";
import {
  type AeadAlgorithm,
  AEADS,
  type CipherAlgorithm,
  CIPHERS,
  type HashAlgorithm,
  HASHES,
  MACS,
} from "./_algorithms.ts";
import type { CryptoService } from "./device.ts";

/** A session as the device keeps it, by service. */
export type Session =
  | {
    service: "cipher";
    alg: CipherAlgorithm;
    key: Uint8Array;
    encrypt: boolean;
    /** Set for an algorithm-chaining session (VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING). */
    chain?: Chain;
  }
  | { service: "hash"; alg: HashAlgorithm; resultLen: number }
  | { service: "mac"; alg: HashAlgorithm; key: Uint8Array; resultLen: number }
  | { service: "aead"; alg: AeadAlgorithm; key: Uint8Array; encrypt: boolean; tagLen: number };

/** The hash half of an algorithm-chaining session (5.9.9.2.1.3). */
export interface Chain {
  hashFirst: boolean;
  hash: HashAlgorithm;
  /** The HMAC key (VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH); undefined for a plain hash. */
  authKey?: Uint8Array;
  resultLen: number;
}

/** The longest cipher key: AES-256-XTS's two keys. */
export const MAX_CIPHER_KEY = 64;

/** The service of a controlq or dataq opcode: `opcode >> 8` (VIRTIO_CRYPTO_OPCODE). */
export function serviceOf(opcode: number): CryptoService | undefined {
  switch (opcode >>> 8) {
    case VIRTIO_CRYPTO_SERVICE_CIPHER:
      return "cipher";
    case VIRTIO_CRYPTO_SERVICE_HASH:
      return "hash";
    case VIRTIO_CRYPTO_SERVICE_MAC:
      return "mac";
    case VIRTIO_CRYPTO_SERVICE_AEAD:
      return "aead";
  }
  return undefined;
}

/**
 * The session a CREATE_SESSION request of `service` asks for, from its
 * op_flf at `at` in `view` and the header's `algo`; or the
 * VIRTIO_CRYPTO_* status refusing it. `key(len, max)` reads `len` bytes of
 * op_vlf once, or gives undefined when `len` is over `max` or the buffers.
 */
export function parseSession(
  service: CryptoService,
  view: DataView,
  at: number,
  algo: number,
  maxAuthKey: number,
  key: (len: number, max: number) => Uint8Array | undefined,
): Session | number {
  if (service === "cipher") {
    const sym = new VirtioCryptoSymCreateSessionFlf(view, at);
    const opType = sym.opType;
    const chained = opType === VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING;
    if (opType !== VIRTIO_CRYPTO_SYM_OP_CIPHER && !chained) return VIRTIO_CRYPTO_NOTSUPP;
    const flfAt = at + VirtioCryptoSymCreateSessionFlf.OFFSETS.opFlf;
    const ch = new VirtioCryptoAlgChainSessionFlf(view, flfAt);
    // The cipher parameters: the whole op_flf, or the chain's cipher_hdr.
    const p = chained ? ch.cipherHdr : new VirtioCryptoCipherSessionFlf(view, flfAt);
    const alg = CIPHERS.get(p.algo);
    if (alg === undefined) return VIRTIO_CRYPTO_NOTSUPP;
    if (p.algo !== algo) return VIRTIO_CRYPTO_ERR;
    const op = p.op;
    if (op !== VIRTIO_CRYPTO_OP_ENCRYPT && op !== VIRTIO_CRYPTO_OP_DECRYPT) {
      return VIRTIO_CRYPTO_ERR;
    }
    const keyLen = p.keyLen;
    if (!alg.keyLens.includes(keyLen)) return VIRTIO_CRYPTO_ERR;
    let chain: Chain | undefined;
    let authKeyLen = 0;
    if (chained) {
      const order = ch.algChainOrder;
      const mode = ch.hashMode;
      if (
        order !== VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER &&
        order !== VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH
      ) return VIRTIO_CRYPTO_ERR;
      const hashAt = flfAt + VirtioCryptoAlgChainSessionFlf.OFFSETS.algoFlf;
      let hash: HashAlgorithm | undefined;
      let resultLen: number;
      if (mode === VIRTIO_CRYPTO_SYM_HASH_MODE_PLAIN) {
        const hp = new VirtioCryptoHashCreateSessionFlf(view, hashAt);
        hash = HASHES.get(hp.algo);
        resultLen = hp.hashResultLen;
      } else if (mode === VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH) {
        const mp = new VirtioCryptoMacCreateSessionFlf(view, hashAt);
        hash = MACS.get(mp.algo);
        resultLen = mp.hashResultLen;
        authKeyLen = mp.authKeyLen;
        if (authKeyLen > maxAuthKey) return VIRTIO_CRYPTO_ERR;
      } else if (mode === VIRTIO_CRYPTO_SYM_HASH_MODE_NESTED) return VIRTIO_CRYPTO_NOTSUPP;
      else return VIRTIO_CRYPTO_ERR;
      if (hash === undefined) return VIRTIO_CRYPTO_NOTSUPP;
      if (resultLen < 1 || resultLen > hash.digestLen) return VIRTIO_CRYPTO_ERR;
      chain = {
        hashFirst: order === VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER,
        hash,
        resultLen,
      };
    }
    // op_vlf: the cipher key, then (chaining with AUTH) the authentication key.
    const k = key(keyLen + authKeyLen, MAX_CIPHER_KEY + maxAuthKey);
    if (k === undefined) return VIRTIO_CRYPTO_ERR;
    if (chain !== undefined && authKeyLen > 0) chain.authKey = k.slice(keyLen);
    else if (chain !== undefined && ch.hashMode === VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH) {
      chain.authKey = new Uint8Array(0);
    }
    return {
      service,
      alg,
      key: k.slice(0, keyLen),
      encrypt: op === VIRTIO_CRYPTO_OP_ENCRYPT,
      chain,
    };
  } else if (service === "hash") {
    const p = new VirtioCryptoHashCreateSessionFlf(view, at);
    const alg = HASHES.get(p.algo);
    if (alg === undefined) return VIRTIO_CRYPTO_NOTSUPP;
    if (p.algo !== algo) return VIRTIO_CRYPTO_ERR;
    const resultLen = p.hashResultLen;
    if (resultLen < 1 || resultLen > alg.digestLen) return VIRTIO_CRYPTO_ERR;
    return { service, alg, resultLen };
  } else if (service === "mac") {
    const p = new VirtioCryptoMacCreateSessionFlf(view, at);
    const alg = MACS.get(p.algo);
    if (alg === undefined) return VIRTIO_CRYPTO_NOTSUPP;
    if (p.algo !== algo) return VIRTIO_CRYPTO_ERR;
    const resultLen = p.hashResultLen;
    if (resultLen < 1 || resultLen > alg.digestLen) return VIRTIO_CRYPTO_ERR;
    const k = key(p.authKeyLen, maxAuthKey);
    if (k === undefined) return VIRTIO_CRYPTO_ERR;
    return { service, alg, key: k, resultLen };
  }
  const p = new VirtioCryptoAeadCreateSessionFlf(view, at);
  const alg = AEADS.get(p.algo);
  if (alg === undefined) return VIRTIO_CRYPTO_NOTSUPP;
  if (p.algo !== algo) return VIRTIO_CRYPTO_ERR;
  const op = p.op;
  if (op !== VIRTIO_CRYPTO_OP_ENCRYPT && op !== VIRTIO_CRYPTO_OP_DECRYPT) {
    return VIRTIO_CRYPTO_ERR;
  }
  const keyLen = p.keyLen;
  const tagLen = p.tagLen;
  if (!alg.keyLens.includes(keyLen) || !alg.tagLens.includes(tagLen)) {
    return VIRTIO_CRYPTO_ERR;
  }
  const k = key(keyLen, MAX_CIPHER_KEY);
  if (k === undefined) return VIRTIO_CRYPTO_ERR;
  return { service, alg, key: k, encrypt: op === VIRTIO_CRYPTO_OP_ENCRYPT, tagLen };
}
