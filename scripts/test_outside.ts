/**
 * Uses typed-virtio as a project outside this repository would (`deno task test:outside`),
 * following `docs/using.md`: the commands, schema, generator call and `tsconfig.json` are taken
 * from that guide's code blocks, so the guide is what is tested.
 *
 * In a scratch folder under the system's temporary directory:
 *
 * 1. Node: builds and packs the npm package, `npm install`s the tarball into a fresh project
 *    (without ts-morph: the package works, and `typed-virtio/gen` fails with
 *    `ERR_VIRTIO_GEN_TS_MORPH`), checks its README is the Node one, then installs ts-morph,
 *    generates bindings for a schema with the guide's `generateModules` call, and compiles and
 *    runs a TypeScript program using them with the guide's `tsconfig.json`.
 * 2. Deno: a project whose `deno.json` maps `@typed-virtio/virtio` to JSR and links this
 *    checkout; runs the guide's gen command (exact permissions) on the guide's schema, then
 *    `--check`, then a program that imports the package and the bindings.
 *
 * ```
 * deno run -A scripts/test_outside.ts [--keep]
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { buildNpm } from "./build_npm.ts";
import { NPM_NAME, NpmBuildError, ROOT, run } from "./_npm.ts";
import { TOOL_VERSIONS } from "./test_npm.ts";

/** The fenced code blocks of a markdown text, with their language. */
export function codeBlocks(markdown: string): { lang: string; text: string }[] {
  const out: { lang: string; text: string }[] = [];
  const re = /^```(\w*)[^\n]*\n([\s\S]*?)^```/gm;
  for (const m of markdown.matchAll(re)) out.push({ lang: m[1], text: m[2] });
  return out;
}

function block(
  blocks: { lang: string; text: string }[],
  lang: string,
  has: string,
): string {
  const b = blocks.find((b) => b.lang === lang && b.text.includes(has));
  if (!b) throw new NpmBuildError(`docs/using.md has no \`\`\`${lang} block with ${has}`);
  return b.text;
}

function assert(ok: unknown, what: string): asserts ok {
  if (!ok) throw new NpmBuildError(`test:outside: ${what}`);
}

async function sh(script: string, cwd: string): Promise<string> {
  return await run("sh", ["-c", script], { cwd });
}

/** The Node half. */
async function node(work: string, guide: { lang: string; text: string }[]): Promise<void> {
  console.log("\n== test:outside: Node: build and pack");
  const build = await buildNpm({ outDir: `${work}/package`, verbose: false });
  const packed = JSON.parse(
    await run("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: build.outDir,
      quiet: true,
    }),
  );
  const tarball = `${work}/${packed[0].filename}`;
  const dir = `${work}/node-app`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    `${dir}/package.json`,
    JSON.stringify({ name: "outside-app", private: true, type: "module" }, null, 2),
  );

  console.log("== test:outside: Node: npm install the tarball (no ts-morph)");
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: dir,
  });
  const pkgDir = `${dir}/node_modules/${NPM_NAME}`;
  const readme = await Deno.readTextFile(`${pkgDir}/README.md`);
  assert(!/deno task|\.\/mod\.ts/.test(readme), "the npm README speaks of deno tasks or ./mod.ts");
  assert(/npm install/.test(readme), "the npm README shows npm install");
  const pkg = JSON.parse(await Deno.readTextFile(`${pkgDir}/package.json`));
  assert(!pkg.dependencies?.["ts-morph"], "ts-morph is still a dependency");
  assert(pkg.peerDependenciesMeta?.["ts-morph"]?.optional, "ts-morph is not an optional peer");
  const hasTsMorph = await Deno.stat(`${dir}/node_modules/ts-morph`).then(() => true, () => false);
  assert(!hasTsMorph, "npm installed ts-morph with the package");
  await Deno.writeTextFile(
    `${dir}/no_gen.mjs`,
    `import assert from "node:assert/strict";
import { VirtqDesc } from "typed-virtio";
const d = new VirtqDesc(new DataView(new ArrayBuffer(32))).at(16).write(0x1000, 512, 1, 2);
assert.equal(d.len, 512);
await assert.rejects(import("typed-virtio/gen"), (e) => e.code === "ERR_VIRTIO_GEN_TS_MORPH" &&
  /npm install ts-morph/.test(e.message));
console.log("without ts-morph: accessors work, typed-virtio/gen says what to install");
`,
  );
  await run("node", ["no_gen.mjs"], { cwd: dir });

  console.log("== test:outside: Node: install ts-morph, generate, compile and run TypeScript");
  await run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    `ts-morph@${build.dependencies["ts-morph"]}`,
    `typescript@${TOOL_VERSIONS.typescript}`,
    `@types/node@${TOOL_VERSIONS["@types/node"]}`,
  ], { cwd: dir });
  await Deno.writeTextFile(`${dir}/gen.mjs`, block(guide, "js", "generateModules"));
  await run("node", ["gen.mjs"], { cwd: dir });
  const generated = await Deno.readTextFile(`${dir}/my_schema.ts`);
  assert(/export class MyConfig/.test(generated), "gen.mjs wrote no MyConfig");
  const tsconfig = JSON.parse(block(guide, "json", "NodeNext"));
  tsconfig.compilerOptions.outDir = "dist";
  tsconfig.files = ["app.ts", "my_schema.ts"];
  await Deno.writeTextFile(`${dir}/tsconfig.json`, JSON.stringify(tsconfig, null, 2));
  await Deno.writeTextFile(
    `${dir}/app.ts`,
    `import assert from "node:assert/strict";
import { ArgumentError, VirtqDesc } from "typed-virtio";
import { GuestMemory } from "typed-virtio/memory";
import { MyConfig } from "./my_schema.js";

const mem: GuestMemory = GuestMemory.fromBuffer(new ArrayBuffer(4096));
const cfg = new MyConfig(new DataView(new ArrayBuffer(MyConfig.SIZE)));
cfg.write(0x74726976, 3, 0);
assert.equal(cfg.count, 3);
assert.equal(VirtqDesc.SIZE, 16);
assert.ok(new ArgumentError("x") instanceof Error);
assert.equal(typeof mem.view, "function");
console.log(\`TypeScript on Node: MyConfig.SIZE=\${MyConfig.SIZE}\`);
`,
  );
  await run("node", ["node_modules/typescript/bin/tsc", "-p", "."], { cwd: dir });
  await run("node", ["dist/app.js"], { cwd: dir });
}

/** The Deno half. */
async function deno(work: string, guide: { lang: string; text: string }[]): Promise<void> {
  console.log("\n== test:outside: Deno: import map + link, the gen CLI, a program");
  const dir = `${work}/deno-app`;
  await Deno.mkdir(dir);
  const map = JSON.parse(block(guide, "json", '"links"'));
  map.links = [fileURLToPath(ROOT).replace(/\/$/, "")];
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(map, null, 2));
  await Deno.writeTextFile(`${dir}/thermo.ts`, block(guide, "ts", "// thermo.ts"));
  const gen = block(guide, "sh", "gen/cli thermo.ts").trim();
  await sh(gen, dir);
  const text = await Deno.readTextFile(`${dir}/generated/thermo.ts`);
  assert(/run `gen thermo\.ts --out generated`/.test(text), "the header quotes the command");
  // --check: fresh, and it needs no write permission
  await sh(`${gen.replace(/--allow-write=\S+ /, "")} --check`, dir);
  await Deno.writeTextFile(
    `${dir}/main.ts`,
    `import { VirtqDesc } from "@typed-virtio/virtio";
import { ArgumentError } from "@typed-virtio/virtio/errors";
import { VirtioThermoConfig } from "./generated/thermo.ts";

const cfg = new VirtioThermoConfig(new DataView(new ArrayBuffer(VirtioThermoConfig.SIZE)));
cfg.mode = 5;
cfg.intervalMs = 250;
if (cfg.mode !== 5 || cfg.intervalMs !== 250 || VirtqDesc.SIZE !== 16) throw new Error("wrong");
if (!(new ArgumentError("x") instanceof Error)) throw new Error("wrong");
console.log(\`Deno: VirtioThermoConfig.SIZE=\${VirtioThermoConfig.SIZE}\`);
`,
  );
  await run(Deno.execPath(), ["check", "main.ts"], { cwd: dir });
  await run(Deno.execPath(), ["run", "main.ts"], { cwd: dir });
}

/** Runs both halves; returns the exit code. */
export async function testOutside(options: { keep?: boolean } = {}): Promise<number> {
  const guide = codeBlocks(await Deno.readTextFile(new URL("docs/using.md", ROOT)));
  const work = await Deno.makeTempDir({ prefix: `${NPM_NAME}-outside-` });
  try {
    await deno(work, guide);
    await node(work, guide);
    console.log("\ntest:outside: ok (Deno and Node projects outside the repository)");
    return 0;
  } catch (e) {
    console.error(e instanceof NpmBuildError ? e.message : e);
    console.error("test:outside: FAILED");
    return 1;
  } finally {
    if (options.keep) console.log(`kept ${work}`);
    else await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await testOutside({ keep: Deno.args.includes("--keep") }));
}
