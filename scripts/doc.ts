/**
 * Builds the API documentation of every entry point in `deno.json`'s `exports` as HTML into
 * `docs/api/` (git-ignored): `deno task doc`.
 *
 * @module
 */
import { NpmBuildError, readDenoConfig, ROOT, run } from "./_npm.ts";

/** Where the HTML goes, relative to the repository root. */
export const DOC_DIR = "docs/api";

/** Runs `deno doc --html` over the export entries; returns the entry files documented. */
export async function buildDocs(): Promise<string[]> {
  const config = await readDenoConfig();
  const entries = [...new Set(Object.values(config.exports))];
  await Deno.remove(new URL(`${DOC_DIR}/`, ROOT), { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await run(Deno.execPath(), [
    "doc",
    "--html",
    `--name=${config.name}`,
    `--output=${DOC_DIR}`,
    ...entries,
  ], { cwd: ROOT.pathname });
  return entries;
}

if (import.meta.main) {
  try {
    const entries = await buildDocs();
    console.log(`doc: ${entries.length} entry points documented in ${DOC_DIR}/index.html`);
  } catch (e) {
    if (!(e instanceof NpmBuildError)) throw e;
    console.error(`doc: ${e.message}`);
    Deno.exit(1);
  }
}
