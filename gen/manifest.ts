/**
 * The JSON manifest of layouts: for each struct, union and register map
 * its size and the place of every leaf field; constant groups under
 * `"constants"`.
 *
 * @module
 */
import {
  type ConstantGroup,
  layout,
  type SchemaItem,
  type StructType,
  type Type,
  type UnionType,
} from "../schema/dsl.ts";

/** One leaf field in the manifest. */
export interface ManifestField {
  /** Byte offset (at parameter 0 where it depends on one). */
  offset: number;
  /** Size in bytes: the whole array for `name[N]`, one element for `name[]`. */
  size: number;
  /** Scalar type name, or the spec name of the element struct. */
  type: string;
  /** For a bitfield: its least significant bit within the word. */
  bit_offset?: number;
  /** For a bitfield: its width in bits. */
  bit_width?: number;
  /** For a register: the driver's access. */
  access?: "r" | "w" | "rw";
}

/** One layout in the manifest. */
export interface ManifestLayout {
  /** Size in bytes (for parameter 0 where it depends on one). */
  size: number;
  /** Leaf fields, dotted for nesting. */
  fields: Record<string, ManifestField>;
}

/** The manifest: layouts by spec name, and `constants` by group name. */
export type Manifest = Record<string, ManifestLayout | Record<string, Record<string, number>>>;

function leaves(
  t: Type,
  prefix: string,
  base: number,
  out: Record<string, ManifestField>,
  access: "r" | "w" | "rw" | undefined,
): void {
  switch (t.kind) {
    case "scalar":
      out[prefix] = { offset: base, size: t.size, type: t.name, ...(access ? { access } : {}) };
      return;
    case "bits":
      out[prefix] = {
        offset: base,
        size: t.word.size,
        type: t.word.name,
        ...(access ? { access } : {}),
      };
      for (const b of t.fields) {
        out[`${prefix}.${b.name}`] = {
          offset: base,
          size: t.word.size,
          type: t.word.name,
          bit_offset: b.lsb,
          bit_width: b.width,
        };
      }
      return;
    case "struct":
    case "union": {
      for (const f of layout(t).fields) {
        const name = prefix === "" ? f.def.name : `${prefix}.${f.def.name}`;
        if (f.def.type.kind === "array") {
          const a = f.def.type;
          const el = a.element;
          const elType = el.kind === "scalar"
            ? el.name
            : el.kind === "bits"
            ? el.word.name
            : el.kind === "array"
            ? "array"
            : el.name;
          const key = typeof a.length === "number" ? `${name}[${a.length}]` : `${name}[]`;
          out[key] = {
            offset: base + f.offset,
            size: f.size,
            type: elType,
            ...(f.def.access ? { access: f.def.access } : {}),
          };
        } else {
          leaves(f.def.type, name, base + f.offset, out, f.def.access);
        }
      }
      return;
    }
    case "array":
      return;
  }
}

/** The manifest entry of one struct, union or register map. */
export function layoutManifest(t: StructType | UnionType): ManifestLayout {
  const fields: Record<string, ManifestField> = {};
  leaves(t, "", 0, fields, undefined);
  return { size: layout(t).size, fields };
}

function collectAggregates(t: Type, out: Map<string, StructType | UnionType>): void {
  if (t.kind === "array") return collectAggregates(t.element, out);
  if (t.kind !== "struct" && t.kind !== "union") return;
  if (!out.has(t.name)) out.set(t.name, t);
  for (const f of t.fields) collectAggregates(f.type, out);
}

/** Builds the manifest of a set of schema items (nested structs are included under their own names). */
export function buildManifest(items: readonly SchemaItem[]): Manifest {
  const aggregates = new Map<string, StructType | UnionType>();
  const groups: ConstantGroup[] = [];
  for (const item of items) {
    if (item.kind === "constants") groups.push(item);
    else collectAggregates(item, aggregates);
  }
  const result: Manifest = {};
  for (const [name, t] of aggregates) result[name] = layoutManifest(t);
  const constants: Record<string, Record<string, number>> = {};
  for (const g of groups) {
    constants[g.name] = Object.fromEntries(g.constants.map((c) => [c.name, c.value]));
  }
  result.constants = constants;
  return result;
}
