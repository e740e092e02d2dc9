// The crypto driver's session handle (spec 5.9.9.3 to 5.9.9.7, driver
// side): CryptoSession lays out the data requests of each service on the
// session the device created, and hands them to its engine (`driver.ts`),
// which re-exports it.

import { ArgumentError } from "../../errors.ts";
import {
  VIRTIO_CRYPTO_AEAD_DECRYPT,
  VIRTIO_CRYPTO_AEAD_ENCRYPT,
  VIRTIO_CRYPTO_CIPHER_DECRYPT,
  VIRTIO_CRYPTO_CIPHER_ENCRYPT,
  VIRTIO_CRYPTO_HASH,
  VIRTIO_CRYPTO_MAC,
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
  VIRTIO_CRYPTO_SYM_OP_CIPHER,
  VirtioCryptoAeadDataFlf,
  VirtioCryptoAlgChainDataFlf,
  VirtioCryptoCipherDataFlf,
  VirtioCryptoHashDataFlf,
  VirtioCryptoMacDataFlf,
  VirtioCryptoOpDataReq,
  VirtioCryptoSymDataFlf,
} from "../../generated/devices/crypto.ts";
import { CRYPTO_DATA_REQ_SIZE, type CryptoService } from "./device.ts";
import type { ChainRequest, CryptoEngine, SessionParams } from "./driver.ts";

/** One session on the device, made by {@link CryptoEngine.createSession}. */
export class CryptoSession {
  #destroyed = false;

  /** Made by {@link CryptoEngine.createSession}. */
  constructor(
    /** The engine that created it. */
    readonly engine: CryptoEngine,
    /** The id the device assigned. */
    readonly id: bigint,
    /** What it was created with (the key is a copy). */
    readonly params: SessionParams,
    /** Result bytes of a hash or MAC, tag bytes of an AEAD; 0 for a cipher. */
    readonly resultLen: number,
  ) {}

  /** Has {@link CryptoSession.destroy} run? */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** CIPHER: encrypts `data` with `iv` (an encrypt session). */
  encrypt(iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return this.#cipher("encrypt", iv, data);
  }

  /** CIPHER: decrypts `data` with `iv` (a decrypt session). */
  decrypt(iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    return this.#cipher("decrypt", iv, data);
  }

  /**
   * CIPHER with a chained hash (a session created with `chain`): `data` with
   * its cipher region ciphered, and the digest of `aad` and the hash region
   * (of `data` for hash-then-cipher, of the ciphered output otherwise).
   */
  chain(req: ChainRequest): Promise<{ data: Uint8Array; digest: Uint8Array }> {
    const p = this.params;
    if (p.service !== "cipher" || p.chain === undefined) {
      throw new ArgumentError(`session ${this.id} is not an algorithm-chaining session`, {
        code: "ERR_VIRTIO_ARGUMENT_CRYPTO_SESSION",
      });
    }
    const { iv, data } = req;
    const aad = req.aad ?? new Uint8Array(0);
    const [cStart, cLen] = req.cipher ?? [0, data.length];
    const [hStart, hLen] = req.hash ?? [0, data.length];
    const opcode = p.op === "encrypt" ? VIRTIO_CRYPTO_CIPHER_ENCRYPT : VIRTIO_CRYPTO_CIPHER_DECRYPT;
    const { buf, view } = this.engine.dataRequest(
      opcode,
      this,
      iv.length + data.length + aad.length,
    );
    const at = VirtioCryptoOpDataReq.OFFSETS.opFlf;
    new VirtioCryptoSymDataFlf(view, at).opType = VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING;
    const f = new VirtioCryptoAlgChainDataFlf(view, at + VirtioCryptoSymDataFlf.OFFSETS.opTypeFlf);
    f.ivLen = iv.length;
    f.srcDataLen = data.length;
    f.dstDataLen = data.length;
    f.cipherStartSrcOffset = cStart;
    f.lenToCipher = cLen;
    f.hashStartSrcOffset = hStart;
    f.lenToHash = hLen;
    f.aadLen = aad.length;
    f.hashResultLen = this.resultLen;
    // 5.9.9.6: op_vlf is iv, src_data, aad.
    buf.set(iv, CRYPTO_DATA_REQ_SIZE);
    buf.set(data, CRYPTO_DATA_REQ_SIZE + iv.length);
    buf.set(aad, CRYPTO_DATA_REQ_SIZE + iv.length + data.length);
    return this.engine.submitData(buf, data.length + this.resultLen, "chain").then((out) => ({
      data: out.subarray(0, data.length),
      digest: out.subarray(data.length),
    }));
  }

  /** HASH: the digest of `data` (`resultLen` bytes). */
  hash(data: Uint8Array): Promise<Uint8Array> {
    this.#expect("hash");
    return this.#digest(VIRTIO_CRYPTO_HASH, data);
  }

  /** MAC: the MAC of `data` (`resultLen` bytes). */
  mac(data: Uint8Array): Promise<Uint8Array> {
    this.#expect("mac");
    return this.#digest(VIRTIO_CRYPTO_MAC, data);
  }

  /** AEAD (an encrypt session): ciphertext || tag of `plaintext` with `aad`. */
  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    this.#expect("aead", "encrypt");
    const out = plaintext.length + this.resultLen;
    return this.#aead(VIRTIO_CRYPTO_AEAD_ENCRYPT, iv, aad, plaintext, out);
  }

  /**
   * AEAD (a decrypt session): the plaintext of `sealed` (ciphertext || tag);
   * rejects with `ERR_VIRTIO_DEVICE_CRYPTO_BADMSG` when the tag does not verify.
   */
  open(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
    this.#expect("aead", "decrypt");
    const out = sealed.length - this.resultLen;
    if (out < 0) {
      return Promise.reject(
        new ArgumentError(`sealed data of ${sealed.length} bytes is shorter than its tag`, {
          code: "ERR_VIRTIO_ARGUMENT_CRYPTO_LENGTH",
        }),
      );
    }
    return this.#aead(VIRTIO_CRYPTO_AEAD_DECRYPT, iv, aad, sealed, out);
  }

  /** Destroys the session on the device (5.9.9.2.1); later requests on it are refused. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.engine.destroySession(this.params.service, this.id);
  }

  #expect(service: CryptoService, op?: "encrypt" | "decrypt"): void {
    const p = this.params;
    if (p.service !== service || (op !== undefined && "op" in p && p.op !== op)) {
      const what = "op" in p ? `${p.service} ${p.op}` : p.service;
      throw new ArgumentError(`session ${this.id} is a ${what} session`, {
        code: "ERR_VIRTIO_ARGUMENT_CRYPTO_SESSION",
      });
    }
  }

  #cipher(op: "encrypt" | "decrypt", iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    this.#expect("cipher", op);
    if ("chain" in this.params && this.params.chain !== undefined) {
      throw new ArgumentError(`session ${this.id} chains a hash: use chain()`, {
        code: "ERR_VIRTIO_ARGUMENT_CRYPTO_SESSION",
      });
    }
    const opcode = op === "encrypt" ? VIRTIO_CRYPTO_CIPHER_ENCRYPT : VIRTIO_CRYPTO_CIPHER_DECRYPT;
    const { buf, view } = this.engine.dataRequest(opcode, this, iv.length + data.length);
    const at = VirtioCryptoOpDataReq.OFFSETS.opFlf;
    new VirtioCryptoSymDataFlf(view, at).opType = VIRTIO_CRYPTO_SYM_OP_CIPHER;
    const p = new VirtioCryptoCipherDataFlf(view, at + VirtioCryptoSymDataFlf.OFFSETS.opTypeFlf);
    p.ivLen = iv.length;
    p.srcDataLen = data.length;
    p.dstDataLen = data.length;
    buf.set(iv, CRYPTO_DATA_REQ_SIZE);
    buf.set(data, CRYPTO_DATA_REQ_SIZE + iv.length);
    return this.engine.submitData(buf, data.length, op);
  }

  #digest(opcode: number, data: Uint8Array): Promise<Uint8Array> {
    const { buf, view } = this.engine.dataRequest(opcode, this, data.length);
    const at = VirtioCryptoOpDataReq.OFFSETS.opFlf;
    const p = opcode === VIRTIO_CRYPTO_HASH
      ? new VirtioCryptoHashDataFlf(view, at)
      : new VirtioCryptoMacDataFlf(view, at).hdr;
    p.srcDataLen = data.length;
    p.hashResultLen = this.resultLen;
    buf.set(data, CRYPTO_DATA_REQ_SIZE);
    return this.engine.submitData(
      buf,
      this.resultLen,
      opcode === VIRTIO_CRYPTO_HASH ? "hash" : "mac",
    );
  }

  #aead(
    opcode: number,
    iv: Uint8Array,
    aad: Uint8Array,
    src: Uint8Array,
    outLen: number,
  ): Promise<Uint8Array> {
    const { buf, view } = this.engine.dataRequest(
      opcode,
      this,
      iv.length + src.length + aad.length,
    );
    const p = new VirtioCryptoAeadDataFlf(view, VirtioCryptoOpDataReq.OFFSETS.opFlf);
    p.ivLen = iv.length;
    p.aadLen = aad.length;
    p.srcDataLen = src.length;
    p.dstDataLen = outLen;
    p.tagLen = this.resultLen;
    // 5.9.9.7: op_vlf is iv, src_data, aad.
    buf.set(iv, CRYPTO_DATA_REQ_SIZE);
    buf.set(src, CRYPTO_DATA_REQ_SIZE + iv.length);
    buf.set(aad, CRYPTO_DATA_REQ_SIZE + iv.length + src.length);
    return this.engine.submitData(
      buf,
      outLen,
      opcode === VIRTIO_CRYPTO_AEAD_ENCRYPT ? "seal" : "open",
    );
  }
}
