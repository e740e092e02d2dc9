// The vhost-user back-end against a scripted front-end in the same process:
// negotiation, a virtio-blk request end to end through shared memory and
// eventfds, and every kind of bad input (each must end the session with a
// logged error, never the process, and the next connection must work).
// Needs Linux and --allow-ffi; no QEMU.

import assert from "node:assert/strict";
import {
  closeFd,
  eventfd,
  mapShared,
  memfdCreate,
  pollAsync,
  POLLIN,
  readEventfd,
  socketPair,
  unmap,
  writeEventfd,
} from "../../src/transport/vhost_user/_libc.ts";
import {
  configPayload,
  decodeInflight,
  decodeU64,
  decodeVringState,
  encodeMessage,
  headerFlags,
  inflightPayload,
  type MemoryRegionDesc,
  memoryTablePayload,
  u64Payload,
  type VhostUserMessage,
  vringAddrPayload,
  vringFdPayload,
  vringStatePayload,
} from "../../src/transport/vhost_user/_protocol.ts";
import {
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VhostUserRequest as R,
} from "../../src/generated/vhost_user.ts";
import { BlkDevice, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { VhostUserBackend } from "../../src/transport/vhost_user/backend.ts";
import {
  allocateQueue,
  createDriverQueue,
  queueOptionsFromFeatures,
} from "../../src/virtqueue/mod.ts";

import { VhostUserErrorCode } from "../../src/transport/vhost_user/errors.ts";
import {
  canRun,
  expectClosed,
  Front,
  lastError,
  MEM_SIZE,
  session,
  setUpRing,
  startSplitQueue,
  USER_BASE,
  waitCall,
  withBackend,
  withGuest,
} from "./_vhost_user_front.ts";

if (!canRun) console.log("vhost_user_backend_test: skipped, vhost-user needs Linux");

Deno.test({
  name: "vhost-user backend: negotiation, config, queue count, reply-ack",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      await session(h, async (f) => {
        const feats = decodeU64(await f.call(R.VHOST_USER_GET_FEATURES));
        assert.equal(feats & (1n << 30n), 1n << 30n, "VHOST_USER_F_PROTOCOL_FEATURES offered");
        assert.equal(feats & ~(1n << 30n), h.device.features);
        const proto = decodeU64(await f.call(R.VHOST_USER_GET_PROTOCOL_FEATURES));
        for (
          const b of [
            VHOST_USER_PROTOCOL_F_MQ,
            VHOST_USER_PROTOCOL_F_REPLY_ACK,
            VHOST_USER_PROTOCOL_F_CONFIG,
          ]
        ) {
          assert.notEqual(proto & (1n << BigInt(b)), 0n);
        }
        f.send(R.VHOST_USER_SET_PROTOCOL_FEATURES, u64Payload(proto));
        assert.equal(decodeU64(await f.call(R.VHOST_USER_GET_QUEUE_NUM)), 1n);
        // need_reply on a request without its own reply: an ack of 0.
        f.send(R.VHOST_USER_SET_OWNER, undefined, [], headerFlags(VHOST_USER_NEED_REPLY_MASK));
        const ack = await f.recv();
        assert.notEqual(ack, "eof");
        assert.equal((ack as VhostUserMessage).request, R.VHOST_USER_SET_OWNER);
        assert.equal(decodeU64(ack as VhostUserMessage), 0n);
        // GET_CONFIG: capacity (le64 at 0) is 64 sectors; the reply keeps the requested size.
        const cfg = await f.call(R.VHOST_USER_GET_CONFIG, configPayload(0, 0, new Uint8Array(60)));
        const v = new DataView(cfg.payload.buffer, cfg.payload.byteOffset);
        assert.equal(v.getUint32(4, true), 60);
        assert.equal(v.getBigUint64(12, true), 64n);
      });
      assert.equal(h.backend.sessions[0].end, "eof");
    }),
});

Deno.test({
  name: "vhost-user backend: a virtio-blk write and read through shared memory and eventfds",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      await withGuest(async (g) => {
        const { mem, alloc, kick, call } = g;
        await session(h, async (f) => {
          const driver = startSplitQueue<string>(h, f, g);

          // An OUT request: header (type 1, sector 3), 512 bytes of data, status.
          const hdr = alloc.alloc(16, 8);
          const data = alloc.alloc(512, 8);
          const status = alloc.alloc(1, 1);
          mem.writeUint32(hdr, 1);
          mem.writeBigUint64(hdr + 8, 3n);
          mem.bytes(data, 512).fill(0xab);
          mem.writeUint8(status, 0xff);
          driver.addSgs([{ addr: hdr, len: 16 }, { addr: data, len: 512 }], [{
            addr: status,
            len: 1,
          }], "write");
          if (driver.kick()) writeEventfd(kick);
          await waitCall(call);
          assert.deepEqual(driver.getBuf(), { token: "write", len: 1 });
          assert.equal(mem.readUint8(status), 0, "VIRTIO_BLK_S_OK");
          assert.ok(h.storage.bytes.subarray(3 * 512, 4 * 512).every((b) => b === 0xab));

          // An IN request past the capacity fails with IOERR; one inside reads the data back.
          mem.writeUint32(hdr, 0);
          mem.writeBigUint64(hdr + 8, 64n);
          driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: data, len: 512 }, {
            addr: status,
            len: 1,
          }], "oob");
          if (driver.kick()) writeEventfd(kick);
          await waitCall(call);
          assert.equal(driver.getBuf()?.token, "oob");
          assert.equal(mem.readUint8(status), 1, "VIRTIO_BLK_S_IOERR");
          mem.bytes(data, 512).fill(0);
          mem.writeBigUint64(hdr + 8, 3n);
          driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: data, len: 512 }, {
            addr: status,
            len: 1,
          }], "read");
          if (driver.kick()) writeEventfd(kick);
          await waitCall(call);
          assert.deepEqual(driver.getBuf(), { token: "read", len: 513 });
          assert.equal(mem.readUint8(status), 0);
          assert.ok(mem.bytes(data, 512).every((b) => b === 0xab));

          // Stopping the ring reports the next available index.
          const base = decodeVringState(
            await f.call(R.VHOST_USER_GET_VRING_BASE, vringStatePayload(0, 0)),
          );
          assert.deepEqual(base, { index: 0, num: 3 });
        });
        assert.equal(h.backend.sessions[0].end, "eof");
        assert.deepEqual(
          {
            reads: h.device.stats.reads,
            writes: h.device.stats.writes,
            errors: h.device.stats.errors,
          },
          { reads: 1, writes: 1, errors: 1 },
        );
      });
    }),
});

for (const packed of [false, true]) {
  Deno.test({
    name: `vhost-user backend: a new session resumes a ${
      packed ? "packed" : "split"
    } ring at SET_VRING_BASE and serves what was left`,
    ignore: !canRun,
    fn: () =>
      withBackend(async (h) => {
        await withGuest(async ({ memfd, mem, alloc, kick, call, region }) => {
          const features = packed ? h.device.features : h.device.features & ~(1n << 34n);
          const opts = queueOptionsFromFeatures(features, 0);
          const addrs = allocateQueue(alloc, 16, packed);
          const driver = createDriverQueue<number>(mem, addrs, opts);
          // Writes sector `n` full of byte n; `kickIt` false leaves it unannounced.
          const write = (n: number, kickIt: boolean) => {
            const hdr = alloc.alloc(16, 8);
            const data = alloc.alloc(512, 8);
            const status = alloc.alloc(1, 1);
            mem.writeUint32(hdr, 1);
            mem.writeBigUint64(hdr + 8, BigInt(n));
            mem.bytes(data, 512).fill(n);
            mem.writeUint8(status, 0xff);
            driver.addSgs(
              [{ addr: hdr, len: 16 }, { addr: data, len: 512 }],
              [{ addr: status, len: 1 }],
              n,
            );
            if (driver.kick() && kickIt) writeEventfd(kick);
          };
          const open = (f: Front, base: number) => {
            f.send(R.VHOST_USER_SET_FEATURES, u64Payload(features));
            f.send(R.VHOST_USER_SET_MEM_TABLE, memoryTablePayload([region]), [memfd]);
            setUpRing(f, addrs, base, kick, call);
          };
          const done: number[] = [];
          const collect = () => {
            for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) done.push(u.token);
          };

          // Session 1 serves three writes; then the connection drops with a
          // fourth request made available and not yet kicked.
          await session(h, async (f) => {
            open(f, packed ? 0x8000 : 0);
            for (let n = 1; n <= 3; n++) {
              write(n, true);
              await waitCall(call);
              collect();
            }
            write(4, false);
          });
          assert.deepEqual(done, [1, 2, 3]);

          // Session 2, as QEMU resumes after a lost back-end: base = the used
          // position (split: the used ring's idx; packed: 3 chains of 3
          // descriptors, wrap counter 1). The ring start serves request 4.
          await session(h, async (f) => {
            open(f, packed ? 9 | 0x8000 : 3);
            await waitCall(call);
            collect();
            assert.deepEqual(done, [1, 2, 3, 4]);
            write(5, true);
            await waitCall(call);
            collect();
            const base = decodeVringState(
              await f.call(R.VHOST_USER_GET_VRING_BASE, vringStatePayload(0, 0)),
            ).num;
            assert.equal(base, packed ? (15 | 0x8000 | (15 << 16) | (1 << 31)) >>> 0 : 5);
          });
          assert.deepEqual(done, [1, 2, 3, 4, 5]);
          for (let n = 1; n <= 5; n++) {
            assert.ok(
              h.storage.bytes.subarray(n * 512, (n + 1) * 512).every((b) => b === n),
              `sector ${n}`,
            );
          }
          assert.equal(h.backend.sessions.length, 2);
          assert.ok(h.backend.sessions.every((s) => s.error === undefined), h.logs.join("\n"));
        });
      }),
  });
}

/** Memory storage whose reads complete only when the test says so (asynchronous storage). */
class GatedStorage extends MemoryStorage {
  readonly isAsync = true;
  readonly waiting: (() => void)[] = [];
  override read(offset: number, dst: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(() => {
        super.read(offset, dst);
        resolve();
      });
    });
  }
}

Deno.test({
  name: "vhost-user backend: GET_VRING_BASE waits for requests the device is completing",
  ignore: !canRun,
  fn: async () => {
    const storage = new GatedStorage(new Uint8Array(64 * 512).fill(0x5a));
    await withBackend(async (h) => {
      await withGuest(async (g) => {
        const { mem, alloc, kick } = g;
        await session(h, async (f) => {
          const driver = startSplitQueue<string>(h, f, g);
          const hdr = alloc.alloc(16, 8);
          const data = alloc.alloc(512, 8);
          const status = alloc.alloc(1, 1);
          mem.writeUint32(hdr, 0); // IN, sector 2
          mem.writeBigUint64(hdr + 8, 2n);
          mem.writeUint8(status, 0xff);
          driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: data, len: 512 }, {
            addr: status,
            len: 1,
          }], "read");
          if (driver.kick()) writeEventfd(kick);
          for (let i = 0; i < 200 && storage.waiting.length === 0; i++) {
            await new Promise((r) => setTimeout(r, 5));
          }
          assert.equal(storage.waiting.length, 1, "the read reached the storage");
          assert.equal(h.device.inProgress(0), 1);

          // The stop waits: no reply while the read is outstanding.
          f.send(R.VHOST_USER_GET_VRING_BASE, vringStatePayload(0, 0));
          const early = [{ fd: f.fd, events: POLLIN, revents: 0 }];
          assert.equal(
            await pollAsync(early, 200),
            0,
            "GET_VRING_BASE answered before the read completed",
          );
          storage.waiting.shift()?.();
          const reply = await f.recv();
          assert.notEqual(reply, "eof");
          assert.deepEqual(decodeVringState(reply as VhostUserMessage), { index: 0, num: 1 });
          // The read completed into guest memory before the ring stopped.
          assert.deepEqual(driver.getBuf(), { token: "read", len: 513 });
          assert.equal(mem.readUint8(status), 0);
          assert.ok(mem.bytes(data, 512).every((b) => b === 0x5a));
        });
        assert.equal(h.backend.sessions[0].end, "eof");
      });
    }, storage);
  },
});

Deno.test({
  name: "vhost-user backend: inflight tracking resubmits requests a dead back-end left, " +
    "also when it had completed later ones first",
  ignore: !canRun,
  fn: async () => {
    const disk = new Uint8Array(64 * 512);
    for (let i = 0; i < 64; i++) disk.fill(i, i * 512, (i + 1) * 512);
    const storage = new GatedStorage(disk);
    await withBackend(async (h) => {
      await withGuest(async ({ memfd, mem, alloc, kick, call, region }) => {
        let inflightFd = -1;
        try {
          const features = h.device.features & ~(1n << 34n); // split
          const opts = queueOptionsFromFeatures(features, 0);
          const addrs = allocateQueue(alloc, 16, false);
          const driver = createDriverQueue<number>(mem, addrs, opts);
          const data = new Map<number, { buf: number; status: number }>();
          const read = (sector: number) => {
            const hdr = alloc.alloc(16, 8);
            const buf = alloc.alloc(512, 8);
            const status = alloc.alloc(1, 1);
            mem.writeUint32(hdr, 0);
            mem.writeBigUint64(hdr + 8, BigInt(sector));
            mem.writeUint8(status, 0xff);
            data.set(sector, { buf, status });
            driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: buf, len: 512 }, {
              addr: status,
              len: 1,
            }], sector);
          };
          const waitReads = async (n: number) => {
            for (let i = 0; i < 400 && storage.waiting.length < n; i++) {
              await new Promise((r) => setTimeout(r, 5));
            }
            assert.equal(storage.waiting.length, n, "reads that reached the storage");
          };
          const done: number[] = [];
          let desc = { mmapSize: 0, mmapOffset: 0, numQueues: 1, queueSize: 16 };
          const open = async (f: Front, base: number, first: boolean) => {
            const proto = decodeU64(await f.call(R.VHOST_USER_GET_PROTOCOL_FEATURES));
            assert.notEqual(proto & (1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)), 0n);
            f.send(R.VHOST_USER_SET_PROTOCOL_FEATURES, u64Payload(proto));
            if (first) {
              // As QEMU: ask for an area once, keep it, hand it back on every start.
              const m = await f.call(R.VHOST_USER_GET_INFLIGHT_FD, inflightPayload(desc));
              assert.equal(m.fds.length, 1);
              inflightFd = m.fds[0];
              desc = { ...decodeInflight(m) };
              assert.ok(desc.mmapSize >= 16 + 16 * 16, `area of ${desc.mmapSize} bytes`);
              assert.equal(m.payload.length, 24);
            }
            f.send(R.VHOST_USER_SET_INFLIGHT_FD, inflightPayload(desc), [inflightFd]);
            f.send(R.VHOST_USER_SET_FEATURES, u64Payload(features));
            f.send(R.VHOST_USER_SET_MEM_TABLE, memoryTablePayload([region]), [memfd]);
            setUpRing(f, addrs, base, kick, call);
          };

          // Session 1 takes reads of sectors 1, 2, 3; the storage completes 2
          // only, and the connection drops with 1 and 3 still in flight.
          await session(h, async (f) => {
            await open(f, 0, true);
            read(1);
            read(2);
            read(3);
            if (driver.kick()) writeEventfd(kick);
            await waitReads(3);
            storage.waiting[1]();
            await waitCall(call);
            for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) done.push(u.token);
            assert.deepEqual(done, [2]);
          });

          // Session 2 starts where QEMU resumes after a crash: base = used idx
          // (1). Without the area it would read available entry 1 (sector 2)
          // again and never 1; with it, it resubmits 1 then 3.
          await session(h, async (f) => {
            await open(f, 1, false);
            await waitReads(5);
            storage.waiting[3]();
            storage.waiting[4]();
            for (let i = 0; i < 2 && done.length < 3; i++) {
              await waitCall(call);
              for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) done.push(u.token);
            }
            assert.deepEqual(done, [2, 1, 3]);
            for (const sector of [1, 2, 3]) {
              const d = data.get(sector)!;
              assert.equal(mem.readUint8(d.status), 0, `status of sector ${sector}`);
              assert.ok(
                mem.bytes(d.buf, 512).every((b) => b === sector),
                `data of sector ${sector}`,
              );
            }
            // A new request after the resubmitted ones is served as usual.
            read(4);
            if (driver.kick()) writeEventfd(kick);
            await waitReads(6);
            storage.waiting[5]();
            await waitCall(call);
            assert.equal(driver.getBuf()?.token, 4);
          });
          // The first session's reads complete late, into a session that is gone: ignored.
          storage.waiting[0]();
          storage.waiting[2]();
          await new Promise((r) => setTimeout(r, 20));
          assert.equal(driver.getBuf(), null);
          assert.ok(h.logs.some((l) => /resubmitting 2 request/.test(l)), h.logs.join("\n"));
        } finally {
          if (inflightFd >= 0) closeFd(inflightFd);
        }
      });
    }, storage);
  },
});

Deno.test({
  name:
    "vhost-user backend: an inflight area in another layout leaves the ring untracked, still served",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      await withGuest(async (g) => {
        const { mem, alloc, kick, call } = g;
        const desc = { mmapSize: 4096, mmapOffset: 0, numQueues: 1, queueSize: 16 };
        const area = memfdCreate("inflight", desc.mmapSize);
        const areaMap = mapShared(area, desc.mmapSize);
        const view = new DataView(areaMap.buffer);
        view.setUint16(8, 7, true); // version 7: not a layout we know
        try {
          await session(h, async (f) => {
            f.send(
              R.VHOST_USER_SET_PROTOCOL_FEATURES,
              u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)),
            );
            f.send(R.VHOST_USER_SET_INFLIGHT_FD, inflightPayload(desc), [area]);
            const driver = startSplitQueue<string>(h, f, g);
            const hdr = alloc.alloc(16, 8);
            const status = alloc.alloc(1, 1);
            mem.writeUint32(hdr, 8); // GET_ID
            const id = alloc.alloc(20, 8);
            driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: id, len: 20 }, {
              addr: status,
              len: 1,
            }], "id");
            if (driver.kick()) writeEventfd(kick);
            await waitCall(call);
            assert.equal(driver.getBuf()?.token, "id");
            assert.equal(mem.readUint8(status), 0);
          });
          assert.ok(
            h.logs.some((l) => /holds another layout; not tracked/.test(l)),
            h.logs.join("\n"),
          );
          assert.equal(view.getUint16(8, true), 7, "the area was left as it was");
        } finally {
          unmap(areaMap);
          closeFd(area);
        }
      });
    }),
});

Deno.test({
  name: "vhost-user backend: bad input ends the session with an error, and the next session works",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      const memfd = memfdCreate("guest", MEM_SIZE);
      const region = (gpa: number, ua: number, size = MEM_SIZE / 2): MemoryRegionDesc => ({
        guestPhysAddr: gpa,
        memorySize: size,
        userspaceAddr: ua,
        mmapOffset: 0,
      });
      const cases: [string, (f: Front) => Promise<void>, RegExp][] = [
        ["oversized payload", async (f) => {
          const bytes = encodeMessage(R.VHOST_USER_SET_FEATURES, headerFlags(), new Uint8Array(8));
          new DataView(bytes.buffer).setUint32(8, 1 << 20, true);
          f.sendRaw(bytes);
          assert.equal(await f.recv(), "eof");
        }, /payload size/],
        ["wrong version", async (f) => {
          f.sendRaw(encodeMessage(R.VHOST_USER_GET_FEATURES, 2));
          assert.equal(await f.recv(), "eof");
        }, /version/],
        ["unknown request", (f) => expectClosed(f, 99), /request 99 is not supported/],
        ["short payload", (f) =>
          expectClosed(f, R.VHOST_USER_SET_FEATURES, new Uint8Array(3)), /too short/],
        ["features not offered", (f) =>
          expectClosed(f, R.VHOST_USER_SET_FEATURES, u64Payload(1n << 63n)), /not offered/],
        [
          "vring that does not exist",
          (f) =>
            expectClosed(f, R.VHOST_USER_SET_VRING_NUM, vringStatePayload(5, 16)),
          /vring 5 does not exist/,
        ],
        ["vring size above the maximum", (f) =>
          expectClosed(f, R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, 1024)), /size 1024/],
        ["overlapping regions", (f) =>
          expectClosed(
            f,
            R.VHOST_USER_SET_MEM_TABLE,
            memoryTablePayload([region(0, USER_BASE), region(0x1000, USER_BASE + MEM_SIZE)]),
            [memfd, memfd],
          ), /overlaps/],
        ["fewer fds than regions", (f) =>
          expectClosed(
            f,
            R.VHOST_USER_SET_MEM_TABLE,
            memoryTablePayload([region(0, USER_BASE), region(MEM_SIZE, USER_BASE + MEM_SIZE)]),
            [memfd],
          ), /2 regions but 1 file descriptors/],
        ["a region fd that cannot be mapped", async (f) => {
          const efd = eventfd();
          await expectClosed(
            f,
            R.VHOST_USER_SET_MEM_TABLE,
            memoryTablePayload([region(0, USER_BASE)]),
            [efd],
          );
          closeFd(efd);
        }, /not a memory file/],
        ["a ring outside the memory table", async (f) => {
          const kick = eventfd();
          f.send(R.VHOST_USER_SET_MEM_TABLE, memoryTablePayload([region(0, USER_BASE)]), [memfd]);
          f.send(R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, 16));
          f.send(
            R.VHOST_USER_SET_VRING_ADDR,
            vringAddrPayload({
              index: 0,
              flags: 0,
              desc: 0x1000,
              used: 0x2000,
              avail: 0x3000,
              log: 0,
            }),
          );
          await expectClosed(f, R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, false), [kick]);
          closeFd(kick);
        }, /outside the memory table/],
        ["a ring started before the memory table", async (f) => {
          const kick = eventfd();
          f.send(R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, 16));
          await expectClosed(f, R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, false), [kick]);
          closeFd(kick);
        }, /before VHOST_USER_SET_MEM_TABLE/],
        [
          "a kick without its fd",
          (f) =>
            expectClosed(f, R.VHOST_USER_SET_VRING_CALL, vringFdPayload(0, false)),
          /expected 1 file descriptor/,
        ],
        ["config past the end", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG)),
          );
          await expectClosed(f, R.VHOST_USER_SET_CONFIG, configPayload(200, 0, new Uint8Array(8)));
        }, /outside the 96-byte config space/],
        [
          "a back-end channel without the protocol feature",
          (f) =>
            expectClosed(f, R.VHOST_USER_SET_BACKEND_REQ_FD, undefined, [memfd]),
          /without negotiating protocol feature 5/,
        ],
        ["a back-end channel without its fd", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_BACKEND_REQ)),
          );
          await expectClosed(f, R.VHOST_USER_SET_BACKEND_REQ_FD);
        }, /expected 1 file descriptor for the back-end request channel/],
        ["inflight area without the protocol feature", (f) =>
          expectClosed(
            f,
            R.VHOST_USER_GET_INFLIGHT_FD,
            inflightPayload({ mmapSize: 0, mmapOffset: 0, numQueues: 1, queueSize: 16 }),
          ), /without negotiating protocol feature 12/],
        ["an inflight area for a queue size that is not a power of 2", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)),
          );
          await expectClosed(
            f,
            R.VHOST_USER_GET_INFLIGHT_FD,
            inflightPayload({ mmapSize: 0, mmapOffset: 0, numQueues: 1, queueSize: 100 }),
          );
        }, /1 queues of 100 is not a valid request/],
        ["an inflight area too small for its queues", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)),
          );
          await expectClosed(
            f,
            R.VHOST_USER_SET_INFLIGHT_FD,
            inflightPayload({ mmapSize: 64, mmapOffset: 0, numQueues: 2, queueSize: 256 }),
            [memfd],
          );
        }, /an area of 64 bytes cannot track 2 queues of 256/],
        ["an inflight area without its fd", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)),
          );
          await expectClosed(
            f,
            R.VHOST_USER_SET_INFLIGHT_FD,
            inflightPayload({ mmapSize: 4096, mmapOffset: 0, numQueues: 1, queueSize: 16 }),
          );
        }, /expected 1 file descriptor for the inflight area/],
        ["a nack before closing, with reply-ack", async (f) => {
          f.send(
            R.VHOST_USER_SET_PROTOCOL_FEATURES,
            u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_REPLY_ACK)),
          );
          f.send(
            R.VHOST_USER_SET_VRING_NUM,
            vringStatePayload(9, 16),
            [],
            headerFlags(VHOST_USER_NEED_REPLY_MASK),
          );
          const nack = await f.recv();
          assert.notEqual(nack, "eof");
          assert.equal(decodeU64(nack as VhostUserMessage), 1n);
          assert.equal(await f.recv(), "eof");
        }, /vring 9/],
      ];
      try {
        // The stable code of each refusal (what a program switches on).
        const C = VhostUserErrorCode;
        const codes: Record<string, string> = {
          "oversized payload": C.PAYLOAD_TOO_LARGE,
          "wrong version": C.BAD_VERSION,
          "unknown request": C.UNSUPPORTED_REQUEST,
          "short payload": C.SHORT_PAYLOAD,
          "features not offered": C.FEATURES_NOT_OFFERED,
          "vring that does not exist": C.NO_SUCH_VRING,
          "vring size above the maximum": C.BAD_VRING_STATE,
          "overlapping regions": C.BAD_MEMORY_TABLE,
          "fewer fds than regions": C.MISSING_FD,
          "a region fd that cannot be mapped": C.BAD_FD,
          "a ring outside the memory table": C.BAD_ADDRESS,
          "a ring started before the memory table": C.VRING_NOT_READY,
          "a kick without its fd": C.MISSING_FD,
          "config past the end": C.BAD_CONFIG,
          "a back-end channel without the protocol feature": C.UNSUPPORTED_REQUEST,
          "a back-end channel without its fd": C.MISSING_FD,
          "inflight area without the protocol feature": C.UNSUPPORTED_REQUEST,
          "an inflight area for a queue size that is not a power of 2": C.BAD_INFLIGHT,
          "an inflight area too small for its queues": C.BAD_INFLIGHT,
          "an inflight area without its fd": C.MISSING_FD,
          "a nack before closing, with reply-ack": C.NO_SUCH_VRING,
        };
        for (const [name, script, cause] of cases) {
          await session(h, script);
          const s = h.backend.sessions.at(-1);
          assert.equal(s?.end, "error", `${name}: session should end with an error`);
          assert.match(lastError(h), cause, name);
          assert.equal(s?.code, codes[name], `${name}: code`);
          assert.ok(
            h.logs.some((l) =>
              l.startsWith("error:") && cause.test(l)
            ),
            `${name}: logged`,
          );
        }
        // After all that, a well-behaved front-end is served.
        await session(h, async (f) => {
          assert.notEqual(decodeU64(await f.call(R.VHOST_USER_GET_FEATURES)), 0n);
        });
        assert.equal(h.backend.sessions.at(-1)?.end, "eof");
        assert.equal(h.backend.sessions.length, cases.length + 1);
      } finally {
        closeFd(memfd);
      }
    }),
});

Deno.test({
  name:
    "vhost-user backend: a connection handed to serveConnection, then close(), leaves no descriptor open",
  ignore: !canRun,
  fn: async () => {
    const count = () => [...Deno.readDirSync("/proc/self/fd")].length;
    const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(64 * 512)) });
    // Warm up what the first use opens once for the process (the FFI library).
    closeFd(eventfd());
    const before = count();
    for (const closeFirst of [false, true]) {
      const backend = new VhostUserBackend(device, {
        socketPath: "/nonexistent/never-bound.sock",
        log: () => {},
      });
      const [mine, theirs] = socketPair();
      const f = new Front(mine);
      const served = backend.serveConnection(theirs);
      assert.equal(decodeU64(await f.call(R.VHOST_USER_GET_QUEUE_NUM)), 1n);
      if (closeFirst) {
        // close() during the session: the session ends, then the back-end tears down.
        backend.close();
        assert.equal((await served).end, "closed");
        f.close();
      } else {
        // The front-end leaves, then close() with no session running.
        f.close();
        assert.equal((await served).end, "eof");
        backend.close();
      }
    }
    // Without the teardown in serveConnection and close(), each back-end kept its eventfd.
    assert.equal(count(), before);
  },
});

Deno.test({
  name: "vhost-user backend: a request published and kicked while its ring is being served is " +
    "served (the kick eventfd is read after the pass)",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      await withGuest(async (g) => {
        const { mem, alloc, kick, call } = g;
        await session(h, async (f) => {
          const driver = startSplitQueue<string>(h, f, g);
          // A round trip: the ring is running before anything is kicked.
          await f.call(R.VHOST_USER_GET_FEATURES);
          const read = (token: string) => {
            const hdr = alloc.alloc(16, 8);
            const data = alloc.alloc(512, 8);
            const status = alloc.alloc(1, 1);
            mem.writeUint32(hdr, 0);
            mem.writeBigUint64(hdr + 8, 1n);
            mem.writeUint8(status, 0xff);
            driver.addSgs([{ addr: hdr, len: 16 }], [{ addr: data, len: 512 }, {
              addr: status,
              len: 1,
            }], token);
            // Always kick, as a driver may: this one must not be lost.
            driver.kick();
            writeEventfd(kick);
          };
          // Right after the device's pass over "first" (its used entry
          // published, notifications re-enabled, nothing more available), the
          // driver adds "second" and kicks, before the back-end reads the kick
          // eventfd: that read consumes both kicks, so "second" is served only
          // if the back-end looks at the ring again after it.
          const device = h.device;
          const serve = device.queueNotify.bind(device);
          let armed = true;
          device.queueNotify = (index: number) => {
            serve(index);
            if (armed) {
              armed = false;
              read("second");
            }
          };
          read("first");
          const seen: string[] = [];
          // At most 20 waits of up to 0.5 s for a call (a lost request never gets one).
          for (let i = 0; i < 20 && seen.length < 2; i++) {
            await pollAsync([{ fd: call, events: POLLIN, revents: 0 }], 500);
            readEventfd(call);
            for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) seen.push(u.token);
          }
          assert.deepEqual(seen, ["first", "second"]);
        });
        assert.equal(h.backend.sessions[0].end, "eof");
      });
    }),
});
