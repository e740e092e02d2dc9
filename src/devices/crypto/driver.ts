/**
 * The virtio-crypto driver (spec 5.9, driver side): a {@link VirtioDriver}
 * for the bus and {@link CryptoEngine}, the bound device, which creates
 * {@link CryptoSession}s on the control queue and runs requests on the data
 * queues (spread over them in turn): `encrypt` / `decrypt` for CIPHER
 * sessions, `hash`, `mac`, and `seal` / `open` for AEAD sessions. Requests
 * are laid out through the generated accessors in the layout without
 * VIRTIO_CRYPTO_F_REVISION_1 (fixed parts of 72 bytes, as Linux's driver
 * sends them). A status other than VIRTIO_CRYPTO_OK is a
 * {@link DeviceError} whose code names it (`ERR_VIRTIO_DEVICE_CRYPTO_BADMSG`
 * for an AEAD tag that does not verify).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DmaAllocator, GuestMemory } from "../../memory.ts";
 * import { VirtioBus } from "../../bus.ts";
 * import { PciFunction, probePci } from "../../transport/pci/mod.ts";
 * import { VIRTIO_CRYPTO_HASH_SHA_256 } from "../../generated/devices/crypto.ts";
 * import { CryptoDevice } from "./device.ts";
 * import { cryptoDriver } from "./driver.ts";
 *
 * const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 20));
 * const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, (1 << 20) - 0x1000) });
 * const driver = cryptoDriver();
 * await bus.registerDriver(driver);
 * await bus.addDevice(probePci(new PciFunction(new CryptoDevice(), memory))!);
 * const engine = await driver.nextEngine();
 * const sha = await engine.createSession({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 });
 * const digest = await sha.hash(new TextEncoder().encode("abc"));
 * assert.equal(digest[0], 0xba); // SHA-256("abc") = ba7816bf...
 * await sha.destroy();
 * ```
 *
 * @module
 */

import type { DriverDevice, VirtioDriver, Virtqueue } from "../../driver.ts";
import { DeviceError } from "../../errors.ts";
import { VIRTIO_ID_CRYPTO } from "../../generated/common.ts";
import {
  VIRTIO_CRYPTO_AEAD_CREATE_SESSION,
  VIRTIO_CRYPTO_AEAD_DESTROY_SESSION,
  VIRTIO_CRYPTO_CIPHER_CREATE_SESSION,
  VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION,
  VIRTIO_CRYPTO_HASH_CREATE_SESSION,
  VIRTIO_CRYPTO_HASH_DESTROY_SESSION,
  VIRTIO_CRYPTO_MAC_CREATE_SESSION,
  VIRTIO_CRYPTO_MAC_DESTROY_SESSION,
  VIRTIO_CRYPTO_OK,
  VIRTIO_CRYPTO_OP_DECRYPT,
  VIRTIO_CRYPTO_OP_ENCRYPT,
  VIRTIO_CRYPTO_S_HW_READY,
  VIRTIO_CRYPTO_SERVICE_AEAD,
  VIRTIO_CRYPTO_SERVICE_CIPHER,
  VIRTIO_CRYPTO_SERVICE_HASH,
  VIRTIO_CRYPTO_SERVICE_MAC,
  VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH,
  VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER,
  VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH,
  VIRTIO_CRYPTO_SYM_HASH_MODE_PLAIN,
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
  VIRTIO_CRYPTO_SYM_OP_CIPHER,
  VirtioCryptoAeadCreateSessionFlf,
  VirtioCryptoAlgChainSessionFlf,
  VirtioCryptoCipherSessionFlf,
  VirtioCryptoConfig,
  VirtioCryptoCreateSessionInput,
  VirtioCryptoCtrlHeader,
  VirtioCryptoDestroySessionFlf,
  VirtioCryptoHashCreateSessionFlf,
  VirtioCryptoMacCreateSessionFlf,
  VirtioCryptoOpCtrlReq,
  VirtioCryptoOpDataReq,
  VirtioCryptoOpHeader,
  VirtioCryptoStatus,
  VirtioCryptoSymCreateSessionFlf,
} from "../../generated/devices/crypto.ts";
import { Arrivals } from "../_arrivals.ts";
import { CRYPTO_CTRL_REQ_SIZE, CRYPTO_DATA_REQ_SIZE, type CryptoService } from "./device.ts";
import { CryptoSession } from "./_driver_session.ts";

export { CryptoSession };

/** Options of {@link cryptoDriver}. */
export interface CryptoDriverOptions {
  /** Queue size to ask for (default: the device's maximum). */
  readonly queueSize?: number;
  /** Data queues to use (default: all of `max_dataqueues`). */
  readonly dataQueues?: number;
}

/** What {@link CryptoEngine.createSession} creates. */
export type SessionParams =
  | {
    readonly service: "cipher";
    /** VIRTIO_CRYPTO_CIPHER_*. */
    readonly algo: number;
    readonly key: Uint8Array;
    readonly op: "encrypt" | "decrypt";
    /** Chain a hash or HMAC to the cipher (VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING). */
    readonly chain?: ChainParams;
  }
  | {
    readonly service: "hash";
    /** VIRTIO_CRYPTO_HASH_*. */
    readonly algo: number;
    /** Digest bytes to return (default: the whole digest). */
    readonly resultLen?: number;
  }
  | {
    readonly service: "mac";
    /** VIRTIO_CRYPTO_MAC_*. */
    readonly algo: number;
    readonly key: Uint8Array;
    /** MAC bytes to return (default: the whole MAC). */
    readonly resultLen?: number;
  }
  | {
    readonly service: "aead";
    /** VIRTIO_CRYPTO_AEAD_*. */
    readonly algo: number;
    readonly key: Uint8Array;
    readonly op: "encrypt" | "decrypt";
    /** Tag bytes (default 16). */
    readonly tagLen?: number;
  };

/** The hash half of an algorithm-chaining CIPHER session (5.9.9.2.1.3). */
export interface ChainParams {
  /** Which runs first: the hash over the source, or the cipher (the hash then covers its output). */
  readonly order: "hash-then-cipher" | "cipher-then-hash";
  /** VIRTIO_CRYPTO_HASH_* with no `authKey`, VIRTIO_CRYPTO_MAC_* (HMAC) with one. */
  readonly algo: number;
  /** The HMAC key (VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH); without it a plain hash. */
  readonly authKey?: Uint8Array;
  /** Result bytes (default: the whole digest). */
  readonly resultLen?: number;
}

/** One algorithm-chaining request of {@link CryptoSession.chain}. */
export interface ChainRequest {
  /** The cipher's IV (16 bytes for AES-CBC, CTR, XTS; none for ECB). */
  readonly iv: Uint8Array;
  /** The source data. */
  readonly data: Uint8Array;
  /** Hashed before the hashed region (default none). */
  readonly aad?: Uint8Array;
  /** Start and length of the ciphered region of `data` (default all of it). */
  readonly cipher?: readonly [number, number];
  /** Start and length of the hashed region (default all of it). */
  readonly hash?: readonly [number, number];
}

/** The device's configuration as the driver read it at probe (5.9.5). */
export interface CryptoCapabilities {
  /** `status` is exactly VIRTIO_CRYPTO_S_HW_READY (unknown bits mean a broken device). */
  readonly ready: boolean;
  /** `max_dataqueues`. */
  readonly maxDataqueues: number;
  /** Bits of VIRTIO_CRYPTO_SERVICE_*. */
  readonly services: number;
  /** `cipher_algo_l` and `cipher_algo_h` as one 64-bit mask (bit n: algorithm n). */
  readonly cipherAlgos: bigint;
  /** `hash_algo`. */
  readonly hashAlgos: number;
  /** `mac_algo_l` and `mac_algo_h` as one 64-bit mask. */
  readonly macAlgos: bigint;
  /** `aead_algo`. */
  readonly aeadAlgos: number;
  /** `max_cipher_key_len`. */
  readonly maxCipherKeyLen: number;
  /** `max_auth_key_len`. */
  readonly maxAuthKeyLen: number;
  /** `max_size`. */
  readonly maxSize: bigint;
}

/** Digest lengths of the hashes and HMACs, for the default `resultLen` (5.9.4.2, 5.9.4.3). */
const DIGEST_LEN: Record<string, Record<number, number>> = {
  hash: { 1: 16, 2: 20, 3: 28, 4: 32, 5: 48, 6: 64, 7: 28, 8: 32, 9: 48, 10: 64 },
  mac: { 1: 16, 2: 20, 3: 28, 4: 32, 5: 48, 6: 64 },
};

const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(VirtioCryptoStatus).map(([k, v]) => [v, k.replace("VIRTIO_CRYPTO_", "")]),
);

function statusError(dev: string, what: string, status: number): DeviceError {
  const name = STATUS_NAMES[status] ?? `STATUS_${status}`;
  return new DeviceError(`${dev}: ${what} failed with VIRTIO_CRYPTO_${name} (5.9.9.1)`, {
    code: `ERR_VIRTIO_DEVICE_CRYPTO_${name}`,
  });
}

const EMPTY = new Uint8Array(0);

const SERVICE_OPCODES = {
  cipher: [VIRTIO_CRYPTO_CIPHER_CREATE_SESSION, VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION],
  hash: [VIRTIO_CRYPTO_HASH_CREATE_SESSION, VIRTIO_CRYPTO_HASH_DESTROY_SESSION],
  mac: [VIRTIO_CRYPTO_MAC_CREATE_SESSION, VIRTIO_CRYPTO_MAC_DESTROY_SESSION],
  aead: [VIRTIO_CRYPTO_AEAD_CREATE_SESSION, VIRTIO_CRYPTO_AEAD_DESTROY_SESSION],
} as const;

const SERVICE_BIT: Record<CryptoService, number> = {
  cipher: VIRTIO_CRYPTO_SERVICE_CIPHER,
  hash: VIRTIO_CRYPTO_SERVICE_HASH,
  mac: VIRTIO_CRYPTO_SERVICE_MAC,
  aead: VIRTIO_CRYPTO_SERVICE_AEAD,
};

/** One bound crypto device: its capabilities, its queues, and the sessions it creates. */
export class CryptoEngine {
  /** The bus's handle on the device. */
  readonly dev: DriverDevice;
  /** The configuration read at probe. */
  readonly capabilities: CryptoCapabilities;
  /** The data queues (request queues), used in turn. */
  readonly dataqs: readonly Virtqueue[];
  /** The control queue. */
  readonly controlq: Virtqueue;
  /** Requests completed with VIRTIO_CRYPTO_OK. */
  get completed(): number {
    return this.#completed;
  }
  #completed = 0;
  #next = 0;

  /** Set up by the driver's probe. */
  constructor(dev: DriverDevice, options: CryptoDriverOptions = {}) {
    this.dev = dev;
    const c = new VirtioCryptoConfig(dev.configSnapshot(VirtioCryptoConfig.SIZE));
    const status = c.status;
    this.capabilities = Object.freeze({
      // Unknown status bits mean a broken device, as Linux's driver treats them.
      ready: status === VIRTIO_CRYPTO_S_HW_READY,
      maxDataqueues: c.maxDataqueues,
      services: c.cryptoServices,
      cipherAlgos: BigInt(c.cipherAlgoL) | (BigInt(c.cipherAlgoH) << 32n),
      hashAlgos: c.hashAlgo,
      macAlgos: BigInt(c.macAlgoL) | (BigInt(c.macAlgoH) << 32n),
      aeadAlgos: c.aeadAlgo,
      maxCipherKeyLen: c.maxCipherKeyLen,
      maxAuthKeyLen: c.maxAuthKeyLen,
      maxSize: c.maxSize,
    });
    // 5.9.2: dataq 0..N-1, then controlq; a device reporting 0 data queues gets 1, as in Linux.
    const n = Math.max(1, Math.min(options.dataQueues ?? 0xffff, this.capabilities.maxDataqueues));
    const infos = [];
    for (let i = 0; i < n; i++) infos.push({ name: `dataq.${i}`, size: options.queueSize });
    infos.push({ name: "controlq", size: options.queueSize });
    const vqs = dev.findVqs(infos);
    this.dataqs = vqs.slice(0, n);
    this.controlq = vqs[n];
  }

  /** Does the device offer algorithm `algo` of `service`? */
  supports(service: CryptoService, algo: number): boolean {
    const c = this.capabilities;
    if ((c.services & (1 << SERVICE_BIT[service])) === 0 || algo < 0 || algo > 63) return false;
    const b = BigInt(algo);
    switch (service) {
      case "cipher":
        return ((c.cipherAlgos >> b) & 1n) === 1n;
      case "mac":
        return ((c.macAlgos >> b) & 1n) === 1n;
      case "hash":
        return algo < 32 && ((c.hashAlgos >>> algo) & 1) === 1;
      case "aead":
        return algo < 32 && ((c.aeadAlgos >>> algo) & 1) === 1;
    }
  }

  /** Creates a session on the control queue (5.9.9.2.1). */
  async createSession(params: SessionParams): Promise<CryptoSession> {
    if (!this.capabilities.ready) {
      throw new DeviceError(`${this.dev.name}: the device is not VIRTIO_CRYPTO_S_HW_READY`, {
        code: "ERR_VIRTIO_DEVICE_CRYPTO_NOT_READY",
      });
    }
    const key = "key" in params ? params.key.slice() : new Uint8Array(0);
    const authKey = params.service === "cipher" ? params.chain?.authKey ?? EMPTY : EMPTY;
    const buf = new Uint8Array(CRYPTO_CTRL_REQ_SIZE + key.length + authKey.length);
    const view = new DataView(buf.buffer);
    const h = new VirtioCryptoCtrlHeader(view, VirtioCryptoOpCtrlReq.OFFSETS.header);
    h.opcode = SERVICE_OPCODES[params.service][0];
    h.algo = params.algo;
    const at = VirtioCryptoOpCtrlReq.OFFSETS.opFlf;
    let resultLen = 0;
    switch (params.service) {
      case "cipher": {
        const sym = new VirtioCryptoSymCreateSessionFlf(view, at);
        const flfAt = at + VirtioCryptoSymCreateSessionFlf.OFFSETS.opFlf;
        const chain = params.chain;
        let p = new VirtioCryptoCipherSessionFlf(view, flfAt);
        if (chain === undefined) sym.opType = VIRTIO_CRYPTO_SYM_OP_CIPHER;
        else {
          sym.opType = VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING;
          const ch = new VirtioCryptoAlgChainSessionFlf(view, flfAt);
          ch.algChainOrder = chain.order === "hash-then-cipher"
            ? VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER
            : VIRTIO_CRYPTO_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH;
          const hashAt = flfAt + VirtioCryptoAlgChainSessionFlf.OFFSETS.algoFlf;
          const auth = chain.authKey !== undefined;
          resultLen = chain.resultLen ?? DIGEST_LEN[auth ? "mac" : "hash"][chain.algo] ?? 0;
          if (auth) {
            ch.hashMode = VIRTIO_CRYPTO_SYM_HASH_MODE_AUTH;
            const m = new VirtioCryptoMacCreateSessionFlf(view, hashAt);
            m.algo = chain.algo;
            m.hashResultLen = resultLen;
            m.authKeyLen = chain.authKey?.length ?? 0;
          } else {
            ch.hashMode = VIRTIO_CRYPTO_SYM_HASH_MODE_PLAIN;
            const h = new VirtioCryptoHashCreateSessionFlf(view, hashAt);
            h.algo = chain.algo;
            h.hashResultLen = resultLen;
          }
          p = ch.cipherHdr;
        }
        p.algo = params.algo;
        p.keyLen = key.length;
        p.op = params.op === "encrypt" ? VIRTIO_CRYPTO_OP_ENCRYPT : VIRTIO_CRYPTO_OP_DECRYPT;
        break;
      }
      case "hash": {
        resultLen = params.resultLen ?? DIGEST_LEN.hash[params.algo] ?? 0;
        const p = new VirtioCryptoHashCreateSessionFlf(view, at);
        p.algo = params.algo;
        p.hashResultLen = resultLen;
        break;
      }
      case "mac": {
        resultLen = params.resultLen ?? DIGEST_LEN.mac[params.algo] ?? 0;
        const p = new VirtioCryptoMacCreateSessionFlf(view, at);
        p.algo = params.algo;
        p.hashResultLen = resultLen;
        p.authKeyLen = key.length;
        break;
      }
      case "aead": {
        resultLen = params.tagLen ?? 16;
        const p = new VirtioCryptoAeadCreateSessionFlf(view, at);
        p.algo = params.algo;
        p.keyLen = key.length;
        p.tagLen = resultLen;
        p.op = params.op === "encrypt" ? VIRTIO_CRYPTO_OP_ENCRYPT : VIRTIO_CRYPTO_OP_DECRYPT;
        break;
      }
    }
    buf.set(key, CRYPTO_CTRL_REQ_SIZE);
    buf.set(authKey, CRYPTO_CTRL_REQ_SIZE + key.length); // op_vlf of a chain: cipher key, auth key
    const got = await this.controlq.request(buf, VirtioCryptoCreateSessionInput.SIZE);
    if (got.length < VirtioCryptoCreateSessionInput.SIZE) {
      throw this.#short("create session", got.length);
    }
    const input = new VirtioCryptoCreateSessionInput(
      new DataView(got.buffer, got.byteOffset, got.length),
    );
    if (input.status !== VIRTIO_CRYPTO_OK) {
      throw statusError(this.dev.name, `create ${params.service} session`, input.status);
    }
    const stored = "key" in params ? { ...params, key } : { ...params };
    return new CryptoSession(this, input.sessionId, stored, resultLen);
  }

  /** Destroys session `id` of `service` (5.9.9.2.1); {@link CryptoSession.destroy} calls it. */
  async destroySession(service: CryptoService, id: bigint): Promise<void> {
    const buf = new Uint8Array(CRYPTO_CTRL_REQ_SIZE);
    const view = new DataView(buf.buffer);
    new VirtioCryptoCtrlHeader(view, VirtioCryptoOpCtrlReq.OFFSETS.header).opcode =
      SERVICE_OPCODES[service][1];
    new VirtioCryptoDestroySessionFlf(view, VirtioCryptoOpCtrlReq.OFFSETS.opFlf).sessionId = id;
    const got = await this.controlq.request(buf, 1);
    if (got.length < 1) throw this.#short("destroy session", got.length);
    if (got[0] !== VIRTIO_CRYPTO_OK) {
      throw statusError(this.dev.name, `destroy session ${id}`, got[0]);
    }
  }

  /**
   * A data request's buffer: the 72-byte fixed part with the header filled
   * for `session`, and room for `vlf` readable bytes after it. For
   * {@link CryptoSession}'s requests and for tests that send their own.
   */
  dataRequest(
    opcode: number,
    session: CryptoSession,
    vlf: number,
  ): { buf: Uint8Array; view: DataView } {
    const buf = new Uint8Array(CRYPTO_DATA_REQ_SIZE + vlf);
    const view = new DataView(buf.buffer);
    const h = new VirtioCryptoOpHeader(view, VirtioCryptoOpDataReq.OFFSETS.header);
    h.opcode = opcode;
    h.algo = session.params.algo;
    h.sessionId = session.id;
    return { buf, view };
  }

  /**
   * Sends a data request with `outLen` result bytes before the status on the
   * next data queue; resolves with the result, rejects with the status.
   */
  async submitData(buf: Uint8Array, outLen: number, what: string): Promise<Uint8Array> {
    const q = this.dataqs[this.#next];
    this.#next = (this.#next + 1) % this.dataqs.length;
    const got = await q.request(buf, outLen + 1);
    // The status is the last writable byte: a shorter used length hides it.
    if (got.length < outLen + 1) throw this.#short(what, got.length);
    const status = got[outLen];
    if (status !== VIRTIO_CRYPTO_OK) throw statusError(this.dev.name, what, status);
    this.#completed++;
    return got.subarray(0, outLen);
  }

  #short(what: string, len: number): DeviceError {
    return new DeviceError(`${this.dev.name}: ${what}: the device wrote ${len} bytes, no status`, {
      code: "ERR_VIRTIO_DEVICE_CRYPTO_SHORT",
    });
  }

  /** Tears the queues down (device removal). */
  detach(): void {
    this.dev.reset();
    this.dev.delVqs();
  }
}

/** The crypto driver plus the engines it has bound. */
export interface CryptoDriver extends VirtioDriver {
  /** Bound engines, by device. */
  readonly engines: Map<DriverDevice, CryptoEngine>;
  /** The next engine to be probed (or the first already probed and not yet taken). */
  nextEngine(): Promise<CryptoEngine>;
}

/** A virtio-crypto driver for the bus. */
export function cryptoDriver(options: CryptoDriverOptions = {}): CryptoDriver {
  const arrivals = new Arrivals<CryptoEngine>();
  return {
    name: "virtio-crypto",
    idTable: [{ device: VIRTIO_ID_CRYPTO }],
    featureTable: [],
    engines: arrivals.bound,
    nextEngine(): Promise<CryptoEngine> {
      return arrivals.next();
    },
    probe(dev: DriverDevice): void {
      const engine = new CryptoEngine(dev, options);
      dev.deviceReady();
      arrivals.arrive(dev, engine);
    },
    remove(dev: DriverDevice): void {
      arrivals.depart(dev)?.detach();
    },
  };
}
