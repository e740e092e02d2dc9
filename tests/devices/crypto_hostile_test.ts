// virtio-crypto against a hostile driver: sessions that do not exist or belong to another
// service, parameters the algorithm cannot take, lengths that disagree with the buffers or
// are huge, requests cut short, split across segments as Linux splits them, and random
// mutations of valid requests. Every one gets a status (or, without room for one, length 0);
// the device never needs a reset and serves the next good request.

import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import {
  CRYPTO_CTRL_REQ_SIZE,
  CRYPTO_DATA_REQ_SIZE,
  CryptoDevice,
  type CryptoDeviceOptions,
  cryptoDriver,
  type CryptoEngine,
  type CryptoSession,
} from "../../src/devices/crypto/mod.ts";
import type { Completion } from "../../src/driver.ts";
import { ArgumentError, DeviceError } from "../../src/errors.ts";
import {
  VIRTIO_CRYPTO_AEAD_DECRYPT,
  VIRTIO_CRYPTO_AEAD_GCM,
  VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION,
  VIRTIO_CRYPTO_AKCIPHER_ENCRYPT,
  VIRTIO_CRYPTO_CIPHER_3DES_CBC,
  VIRTIO_CRYPTO_CIPHER_AES_CBC,
  VIRTIO_CRYPTO_CIPHER_AES_XTS,
  VIRTIO_CRYPTO_CIPHER_CREATE_SESSION,
  VIRTIO_CRYPTO_CIPHER_DECRYPT,
  VIRTIO_CRYPTO_CIPHER_ENCRYPT,
  VIRTIO_CRYPTO_ERR,
  VIRTIO_CRYPTO_HASH,
  VIRTIO_CRYPTO_HASH_SHA_256,
  VIRTIO_CRYPTO_INVSESS,
  VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
  VIRTIO_CRYPTO_NOTSUPP,
  VIRTIO_CRYPTO_OK,
  VIRTIO_CRYPTO_OP_ENCRYPT,
  VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING,
  VIRTIO_CRYPTO_SYM_OP_CIPHER,
  VirtioCryptoAeadDataFlf,
  VirtioCryptoCipherDataFlf,
  VirtioCryptoCipherSessionFlf,
  VirtioCryptoCreateSessionInput,
  VirtioCryptoCtrlHeader,
  VirtioCryptoHashDataFlf,
  VirtioCryptoOpCtrlReq,
  VirtioCryptoOpDataReq,
  VirtioCryptoOpHeader,
  VirtioCryptoSymCreateSessionFlf,
  VirtioCryptoSymDataFlf,
} from "../../src/generated/devices/crypto.ts";
import { coded } from "./_coded.ts";
import { type Kind, MAIN_KINDS } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

async function setup(kind: Kind, opts: CryptoDeviceOptions = {}) {
  const device = new CryptoDevice(opts);
  const r = rig(kind, device, 8 << 20);
  const driver = cryptoDriver();
  await r.bus.registerDriver(driver);
  await r.bus.addDevice(r.transport);
  return { r, device, engine: await driver.nextEngine() };
}

const AT = VirtioCryptoOpDataReq.OFFSETS.opFlf;
const CIPHER_AT = AT + VirtioCryptoSymDataFlf.OFFSETS.opTypeFlf;

/** A raw cipher data request: the 72-byte part as given, then `vlf`; status at the end of `inLen`. */
async function rawData(
  e: CryptoEngine,
  fill: (view: DataView) => void,
  vlf: number,
  inLen: number,
): Promise<number> {
  const buf = new Uint8Array(CRYPTO_DATA_REQ_SIZE + vlf);
  fill(new DataView(buf.buffer));
  const got = await e.dataqs[0].request(buf, inLen);
  assert.equal(got.length, inLen, "the device used the whole writable part");
  return got[inLen - 1];
}

/** Fills a CBC encrypt request for `s` with the given lengths. */
function cbcRequest(
  s: CryptoSession,
  iv: number,
  src: number,
  dst: number,
  opcode = VIRTIO_CRYPTO_CIPHER_ENCRYPT,
) {
  return (v: DataView) => {
    const h = new VirtioCryptoOpHeader(v, 0);
    h.opcode = opcode;
    h.algo = VIRTIO_CRYPTO_CIPHER_AES_CBC;
    h.sessionId = s.id;
    new VirtioCryptoSymDataFlf(v, AT).opType = VIRTIO_CRYPTO_SYM_OP_CIPHER;
    const p = new VirtioCryptoCipherDataFlf(v, CIPHER_AT);
    p.ivLen = iv;
    p.srcDataLen = src;
    p.dstDataLen = dst;
  };
}

/** A raw control request; returns the create-session outcome's status (or the 1-byte status). */
async function rawCtrl(
  e: CryptoEngine,
  fill: (view: DataView) => void,
  vlf: number,
  inLen: number,
): Promise<number> {
  const buf = new Uint8Array(CRYPTO_CTRL_REQ_SIZE + vlf);
  fill(new DataView(buf.buffer));
  const got = await e.controlq.request(buf, inLen);
  if (inLen >= VirtioCryptoCreateSessionInput.SIZE) {
    return new VirtioCryptoCreateSessionInput(new DataView(got.buffer)).status;
  }
  return got[0];
}

const KEY = new Uint8Array(16).map((_, i) => i);
const cbcEncrypt = (e: CryptoEngine) =>
  e.createSession({
    service: "cipher",
    algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
    key: KEY,
    op: "encrypt",
  });

/**
 * The device still works: a CBC encryption as node:crypto computes it, and no request was
 * unanswerable but the `unanswerable` the test made on purpose.
 */
async function stillServes(e: CryptoEngine, device: CryptoDevice, unanswerable = 0): Promise<void> {
  const s = await cbcEncrypt(e);
  const iv = new Uint8Array(16).fill(7), data = new Uint8Array(64).fill(9);
  const ref = createCipheriv("aes-128-cbc", KEY, iv).setAutoPadding(false);
  assert.deepEqual(
    await s.encrypt(iv, data),
    new Uint8Array([...ref.update(data), ...ref.final()]),
  );
  await s.destroy();
  assert.equal(e.dev.transport.getStatus() & 0x40, 0, "no DEVICE_NEEDS_RESET");
  assert.equal(device.unanswerable, unanswerable);
}

for (const kind of MAIN_KINDS) {
  Deno.test(`crypto ${kind}: session ids are unique; destroyed, unknown and other services' ids are INVSESS`, async () => {
    const { engine, device } = await setup(kind, { maxSessions: 3 });
    const a = await cbcEncrypt(engine);
    const b = await engine.createSession({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 });
    const c = await engine.createSession({
      service: "mac",
      algo: VIRTIO_CRYPTO_MAC_HMAC_SHA_256,
      key: KEY,
    });
    assert.equal(new Set([a.id, b.id, c.id]).size, 3);
    assert.equal(device.sessionCount, 3);
    // The limit: a fourth session is refused with VIRTIO_CRYPTO_ERR (NOSPC needs REVISION_1).
    await assert.rejects(cbcEncrypt(engine), coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_ERR"));
    await b.destroy();
    const d = await cbcEncrypt(engine);
    assert.ok(![a.id, b.id, c.id].includes(d.id), "ids are not reused");
    // A destroyed session, a hash session's id in a cipher request, an id never given.
    await assert.rejects(
      b.hash(new Uint8Array(1)),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_INVSESS"),
    );
    const iv = new Uint8Array(16);
    for (const id of [c.id, 0n, 0xffff_ffff_ffff_ffffn, b.id]) {
      const status = await rawData(
        engine,
        (v) => {
          cbcRequest(a, 16, 16, 16)(v);
          new VirtioCryptoOpHeader(v, 0).sessionId = id;
        },
        32,
        17,
      );
      assert.equal(status, VIRTIO_CRYPTO_INVSESS, `session ${id}`);
    }
    assert.equal((await a.encrypt(iv, new Uint8Array(16))).length, 16);
    // Destroying twice, or through another service's opcode, is INVSESS too.
    await assert.rejects(
      engine.destroySession("hash", b.id),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_INVSESS"),
    );
    await assert.rejects(
      engine.destroySession("cipher", c.id),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_INVSESS"),
    );
    assert.equal(device.sessionCount, 3);
    await c.destroy();
    await d.destroy();
    await a.destroy();
    assert.equal(device.sessionCount, 0);
  });

  Deno.test(`crypto ${kind}: session parameters the device cannot take are NOTSUPP or ERR`, async () => {
    const { engine, device } = await setup(kind, { maxAuthKeyLen: 64 });
    const create = (p: Parameters<CryptoEngine["createSession"]>[0]) => engine.createSession(p);
    const notsupp = coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_NOTSUPP");
    const err = coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_ERR");
    const cipher = (algo: number, key: Uint8Array) =>
      create({ service: "cipher", algo, key, op: "encrypt" });
    await assert.rejects(cipher(VIRTIO_CRYPTO_CIPHER_3DES_CBC, new Uint8Array(24)), notsupp);
    await assert.rejects(cipher(VIRTIO_CRYPTO_CIPHER_AES_CBC, new Uint8Array(20)), err);
    await assert.rejects(cipher(VIRTIO_CRYPTO_CIPHER_AES_XTS, new Uint8Array(48)), err);
    await assert.rejects(cipher(VIRTIO_CRYPTO_CIPHER_AES_CBC, new Uint8Array(0)), err);
    await assert.rejects(create({ service: "hash", algo: 99 }), notsupp);
    await assert.rejects(
      create({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256, resultLen: 33 }),
      err,
    );
    await assert.rejects(
      create({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256, resultLen: 0 }),
      err,
    );
    await assert.rejects(
      create({ service: "mac", algo: VIRTIO_CRYPTO_MAC_HMAC_SHA_256, key: new Uint8Array(65) }),
      err,
      "auth_key_len past max_auth_key_len",
    );
    const gcm = (key: number, tagLen: number) =>
      create({
        service: "aead",
        algo: VIRTIO_CRYPTO_AEAD_GCM,
        key: new Uint8Array(key),
        op: "encrypt",
        tagLen,
      });
    await assert.rejects(gcm(16, 3), err);
    await assert.rejects(gcm(24, 16), err, "no AES-192-GCM");
    const createOutcome = VirtioCryptoCreateSessionInput.SIZE;
    const sym = (
      opType: number,
      keyLen: number,
      vlf: number,
      algo = VIRTIO_CRYPTO_CIPHER_AES_CBC,
    ) =>
      rawCtrl(
        engine,
        (v) => {
          const h = new VirtioCryptoCtrlHeader(v, 0);
          h.opcode = VIRTIO_CRYPTO_CIPHER_CREATE_SESSION;
          h.algo = algo;
          const at = VirtioCryptoOpCtrlReq.OFFSETS.opFlf;
          new VirtioCryptoSymCreateSessionFlf(v, at).opType = opType;
          const p = new VirtioCryptoCipherSessionFlf(
            v,
            at + VirtioCryptoSymCreateSessionFlf.OFFSETS.opFlf,
          );
          p.algo = VIRTIO_CRYPTO_CIPHER_AES_CBC;
          p.keyLen = keyLen;
          p.op = VIRTIO_CRYPTO_OP_ENCRYPT;
        },
        vlf,
        createOutcome,
      );
    assert.equal(
      await sym(VIRTIO_CRYPTO_SYM_OP_CIPHER, 16, 16),
      VIRTIO_CRYPTO_OK,
      "the well-formed one",
    );
    assert.equal(
      await sym(VIRTIO_CRYPTO_SYM_OP_CIPHER, 16, 8),
      VIRTIO_CRYPTO_ERR,
      "key_len past the buffer",
    );
    assert.equal(
      await sym(VIRTIO_CRYPTO_SYM_OP_CIPHER, 0xffff_fff0, 16),
      VIRTIO_CRYPTO_ERR,
      "huge key_len",
    );
    assert.equal(
      await sym(VIRTIO_CRYPTO_SYM_OP_CIPHER, 16, 16, 4),
      VIRTIO_CRYPTO_ERR,
      "header.algo disagrees",
    );
    // A chaining request whose op_flf is a cipher's: cipher_hdr.algo reads the op (1, ARC4).
    assert.equal(await sym(VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING, 16, 16), VIRTIO_CRYPTO_NOTSUPP);
    assert.equal(await sym(77, 16, 16), VIRTIO_CRYPTO_NOTSUPP);
    const opcodeOnly = (opcode: number, inLen: number, vlf = 0) =>
      rawCtrl(engine, (v) => (new VirtioCryptoCtrlHeader(v, 0).opcode = opcode), vlf, inLen);
    assert.equal(await opcodeOnly(VIRTIO_CRYPTO_AKCIPHER_CREATE_SESSION, 1), VIRTIO_CRYPTO_NOTSUPP);
    assert.equal(await opcodeOnly(0xdead, 1), VIRTIO_CRYPTO_NOTSUPP);
    // A create request shorter than its 72-byte fixed part.
    const shortReq = new Uint8Array(20);
    new VirtioCryptoCtrlHeader(new DataView(shortReq.buffer)).opcode =
      VIRTIO_CRYPTO_CIPHER_CREATE_SESSION;
    const short = await engine.controlq.request(shortReq, createOutcome);
    assert.equal(short.length, createOutcome);
    assert.equal(
      new VirtioCryptoCreateSessionInput(new DataView(short.buffer)).status,
      VIRTIO_CRYPTO_ERR,
    );
    assert.equal(device.sessionCount, 1, "only the well-formed create made a session");
    await stillServes(engine, device);
  });

  Deno.test(`crypto ${kind}: data lengths that disagree with the buffers, the algorithm or max_size are ERR`, async () => {
    const { engine, device } = await setup(kind, { maxSize: 4096 });
    const s = await cbcEncrypt(engine);
    const status = (iv: number, src: number, dst: number, vlf: number, inLen: number) =>
      rawData(engine, cbcRequest(s, iv, src, dst), vlf, inLen);
    assert.equal(await status(16, 32, 32, 48, 33), VIRTIO_CRYPTO_OK, "the well-formed one");
    assert.equal(await status(8, 32, 32, 40, 33), VIRTIO_CRYPTO_ERR, "an 8-byte IV for AES-CBC");
    assert.equal(await status(0, 32, 32, 32, 33), VIRTIO_CRYPTO_ERR, "no IV");
    assert.equal(await status(16, 30, 30, 46, 31), VIRTIO_CRYPTO_ERR, "CBC over part of a block");
    assert.equal(
      await status(16, 32, 16, 48, 33),
      VIRTIO_CRYPTO_ERR,
      "dst_data_len short of the result",
    );
    assert.equal(
      await status(16, 64, 64, 48, 65),
      VIRTIO_CRYPTO_ERR,
      "src_data_len past the readable part",
    );
    assert.equal(
      await status(16, 32, 32, 48, 20),
      VIRTIO_CRYPTO_ERR,
      "dst_data_len past the writable part",
    );
    assert.equal(
      await status(16, 0xffff_fff0, 0xffff_fff0, 48, 33),
      VIRTIO_CRYPTO_ERR,
      "huge lengths",
    );
    assert.equal(await status(0xffff_ffff, 16, 16, 48, 33), VIRTIO_CRYPTO_ERR, "huge iv_len");
    assert.equal(
      await status(16, 2048, 2048, 16 + 2048, 2049),
      VIRTIO_CRYPTO_ERR,
      "past max_size 4096",
    );
    assert.equal(
      await status(16, 1024, 1024, 16 + 1024, 1025),
      VIRTIO_CRYPTO_OK,
      "within max_size",
    );
    assert.equal(
      await rawData(engine, cbcRequest(s, 16, 32, 32, VIRTIO_CRYPTO_CIPHER_DECRYPT), 48, 33),
      VIRTIO_CRYPTO_ERR,
      "decrypt on an encrypt session",
    );
    for (const opcode of [VIRTIO_CRYPTO_AKCIPHER_ENCRYPT, 0x0777, 0xffff_ffff]) {
      assert.equal(
        await rawData(engine, cbcRequest(s, 16, 32, 32, opcode), 48, 33),
        VIRTIO_CRYPTO_NOTSUPP,
        `opcode ${opcode}`,
      );
    }
    // Hash: hash_result_len other than the session's.
    const h = await engine.createSession({ service: "hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 });
    const hashStatus = (resultLen: number, inLen: number) =>
      rawData(
        engine,
        (v) => {
          const hd = new VirtioCryptoOpHeader(v, 0);
          hd.opcode = VIRTIO_CRYPTO_HASH;
          hd.sessionId = h.id;
          const p = new VirtioCryptoHashDataFlf(v, AT);
          p.srcDataLen = 3;
          p.hashResultLen = resultLen;
        },
        3,
        inLen,
      );
    assert.equal(await hashStatus(32, 33), VIRTIO_CRYPTO_OK);
    assert.equal(await hashStatus(16, 17), VIRTIO_CRYPTO_ERR);
    assert.equal(await hashStatus(64, 65), VIRTIO_CRYPTO_ERR);
    // AEAD: a 16-byte IV (J0), a sealed input shorter than its tag.
    const g = await engine.createSession({
      service: "aead",
      algo: VIRTIO_CRYPTO_AEAD_GCM,
      key: new Uint8Array(16),
      op: "decrypt",
    });
    const aeadStatus = (ivLen: number, src: number, dst: number) =>
      rawData(
        engine,
        (v) => {
          const hd = new VirtioCryptoOpHeader(v, 0);
          hd.opcode = VIRTIO_CRYPTO_AEAD_DECRYPT;
          hd.sessionId = g.id;
          const p = new VirtioCryptoAeadDataFlf(v, AT);
          p.ivLen = ivLen;
          p.srcDataLen = src;
          p.dstDataLen = dst;
          p.tagLen = 16;
        },
        ivLen + src,
        dst + 1,
      );
    assert.equal(await aeadStatus(16, 32, 16), VIRTIO_CRYPTO_ERR, "16-byte GCM IV");
    assert.equal(await aeadStatus(12, 8, 0), VIRTIO_CRYPTO_ERR, "sealed data shorter than the tag");
    // A data request shorter than its 72-byte fixed part, and one without a readable part.
    assert.equal((await engine.dataqs[0].request(new Uint8Array(40), 1))[0], VIRTIO_CRYPTO_ERR);
    assert.equal((await engine.dataqs[0].request(new Uint8Array(0), 1))[0], VIRTIO_CRYPTO_ERR);
    await stillServes(engine, device);
  });

  Deno.test(`crypto ${kind}: a request with no writable byte is used with length 0`, async () => {
    const { engine, device } = await setup(kind);
    const s = await cbcEncrypt(engine);
    const buf = new Uint8Array(CRYPTO_DATA_REQ_SIZE + 32);
    cbcRequest(s, 16, 16, 16)(new DataView(buf.buffer));
    assert.equal((await engine.dataqs[0].request(buf, 0)).length, 0);
    assert.equal(
      (await engine.controlq.request(new Uint8Array(CRYPTO_CTRL_REQ_SIZE), 0)).length,
      0,
    );
    assert.equal(device.unanswerable, 2);
    await stillServes(engine, device, 2);
  });

  Deno.test(`crypto ${kind}: a request split over segments as Linux sends it, dst longer than dst_data_len`, async () => {
    const { engine, device } = await setup(kind);
    const s = await cbcEncrypt(engine);
    const { memory, dma } = engine.dev.dmaContext;
    const iv = new Uint8Array(16).fill(0x5a), data = new Uint8Array(96).map((_, i) => i * 3);
    const hdr = new Uint8Array(CRYPTO_DATA_REQ_SIZE);
    cbcRequest(s, 16, data.length, data.length)(new DataView(hdr.buffer));
    const put = (b: Uint8Array) => {
      const addr = dma.alloc(Math.max(b.length, 1), 8);
      memory.write(addr, b);
      return { addr, len: b.length };
    };
    // Out: header, IV, the source in three pieces; in: the destination in two pieces with 5
    // spare bytes (Linux's dst scatterlist may be longer), then the status byte.
    const dst1 = dma.alloc(40, 8), dst2 = dma.alloc(61, 8), st = dma.alloc(1, 8);
    memory.write(st, Uint8Array.of(0xee));
    const out = [
      put(hdr),
      put(iv),
      put(data.subarray(0, 10)),
      put(data.subarray(10, 50)),
      put(data.subarray(50)),
    ];
    const settle: { resolve?: (len: number) => void; reject?: (e: unknown) => void } = {};
    const done = new Promise<number>((resolve, reject) =>
      Object.assign(settle, { resolve, reject })
    );
    const completion: Completion = {
      complete: (len) => settle.resolve?.(len),
      fail: (e) => settle.reject?.(e),
    };
    engine.dataqs[0].submit(out, [{ addr: dst1, len: 40 }, { addr: dst2, len: 61 }, {
      addr: st,
      len: 1,
    }], completion);
    engine.dataqs[0].kick();
    assert.equal(await done, 102);
    const ref = createCipheriv("aes-128-cbc", KEY, iv).setAutoPadding(false);
    const want = new Uint8Array([...ref.update(data), ...ref.final()]);
    const got = new Uint8Array([...memory.bytes(dst1, 40), ...memory.bytes(dst2, 56)]);
    assert.deepEqual(got, want);
    assert.equal(memory.bytes(st, 1)[0], VIRTIO_CRYPTO_OK, "the status is the last writable byte");
    assert.equal(device.statusCounts[VIRTIO_CRYPTO_OK] >= 2, true);
  });

  Deno.test(`crypto ${kind}: random mutations of valid requests always get a status, never a reset`, async () => {
    const { engine, device } = await setup(kind, { maxSize: 1 << 16 });
    const s = await cbcEncrypt(engine);
    const fields = [0, 4, 8, 12, 16, 20, AT, AT + 4, AT + 8, AT + 12, AT + 40, AT + 44];
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...fields), fc.oneof(fc.nat(64), fc.nat())), {
          maxLength: 4,
        }),
        fc.nat(80),
        fc.nat(80),
        async (edits, vlf, inLen) => {
          const buf = new Uint8Array(CRYPTO_DATA_REQ_SIZE + vlf);
          const v = new DataView(buf.buffer);
          cbcRequest(s, 16, 32, 32)(v);
          for (const [at, value] of edits) v.setUint32(at, value, true);
          const got = await engine.dataqs[0].request(buf, inLen);
          if (inLen === 0) return;
          assert.equal(got.length, inLen);
          const status = got[inLen - 1];
          statuses.add(status);
          assert.ok(
            [VIRTIO_CRYPTO_OK, VIRTIO_CRYPTO_ERR, VIRTIO_CRYPTO_NOTSUPP, VIRTIO_CRYPTO_INVSESS]
              .includes(status),
          );
        },
      ),
      { numRuns: 300, seed: 0x5eed },
    );
    // The property reached both the accepting and the refusing paths.
    assert.ok(
      statuses.has(VIRTIO_CRYPTO_OK) && statuses.has(VIRTIO_CRYPTO_ERR),
      [...statuses].join(),
    );
    await stillServes(engine, device, device.unanswerable);
  });

  Deno.test(`crypto ${kind}: the driver refuses calls that do not fit the session`, async () => {
    const { engine } = await setup(kind);
    const s = await cbcEncrypt(engine);
    assert.throws(
      () => s.decrypt(new Uint8Array(16), new Uint8Array(16)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CRYPTO_SESSION"),
    );
    assert.throws(
      () => s.hash(new Uint8Array(1)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CRYPTO_SESSION"),
    );
  });

  Deno.test(`crypto ${kind}: chaining requests that disagree with their session or their source are ERR`, async () => {
    const { engine, device } = await setup(kind);
    const chained = await engine.createSession({
      service: "cipher",
      algo: VIRTIO_CRYPTO_CIPHER_AES_CBC,
      key: KEY,
      op: "encrypt",
      chain: { order: "cipher-then-hash", algo: VIRTIO_CRYPTO_HASH_SHA_256 },
    });
    const plain = await cbcEncrypt(engine);
    const iv = new Uint8Array(16), data = new Uint8Array(32);
    const err = coded(DeviceError, "ERR_VIRTIO_DEVICE_CRYPTO_ERR");
    // Regions past the source, a cipher region of part of a block.
    await assert.rejects(chained.chain({ iv, data, cipher: [16, 32] }), err);
    await assert.rejects(chained.chain({ iv, data, hash: [1, 32] }), err);
    await assert.rejects(chained.chain({ iv, data, hash: [0xffff_fff0, 0x20] }), err);
    await assert.rejects(chained.chain({ iv, data, cipher: [0, 8] }), err);
    assert.equal(
      (await chained.chain({ iv, data, cipher: [16, 16], hash: [0, 0] })).digest.length,
      32,
    );
    // A plain CIPHER request on the chaining session, and the other way round.
    assert.equal(await rawData(engine, cbcRequest(chained, 16, 16, 16), 32, 17), VIRTIO_CRYPTO_ERR);
    const asChain = (v: DataView) => {
      cbcRequest(plain, 16, 16, 16)(v);
      new VirtioCryptoSymDataFlf(v, AT).opType = VIRTIO_CRYPTO_SYM_OP_ALGORITHM_CHAINING;
    };
    assert.equal(await rawData(engine, asChain, 32, 17), VIRTIO_CRYPTO_ERR);
    await stillServes(engine, device);
  });
}
