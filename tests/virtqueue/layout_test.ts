// What the driver side writes, read back byte by byte with raw DataView
// reads at the offsets of the spec's C structs (2.7.5, 2.7.6, 2.7.8,
// 2.8.13, 2.8.14), not through the engine or the generated accessors.
import assert from "node:assert/strict";
import { pair } from "./_rig.ts";
import { ringSizes, splitLegacyLayout } from "../../src/virtqueue/mod.ts";

Deno.test("split: descriptor table, available ring and used ring, byte for byte", () => {
  const p = pair({ size: 4 });
  const raw = p.mem.regions[0].view;
  const at = (addr: number) => addr - p.mem.regions[0].base;
  const buf = p.alloc.alloc(64, 16);
  p.driver.addSgs([{ addr: buf, len: 0x11 }], [{ addr: buf + 32, len: 0x22 }], 1);
  const d = at(p.addrs.desc);
  // virtq_desc[0] = { le64 addr; le32 len; le16 flags; le16 next }
  assert.equal(raw.getUint32(d + 0, true), buf);
  assert.equal(raw.getUint32(d + 4, true), 0);
  assert.equal(raw.getUint32(d + 8, true), 0x11);
  assert.equal(raw.getUint16(d + 12, true), 1, "VIRTQ_DESC_F_NEXT");
  assert.equal(raw.getUint16(d + 14, true), 1, "next = 1");
  assert.equal(raw.getUint32(d + 16, true), buf + 32);
  assert.equal(raw.getUint32(d + 24, true), 0x22);
  assert.equal(raw.getUint16(d + 28, true), 2, "VIRTQ_DESC_F_WRITE, no NEXT");
  // virtq_avail = { le16 flags; le16 idx; le16 ring[4]; le16 used_event }
  const av = at(p.addrs.driver);
  assert.equal(raw.getUint16(av + 0, true), 0);
  assert.equal(raw.getUint16(av + 2, true), 1);
  assert.equal(raw.getUint16(av + 4, true), 0, "ring[0] = head 0");
  p.driver.disableCb();
  assert.equal(raw.getUint16(av + 0, true), 1, "VIRTQ_AVAIL_F_NO_INTERRUPT");
  // Device writes virtq_used = { le16 flags; le16 idx; { le32 id; le32 len } ring[4]; le16 avail_event }
  const c = p.device.pop()!;
  p.device.addUsed(c, 0x21);
  const u = at(p.addrs.device);
  assert.equal(raw.getUint16(u + 2, true), 1);
  assert.equal(raw.getUint32(u + 4, true), 0);
  assert.equal(raw.getUint32(u + 8, true), 0x21);
  p.device.disableNotification();
  assert.equal(raw.getUint16(u + 0, true), 1, "VIRTQ_USED_F_NO_NOTIFY");
});

Deno.test("split: a 64-bit buffer address is written as le64", () => {
  const p = pair({ size: 2 });
  const raw = p.mem.regions[0].view;
  const d = p.addrs.desc - p.mem.regions[0].base;
  // Buffers outside memory are the device's business; the driver just writes them.
  p.driver.addSgs([{ addr: 0x1_2345_6789_abcd, len: 1 }], [], 1);
  assert.equal(raw.getBigUint64(d, true), 0x1_2345_6789_abcdn);
});

Deno.test("split with EVENT_IDX: used_event and avail_event at the ends of the rings", () => {
  const p = pair({ size: 4, eventIdx: true });
  const raw = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(64, 16);
  p.driver.addSgs([], [{ addr: buf, len: 8 }], 1);
  p.device.pop();
  assert.equal(
    raw.getUint16(p.addrs.device - base + 4 + 8 * 4, true),
    1,
    "avail_event after ring[4]",
  );
  p.driver.enableCb();
  assert.equal(
    raw.getUint16(p.addrs.driver - base + 4 + 2 * 4, true),
    0,
    "used_event after ring[4]",
  );
  p.driver.disableCb();
  assert.equal(raw.getUint16(p.addrs.driver - base + 4 + 2 * 4, true), 0x8000);
});

Deno.test("split indirect: the table descriptor and the table entries", () => {
  const p = pair({ size: 4, indirect: true });
  const raw = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const buf = p.alloc.alloc(64, 16);
  p.driver.addSgs(
    [{ addr: buf, len: 4 }],
    [{ addr: buf + 8, len: 8 }, { addr: buf + 16, len: 2 }],
    1,
  );
  const d = p.addrs.desc - base;
  const table = raw.getUint32(d, true);
  assert.equal(raw.getUint32(d + 8, true), 48, "three entries of 16 bytes");
  assert.equal(raw.getUint16(d + 12, true), 4, "VIRTQ_DESC_F_INDIRECT only");
  const t = table - base;
  assert.equal(table % 16, 0);
  assert.deepEqual(
    [0, 1, 2].map((i) => [
      raw.getUint32(t + 16 * i, true) - buf,
      raw.getUint32(t + 16 * i + 8, true),
      raw.getUint16(t + 16 * i + 12, true),
      raw.getUint16(t + 16 * i + 14, true),
    ]),
    [[0, 4, 1, 1], [8, 8, 3, 2], [16, 2, 2, 0]],
  );
});

Deno.test("packed: descriptors, wrap bits and event suppression, byte for byte", () => {
  const p = pair({ size: 2, packed: true, eventIdx: true });
  const raw = p.mem.regions[0].view;
  const base = p.mem.regions[0].base;
  const d = p.addrs.desc - base;
  const buf = p.alloc.alloc(64, 16);
  // pvirtq_desc = { le64 addr; le32 len; le16 id; le16 flags }
  p.driver.addSgs([{ addr: buf, len: 3 }], [{ addr: buf + 8, len: 5 }], 1);
  assert.equal(raw.getUint32(d, true), buf);
  assert.equal(raw.getUint32(d + 8, true), 3);
  assert.equal(raw.getUint16(d + 12, true), 0, "buffer id 0");
  assert.equal(raw.getUint16(d + 14, true), 0x0081, "AVAIL (lap 1) | NEXT");
  assert.equal(raw.getUint16(d + 16 + 12, true), 0, "id in the last descriptor too");
  assert.equal(raw.getUint16(d + 16 + 14, true), 0x0082, "AVAIL | WRITE");
  const c = p.device.pop()!;
  p.device.addUsed(c, 5);
  assert.equal(raw.getUint16(d + 14, true), 0x8082, "AVAIL | USED (lap 1) | WRITE");
  assert.equal(raw.getUint32(d + 8, true), 5);
  p.driver.getBuf();
  // Second lap: the driver's wrap counter is 0, so AVAIL 0 and USED 1.
  p.driver.addSgs([], [{ addr: buf, len: 5 }], 2);
  assert.equal(raw.getUint16(d + 14, true), 0x8002, "USED (inverse of wrap 0) | WRITE");
  p.device.addUsed(p.device.pop()!, 0);
  assert.equal(raw.getUint16(d + 14, true), 0x0000, "used in lap 0: AVAIL = USED = 0, no WRITE");
  // pvirtq_event_suppress = { le16 desc (off:15, wrap:1); le16 flags (2 bits) }
  p.driver.getBuf();
  p.driver.enableCb();
  const drv = p.addrs.driver - base;
  assert.equal(raw.getUint16(drv, true), 1 | (0 << 15), "next used offset 1, wrap 0");
  assert.equal(raw.getUint16(drv + 2, true), 2, "RING_EVENT_FLAGS_DESC");
  p.driver.disableCb();
  assert.equal(raw.getUint16(drv + 2, true), 1, "RING_EVENT_FLAGS_DISABLE");
  p.device.enableNotification();
  const dev = p.addrs.device - base;
  assert.equal(raw.getUint16(dev, true), 1, "next avail offset 1, wrap 0");
  assert.equal(raw.getUint16(dev + 2, true), 2);
});

Deno.test("ring sizes and the legacy layout match the spec's formulas", () => {
  for (const qs of [1, 2, 256, 32768]) {
    const s = ringSizes(qs, false);
    assert.deepEqual([s.desc, s.driver, s.device], [16 * qs, 6 + 2 * qs, 6 + 8 * qs]);
    assert.deepEqual([s.descAlign, s.driverAlign, s.deviceAlign], [16, 2, 4]);
    const l = splitLegacyLayout(qs, 4096);
    const align = (x: number) => Math.ceil(x / 4096) * 4096;
    assert.equal(l.total, align(16 * qs + 2 * (3 + qs)) + align(2 * 3 + 8 * qs));
    assert.equal(l.device, align(16 * qs + 2 * (3 + qs)));
  }
  assert.deepEqual(ringSizes(3, true), {
    desc: 48,
    driver: 4,
    device: 4,
    descAlign: 16,
    driverAlign: 4,
    deviceAlign: 4,
  });
});
