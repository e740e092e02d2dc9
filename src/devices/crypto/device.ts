/**
 * The virtio crypto device model (spec 5.9, device id 20) on node:crypto.
 * Services: CIPHER (AES-ECB, AES-CBC, AES-CTR, AES-XTS), HASH (MD5, SHA-1,
 * SHA-2 224 to 512, SHA-3 224 to 512), MAC (HMAC over MD5, SHA-1 and SHA-2)
 * and AEAD (AES-GCM with 96-bit IVs, ChaCha20-Poly1305), and CIPHER
 * sessions chained with a hash or HMAC in either order (plain and AUTH hash
 * modes; NESTED, AKCIPHER and IPsec answer VIRTIO_CRYPTO_NOTSUPP).
 *
 * Queues: `max_dataqueues` data queues, then the control queue (5.9.2).
 * Sessions are created and destroyed on the control queue (5.9.9.2), with
 * ids the device assigns and never reuses and at most
 * {@link CryptoDeviceOptions.maxSessions} alive; a reset destroys them all.
 * Requests use the layouts without VIRTIO_CRYPTO_F_REVISION_1, which the
 * device does not offer (nor any stateless mode): a control request is the
 * 16-byte header and `op_flf` padded to 56 bytes (72 bytes), a data request
 * the 24-byte header and `op_flf` padded to 48 (72 bytes), as Linux sends
 * them; the variable-length fields follow in the readable part, and the
 * writable part ends with the status (5.9.9.3: `virtio_crypto_inhdr`).
 *
 * The driver is hostile: the fixed part of each request is copied out of
 * guest memory once into our own buffer and read there through the
 * generated accessors; the variable-length fields are copied once after
 * their lengths were checked against the buffers, the algorithm and
 * `max_size`. An unknown session, one of another service or a destroyed one
 * is VIRTIO_CRYPTO_INVSESS; an unknown opcode or algorithm
 * VIRTIO_CRYPTO_NOTSUPP; lengths that disagree with the buffers, the
 * algorithm or each other (a wrong IV size, a CBC length that is not whole
 * blocks, a destination shorter than the result, a length past `max_size`)
 * VIRTIO_CRYPTO_ERR; a failed AEAD tag VIRTIO_CRYPTO_BADMSG. A request whose
 * writable part cannot hold its status is used with length 0.
 *
 * @example
 * ```ts
 * import { CryptoDevice } from "./device.ts";
 *
 * const dev = new CryptoDevice({ dataQueues: 2, maxSessions: 64 });
 * if (dev.queueMaxSizes.length !== 3 || dev.cfg.maxDataqueues !== 2) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { type ChainServer, ConfigDevice, type DeviceContext } from "../../device.ts";
import { ArgumentError } from "../../errors.ts";
import { checkDeviceQueueSize, ringFeatures } from "../../features.ts";
import { VIRTIO_ID_CRYPTO } from "../../generated/common.ts";
import {
  VIRTIO_CRYPTO_AEAD_CREATE_SESSION,
  VIRTIO_CRYPTO_AEAD_DESTROY_SESSION,
  VIRTIO_CRYPTO_CIPHER_CREATE_SESSION,
  VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION,
  VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY,
  VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY,
  VIRTIO_CRYPTO_ERR,
  VIRTIO_CRYPTO_HASH_CREATE_SESSION,
  VIRTIO_CRYPTO_HASH_DESTROY_SESSION,
  VIRTIO_CRYPTO_INVSESS,
  VIRTIO_CRYPTO_MAC_CREATE_SESSION,
  VIRTIO_CRYPTO_MAC_DESTROY_SESSION,
  VIRTIO_CRYPTO_NOTSUPP,
  VIRTIO_CRYPTO_OK,
  VIRTIO_CRYPTO_S_HW_READY,
  VIRTIO_CRYPTO_SERVICE_AEAD,
  VIRTIO_CRYPTO_SERVICE_CIPHER,
  VIRTIO_CRYPTO_SERVICE_HASH,
  VIRTIO_CRYPTO_SERVICE_MAC,
  VirtioCryptoConfig,
  VirtioCryptoCreateSessionInput,
  VirtioCryptoCtrlHeader,
  VirtioCryptoDestroySessionFlf,
  VirtioCryptoOpCtrlReq,
  VirtioCryptoOpDataReq,
  VirtioCryptoOpHeader,
} from "../../generated/devices/crypto.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { AEADS, algoMask, CIPHERS, HASHES, MACS } from "./_algorithms.ts";
import { MAX_CIPHER_KEY, parseSession, serviceOf, type Session } from "./_device_sessions.ts";
import { dataOperation, ERR, INVSESS, NOTSUPP, type Outcome } from "./_device_operations.ts";

/** Bytes of the fixed part of a control request without REVISION_1 (header + padded op_flf). */
export const CRYPTO_CTRL_REQ_SIZE: number = VirtioCryptoOpCtrlReq.OFFSETS.opFlf +
  VIRTIO_CRYPTO_CTRLQ_OP_SPEC_HDR_LEGACY;
/** Bytes of the fixed part of a data request without REVISION_1 (header + padded op_flf). */
export const CRYPTO_DATA_REQ_SIZE: number = VirtioCryptoOpDataReq.OFFSETS.opFlf +
  VIRTIO_CRYPTO_DATAQ_OP_SPEC_HDR_LEGACY;

/** A service the device can offer. */
export type CryptoService = "cipher" | "hash" | "mac" | "aead";

/** Options of a {@link CryptoDevice}. */
export interface CryptoDeviceOptions {
  /** `max_dataqueues`: data queues before the control queue (1..65535, default 1). */
  readonly dataQueues?: number;
  /** Maximum size of each queue (default 128). */
  readonly queueSize?: number;
  /** Sessions alive at once (default 1024); a create past it answers VIRTIO_CRYPTO_ERR. */
  readonly maxSessions?: number;
  /** `max_size`: most bytes of the variable-length fields of one request (default 1 MiB). */
  readonly maxSize?: number;
  /** `max_auth_key_len` (default 512). */
  readonly maxAuthKeyLen?: number;
  /** Services offered (default all four). */
  readonly services?: readonly CryptoService[];
  /** Offer the packed ring layout (default true). */
  readonly packed?: boolean;
}

const SERVICE_BITS: Record<CryptoService, number> = {
  cipher: VIRTIO_CRYPTO_SERVICE_CIPHER,
  hash: VIRTIO_CRYPTO_SERVICE_HASH,
  mac: VIRTIO_CRYPTO_SERVICE_MAC,
  aead: VIRTIO_CRYPTO_SERVICE_AEAD,
};

/** The virtio-crypto device model; see the module documentation. */
export class CryptoDevice extends ConfigDevice<VirtioCryptoConfig> {
  /** `VIRTIO_ID_CRYPTO` (20). */
  readonly deviceId: number = VIRTIO_ID_CRYPTO;
  /** Ring features only: no REVISION_1, no stateless modes. */
  readonly features: bigint;
  /** The data queues, then the control queue. */
  readonly queueMaxSizes: readonly number[];
  /** Index of the control queue (`max_dataqueues`). */
  readonly controlQueue: number;
  /** Requests answered, by VIRTIO_CRYPTO_* status (index = status). */
  get statusCounts(): readonly number[] {
    return Object.freeze([...this.#statusCounts]);
  }
  readonly #statusCounts: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  /** Requests whose writable part could not hold a status (used with length 0). */
  get unanswerable(): number {
    return this.#unanswerableCount;
  }
  #unanswerableCount = 0;
  readonly #services: ReadonlySet<CryptoService>;
  readonly #maxSessions: number;
  readonly #maxSize: number;
  readonly #maxAuthKey: number;
  readonly #sessions = new Map<bigint, Session>();
  #nextId = 1n;
  // Our own copies of the fixed parts: guest memory is read once.
  readonly #ctrlBytes = new Uint8Array(CRYPTO_CTRL_REQ_SIZE);
  readonly #ctrlView = new DataView(this.#ctrlBytes.buffer);
  readonly #ctrlHdr = new VirtioCryptoCtrlHeader(this.#ctrlView, 0);
  readonly #dataBytes = new Uint8Array(CRYPTO_DATA_REQ_SIZE);
  readonly #dataView = new DataView(this.#dataBytes.buffer);
  readonly #dataHdr = new VirtioCryptoOpHeader(this.#dataView, 0);
  readonly #input = new VirtioCryptoCreateSessionInput(
    new DataView(new ArrayBuffer(VirtioCryptoCreateSessionInput.SIZE)),
  );
  readonly #inputBytes = new Uint8Array(this.#input.view.buffer);
  readonly #status = new Uint8Array(1);
  readonly #data: ChainServer = {
    serveChain: (c) => this.#serveData(c),
    isLive: (ctx) => this.isLive(ctx),
  };
  readonly #ctrl: ChainServer = {
    serveChain: (c) => this.#serveCtrl(c),
    isLive: (ctx) => this.isLive(ctx),
  };

  /** A crypto device; see {@link CryptoDeviceOptions}. */
  constructor(options: CryptoDeviceOptions = {}) {
    super(VirtioCryptoConfig);
    const nq = options.dataQueues ?? 1;
    if (!Number.isInteger(nq) || nq < 1 || nq > 65535) {
      throw new ArgumentError(`virtio-crypto: dataQueues ${nq} is not in 1..65535 (5.9.5)`, {
        code: "ERR_VIRTIO_ARGUMENT_CRYPTO_OPTION",
      });
    }
    const positive = (name: string, v: number): number => {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new ArgumentError(`virtio-crypto: ${name} ${v} must be a positive integer`, {
          code: "ERR_VIRTIO_ARGUMENT_CRYPTO_OPTION",
        });
      }
      return v;
    };
    this.#maxSessions = positive("maxSessions", options.maxSessions ?? 1024);
    this.#maxSize = positive("maxSize", options.maxSize ?? 1 << 20);
    this.#maxAuthKey = positive("maxAuthKeyLen", options.maxAuthKeyLen ?? 512);
    this.#services = new Set(options.services ?? ["cipher", "hash", "mac", "aead"]);
    const qs = checkDeviceQueueSize("virtio-crypto", options.queueSize ?? 128);
    this.queueMaxSizes = new Array(nq + 1).fill(qs);
    this.controlQueue = nq;
    this.features = ringFeatures(options.packed ?? true);
    const on = (s: CryptoService) => this.#services.has(s);
    const cipher = algoMask(on("cipher") ? CIPHERS.keys() : []);
    const mac = algoMask(on("mac") ? MACS.keys() : []);
    this.config.update(() => {
      const c = this.cfg;
      c.status = VIRTIO_CRYPTO_S_HW_READY;
      c.maxDataqueues = nq;
      let services = 0;
      for (const s of this.#services) services |= 1 << SERVICE_BITS[s];
      c.cryptoServices = services;
      c.cipherAlgoL = cipher.l;
      c.cipherAlgoH = cipher.h;
      c.hashAlgo = algoMask(on("hash") ? HASHES.keys() : []).l;
      c.macAlgoL = mac.l;
      c.macAlgoH = mac.h;
      c.aeadAlgo = algoMask(on("aead") ? AEADS.keys() : []).l;
      c.maxCipherKeyLen = MAX_CIPHER_KEY;
      c.maxAuthKeyLen = this.#maxAuthKey;
      c.akcipherAlgo = 0;
      c.maxSize = BigInt(this.#maxSize);
    });
  }

  /** Sessions alive now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Start serving. */
  override activate(ctx: DeviceContext): void {
    super.activate(ctx);
  }

  /** The driver kicked queue `index`. */
  queueNotify(index: number): void {
    if (index === this.controlQueue) this.serve(index, this.#ctrl);
    else if (index >= 0 && index < this.controlQueue) this.serve(index, this.#data);
  }

  /** A reset destroys every session. */
  override reset(): void {
    super.reset();
    this.#sessions.clear();
  }

  // ---- control queue (5.9.9.2) ------------------------------------------------

  #serveCtrl(c: DescriptorChain): number {
    const w = c.writableLength;
    const got = c.read(0, this.#ctrlBytes, 0, Math.min(c.readableLength, CRYPTO_CTRL_REQ_SIZE));
    const opcode = got >= VirtioCryptoCtrlHeader.SIZE ? this.#ctrlHdr.opcode : -1;
    const create = opcode === VIRTIO_CRYPTO_CIPHER_CREATE_SESSION ||
      opcode === VIRTIO_CRYPTO_HASH_CREATE_SESSION ||
      opcode === VIRTIO_CRYPTO_MAC_CREATE_SESSION ||
      opcode === VIRTIO_CRYPTO_AEAD_CREATE_SESSION;
    if (create) {
      // 5.9.9.2.1: the outcome is virtio_crypto_create_session_input.
      if (w < VirtioCryptoCreateSessionInput.SIZE) return this.#unanswerable();
      let status: number = VIRTIO_CRYPTO_ERR;
      let id = 0n;
      if (got === CRYPTO_CTRL_REQ_SIZE) {
        const r = this.#createSession(c, opcode);
        if (typeof r === "bigint") {
          id = r;
          status = VIRTIO_CRYPTO_OK;
        } else status = r;
      }
      this.#input.sessionId = id;
      this.#input.status = status;
      this.#input.padding = 0;
      this.#statusCounts[status]++;
      return c.write(0, this.#inputBytes);
    }
    // Destroy (virtio_crypto_destroy_session_input: one status byte), and any other opcode.
    if (w < 1) return this.#unanswerable();
    let status: number = VIRTIO_CRYPTO_NOTSUPP;
    const service = serviceOf(opcode);
    const destroy = opcode === VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION ||
      opcode === VIRTIO_CRYPTO_HASH_DESTROY_SESSION ||
      opcode === VIRTIO_CRYPTO_MAC_DESTROY_SESSION ||
      opcode === VIRTIO_CRYPTO_AEAD_DESTROY_SESSION;
    if (got < VirtioCryptoCtrlHeader.SIZE) status = VIRTIO_CRYPTO_ERR;
    else if (destroy) {
      if (got < CRYPTO_CTRL_REQ_SIZE) status = VIRTIO_CRYPTO_ERR;
      else {
        const flf = new VirtioCryptoDestroySessionFlf(
          this.#ctrlView,
          VirtioCryptoOpCtrlReq.OFFSETS.opFlf,
        );
        const id = flf.sessionId;
        const s = this.#sessions.get(id);
        if (s === undefined || s.service !== service) status = VIRTIO_CRYPTO_INVSESS;
        else {
          this.#sessions.delete(id);
          status = VIRTIO_CRYPTO_OK;
        }
      }
    }
    this.#status[0] = status;
    this.#statusCounts[status]++;
    return c.write(0, this.#status);
  }

  /** Creates the session a create request asks for: its id, or a VIRTIO_CRYPTO_* error status. */
  #createSession(c: DescriptorChain, opcode: number): bigint | number {
    const service = serviceOf(opcode);
    if (service === undefined || !this.#services.has(service)) return VIRTIO_CRYPTO_NOTSUPP;
    if (this.#sessions.size >= this.#maxSessions) return VIRTIO_CRYPTO_ERR;
    const at = VirtioCryptoOpCtrlReq.OFFSETS.opFlf;
    const algo = this.#ctrlHdr.algo;
    const vlfRoom = c.readableLength - CRYPTO_CTRL_REQ_SIZE;
    // Reads the key from op_vlf once, after its length was checked.
    const key = (len: number, max: number): Uint8Array | undefined => {
      if (len > max || len > vlfRoom) return undefined;
      const k = new Uint8Array(len);
      return c.read(CRYPTO_CTRL_REQ_SIZE, k) === len ? k : undefined;
    };
    const s = parseSession(service, this.#ctrlView, at, algo, this.#maxAuthKey, key);
    if (typeof s === "number") return s;
    const id = this.#nextId++;
    this.#sessions.set(id, s);
    return id;
  }

  #unanswerable(): number {
    this.#unanswerableCount++;
    return 0;
  }

  // ---- data queues (5.9.9.3 to 5.9.9.7) ---------------------------------------

  #serveData(c: DescriptorChain): number {
    const w = c.writableLength;
    if (w < 1) return this.#unanswerable();
    let out: Outcome;
    try {
      out = this.#dataRequest(c, w);
    } catch {
      // node:crypto refused something the checks let through: an error, never a crash.
      out = ERR;
    }
    if (out.result !== undefined) c.write(0, out.result);
    this.#status[0] = out.status;
    this.#statusCounts[out.status]++;
    // 5.9.9.3: the status is the last byte of the writable part.
    c.write(w - 1, this.#status);
    return w;
  }

  #dataRequest(c: DescriptorChain, w: number): Outcome {
    const r = c.readableLength;
    if (c.read(0, this.#dataBytes) !== CRYPTO_DATA_REQ_SIZE) return ERR;
    const h = this.#dataHdr;
    const opcode = h.opcode;
    const service = serviceOf(opcode);
    if (service === undefined) return NOTSUPP;
    const s = this.#sessions.get(h.sessionId);
    if (s === undefined || s.service !== service) return INVSESS;
    const at = VirtioCryptoOpDataReq.OFFSETS.opFlf;
    const room = r - CRYPTO_DATA_REQ_SIZE; // readable bytes after the fixed part
    const room_w = w - 1; // writable bytes before the status
    // Lengths are u32s: add them as numbers (no wrap-around) and bound them by max_size.
    const fits = (readable: number, writable: number) =>
      readable <= room && writable <= room_w && readable + writable <= this.#maxSize;
    const readVlf = (len: number): Uint8Array => {
      const buf = new Uint8Array(len);
      c.read(CRYPTO_DATA_REQ_SIZE, buf);
      return buf;
    };
    return dataOperation(s, opcode, this.#dataView, at, fits, readVlf);
  }
}
