/**
 * Emits the accessor class of a struct or union: a flyweight over a `DataView` with a getter and
 * setter per field, bitfield and array members, `write(...)` for small all-scalar structs, and
 * `static SIZE`, `OFFSETS`, `REGISTERS` and `size(...)`.
 *
 * @module
 */
import type {
  ClassDeclarationStructure,
  GetAccessorDeclarationStructure,
  MethodDeclarationStructure,
  OptionalKind,
  PropertyDeclarationStructure,
  SetAccessorDeclarationStructure,
} from "ts-morph";
import { tsMorph } from "./_ts_morph.ts";
import {
  accessorName,
  type ArrayType,
  type BitsType,
  camel,
  type FieldLayout,
  layout,
  pascal,
  type ScalarType,
} from "../schema/dsl.ts";
import { GenError } from "../src/errors.ts";
import {
  type Aggregate,
  fieldDoc,
  jsdoc,
  offsetExpr,
  scalarRead,
  scalarTs,
  scalarWrite,
  shifted,
  times,
} from "./_emit_code.ts";

const { StructureKind } = tsMorph;

interface Members {
  /** Emit range checks in setters. */
  checked: boolean;
  /** Set when the class throws ArgumentError for an index (the module then emits `indexError`). */
  usesErrors: boolean;
  /** Set when a checked setter throws (the module then emits `rangeError`). */
  usesRange: boolean;
  /** The struct's spec name, for messages. */
  owner: string;
  properties: OptionalKind<PropertyDeclarationStructure>[];
  getters: OptionalKind<GetAccessorDeclarationStructure>[];
  setters: OptionalKind<SetAccessorDeclarationStructure>[];
  methods: OptionalKind<MethodDeclarationStructure>[];
}

/** Statements that throw ArgumentError when `v` does not fit `max` (a checked setter's guard). */
function rangeCheck(m: Members, what: string, v: string, t: ScalarType | number, asNumber = false) {
  if (!m.checked) return [];
  m.usesErrors = true;
  m.usesRange = true;
  const fail = (range: string) => [
    `  throw rangeError(${JSON.stringify(what)}, ${v}, ${JSON.stringify(range)});`,
    `}`,
  ];
  if (typeof t === "number") { // a bitfield of t bits
    const max = 2 ** t - 1;
    return [`if ((${v} >>> 0) !== ${v} || ${v} > ${max}) {`, ...fail(`0..${max} (${t} bits)`)];
  }
  if (t.size === 8 && asNumber) {
    return [`if (!Number.isSafeInteger(${v}) || ${v} < 0) {`, ...fail(`0..2^53-1`)];
  }
  if (t.size === 8) {
    return [`if (BigInt.asUintN(64, ${v}) !== ${v}) {`, ...fail(`0..2^64-1 (${t.name})`)];
  }
  if (t.size === 4) return [`if ((${v} >>> 0) !== ${v}) {`, ...fail(`0..4294967295 (${t.name})`)];
  const max = t.size === 2 ? 65535 : 255;
  return [`if ((${v} >>> 0) !== ${v} || ${v} > ${max}) {`, ...fail(`0..${max} (${t.name})`)];
}

function emitScalarField(m: Members, f: FieldLayout, t: ScalarType, access: string | undefined) {
  const name = accessorName(f.def);
  const asNumber = f.def.asNumber === true;
  const ts = scalarTs(t, asNumber);
  const off = offsetExpr(f);
  m.getters.push({
    name,
    returnType: ts,
    docs: [jsdoc(fieldDoc(f, access ? `Access: ${access}.` : undefined))],
    statements: [`return ${scalarRead(t, off, asNumber)};`],
  });
  m.setters.push({
    name,
    parameters: [{ name: "value", type: ts }],
    statements: [
      ...rangeCheck(m, `${m.owner}.${f.def.name}`, "value", t, asNumber),
      ...scalarWrite(t, off, "value", asNumber),
    ],
  });
}

function emitBitsField(m: Members, f: FieldLayout, t: BitsType) {
  emitScalarField(m, f, t.word, f.def.access);
  const off = offsetExpr(f);
  const word = t.word;
  for (const b of t.fields) {
    const name = camel(b.name);
    const docText = [
      b.doc,
      `Bits ${b.lsb}..${b.lsb + b.width - 1} of \`${f.def.name}\`.`,
    ].filter((s): s is string => !!s).join("\n\n");
    if (word.size === 8) {
      const mask = `0x${((1n << BigInt(b.width)) - 1n).toString(16)}n`;
      const le = word.littleEndian ? "true" : "false";
      m.getters.push({
        name,
        returnType: "number",
        docs: [jsdoc(docText)],
        statements: [
          `return Number((this.view.getBigUint64(${off}, ${le}) >> ${b.lsb}n) & ${mask});`,
        ],
      });
      m.setters.push({
        name,
        parameters: [{ name: "value", type: "number" }],
        statements: [
          ...rangeCheck(m, `${m.owner}.${f.def.name}.${b.name}`, "value", b.width),
          `const word = this.view.getBigUint64(${off}, ${le}) & ~(${mask} << ${b.lsb}n);`,
          `this.view.setBigUint64(${off}, word | ((BigInt(value) & ${mask}) << ${b.lsb}n), ${le});`,
        ],
      });
      continue;
    }
    const mask = `0x${(2 ** b.width - 1).toString(16)}`;
    const read = scalarRead(word, off);
    m.getters.push({
      name,
      returnType: "number",
      docs: [jsdoc(docText)],
      statements: [
        b.lsb === 0 && b.width === word.size * 8
          ? `return ${read};`
          : b.lsb === 0
          ? `return (${read} & ${mask}) >>> 0;`
          : `return ((${read} >>> ${b.lsb}) & ${mask}) >>> 0;`,
      ],
    });
    m.setters.push({
      name,
      parameters: [{ name: "value", type: "number" }],
      statements: [
        ...rangeCheck(m, `${m.owner}.${f.def.name}.${b.name}`, "value", b.width),
        `const word = ${read} & ~${shifted(mask, b.lsb)};`,
        ...scalarWrite(word, off, `(word | ${shifted(`(value & ${mask})`, b.lsb)}) >>> 0`),
      ],
    });
  }
}

function emitAggregateField(
  m: Members,
  f: FieldLayout,
  t: Aggregate,
) {
  const name = accessorName(f.def);
  const cls = pascal(t.name);
  const slot = `#${name}`;
  m.properties.push({ name: slot, type: `${cls} | undefined` });
  m.getters.push({
    name,
    returnType: cls,
    docs: [jsdoc(fieldDoc(f, "A cached flyweight re-targeted on each access: do not keep it."))],
    statements: [
      `const child = (this.${slot} ??= new ${cls}(this.view));`,
      `child.view = this.view;`,
      `child.offset = ${offsetExpr(f)};`,
      `return child;`,
    ],
  });
}

function emitArrayField(m: Members, f: FieldLayout, t: ArrayType) {
  const name = accessorName(f.def);
  const cap = name[0].toUpperCase() + name.slice(1);
  const el = t.element;
  const elSize = f.size / (typeof t.length === "number" ? t.length : 1);
  const bound = typeof t.length === "number" ? `${t.length}` : `this.${camel(t.length)}`;
  m.usesErrors = true;
  const check = [
    `if ((index >>> 0) !== index || index >= ${bound}) {`,
    `  throw indexError(${JSON.stringify(`${m.owner}.${f.def.name}`)}, index, ${bound});`,
    `}`,
  ];
  const elemOff = elSize === 1
    ? `${offsetExpr(f)} + index`
    : `${offsetExpr(f)} + index * ${elSize}`;
  m.methods.push({
    name: `${name}Offset`,
    parameters: [{ name: "index", type: "number" }],
    returnType: "number",
    docs: [jsdoc(`Byte offset within the view of \`${f.def.name}[index]\`.`)],
    statements: [...check, `return ${elemOff};`],
  });
  if (el.kind === "scalar" || el.kind === "bits") {
    const st = el.kind === "scalar" ? el : el.word;
    const ts = scalarTs(st);
    m.methods.push({
      name,
      parameters: [{ name: "index", type: "number" }],
      returnType: ts,
      docs: [jsdoc(fieldDoc(f, "Reads element `index`."))],
      statements: [...check, `return ${scalarRead(st, elemOff)};`],
    });
    m.methods.push({
      name: `set${cap}`,
      parameters: [{ name: "index", type: "number" }, { name: "value", type: ts }],
      returnType: "void",
      docs: [jsdoc(`Writes element \`index\` of \`${f.def.name}\`.`)],
      statements: [
        ...check,
        ...rangeCheck(m, `${m.owner}.${f.def.name}[]`, "value", st),
        ...scalarWrite(st, elemOff, "value"),
      ],
    });
    if (st.size === 1) {
      m.methods.push({
        name: `${name}Bytes`,
        returnType: "Uint8Array",
        docs: [jsdoc(`The bytes of \`${f.def.name}\` as a zero-copy view.`)],
        statements: [
          `return new Uint8Array(this.view.buffer, this.view.byteOffset + ${
            offsetExpr(f)
          }, ${bound});`,
        ],
      });
    }
    return;
  }
  if (el.kind === "struct" || el.kind === "union") {
    const cls = pascal(el.name);
    const slot = `#${name}`;
    m.properties.push({ name: slot, type: `${cls} | undefined` });
    m.methods.push({
      name,
      parameters: [{ name: "index", type: "number" }],
      returnType: cls,
      docs: [
        jsdoc(
          fieldDoc(
            f,
            "Element `index`, as a cached flyweight re-targeted on each call: do not keep it.",
          ),
        ),
      ],
      statements: [
        ...check,
        `const child = (this.${slot} ??= new ${cls}(this.view));`,
        `child.view = this.view;`,
        `child.offset = ${elemOff};`,
        `return child;`,
      ],
    });
    return;
  }
  throw new GenError(`${f.def.name}: arrays of ${el.kind} are not supported`);
}

/**
 * `write(addr, len, flags, next)`: every field of a small all-scalar struct in one call, in the
 * spec's order. The view and the offset are read once into locals: a sequence of setters reads
 * both again after every store (V8 cannot prove a DataView store leaves the accessor alone),
 * which costs 1.2-1.3x a raw DataView loop. Positional, because an options object
 * (`write({ len })`) is slower than the setters once V8 sees it with several shapes.
 */
// Words that cannot name a parameter.
const JS_RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends " +
    "false finally for function if import in instanceof new null return super switch this throw " +
    "true try typeof var void while with yield let static implements interface package private " +
    "protected public await arguments eval").split(" "),
);

function emitWrite(m: Members, fields: readonly FieldLayout[]) {
  if (fields.length < 2 || fields.length > 8) return;
  if (!fields.every((f) => f.def.type.kind === "scalar" || f.def.type.kind === "bits")) return;
  const params: { name: string; type: string }[] = [];
  // `$` cannot start a schema name, so the locals never shadow a parameter
  const body: string[] = ["const $view = this.view;", "const $o = this.offset;"];
  const checks: string[] = [];
  for (const f of fields) {
    const t = f.def.type.kind === "scalar" ? f.def.type : (f.def.type as BitsType).word;
    const asNumber = f.def.asNumber === true;
    const name = JS_RESERVED.has(accessorName(f.def))
      ? `${accessorName(f.def)}_`
      : accessorName(f.def);
    params.push({ name, type: scalarTs(t, asNumber) });
    const off = offsetExpr(f).replace(/^this\.offset/, "$o");
    checks.push(...rangeCheck(m, `${m.owner}.${f.def.name}`, name, t, asNumber));
    body.push(
      ...scalarWrite(t, off, name, asNumber).map((w) => w.replace(/^this\.view\./, "$view.")),
    );
  }
  m.methods.push({
    name: "write",
    parameters: params,
    returnType: "this",
    docs: [
      jsdoc(
        `Writes every field (${fields.map((f) => `\`${f.def.name}\``).join(", ")}) in one call; ` +
          "returns the accessor. Faster than the setters one by one (one read of the view and " +
          "offset), for hot loops: `desc.at(o).write(...)`.",
      ),
    ],
    statements: [...checks, ...body, "return this;"],
  });
}

export function emitAggregate(
  t: Aggregate,
  checked: boolean,
): { cls: ClassDeclarationStructure; usesErrors: boolean; usesRange: boolean } {
  const l = layout(t);
  const cls = pascal(t.name);
  const params = l.params.map(camel);
  const m: Members = {
    checked,
    usesErrors: false,
    usesRange: false,
    owner: t.name,
    properties: [],
    getters: [],
    setters: [],
    methods: [],
  };
  const fixedOffsets = l.fields.filter((f) => Object.keys(f.paramTerms).length === 0);
  const isRegisterMap = t.kind === "struct" && t.registerMap;

  m.properties.push({
    name: "SIZE",
    isStatic: true,
    isReadonly: true,
    type: "number",
    initializer: String(l.size),
    docs: [
      jsdoc(
        params.length
          ? `Size in bytes with ${l.params.join(", ")} = 0; see {@link ${cls}.size}.`
          : "Size in bytes.",
      ),
    ],
  });
  m.properties.push({
    name: "OFFSETS",
    isStatic: true,
    isReadonly: true,
    type: `{ ${fixedOffsets.map((f) => `readonly ${accessorName(f.def)}: number;`).join(" ")} }`,
    initializer: `Object.freeze({ ${
      fixedOffsets.map((f) => `${accessorName(f.def)}: ${f.offset}`).join(", ")
    } })`,
    docs: [jsdoc("Byte offsets of the fields at fixed offsets, by accessor name.")],
  });
  if (isRegisterMap) {
    m.properties.push({
      name: "REGISTERS",
      isStatic: true,
      isReadonly: true,
      type:
        `readonly { readonly name: string; readonly field: string; readonly offset: number; readonly size: number; readonly access: "r" | "w" | "rw" }[]`,
      initializer: `Object.freeze([${
        l.fields.map((f) =>
          `{ name: ${JSON.stringify(f.def.name)}, field: ${
            JSON.stringify(accessorName(f.def))
          }, offset: ${f.offset}, size: ${f.size}, access: ${JSON.stringify(f.def.access)} }`
        ).join(", ")
      }])`,
      docs: [
        jsdoc(
          "The registers in offset order: spec name, accessor name, offset, width and driver-side access.",
        ),
      ],
    });
  }
  // `declare`: no class-field definition, so the constructor creates `view` and
  // `offset` with the values' own representations (a DataView, a small
  // integer) instead of `undefined` first. V8 then keeps `offset` as a
  // small-integer field, and a setter after `desc.offset = o` reuses `o`
  // without a tag check (docs/architecture.md, "Setters").
  m.properties.push({
    name: "view",
    hasDeclareKeyword: true,
    type: "DataView",
    docs: [jsdoc("The view the accessor reads and writes.")],
  });
  m.properties.push({
    name: "offset",
    hasDeclareKeyword: true,
    type: "number",
    docs: [jsdoc(`Byte offset of the ${t.kind} within {@link ${cls}.view}.`)],
  });
  for (const p of l.params) {
    m.properties.push({
      name: camel(p),
      hasDeclareKeyword: true,
      type: "number",
      docs: [jsdoc(`The \`${p}\` parameter: element count of the arrays sized by it.`)],
    });
  }
  if (params.length) {
    const terms = l.params.map((p) => times(l.paramTerms[p], camel(p))).join(" + ");
    m.methods.push({
      name: "size",
      isStatic: true,
      parameters: params.map((p) => ({ name: p, type: "number" })),
      returnType: "number",
      docs: [jsdoc(`Size in bytes for the given ${l.params.join(", ")}.`)],
      statements: [`return ${l.size} + ${terms};`],
    });
  }
  m.methods.push({
    name: "at",
    parameters: [{ name: "offset", type: "number" }],
    returnType: "this",
    docs: [jsdoc("Re-targets the accessor at another offset of the same view; returns it.")],
    statements: ["this.offset = offset;", "return this;"],
  });

  for (const f of l.fields) {
    const ft = f.def.type;
    switch (ft.kind) {
      case "scalar":
        emitScalarField(m, f, ft, f.def.access);
        break;
      case "bits":
        emitBitsField(m, f, ft);
        break;
      case "struct":
      case "union":
        emitAggregateField(m, f, ft);
        break;
      case "array":
        emitArrayField(m, f, ft);
        break;
    }
  }

  if (t.kind === "struct" && !isRegisterMap) emitWrite(m, l.fields);

  const ctorParams = [
    { name: "view", type: "DataView" },
    { name: "offset", type: "number", initializer: "0" },
    ...params.map((p) => ({ name: p, type: "number", initializer: "0" })),
  ];
  const summary = t.doc ?? `The \`${t.name}\` ${t.kind === "union" ? "union" : "struct"}.`;
  const cls_: ClassDeclarationStructure = {
    kind: StructureKind.Class,
    name: cls,
    isExported: true,
    docs: [
      jsdoc(
        `${summary}\n\nAccessor for \`${t.name}\` (${l.size} bytes${
          params.length ? ` + per ${l.params.join(", ")}` : ""
        }) over a \`DataView\`; reads and writes in place.`,
      ),
    ],
    properties: m.properties,
    ctors: [{
      parameters: ctorParams,
      docs: [jsdoc(`Creates an accessor over \`view\` at byte \`offset\`.`)],
      statements: [
        "this.view = view;",
        "this.offset = offset;",
        ...params.map((p) => `this.${p} = ${p};`),
      ],
    }],
    getAccessors: m.getters,
    setAccessors: m.setters,
    methods: m.methods,
  };
  return { cls: cls_, usesErrors: m.usesErrors, usesRange: m.usesRange };
}
