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
import {
  type Access,
  type ArrayType,
  type BitfieldDef,
  type BitsType,
  type ConstantGroup,
  type ConstantKind,
  type FieldDef,
  type FieldInput,
  type FieldOptions,
  type FieldSpec,
  le64,
  type ScalarType,
  type StructOptions,
  type StructType,
  type Type,
  type UnionType,
} from "./dsl/_types.ts";
import { layout, validateConstants } from "./dsl/_layout.ts";

export { SchemaError };
export {
  type Access,
  type ArrayType,
  be16,
  be32,
  be64,
  type BitfieldDef,
  type BitsType,
  type ConstantDef,
  type ConstantGroup,
  type ConstantKind,
  type FieldDef,
  type FieldInput,
  type FieldOptions,
  type FieldSpec,
  isSchemaItem,
  le16,
  le32,
  le64,
  type ScalarName,
  scalars,
  type ScalarType,
  type SchemaItem,
  type StructOptions,
  type StructType,
  type Type,
  u8,
  type UnionType,
} from "./dsl/_types.ts";
export { type FieldLayout, type Layout, layout, sizeOf } from "./dsl/_layout.ts";
export { accessorName, camel, pascal } from "./dsl/_names.ts";

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
