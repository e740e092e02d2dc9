// virtio-crypto against a racing writer: a worker keeps rewriting a length field of a HASH
// request (src_data_len between 16 and 0x7ffffff0, or hash_result_len between 32 and
// 0xfffffff0) while the device serves that request again and again. The device copies the
// fixed part once and uses only the copy: every request is either VIRTIO_CRYPTO_OK with the
// SHA-256 of exactly the 16 source bytes, or VIRTIO_CRYPTO_ERR; never a reset, never a digest
// of anything else. Deno only (a Web Worker).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { DeviceContext } from "../../src/device.ts";
import {
  CRYPTO_CTRL_REQ_SIZE,
  CRYPTO_DATA_REQ_SIZE,
  CryptoDevice,
} from "../../src/devices/crypto/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../src/generated/common.ts";
import {
  VIRTIO_CRYPTO_ERR,
  VIRTIO_CRYPTO_HASH,
  VIRTIO_CRYPTO_HASH_CREATE_SESSION,
  VIRTIO_CRYPTO_HASH_SHA_256,
  VIRTIO_CRYPTO_OK,
  VirtioCryptoCreateSessionInput,
  VirtioCryptoCtrlHeader,
  VirtioCryptoHashCreateSessionFlf,
  VirtioCryptoHashDataFlf,
  VirtioCryptoOpCtrlReq,
  VirtioCryptoOpDataReq,
  VirtioCryptoOpHeader,
} from "../../src/generated/devices/crypto.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import {
  allocateQueue,
  createDeviceQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";
import { startRacer } from "./_race.ts";

const EACH_WAY = 5_000;
const SRC = 16;
const RESULT = 32;
const FLF = VirtioCryptoOpDataReq.OFFSETS.opFlf;

const RACED = [
  ["src_data_len", FLF + VirtioCryptoHashDataFlf.OFFSETS.srcDataLen, SRC, 0x7ffffff0],
  ["hash_result_len", FLF + VirtioCryptoHashDataFlf.OFFSETS.hashResultLen, RESULT, 0xfffffff0],
] as const;

function hashRig() {
  const sab = new SharedArrayBuffer(4 << 20);
  const memory = GuestMemory.fromBuffer(sab);
  const alloc = new DmaAllocator(0x1000, (4 << 20) - 0x1000);
  const features = 1n << BigInt(VIRTIO_F_VERSION_1);
  const addrs = [0, 1].map(() => allocateQueue(alloc, 64, false));
  const drv = addrs.map((a, i) =>
    createDriverQueue<number>(memory, a, queueOptionsFromFeatures(features, i))
  );
  const device = new CryptoDevice({ queueSize: 64 });
  const resets: unknown[] = [];
  const ctx: DeviceContext = {
    memory,
    features,
    queues: addrs.map((a, i) =>
      createDeviceQueue(memory, a, queueOptionsFromFeatures(features, i))
    ),
    notifyUsed: () => {},
    configChanged: () => {},
    needsReset: (e) => resets.push(e),
  };
  device.activate(ctx);
  const serve = (
    q: number,
    out: { addr: number; len: number },
    inb: { addr: number; len: number },
  ) => {
    drv[q].addSgs([out], [inb], 0);
    drv[q].kick();
    device.queueNotify(q);
    const used = drv[q].getBuf();
    assert.ok(used !== null, "the device used the request");
    return used.len;
  };
  // A SHA-256 session, created on the control queue (queue 1).
  const ctrl = alloc.alloc(CRYPTO_CTRL_REQ_SIZE, 8);
  const outcome = alloc.alloc(VirtioCryptoCreateSessionInput.SIZE, 8);
  new VirtioCryptoCtrlHeader(memory.view(ctrl, 16)).opcode = VIRTIO_CRYPTO_HASH_CREATE_SESSION;
  new VirtioCryptoCtrlHeader(memory.view(ctrl, 16)).algo = VIRTIO_CRYPTO_HASH_SHA_256;
  const p = new VirtioCryptoHashCreateSessionFlf(
    memory.view(ctrl + VirtioCryptoOpCtrlReq.OFFSETS.opFlf, VirtioCryptoHashCreateSessionFlf.SIZE),
  );
  p.algo = VIRTIO_CRYPTO_HASH_SHA_256;
  p.hashResultLen = RESULT;
  serve(1, { addr: ctrl, len: CRYPTO_CTRL_REQ_SIZE }, {
    addr: outcome,
    len: VirtioCryptoCreateSessionInput.SIZE,
  });
  const input = new VirtioCryptoCreateSessionInput(
    memory.view(outcome, VirtioCryptoCreateSessionInput.SIZE),
  );
  assert.equal(input.status, VIRTIO_CRYPTO_OK);
  // The data request: fixed part, 16 source bytes; 32 result bytes and the status.
  const req = alloc.alloc(CRYPTO_DATA_REQ_SIZE + SRC, 8);
  const h = new VirtioCryptoOpHeader(memory.view(req, VirtioCryptoOpHeader.SIZE));
  h.opcode = VIRTIO_CRYPTO_HASH;
  h.algo = VIRTIO_CRYPTO_HASH_SHA_256;
  h.sessionId = input.sessionId;
  const d = new VirtioCryptoHashDataFlf(memory.view(req + FLF, VirtioCryptoHashDataFlf.SIZE));
  d.srcDataLen = SRC;
  d.hashResultLen = RESULT;
  const src = new Uint8Array(SRC).map((_, i) => i * 9 + 1);
  memory.write(req + CRYPTO_DATA_REQ_SIZE, src);
  const res = alloc.alloc(RESULT + 1, 8);
  const send = (): number => {
    const len = serve(0, { addr: req, len: CRYPTO_DATA_REQ_SIZE + SRC }, {
      addr: res,
      len: RESULT + 1,
    });
    assert.equal(len, RESULT + 1);
    return memory.bytes(res + RESULT, 1)[0];
  };
  return {
    sab,
    device,
    resets,
    req,
    res,
    memory,
    send,
    digest: createHash("sha256").update(src).digest(),
  };
}

for (const [name, offset, good, bad] of RACED) {
  Deno.test(`crypto race: ${name} rewritten while served gives the digest of 16 bytes or ERR`, async () => {
    const rig = hashRig();
    let ok = 0, err = 0, sent = 0;
    const wrong: string[] = [];
    const racer = await startRacer(rig.sab, [{ addr: rig.req + offset, a: good, b: bad }]);
    try {
      while (rig.resets.length === 0 && sent < 1_000_000 && (ok < EACH_WAY || err < EACH_WAY)) {
        rig.memory.write(rig.res, new Uint8Array(RESULT + 1).fill(0xee));
        const status = rig.send();
        sent++;
        if (status === VIRTIO_CRYPTO_OK) {
          ok++;
          const got = rig.memory.bytes(rig.res, RESULT);
          if (!got.every((b, i) => b === rig.digest[i])) wrong.push(`digest ${sent}`);
        } else if (status === VIRTIO_CRYPTO_ERR) {
          err++;
          // Nothing but the status was written.
          if (!rig.memory.bytes(rig.res, RESULT).every((b) => b === 0xee)) {
            wrong.push(`wrote ${sent}`);
          }
        } else wrong.push(`status ${status}`);
      }
    } finally {
      await racer.stop();
    }
    assert.deepEqual(rig.resets, []);
    assert.deepEqual(wrong.slice(0, 5), []);
    assert.ok(ok >= EACH_WAY && err >= EACH_WAY, `${ok} OK, ${err} ERR of ${sent}`);
  });
}
