// Byte-level checks of the generated accessors: endianness, 64-bit as bigint
// and as number, bitfields, parameter-length arrays, nested structs, unions,
// and the same accessors over ArrayBuffer, SharedArrayBuffer and a DataView
// at a non-zero offset. Expected bytes are written out by hand.
import assert from "node:assert/strict";
import {
  PvirtqEventSuppress,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VirtqAvail,
  VirtqDesc,
  VirtqUsed,
  VirtqUsedElem,
} from "../../src/generated/virtqueue.ts";
import { DeviceStatus, VIRTIO_F_VERSION_1, VirtioFeatures } from "../../src/generated/common.ts";
import {
  addr,
  array,
  be16,
  be32,
  be64,
  bits,
  le16,
  le64,
  struct,
  u8,
  union,
} from "../../schema/dsl.ts";
import { generateModules } from "../../gen/mod.ts";
import { ArgumentError } from "../../src/errors.ts";
import { ERRORS_SHIM, writeErrorsShim } from "./_generated_module.ts";

function bytes(view: DataView, from: number, len: number): number[] {
  return [...new Uint8Array(view.buffer, view.byteOffset + from, len)];
}

const buffers: [string, () => DataView][] = [
  ["ArrayBuffer", () => new DataView(new ArrayBuffer(256))],
  ["SharedArrayBuffer", () => new DataView(new SharedArrayBuffer(256))],
  ["DataView at offset 24", () => new DataView(new ArrayBuffer(512), 24, 256)],
];

for (const [label, make] of buffers) {
  Deno.test(`virtq_desc little-endian bytes over ${label}`, () => {
    const view = make();
    const d = new VirtqDesc(view, 16);
    d.addr = 0x1_2345_6789_abcd;
    d.len = 0x11223344;
    d.flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
    d.next = 0xbeef;
    assert.deepEqual(bytes(view, 16, 16), [
      0xcd,
      0xab,
      0x89,
      0x67,
      0x45,
      0x23,
      0x01,
      0x00,
      0x44,
      0x33,
      0x22,
      0x11,
      0x03,
      0x00,
      0xef,
      0xbe,
    ]);
    assert.equal(d.addr, 0x1_2345_6789_abcd);
    assert.deepEqual(bytes(view, 0, 16), new Array(16).fill(0), "nothing before the struct");
    assert.equal(new VirtqDesc(view).at(16).len, 0x11223344, "at() re-targets");
    // write(): every field in one call, the same bytes as the setters (the spec's layout)
    const w = new VirtqDesc(view).at(32).write(0x1_2345_6789_abcd, 0x11223344, 3, 0xbeef);
    assert.equal(w.offset, 32, "write() returns the accessor");
    assert.deepEqual(bytes(view, 32, 16), bytes(view, 16, 16));
    assert.deepEqual(bytes(view, 48, 16), new Array(16).fill(0), "nothing after the struct");
  });

  Deno.test(`virtq_avail and virtq_used with queue_size over ${label}`, () => {
    const view = make();
    const avail = new VirtqAvail(view, 0, 8);
    assert.equal(VirtqAvail.size(8), 6 + 16);
    avail.idx = 0xfffe;
    avail.setRing(7, 0x0102);
    avail.usedEvent = 0x0304;
    assert.deepEqual(bytes(view, 2, 2), [0xfe, 0xff]);
    assert.deepEqual(bytes(view, 4 + 14, 2), [0x02, 0x01]);
    assert.deepEqual(bytes(view, 4 + 16, 2), [0x04, 0x03], "used_event after ring[8]");
    // an index error names the array and its real bounds (0..7 for queue_size 8)
    assert.throws(
      () => avail.ring(8),
      (e: unknown) =>
        e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_INDEX" &&
        e.message === "virtq_avail.ring[8] is outside 0..7",
    );
    assert.throws(() => avail.setRing(-1, 0), /virtq_avail\.ring\[-1\] is outside 0\.\.7/);
    assert.throws(() => new VirtqAvail(view, 0, 0).ring(0), /ring\[0\] is outside an empty array/);

    const used = new VirtqUsed(view, 64, 4);
    assert.equal(VirtqUsed.size(4), 6 + 32);
    used.ring(3).id = 0xaabbccdd;
    used.ring(3).len = 7;
    used.availEvent = 9;
    assert.equal(used.ringOffset(3), 64 + 4 + 24);
    assert.deepEqual(bytes(view, 64 + 4 + 24, 8), [0xdd, 0xcc, 0xbb, 0xaa, 7, 0, 0, 0]);
    assert.deepEqual(bytes(view, 64 + 4 + 32, 2), [9, 0]);
    assert.equal(VirtqUsedElem.SIZE, 8);
  });

  Deno.test(`pvirtq_event_suppress bitfields over ${label}`, () => {
    const view = make();
    const e = new PvirtqEventSuppress(view, 100);
    e.descEventOff = 0x7fff;
    e.descEventWrap = 0;
    assert.deepEqual(bytes(view, 100, 2), [0xff, 0x7f]);
    e.descEventWrap = 1;
    e.descEventOff = 5;
    assert.deepEqual(bytes(view, 100, 2), [0x05, 0x80]);
    assert.equal(e.desc, 0x8005);
    e.descEventFlags = 2;
    e.reserved = 0;
    assert.deepEqual(bytes(view, 102, 2), [0x02, 0x00]);
    e.descEventFlags = 7; // masked to 2 bits
    assert.equal(e.descEventFlags, 3);
    assert.equal(e.reserved, 0, "a bitfield write does not spill into its neighbour");
  });
}

Deno.test("constants: flags, feature bit numbers and status bits", () => {
  assert.equal(VIRTQ_DESC_F_NEXT, 1);
  assert.equal(VIRTQ_DESC_F_WRITE, 2);
  assert.equal(VIRTQ_DESC_F_INDIRECT, 4);
  assert.equal(VIRTIO_F_VERSION_1, 32);
  assert.equal(VirtioFeatures.VIRTIO_F_RING_PACKED, 34);
  assert.equal(DeviceStatus.FEATURES_OK, 8);
  assert.equal(DeviceStatus.FAILED, 128);
  assert.ok(Object.isFrozen(DeviceStatus));
});

// Big-endian scalars, nested structs, unions and byte arrays, on a schema of
// our own generated at test time.
const inner = struct("t_inner", { a: be16, b: u8 });
const variant = union("t_union", { word: be32, raw: array(u8, 6) });
const outer = struct("t_outer", {
  tag: u8,
  inner,
  big: be64,
  u: variant,
  tail: le16,
  wide: le64,
});

Deno.test("generated big-endian, nested struct, union and byte array accessors", async () => {
  const [file] = await generateModules([{ source: "t.ts", output: "t.ts", items: [outer] }], {
    index: false,
    format: false,
    errors: ERRORS_SHIM,
  });
  const dir = await Deno.makeTempDir();
  try {
    await writeErrorsShim(dir);
    await Deno.writeTextFile(`${dir}/t.ts`, file.text);
    const mod = await import(`file://${dir}/t.ts`);
    const view = new DataView(new ArrayBuffer(32));
    const o = new mod.TOuter(view, 1);
    assert.equal(mod.TOuter.SIZE, 1 + 3 + 8 + 6 + 2 + 8);
    o.tag = 0xaa;
    o.inner.a = 0x1234;
    o.inner.b = 0x56;
    o.big = 0x0102030405060708n;
    o.u.word = 0xdeadbeef;
    o.tail = 0x0a0b;
    o.wide = 0xffff_ffff_ffff_ffffn;
    assert.deepEqual(bytes(view, 1, 4), [0xaa, 0x12, 0x34, 0x56]);
    assert.deepEqual(bytes(view, 5, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(bytes(view, 13, 6), [0xde, 0xad, 0xbe, 0xef, 0, 0]);
    assert.deepEqual(bytes(view, 19, 2), [0x0b, 0x0a]);
    assert.equal(o.wide, 0xffff_ffff_ffff_ffffn);
    const raw: Uint8Array = o.u.rawBytes();
    assert.equal(raw.length, 6);
    raw[5] = 0x77;
    assert.equal(o.u.raw(5), 0x77, "the byte view is zero-copy");
    assert.throws(
      () => o.u.raw(6),
      (e: unknown) => e instanceof ArgumentError && e.message === "t_union.raw[6] is outside 0..5",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Out-of-range writes: truncated by default (as C assignments and DataView setters do), an
// ArgumentError with a code in bindings generated with `checked`.
const mode_cfg = struct("t_mode_cfg", {
  num_queues: le16,
  ctl: bits(le16, { mode: 3, rest: 13 }),
  tags: array(u8, 2),
  big: le64,
  addr: addr(),
});

for (const checked of [false, true]) {
  Deno.test(`out-of-range writes, ${checked ? "checked: throw" : "default: truncate"}`, async () => {
    const [file] = await generateModules(
      [{ source: "m.ts", output: `m${checked}.ts`, items: [mode_cfg] }],
      { index: false, format: false, errors: ERRORS_SHIM, checked },
    );
    const dir = await Deno.makeTempDir();
    try {
      await writeErrorsShim(dir);
      await Deno.writeTextFile(`${dir}/${file.path}`, file.text);
      const mod = await import(new URL(`file://${dir}/${file.path}`).href);
      const view = new DataView(new ArrayBuffer(32));
      const c = new mod.TModeCfg(view);
      // in range: the same in both modes
      c.numQueues = 65535;
      c.mode = 7;
      c.setTags(1, 255);
      c.big = 2n ** 64n - 1n;
      c.addr = Number.MAX_SAFE_INTEGER;
      assert.deepEqual([c.numQueues, c.mode, c.tags(1)], [65535, 7, 255]);
      const bad: [string, () => void, RegExp][] = [
        ["numQueues = 70000", () => c.numQueues = 70000, /t_mode_cfg\.num_queues: 70000/],
        [
          "mode = 9",
          () => c.mode = 9,
          /t_mode_cfg\.ctl\.mode: 9 does not fit; .*0\.\.7 \(3 bits\)/,
        ],
        ["mode = -1", () => c.mode = -1, /mode: -1/],
        ["numQueues = 1.5", () => c.numQueues = 1.5, /num_queues: 1\.5/],
        ["setTags(0, 256)", () => c.setTags(0, 256), /t_mode_cfg\.tags\[\]: 256/],
        ["big = 2^64", () => c.big = 2n ** 64n, /big: 18446744073709551616/],
        ["addr = -1", () => c.addr = -1, /addr: -1/],
      ];
      if (checked) {
        view.setUint16(0, 0x1234, true);
        view.setUint16(2, 0x0005, true);
        for (const [what, write, message] of bad) {
          assert.throws(
            write,
            (e: unknown) =>
              e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_RANGE" &&
              message.test(e.message),
            what,
          );
        }
        assert.equal(view.getUint16(0, true), 0x1234, "a refused write changes nothing");
        assert.equal(view.getUint16(2, true), 0x0005);
      } else {
        c.numQueues = 70000; // 0x11170: the low 16 bits stay
        assert.equal(c.numQueues, 0x1170);
        view.setUint16(2, 0, true);
        c.mode = 9; // 0b1001 in a 3-bit field: 0b001, and the neighbouring bits untouched
        assert.equal(c.mode, 1);
        assert.equal(c.rest, 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// The flyweight's state is created by the constructor, not by class-field definitions: with
// `view;` and `offset;` fields, V8 first stores `undefined` in them and then keeps `offset` as a
// generic (tagged) field, and each setter after `desc.offset = o` checks and unboxes it again
// (docs/architecture.md, "Setters"). The emitted source says `declare`, and the class that runs
// (as the runtime transpiled it) defines no field.
const sized = struct("t_sized", { n: le16, items: array(le16, "count") });

Deno.test("accessor state is declared, not defined as class fields", async () => {
  const [file] = await generateModules(
    [{ source: "t.ts", output: "t.ts", items: [mode_cfg, sized] }],
    { index: false, format: false, errors: ERRORS_SHIM },
  );
  for (const field of ["view: DataView;", "offset: number;", "count: number;"]) {
    assert.match(file.text, new RegExp(`declare ${field}`), field);
    assert.doesNotMatch(file.text, new RegExp(`^\\s*${field}`, "m"), field);
  }
  for (const cls of [VirtqDesc, VirtqAvail, VirtqUsed]) {
    const body = cls.toString();
    assert.doesNotMatch(body, /^\s*(view|offset|queueSize)\s*(;|=)/m, cls.name);
  }
  const d = new VirtqDesc(new DataView(new ArrayBuffer(32)), 16);
  assert.deepEqual(Object.keys(d), ["view", "offset"]);
  const a = new VirtqAvail(new DataView(new ArrayBuffer(64)), 8, 4);
  assert.deepEqual(Object.keys(a), ["view", "offset", "queueSize"]);
  assert.equal(a.queueSize, 4);
});
