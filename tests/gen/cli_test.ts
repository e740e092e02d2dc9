// The gen command line: freshness, the manifest, user bindings, bad arguments.
import assert from "node:assert/strict";
import { main, parseArgs } from "../../gen/cli.ts";
import { GenError, SchemaError } from "../../src/errors.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, (s) => out += s + "\n", (s) => err += s + "\n");
  return { code, out, err };
}

Deno.test("gen --check: src/generated is fresh", async () => {
  const r = await run(["--check"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /fresh/);
});

Deno.test("gen --manifest: the format of DESIGN.md", async () => {
  const r = await run(["--manifest"]);
  assert.equal(r.code, 0, r.err);
  const m = JSON.parse(r.out);
  assert.deepEqual(m.virtq_desc, {
    size: 16,
    fields: {
      addr: { offset: 0, size: 8, type: "le64" },
      len: { offset: 8, size: 4, type: "le32" },
      flags: { offset: 12, size: 2, type: "le16" },
      next: { offset: 14, size: 2, type: "le16" },
    },
  });
  assert.deepEqual(m.virtq_avail.fields["ring[]"], { offset: 4, size: 2, type: "le16" });
  assert.equal(m.virtq_avail.size, 6, "size at parameter 0");
  assert.deepEqual(m.virtq_used.fields["ring[]"], { offset: 4, size: 8, type: "virtq_used_elem" });
  assert.deepEqual(m.pvirtq_event_suppress.fields["desc.desc_event_wrap"], {
    offset: 0,
    size: 2,
    type: "le16",
    bit_offset: 15,
    bit_width: 1,
  });
  assert.equal(m.constants.device_status.ACKNOWLEDGE, 1);
  assert.equal(m.constants.device_status.DRIVER_OK, 4);
  assert.equal(m.constants.virtio_features.VIRTIO_F_VERSION_1, 32);
});

Deno.test("gen SCHEMA --out DIR: the custom device example is reproducible", async () => {
  // the committed bindings are what their own header's command writes
  const committed = await Deno.readTextFile("examples/custom_device/generated/schema.ts");
  const args = ["examples/custom_device/schema.ts", "--out", "examples/custom_device/generated"];
  assert.match(
    committed,
    /run `gen examples\/custom_device\/schema\.ts --out examples\/custom_device\/generated`/,
  );
  const check = await run([...args, "--check"]);
  assert.equal(check.code, 0, check.err);
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["examples/custom_device/schema.ts", "--out", dir]);
    assert.equal(r.code, 0, r.err);
    const fresh = await Deno.readTextFile(`${dir}/schema.ts`);
    const body = (s: string) => s.slice(s.indexOf("/**"));
    assert.equal(body(fresh), body(committed), "only the header's command differs");
    assert.match(fresh, /export class VirtioThermoConfig/);
    assert.match(fresh, /export class VirtqDesc/, "a nested spec struct is emitted with it");
    const m = JSON.parse((await run(["--manifest", "examples/custom_device/schema.ts"])).out);
    assert.equal(m.virtio_thermo_config.fields["name[16]"].size, 16);
    assert.equal(m.virtio_thermo_batch.fields["target.addr"].offset, 8);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: bad arguments give usage and a non-zero exit, no stack trace", async () => {
  for (
    const args of [
      ["--frobnicate"],
      ["schema.txt"],
      ["examples/custom_device/schema.ts"],
      ["--out"],
      ["--out", "x"],
      ["--check", "--manifest"],
      ["--checked"],
      ["--errors", "x"],
      ["examples/custom_device/schema.ts", "--out", "x", "--errors"],
    ]
  ) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, /usage:/, args.join(" "));
    assert.doesNotMatch(r.err, / {4}at /, "no stack trace");
  }
  assert.throws(() => parseArgs(["--out", "a", "--out", "b", "x.ts"]), GenError);
});

Deno.test("gen: an unloadable or empty schema module is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/empty.ts`, "export const x = 1;\n");
    await Deno.writeTextFile(
      `${dir}/broken.ts`,
      `import { struct, le32 } from "${new URL("../../schema/dsl.ts", import.meta.url).href}";\n` +
        `export const bad = struct("bad", { a: le32, b: { kind: "field", type: le32, offset: 2 } });\n`,
    );
    let r = await run([`${dir}/missing.ts`, "--out", dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot load schema module .*missing\.ts/);
    r = await run([`${dir}/empty.ts`, "--out", dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /exports no structs/);
    r = await run([`${dir}/broken.ts`, "--out", dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /schema bad, field b: bytes 2\.\.5 overlap field a/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: the CLI process exits 2 on bad arguments", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "gen/cli.ts", "--nope"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr);
  assert.match(err, /unknown option --nope/);
});

// --- user schemas: paths, --check, errors with file:line, permissions, order -------------

const DSL = new URL("../../schema/dsl.ts", import.meta.url).href;

const USER_SCHEMA = `import { enumeration, le16, le32, struct, u8 } from "${DSL}";
export const zeta_config = struct("zeta_config", { mode: u8, flags: u8, count: le16 });
export const alpha_req = struct("alpha_req", { type: le32, sector: le32 });
export const mid_status = enumeration("mid_status", { MID_OK: 0, MID_ERR: 1 });
`;

/** Files under `dir`, as paths relative to it, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await tree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    else out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

Deno.test("gen --out: output goes exactly where --out says, for awkward directory names", async () => {
  const root = await Deno.makeTempDir();
  try {
    const names = ["a#b", "100%", "50%25", "with space", "q?x", "ünï cödé", "h#x%20y z"];
    for (const name of names) {
      const dir = `${root}/${name}`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
      const r = await run([`${dir}/user.ts`, "--out", `${dir}/out dir/`]); // trailing slash
      assert.equal(r.code, 0, `${name}: ${r.err}`);
      assert.deepEqual(await tree(dir), ["out dir/user.ts", "user.ts"], name);
      assert.match(r.out, new RegExp(`wrote ${RegExp.escape(`${dir}/out dir/user.ts`)}`), name);
    }
    assert.deepEqual(
      (await tree(root)).filter((p) => !names.some((n) => p.startsWith(`${n}/`))),
      [],
      "nothing written beside the awkward directories",
    );
    // a relative --out with a trailing slash, from another working directory
    const cwd = `${root}/with space`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../gen/cli.ts", import.meta.url).href,
        "user.ts",
        "--out",
        "rel#/",
      ],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
    assert.deepEqual(await tree(cwd), ["out dir/user.ts", "rel#/user.ts", "user.ts"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("gen --out --check: reports stale or missing output with exit 1 and never writes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    const args = [`${dir}/user.ts`, "--out", `${dir}/gen`];
    let r = await run([...args, "--check"]);
    assert.equal(r.code, 1, "missing output is stale");
    assert.match(r.err, /user\.ts \(missing\)/);
    assert.deepEqual(await tree(dir), ["user.ts"], "--check created nothing");
    assert.equal((await run(args)).code, 0);
    r = await run([...args, "--check"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /fresh/);
    const edited = (await Deno.readTextFile(`${dir}/gen/user.ts`)) + "// hand edit\n";
    await Deno.writeTextFile(`${dir}/gen/user.ts`, edited);
    r = await run([...args, "--check"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /stale/);
    assert.equal(await Deno.readTextFile(`${dir}/gen/user.ts`), edited, "--check wrote nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: the header quotes the command that regenerates the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    const r = await run([`${dir}/user.ts`, "--out", `${dir}/my out`]);
    assert.equal(r.code, 0, r.err);
    const text = await Deno.readTextFile(`${dir}/my out/user.ts`);
    const header = text.split("\n").slice(0, 2).join("\n");
    assert.ok(header.includes(`\`gen ${dir}/user.ts --out '${dir}/my out'\``), header);
    assert.doesNotMatch(header, /deno task gen/);
    // the repository's own files name the repository's command
    const own = await Deno.readTextFile("src/generated/virtqueue.ts");
    assert.match(own.split("\n")[1], /run `deno task gen` instead/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: generated code follows the schema's order, not the alphabet", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    assert.equal((await run([`${dir}/user.ts`, "--out", dir + "/gen"])).code, 0);
    const text = await Deno.readTextFile(`${dir}/gen/user.ts`);
    const at = (s: string) => text.indexOf(s);
    assert.ok(at("class ZetaConfig") > 0);
    assert.ok(at("class ZetaConfig") < at("class AlphaReq"), "zeta_config is written first");
    assert.ok(at("class AlphaReq") < at("const MidStatus"));
    const blk = await Deno.readTextFile("src/generated/devices/blk.ts");
    // schema/devices/blk.ts: virtio_blk_geometry, then virtio_blk_config, then requests
    assert.ok(blk.indexOf("class VirtioBlkGeometry") < blk.indexOf("class VirtioBlkConfig"));
    assert.ok(blk.indexOf("class VirtioBlkConfig") < blk.indexOf("class VirtioBlkReq"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: a field name given twice is a SchemaError with file:line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/dup.ts`,
      `import { le16, le32, struct } from "${DSL}";\n` +
        `export const dup_config = struct("dup_config", {\n` +
        `  capacity: le32,\n  size_max: le32,\n  capacity: le16,\n});\n`,
    );
    const r = await run([`${dir}/dup.ts`, "--out", `${dir}/gen`]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /schema dup_config, field capacity: given twice, at line 3 and at .*dup\.ts:5:3/,
    );
    assert.deepEqual(await tree(dir), ["dup.ts"], "nothing written");
    // the same through the library: a typed error with a code
    const { loadSchemaModule } = await import("../../gen/generate.ts");
    const e = await loadSchemaModule(`${dir}/dup.ts`).then(() => undefined, (e) => e);
    assert.ok(e instanceof SchemaError);
    assert.equal(e.code, "ERR_VIRTIO_SCHEMA_DUPLICATE");
    assert.equal(e.schema, "dup_config");
    assert.equal(e.field, "capacity");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: an undefined type name points at file:line, the schema and the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/typo.ts`,
      `import { le16, struct, u8 } from "${DSL}";\n` +
        `export const typo_config = struct("typo_config", {\n` +
        `  mode: u8,\n  // @ts-ignore: the typo under test\n  count: le61,\n  flags: le16,\n});\n`,
    );
    const r = await run([`${dir}/typo.ts`, "--out", `${dir}/gen`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /schema typo_config, field count: le61 is not defined \(.*typo\.ts:5:10\)/);
    // a layout error thrown while the module runs gets its place too
    await Deno.writeTextFile(
      `${dir}/overlap.ts`,
      `import { le32, field, struct } from "${DSL}";\n` +
        `export const o = struct("o", {\n  a: le32,\n  b: field(le32, { offset: 2 }),\n});\n`,
    );
    const o = await run([`${dir}/overlap.ts`, "--out", `${dir}/gen`]);
    assert.equal(o.code, 1);
    assert.match(
      o.err,
      /schema o, field b: bytes 2\.\.5 overlap field a at 0\.\.3 \(.*overlap\.ts:4:3\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: the CLI runs with the documented permissions, without --allow-env", async () => {
  const task: string = JSON.parse(await Deno.readTextFile("deno.json")).tasks.gen;
  assert.equal(task, "deno run --allow-read --allow-write --allow-run gen/cli.ts");
  const docs = await Deno.readTextFile("docs/using.md");
  assert.ok(docs.includes("deno run --allow-read --allow-write=OUT_DIR --allow-run GEN_CLI"));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    const cli = new URL("../../gen/cli.ts", import.meta.url).href;
    for (
      const args of [
        // the documented command: write access to the output only
        ["run", "--allow-read", `--allow-write=${dir}/gen`, "--allow-run", cli, "user.ts"],
        // and through the repository's task, which grants no env access
        ["task", "gen", `${dir}/user.ts`],
      ]
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [...args, "--out", `${dir}/gen`],
        cwd: args[0] === "run" ? dir : undefined,
        env: { TSC_WATCHFILE: "UseFsEvents" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `${args.join(" ")}: ${err}`);
      assert.doesNotMatch(err, /NotCapable|Requires|env access/);
      assert.deepEqual(await tree(dir), ["gen/user.ts", "user.ts"]);
      await Deno.remove(`${dir}/gen`, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen --checked --errors SPEC: checked setters, ArgumentError from the given module", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    let r = await run([`${dir}/user.ts`, "--out", `${dir}/plain`]);
    assert.equal(r.code, 0, r.err);
    const plain = await Deno.readTextFile(`${dir}/plain/user.ts`);
    assert.doesNotMatch(plain, /rangeError|ArgumentError/, "no checks, no import by default");
    r = await run([
      `${dir}/user.ts`,
      "--out",
      `${dir}/checked`,
      "--checked",
      "--errors",
      "my/errors",
    ]);
    assert.equal(r.code, 0, r.err);
    const checked = await Deno.readTextFile(`${dir}/checked/user.ts`);
    assert.match(checked, /import \{ ArgumentError \} from "my\/errors";/);
    assert.match(checked, /throw rangeError\("zeta_config\.mode", value, "0\.\.255 \(u8\)"\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen: errors point at fields named like options (width) and at bitfields", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/rect.ts`,
      `import { bits, field, le32, struct, u8 } from "${DSL}";\n` +
        `export const rect = struct("rect", {\n  x: le32,\n  width: field(le32, { offset: 2 }),\n});\n`,
    );
    let r = await run([`${dir}/rect.ts`, "--out", `${dir}/gen`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /schema rect, field width: bytes 2\.\.5 overlap .*\(.*rect\.ts:4:3\)/);
    await Deno.writeTextFile(
      `${dir}/ctl.ts`,
      `import { bits, struct, u8 } from "${DSL}";\n` +
        `export const ctl = struct("ctl", {\n  c: bits(u8, { mode: 3, mode: 5 }),\n});\n`,
    );
    r = await run([`${dir}/ctl.ts`, "--out", `${dir}/gen`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /schema ctl, field c\.mode: given twice, at line 3 and at .*ctl\.ts:3:26/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen --out: a file where the directory should be is an error, not a stack trace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.ts`, USER_SCHEMA);
    await Deno.writeTextFile(`${dir}/taken`, "a file");
    const r = await run([`${dir}/user.ts`, "--out", `${dir}/taken`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^gen: .*taken/);
    assert.equal(await Deno.readTextFile(`${dir}/taken`), "a file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
