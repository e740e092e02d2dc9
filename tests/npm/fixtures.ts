/**
 * Files `scripts/test_npm.ts` writes into the temporary Node project that installs the packed
 * `typed-virtio` tarball. They are kept as text here because they import `typed-virtio`, a name
 * only that project resolves (Deno would fail to type-check them in place).
 *
 * @module
 */

/** A small program run with Node against the installed package: accessors, schema and generator. */
export const EXAMPLE_MJS =
  `// Run by scripts/test_npm.ts with Node against the installed typed-virtio tarball.
import assert from "node:assert/strict";
import { VIRTQ_DESC_F_NEXT, VirtioError, VirtqDesc } from "typed-virtio";
import { le16, le32, struct } from "typed-virtio/schema";
import { generateModules, manifestOf } from "typed-virtio/gen";

// 1. generated accessors over plain and shared memory
for (const buffer of [new ArrayBuffer(VirtqDesc.SIZE * 4), new SharedArrayBuffer(VirtqDesc.SIZE * 4)]) {
  const desc = new VirtqDesc(new DataView(buffer));
  desc.at(VirtqDesc.SIZE);
  desc.addr = 0x1000;
  desc.len = 512;
  desc.flags = VIRTQ_DESC_F_NEXT;
  desc.next = 2;
  const bytes = new Uint8Array(buffer, VirtqDesc.SIZE, VirtqDesc.SIZE);
  assert.deepEqual([...bytes], [0, 0x10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 0, 2, 0]);
}

// 2. a schema of one's own, its manifest and its generated accessor (the generator runs on Node;
//    formatting with deno fmt is skipped there)
const my_config = struct("my_config", { magic: le32, count: le16, flags: le16 });
const modules = [{ source: "my.ts", output: "my.ts", items: [my_config] }];
const manifest = manifestOf(modules);
assert.equal(manifest.my_config.size, 8);
const [file] = await generateModules(modules, { index: false });
assert.match(file.text, /export class MyConfig/);

// 3. errors come from one hierarchy
assert.equal(typeof VirtioError, "function");

console.log(\`typed-virtio on Node \${process.version}: VirtqDesc.SIZE=\${VirtqDesc.SIZE}, \` +
  \`my_config is \${manifest.my_config.size} bytes, generated \${file.text.split("\\n").length} lines\`);
`;

/** A TypeScript consumer type-checked with `tsc` against the installed package's `.d.ts` files. */
export const CONSUMER_TS =
  `// Type-checked by scripts/test_npm.ts with tsc against the installed typed-virtio tarball.
import { VIRTQ_DESC_F_NEXT, VirtioError, VirtqDesc } from "typed-virtio";
import { le32, struct } from "typed-virtio/schema";
import { type GeneratedFile, generateModules, type Manifest, manifestOf } from "typed-virtio/gen";

const desc: VirtqDesc = new VirtqDesc(new DataView(new ArrayBuffer(VirtqDesc.SIZE)));
desc.flags = VIRTQ_DESC_F_NEXT;
const size: number = VirtqDesc.SIZE;
const len: number = desc.len;

const my_config = struct("my_config", { magic: le32 });
const manifest: Manifest = manifestOf([{ source: "my.ts", output: "my.ts", items: [my_config] }]);
const files: Promise<GeneratedFile[]> = generateModules(
  [{ source: "my.ts", output: "my.ts", items: [my_config] }],
  { index: false },
);
const isError = (e: unknown): boolean => e instanceof VirtioError;

export { files, isError, len, manifest, size };
`;

/**
 * Node module hooks that compile `.ts` files on import with the `typescript` package, for tests
 * that generate accessor modules at run time and import them.
 */
export const TS_HOOKS_MJS = `// Node module hooks: strip types from .ts files imported at run time.
import { readFile } from "node:fs/promises";
import ts from "typescript";

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !/\\.[cm]?ts$/.test(url)) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  const out = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  return { format: "module", source: out.outputText, shortCircuit: true };
}
`;

/** Registers {@link TS_HOOKS_MJS}; given to Node with `--import`. */
export const TS_REGISTER_MJS = `import { register } from "node:module";
register("./ts_hooks.mjs", import.meta.url);
`;

/**
 * The bridge from `Deno.test` to `node:test`. `@deno/shim-deno-test` only records each
 * `Deno.test(...)` in `testDefinitions`; every transpiled test module ends with a call of
 * `runDenoTests()`, which hands the recorded tests to `node:test`, with `t.step` as subtests.
 * A test module that records no test fails, so a broken shim cannot pass silently.
 */
export const TEST_BRIDGE_MJS = `// Deno.test -> node:test, for the transpiled typed-virtio tests.
import { test } from "node:test";
import shim from "@deno/shim-deno-test";

function context(t, name, parent) {
  const ctx = {
    name,
    origin: import.meta.url,
    parent,
    async step(nameOrDef, fn) {
      const def = typeof nameOrDef === "function"
        ? { name: nameOrDef.name, fn: nameOrDef }
        : typeof nameOrDef === "string" ? { name: nameOrDef, fn } : nameOrDef;
      let passed = false;
      await t.test(def.name, { skip: def.ignore === true }, async (st) => {
        await def.fn(context(st, def.name, ctx));
        passed = true;
      });
      return passed || def.ignore === true;
    },
  };
  return ctx;
}

export function runDenoTests(file) {
  const defs = shim.testDefinitions.splice(0);
  if (defs.length === 0) {
    test(\`\${file}: records Deno.test cases\`, () => {
      throw new Error(\`\${file} registered no Deno.test on Node; is the Deno shim imported?\`);
    });
  }
  for (const def of defs) {
    test(def.name, { skip: def.ignore === true }, (t) => def.fn(context(t, def.name, undefined)));
  }
}
`;
