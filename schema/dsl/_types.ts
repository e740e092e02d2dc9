/**
 * The schema DSL's types: scalars, bitfields, arrays, fields, structs, unions and constant
 * groups, as plain frozen data. Re-exported by `schema/dsl.ts`.
 *
 * @module
 */

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

/** Whether a value is something the generator takes from a schema module. */
export function isSchemaItem(v: unknown): v is SchemaItem {
  if (v === null || typeof v !== "object") return false;
  const k = (v as { kind?: unknown }).kind;
  return k === "struct" || k === "union" || k === "constants";
}
