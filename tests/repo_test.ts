// The repository's promises to a new user: the README's two commands use the
// pinned Deno version, and the tasks they name exist.
import assert from "node:assert/strict";

const version = (await Deno.readTextFile(new URL("../.deno-version", import.meta.url))).trim();
const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

Deno.test("README's two commands use the Deno version pinned in .deno-version", () => {
  assert.match(version, /^\d+\.\d+\.\d+$/);
  assert.ok(readme.includes(`npx -y deno@${version} task demo`), "demo command");
  assert.ok(readme.includes(`npx -y deno@${version} task test`), "test command");
  const others = [...readme.matchAll(/deno@(\d+\.\d+\.\d+)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(others)], [version], "no other Deno version in the README");
});

Deno.test("deno.json has the tasks the README and CI use", () => {
  for (const t of ["demo", "test", "gen", "bench", "ci"]) {
    assert.equal(typeof config.tasks[t], "string", `task ${t}`);
  }
  assert.equal(config.name, "@typed-virtio/virtio");
  for (const [k, v] of Object.entries(config.imports as Record<string, string>)) {
    assert.match(v, /^(npm:|node:|\.)/, `import ${k} must come from npm`);
  }
});

Deno.test("schema/mod.ts re-exports every schema module", async () => {
  const mod = await Deno.readTextFile(new URL("../schema/mod.ts", import.meta.url));
  for (const dir of ["schema", "schema/devices"]) {
    for await (const e of Deno.readDir(new URL(`../${dir}/`, import.meta.url))) {
      if (!e.isFile || !e.name.endsWith(".ts") || e.name === "mod.ts") continue;
      const rel = `./${dir.replace(/^schema\/?/, "")}${dir === "schema" ? "" : "/"}${e.name}`;
      assert.ok(mod.includes(`export * from "${rel}";`), `schema/mod.ts lacks ${rel}`);
    }
  }
});
