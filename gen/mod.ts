/**
 * The typed-virtio generator: schema modules in, zero-copy `DataView`
 * accessors and a JSON manifest out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateModules } from "./mod.ts";
 * import { struct, le32 } from "../schema/dsl.ts";
 *
 * const my_config = struct("my_config", { magic: le32, count: le32 });
 * const [file] = await generateModules(
 *   [{ source: "my.ts", output: "my.ts", items: [my_config] }],
 *   { index: false, format: false },
 * );
 * assert.ok(file.text.includes("export class MyConfig"));
 * ```
 *
 * @module
 */
export { emitModule, type EmitOptions, type ExternalStruct } from "./emit.ts";
export {
  formatTs,
  type GeneratedFile,
  generateModules,
  type GenerateOptions,
  itemsOf,
  loadSchemaModule,
  manifestOf,
  type SchemaModule,
} from "./generate.ts";
export {
  buildManifest,
  layoutManifest,
  type Manifest,
  type ManifestField,
  type ManifestLayout,
} from "./manifest.ts";
export { type GenArgs, main, parseArgs, USAGE } from "./cli.ts";
