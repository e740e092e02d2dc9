// Property tests of the DSL and generator.
//
// Valid schemas: random structs of scalars, scalar arrays, bitfield words and
// nested structs; the generated accessors must agree, byte for byte, with a
// slow reference encoder that computes offsets on its own (fields packed one
// after another; bitfields from the least significant bit, each at the sum of
// the widths before it, taken from the shapes the test asked for, not from the
// DSL's layout) and writes bytes one at a time. Every leaf is checked again
// after all writes, so a setter that clobbers another field fails.
//
// Invalid schemas: each kind of mistake is rejected with a SchemaError that
// names the schema and the field.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  array,
  bits,
  field,
  type ScalarName,
  scalars,
  SchemaError,
  struct,
  type StructType,
  type Type,
} from "../../schema/dsl.ts";
import { camel, pascal } from "../../schema/dsl.ts";
import { generateModules } from "../../gen/mod.ts";
import { ERRORS_SHIM, writeErrorsShim } from "./_generated_module.ts";

type FieldShape =
  | { kind: "scalar"; type: ScalarName; asNumber: boolean }
  | { kind: "array"; type: ScalarName; length: number }
  | { kind: "bits"; type: ScalarName; widths: number[] }
  | { kind: "struct"; fields: FieldShape[] };

const scalarName = fc.constantFrom<ScalarName>(
  "u8",
  "le16",
  "le32",
  "le64",
  "be16",
  "be32",
  "be64",
);

const shape: fc.Arbitrary<FieldShape> = fc.letrec<{ f: FieldShape }>((tie) => ({
  f: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("scalar" as const), type: scalarName, asNumber: fc.boolean() }),
    fc.record({
      kind: fc.constant("array" as const),
      type: scalarName,
      length: fc.integer({ min: 1, max: 5 }),
    }),
    fc.record({
      kind: fc.constant("bits" as const),
      type: fc.constantFrom<ScalarName>("u8", "le16", "le32", "be16", "be32"),
      widths: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant("struct" as const),
      fields: fc.array(tie("f"), { minLength: 1, maxLength: 3 }),
    }),
  ),
})).f;

let counter = 0;

/** Builds the schema for a list of shapes, fixing bitfield widths to fit their word. */
function build(shapes: FieldShape[], name: string): StructType {
  const fields: Record<string, ReturnType<typeof field> | Type> = {};
  shapes.forEach((s, i) => {
    const n = `f${i}`;
    switch (s.kind) {
      case "scalar": {
        const t = scalars[s.type];
        fields[n] = t.size === 8 && s.asNumber ? field(t, { asNumber: true }) : t;
        break;
      }
      case "array":
        fields[n] = array(scalars[s.type], s.length);
        break;
      case "bits": {
        const word = scalars[s.type];
        const widths = fit(s.widths, word.size * 8);
        fields[n] = bits(word, Object.fromEntries(widths.map((w, j) => [`${n}_b${j}`, w])));
        break;
      }
      case "struct":
        fields[n] = build(s.fields, `${name}_s${i}`);
        break;
    }
  });
  return struct(name, fields);
}

function fit(widths: number[], max: number): number[] {
  const out: number[] = [];
  let used = 0;
  for (const w of widths) {
    if (used + w > max) break;
    out.push(w);
    used += w;
  }
  return out.length ? out : [1];
}

// --- the reference: offsets by plain summation, bytes one at a time ---------

function refSize(t: Type): number {
  switch (t.kind) {
    case "scalar":
      return t.size;
    case "bits":
      return t.word.size;
    case "array":
      return (t.length as number) * refSize(t.element);
    case "struct":
    case "union":
      return t.fields.reduce((n, f) => n + refSize(f.type), 0);
  }
}

function refWrite(buf: Uint8Array, at: number, size: number, le: boolean, value: bigint): void {
  for (let i = 0; i < size; i++) {
    const byte = Number((value >> BigInt(8 * i)) & 0xffn);
    buf[le ? at + i : at + size - 1 - i] = byte;
  }
}

function refRead(buf: Uint8Array, at: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v |= BigInt(buf[le ? at + i : at + size - 1 - i]) << BigInt(8 * i);
  return v;
}

/** A leaf: how to reach it through the accessor, where the reference puts it. */
interface Leaf {
  path: string[];
  index?: number;
  at: number;
  size: number;
  le: boolean;
  asNumber: boolean;
  bit?: { lsb: number; width: number };
}

function leaves(
  t: StructType,
  shapes: FieldShape[],
  base: number,
  path: string[],
  out: Leaf[],
): void {
  let at = base;
  assert.equal(t.fields.length, shapes.length, "one field per shape");
  t.fields.forEach((f, i) => {
    const ft = f.type;
    const sh = shapes[i];
    const name = camel(f.name);
    if (ft.kind === "scalar") {
      out.push({
        path: [...path, name],
        at,
        size: ft.size,
        le: ft.littleEndian,
        asNumber: !!f.asNumber,
      });
    } else if (ft.kind === "array" && ft.element.kind === "scalar") {
      const el = ft.element;
      for (let i = 0; i < (ft.length as number); i++) {
        out.push({
          path: [...path, name],
          index: i,
          at: at + i * el.size,
          size: el.size,
          le: el.littleEndian,
          asNumber: false,
        });
      }
    } else if (ft.kind === "bits") {
      assert.equal(sh.kind, "bits");
      if (sh.kind !== "bits") return;
      // Positions from the widths the test asked for: the first field at bit
      // 0, each next one where the previous ended (the DSL's documented rule).
      let lsb = 0;
      fit(sh.widths, ft.word.size * 8).forEach((width, j) => {
        out.push({
          path: [...path, camel(`f${i}_b${j}`)],
          at,
          size: ft.word.size,
          le: ft.word.littleEndian,
          asNumber: false,
          bit: { lsb, width },
        });
        lsb += width;
      });
    } else if (ft.kind === "struct") {
      assert.equal(sh.kind, "struct");
      if (sh.kind === "struct") leaves(ft, sh.fields, at, [...path, name], out);
    }
    at += refSize(ft);
  });
}

/** The leaf's value as the reference reads it from the bytes. */
function refLeaf(buf: Uint8Array, leaf: Leaf): bigint {
  const word = refRead(buf, leaf.at, leaf.size, leaf.le);
  return leaf.bit ? (word >> BigInt(leaf.bit.lsb)) & maxOf(leaf) : word;
}

// deno-lint-ignore no-explicit-any
type Accessor = any;

function target(root: Accessor, leaf: Leaf): [Accessor, string] {
  let o = root;
  for (const p of leaf.path.slice(0, -1)) o = o[p];
  return [o, leaf.path[leaf.path.length - 1]];
}

function accessorRead(root: Accessor, leaf: Leaf): bigint {
  const [o, name] = target(root, leaf);
  const v = leaf.index === undefined ? o[name] : o[name](leaf.index);
  return BigInt(v);
}

function accessorWrite(root: Accessor, leaf: Leaf, v: bigint): void {
  const [o, name] = target(root, leaf);
  const value = leaf.size === 8 && !leaf.asNumber && !leaf.bit ? v : Number(v);
  if (leaf.index === undefined) o[name] = value;
  else o[`set${name[0].toUpperCase()}${name.slice(1)}`](leaf.index, value);
}

function maxOf(leaf: Leaf): bigint {
  if (leaf.bit) return (1n << BigInt(leaf.bit.width)) - 1n;
  if (leaf.asNumber) return BigInt(Number.MAX_SAFE_INTEGER);
  return (1n << BigInt(8 * leaf.size)) - 1n;
}

Deno.test("property: generated accessors agree with a reference encoder", async () => {
  const dir = await Deno.makeTempDir();
  await writeErrorsShim(dir);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(shape, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 64, maxLength: 64 }),
        async (shapes, base, values) => {
          const name = `p${counter++}`;
          const schema = build(shapes, name);
          const [file] = await generateModules(
            [{ source: `${name}.ts`, output: `${name}.ts`, items: [schema] }],
            { index: false, format: false, errors: ERRORS_SHIM },
          );
          await Deno.writeTextFile(`${dir}/${name}.ts`, file.text);
          const mod = await import(`file://${dir}/${name}.ts`);
          const Cls = mod[pascal(name)];
          const size = refSize(schema);
          assert.equal(Cls.SIZE, size, "size");
          const buf = new Uint8Array(size + 16);
          const view = new DataView(buf.buffer);
          const acc = new Cls(view, base);
          const ls: Leaf[] = [];
          leaves(schema, shapes, base, [], ls);
          const expected: bigint[] = [];
          ls.forEach((leaf, i) => {
            const v = values[i % values.length] & maxOf(leaf);
            // accessor write, reference read
            accessorWrite(acc, leaf, v);
            assert.equal(refLeaf(buf, leaf), v, `write ${leaf.path.join(".")}`);
            // reference write, accessor read
            const w = (values[(i + 7) % values.length]) & maxOf(leaf);
            if (leaf.bit) {
              const word = refRead(buf, leaf.at, leaf.size, leaf.le);
              const m = maxOf(leaf) << BigInt(leaf.bit.lsb);
              refWrite(buf, leaf.at, leaf.size, leaf.le, (word & ~m) | (w << BigInt(leaf.bit.lsb)));
            } else {
              refWrite(buf, leaf.at, leaf.size, leaf.le, w);
            }
            assert.equal(accessorRead(acc, leaf), w, `read ${leaf.path.join(".")}`);
            expected.push(w);
          });
          // after all writes, every leaf still holds its last value: no write
          // reached a field it does not own
          ls.forEach((leaf, i) => {
            const at = leaf.path.join(".") + (leaf.index === undefined ? "" : `(${leaf.index})`);
            assert.equal(refLeaf(buf, leaf), expected[i], `bytes of ${at} after all writes`);
            assert.equal(accessorRead(acc, leaf), expected[i], `${at} after all writes`);
          });
          // the same with every write through the accessor, all checks after
          const second = ls.map((leaf, i) => values[(i + 29) % values.length] & maxOf(leaf));
          ls.forEach((leaf, i) => accessorWrite(acc, leaf, second[i]));
          ls.forEach((leaf, i) => {
            const at = leaf.path.join(".") + (leaf.index === undefined ? "" : `(${leaf.index})`);
            assert.equal(refLeaf(buf, leaf), second[i], `bytes of ${at} after all accessor writes`);
            assert.equal(accessorRead(acc, leaf), second[i], `${at} after all accessor writes`);
          });
          // nothing outside the struct was touched
          for (let i = 0; i < base; i++) assert.equal(buf[i], 0, `byte ${i} before the struct`);
          for (let i = base + size; i < buf.length; i++) assert.equal(buf[i], 0, `byte ${i} after`);
        },
      ),
      { numRuns: 60, seed: 22 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- invalid schemas --------------------------------------------------------

type Mistake =
  | { kind: "overlap"; at: number }
  | { kind: "past_size"; size: number }
  | { kind: "duplicate" }
  | { kind: "wide_bits"; extra: number }
  | { kind: "unknown_type" }
  | { kind: "misaligned_register" };

const mistake: fc.Arbitrary<Mistake> = fc.oneof(
  fc.record({ kind: fc.constant("overlap" as const), at: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("past_size" as const), size: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("duplicate" as const) }),
  fc.record({ kind: fc.constant("wide_bits" as const), extra: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("unknown_type" as const) }),
  fc.record({ kind: fc.constant("misaligned_register" as const) }),
);

Deno.test("property: invalid schemas are rejected naming the schema and field", async () => {
  const { registers, reg, le32, le16, u8 } = await import("../../schema/dsl.ts");
  fc.assert(
    fc.property(mistake, fc.integer({ min: 0, max: 1000 }), (m, n) => {
      const schema = `bad_${n}`;
      let expectField: string;
      let make: () => unknown;
      switch (m.kind) {
        case "overlap":
          expectField = "second";
          make = () =>
            struct(schema, {
              first: field(le32, { offset: 0 }),
              second: field(le16, { offset: m.at }),
            });
          break;
        case "past_size":
          expectField = "value";
          make = () => struct(schema, { value: le32 }, { size: m.size });
          break;
        case "duplicate":
          // Object literals cannot repeat a key, but camelCase can collide.
          expectField = "queueSize";
          make = () => struct(schema, { queue_size: le16, queueSize: le16 });
          break;
        case "wide_bits":
          expectField = "word.b";
          make = () => struct(schema, { word: bits(u8, { a: 4, b: 4 + m.extra }) });
          break;
        case "unknown_type":
          expectField = "mystery";
          make = () =>
            struct(schema, {
              mystery: {
                kind: "scalar",
                name: "le24",
                size: 3,
                littleEndian: true,
              } as unknown as Type,
            });
          break;
        case "misaligned_register":
          expectField = "Status";
          make = () => registers(schema, { Status: reg(0x71, le32, "rw") });
          break;
      }
      let caught: unknown;
      try {
        make();
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof SchemaError, `${m.kind}: expected a SchemaError, got ${caught}`);
      assert.equal(caught.schema, schema);
      assert.equal(caught.field, expectField, `${m.kind}: ${caught.message}`);
      assert.match(caught.message, new RegExp(schema));
    }),
    { numRuns: 300, seed: 23 },
  );
});
