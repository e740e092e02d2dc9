// The crypto device model's data operations (spec 5.9.9.3 to 5.9.9.7): a
// data request on a session of each service, from its op_flf (already
// copied out of guest memory) and its op_vlf, to the status and result the
// device writes back. The device (`device.ts`) finds the session and
// writes the outcome.

import {
  VIRTIO_CRYPTO_AEAD_DECRYPT,
  VIRTIO_CRYPTO_AEAD_ENCRYPT,
  VIRTIO_CRYPTO_BADMSG,
  VIRTIO_CRYPTO_CIPHER_DECRYPT,
  VIRTIO_CRYPTO_CIPHER_ENCRYPT,
  VIRTIO_CRYPTO_ERR,
  VIRTIO_CRYPTO_HASH,
  VIRTIO_CRYPTO_INVSESS,
  VIRTIO_CRYPTO_MAC,
  VIRTIO_CRYPTO_NOTSUPP,
  VIRTIO_CRYPTO_OK,
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
  VIRTIO_CRYPTO_SYM_OP_CIPHER,
  VirtioCryptoAeadDataFlf,
  VirtioCryptoAlgChainDataFlf,
  VirtioCryptoCipherDataFlf,
  VirtioCryptoHashDataFlf,
  VirtioCryptoMacDataFlf,
  VirtioCryptoSymDataFlf,
} from "../../generated/devices/crypto.ts";
import {
  aeadOpen,
  aeadSeal,
  type CipherAlgorithm,
  runCipher,
  runHash,
  runHmac,
} from "./_algorithms.ts";
import type { Chain, Session } from "./_device_sessions.ts";

/** A status and the bytes to put before it (a result). */
export interface Outcome {
  status: number;
  result?: Uint8Array;
}

export const ERR: Outcome = { status: VIRTIO_CRYPTO_ERR };
export const NOTSUPP: Outcome = { status: VIRTIO_CRYPTO_NOTSUPP };
export const INVSESS: Outcome = { status: VIRTIO_CRYPTO_INVSESS };
const BADMSG: Outcome = { status: VIRTIO_CRYPTO_BADMSG };

/**
 * A data request with `opcode` on session `s` (of the opcode's service):
 * its op_flf is at `at` in `view`; `fits(readable, writable)` checks
 * lengths against the buffers and `max_size`; `readVlf(len)` copies the
 * first `len` bytes of op_vlf once.
 */
export function dataOperation(
  s: Session,
  opcode: number,
  view: DataView,
  at: number,
  fits: (readable: number, writable: number) => boolean,
  readVlf: (len: number) => Uint8Array,
): Outcome {
  switch (s.service) {
    case "cipher": {
      if (opcode !== VIRTIO_CRYPTO_CIPHER_ENCRYPT && opcode !== VIRTIO_CRYPTO_CIPHER_DECRYPT) {
        return NOTSUPP;
      }
      const sym = new VirtioCryptoSymDataFlf(view, at);
      const opType = sym.opType;
      if (
        opType !== VIRTIO_CRYPTO_SYM_OP_CIPHER &&
        opType !== VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING
      ) return NOTSUPP;
      // The request's op_type must be the session's.
      if ((opType === VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING) !== (s.chain !== undefined)) {
        return ERR;
      }
      if (s.encrypt !== (opcode === VIRTIO_CRYPTO_CIPHER_ENCRYPT)) return ERR;
      const typeAt = at + VirtioCryptoSymDataFlf.OFFSETS.opTypeFlf;
      const a = s.alg;
      if (s.chain !== undefined) {
        return chainOperation(view, s.chain, a, s.key, s.encrypt, typeAt, fits, readVlf);
      }
      const p = new VirtioCryptoCipherDataFlf(view, typeAt);
      const ivLen = p.ivLen;
      const srcLen = p.srcDataLen;
      const dstLen = p.dstDataLen;
      if (ivLen !== a.ivLen || dstLen !== srcLen) return ERR;
      if (srcLen % a.block !== 0 || srcLen < a.minLen) return ERR;
      if (!fits(ivLen + srcLen, dstLen)) return ERR;
      const vlf = readVlf(ivLen + srcLen);
      const result = runCipher(a, s.key, vlf.subarray(0, ivLen), s.encrypt, vlf.subarray(ivLen));
      return { status: VIRTIO_CRYPTO_OK, result };
    }
    case "hash":
    case "mac": {
      if (opcode !== (s.service === "hash" ? VIRTIO_CRYPTO_HASH : VIRTIO_CRYPTO_MAC)) {
        return NOTSUPP;
      }
      const p = s.service === "hash"
        ? new VirtioCryptoHashDataFlf(view, at)
        : new VirtioCryptoMacDataFlf(view, at).hdr;
      const srcLen = p.srcDataLen;
      const resultLen = p.hashResultLen;
      if (resultLen !== s.resultLen) return ERR;
      if (!fits(srcLen, resultLen)) return ERR;
      const src = readVlf(srcLen);
      const digest = s.service === "hash" ? runHash(s.alg, src) : runHmac(s.alg, s.key, src);
      return { status: VIRTIO_CRYPTO_OK, result: digest.subarray(0, resultLen) };
    }
    case "aead": {
      if (opcode !== VIRTIO_CRYPTO_AEAD_ENCRYPT && opcode !== VIRTIO_CRYPTO_AEAD_DECRYPT) {
        return NOTSUPP;
      }
      if (s.encrypt !== (opcode === VIRTIO_CRYPTO_AEAD_ENCRYPT)) return ERR;
      const p = new VirtioCryptoAeadDataFlf(view, at);
      const ivLen = p.ivLen;
      const aadLen = p.aadLen;
      const srcLen = p.srcDataLen;
      const dstLen = p.dstDataLen;
      const tagLen = p.tagLen;
      if (ivLen !== s.alg.ivLen || tagLen !== s.tagLen) return ERR;
      // Encryption writes ciphertext || tag; decryption reads ciphertext || tag from src.
      const outLen = s.encrypt ? srcLen + tagLen : srcLen - tagLen;
      if (outLen < 0 || dstLen < outLen) return ERR;
      if (!fits(ivLen + srcLen + aadLen, dstLen)) return ERR;
      // 5.9.9.7: op_vlf is iv, src_data, aad.
      const vlf = readVlf(ivLen + srcLen + aadLen);
      const iv = vlf.subarray(0, ivLen);
      const src = vlf.subarray(ivLen, ivLen + srcLen);
      const aad = vlf.subarray(ivLen + srcLen);
      if (s.encrypt) {
        return {
          status: VIRTIO_CRYPTO_OK,
          result: aeadSeal(s.alg, s.key, iv, aad, src, tagLen),
        };
      }
      const ct = src.subarray(0, srcLen - tagLen);
      const plain = aeadOpen(s.alg, s.key, iv, aad, ct, src.subarray(srcLen - tagLen));
      return plain === undefined ? BADMSG : { status: VIRTIO_CRYPTO_OK, result: plain };
    }
  }
}

/**
 * An algorithm-chaining request (5.9.9.6): the cipher over
 * `src[cipher_start_src_offset, +len_to_cipher]` (the rest of src copied
 * as it is) and the hash or HMAC over `aad` followed by
 * `[hash_start_src_offset, +len_to_hash]` of src (HASH_THEN_CIPHER) or of
 * the ciphered data (CIPHER_THEN_HASH). The writable part gets dst_data,
 * then hash_result.
 */
function chainOperation(
  view: DataView,
  c: Chain,
  a: CipherAlgorithm,
  key: Uint8Array,
  encrypt: boolean,
  typeAt: number,
  fits: (readable: number, writable: number) => boolean,
  readVlf: (len: number) => Uint8Array,
): Outcome {
  const p = new VirtioCryptoAlgChainDataFlf(view, typeAt);
  const ivLen = p.ivLen;
  const srcLen = p.srcDataLen;
  const dstLen = p.dstDataLen;
  const cStart = p.cipherStartSrcOffset;
  const cLen = p.lenToCipher;
  const hStart = p.hashStartSrcOffset;
  const hLen = p.lenToHash;
  const aadLen = p.aadLen;
  const resultLen = p.hashResultLen;
  if (ivLen !== a.ivLen || dstLen !== srcLen || resultLen !== c.resultLen) return ERR;
  if (cStart + cLen > srcLen || hStart + hLen > srcLen) return ERR;
  if (cLen % a.block !== 0 || (cLen > 0 && cLen < a.minLen)) return ERR;
  if (!fits(ivLen + srcLen + aadLen, dstLen + resultLen)) return ERR;
  // op_vlf: iv, src_data, aad.
  const vlf = readVlf(ivLen + srcLen + aadLen);
  const iv = vlf.subarray(0, ivLen);
  const src = vlf.subarray(ivLen, ivLen + srcLen);
  const aad = vlf.subarray(ivLen + srcLen);
  const out = new Uint8Array(srcLen + resultLen);
  out.set(src);
  const digest = (data: Uint8Array) => {
    const region = new Uint8Array(aad.length + hLen);
    region.set(aad);
    region.set(data.subarray(hStart, hStart + hLen), aad.length);
    const d = c.authKey === undefined
      ? runHash(c.hash, region)
      : runHmac(c.hash, c.authKey, region);
    out.set(d.subarray(0, resultLen), srcLen);
  };
  if (c.hashFirst) digest(src);
  if (cLen > 0) {
    out.set(runCipher(a, key, iv, encrypt, src.subarray(cStart, cStart + cLen)), cStart);
  }
  if (!c.hashFirst) digest(out);
  return { status: VIRTIO_CRYPTO_OK, result: out };
}
