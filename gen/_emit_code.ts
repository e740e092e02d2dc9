/**
 * The text of generated code shared by the emitters: `DataView` reads and writes of a scalar,
 * a field's offset expression, and JSDoc text.
 *
 * @module
 */
import type { FieldLayout, ScalarType, StructType, Type, UnionType } from "../schema/dsl.ts";
import { camel } from "../schema/dsl.ts";

export type Aggregate = StructType | UnionType;

const TWO32 = "4294967296";

/** JSDoc text, with comment terminators defused. */
export function jsdoc(text: string): { description: string } {
  return { description: text.replaceAll("*/", "*\u200b/") };
}

export function scalarRead(t: ScalarType, off: string, asNumber = false): string {
  const le = t.littleEndian ? "true" : "false";
  switch (t.size) {
    case 1:
      return `this.view.getUint8(${off})`;
    case 2:
      return `this.view.getUint16(${off}, ${le})`;
    case 4:
      return `this.view.getUint32(${off}, ${le})`;
    case 8:
      if (!asNumber) return `this.view.getBigUint64(${off}, ${le})`;
      return t.littleEndian
        ? `this.view.getUint32(${off}, true) + this.view.getUint32(${off} + 4, true) * ${TWO32}`
        : `this.view.getUint32(${off} + 4, false) + this.view.getUint32(${off}, false) * ${TWO32}`;
  }
}

export function scalarWrite(t: ScalarType, off: string, v: string, asNumber = false): string[] {
  const le = t.littleEndian ? "true" : "false";
  switch (t.size) {
    case 1:
      return [`this.view.setUint8(${off}, ${v});`];
    case 2:
      return [`this.view.setUint16(${off}, ${v}, ${le});`];
    case 4:
      return [`this.view.setUint32(${off}, ${v}, ${le});`];
    case 8:
      if (!asNumber) return [`this.view.setBigUint64(${off}, ${v}, ${le});`];
      return t.littleEndian
        ? [
          `this.view.setUint32(${off}, ${v} >>> 0, true);`,
          `this.view.setUint32(${off} + 4, Math.floor(${v} / ${TWO32}), true);`,
        ]
        : [
          `this.view.setUint32(${off} + 4, ${v} >>> 0, false);`,
          `this.view.setUint32(${off}, Math.floor(${v} / ${TWO32}), false);`,
        ];
  }
}

export function scalarTs(t: ScalarType, asNumber = false): string {
  return t.size === 8 && !asNumber ? "bigint" : "number";
}

/** `this.offset + 4 + 2 * this.queueSize`, for a field's place. */
export function offsetExpr(f: FieldLayout, extra = ""): string {
  let e = "this.offset";
  if (f.offset !== 0) e += ` + ${f.offset}`;
  for (const [p, per] of Object.entries(f.paramTerms)) {
    e += ` + ${times(per, `this.${camel(p)}`)}`;
  }
  return e + extra;
}

/** `n * name`, or `name` when n is 1. */
export function times(n: number, name: string): string {
  return n === 1 ? name : `${n} * ${name}`;
}

/** `(v << n)`, or `v` when n is 0. */
export function shifted(v: string, n: number): string {
  return n === 0 ? v : `(${v} << ${n})`;
}

function typeLabel(t: Type): string {
  switch (t.kind) {
    case "scalar":
      return t.name;
    case "bits":
      return t.word.name;
    case "struct":
    case "union":
      return t.name;
    case "array":
      return `${typeLabel(t.element)}[${t.length}]`;
  }
}

export function fieldDoc(f: FieldLayout, extra?: string): string {
  const where = Object.keys(f.paramTerms).length === 0
    ? `offset ${f.offset}`
    : `offset ${f.offset} + ${
      Object.entries(f.paramTerms).map(([p, n]) => times(n, p)).join(" + ")
    }`;
  const base = `\`${f.def.name}\`: ${typeLabel(f.def.type)} at ${where}.`;
  const parts = [f.def.doc, base, extra].filter((s): s is string => !!s);
  return parts.join("\n\n");
}
