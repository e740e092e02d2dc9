/**
 * Emits zero-copy `DataView` accessor classes and constants for schema
 * items, on ts-morph.
 *
 * @module
 */
import type {
  ClassDeclarationStructure,
  FunctionDeclarationStructure,
  GetAccessorDeclarationStructure,
  MethodDeclarationStructure,
  OptionalKind,
  PropertyDeclarationStructure,
  SetAccessorDeclarationStructure,
  VariableStatementStructure,
} from "ts-morph";
import { tsMorph } from "./_ts_morph.ts";
import {
  accessorName,
  type ArrayType,
  type BitsType,
  camel,
  type ConstantGroup,
  type FieldLayout,
  layout,
  pascal,
  type ScalarType,
  type SchemaItem,
  type StructType,
  type Type,
  type UnionType,
} from "../schema/dsl.ts";
import { GenError } from "../src/errors.ts";

const { Project, StructureKind, VariableDeclarationKind } = tsMorph;

/** Where the class of a struct defined in another generated module lives. */
export interface ExternalStruct {
  /** The struct or union. */
  readonly type: StructType | UnionType;
  /** Module specifier to import its class from, relative to the emitted file. */
  readonly from: string;
}

/** Input to {@link emitModule}. */
export interface EmitOptions {
  /** The schema items this module owns, in export order. */
  readonly items: readonly SchemaItem[];
  /** Structs owned by other modules of the same run, with their import path. */
  readonly external?: readonly ExternalStruct[];
  /** Shown in the header: where the schema came from. */
  readonly source: string;
  /** Shown in the header: the command that regenerates the file. Default `deno task gen`. */
  readonly command?: string;
  /**
   * The module specifier, as seen from the emitted file, that exports typed-virtio's
   * `ArgumentError` (thrown for an array index out of range, and by checked setters).
   * Default `@typed-virtio/virtio/errors` on Deno, `typed-virtio/errors` elsewhere (Node).
   */
  readonly errors?: string;
  /**
   * Emit checked setters: a value that does not fit the field (`9` in a 3-bit field, `70000`
   * in an le16, a negative or fractional number) throws `ArgumentError` with code
   * `ERR_VIRTIO_ARGUMENT_RANGE` instead of being truncated. Default false: setters truncate
   * to the field's width, as C assignments and `DataView` setters do.
   */
  readonly checked?: boolean;
}

// Module-private helpers, emitted where used: the throw stays out of the accessors' bodies.
const HELPERS = {
  indexError: {
    kind: StructureKind.Function,
    name: "indexError",
    docs: [{ description: "The error for an array index outside `0..length - 1`." }],
    parameters: [
      { name: "what", type: "string" },
      { name: "index", type: "number" },
      { name: "length", type: "number" },
    ],
    returnType: "ArgumentError",
    statements: [
      'const range = length === 0 ? "an empty array" : `0..${length - 1}`;',
      "return new ArgumentError(`${what}[${index}] is outside ${range}`, {",
      '  code: "ERR_VIRTIO_ARGUMENT_INDEX",',
      "});",
    ],
  },
  rangeError: {
    kind: StructureKind.Function,
    name: "rangeError",
    docs: [{
      description: "The error of a checked setter for a value that does not fit its field.",
    }],
    parameters: [
      { name: "what", type: "string" },
      { name: "value", type: "number | bigint" },
      { name: "range", type: "string" },
    ],
    returnType: "ArgumentError",
    statements: [
      "return new ArgumentError(`${what}: ${value} does not fit; the field holds ${range}`, {",
      '  code: "ERR_VIRTIO_ARGUMENT_RANGE",',
      "});",
    ],
  },
} as const satisfies Record<string, FunctionDeclarationStructure>;

/** The default of {@link EmitOptions.errors}. */
export const DEFAULT_ERRORS_MODULE: string = "Deno" in globalThis
  ? "@typed-virtio/virtio/errors" // the JSR package's name
  : "typed-virtio/errors"; // the npm package's

type Aggregate = StructType | UnionType;

const TWO32 = "4294967296";

/** JSDoc text, with comment terminators defused. */
function jsdoc(text: string): { description: string } {
  return { description: text.replaceAll("*/", "*\u200b/") };
}

function scalarRead(t: ScalarType, off: string, asNumber = false): string {
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

function scalarWrite(t: ScalarType, off: string, v: string, asNumber = false): string[] {
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

function scalarTs(t: ScalarType, asNumber = false): string {
  return t.size === 8 && !asNumber ? "bigint" : "number";
}

/** `this.offset + 4 + 2 * this.queueSize`, for a field's place. */
function offsetExpr(f: FieldLayout, extra = ""): string {
  let e = "this.offset";
  if (f.offset !== 0) e += ` + ${f.offset}`;
  for (const [p, per] of Object.entries(f.paramTerms)) {
    e += ` + ${times(per, `this.${camel(p)}`)}`;
  }
  return e + extra;
}

/** `n * name`, or `name` when n is 1. */
function times(n: number, name: string): string {
  return n === 1 ? name : `${n} * ${name}`;
}

/** `(v << n)`, or `v` when n is 0. */
function shifted(v: string, n: number): string {
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

/** Collect every struct and union reachable from a type, depth first, dependencies first. */
/**
 * The aggregates `t` needs, dependencies first. An aggregate `imported` says
 * comes from another module is added without its own dependencies: that
 * module has them, and importing them here would leave unused imports.
 */
function reachable(t: Type, out: Set<Aggregate>, imported: (a: Aggregate) => boolean): void {
  if (t.kind === "array") return reachable(t.element, out, imported);
  if (t.kind !== "struct" && t.kind !== "union") return;
  if (out.has(t)) return;
  if (!imported(t)) { for (const f of t.fields) reachable(f.type, out, imported); }
  out.add(t);
}

function fieldDoc(f: FieldLayout, extra?: string): string {
  const where = Object.keys(f.paramTerms).length === 0
    ? `offset ${f.offset}`
    : `offset ${f.offset} + ${
      Object.entries(f.paramTerms).map(([p, n]) => times(n, p)).join(" + ")
    }`;
  const base = `\`${f.def.name}\`: ${typeLabel(f.def.type)} at ${where}.`;
  const parts = [f.def.doc, base, extra].filter((s): s is string => !!s);
  return parts.join("\n\n");
}

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

function emitAggregate(
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

/** Emits the source text of one generated module (unformatted). */
export function emitModule(options: EmitOptions): string {
  const project = new Project({ useInMemoryFileSystem: true });
  const file = project.createSourceFile("generated.ts", "", { overwrite: true });
  const external = new Map<Aggregate, string>();
  for (const e of options.external ?? []) external.set(e.type, e.from);

  // Structs: the module's own, and any reachable one that no module of the run owns.
  // Items come in the schema's order (the spec's); a struct's dependencies come before it.
  const own = new Set<Aggregate>();
  for (const item of options.items) if (item.kind !== "constants") own.add(item);
  const imports = new Map<string, Set<string>>();
  const classNames = new Set<string>();
  const statements: (
    | ClassDeclarationStructure
    | VariableStatementStructure
    | FunctionDeclarationStructure
  )[] = [];
  const done = new Set<Aggregate>();
  let usesErrors = false;
  let usesRange = false;
  for (const item of options.items) {
    if (item.kind === "constants") {
      statements.push(...emitConstants(item));
      continue;
    }
    const ordered = new Set<Aggregate>();
    reachable(item, ordered, (a) => external.has(a) && !own.has(a));
    for (const t of ordered) {
      if (done.has(t)) continue;
      done.add(t);
      const from = external.get(t);
      if (from !== undefined && !own.has(t)) {
        const names = imports.get(from) ?? new Set<string>();
        names.add(pascal(t.name));
        imports.set(from, names);
        continue;
      }
      const cls = pascal(t.name);
      if (classNames.has(cls)) {
        throw new GenError(`two structs in ${options.source} map to the class name ${cls}`);
      }
      classNames.add(cls);
      const e = emitAggregate(t, options.checked ?? false);
      statements.push(e.cls);
      usesErrors ||= e.usesErrors;
      usesRange ||= e.usesRange;
    }
  }
  if (usesErrors) statements.push(HELPERS.indexError);
  if (usesRange) statements.push(HELPERS.rangeError);
  if (usesErrors || usesRange) {
    const from = options.errors ?? DEFAULT_ERRORS_MODULE;
    const names = imports.get(from) ?? new Set<string>();
    names.add("ArgumentError");
    imports.set(from, names);
  }
  // One batched insertion per kind: ts-morph re-parses after every insertion,
  // so adding statements one at a time is quadratic in the module's size.
  file.addImportDeclarations(
    [...imports].sort(([a], [b]) => a.localeCompare(b)).map(([from, names]) => ({
      moduleSpecifier: from,
      namedImports: [...names].sort(),
    })),
  );
  file.addStatements(statements);
  const header = [
    `// Generated by typed-virtio gen from ${options.source}. Do not edit: change the schema and`,
    `// run \`${options.command ?? "deno task gen"}\` instead.`,
    "",
    "/**",
    ` * Accessors and constants generated from \`${options.source}\`.`,
    " *",
    " * @module",
    " */",
    "",
  ].join("\n");
  return header + file.getFullText();
}

function emitConstants(g: ConstantGroup): VariableStatementStructure[] {
  const out: VariableStatementStructure[] = [];
  const kindText = g.constantKind === "bits"
    ? "Bit numbers"
    : g.constantKind === "flags"
    ? "Bit masks"
    : "Values";
  if (g.exportMembers) {
    for (const c of g.constants) {
      out.push({
        kind: StructureKind.VariableStatement,
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        docs: [
          jsdoc(
            [c.doc, `\`${g.name}\`: ${c.value}${g.constantKind === "bits" ? " (bit number)" : ""}.`]
              .filter(Boolean).join("\n\n"),
          ),
        ],
        declarations: [{ name: c.name, type: "number", initializer: String(c.value) }],
      });
    }
  }
  const type = `{ ${g.constants.map((c) => `readonly ${c.name}: number;`).join(" ")} }`;
  out.push({
    kind: StructureKind.VariableStatement,
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: [jsdoc([g.doc, `${kindText} of the \`${g.name}\` group.`].filter(Boolean).join("\n\n"))],
    declarations: [{
      name: pascal(g.name),
      type,
      initializer: `Object.freeze({ ${
        g.constants.map((c) => `${c.name}: ${c.value}`).join(", ")
      } })`,
    }],
  });
  return out;
}
