/**
 * Proves the npm package on Node (`deno task test:npm`):
 *
 * 1. builds the package ({@link buildNpm}) into a temporary directory and `npm pack`s it;
 * 2. installs the tarball into a fresh temporary project (its dependencies come from the npm
 *    registry), with `typescript` and Deno's Node shims;
 * 3. runs a small example with Node against the installed package;
 * 4. type-checks a TypeScript consumer of every export entry with `tsc`;
 * 5. transpiles `tests/**\/*_test.ts` (but the Deno-only ones, see {@link DENO_ONLY_TESTS}) to
 *    JavaScript that imports the installed package, with `Deno` from `@deno/shim-deno-test` (or
 *    `@deno/shim-deno` where more than `Deno.test` is used), and runs them with `node --test`.
 *
 * Prints `npm tests on Node: N passed, N failed, ...` at the end and exits non-zero when any step
 * fails. `--keep` keeps the temporary project for a look.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { ts } from "ts-morph";
import { buildNpm, type BuildResult, DENO_ONLY, OPTIONAL_PEERS } from "./build_npm.ts";
import {
  mapSpecifier,
  matchGlob,
  NPM_NAME,
  NpmBuildError,
  readDenoConfig,
  relativeSpecifier,
  rewriteModule,
  ROOT,
  run,
  walkFiles,
} from "./_npm.ts";
import {
  CONSUMER_TS,
  EXAMPLE_MJS,
  TEST_BRIDGE_MJS,
  TS_HOOKS_MJS,
  TS_REGISTER_MJS,
} from "../tests/npm/fixtures.ts";

/**
 * Tests (repository globs) that only run on Deno, with why. Every test file runs on Node or is
 * listed here: a file the Node run would drop for another reason fails `test:npm`, and an entry
 * that matches no test file fails it too (tests/repo_test.ts checks both from the sources).
 */
export const DENO_ONLY_TESTS: Readonly<Record<string, string>> = {
  "tests/interop/**": "drive QEMU, a Linux guest and vhost-user backends",
  "tests/hosts/v86/pci_*_test.ts":
    "a v86 boot per transport with every device; blk's check reads the disk with debugfs (Deno.Command)",
  "tests/hosts/v86/mmio_*_test.ts":
    "a v86 boot per transport with every device; blk's check reads the disk with debugfs (Deno.Command)",
  "tests/hosts/v86/cpio_test.ts": "checks the guest-file archive with GNU cpio (Deno.Command)",
  "tests/hosts/v86/caif_test.ts": "a v86 boot; gcc for the guest program (Deno.Command)",
  "tests/hosts/v86/crypto_test.ts": "a v86 boot; gcc for the guest program (Deno.Command)",
  "tests/hosts/v86/blk_uring_test.ts":
    "a v86 boot; UringFileStorage is Deno FFI (left out of the npm package); gcc for the guest program",
  "tests/hosts/v86/scsi_vsock_fs_*_test.ts":
    "a v86 boot per transport; gcc for the guest program and debugfs (Deno.Command)",
  "tests/hosts/v86/p9_test.ts": "a v86 boot over virtio-fs's host-directory backend (node:fs)",
  "tests/hosts/v86/rpmsg_test.ts":
    "a v86 boot with modules built from linux-source-6.1; gcc for the guest program (Deno.Command)",
  "tests/hosts/v86/soak_test.ts":
    "a v86 soak of minutes in a Deno child process (Deno.Command, --v8-flags=--expose-gc, FileStorage)",
  "tests/hosts/v86/timeout_dump_test.ts":
    "a v86 boot of its own; the Node run boots Linux once, in fixed_memory_test.ts",
  "tests/hosts/v86/gpu_test.ts":
    "a v86 boot of minutes; the Node run boots Linux once, in fixed_memory_test.ts",
  "tests/gen/cli_test.ts": "runs the Deno-only gen CLI, also as a `deno` subprocess",
  "tests/repo_test.ts": "checks the repository (README, deno.json, scripts, .ci), not the package",
  "tests/devices/blk_file_test.ts":
    "blk's file storages: Deno's file API and FFI (preadv/pwritev, threads), left out of the npm build",
  "tests/devices/blk_uring_test.ts":
    "blk's io_uring storage: Deno FFI (io_uring_setup/enter, mmap), left out of the npm build",
  "tests/devices/*_race_test.ts":
    "a racing writer in a Web Worker over shared guest memory (Node 20 has no global Worker)",
  "tests/transport/pci_admin_race_test.ts":
    "a racing writer in a Web Worker over shared guest memory (Node 20 has no global Worker)",
  "tests/devices/console_stdio_test.ts":
    "the console's stdio backend (Deno.stdin and Deno.stdout), left out of the npm build",
  "tests/devices/net_udp_test.ts": "net's UDP backend, left out of the npm build",
  "tests/devices/fs/filesystem_test.ts":
    "virtio-fs's host-directory backend (node:fs), left out of the npm build",
  "tests/devices/fs/fuse_server_test.ts":
    "virtio-fs's host-directory backend (node:fs), left out of the npm build",
  "tests/devices/fs/device_test.ts":
    "virtio-fs's host-directory backend (node:fs), left out of the npm build",
  "tests/devices/p9/device_test.ts":
    "virtio-9p over virtio-fs's host-directory backend (node:fs), left out of the npm build",
  "tests/devices/p9/server_test.ts":
    "virtio-9p over virtio-fs's host-directory backend (node:fs), left out of the npm build",
  "tests/demo_test.ts": "runs `deno task demo` and the examples as `deno` subprocesses",
  "tests/docs_commands_test.ts":
    "runs every documented `deno run`/`deno task` command as a subprocess",
  "tests/transport/vhost_user/**": "vhost-user (Deno FFI to libc), left out of the npm build",
  "tests/fuzz/fuzz_entry_test.ts": "runs `deno task fuzz` (scripts/fuzz.ts) as a `deno` subprocess",
  "tests/fuzz/fs_fuzz_test.ts":
    "the 9P and FUSE fuzzers also serve a host directory (node:fs), left out of the npm build",
  "tests/virtqueue/mutations_test.ts":
    "patches a copy of src/ and runs the differential suites on it in a `deno` subprocess",
  "tests/transport/worker_test.ts":
    "the worker transport (a Web Worker from a module URL), left out of the npm build",
  "tests/web/**":
    "the web page (web/, not part of the npm package) and Chromium driven from Deno (Deno.Command, Deno.serve)",
  "tests/transport/poll_test.ts":
    "the worker transport's polling window (src/transport/_poll.ts), left out of the npm build",
  "tests/virtqueue/two_workers_test.ts":
    "Deno workers from a module URL, and a `deno run` child with other V8 flags",
};

/**
 * `Deno.*` APIs that the Node shims cannot stand in for: a test file (or a helper it imports) that
 * uses one is skipped on Node, and the reason printed.
 */
export const DENO_ONLY_APIS: readonly string[] = [
  "Command",
  "execPath",
  "run",
  "dlopen",
  "UnsafePointer",
  "UnsafePointerView",
  "UnsafeCallback",
  "UnsafeFnPointer",
  "openKv",
  "serve",
  "jupyter",
];

/** Versions installed beside the package in the temporary project. */
export const TOOL_VERSIONS: Readonly<Record<string, string>> = {
  "typescript": "5.9.3",
  // A TypeScript consumer on Node has Node's type definitions: they declare
  // the web streams (ReadableStream, WritableStream) the console device uses.
  "@types/node": "20.19.43",
  "@deno/shim-deno": "0.19.2",
  "@deno/shim-deno-test": "0.5.0",
};

class Skip extends Error {}

/** Test files (`tests/**\/*_test.ts`), repository paths. */
export async function testFiles(): Promise<string[]> {
  return (await walkFiles("tests", /_test\.[cm]?ts$/)).filter((p) => !p.endsWith(".d.ts")).sort();
}

/** Entries of {@link DENO_ONLY_TESTS} that match no test file (stale names). */
export function staleDenoOnlyTests(files: readonly string[]): string[] {
  return Object.keys(DENO_ONLY_TESTS).filter((g) =>
    !files.some((f) => matchGlob(f, [g]) !== undefined)
  );
}

/**
 * Why test file `entry` cannot run on Node, read from its source and its `tests/` helpers alone:
 * a Deno-only API ({@link DENO_ONLY_APIS}) or an import of a module the npm build leaves out
 * (`DENO_ONLY` of scripts/build_npm.ts). Undefined when the sources give no reason; the build
 * may still find one (a module no export entry reaches).
 */
export async function denoOnlyReason(entry: string): Promise<string | undefined> {
  const config = await readDenoConfig();
  const buildOut = Object.keys(DENO_ONLY).filter((g) => !g.startsWith("tests/"));
  const queue = [entry];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const path = queue.shift() as string;
    const text = await Deno.readTextFile(new URL(path, ROOT));
    let why: string | undefined;
    const { denoUses } = rewriteModule(path, text, (spec) => {
      const mapped = mapSpecifier(path, spec, config.imports);
      if (mapped.kind !== "local") return spec;
      if (mapped.path.startsWith("tests/")) {
        if (!seen.has(mapped.path)) {
          seen.add(mapped.path);
          queue.push(mapped.path);
        }
      } else if (matchGlob(mapped.path, buildOut) !== undefined) {
        why ??= `imports ${mapped.path}, left out of the npm build${where(path, entry)}`;
      }
      return spec;
    });
    if (why !== undefined) return why;
    const apis = [
      ...new Set(denoUses.map((u) => u.name).filter((n) => DENO_ONLY_APIS.includes(n))),
    ];
    if (apis.length > 0) return `uses Deno.${apis.join(", Deno.")}${where(path, entry)}`;
  }
  return undefined;
}

interface Transpiled {
  /** Test files to run, absolute paths in the temporary project. */
  readonly tests: string[];
  /** Skipped test files with why. */
  readonly skipped: { path: string; why: string }[];
  /** npm packages the tests import: name to version. */
  readonly devDependencies: Record<string, string>;
}

/** Transpiles the tests into `work/`, importing the package as installed in `work/node_modules`. */
async function transpileTests(build: BuildResult, work: string): Promise<Transpiled> {
  const config = await readDenoConfig();
  const all = await testFiles();
  const entryOf = new Map(Object.entries(build.entries).map(([k, v]) => [v, k]));
  const inPackage = new Set(build.modules);
  const tests: string[] = [];
  const skipped: { path: string; why: string }[] = [];
  const devDependencies: Record<string, string> = {};

  // a test file and the helpers it imports under tests/, rewritten, or a reason to skip
  const rewrite = async (entry: string): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    const deps: Record<string, string> = {};
    const queue = [entry];
    const seen = new Set(queue);
    while (queue.length > 0) {
      const path = queue.shift() as string;
      const listed = matchGlob(path, Object.keys(DENO_ONLY_TESTS));
      if (listed !== undefined) throw new Skip(DENO_ONLY_TESTS[listed]);
      const text = await Deno.readTextFile(new URL(path, ROOT));
      const rewritten = rewriteModule(path, text, (spec) => {
        const mapped = mapSpecifier(path, spec, config.imports);
        if (mapped.kind === "node") return spec;
        if (mapped.kind === "npm") {
          if (mapped.version) deps[mapped.name] = mapped.version;
          return mapped.specifier;
        }
        const target = mapped.path;
        if (target.startsWith("tests/")) {
          if (!seen.has(target)) {
            seen.add(target);
            queue.push(target);
          }
          return relativeSpecifier(path, target.replace(/\.ts$/, ".js"));
        }
        if (entryOf.has(target)) return NPM_NAME + (entryOf.get(target) as string).slice(1);
        if (inPackage.has(target)) {
          return relativeSpecifier(
            path,
            `node_modules/${NPM_NAME}/${target.replace(/\.ts$/, ".js")}`,
          );
        }
        throw new Skip(`imports ${target}, which is not in the npm package${where(path, entry)}`);
      });
      const calls = rewritten.denoUses.map((c) => c.name);
      const denoOnly = calls.filter((c) => DENO_ONLY_APIS.includes(c));
      if (denoOnly.length > 0) {
        throw new Skip(`uses Deno.${[...new Set(denoOnly)].join(", Deno.")}${where(path, entry)}`);
      }
      const js = path.replace(/\.([cm]?)ts$/, ".$1js");
      let code = transpile(shimDeno(rewritten.text, calls), path);
      if (path === entry) {
        // hand what Deno.test recorded to node:test (the shim only records)
        code += `\nimport { runDenoTests as __runDenoTests } from ` +
          `"${relativeSpecifier(js, "deno_test_bridge.mjs")}";\n__runDenoTests(${
            JSON.stringify(path)
          });\n`;
      }
      out.set(js, code);
    }
    Object.assign(devDependencies, deps);
    return out;
  };

  for (const path of all) {
    try {
      const files = await rewrite(path);
      for (const [p, text] of files) {
        await Deno.mkdir(`${work}/${p.replace(/\/[^/]*$/, "")}`, { recursive: true });
        await Deno.writeTextFile(`${work}/${p}`, text);
      }
      tests.push(`${work}/${path.replace(/\.([cm]?)ts$/, ".$1js")}`);
    } catch (e) {
      if (!(e instanceof Skip)) throw e;
      skipped.push({ path, why: e.message });
    }
  }
  // data files the tests read beside them (new URL("./x.bin", import.meta.url))
  for (const p of await walkFiles("tests", /^(?!.*\.[cm]?ts$)/)) {
    if (p.startsWith("tests/npm/")) continue;
    await Deno.mkdir(`${work}/${p.replace(/\/[^/]*$/, "")}`, { recursive: true });
    await Deno.copyFile(new URL(p, ROOT), `${work}/${p}`);
  }
  return { tests, skipped, devDependencies };
}

function where(path: string, entry: string): string {
  return path === entry ? "" : ` (in ${path})`;
}

/** Gives a module that uses `Deno` an import of the shim: the test-only one where it suffices. */
function shimDeno(text: string, calls: readonly string[]): string {
  if (calls.length === 0) return text;
  const from = calls.every((c) => c === "test") ? "@deno/shim-deno-test" : "@deno/shim-deno";
  return `import { Deno } from "${from}";\n${text}`;
}

function transpile(text: string, path: string): string {
  const out = ts.transpileModule(text, {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: false,
    },
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    throw new NpmBuildError(
      `${path}: ${ts.flattenDiagnosticMessageText(errors[0].messageText, "\n")}`,
    );
  }
  return out.outputText;
}

/** A consumer module that imports every export entry of the package, so tsc reads every `.d.ts`. */
function entriesConsumer(build: BuildResult): string {
  const keys = Object.keys(build.entries).sort();
  const lines = keys.map((k, i) => `import * as entry${i} from "${NPM_NAME}${k.slice(1)}";`);
  lines.push(`export const entries: readonly object[] = [${keys.map((_, i) => `entry${i}`)}];`);
  return lines.join("\n") + "\n";
}

/** The `tsc` project of the consumer: strict, NodeNext, every `.d.ts` checked. */
const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022"],
    types: ["node"],
    noEmit: true,
    skipLibCheck: false,
  },
  files: ["consumer.ts", "entries.ts"],
};

interface TapSummary {
  pass: number;
  fail: number;
  skipped: number;
  todo: number;
  cancelled: number;
}

function tapSummary(out: string): TapSummary {
  const n = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, "m").exec(out)?.[1] ?? 0);
  return {
    pass: n("pass"),
    fail: n("fail"),
    skipped: n("skipped"),
    todo: n("todo"),
    cancelled: n("cancelled"),
  };
}

/** Runs the whole check; returns the exit code. */
export async function testNpm(
  options: { keep?: boolean; only?: readonly string[] } = {},
): Promise<number> {
  const t0 = performance.now();
  const step = (s: string) =>
    console.log(`\n== test:npm: ${s} (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
  const work = await Deno.makeTempDir({ prefix: `${NPM_NAME}-npm-` });
  let ok = false;
  try {
    step("build");
    // built into the temporary directory, so that a run leaves the tree (and npm/) alone
    const build = await buildNpm({ outDir: `${work}/package` });

    step("npm pack");
    const packed = JSON.parse(
      await run("npm", ["pack", "--json", "--pack-destination", work], {
        cwd: build.outDir,
        quiet: true,
      }),
    );
    const tarball = `${work}/${packed[0].filename}`;
    console.log(`${packed[0].filename}: ${packed[0].entryCount} files, ${packed[0].size} bytes`);

    step("transpile tests");
    const transpiled = await transpileTests(build, work);
    const t = { ...transpiled, tests: [...transpiled.tests] };
    for (const s of t.skipped) console.log(`not run on Node: ${s.path}: ${s.why}`);
    // A test file leaves the Node run only by being listed with a reason.
    const unlisted = t.skipped.filter((x) =>
      matchGlob(x.path, Object.keys(DENO_ONLY_TESTS)) === undefined
    );
    if (unlisted.length > 0) {
      throw new NpmBuildError(
        `${unlisted.length} test file(s) would be dropped from the Node run without being ` +
          `listed in DENO_ONLY_TESTS (scripts/test_npm.ts):\n` +
          unlisted.map((x) => `  ${x.path}: ${x.why}`).join("\n") +
          `\nList each with its reason, or make it run on Node (export what it tests, or ` +
          `move its Deno-only part into a file of its own).`,
      );
    }
    const stale = staleDenoOnlyTests(await testFiles());
    if (stale.length > 0) {
      throw new NpmBuildError(`DENO_ONLY_TESTS names no test file: ${stale.join(", ")}`);
    }
    console.log(`${t.tests.length} test files for Node, ${t.skipped.length} not run on Node`);

    step("npm install the tarball into a fresh project");
    await Deno.writeTextFile(
      `${work}/package.json`,
      JSON.stringify({ name: `${NPM_NAME}-npm-test`, private: true, type: "module" }, null, 2),
    );
    // the tests cover the generator too: install its optional peers
    const peers = Object.fromEntries(
      Object.keys(OPTIONAL_PEERS).map((n) => [n, build.dependencies[n]]).filter(([, v]) => v),
    );
    const tools = { ...t.devDependencies, ...peers, ...TOOL_VERSIONS };
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      tarball,
      ...Object.entries(tools).map(([n, v]) => `${n}@${v}`),
    ], { cwd: work });

    step("run an example with Node");
    await Deno.writeTextFile(`${work}/example.mjs`, EXAMPLE_MJS);
    await run("node", ["example.mjs"], { cwd: work });

    step("type-check a TypeScript consumer with tsc");
    await Deno.writeTextFile(`${work}/consumer.ts`, CONSUMER_TS);
    await Deno.writeTextFile(`${work}/entries.ts`, entriesConsumer(build));
    await Deno.writeTextFile(`${work}/tsconfig.json`, JSON.stringify(TSCONFIG, null, 2));
    await run("node", ["node_modules/typescript/bin/tsc", "-p", "."], { cwd: work });
    console.log(`tsc: consumer.ts and ${Object.keys(build.entries).length} entry points check`);

    step("run the test suite with node --test");
    await Deno.writeTextFile(`${work}/ts_hooks.mjs`, TS_HOOKS_MJS);
    await Deno.writeTextFile(`${work}/ts_register.mjs`, TS_REGISTER_MJS);
    await Deno.writeTextFile(`${work}/deno_test_bridge.mjs`, TEST_BRIDGE_MJS);
    if (options.only && options.only.length > 0) {
      const only = options.only;
      t.tests = t.tests.filter((p: string) =>
        matchGlob(p.slice(work.length + 1).replace(/\.([cm]?)js$/, ".$1ts"), only) !== undefined
      );
      console.log(`--only ${only.join(" ")}: ${t.tests.length} test files`);
    }
    if (t.tests.length === 0) throw new NpmBuildError("no test files to run on Node");
    const node = await new Deno.Command("node", {
      // cwd is the repository root, as for `deno task test`; imports resolve from the test files
      args: [
        "--test",
        "--test-reporter=tap",
        "--import",
        pathToFileURL(`${work}/ts_register.mjs`).href,
        ...t.tests,
      ],
      cwd: fileURLToPath(ROOT),
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).output();
    const tap = new TextDecoder().decode(node.stdout);
    console.log(tap.trimEnd());
    const s = tapSummary(tap);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `\nnpm tests on Node: ${s.pass} passed, ${s.fail} failed, ${s.skipped} skipped, ` +
        `${s.cancelled} cancelled; ${t.tests.length} test files run, ${t.skipped.length} ` +
        `test files not run on Node (${secs}s)`,
    );
    ok = node.success && s.fail === 0 && s.cancelled === 0 && s.pass > 0;
    if (!ok) console.error("test:npm: FAILED: node --test reported failures");
    return ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof NpmBuildError)) throw e;
    console.error(`test:npm: FAILED: ${e.message}`);
    return 1;
  } finally {
    if (ok && !options.keep) await Deno.remove(work, { recursive: true });
    else console.log(`test:npm: the temporary project is kept at ${work}`);
  }
}

/** The major version of `node` on the PATH, or undefined when there is none. */
async function nodeMajor(): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    const m = /^v(\d+)\./.exec(new TextDecoder().decode(out.stdout));
    return out.success && m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const keep = Deno.args.includes("--keep");
  // --only GLOB (repeatable): run only these test files on Node, e.g. 'tests/gen/**'
  const only: string[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--keep") continue;
    if (a === "--only" && Deno.args[i + 1] !== undefined) only.push(Deno.args[++i]);
    else unknown.push(a);
  }
  if (unknown.length > 0) {
    console.error(
      `test:npm: unknown argument ${
        unknown[0]
      }\nusage: deno task test:npm [--keep] [--only GLOB]...`,
    );
    Deno.exit(2);
  }
  const major = await nodeMajor();
  if (major === undefined || major < 20) {
    console.error(
      `test:npm: FAILED: Node 20 or later is needed on the PATH (found ${major ?? "none"})`,
    );
    Deno.exit(1);
  }
  Deno.exit(await testNpm({ keep, only }));
}
