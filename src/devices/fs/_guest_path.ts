/**
 * The one place where a name the guest sent becomes a path of the shared
 * tree, for both servers over a `FileSystem`: FUSE (`fuse_server.ts`)
 * and 9P (`../p9/server.ts`). Every request that carries a name (a lookup,
 * a walk, a create, a link, a rename, a removal) turns it into a path here
 * and nowhere else.
 *
 * A name is a checked component ({@link checkName}: no `.`, `..`, `/`, NUL,
 * at most NAME_MAX bytes), joined to a directory path the server built from
 * such names; so a path never leaves the tree. 9P's walk also takes `.` and
 * `..` ({@link walkStep}), which resolve inside the tree: `..` at the root
 * is the root. Names the tree itself returned (`readdir`) are joined with
 * {@link childPath} directly.
 *
 * @module
 */

import { checkName, childPath } from "./filesystem.ts";

/** The path of the guest's `name` inside directory `dir`; an FsError (EINVAL, ENAMETOOLONG) for a name that is not a plain component. */
export function guestChild(dir: string, name: string): string {
  return childPath(dir, checkName(name));
}

/** The directory holding `path` (the root for the root and for a name at the top). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** One name of a 9P walk from `dir`: `..` is the parent (at the root, the root), `.` is `dir`. */
export function walkStep(dir: string, name: string): string {
  if (name === "..") return parentOf(dir);
  if (name === ".") return dir;
  return guestChild(dir, name);
}
