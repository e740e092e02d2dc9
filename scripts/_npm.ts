/**
 * Helpers shared by the npm build (`build_npm.ts`) and its Node test run (`test_npm.ts`):
 * reading `deno.json`, small globs, and mapping Deno module specifiers to what Node resolves.
 *
 * @module
 */

import { Node, Project, type SourceFile, type StringLiteral, SyntaxKind } from "ts-morph";

/** The repository root, as a file URL ending in `/`. */
export const ROOT: URL = new URL("../", import.meta.url);

/** The name of the package on npm (the JSR name is scoped). */
export const NPM_NAME = "typed-virtio";

/** Thrown for anything that stops the npm build or its test run; the message says what to do. */
export class NpmBuildError extends Error {
  /** Creates the error with a message a user can act on. */
  constructor(message: string) {
    super(message);
    this.name = "NpmBuildError";
  }
}

/** The parts of `deno.json` the npm build reads. */
export interface DenoConfig {
  /** The JSR package name. */
  readonly name: string;
  /** The package version. */
  readonly version: string;
  /** SPDX license identifier. */
  readonly license: string;
  /** One-line description. */
  readonly description: string;
  /** Entry points: subpath (`"."`, `"./schema"`) to a repository path (`"schema/mod.ts"`). */
  readonly exports: Readonly<Record<string, string>>;
  /** The import map. */
  readonly imports: Readonly<Record<string, string>>;
}

/** Reads `deno.json` from the repository root; paths in `exports` lose their leading `./`. */
export async function readDenoConfig(root: URL = ROOT): Promise<DenoConfig> {
  const raw = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  for (const key of ["name", "version", "license", "description"]) {
    if (typeof raw[key] !== "string" || raw[key] === "") {
      throw new NpmBuildError(`deno.json: "${key}" is missing; the npm package.json needs it`);
    }
  }
  const exportsRaw: Record<string, string> = typeof raw.exports === "string"
    ? { ".": raw.exports }
    : raw.exports ?? {};
  const exports: Record<string, string> = {};
  for (const [key, value] of Object.entries(exportsRaw)) {
    exports[key] = normalize(value);
  }
  if (Object.keys(exports).length === 0) {
    throw new NpmBuildError(`deno.json: "exports" is empty; there is nothing to build`);
  }
  return {
    name: raw.name,
    version: raw.version,
    license: raw.license,
    description: raw.description,
    exports,
    imports: raw.imports ?? {},
  };
}

/** A repository path without a leading `./`, with `/` separators. */
export function normalize(path: string): string {
  return path.replace(/\\/g, "/").replace(/^\.\//, "");
}

/** Resolves `spec` (relative) against the repository path `from`; returns a repository path. */
export function resolveRelative(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const p of spec.split("/")) {
    if (p === "..") {
      if (parts.length === 0) {
        throw new NpmBuildError(`${from}: import ${spec} leaves the repository`);
      }
      parts.pop();
    } else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/");
}

/** A relative specifier from repository path `from` to repository path `to` (`./x.js`, `../y.js`). */
export function relativeSpecifier(from: string, to: string): string {
  const a = from.split("/").slice(0, -1);
  const b = to.split("/");
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const rel = [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** Turns a glob (`*` within a segment, `**` across segments) into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** The first glob of `globs` that matches the repository path, if any. */
export function matchGlob(path: string, globs: Iterable<string>): string | undefined {
  for (const g of globs) if (globToRegExp(g).test(path)) return g;
  return undefined;
}

/** Lists repository paths of files under `dir` (a repository path) whose names match `re`. */
export async function walkFiles(dir: string, re: RegExp, root: URL = ROOT): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(new URL(`${d}/`, root)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries.sort((x, y) => x.name.localeCompare(y.name))) {
      if (e.isDirectory) await visit(`${d}/${e.name}`);
      else if (e.isFile && re.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  await visit(dir);
  return out;
}

/** An npm package named by a Deno specifier. */
export interface NpmSpecifier {
  /** Package name (`ts-morph`, `@scope/pkg`). */
  readonly name: string;
  /** Version or range, when the specifier gives one. */
  readonly version: string | undefined;
  /** Subpath after the package name, with its leading `/`, or `""`. */
  readonly subpath: string;
}

/** Parses `npm:name@version/sub`; undefined for anything else. */
export function parseNpmSpecifier(spec: string): NpmSpecifier | undefined {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(spec);
  if (!m) return undefined;
  return { name: m[1], version: m[2], subpath: m[3] ?? "" };
}

/** What a Deno import specifier becomes in the Node build. */
export type MappedSpecifier =
  /** A module of this repository: its repository path. */
  | { readonly kind: "local"; readonly path: string }
  /** A package from npm: the specifier Node imports, and the dependency it needs. */
  | {
    readonly kind: "npm";
    readonly specifier: string;
    readonly name: string;
    readonly version: string | undefined;
  }
  /** A Node built-in (`node:fs`), kept as is. */
  | { readonly kind: "node"; readonly specifier: string };

/**
 * Maps an import specifier found in repository file `from`: relative paths become repository
 * paths, `npm:` and import-map names become plain package names, `node:` stays. `jsr:`, `https:`
 * and unmapped bare names have no npm equivalent here and fail naming the file.
 */
export function mapSpecifier(
  from: string,
  spec: string,
  imports: Readonly<Record<string, string>>,
): MappedSpecifier {
  if (spec.startsWith("./") || spec.startsWith("../")) {
    return { kind: "local", path: resolveRelative(from, spec) };
  }
  if (spec.startsWith("node:")) return { kind: "node", specifier: spec };
  const npm = parseNpmSpecifier(spec);
  if (npm) {
    return {
      kind: "npm",
      specifier: npm.name + npm.subpath,
      name: npm.name,
      version: npm.version,
    };
  }
  // the import map: an exact entry, or the longest "prefix/" entry
  let target = imports[spec];
  if (target === undefined) {
    const prefix = Object.keys(imports)
      .filter((k) => k.endsWith("/") && spec.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    if (prefix !== undefined) target = imports[prefix] + spec.slice(prefix.length);
  }
  if (target !== undefined) {
    if (target.startsWith("./") || target.startsWith("../")) {
      return { kind: "local", path: normalize(target) };
    }
    return mapSpecifier(from, target, {});
  }
  throw new NpmBuildError(
    `${from}: import "${spec}" has no npm equivalent (only relative, node: and npm: imports ` +
      `are built for npm; jsr: and https: modules cannot be fetched here)`,
  );
}

/** Runs a command, streaming its output; throws naming the command when it fails. */
export async function run(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; quiet?: boolean } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args: [...args],
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr)
    .split("\n")
    .filter((l) => !/^npm warn Unknown (user|env) config/.test(l))
    .join("\n");
  if (!out.success) {
    throw new NpmBuildError(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}) in ${options.cwd ?? "."}:\n` +
        `${stdout}${stderr}`,
    );
  }
  if (!options.quiet) {
    if (stdout.trim()) console.log(stdout.trimEnd());
    if (stderr.trim()) console.error(stderr.trimEnd());
  }
  return stdout;
}

/** Where a module specifier stands: `import`, `export ... from`, `import("...")` or `import("...").T`. */
export type SpecifierSite = "import" | "re-export" | "dynamic" | "type";

/** A `Deno.x` access in a module. */
export interface DenoUse {
  /** The property: `Command` for `Deno.Command`. */
  readonly name: string;
  /** 1-based line. */
  readonly line: number;
}

/** A module after {@link rewriteModule}. */
export interface RewrittenModule {
  /** The module's text with its specifiers rewritten. */
  readonly text: string;
  /** `Deno.x` accesses in value positions: not `globalThis.Deno.x`, not types. */
  readonly denoUses: readonly DenoUse[];
}

const scratch = new Project({ useInMemoryFileSystem: true });

/**
 * Rewrites the module specifiers of a TypeScript module. `rewrite` gets each specifier with its
 * site and line and returns the new one, or `undefined` to drop the declaration (only an
 * `export ... from` can be dropped).
 */
export function rewriteModule(
  path: string,
  text: string,
  rewrite: (spec: string, site: SpecifierSite, line: number) => string | undefined,
): RewrittenModule {
  const sf = scratch.createSourceFile(`/${path}`, text, { overwrite: true });
  try {
    const denoUses = findDenoUses(sf);
    for (const [lit, site] of specifierLiterals(sf)) {
      const next = rewrite(lit.getLiteralValue(), site, lit.getStartLineNumber());
      if (next !== undefined) {
        lit.setLiteralValue(next);
        continue;
      }
      const decl = lit.getParent();
      if (site !== "re-export" || !decl || !Node.isExportDeclaration(decl)) {
        throw new NpmBuildError(`${path}: only an export ... from can be dropped`);
      }
      decl.remove();
    }
    return { text: sf.getFullText(), denoUses };
  } finally {
    scratch.removeSourceFile(sf);
  }
}

function specifierLiterals(sf: SourceFile): [StringLiteral, SpecifierSite][] {
  const out: [StringLiteral, SpecifierSite][] = [];
  for (const d of sf.getImportDeclarations()) out.push([d.getModuleSpecifier(), "import"]);
  for (const d of sf.getExportDeclarations()) {
    const s = d.getModuleSpecifier();
    if (s) out.push([s, "re-export"]);
  }
  for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const arg = call.getArguments()[0];
    if (
      call.getExpression().getKind() === SyntaxKind.ImportKeyword && arg &&
      Node.isStringLiteral(arg)
    ) out.push([arg, "dynamic"]);
  }
  for (const t of sf.getDescendantsOfKind(SyntaxKind.ImportType)) {
    const arg = t.getArgument();
    if (Node.isLiteralTypeNode(arg)) {
      const lit = arg.getLiteral();
      if (Node.isStringLiteral(lit)) out.push([lit, "type"]);
    }
  }
  return out;
}

function findDenoUses(sf: SourceFile): DenoUse[] {
  const out: DenoUse[] = [];
  for (const pa of sf.getDescendantsOfKind(SyntaxKind.PropertyAccessExpression)) {
    const e = pa.getExpression();
    if (Node.isIdentifier(e) && e.getText() === "Deno") {
      out.push({ name: pa.getName(), line: pa.getStartLineNumber() });
    }
  }
  return out;
}
