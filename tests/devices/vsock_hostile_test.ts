// virtio-vsock against a hostile driver: packets a hand-built driver puts on the tx ring
// (tests/devices/_vsock_rig.ts). Expected ops are the spec's numbers (5.10.6: REQUEST 1,
// RESPONSE 2, RST 3, SHUTDOWN 4, RW 5, CREDIT_UPDATE 6, CREDIT_REQUEST 7), not the code's
// constants. The device never needs a reset for any of this: protocol errors get RST,
// malformed packets are dropped, and state stays usable afterwards.

import assert from "node:assert/strict";
import { DeviceError } from "../../src/errors.ts";
import type { VsockConnection } from "../../src/devices/vsock/connection.ts";
import { GUEST_CID, vsockRig } from "./_vsock_rig.ts";

const REQUEST = 1, RESPONSE = 2, RST = 3, SHUTDOWN = 4, RW = 5, CREDIT_UPDATE = 6;
const CREDIT_REQUEST = 7;

/** A rig with a connection from guest port 40000 to host port 1234, accepted on the host. */
async function connected(bufAlloc?: number) {
  const rig = vsockRig(bufAlloc);
  const listener = rig.device.listen(1234);
  rig.send({ op: REQUEST });
  const conn = await listener.accept();
  assert.ok(conn);
  const got = rig.received();
  assert.deepEqual(got.map((p) => p.op), [RESPONSE]);
  return { rig, conn: conn as VsockConnection, listener };
}

Deno.test("vsock hostile: REQUEST to a port nobody listens on is answered with RST, addressed back", () => {
  const rig = vsockRig();
  rig.send({ op: REQUEST, srcPort: 777, dstPort: 9 });
  const [p, ...rest] = rig.received();
  assert.equal(rest.length, 0);
  assert.equal(p.op, RST);
  assert.equal(p.srcCid, 2n);
  assert.equal(p.dstCid, BigInt(GUEST_CID));
  assert.equal(p.srcPort, 9);
  assert.equal(p.dstPort, 777);
  assert.equal(p.len, 0);
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: an RST for no connection is never answered (no RST storms)", () => {
  const rig = vsockRig();
  rig.send({ op: RST, dstPort: 5 });
  assert.deepEqual(rig.received(), []);
});

Deno.test("vsock hostile: a source CID other than guest_cid is dropped without a reply", () => {
  const rig = vsockRig();
  rig.device.listen(1234);
  for (const srcCid of [2n, 4n, 0n, 0xffffffffn, 1n << 32n, BigInt(GUEST_CID) | (1n << 40n)]) {
    rig.send({ op: REQUEST, srcCid });
  }
  assert.deepEqual(rig.received(), []);
  assert.equal(rig.device.droppedPackets, 6);
  assert.equal(rig.device.endpoint.connections, 0);
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: a destination CID that is not the host gets RST", () => {
  const rig = vsockRig();
  rig.device.listen(1234);
  rig.send({ op: REQUEST, dstCid: 7n });
  const got = rig.received();
  assert.deepEqual(got.map((p) => [p.op, p.dstPort]), [[RST, 40000]]);
  assert.equal(rig.device.endpoint.connections, 0);
});

Deno.test("vsock hostile: unknown ops and socket types get RST, and the connection is gone", async () => {
  const { rig, conn } = await connected();
  rig.send({ op: 99 });
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  assert.equal(conn.state, "closed");
  await assert.rejects(
    conn.writable.getWriter().write(new Uint8Array(1)),
    (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_PROTOCOL",
  );
  rig.send({ op: REQUEST, type: 3, srcPort: 1 }); // seqpacket was not negotiated; 3 is no type
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  rig.send({ op: 0, srcPort: 2 }); // VIRTIO_VSOCK_OP_INVALID
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: RW beyond the credit the host gave resets the connection", async () => {
  const { rig, conn } = await connected(4096); // buf_alloc 4096 on the host side
  rig.send({ op: RW }, new Uint8Array(3000).fill(1));
  assert.deepEqual(rig.received(), []);
  rig.send({ op: RW }, new Uint8Array(1097).fill(2)); // 4097 > 4096 with nothing read
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  // The 3000 bytes that were within credit are still readable; then the error.
  const r = conn.readable.getReader();
  assert.equal((await r.read()).value?.length, 3000);
  await assert.rejects(
    r.read(),
    (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_CREDIT",
  );
  assert.equal(rig.device.endpoint.badPackets, 1);
});

Deno.test("vsock hostile: len larger than the buffer, or not the bytes that follow, is dropped; RST follows", async () => {
  const { rig, conn } = await connected();
  // len says 1000, the buffer has 10 bytes of payload.
  rig.send({ op: RW, len: 1000 }, undefined, 44 + 10);
  // len says 65537: over the 64 KiB packet limit even though the bytes are there.
  rig.send({ op: RW, len: 65537 }, undefined, 44 + 65537);
  assert.equal(rig.device.droppedPackets, 2);
  // The first resets the connection; the second is then for no connection: RST again.
  assert.deepEqual(rig.received().map((p) => p.op), [RST, RST]);
  assert.equal(conn.state, "closed");
  // A header shorter than 44 bytes: dropped, nothing else.
  rig.sendRaw(rig.alloc.alloc(16, 8), 16);
  assert.equal(rig.device.droppedPackets, 3);
  assert.deepEqual(rig.received(), []);
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: a second REQUEST on a live connection, and data after SHUTDOWN, reset it", async () => {
  const a = await connected();
  a.rig.send({ op: REQUEST });
  assert.deepEqual(a.rig.received().map((p) => p.op), [RST]);
  assert.equal(a.conn.state, "closed");

  const b = await connected();
  b.rig.send({ op: SHUTDOWN, flags: 2 }); // VIRTIO_VSOCK_SHUTDOWN_F_SEND is bit 1
  b.rig.send({ op: RW }, new Uint8Array(5));
  assert.deepEqual(b.rig.received().map((p) => p.op), [RST]);
});

Deno.test("vsock hostile: CREDIT_REQUEST gets CREDIT_UPDATE with the host's buf_alloc and fwd_cnt", async () => {
  const { rig, conn } = await connected(8192);
  rig.send({ op: RW }, new Uint8Array(100));
  const r = conn.readable.getReader();
  assert.equal((await r.read()).value?.length, 100);
  rig.received(); // the credit update the read may have caused
  rig.send({ op: CREDIT_REQUEST });
  const [p] = rig.received();
  assert.equal(p.op, CREDIT_UPDATE);
  assert.equal(p.bufAlloc, 8192);
  assert.equal(p.fwdCnt, 100);
});

Deno.test("vsock hostile: the host never sends beyond the guest's credit, whatever it claims later", async () => {
  const { rig, conn } = await connected();
  // The guest's REQUEST said buf_alloc 1 MiB; now it says 100 bytes, 0 forwarded.
  rig.send({ op: CREDIT_UPDATE, bufAlloc: 100, fwdCnt: 0 });
  const w = conn.writable.getWriter();
  const done = w.write(new Uint8Array(250).fill(7));
  const sent = () => rig.received().filter((p) => p.op === RW).reduce((a, p) => a + p.len, 0);
  assert.equal(sent(), 100);
  // A fwd_cnt ahead of what was sent would mean negative bytes in flight: no credit, not more.
  rig.send({ op: CREDIT_UPDATE, bufAlloc: 100, fwdCnt: 5000 });
  assert.equal(sent(), 0);
  rig.send({ op: CREDIT_UPDATE, bufAlloc: 100, fwdCnt: 100 });
  assert.equal(sent(), 100);
  rig.send({ op: CREDIT_UPDATE, bufAlloc: 100, fwdCnt: 200 });
  assert.equal(sent(), 50);
  await done;
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: seqpacket fragments without EOM past the credit reset the connection", async () => {
  const rig = vsockRig(8192, true);
  const listener = rig.device.listen(1234, { seqpacket: true });
  rig.send({ op: REQUEST, type: 2 }); // VIRTIO_VSOCK_TYPE_SEQPACKET
  const conn = await listener.accept();
  assert.ok(conn);
  assert.deepEqual(rig.received().map((p) => [p.op, p.type]), [[RESPONSE, 2]]);
  // 3 fragments of 3000 bytes, none with EOM (flags 0): the third is past the 8192 of credit.
  rig.send({ op: RW, type: 2 }, new Uint8Array(3000));
  rig.send({ op: RW, type: 2 }, new Uint8Array(3000));
  assert.deepEqual(rig.received(), []);
  rig.send({ op: RW, type: 2 }, new Uint8Array(3000));
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  assert.equal(conn.state, "closed");
  // Nothing half-made reached the reader: no message ended.
  await assert.rejects(
    conn.readable.getReader().read(),
    (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_VSOCK_CREDIT",
  );
  // A stream REQUEST to the seqpacket listener is refused.
  rig.send({ op: REQUEST, srcPort: 41000 });
  assert.deepEqual(rig.received().map((p) => p.op), [RST]);
  assert.equal(rig.resets.length, 0);
});

Deno.test("vsock hostile: a flood of CREDIT_REQUEST while rx is full queues one CREDIT_UPDATE, not one each", async () => {
  const { rig } = await connected();
  for (let i = 0; i < 100; i++) rig.send({ op: CREDIT_REQUEST });
  // The rig posted 32 rx buffers: 32 updates went out at once.
  assert.deepEqual(rig.received().map((p) => p.op), Array(32).fill(CREDIT_UPDATE));
  // The other 68 requests share the one update still queued.
  assert.deepEqual(rig.received().map((p) => p.op), [CREDIT_UPDATE]);
  assert.deepEqual(rig.received(), []);
  assert.equal(rig.resets.length, 0);
});
