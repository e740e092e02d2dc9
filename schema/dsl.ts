/**
 * The schema DSL: virtio's binary layouts described as plain data.
 *
 * A schema module exports structs, unions, register maps and constant
 * groups built with the functions here. The generator (`gen/`) turns them
 * into zero-copy `DataView` accessors and a JSON manifest. Nothing here
 * computes offsets eagerly beyond validation: {@link layout} does that, and
 * rejects invalid schemas with a {@link SchemaError} naming the schema and
 * the field.
 *
 * Structs have no implicit padding: as in the virtio spec, fields follow one
 * another byte by byte unless a field gives an explicit `offset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { le16, le32, le64, layout, struct, u8 } from "./dsl.ts";
 *
 * const geometry = struct("virtio_blk_geometry", {
 *   cylinders: le16,
 *   heads: u8,
 *   sectors: u8,
 * });
 * const config = struct("virtio_blk_config", {
 *   capacity: le64,
 *   size_max: le32,
 *   seg_max: le32,
 *   geometry,
 * });
 * assert.equal(layout(config).size, 20);
 * ```
 *
 * @module
 */

import { SchemaError } from "../src/errors.ts";

export { SchemaError };

/** The names of the scalar types. */
export type ScalarName = "u8" | "le16" | "le32" | "le64" | "be16" | "be32" | "be64";

/** A scalar: an unsigned integer of 1, 2, 4 or 8 bytes in a fixed byte order. */
export interface ScalarType {
  /** Discriminant. */
  readonly kind: "scalar";
  /** The scalar's name (`le32`...). */
  readonly name: ScalarName;
  /** Size in bytes. */
  readonly size: 1 | 2 | 4 | 8;
  /** Byte order: true for little-endian. */
  readonly littleEndian: boolean;
}

function scalar(name: ScalarName, size: 1 | 2 | 4 | 8, littleEndian: boolean): ScalarType {
  return Object.freeze({ kind: "scalar", name, size, littleEndian });
}

/** An unsigned byte. */
export const u8: ScalarType = scalar("u8", 1, true);
/** A little-endian 16-bit unsigned integer. */
export const le16: ScalarType = scalar("le16", 2, true);
/** A little-endian 32-bit unsigned integer. */
export const le32: ScalarType = scalar("le32", 4, true);
/** A little-endian 64-bit unsigned integer. */
export const le64: ScalarType = scalar("le64", 8, true);
/** A big-endian 16-bit unsigned integer. */
export const be16: ScalarType = scalar("be16", 2, false);
/** A big-endian 32-bit unsigned integer. */
export const be32: ScalarType = scalar("be32", 4, false);
/** A big-endian 64-bit unsigned integer. */
export const be64: ScalarType = scalar("be64", 8, false);

/** All scalar types by name. */
export const scalars: Readonly<Record<ScalarName, ScalarType>> = Object.freeze({
  u8,
  le16,
  le32,
  le64,
  be16,
  be32,
  be64,
});

/** One named bitfield inside a word. */
export interface BitfieldDef {
  /** Field name as in the spec. */
  readonly name: string;
  /** Least significant bit, counting from 0. */
  readonly lsb: number;
  /** Width in bits. */
  readonly width: number;
  /** Documentation. */
  readonly doc?: string;
}

/** A scalar word split into named bitfields (spec notation `le16 { a : 15; b : 1; } word;`). */
export interface BitsType {
  /** Discriminant. */
  readonly kind: "bits";
  /** The word that holds the bitfields. */
  readonly word: ScalarType;
  /** The bitfields, from the least significant bit up. */
  readonly fields: readonly BitfieldDef[];
}

/** An array: a fixed number of elements, or a number given by a parameter (`ring[queue_size]`). */
export interface ArrayType {
  /** Discriminant. */
  readonly kind: "array";
  /** The element type. */
  readonly element: Type;
  /** A fixed element count, or the name of the parameter that gives it. */
  readonly length: number | string;
}

/** Where a register may be accessed from the driver's side. */
export type Access = "r" | "w" | "rw";

/** Options a field may carry. */
export interface FieldOptions {
  /** Documentation, copied into the generated JSDoc. */
  readonly doc?: string;
  /** Explicit byte offset (register maps, and structs with gaps). */
  readonly offset?: number;
  /** Driver-side access of a register: read-only, write-only or read-write. */
  readonly access?: Access;
  /**
   * The accessor's name, where the spec's field name cannot be one (`offset`,
   * `view`, `at`, `size` and a few others are taken by the accessor class).
   * Defaults to the camelCase of the field name.
   */
  readonly accessor?: string;
  /**
   * For 64-bit fields: read and write as `number` instead of `bigint`. Use
   * it for guest addresses and lengths that fit in 53 bits.
   */
  readonly asNumber?: boolean;
}

/** A field with its options. */
export interface FieldSpec extends FieldOptions {
  /** Discriminant. */
  readonly kind: "field";
  /** The field's type. */
  readonly type: Type;
}

/** A field as stored in a struct, after {@link struct} has normalised it. */
export interface FieldDef extends FieldOptions {
  /** The name, as in the spec. */
  readonly name: string;
  /** The field's type. */
  readonly type: Type;
}

/** A struct: fields one after another, or at explicit offsets. */
export interface StructType {
  /** Discriminant. */
  readonly kind: "struct";
  /** The name, as in the spec. */
  readonly name: string;
  /** The fields, in declaration order. */
  readonly fields: readonly FieldDef[];
  /** Documentation. */
  readonly doc?: string;
  /** A declared total size; fields may not pass it. */
  readonly size?: number;
  /** True for a register map built with {@link registers}. */
  readonly registerMap: boolean;
}

/** A union: every variant starts at offset 0; the size is that of the largest. */
export interface UnionType {
  /** Discriminant. */
  readonly kind: "union";
  /** The name, as in the spec. */
  readonly name: string;
  /** The fields, in declaration order. */
  readonly fields: readonly FieldDef[];
  /** Documentation. */
  readonly doc?: string;
  /** A declared total size in bytes. */
  readonly size?: number;
}

/** Any type a field may have. */
export type Type = ScalarType | StructType | UnionType | ArrayType | BitsType;

/** A value a struct's field map may hold: a bare type or a type with options. */
export type FieldInput = Type | FieldSpec;

/** Options of a struct, union or register map. */
export interface StructOptions {
  /** Documentation, copied into the generated JSDoc. */
  readonly doc?: string;
  /** A declared total size in bytes. */
  readonly size?: number;
}

/** A constant in a group, with its documentation. */
export interface ConstantDef {
  /** The name, as in the spec. */
  readonly name: string;
  /** The value. */
  readonly value: number;
  /** Documentation. */
  readonly doc?: string;
}

/**
 * What the values of a constant group mean: `flags` are bit masks,
 * `bits` are bit numbers (feature bits), `values` are codes (request types,
 * status codes, device ids).
 */
export type ConstantKind = "flags" | "bits" | "values";

/** A named group of constants: feature bits, status bits, request types... */
export interface ConstantGroup {
  /** Discriminant. */
  readonly kind: "constants";
  /** The name, as in the spec. */
  readonly name: string;
  /** What the values mean: masks, bit numbers or codes. */
  readonly constantKind: ConstantKind;
  /** The constants, in declaration order. */
  readonly constants: readonly ConstantDef[];
  /** Documentation. */
  readonly doc?: string;
  /**
   * Whether each constant is also exported on its own under its name. True
   * by default; switch it off where names are not unique across the spec
   * (the device status bits are called `ACKNOWLEDGE`, `DRIVER`, ...).
   */
  readonly exportMembers: boolean;
}

/** Anything a schema module may export for the generator. */
export type SchemaItem = StructType | UnionType | ConstantGroup;

/** Give a field options: documentation, an explicit offset, access, `asNumber`. */
export function field(type: Type, options: FieldOptions = {}): FieldSpec {
  return Object.freeze({ kind: "field", type, ...options });
}

/** Shorthand for a documented field. */
export function doc(type: Type, text: string): FieldSpec {
  return field(type, { doc: text });
}

/** A 64-bit field read and written as `number` (an address or a length below 2^53). */
export function addr(type: ScalarType = le64, text?: string): FieldSpec {
  return field(type, { asNumber: true, doc: text });
}

/** An array of a fixed length, or of a length given by a named parameter. */
export function array(element: Type, length: number | string): ArrayType {
  return Object.freeze({ kind: "array", element, length });
}

/**
 * A word split into bitfields, listed from the least significant bit up,
 * as the spec lists them. Each entry is a width, or a width with a doc.
 */
export function bits(
  word: ScalarType,
  fields: Record<string, number | { width: number; doc?: string }>,
): BitsType {
  let lsb = 0;
  const defs: BitfieldDef[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    const width = typeof spec === "number" ? spec : spec.width;
    const d = typeof spec === "number" ? undefined : spec.doc;
    defs.push(Object.freeze({ name, lsb, width, doc: d }));
    lsb += width;
  }
  return Object.freeze({ kind: "bits", word, fields: Object.freeze(defs) });
}

function normalise(fields: Record<string, FieldInput>): FieldDef[] {
  return Object.entries(fields).map(([name, input]) => {
    if (input !== null && typeof input === "object" && input.kind === "field") {
      const { kind: _kind, ...rest } = input;
      return Object.freeze({ name, ...rest });
    }
    return Object.freeze({ name, type: input as Type });
  });
}

/** A struct. Fields follow each other without padding unless given an `offset`. */
export function struct(
  name: string,
  fields: Record<string, FieldInput>,
  options: StructOptions = {},
): StructType {
  const s: StructType = Object.freeze({
    kind: "struct",
    name,
    fields: Object.freeze(normalise(fields)),
    doc: options.doc,
    size: options.size,
    registerMap: false,
  });
  layout(s);
  return s;
}

/** A union: all variants at offset 0. */
export function union(
  name: string,
  fields: Record<string, FieldInput>,
  options: StructOptions = {},
): UnionType {
  const u: UnionType = Object.freeze({
    kind: "union",
    name,
    fields: Object.freeze(normalise(fields)),
    doc: options.doc,
    size: options.size,
  });
  layout(u);
  return u;
}

/** One register of a register map: offset, width and access. */
export function reg(
  offset: number,
  type: Type,
  access: Access,
  text?: string,
  options: { asNumber?: boolean } = {},
): FieldSpec {
  return field(type, { offset, access, doc: text, ...options });
}

/**
 * A register map: every field has an explicit offset and access; gaps
 * between registers are allowed, overlaps are not.
 */
export function registers(
  name: string,
  fields: Record<string, FieldSpec>,
  options: StructOptions = {},
): StructType {
  const defs = normalise(fields);
  for (const f of defs) {
    if (f.offset === undefined) {
      throw new SchemaError(name, f.name, "a register needs an explicit offset");
    }
    if (f.access === undefined) {
      throw new SchemaError(name, f.name, "a register needs an access (r, w or rw)");
    }
    if (f.type.kind === "scalar" && f.offset % f.type.size !== 0) {
      throw new SchemaError(
        name,
        f.name,
        `offset ${f.offset} is not aligned to the register's ${f.type.size}-byte width`,
      );
    }
  }
  const s: StructType = Object.freeze({
    kind: "struct",
    name,
    fields: Object.freeze(defs),
    doc: options.doc,
    size: options.size,
    registerMap: true,
  });
  layout(s);
  return s;
}

function group(
  constantKind: ConstantKind,
  name: string,
  values: Record<string, number | { value: number; doc?: string }>,
  options: { doc?: string; exportMembers?: boolean },
): ConstantGroup {
  const constants = Object.entries(values).map(([n, v]) =>
    Object.freeze(
      typeof v === "number" ? { name: n, value: v } : { name: n, value: v.value, doc: v.doc },
    )
  );
  const g: ConstantGroup = Object.freeze({
    kind: "constants",
    name,
    constantKind,
    constants: Object.freeze(constants),
    doc: options.doc,
    exportMembers: options.exportMembers ?? true,
  });
  validateConstants(g);
  return g;
}

/** A group of bit masks (status bits, descriptor flags). */
export function flags(
  name: string,
  values: Record<string, number | { value: number; doc?: string }>,
  options: { doc?: string; exportMembers?: boolean } = {},
): ConstantGroup {
  return group("flags", name, values, options);
}

/** A group of bit numbers (feature bits). */
export function featureBits(
  name: string,
  values: Record<string, number | { value: number; doc?: string }>,
  options: { doc?: string; exportMembers?: boolean } = {},
): ConstantGroup {
  return group("bits", name, values, options);
}

/** A group of codes (request types, status values, event types, ids). */
export function enumeration(
  name: string,
  values: Record<string, number | { value: number; doc?: string }>,
  options: { doc?: string; exportMembers?: boolean } = {},
): ConstantGroup {
  return group("values", name, values, options);
}

// ---------------------------------------------------------------------------
// Layout: offsets and sizes, and validation.

/** One leaf or aggregate field with its computed place. */
export interface FieldLayout {
  /** The field's definition. */
  readonly def: FieldDef;
  /** Byte offset at parameter value 0; see `paramTerms` for the rest. */
  readonly offset: number;
  /**
   * How the offset grows with parameters: for each parameter, the bytes
   * added per unit (from parameter-length arrays before this field).
   */
  readonly paramTerms: Readonly<Record<string, number>>;
  /** Size in bytes; for a parameter-length array, the size of one element. */
  readonly size: number;
}

/** The computed layout of a struct or union. */
export interface Layout {
  /** The name, as in the spec. */
  readonly name: string;
  /** The fields with their places, in declaration order. */
  readonly fields: readonly FieldLayout[];
  /** Size at parameter value 0. */
  readonly size: number;
  /** How the size grows with each parameter. */
  readonly paramTerms: Readonly<Record<string, number>>;
  /** The parameters, in order of first use. */
  readonly params: readonly string[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set([
  "view",
  "offset",
  "at",
  "write",
  "constructor",
  "prototype",
  "SIZE",
  "OFFSETS",
  "size",
  "toString",
  "valueOf",
]);

/** The size of a type, at parameter 0. Throws for a parameter-length array. */
export function sizeOf(t: Type, owner = "?", fieldName?: string): number {
  switch (t.kind) {
    case "scalar":
      return t.size;
    case "bits":
      return t.word.size;
    case "struct":
    case "union": {
      const l = layout(t);
      if (l.params.length > 0) {
        throw new SchemaError(
          owner,
          fieldName,
          `${t.name} has a parameter-length array and cannot be nested or repeated`,
        );
      }
      return l.size;
    }
    case "array": {
      if (typeof t.length !== "number") {
        throw new SchemaError(owner, fieldName, "a parameter-length array cannot be nested");
      }
      return t.length * sizeOf(t.element, owner, fieldName);
    }
  }
}

const cache = new WeakMap<StructType | UnionType, Layout>();

function checkType(t: unknown, owner: string, fieldName: string): asserts t is Type {
  if (t === null || typeof t !== "object" || !("kind" in t)) {
    throw new SchemaError(owner, fieldName, `unknown type ${String(t)}`);
  }
  const k = (t as { kind: unknown }).kind;
  if (k === "scalar") {
    const s = t as ScalarType;
    const known = Object.hasOwn(scalars, s.name) ? scalars[s.name] : undefined;
    if (known === undefined || known.size !== s.size || known.littleEndian !== s.littleEndian) {
      throw new SchemaError(owner, fieldName, `unknown scalar type ${String(s.name)}`);
    }
    return;
  }
  if (k === "struct" || k === "union") return;
  if (k === "array") {
    const a = t as ArrayType;
    if (typeof a.length === "number") {
      if (!Number.isInteger(a.length) || a.length < 1) {
        throw new SchemaError(
          owner,
          fieldName,
          `array length ${a.length} is not a positive integer`,
        );
      }
    } else if (typeof a.length !== "string" || !IDENT.test(a.length)) {
      throw new SchemaError(owner, fieldName, `array parameter ${String(a.length)} is not a name`);
    }
    checkType(a.element, owner, fieldName);
    if (a.element.kind === "array") {
      throw new SchemaError(owner, fieldName, "arrays of arrays are not supported; use a struct");
    }
    return;
  }
  if (k === "bits") {
    const b = t as BitsType;
    checkType(b.word, owner, fieldName);
    if (b.word.kind !== "scalar") {
      throw new SchemaError(owner, fieldName, "a bitfield word must be a scalar");
    }
    const width = b.word.size * 8;
    for (const bf of b.fields) {
      if (!Number.isInteger(bf.width) || bf.width < 1) {
        throw new SchemaError(
          owner,
          `${fieldName}.${bf.name}`,
          `bitfield width ${bf.width} is not positive`,
        );
      }
      if (bf.lsb + bf.width > width) {
        throw new SchemaError(
          owner,
          `${fieldName}.${bf.name}`,
          `bitfield ends at bit ${bf.lsb + bf.width}, past the ${width}-bit ${b.word.name} word`,
        );
      }
      if (bf.width > 32) {
        throw new SchemaError(
          owner,
          `${fieldName}.${bf.name}`,
          "bitfields wider than 32 bits are not supported",
        );
      }
    }
    return;
  }
  throw new SchemaError(owner, fieldName, `unknown type kind ${String(k)}`);
}

/**
 * Compute (and cache) the layout of a struct or union, validating it.
 * Throws {@link SchemaError} naming the schema and field for: duplicate
 * names, unknown types, overlapping fields, fields past a declared size,
 * bitfields wider than their word, misplaced parameter arrays.
 */
export function layout(t: StructType | UnionType): Layout {
  const hit = cache.get(t);
  if (hit) return hit;
  const owner = t.name;
  if (typeof owner !== "string" || !IDENT.test(owner)) {
    throw new SchemaError(String(owner), undefined, "the name is not an identifier");
  }
  if (t.fields.length === 0) throw new SchemaError(owner, undefined, "has no fields");
  const seen = new Set<string>();
  const memberNames = new Set<string>();
  const fields: FieldLayout[] = [];
  let cursor = 0;
  let cursorTerms: Record<string, number> = {};
  let end = 0;
  let endTerms: Record<string, number> = {};
  const params: string[] = [];
  const occupied: { name: string; from: number; to: number }[] = [];
  for (const f of t.fields) {
    if (!IDENT.test(f.name)) throw new SchemaError(owner, f.name, "the name is not an identifier");
    if (seen.has(f.name)) throw new SchemaError(owner, f.name, "duplicate field name");
    if (f.accessor !== undefined && !IDENT.test(f.accessor)) {
      throw new SchemaError(owner, f.name, `accessor name ${f.accessor} is not an identifier`);
    }
    if (RESERVED.has(accessorName(f))) {
      throw new SchemaError(
        owner,
        f.name,
        `the accessor name ${accessorName(f)} is taken by the generated class; ` +
          "give the field another with field(type, { accessor: ... })",
      );
    }
    seen.add(f.name);
    checkType(f.type, owner, f.name);
    for (const m of memberName(f)) {
      if (memberNames.has(m)) throw new SchemaError(owner, f.name, `duplicate accessor name ${m}`);
      if (RESERVED.has(m)) {
        throw new SchemaError(
          owner,
          f.name,
          `the bitfield accessor ${m} is taken by the generated class`,
        );
      }
      memberNames.add(m);
    }
    if (f.asNumber && !(f.type.kind === "scalar" && f.type.size === 8)) {
      throw new SchemaError(owner, f.name, "asNumber applies only to 64-bit scalars");
    }
    const isParamArray = f.type.kind === "array" && typeof f.type.length === "string";
    const size = isParamArray
      ? sizeOf((f.type as ArrayType).element, owner, f.name)
      : sizeOf(f.type, owner, f.name);
    let offset: number;
    let terms: Record<string, number>;
    if (t.kind === "union") {
      if (f.offset !== undefined && f.offset !== 0) {
        throw new SchemaError(owner, f.name, "a union variant starts at offset 0");
      }
      if (isParamArray) {
        throw new SchemaError(owner, f.name, "a union cannot hold a parameter-length array");
      }
      offset = 0;
      terms = {};
    } else if (f.offset !== undefined) {
      if (!Number.isInteger(f.offset) || f.offset < 0) {
        throw new SchemaError(owner, f.name, `offset ${f.offset} is not a non-negative integer`);
      }
      if (Object.keys(cursorTerms).length > 0) {
        throw new SchemaError(
          owner,
          f.name,
          "an explicit offset cannot follow a parameter-length array",
        );
      }
      offset = f.offset;
      terms = {};
    } else {
      offset = cursor;
      terms = { ...cursorTerms };
    }
    const fieldEnd = offset + (isParamArray ? 0 : size);
    if (Object.keys(terms).length === 0 && !isParamArray && t.kind === "struct") {
      for (const o of occupied) {
        if (offset < o.to && o.from < fieldEnd) {
          throw new SchemaError(
            owner,
            f.name,
            `bytes ${offset}..${fieldEnd - 1} overlap field ${o.name} at ${o.from}..${o.to - 1}`,
          );
        }
      }
      occupied.push({ name: f.name, from: offset, to: fieldEnd });
    }
    if (t.size !== undefined && Object.keys(terms).length === 0 && fieldEnd > t.size) {
      throw new SchemaError(
        owner,
        f.name,
        `ends at byte ${fieldEnd}, past the declared size ${t.size}`,
      );
    }
    if (isParamArray) {
      const p = (f.type as ArrayType).length as string;
      if (!params.includes(p)) params.push(p);
      terms = { ...terms };
      cursorTerms = { ...terms, [p]: (terms[p] ?? 0) + size };
      cursor = offset;
    } else {
      cursor = fieldEnd;
      cursorTerms = terms;
    }
    fields.push(Object.freeze({ def: f, offset, paramTerms: Object.freeze(terms), size }));
    if (t.kind === "union") {
      if (fieldEnd > end) end = fieldEnd;
    } else if (Object.keys(cursorTerms).length > 0) {
      end = cursor;
      endTerms = cursorTerms;
    } else if (cursor > end) {
      end = cursor;
    }
  }
  for (const p of params) {
    if (memberNames.has(camel(p)) || RESERVED.has(camel(p))) {
      throw new SchemaError(owner, undefined, `the parameter ${p} collides with an accessor name`);
    }
  }
  if (t.size !== undefined) {
    if (!Number.isInteger(t.size) || t.size < 1) {
      throw new SchemaError(owner, undefined, `declared size ${t.size} is not a positive integer`);
    }
    if (Object.keys(endTerms).length > 0) {
      throw new SchemaError(
        owner,
        undefined,
        "a struct with a parameter-length array cannot declare a size",
      );
    }
    end = t.size;
  }
  // A parameter becomes a property of the generated class: it must not take
  // the name of an accessor, or of the members an array field generates.
  const arrayMembers = new Set<string>();
  for (const f of t.fields) {
    if (f.type.kind !== "array") continue;
    const name = accessorName(f);
    arrayMembers.add(`${name}Offset`).add(`set${name[0].toUpperCase()}${name.slice(1)}`);
    if (f.type.element.kind === "scalar" && f.type.element.size === 1) {
      arrayMembers.add(`${name}Bytes`);
    }
  }
  for (const p of params) {
    const m = camel(p);
    if (memberNames.has(m) || arrayMembers.has(m) || RESERVED.has(m)) {
      throw new SchemaError(owner, p, `the parameter's name ${m} is taken by an accessor`);
    }
  }
  const result: Layout = Object.freeze({
    name: owner,
    fields: Object.freeze(fields),
    size: end,
    paramTerms: Object.freeze(endTerms),
    params: Object.freeze(params),
  });
  cache.set(t, result);
  return result;
}

/** The accessor member names a field produces (the field itself and any bitfields). */
function memberName(f: FieldDef): string[] {
  const names = [accessorName(f)];
  if (f.type.kind === "bits") { for (const b of f.type.fields) names.push(camel(b.name)); }
  return names;
}

/** The name of a field's accessor: its `accessor` option, or the camelCase of its name. */
export function accessorName(f: FieldDef): string {
  return f.accessor ?? camel(f.name);
}

/** `size_max` -> `sizeMax`, `QueueDescLow` -> `queueDescLow`. */
export function camel(name: string): string {
  const parts = name.split("_").filter((p) => p.length > 0);
  if (parts.length === 0) return name;
  const first = parts[0];
  const head = first === first.toUpperCase() && first.length > 1
    ? first.toLowerCase()
    : first[0].toLowerCase() + first.slice(1);
  return head +
    parts.slice(1).map((p) =>
      p === p.toUpperCase() ? p[0] + p.slice(1).toLowerCase() : p[0].toUpperCase() + p.slice(1)
    ).join("");
}

/** `virtio_blk_config` -> `VirtioBlkConfig`. */
export function pascal(name: string): string {
  const c = camel(name);
  return c[0].toUpperCase() + c.slice(1);
}

function validateConstants(g: ConstantGroup): void {
  if (!IDENT.test(g.name)) {
    throw new SchemaError(g.name, undefined, "the name is not an identifier");
  }
  if (g.constants.length === 0) {
    throw new SchemaError(g.name, undefined, "the group has no constants");
  }
  const seen = new Set<string>();
  for (const c of g.constants) {
    if (!IDENT.test(c.name)) throw new SchemaError(g.name, c.name, "the name is not an identifier");
    if (seen.has(c.name)) throw new SchemaError(g.name, c.name, "duplicate constant name");
    seen.add(c.name);
    if (typeof c.value !== "number" || !Number.isSafeInteger(c.value) || c.value < 0) {
      throw new SchemaError(
        g.name,
        c.name,
        `value ${String(c.value)} is not a non-negative integer`,
      );
    }
    if (g.constantKind === "bits" && c.value > 127) {
      throw new SchemaError(g.name, c.name, `feature bit ${c.value} is past bit 127`);
    }
  }
}

/** Whether a value is something the generator takes from a schema module. */
export function isSchemaItem(v: unknown): v is SchemaItem {
  if (v === null || typeof v !== "object") return false;
  const k = (v as { kind?: unknown }).kind;
  return k === "struct" || k === "union" || k === "constants";
}
