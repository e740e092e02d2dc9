/**
 * The 9P client's file API: paths relative to the root (`""` is the
 * root), each operation a walk from the root fid, the messages it needs,
 * and a clunk of the fids it walked. {@link P9Client}'s `readFile`,
 * `writeFile`, `list`, `makeDir`, `removeFile`, `renamePath`, `stat`,
 * `makeSymlink` and `readSymlink` are these functions.
 *
 * @module
 */

import { ERRNO, OPEN_FLAGS } from "../fs/filesystem.ts";
import type { P9Attr, P9Client } from "./client.ts";
import { P9Error } from "./errors.ts";

/** The components of `path`. */
export function splitPath(path: string): string[] {
  return path.split("/").filter((p) => p !== "");
}

async function withFid<T>(c: P9Client, path: string, f: (fid: number) => Promise<T>): Promise<T> {
  const fid = await c.walk(c.root, splitPath(path));
  try {
    return await f(fid);
  } finally {
    await c.clunk(fid);
  }
}

function parent(path: string): [string[], string] {
  const parts = splitPath(path);
  const name = parts.pop();
  if (name === undefined) throw new P9Error(ERRNO.EINVAL, "the root has no name");
  return [parts, name];
}

/** The whole content of file `path`. */
export function readFile(c: P9Client, path: string): Promise<Uint8Array> {
  return withFid(c, path, async (fid) => {
    await c.lopen(fid, OPEN_FLAGS.O_RDONLY);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = await c.read(fid, total, c.ioSize);
      if (b.length === 0) break;
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  });
}

/** Creates or replaces file `path` with `data`. */
export async function writeFile(
  c: P9Client,
  path: string,
  data: Uint8Array,
  mode: number,
): Promise<void> {
  const [dir, name] = parent(path);
  const fid = await c.walk(c.root, dir);
  try {
    const flags = OPEN_FLAGS.O_WRONLY | OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_TRUNC;
    await c.lcreate(fid, name, flags, mode);
    for (let at = 0; at < data.length;) {
      const n = await c.write(fid, at, data.subarray(at, at + c.ioSize));
      if (n === 0) throw new P9Error(ERRNO.EIO, `${path}: write of 0 bytes`);
      at += n;
    }
  } finally {
    await c.clunk(fid);
  }
}

/** The names in directory `path`, without `.` and `..`. */
export function list(c: P9Client, path: string): Promise<string[]> {
  return withFid(c, path, async (fid) => {
    await c.lopen(fid, OPEN_FLAGS.O_RDONLY | OPEN_FLAGS.O_DIRECTORY);
    const names: string[] = [];
    let offset = 0n;
    for (;;) {
      const entries = await c.readdir(fid, offset, c.ioSize);
      if (entries.length === 0) break;
      for (const e of entries) if (e.name !== "." && e.name !== "..") names.push(e.name);
      offset = entries[entries.length - 1].offset;
    }
    return names;
  });
}

/** Makes directory `path`. */
export async function makeDir(c: P9Client, path: string, mode: number): Promise<void> {
  const [dir, name] = parent(path);
  await withFid(c, dir.join("/"), (fid) => c.mkdir(fid, name, mode));
}

/** Removes file `path` (or the empty directory, with `dir`). */
export async function removeFile(c: P9Client, path: string, dir: boolean): Promise<void> {
  const [parentDir, name] = parent(path);
  await withFid(c, parentDir.join("/"), (fid) => c.unlinkat(fid, name, dir));
}

/** Renames `from` to `to`. */
export async function renamePath(c: P9Client, from: string, to: string): Promise<void> {
  const [fdir, fname] = parent(from);
  const [tdir, tname] = parent(to);
  await withFid(
    c,
    fdir.join("/"),
    (a) => withFid(c, tdir.join("/"), (b) => c.renameat(a, fname, b, tname)),
  );
}

/** Attributes of `path` (a link's own). */
export function stat(c: P9Client, path: string): Promise<P9Attr> {
  return withFid(c, path, (fid) => c.getattr(fid));
}

/** Makes a symbolic link `path` holding `target`. */
export async function makeSymlink(c: P9Client, target: string, path: string): Promise<void> {
  const [dir, name] = parent(path);
  await withFid(c, dir.join("/"), (fid) => c.symlink(fid, name, target));
}

/** The target of the symbolic link `path`. */
export function readSymlink(c: P9Client, path: string): Promise<string> {
  return withFid(c, path, (fid) => c.readlink(fid));
}
