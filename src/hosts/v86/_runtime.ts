/**
 * What the v86 host needs of its runtime, for Deno and Node alike: timers,
 * reading a file, and where an installed package's file is. Typed here so
 * that the npm build (checked without Node's or the web's type definitions)
 * needs neither.
 *
 * @module
 */

/** A timer handle (a number on Deno, an object on Node). */
export type TimerId = unknown;

interface Timers {
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  setInterval(fn: () => void, ms: number): TimerId;
  clearInterval(id: TimerId): void;
}

/** The runtime's timers. */
export const timers: Timers = globalThis as unknown as Timers;

/** Lets the process exit with the timer `t` pending (Deno and Node). */
export function unrefTimer(t: TimerId): void {
  const g = globalThis as { Deno?: { unrefTimer(id: number): void } };
  if (typeof t === "number") g.Deno?.unrefTimer(t);
  else (t as { unref?: () => void }).unref?.();
}

// node: built-ins by a computed name: the npm build type-checks without Node's types
const nodeModule = (name: string): Promise<Record<string, unknown>> => import(`node:${name}`);

/** Reads a file with Deno or Node. */
export async function readFile(path: string): Promise<Uint8Array> {
  const g = globalThis as { Deno?: { readFile(p: string): Promise<Uint8Array> } };
  if (g.Deno !== undefined) return await g.Deno.readFile(path);
  const fs = await nodeModule("fs/promises") as { readFile(p: string): Promise<Uint8Array> };
  return new Uint8Array(await fs.readFile(path));
}

/** The path of `specifier` (a package's file, e.g. `v86/build/v86.wasm`) as resolved from here. */
export async function resolvePackageFile(specifier: string): Promise<string> {
  const { createRequire } = await nodeModule("module") as {
    createRequire(from: string): { resolve(s: string): string };
  };
  return createRequire(import.meta.url).resolve(specifier);
}
