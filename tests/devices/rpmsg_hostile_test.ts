// virtio rpmsg against a hostile driver (tests/devices/_rpmsg_rig.ts): malformed messages on
// queue 1 and odd buffers on queue 0. Expected behaviour follows Linux's rules for the same
// input (rpmsg_recv_single refuses a len past the buffer; rpmsg_ns_cb refuses a payload that is
// not 40 bytes): dropped and counted, the device keeps working and never needs a reset, except
// for a receive buffer that cannot hold even a header.

import assert from "node:assert/strict";
import { DeviceError } from "../../src/errors.ts";
import { BUF, HDR, nsMsg, rpmsgRig } from "./_rpmsg_rig.ts";

const enc = new TextEncoder();

Deno.test("rpmsg hostile: the announcements at activation are well-formed (Linux's layout)", () => {
  const rig = rpmsgRig();
  rig.device.createEndpoint("svc-a", 0x400); // announced at once: the driver is up
  const [m] = rig.received();
  assert.equal(m.src, 0x400);
  assert.equal(m.dst, 53);
  assert.equal(m.len, 40);
  assert.equal(m.used, HDR + 40);
  assert.deepEqual(m.data, nsMsg("svc-a", 0x400, 0));
});

Deno.test("rpmsg hostile: short buffers, bad len, oversize and writable parts are dropped", async () => {
  const rig = rpmsgRig();
  const ep = rig.device.createEndpoint("svc", 0x400);
  rig.received(); // the announcement
  const good = rig.message({ src: 1024, dst: 0x400 }, enc.encode("ok"));
  rig.sendRaw(good.subarray(0, 8)); // shorter than a header
  rig.sendRaw(new Uint8Array(0), 16); // no readable part at all
  rig.sendRaw(rig.message({ src: 1024, dst: 0x400, len: 3 }, enc.encode("ok"))); // len past the bytes
  rig.sendRaw(rig.message({ src: 1024, dst: 0x400, len: 0xffff }, enc.encode("ok")));
  rig.sendRaw(rig.message({ src: 1024, dst: 0x400 }, new Uint8Array(BUF))); // larger than a buffer
  rig.sendRaw(good, 4); // a device-writable part on the transmit queue
  assert.equal(rig.device.badMessages, 6);
  assert.equal(ep.received, 0);
  assert.deepEqual(rig.resets, []);
  // Still working: a good message, and one with bytes after its len (used as len says).
  rig.sendRaw(good);
  const longer = new Uint8Array(good.length + 5);
  longer.set(good);
  rig.sendRaw(longer);
  assert.equal(ep.received, 2);
  assert.deepEqual((await ep.receive()).data, enc.encode("ok"));
  assert.deepEqual((await ep.receive()).data, enc.encode("ok"));
  // The largest payload (buffer size minus the header) is taken.
  rig.sendRaw(rig.message({ src: 1024, dst: 0x400 }, new Uint8Array(BUF - HDR).fill(7)));
  assert.equal((await ep.receive()).data.length, BUF - HDR);
});

Deno.test("rpmsg hostile: unknown destinations are counted, never delivered elsewhere", () => {
  const rig = rpmsgRig();
  const ep = rig.device.createEndpoint("svc", 0x400);
  for (const dst of [0, 1, 52, 0x401, 0xffffffff, 0x7fffffff]) {
    rig.sendRaw(rig.message({ src: 1024, dst }, enc.encode("x")));
  }
  assert.equal(rig.device.unknownDst, 6);
  assert.equal(ep.received, 0);
  assert.deepEqual(rig.resets, []);
});

Deno.test("rpmsg hostile: malformed name-service messages are refused; names are cut at 31 bytes", () => {
  const rig = rpmsgRig();
  for (const size of [0, 39, 41, 64]) {
    rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("bad", 0x700, 0, size)));
  }
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("flags", 0x700, 2))); // neither flag
  assert.equal(rig.device.badAnnouncements, 5);
  assert.deepEqual(rig.device.channels, []);
  // DESTROY of a channel never created: nothing happens.
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("ghost", 0x700, 1)));
  // CREATE twice: one channel. A name of 32 bytes without a NUL is cut as Linux's strscpy does.
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("dup", 0x700, 0)));
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("dup", 0x700, 0)));
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("n".repeat(32), 0x701, 0)));
  // Invalid UTF-8 is decoded with replacement characters, not thrown.
  rig.sendRaw(
    rig.message({ src: 1024, dst: 53 }, nsMsg(Uint8Array.of(0xff, 0xfe, 0x41), 0x702, 0)),
  );
  assert.deepEqual(rig.device.channels, [
    { name: "dup", addr: 0x700 },
    { name: "n".repeat(31), addr: 0x701 },
    { name: "\ufffd\ufffdA", addr: 0x702 },
  ]);
  assert.equal(rig.device.badAnnouncements, 5);
  assert.deepEqual(rig.resets, []);
});

Deno.test("rpmsg hostile: without VIRTIO_RPMSG_F_NS, address 53 is no name service", () => {
  const rig = rpmsgRig({}, false);
  rig.device.createEndpoint("svc", 0x400);
  assert.deepEqual(rig.received(), []); // nothing announced
  rig.sendRaw(rig.message({ src: 1024, dst: 53 }, nsMsg("x", 0x700, 0)));
  assert.deepEqual(rig.device.channels, []);
  assert.equal(rig.device.unknownDst, 1);
});

Deno.test("rpmsg hostile: a receive buffer too small for a message fails that send and is kept", async () => {
  const rig = rpmsgRig({}, true, 0);
  const ep = rig.device.createEndpoint("", 0x400);
  rig.post(1, HDR + 4); // room for a 4-byte payload only
  const big = ep.sendTo(1024, new Uint8Array(5));
  await assert.rejects(
    big,
    (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RPMSG_MSGSIZE",
  );
  const small = ep.sendTo(1024, enc.encode("fits"));
  await small;
  const [m] = rig.received();
  assert.deepEqual([m.src, m.dst, m.used], [0x400, 1024, HDR + 4]);
  assert.deepEqual(m.data, enc.encode("fits"));
  assert.deepEqual(rig.resets, []);
});

Deno.test("rpmsg hostile: a receive buffer that is readable or shorter than a header needs a reset", async () => {
  for (const bad of ["short", "readable"] as const) {
    const rig = rpmsgRig({}, true, 0);
    const ep = rig.device.createEndpoint("", 0x400);
    const addr = rig.alloc.alloc(64, 16);
    if (bad === "short") rig.rx.addSgs([], [{ addr, len: HDR - 1 }], 99);
    else rig.rx.addSgs([{ addr, len: 64 }], [], 99);
    rig.rx.kick();
    const pending = ep.sendTo(1024, enc.encode("x"));
    rig.device.queueNotify(0);
    assert.equal(rig.resets.length, 1, bad);
    assert.ok(rig.resets[0] instanceof DeviceError);
    assert.equal((rig.resets[0] as DeviceError).code, "ERR_VIRTIO_DEVICE_RPMSG_BUFFER");
    // The transport resets the device next: what was queued fails.
    rig.device.reset();
    await assert.rejects(
      pending,
      (e) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET",
    );
  }
});
