// The SCSI target alone (no virtio): each command's data and sense bytes
// against the tables of SPC-4 / SBC-3, written out here byte by byte.

import assert from "node:assert/strict";
import { MemoryStorage } from "../../src/devices/blk/storage.ts";
import { ScsiCommand, type ScsiDataBuffers } from "../../src/devices/scsi/command.ts";
import { ScsiTarget } from "../../src/devices/scsi/target.ts";

interface Run {
  cmd: ScsiCommand;
  data: Uint8Array;
}

/** Runs `cdb` on `lun` with `inLength` bytes of data-in room or `out` as data-out. */
async function run(
  t: ScsiTarget,
  lun: number,
  cdb: number[],
  inLength = 0,
  out?: Uint8Array,
): Promise<Run> {
  const data = new Uint8Array(inLength);
  const bufs: ScsiDataBuffers = {
    inLength,
    outLength: out?.length ?? 0,
    writeIn: (o, s) => {
      const n = Math.max(0, Math.min(s.length, inLength - o));
      data.set(s.subarray(0, n), o);
      return n;
    },
    readOut: (o, d) => {
      const src = (out ?? new Uint8Array(0)).subarray(o, o + d.length);
      d.set(src);
      return src.length;
    },
  };
  const cmd = new ScsiCommand().prepare(lun, Uint8Array.from(cdb), bufs);
  await t.execute(cmd);
  return { cmd, data };
}

/** Fixed sense, current error, with `key`, `asc`, `ascq` (SPC-4 4.5.3, table 48). */
function sense(key: number, asc: number, ascq = 0): number[] {
  return [0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0];
}

function target(opts: { blocks?: number; readOnly?: boolean; noDiscard?: boolean } = {}) {
  const bytes = new Uint8Array((opts.blocks ?? 64) * 512);
  const storage = new MemoryStorage(bytes);
  const st = opts.noDiscard
    ? {
      size: storage.size,
      read: storage.read.bind(storage),
      write: storage.write.bind(storage),
      flush: storage.flush.bind(storage),
    }
    : storage;
  const t = new ScsiTarget();
  t.addLun(0, { storage: st, readOnly: opts.readOnly, serial: "SER123" });
  return { t, bytes, storage };
}

Deno.test("scsi target: standard INQUIRY data (SPC-4 6.6.2)", async () => {
  const { t } = target();
  const r = await run(t, 0, [0x12, 0, 0, 0, 36, 0], 36);
  assert.equal(r.cmd.status, 0);
  assert.equal(r.cmd.transferred, 36);
  // Byte 0: connected direct-access device; 2: SPC-4; 3: HISUP | format 2; 4: 36 - 5; 7: CMDQUE.
  assert.deepEqual([...r.data.subarray(0, 8)], [0x00, 0x00, 0x06, 0x12, 31, 0, 0, 0x02]);
  assert.equal(new TextDecoder().decode(r.data.subarray(8, 16)), "TYPEDVIO");
  assert.equal(new TextDecoder().decode(r.data.subarray(16, 32)), "VIRTIO-SCSI     ");
});

Deno.test("scsi target: INQUIRY of a LUN with no unit says qualifier 3, type 1Fh", async () => {
  const { t } = target();
  const r = await run(t, 7, [0x12, 0, 0, 0, 36, 0], 36);
  assert.equal(r.cmd.status, 0);
  assert.equal(r.data[0], 0x7f);
  // Other commands to it: ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED (25h).
  const tur = await run(t, 7, [0, 0, 0, 0, 0, 0]);
  assert.equal(tur.cmd.status, 2);
  assert.deepEqual([...tur.cmd.sense], sense(5, 0x25));
});

Deno.test("scsi target: INQUIRY allocation length cuts the data", async () => {
  const { t } = target();
  const r = await run(t, 0, [0x12, 0, 0, 0, 5, 0], 36);
  assert.equal(r.cmd.transferred, 5);
  assert.equal(r.data[4], 31);
});

Deno.test("scsi target: VPD pages 00, 80, 83, b0, b1, b2 (SPC-4 7.8, SBC-3 6.6)", async () => {
  const { t } = target();
  const p0 = await run(t, 0, [0x12, 1, 0x00, 0, 255, 0], 255);
  assert.deepEqual([...p0.data.subarray(0, 10)], [0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
  const p80 = await run(t, 0, [0x12, 1, 0x80, 0, 255, 0], 255);
  assert.deepEqual([...p80.data.subarray(0, 4)], [0, 0x80, 0, 6]);
  assert.equal(new TextDecoder().decode(p80.data.subarray(4, 10)), "SER123");
  const p83 = await run(t, 0, [0x12, 1, 0x83, 0, 255, 0], 255);
  // One designator: code set 2 (ASCII), type 1 (T10 vendor ID), length 8 + 6.
  assert.deepEqual([...p83.data.subarray(0, 8)], [0, 0x83, 0, 18, 0x02, 0x01, 0, 14]);
  assert.equal(new TextDecoder().decode(p83.data.subarray(8, 22)), "TYPEDVIOSER123");
  const pb0 = await run(t, 0, [0x12, 1, 0xb0, 0, 255, 0], 255);
  assert.equal(pb0.cmd.transferred, 64);
  assert.deepEqual([...pb0.data.subarray(0, 4)], [0, 0xb0, 0, 0x3c]);
  const v = new DataView(pb0.data.buffer);
  assert.equal(v.getUint32(8), (4 << 20) / 512); // maximum transfer length
  assert.equal(v.getUint32(20), 0xffffffff); // maximum unmap LBA count
  assert.equal(v.getUint32(24), 256); // maximum unmap block descriptor count
  const pb1 = await run(t, 0, [0x12, 1, 0xb1, 0, 255, 0], 255);
  assert.deepEqual([...pb1.data.subarray(0, 6)], [0, 0xb1, 0, 0x3c, 0, 1]); // non-rotating
  const pb2 = await run(t, 0, [0x12, 1, 0xb2, 0, 255, 0], 255);
  // LBPU (bit 7 of byte 5), provisioning type 2 (thin).
  assert.deepEqual([...pb2.data.subarray(0, 8)], [0, 0xb2, 0, 4, 0, 0x80, 0x02, 0]);
  const bad = await run(t, 0, [0x12, 1, 0x89, 0, 255, 0], 255);
  assert.deepEqual([...bad.cmd.sense], sense(5, 0x24));
  const std = await run(t, 0, [0x12, 0, 0x80, 0, 255, 0], 255);
  assert.deepEqual([...std.cmd.sense], sense(5, 0x24), "page code without EVPD");
});

Deno.test("scsi target: READ CAPACITY(10) and (16) (SBC-3 5.15, 5.16)", async () => {
  const { t } = target({ blocks: 100 });
  const r10 = await run(t, 0, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
  assert.deepEqual([...r10.data], [0, 0, 0, 99, 0, 0, 2, 0]);
  const r16 = await run(t, 0, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32);
  assert.deepEqual([...r16.data.subarray(0, 16)], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    99,
    0,
    0,
    2,
    0,
    0,
    0,
    0x80,
    0,
  ]);
  const noLbp = target({ blocks: 100, noDiscard: true });
  const r16b = await run(noLbp.t, 0, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32);
  assert.equal(r16b.data[14], 0, "no LBPME without discard");
  const badSa = await run(t, 0, [0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32);
  assert.deepEqual([...badSa.cmd.sense], sense(5, 0x24));
  const badLba = await run(t, 0, [0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], 8);
  assert.deepEqual([...badLba.cmd.sense], sense(5, 0x24), "LBA without PMI");
});

Deno.test("scsi target: READ/WRITE 6, 10, 16 move the storage bytes; out of range is 21h", async () => {
  const { t, bytes } = target({ blocks: 64 });
  const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7) & 0xff);
  const w10 = await run(t, 0, [0x2a, 0, 0, 0, 0, 3, 0, 0, 2, 0], 0, data);
  assert.equal(w10.cmd.status, 0);
  assert.deepEqual(bytes.subarray(3 * 512, 5 * 512), data);
  const r6 = await run(t, 0, [0x08, 0, 0, 3, 2, 0], 1024);
  assert.deepEqual(r6.data, data);
  const r16 = await run(t, 0, [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0], 512);
  assert.deepEqual(r16.data, data.subarray(512));
  const w6 = await run(t, 0, [0x0a, 0, 0, 10, 1, 0], 0, data.subarray(0, 512));
  assert.deepEqual(bytes.subarray(10 * 512, 11 * 512), data.subarray(0, 512));
  assert.equal(w6.cmd.status, 0);
  const past = await run(t, 0, [0x28, 0, 0, 0, 0, 63, 0, 0, 2, 0], 1024);
  assert.deepEqual([...past.cmd.sense], sense(5, 0x21));
  const far = await run(t, 0, [
    0x88,
    0,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0,
    0,
    0,
    1,
    0,
    0,
  ], 512);
  assert.deepEqual([...far.cmd.sense], sense(5, 0x21));
  // READ(6) with transfer length 0 means 256 blocks (SBC-3 5.14): more than 64 blocks exist.
  const r6all = await run(t, 0, [0x08, 0, 0, 0, 0, 0], 256 * 512);
  assert.deepEqual([...r6all.cmd.sense], sense(5, 0x21));
  // A buffer smaller than the transfer: overrun, nothing written.
  const short = await run(t, 0, [0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0], 512);
  assert.equal(short.cmd.overrun, true);
  // RDPROTECT without protection information: invalid field.
  const prot = await run(t, 0, [0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0], 512);
  assert.deepEqual([...prot.cmd.sense], sense(5, 0x24));
});

Deno.test("scsi target: a read-only unit refuses writes with DATA PROTECT / WRITE PROTECTED", async () => {
  const { t, bytes } = target({ readOnly: true });
  const w = await run(t, 0, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], 0, new Uint8Array(512).fill(9));
  assert.deepEqual([...w.cmd.sense], sense(7, 0x27));
  assert.equal(bytes[0], 0);
  const ms = await run(t, 0, [0x1a, 0, 0x08, 0, 255, 0], 255);
  assert.equal(ms.data[2] & 0x80, 0x80, "WP in the mode parameter header");
});

Deno.test("scsi target: MODE SENSE(6)/(10) caching, control and all pages (SPC-4 7.5, SBC-3 6.5.5)", async () => {
  const { t } = target();
  const all6 = await run(t, 0, [0x1a, 0, 0x3f, 0, 255, 0], 255);
  assert.equal(all6.cmd.transferred, 4 + 20 + 12);
  assert.deepEqual([...all6.data.subarray(0, 4)], [35, 0, 0, 0]);
  assert.deepEqual([...all6.data.subarray(4, 7)], [0x08, 0x12, 0x04], "caching, WCE");
  assert.deepEqual([...all6.data.subarray(24, 26)], [0x0a, 0x0a], "control");
  const cache10 = await run(t, 0, [0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255, 0], 255);
  assert.deepEqual([...cache10.data.subarray(0, 11)], [0, 26, 0, 0, 0, 0, 0, 0, 0x08, 0x12, 0x04]);
  const ctl = await run(t, 0, [0x1a, 0, 0x0a, 0, 255, 0], 255);
  assert.deepEqual([...ctl.data.subarray(0, 6)], [15, 0, 0, 0, 0x0a, 0x0a]);
  const saved = await run(t, 0, [0x1a, 0, 0xc8, 0, 255, 0], 255);
  assert.deepEqual([...saved.cmd.sense], sense(5, 0x39));
  const other = await run(t, 0, [0x1a, 0, 0x01, 0, 255, 0], 255);
  assert.deepEqual([...other.cmd.sense], sense(5, 0x24));
  const hdrOnly = await run(t, 0, [0x1a, 0, 0x3f, 0, 4, 0], 255);
  assert.equal(hdrOnly.cmd.transferred, 4);
});

Deno.test("scsi target: REPORT LUNS lists every unit; 16 bytes of allocation at least", async () => {
  const { t } = target();
  t.addLun(300, { storage: new MemoryStorage(new Uint8Array(4096)) });
  t.addLun(2, { storage: new MemoryStorage(new Uint8Array(4096)) });
  const r = await run(t, 0, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 256);
  assert.deepEqual([...r.data.subarray(0, 32)], [
    0,
    0,
    0,
    24,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0, // LUN 0, peripheral
    0,
    2,
    0,
    0,
    0,
    0,
    0,
    0, // LUN 2
    0x41,
    0x2c,
    0,
    0,
    0,
    0,
    0,
    0, // LUN 300, flat space
  ]);
  const small = await run(t, 0, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0], 256);
  assert.deepEqual([...small.cmd.sense], sense(5, 0x24));
  // From a LUN with no unit too (SPC-4 6.33).
  const other = await run(t, 9, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], 16);
  assert.equal(other.cmd.status, 0);
  assert.equal(other.data[3], 24);
});

Deno.test("scsi target: SYNCHRONIZE CACHE flushes the storage; TEST UNIT READY is GOOD", async () => {
  const { t, storage } = target();
  await run(t, 0, [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  await run(t, 0, [0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(storage.flushes, 2);
  const tur = await run(t, 0, [0, 0, 0, 0, 0, 0]);
  assert.equal(tur.cmd.status, 0);
  assert.equal(tur.cmd.senseLength, 0);
});

Deno.test("scsi target: REQUEST SENSE returns NO SENSE; DESC is refused", async () => {
  const { t } = target();
  const r = await run(t, 0, [0x03, 0, 0, 0, 18, 0], 18);
  assert.deepEqual([...r.data], sense(0, 0));
  const d = await run(t, 0, [0x03, 1, 0, 0, 18, 0], 18);
  assert.deepEqual([...d.cmd.sense], sense(5, 0x24));
});

Deno.test("scsi target: UNMAP deallocates the ranges; bad lists are refused before any change", async () => {
  const { t, bytes } = target({ blocks: 64 });
  bytes.fill(0xaa);
  const list = (descs: [number, number][], declared?: number) => {
    const b = new Uint8Array(8 + 16 * descs.length);
    const v = new DataView(b.buffer);
    v.setUint16(0, b.length - 2);
    v.setUint16(2, declared ?? 16 * descs.length);
    descs.forEach(([lba, n], i) => {
      v.setBigUint64(8 + 16 * i, BigInt(lba));
      v.setUint32(16 + 16 * i, n);
    });
    return b;
  };
  const ok = list([[2, 3], [10, 1]]);
  const r = await run(t, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, ok.length, 0], 0, ok);
  assert.equal(r.cmd.status, 0);
  assert.ok(bytes.subarray(2 * 512, 5 * 512).every((b) => b === 0));
  assert.ok(bytes.subarray(10 * 512, 11 * 512).every((b) => b === 0));
  assert.equal(bytes[5 * 512], 0xaa);
  bytes.fill(0xaa);
  const past = list([[1, 1], [63, 2]]);
  const rp = await run(t, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, past.length, 0], 0, past);
  assert.deepEqual([...rp.cmd.sense], sense(5, 0x21));
  assert.ok(bytes.every((b) => b === 0xaa), "nothing unmapped when one descriptor is bad");
  const lying = list([[1, 1]], 64);
  const rl = await run(t, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, lying.length, 0], 0, lying);
  assert.deepEqual([...rl.cmd.sense], sense(5, 0x26));
  const shortList = await run(t, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0], 0, new Uint8Array(4));
  assert.deepEqual([...shortList.cmd.sense], sense(5, 0x1a));
  const noDiscard = target({ noDiscard: true });
  const rn = await run(noDiscard.t, 0, [0x42, 0, 0, 0, 0, 0, 0, 0, ok.length, 0], 0, ok);
  assert.deepEqual([...rn.cmd.sense], sense(5, 0x20));
});

Deno.test("scsi target: unknown opcodes and short CDBs get ILLEGAL REQUEST", async () => {
  const { t } = target();
  for (const op of [0x04, 0x1b, 0x41, 0x93, 0xa3, 0xff]) {
    const r = await run(t, 0, [op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...r.cmd.sense], sense(5, 0x20), `opcode ${op}`);
  }
  // READ(16) in a 10-byte CDB: the CDB is too short for its group.
  const r = await run(t, 0, [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 1], 512);
  assert.deepEqual([...r.cmd.sense], sense(5, 0x24));
});

Deno.test("scsi target: LUNs come and go; the listener hears each change", () => {
  const { t } = target();
  const seen: [number, boolean][] = [];
  t.onLunChange((l, a) => seen.push([l, a]));
  t.addLun(5, { storage: new MemoryStorage(new Uint8Array(4096)) });
  t.removeLun(0);
  assert.deepEqual(seen, [[5, true], [0, false]]);
  assert.deepEqual(t.luns, [5]);
  assert.throws(() => t.addLun(5, { storage: new MemoryStorage(new Uint8Array(512)) }), /exists/);
  assert.throws(() => t.removeLun(0), /no LUN/);
  assert.throws(() => t.addLun(16384, { storage: new MemoryStorage(new Uint8Array(512)) }));
});
