/**
 * Emits zero-copy `DataView` accessor classes and constants for schema
 * items, on ts-morph.
 *
 * @module
 */
import type {
  ClassDeclarationStructure,
  FunctionDeclarationStructure,
  VariableStatementStructure,
} from "ts-morph";
import { tsMorph } from "./_ts_morph.ts";
import {
  pascal,
  type SchemaItem,
  type StructType,
  type Type,
  type UnionType,
} from "../schema/dsl.ts";
import { GenError } from "../src/errors.ts";
import type { Aggregate } from "./_emit_code.ts";
import { emitAggregate } from "./_emit_class.ts";
import { emitConstants } from "./_emit_constants.ts";

const { Project, StructureKind } = tsMorph;

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
