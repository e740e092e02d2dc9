/**
 * The `gen` command line.
 *
 * ```
 * deno task gen                         regenerate src/generated/ from schema/
 * deno task gen --check                 fail when src/generated/ is stale
 * deno task gen --manifest [SCHEMA...]  print the JSON manifest of layouts
 * deno task gen SCHEMA... --out DIR     generate bindings for your own schema modules
 *   [--errors SPEC] [--checked]
 * ```
 *
 * Permissions (`docs/using.md`): `--allow-read`, `--allow-write` for the output, `--allow-run` for
 * `deno fmt`; no `--allow-env` (see {@link quietToolEnv}).
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GenError, SchemaError } from "../src/errors.ts";
// generate.ts and builtin.ts load ts-morph: imported in main(), after quietToolEnv() (below)
import type { GeneratedFile, SchemaModule } from "./generate.ts";

/**
 * Environment variables that ts-morph's TypeScript compiler and its dependencies read when they
 * load (`TSC_WATCHFILE` and the other `TSC_*` watch settings, debugger hooks, `NODE_ENV`). None
 * of them changes what gen writes.
 */
export const TOOL_ENV_VARIABLES: RegExp =
  /^(TSC_\w+|NODE_INSPECTOR_IPC|VSCODE_INSPECTOR_OPTIONS|NODE_ENV|__MINIMATCH_TESTING_PLATFORM__|TINYGLOBBY_DEBUG)$/;

/**
 * Lets the gen command line run without `--allow-env`: reads of {@link TOOL_ENV_VARIABLES}
 * that the process has no permission for see them unset, instead of failing (or prompting).
 * Called only when `cli.ts` is the main module; every other read is untouched.
 */
export function quietToolEnv(): void {
  const env = Deno.env;
  const get = env.get;
  env.get = function (key: string): string | undefined {
    if (
      TOOL_ENV_VARIABLES.test(key) &&
      Deno.permissions.querySync({ name: "env", variable: key }).state !== "granted"
    ) {
      return undefined;
    }
    return get.call(env, key);
  };
}

/** The usage text. */
export const USAGE = `usage:
  deno task gen                          regenerate src/generated/ from schema/
  deno task gen --check                  exit 1 if src/generated/ differs from what gen would write
  deno task gen --manifest [SCHEMA.ts…]  print the JSON manifest of every layout (built-in or given)
  deno task gen SCHEMA.ts… --out DIR     generate accessors for your own schema modules into DIR
      --errors SPEC    where they import ArgumentError from (default @typed-virtio/virtio/errors;
                       typed-virtio/errors on Node, a relative path inside a checkout)
      --checked        setters throw ArgumentError for values that do not fit the field
                       (default: truncate to the field's width, as DataView does)
  deno task gen --help                   this text`;

/** Parsed command-line arguments. */
export interface GenArgs {
  /** `--check`: compare instead of writing. */
  check: boolean;
  /** `--manifest`: print the JSON manifest. */
  manifest: boolean;
  /** `--help`: print usage. */
  help: boolean;
  /** `--out DIR`: where to write bindings for the given schemas. */
  out: string | undefined;
  /** Schema module paths given on the command line. */
  schemas: string[];
  /** `--errors SPEC`: where generated files import `ArgumentError` from. */
  errors: string | undefined;
  /** `--checked`: setters throw for values that do not fit. */
  checked: boolean;
}

/** Parses arguments; throws {@link GenError} naming the bad one. */
export function parseArgs(args: readonly string[]): GenArgs {
  const r: GenArgs = {
    check: false,
    manifest: false,
    help: false,
    out: undefined,
    schemas: [],
    errors: undefined,
    checked: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--check") r.check = true;
    else if (a === "--manifest") r.manifest = true;
    else if (a === "--help" || a === "-h") r.help = true;
    else if (a === "--checked") r.checked = true;
    else if (a === "--errors" || a.startsWith("--errors=")) {
      const v = a === "--errors" ? args[++i] : a.slice("--errors=".length);
      if (v === undefined || v === "" || v.startsWith("--")) {
        throw new GenError("--errors needs a module specifier");
      }
      r.errors = v;
    } else if (a === "--out" || a.startsWith("--out=")) {
      const v = a === "--out" ? args[++i] : a.slice("--out=".length);
      if (v === undefined || v === "" || v.startsWith("--")) {
        throw new GenError("--out needs a directory");
      }
      if (r.out !== undefined) throw new GenError("--out given twice");
      r.out = v;
    } else if (a.startsWith("-")) throw new GenError(`unknown option ${a}`);
    else if (!/\.[cm]?[jt]s$/.test(a)) {
      throw new GenError(`${a} is not a TypeScript or JavaScript module`);
    } else r.schemas.push(a);
  }
  if (r.check && r.manifest) throw new GenError("--check and --manifest do not go together");
  if (r.schemas.length > 0 && !r.manifest && r.out === undefined) {
    throw new GenError("schema modules given without --out DIR");
  }
  if (r.schemas.length === 0 && r.out !== undefined) {
    throw new GenError("--out given without schema modules");
  }
  if (r.schemas.length === 0 && (r.errors !== undefined || r.checked)) {
    throw new GenError("--errors and --checked apply to your own schema modules (with --out)");
  }
  return r;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function listGenerated(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) {
        out.push(...await listGenerated(join(dir, e.name), `${prefix}${e.name}/`));
      } else if (e.name.endsWith(".ts")) out.push(`${prefix}${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

// Paths, never URLs built from strings: `#`, `%`, `?` and spaces are legal in file names.
async function writeFiles(dir: string, files: readonly GeneratedFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const f of files) {
    const path = join(dir, f.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, f.text);
    written.push(path);
  }
  return written;
}

/** The files whose text on disk differs from `files` (missing ones included). */
async function staleFiles(dir: string, files: readonly GeneratedFile[]): Promise<string[]> {
  const stale: string[] = [];
  for (const f of files) {
    const now = await readText(join(dir, f.path));
    if (now === undefined) stale.push(`${f.path} (missing)`);
    else if (now !== f.text) stale.push(f.path);
  }
  return stale;
}

/** Quotes an argument for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that regenerates a set of bindings, for the generated header: the
 * arguments as given, without `--check` (so `gen … --check` checks what `gen …` writes).
 */
export function regenerateCommand(args: readonly string[]): string {
  const kept = args.filter((a) => a !== "--check");
  if (kept.length === 0) return "deno task gen";
  return ["gen", ...kept.map(shellQuote)].join(" ");
}

/** Runs the CLI; returns the exit code. Output goes to the given writers. */
export async function main(
  args: readonly string[],
  out: (s: string) => void = (s) => console.log(s),
  err: (s: string) => void = (s) => console.error(s),
): Promise<number> {
  let parsed: GenArgs;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    if (e instanceof GenError) {
      err(`gen: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    out(USAGE);
    return 0;
  }
  try {
    const { generateModules, loadSchemaModule, manifestOf } = await import("./generate.ts");
    const { loadBuiltinModules, ROOT } = await import("./builtin.ts");
    let modules: SchemaModule[];
    if (parsed.schemas.length > 0) {
      modules = [];
      for (const s of parsed.schemas) modules.push(await loadSchemaModule(s));
      const outputs = new Set<string>();
      for (const m of modules) {
        if (outputs.has(m.output)) {
          throw new GenError(`two schema modules would both write ${m.output}`);
        }
        outputs.add(m.output);
      }
    } else {
      modules = await loadBuiltinModules();
    }
    if (parsed.manifest) {
      out(JSON.stringify(manifestOf(modules), null, 2));
      return 0;
    }
    const own = parsed.schemas.length > 0;
    const files = await generateModules(modules, {
      index: !own,
      command: regenerateCommand(args),
      // src/generated/ imports src/errors.ts; users' bindings import the package's
      errors: own ? parsed.errors : "../errors.ts",
      checked: parsed.checked,
    });
    if (parsed.schemas.length > 0) {
      const dir = resolve(parsed.out as string);
      if (parsed.check) {
        const stale = await staleFiles(dir, files);
        if (stale.length > 0) {
          err(`gen: ${dir} is stale; run \`${regenerateCommand(args)}\`:\n  ${stale.join("\n  ")}`);
          return 1;
        }
        out(`gen: ${dir} is fresh (${files.length} files)`);
        return 0;
      }
      for (const p of await writeFiles(dir, files)) out(`wrote ${p}`);
      return 0;
    }
    const dir = fileURLToPath(new URL("src/generated/", ROOT));
    if (parsed.check) {
      const stale = await staleFiles(dir, files);
      const expected = new Set(files.map((f) => f.path));
      for (const p of await listGenerated(dir)) {
        if (!expected.has(p)) stale.push(`${p} (no schema)`);
      }
      if (stale.length > 0) {
        err(`gen: src/generated/ is stale; run \`deno task gen\`:\n  ${stale.join("\n  ")}`);
        return 1;
      }
      out(`gen: src/generated/ is fresh (${files.length} files)`);
      return 0;
    }
    for (const p of await listGenerated(dir)) {
      if (!files.some((f) => f.path === p)) await Deno.remove(join(dir, p));
    }
    await writeFiles(dir, files);
    out(`gen: wrote ${files.length} files to src/generated/`);
    return 0;
  } catch (e) {
    if (e instanceof GenError || e instanceof SchemaError) {
      err(`gen: ${e.message}`);
      return 1;
    }
    // a file-system or permission failure (an --out that is a file, a missing --allow-write):
    // the message names the path and the flag; the stack would not help
    if (e instanceof Error && Object.values(Deno.errors).some((c) => e instanceof c)) {
      err(`gen: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  quietToolEnv();
  Deno.exit(await main(Deno.args));
}
