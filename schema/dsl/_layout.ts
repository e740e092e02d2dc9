/**
 * Layout and validation of a schema: offsets and sizes of structs and unions, and the checks
 * that reject an invalid struct, union or constant group with a `SchemaError`. Re-exported by
 * `schema/dsl.ts`.
 *
 * @module
 */

import { SchemaError } from "../../src/errors.ts";
import {
  type ArrayType,
  type BitsType,
  type ConstantGroup,
  type FieldDef,
  scalars,
  type ScalarType,
  type StructType,
  type Type,
  type UnionType,
} from "./_types.ts";
import { accessorName, camel } from "./_names.ts";

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

export function validateConstants(g: ConstantGroup): void {
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
