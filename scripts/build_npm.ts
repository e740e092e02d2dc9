/**
 * Builds the npm package `typed-virtio` into `npm/` (`deno task build:npm`).
 *
 * - Entry points are the `exports` of `deno.json`; every module reachable from them is built.
 * - Import specifiers are rewritten for Node: `./x.ts` becomes `./x.js`, `npm:pkg@1.2.3` and
 *   import-map names become `pkg` with a `dependencies` entry in `package.json`.
 * - ts-morph's emitter (the TypeScript compiler) type-checks the modules against Deno's types and
 *   emits ES2022 modules with `.d.ts` files.
 * - Deno-only modules are listed in {@link DENO_ONLY}: they are left out, as are the export entries
 *   that point at them and the `export ... from` lines that re-export them. Any other use of a
 *   Deno-only module, or a direct `Deno.*` call in a module that goes to npm, fails the build
 *   with a message naming the file.
 *
 * ```
 * deno task build:npm [--out DIR]
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Diagnostic, Project, ts } from "ts-morph";
import {
  type DenoConfig,
  type DenoUse,
  mapSpecifier,
  matchGlob,
  normalize,
  NPM_NAME,
  NpmBuildError,
  readDenoConfig,
  relativeSpecifier,
  resolveRelative,
  rewriteModule,
  ROOT,
  run,
} from "./_npm.ts";

/**
 * Modules (repository paths or globs) that need Deno and are left out of the npm package, with why.
 * An export entry, or an `export ... from` line, that points here is dropped; an `import` of one
 * from a module that goes to npm fails the build.
 */
export const DENO_ONLY: Readonly<Record<string, string>> = {
  "gen/cli.ts": "the `deno task gen` command line: reads and writes files with Deno APIs",
  "gen/builtin.ts": "regenerates the built-in schemas of a checkout with Deno.readDir",
  "src/transport/vhost_user/**": "vhost-user: Unix sockets, eventfds and mmap through Deno FFI",
  "src/transport/worker.ts":
    "the worker transport: a Web Worker from a module URL (Deno and browsers; Node 20 has no global Worker)",
  "src/transport/_worker_host.ts": "the code that runs inside the worker transport's Worker",
  "src/transport/_poll.ts":
    "the worker transport's polling window, used by the worker transport only",
  "src/devices/console/stdio.ts": "the console's stdio backend: Deno.stdin and Deno.stdout",
  "src/devices/blk/file_storage.ts": "virtio-blk storage in image files, on Deno's file API",
  "src/devices/blk/posix_file_storage.ts":
    "virtio-blk storage in image files, preadv/pwritev through Deno FFI",
  "src/devices/blk/uring_file_storage.ts":
    "virtio-blk storage in image files, io_uring through Deno FFI",
  "src/devices/blk/_address.ts": "buffer addresses for system calls, through Deno FFI",
  "src/devices/fs/host_dir_fs.ts":
    "virtio-fs's host-directory backend, on node:fs (the build has no Node type definitions)",
  "src/devices/vsock/unix_bridge.ts":
    "virtio-vsock's bridge to host sockets: Deno.connect and Deno.Conn",
  "src/devices/net/datagram.ts":
    "virtio-net's UDP backend (Deno.listenDatagram or node:dgram; the build has no Node type definitions)",
  "scripts/**": "build and CI scripts",
  "tests/**": "tests are run on Node by scripts/test_npm.ts, not shipped",
};

/**
 * npm dependencies that only one part of the package uses: they become optional peer
 * dependencies, so that `npm install typed-virtio` does not fetch them for everyone. The part
 * that needs one throws a typed error naming it when it is missing.
 */
export const OPTIONAL_PEERS: Readonly<Record<string, string>> = {
  "ts-morph": "the generator (`typed-virtio/gen`, about 13 MB with TypeScript); " +
    "gen/_ts_morph.ts throws GenError ERR_VIRTIO_GEN_TS_MORPH without it",
};

/** The README of the npm package (for Node users; the repository's README is Deno's). */
export const NPM_README = "docs/npm_readme.md";

/** Options of {@link buildNpm}. */
export interface BuildOptions {
  /** Output directory, relative to the repository root or absolute. Default `npm`. */
  readonly outDir?: string;
  /** Print progress. Default true. */
  readonly verbose?: boolean;
}

/** What {@link buildNpm} built. */
export interface BuildResult {
  /** The output directory, absolute. */
  readonly outDir: string;
  /** Export subpath (`"."`, `"./gen"`) to the repository path of its module, for each built entry. */
  readonly entries: Readonly<Record<string, string>>;
  /** Export subpaths of `deno.json` left out as Deno-only. */
  readonly leftOutEntries: readonly string[];
  /** Repository paths of every built module (`.ts`). */
  readonly modules: readonly string[];
  /** `dependencies` of the package: name to version. */
  readonly dependencies: Readonly<Record<string, string>>;
  /** Re-exports of Deno-only modules dropped from built modules. */
  readonly droppedReExports: readonly { readonly file: string; readonly module: string }[];
}

/** Builds the npm package; throws {@link NpmBuildError} with an actionable message on failure. */
export async function buildNpm(options: BuildOptions = {}): Promise<BuildResult> {
  const log = options.verbose ?? true ? (s: string) => console.log(s) : () => {};
  const config = await readDenoConfig();
  const outDir = absolute(options.outDir ?? "npm");

  // entry points
  const entries: Record<string, string> = {};
  const leftOutEntries: string[] = [];
  for (const [key, path] of Object.entries(config.exports)) {
    if (matchGlob(path, Object.keys(DENO_ONLY)) !== undefined) leftOutEntries.push(key);
    else entries[key] = path;
  }
  for (const key of leftOutEntries) log(`build:npm: leaving out export ${key} (Deno-only)`);

  // the module graph, with specifiers rewritten in place
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.esnext.d.ts"],
      types: [],
      declaration: true,
      strict: true,
      skipLibCheck: true,
      isolatedModules: true,
      rootDir: "/",
      outDir: "/out",
      newLine: ts.NewLineKind.LineFeed,
    },
  });
  const graph = await collectModules(project, config, entries);
  log(`build:npm: ${graph.modules.length} modules from ${Object.keys(entries).length} entries`);
  for (const d of graph.droppedReExports) {
    log(`build:npm: ${d.file}: dropped the re-export of Deno-only ${d.module}`);
  }

  // types of the environment: Deno's (the code is written for Deno), and the npm dependencies
  project.createSourceFile("/__deno_types__.d.ts", await denoTypes());
  // the few node: built-ins the package's modules use, declared narrowly (no @types/node)
  project.createSourceFile("/__node_builtins__.d.ts", NODE_BUILTINS);
  for (const [path, text] of await npmTypeFiles(Object.keys(graph.dependencies))) {
    project.getFileSystem().writeFileSync(path, text);
  }

  const diagnostics = project.getPreEmitDiagnostics()
    .filter((d) => d.getCategory() === ts.DiagnosticCategory.Error);
  if (diagnostics.length > 0) {
    const text = formatDiagnostics(diagnostics);
    const hint = /Cannot find module 'node:/.test(text)
      ? "\nhint: the build type-checks against Deno's types only; @types/node is not loaded, " +
        "so keep node: imports out of the modules built for npm or teach scripts/build_npm.ts " +
        "to load @types/node"
      : "";
    throw new NpmBuildError(`type errors in the modules built for npm:\n${text}${hint}`);
  }

  const emitted = project.emitToMemory();
  const emitErrors = emitted.getDiagnostics()
    .filter((d) => d.getCategory() === ts.DiagnosticCategory.Error);
  if (emitErrors.length > 0) {
    throw new NpmBuildError(
      `emit failed:\n${formatDiagnostics(emitErrors)}`,
    );
  }

  await cleanOutDir(outDir);
  let count = 0;
  for (const f of emitted.getFiles()) {
    const rel = f.filePath.replace(/^\/out\//, "");
    if (rel.endsWith(".d.ts") && /(?<![\w.$])Deno\./.test(stripComments(f.text))) {
      throw new NpmBuildError(
        `${rel} mentions Deno's types in the public API; Node users cannot resolve them. ` +
          `Use a type of its own, or add the module to DENO_ONLY in scripts/build_npm.ts`,
      );
    }
    await write(`${outDir}/${rel}`, f.text);
    count++;
  }

  const pkg = packageJson(config, entries, graph.dependencies, graph.modules);
  await write(`${outDir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
  await copyOrWarn("LICENSE", `${outDir}/LICENSE`, log);
  if (!(await copyOrWarn(NPM_README, `${outDir}/README.md`, log))) {
    await write(`${outDir}/README.md`, `# ${NPM_NAME}\n\n${config.description}\n`);
  }
  log(`build:npm: wrote ${count} files and package.json to ${outDir}`);
  return {
    outDir,
    entries,
    leftOutEntries,
    modules: graph.modules,
    dependencies: graph.dependencies,
    droppedReExports: graph.droppedReExports,
  };
}

interface Graph {
  modules: string[];
  dependencies: Record<string, string>;
  droppedReExports: { file: string; module: string }[];
}

/** Walks the graph from the entries, adding each module to the project with rewritten imports. */
async function collectModules(
  project: Project,
  config: DenoConfig,
  exportsMap: Readonly<Record<string, string>>,
): Promise<Graph> {
  const entries = Object.values(exportsMap);
  const denoOnly = Object.keys(DENO_ONLY);
  const entryOf = new Map(Object.entries(exportsMap).map(([k, v]) => [v, k]));
  const seen = new Set<string>(entries);
  const queue = [...entries];
  const dependencies: Record<string, string> = {};
  const droppedReExports: { file: string; module: string }[] = [];
  while (queue.length > 0) {
    const path = queue.shift() as string;
    if (!path.endsWith(".ts") || path.endsWith(".d.ts")) {
      throw new NpmBuildError(`${path}: only .ts modules are built for npm`);
    }
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(path, ROOT));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new NpmBuildError(`${path} is in deno.json's exports or imported, but is missing`);
      }
      throw e;
    }
    const rewritten = rewriteModule(path, text, (spec, site, line) => {
      const mapped = mapSpecifier(path, spec, config.imports);
      if (mapped.kind === "node") return spec;
      if (mapped.kind === "npm") {
        if (mapped.version === undefined) {
          throw new NpmBuildError(`${path}: "${spec}" gives no version; pin one (npm:pkg@1.2.3)`);
        }
        const prev = dependencies[mapped.name];
        if (prev !== undefined && prev !== mapped.version) {
          throw new NpmBuildError(
            `${path}: ${mapped.name}@${mapped.version}, but another module imports @${prev}`,
          );
        }
        dependencies[mapped.name] = mapped.version;
        return mapped.specifier;
      }
      const target = mapped.path;
      const why = matchGlob(target, denoOnly);
      if (why !== undefined) {
        if (site === "re-export") {
          droppedReExports.push({ file: path, module: target });
          return undefined;
        }
        throw new NpmBuildError(
          `${path} (line ${line}) imports ${target}, which is Deno-only ` +
            `(${DENO_ONLY[why]}). Move what npm users need out of it, or add ${path} to ` +
            `DENO_ONLY in scripts/build_npm.ts`,
        );
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
      return relativeSpecifier(path, target.replace(/\.ts$/, ".js"));
    });
    checkNoDenoUses(rewritten.denoUses, path);
    project.createSourceFile(`/${path}`, docExamplesForNpm(path, rewritten.text, entryOf));
  }
  return { modules: [...seen].sort(), dependencies, droppedReExports };
}

function checkNoDenoUses(calls: readonly DenoUse[], path: string): void {
  if (calls.length === 0) return;
  const list = calls.map((c) => `Deno.${c.name} (line ${c.line})`).join(", ");
  throw new NpmBuildError(
    `${path} uses ${list}, which Node does not have. Either add it to DENO_ONLY in ` +
      `scripts/build_npm.ts (it, its export entry and re-exports of it are then left out of the ` +
      `npm package), or reach Deno through globalThis with a fallback, as formatTs in ` +
      `gen/generate.ts does`,
  );
}

/**
 * The node: built-ins that modules of the npm package import, declared as
 * narrowly as those modules use them, with Node's own signatures. The build
 * type-checks against Deno's types only (no @types/node). Kept in a string:
 * as a .d.ts file in the tree, `deno check` would take these for the real ones.
 */
const NODE_BUILTINS = `
declare module "node:crypto" {
  /** The AES-GCM cipher names. */
  export type CipherGCMTypes = "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm";
  interface CipherBase {
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    setAutoPadding(on?: boolean): this;
    setAAD(data: Uint8Array): this;
  }
  /** A cipher (\`createCipheriv\`). */
  export interface Cipher extends CipherBase {
    getAuthTag(): Uint8Array;
  }
  /** A decipher (\`createDecipheriv\`). */
  export interface Decipher extends CipherBase {
    setAuthTag(tag: Uint8Array): this;
  }
  /** A hash or HMAC. */
  export interface Hash {
    update(data: Uint8Array | string): Hash;
    digest(): Uint8Array;
  }
  export function createCipheriv(
    algorithm: string,
    key: Uint8Array,
    iv: Uint8Array | null,
    options?: { authTagLength?: number },
  ): Cipher;
  export function createDecipheriv(
    algorithm: string,
    key: Uint8Array,
    iv: Uint8Array | null,
    options?: { authTagLength?: number },
  ): Decipher;
  export function createHash(algorithm: string): Hash;
  export function createHmac(algorithm: string, key: Uint8Array): Hash;
}

declare module "node:zlib" {
  export function deflateSync(data: Uint8Array, options?: { level?: number }): Uint8Array;
}
`;

/** Deno's type declarations (`deno types`), minus its references to libs only Deno knows. */
async function denoTypes(): Promise<string> {
  const text = await run(Deno.execPath(), ["types"], { quiet: true });
  return text.replace(/^\/\/\/ <reference lib="deno\.[^"]*" \/>$/gm, "");
}

/** The `.d.ts` and `package.json` files of the given npm packages and their dependencies. */
async function npmTypeFiles(names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (names.length === 0) return out;
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json"], { quiet: true }));
  const packages: Record<string, { dependencies?: string[] }> = lock.npm ?? {};
  const keys = Object.keys(packages);
  const keyOf = (dep: string): string | undefined => {
    const exact = keys.find((k) => k === dep || k.startsWith(`${dep}_`));
    if (exact) return exact;
    const candidates = keys.filter((k) => k.startsWith(`${dep}@`));
    return candidates.length === 1 ? candidates[0] : undefined;
  };
  const seen = new Set<string>();
  const queue = names.map((n) => {
    const key = Object.entries(lock.specifiers ?? {})
      .filter(([s]) => s.startsWith(`npm:${n}@`))
      .map(([, v]) => `${n}@${v}`)[0];
    if (key === undefined) {
      throw new NpmBuildError(`npm:${n} is not in deno.lock; run \`deno install\` first`);
    }
    return keyOf(key) ?? key;
  });
  while (queue.length > 0) {
    const key = queue.shift() as string;
    if (seen.has(key)) continue;
    seen.add(key);
    const m = /^((?:@[^/@]+\/)?[^@]+)@([^_]+)/.exec(key);
    if (!m) continue;
    const [, name, version] = m;
    const dir = `${info.npmCache}/registry.npmjs.org/${name}/${version}`;
    for (const rel of await typeFilesIn(dir)) {
      out.set(`/node_modules/${name}/${rel}`, await Deno.readTextFile(`${dir}/${rel}`));
    }
    for (const dep of packages[key]?.dependencies ?? []) {
      const k = keyOf(dep);
      if (k !== undefined) queue.push(k);
    }
  }
  return out;
}

async function typeFilesIn(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`${dir}/${prefix}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NpmBuildError(`${dir} is missing from Deno's npm cache; run \`deno install\``);
    }
    throw e;
  }
  for (const e of entries) {
    if (e.isDirectory && e.name !== "node_modules") {
      out.push(...await typeFilesIn(dir, `${prefix}${e.name}/`));
    } else if (e.isFile && /(\.d\.[cm]?ts|^package\.json)$/.test(e.name)) {
      out.push(`${prefix}${e.name}`);
    }
  }
  return out;
}

/** The package.json of the npm package. */
function packageJson(
  config: DenoConfig,
  entries: Readonly<Record<string, string>>,
  dependencies: Readonly<Record<string, string>>,
  modules: readonly string[],
): Record<string, unknown> {
  const js = (p: string) => `./${p.replace(/\.ts$/, ".js")}`;
  const dts = (p: string) => `./${p.replace(/\.ts$/, ".d.ts")}`;
  const exports: Record<string, unknown> = {};
  for (const [key, path] of Object.entries(entries)) {
    exports[key] = { types: dts(path), import: js(path) };
  }
  exports["./package.json"] = "./package.json";
  const root = entries["."];
  const files = [...new Set(modules.map((m) => m.split("/")[0]))]
    .map((top) => (top.endsWith(".ts") ? [js(top), dts(top)] : [`${top}/`]))
    .flat()
    .map((f) => f.replace(/^\.\//, ""));
  return {
    name: NPM_NAME,
    version: config.version,
    description: config.description,
    license: config.license,
    keywords: ["virtio", "virtqueue", "vmm", "emulator", "dataview", "deno"],
    type: "module",
    ...(root ? { main: js(root), types: dts(root) } : {}),
    exports,
    files,
    engines: { node: ">=20" },
    sideEffects: false,
    dependencies: Object.fromEntries(
      Object.entries(dependencies).filter(([n]) => !(n in OPTIONAL_PEERS)).sort(),
    ),
    peerDependencies: Object.fromEntries(
      Object.entries(dependencies).filter(([n]) => n in OPTIONAL_PEERS).sort(),
    ),
    peerDependenciesMeta: Object.fromEntries(
      Object.keys(dependencies).filter((n) => n in OPTIONAL_PEERS).sort().map((n) => [
        n,
        { optional: true },
      ]),
    ),
  };
}

function absolute(path: string): string {
  if (path.startsWith("/")) return path.replace(/\/$/, "");
  return fileURLToPath(new URL(normalize(path), ROOT)).replace(/\/$/, "");
}

/** Empties the output directory, refusing to empty one that is not an earlier build. */
async function cleanOutDir(dir: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (entries.length === 0) return;
  let name: unknown;
  try {
    name = JSON.parse(await Deno.readTextFile(`${dir}/package.json`)).name;
  } catch {
    name = undefined;
  }
  if (name !== NPM_NAME) {
    throw new NpmBuildError(`${dir} is not empty and holds no earlier build; give another --out`);
  }
  await Deno.remove(dir, { recursive: true });
}

async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeTextFile(path, text);
}

async function copyOrWarn(from: string, to: string, log: (s: string) => void): Promise<boolean> {
  try {
    await Deno.copyFile(new URL(from, ROOT), to);
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log(`build:npm: warning: no ${from} in the repository; the package goes without it`);
    return false;
  }
}

/**
 * Rewrites the imports of `@example` code in JSDoc (` * import { x } from "./mod.ts";`) that name an
 * entry point to the package's name, so that the examples npm users see in their editor work.
 */
function docExamplesForNpm(path: string, text: string, entryOf: Map<string, string>): string {
  return text.replace(
    /^(\s*\*\s*import\b[^"\n]*from\s*")(\.\.?\/[^"]+\.ts)(";?)$/gm,
    (line, head: string, spec: string, tail: string) => {
      const key = entryOf.get(resolveRelative(path, spec));
      return key === undefined ? line : `${head}${NPM_NAME}${key.slice(1)}${tail}`;
    },
  );
}

/** Diagnostics as `file:line: message` lines, without colours. */
function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => {
    const file = d.getSourceFile()?.getFilePath().replace(/^\//, "") ?? "(no file)";
    const text = ts.flattenDiagnosticMessageText(d.compilerObject.messageText, "\n  ");
    return `  ${file}:${d.getLineNumber() ?? "?"}: TS${d.getCode()}: ${text}`;
  }).join("\n");
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
}

if (import.meta.main) {
  const args = [...Deno.args];
  let outDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out" && args[i + 1]) outDir = args[++i];
    else if (args[i].startsWith("--out=")) outDir = args[i].slice(6);
    else {
      console.error(
        `build:npm: unknown argument ${args[i]}\nusage: deno task build:npm [--out DIR]`,
      );
      Deno.exit(2);
    }
  }
  try {
    await buildNpm({ outDir });
  } catch (e) {
    if (e instanceof NpmBuildError) {
      console.error(`build:npm: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
