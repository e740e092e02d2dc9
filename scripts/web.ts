/**
 * `deno task web [--port N] [--out DIR] [--build-only]`: builds the page of
 * `web/` into a static folder (default `web/dist`) and serves it on
 * http://localhost:N/ (default 8086) with the cross-origin isolation
 * headers. The folder is self-contained and can be hosted anywhere that can
 * send those headers (its `_headers` file says them in the form several
 * static hosts read).
 *
 * The folder holds: `index.html`, `style.css`, `main.js` (web/main.ts and
 * everything it imports, v86 and xterm.js included, bundled by `deno bundle`
 * for the browser), `xterm.css`, `v86.wasm` (from the v86 npm package), and
 * `kit/` (the guest kit of scripts/install_v86_kit.sh: BIOS, kernel,
 * initramfs).
 *
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { kitDir, loadKit } from "../src/hosts/v86/kit.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The headers every response of the page carries: cross-origin isolation
 * (COOP + COEP), which `SharedArrayBuffer` needs, and CORP for its own files.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
});

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  wasm: "application/wasm",
  png: "image/png",
};

/** Builds the page into `out`; throws when the kit is missing or the bundle fails. */
export async function buildWeb(out: string = join(root, "web", "dist")): Promise<string> {
  const kit = await loadKit(); // throws with the install hint when missing
  await Deno.mkdir(join(out, "kit"), { recursive: true });
  const bundle = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--output",
      join(out, "main.js"),
      join(root, "web", "main.ts"),
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!bundle.success) throw new Error(`web build: deno bundle exited ${bundle.code}`);
  const require = createRequire(join(root, "deno.json"));
  const copies: [string, string][] = [
    [join(root, "web", "index.html"), "index.html"],
    [join(root, "web", "style.css"), "style.css"],
    [require.resolve("v86/build/v86.wasm"), "v86.wasm"],
    [
      join(dirname(require.resolve("@xterm/xterm")), "..", "css", "xterm.css"),
      "xterm.css",
    ],
  ];
  for (const f of ["bios.bin", "vgabios.bin", "bzImage", "initrd.img", "kit.json"]) {
    copies.push([join(kit.dir, f), join("kit", f)]);
  }
  for (const [from, to] of copies) await Deno.copyFile(from, join(out, to));
  await Deno.writeTextFile(
    join(out, "_headers"),
    "/*\n" + Object.entries(ISOLATION_HEADERS).map(([k, v]) => `  ${k}: ${v}\n`).join(""),
  );
  return out;
}

/** Serves the folder `dir` on `port` (0: any free port) with {@link ISOLATION_HEADERS}. */
export function serveWeb(
  dir: string,
  port = 0,
  onListen?: (url: string) => void,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }) => onListen?.(`http://127.0.0.1:${port}/`),
  }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const rel = path.endsWith("/") ? path + "index.html" : path;
    if (rel.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(join(dir, rel));
      const ext = rel.slice(rel.lastIndexOf(".") + 1);
      return new Response(body, {
        headers: {
          ...ISOLATION_HEADERS,
          "Content-Type": TYPES[ext] ?? "application/octet-stream",
          "Cache-Control": "no-cache",
        },
      });
    } catch {
      return new Response("not found", { status: 404, headers: ISOLATION_HEADERS });
    }
  });
}

if (import.meta.main) {
  const args = [...Deno.args];
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const out = opt("--out") ?? join(root, "web", "dist");
  const port = Number(opt("--port") ?? 8086);
  const buildOnly = args.includes("--build-only");
  console.error(`building the page into ${out} (kit from ${kitDir()})…`);
  await buildWeb(out);
  if (!buildOnly) {
    serveWeb(out, port, (url) => console.error(`serving ${out} on ${url} (Ctrl-C stops)`));
  }
}
