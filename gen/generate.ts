/**
 * Turns schema modules into generated accessor files: loading, naming,
 * cross-module imports, formatting and freshness checks.
 *
 * @module
 */
import {
  isSchemaItem,
  pascal,
  type SchemaItem,
  type StructType,
  type UnionType,
} from "../schema/dsl.ts";
import { GenError, SchemaError } from "../src/errors.ts";
import { analyseSchemaSource, type SchemaSource } from "./source.ts";
import { emitModule, type ExternalStruct } from "./emit.ts";
import { buildManifest, type Manifest } from "./manifest.ts";

/** A schema module: where it came from and the items it exports. */
export interface SchemaModule {
  /** A label for the module, used in headers and errors (a relative path). */
  readonly source: string;
  /** Path of the generated file, relative to the output directory (`devices/blk.ts`). */
  readonly output: string;
  /** The schema items the module exports, in export order. */
  readonly items: readonly SchemaItem[];
}

/** A generated file: its path relative to the output directory, and its text. */
export interface GeneratedFile {
  /** Path relative to the output directory. */
  readonly path: string;
  /** The file's text. */
  readonly text: string;
}

/** Options of {@link generateModules}. */
export interface GenerateOptions {
  /** Also emit a `mod.ts` that re-exports every generated module. Default true. */
  readonly index?: boolean;
  /** Format with `deno fmt` when running on Deno. Default true. */
  readonly format?: boolean;
  /**
   * The command the generated headers tell a reader to run to regenerate the files.
   * Default `deno task gen` (this repository's own command).
   */
  readonly command?: string;
  /**
   * The module specifier the generated files import `ArgumentError` from, as seen from the
   * output directory (a relative one is adjusted for files in subdirectories). Default
   * `@typed-virtio/virtio/errors`; on Node, `typed-virtio/errors`.
   */
  readonly errors?: string;
  /** Emit checked setters (see {@link EmitOptions.checked}). Default false. */
  readonly checked?: boolean;
}

/** A specifier relative to the output directory, as seen from `output` (a path in it). */
function fromOutput(spec: string | undefined, output: string): string | undefined {
  if (spec === undefined || !/^\.\.?\//.test(spec)) return spec;
  const depth = output.split("/").length - 1;
  if (depth === 0) return spec;
  return "../".repeat(depth) + spec.replace(/^\.\//, "");
}

/** Collects the schema items of an imported module's namespace, in export order. */
export function itemsOf(namespace: Record<string, unknown>, source: string): SchemaItem[] {
  const items: SchemaItem[] = [];
  for (const [name, value] of Object.entries(namespace)) {
    if (!isSchemaItem(value)) continue;
    if (value.kind !== "constants" && name !== value.name) {
      throw new GenError(
        `${source}: export ${name} holds ${value.kind} ${value.name}; export it under its own name`,
      );
    }
    if (value.kind === "constants" && name !== value.name) {
      throw new GenError(
        `${source}: export ${name} holds constant group ${value.name}; export it under its own name`,
      );
    }
    items.push(value);
  }
  return items;
}

/**
 * Imports a schema module from a file path and collects its items, in the
 * order they are written. A local module's text is read first with ts-morph
 * (see `source.ts`): a key given twice in an object literal is a
 * {@link SchemaError}, and errors thrown while the module runs (an undefined
 * type name such as `le61`, an overlap) name the schema, the field and
 * `file:line:col`.
 */
export async function loadSchemaModule(
  path: string,
  output?: string,
  source: string = path,
): Promise<SchemaModule> {
  const url = path.startsWith("file:") ? path : toFileUrl(path);
  let text: string | undefined;
  try {
    text = await readSource(url);
  } catch {
    text = undefined; // the import below reports a missing module
  }
  const src = text === undefined ? undefined : analyseSchemaSource(text, source);
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(url);
  } catch (e) {
    if (e instanceof GenError) throw e;
    throw locatedError(e, path, src);
  }
  let items = itemsOf(namespace, source);
  if (items.length === 0) {
    throw new GenError(`${source} exports no structs, unions, register maps or constant groups`);
  }
  if (src !== undefined) {
    // A module namespace lists exports alphabetically; keep the order of the source.
    const rank = new Map(src.exportOrder.map((n, i) => [n, i]));
    const byName = new Map<SchemaItem, number>();
    for (const [name, value] of Object.entries(namespace)) {
      if (isSchemaItem(value)) byName.set(value, rank.get(name) ?? Number.MAX_SAFE_INTEGER);
    }
    items = items.map((item, i) => ({ item, i })).sort((a, b) =>
      (byName.get(a.item) ?? 0) - (byName.get(b.item) ?? 0) || a.i - b.i
    ).map((x) => x.item);
  }
  const base = path.replace(/^.*[\\/]/, "");
  return { source, output: output ?? base.replace(/\.[cm]?[jt]s$/, "") + ".ts", items };
}

/** The error for a schema module that threw while loading, with its place in the source. */
function locatedError(e: unknown, path: string, src: SchemaSource | undefined): Error {
  const why = e instanceof Error ? e.message : String(e);
  if (e instanceof SchemaError) {
    const at = src?.locate(e.schema, e.field);
    if (at === undefined) return e;
    const prefix = `schema ${e.schema}${e.field === undefined ? "" : `, field ${e.field}`}: `;
    const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return new SchemaError(e.schema, e.field, `${detail} (${at})`, { code: e.code, cause: e });
  }
  const undefinedName = e instanceof ReferenceError ? /^(\S+) is not defined/.exec(why) : null;
  if (undefinedName && src) {
    const use = src.locateName(undefinedName[1]);
    if (use) {
      return new SchemaError(
        use.schema ?? src.label,
        use.field,
        `${undefinedName[1]} is not defined (${use.at}); ` +
          "the types are u8, le16, le32, le64, be16, be32, be64 and the structs you define or import",
        { code: "ERR_VIRTIO_SCHEMA_UNDEFINED", cause: e },
      );
    }
  }
  return new GenError(`cannot load schema module ${path}: ${why}`, { cause: e });
}

/**
 * A file URL for a path, through the URL parser (which encodes `#`, `?`, spaces and
 * non-ASCII), with `%` encoded first so that `50%25` stays a file name.
 */
export function toFileUrl(path: string): string {
  const url = new URL("file:///");
  url.pathname = (path.startsWith("/") ? path : `${cwd()}/${path}`).replaceAll("%", "%25");
  return url.href;
}

function cwd(): string {
  const g = globalThis as { Deno?: { cwd(): string }; process?: { cwd(): string } };
  if (g.Deno) return g.Deno.cwd();
  if (g.process) return g.process.cwd();
  throw new GenError("no working directory on this runtime: pass absolute paths");
}

/** Reads a local module's text on Deno or Node. */
async function readSource(url: string): Promise<string> {
  const g = globalThis as { Deno?: { readTextFile(u: URL): Promise<string> } };
  if (g.Deno) return await g.Deno.readTextFile(new URL(url));
  // not a literal: Node's fs, not a dependency of the package
  const fs = "node:fs/promises";
  const { readFile } = await import(fs) as {
    readFile(u: URL, encoding: "utf8"): Promise<string>;
  };
  return await readFile(new URL(url), "utf8");
}

function relativeImport(from: string, to: string): string {
  const a = from.split("/").slice(0, -1);
  const b = to.split("/");
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const up = a.slice(i).map(() => "..");
  const rest = b.slice(i);
  const rel = [...up, ...rest].join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** Checks names across modules: struct names, class names and exported constant names are unique. */
function checkNames(modules: readonly SchemaModule[]): void {
  const structs = new Map<string, { t: StructType | UnionType; source: string }>();
  const exported = new Map<string, string>();
  const claim = (name: string, source: string, what: string) => {
    const prev = exported.get(name);
    if (prev !== undefined) {
      throw new GenError(`${what} ${name} from ${source} collides with an export of ${prev}`);
    }
    exported.set(name, source);
  };
  for (const m of modules) {
    for (const item of m.items) {
      if (item.kind === "constants") {
        claim(pascal(item.name), m.source, "constant group");
        if (item.exportMembers) {
          for (const c of item.constants) claim(c.name, m.source, "constant");
        }
      } else {
        const prev = structs.get(item.name);
        if (prev && prev.t !== item) {
          throw new GenError(
            `${item.kind} ${item.name} is defined both in ${prev.source} and in ${m.source}`,
          );
        }
        structs.set(item.name, { t: item, source: m.source });
        claim(pascal(item.name), m.source, item.kind);
      }
    }
  }
}

/** Generates the files for a set of schema modules (in memory). */
export async function generateModules(
  modules: readonly SchemaModule[],
  options: GenerateOptions = {},
): Promise<GeneratedFile[]> {
  checkNames(modules);
  const owner = new Map<StructType | UnionType, SchemaModule>();
  for (const m of modules) {
    for (const item of m.items) {
      if (item.kind !== "constants" && !owner.has(item)) owner.set(item, m);
    }
  }
  const files: GeneratedFile[] = [];
  for (const m of modules) {
    const external: ExternalStruct[] = [];
    for (const [t, om] of owner) {
      if (om !== m) external.push({ type: t, from: relativeImport(m.output, om.output) });
    }
    files.push({
      path: m.output,
      text: emitModule({
        items: m.items,
        external,
        source: m.source,
        command: options.command,
        errors: fromOutput(options.errors, m.output),
        checked: options.checked,
      }),
    });
  }
  if (options.index ?? true) {
    const lines = [
      `// Generated by typed-virtio gen. Do not edit: run \`${
        options.command ?? "deno task gen"
      }\` instead.`,
      "",
      "/**",
      " * Every generated accessor and constant.",
      " *",
      " * @module",
      " */",
      "",
      ...modules.map((m) => `export * from "./${m.output}";`),
      "",
    ];
    files.push({ path: "mod.ts", text: lines.join("\n") });
  }
  if (options.format ?? true) {
    return await Promise.all(
      files.map(async (f) => ({ path: f.path, text: await formatTs(f.text) })),
    );
  }
  return files;
}

/** Formats TypeScript with `deno fmt` (line width 100) when running on Deno; otherwise returns it unchanged. */
export async function formatTs(text: string): Promise<string> {
  const g = globalThis as { Deno?: typeof Deno };
  if (!g.Deno || typeof g.Deno.Command !== "function") return text;
  const cmd = new g.Deno.Command(g.Deno.execPath(), {
    args: ["fmt", "--line-width=100", "--ext=ts", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new GenError(
      `deno fmt failed on generated code: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** The manifest of a set of schema modules. */
export function manifestOf(modules: readonly SchemaModule[]): Manifest {
  checkNames(modules);
  return buildManifest(modules.flatMap((m) => m.items));
}
