// DSL rules that the property tests do not reach: names the accessor class
// takes for itself, parameter arrays where they cannot go, declared sizes.
import assert from "node:assert/strict";
import {
  array,
  bits,
  field,
  layout,
  le16,
  le32,
  reg,
  registers,
  SchemaError,
  struct,
  u8,
  union,
} from "../../schema/dsl.ts";
import { VirtioPciCap } from "../../src/generated/pci.ts";

function rejects(make: () => unknown, field: string | undefined, pattern: RegExp): void {
  try {
    make();
  } catch (e) {
    assert.ok(e instanceof SchemaError, String(e));
    assert.equal(e.field, field);
    assert.match(e.message, pattern);
    return;
  }
  assert.fail(`expected a SchemaError matching ${pattern}`);
}

Deno.test("a length parameter may not take the name of a generated member", () => {
  // `data` makes dataBytes(), dataOffset(i) and setData(i, v).
  for (const param of ["data_bytes", "data_offset", "set_data"]) {
    rejects(
      () => struct(`p_${param}`, { len: le32, data: array(u8, param) }),
      param,
      /parameter's name .* is taken by an accessor/,
    );
  }
  assert.deepEqual(layout(struct("p_ok", { len: le32, data: array(u8, "data_len") })).params, [
    "data_len",
  ]);
});

Deno.test("a spec field named like an accessor member needs an accessor name", () => {
  rejects(() => struct("cap", { offset: le32 }), "offset", /taken by the generated class/);
  rejects(
    () => struct("cap2", { word: bits(le16, { view: 4 }) }),
    "word",
    /bitfield accessor view/,
  );
  const ok = struct("cap3", { offset: field(le32, { accessor: "barOffset" }) });
  assert.equal(layout(ok).fields[0].def.name, "offset", "the spec name is kept");
  rejects(
    () => struct("cap4", { offset: field(le32, { accessor: "bar-offset" }) }),
    "offset",
    /not an identifier/,
  );
  // The generated PCI capability keeps the spec name in the schema and reads through barOffset.
  const cap = new VirtioPciCap(new DataView(new ArrayBuffer(16)));
  cap.barOffset = 0x3000;
  assert.equal(new DataView(cap.view.buffer).getUint32(8, true), 0x3000);
});

Deno.test("parameter-length arrays only where offsets stay computable", () => {
  const ring = struct("ring_of", { idx: le16, ring: array(le16, "queue_size") });
  rejects(() => struct("holder", { inner: ring }), "inner", /parameter-length array/);
  rejects(() => union("u_param", { a: array(u8, "n") }), "a", /union cannot hold/);
  rejects(
    () => struct("after", { a: array(u8, "n"), b: field(le32, { offset: 8 }) }),
    "b",
    /explicit offset cannot follow/,
  );
  rejects(
    () => struct("collide", { n: le16, data: array(u8, "n") }),
    undefined,
    /parameter n collides/,
  );
  rejects(
    () => struct("sized", { data: array(u8, "n") }, { size: 8 }),
    undefined,
    /cannot declare a size/,
  );
  rejects(() => struct("zero", { data: array(u8, 0) }), "data", /not a positive integer/);
});

Deno.test("register maps: explicit offsets, gaps, access and alignment", () => {
  const regs = registers("regs", {
    A: reg(0x00, le32, "r"),
    B: reg(0x10, le32, "w"),
    C: reg(0x14, le16, "rw"),
  }, { size: 0x20 });
  const l = layout(regs);
  assert.deepEqual(l.fields.map((f) => [f.def.name, f.offset, f.def.access]), [
    ["A", 0, "r"],
    ["B", 0x10, "w"],
    ["C", 0x14, "rw"],
  ]);
  assert.equal(l.size, 0x20);
  rejects(() => registers("r2", { A: field(le32, { access: "r" }) }), "A", /explicit offset/);
  rejects(() => registers("r3", { A: field(le32, { offset: 0 }) }), "A", /needs an access/);
  rejects(
    () => registers("r4", { A: reg(0x1c, le32, "r") }, { size: 0x1e }),
    "A",
    /past the declared size 30/,
  );
});

Deno.test("unions take the size of their largest variant", () => {
  const u = union("u_sizes", { a: u8, b: array(u8, 128), c: le32 });
  assert.equal(layout(u).size, 128);
  assert.ok(layout(u).fields.every((f) => f.offset === 0));
});
