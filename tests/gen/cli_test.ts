// The gen command line: freshness, the manifest, user bindings, bad arguments.
import assert from "node:assert/strict";
import { main, parseArgs } from "../../gen/cli.ts";
import { GenError } from "../../src/errors.ts";

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
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["examples/custom_device/schema.ts", "--out", dir]);
    assert.equal(r.code, 0, r.err);
    const fresh = await Deno.readTextFile(`${dir}/schema.ts`);
    const committed = await Deno.readTextFile("examples/custom_device/generated/schema.ts");
    assert.equal(fresh, committed, "examples/custom_device/generated is stale");
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
