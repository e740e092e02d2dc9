/**
 * Imports accessor modules generated at test time from a temporary directory, on Deno and on
 * Node (where `scripts/test_npm.ts` runs these tests against the package): the generated files
 * import `ArgumentError` from `./_errors.ts`, which hands over the errors module the test
 * itself imported, so `instanceof` works against the same classes.
 *
 * @module
 */
import * as errors from "../../src/errors.ts";

/** The `errors` option of `generateModules` for files written by {@link writeErrorsShim}'s directory. */
export const ERRORS_SHIM = "./_errors.ts";

/** Writes `_errors.ts` into `dir`. */
export async function writeErrorsShim(dir: string): Promise<void> {
  (globalThis as Record<string, unknown>).__typedVirtioTestErrors = errors;
  await Deno.writeTextFile(
    `${dir}/_errors.ts`,
    "export const { ArgumentError } = (globalThis as unknown as " +
      "{ __typedVirtioTestErrors: { ArgumentError: unknown } }).__typedVirtioTestErrors;\n",
  );
}
