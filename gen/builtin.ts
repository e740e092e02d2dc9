/**
 * The schema modules shipped with typed-virtio, and where their bindings go.
 *
 * @module
 */
import { GenError } from "../src/errors.ts";
import { loadSchemaModule, type SchemaModule } from "./generate.ts";

/** The repository root, as a file URL ending in `/`. */
export const ROOT: URL = new URL("../", import.meta.url);

/** Lists the built-in schema modules: `schema/*.ts` and `schema/devices/*.ts` but the DSL. */
export async function builtinSchemaPaths(): Promise<string[]> {
  if (ROOT.protocol !== "file:") {
    throw new GenError(
      "the built-in schemas are regenerated from a checkout of typed-virtio; " +
        "give your own schema modules and --out DIR",
    );
  }
  const out: string[] = [];
  for (const dir of ["schema", "schema/devices"]) {
    const names: string[] = [];
    for await (const e of Deno.readDir(new URL(`${dir}/`, ROOT))) {
      if (e.isFile && e.name.endsWith(".ts") && !["dsl.ts", "mod.ts"].includes(e.name)) {
        names.push(e.name);
      }
    }
    out.push(...names.sort().map((n) => `${dir}/${n}`));
  }
  return out;
}

/** Loads every built-in schema module, with outputs mirroring `schema/` under `src/generated/`. */
export async function loadBuiltinModules(): Promise<SchemaModule[]> {
  const paths = await builtinSchemaPaths();
  return await Promise.all(
    paths.map((p) => loadSchemaModule(new URL(p, ROOT).href, p.replace(/^schema\//, ""), p)),
  );
}
