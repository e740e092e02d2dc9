/**
 * The FUSE server's node ids: the numbers it hands the guest for the files
 * it looked up (`LOOKUP`, `CREATE`, `MKDIR`, `READDIRPLUS`...) and takes
 * back at `FORGET`. An id the server did not give, or one whose name was
 * removed, fails with ESTALE. One file is one node, whatever name it was
 * found by (hard links), and a node follows its file through renames.
 *
 * @module
 */

import { FUSE_ROOT_ID } from "../../generated/devices/fs.ts";
import { fsError, type FsStat, S_IFDIR, S_IFMT } from "./filesystem.ts";

/** A file the guest holds a node id of. */
export interface Node {
  /** The node id. */
  readonly id: number;
  /** The node's path (the name it was last looked up by), or undefined once that name is gone. */
  path: string | undefined;
  /** The file's identity, `dev:ino`: two names of one file (hard links) are one node. */
  key: string;
  /** Lookup references the driver holds (FUSE nlookup). */
  refs: number;
}

/** The node ids of a FUSE session, at most `maxNodes` at once (ENFILE past it). */
export class FuseNodes {
  readonly #maxNodes: number;
  #nodes = new Map<number, Node>();
  #byPath = new Map<string, Node>();
  #byKey = new Map<string, Node>();
  #nextNode = FUSE_ROOT_ID + 1;

  /** A table holding the root only. */
  constructor(maxNodes: number) {
    this.#maxNodes = maxNodes;
    this.#addRoot();
  }

  /** Node ids handed out and not forgotten (the root included). */
  get size(): number {
    return this.#nodes.size;
  }

  /** Forgets every node but the root. */
  reset(): void {
    this.#nodes.clear();
    this.#byPath.clear();
    this.#byKey.clear();
    this.#addRoot();
  }

  #addRoot(): void {
    const root: Node = { id: FUSE_ROOT_ID, path: "", key: "", refs: 1 };
    this.#nodes.set(FUSE_ROOT_ID, root);
    this.#byPath.set("", root);
  }

  /** Node `id`, or undefined when it is not one we gave. */
  get(id: number): Node | undefined {
    return this.#nodes.get(id);
  }

  /** Node `id`; ESTALE when it is not one we gave. */
  node(id: number): Node {
    const n = this.#nodes.get(id);
    if (n === undefined) throw fsError("ESTALE", `node ${id} is not one we gave`);
    return n;
  }

  /** The path of node `id`; ESTALE when it is not one we gave or its name is gone. */
  path(id: number): string {
    const p = this.node(id).path;
    if (p === undefined) throw fsError("ESTALE", `node ${id} has no name any more`);
    return p;
  }

  /**
   * A reference to the file at `path` (with attributes `st`): the node of
   * that file if it has one (another name of it, a hard link, included),
   * else a new node. Linux keys its inodes by node id, so one file must be
   * one node for its page cache and attributes to stay coherent.
   */
  ref(path: string, st: FsStat): Node {
    const key = `${st.dev}:${st.ino}`;
    let n = this.#byKey.get(key);
    const atPath = this.#byPath.get(path);
    if (atPath !== undefined && atPath !== n && atPath.id !== FUSE_ROOT_ID) {
      // Another file took this name (replaced behind our back): the old node has no name now.
      this.gone(path);
    }
    if (n !== undefined && n.path !== path) {
      if (n.path !== undefined && this.#byPath.get(n.path) === n) {
        if ((st.mode & S_IFMT) === S_IFDIR) {
          this.moved(n.path, path); // a directory has one name: it moved
        } else {
          this.#byPath.delete(n.path); // a file with several names: follow the latest
        }
      }
      n.path = path;
      this.#byPath.set(path, n);
    }
    if (n === undefined) {
      if (this.#nodes.size >= this.#maxNodes) throw fsError("ENFILE", "too many nodes");
      n = { id: this.#nextNode++, path, key, refs: 0 };
      this.#nodes.set(n.id, n);
      this.#byPath.set(path, n);
      this.#byKey.set(key, n);
    }
    n.refs++;
    return n;
  }

  /** Drops `count` lookup references of `n` (FORGET); the node goes with its last one. */
  unref(n: Node, count: number): void {
    if (n.id === FUSE_ROOT_ID) return;
    n.refs -= count;
    if (n.refs <= 0) {
      this.#nodes.delete(n.id);
      if (n.path !== undefined && this.#byPath.get(n.path) === n) this.#byPath.delete(n.path);
      if (this.#byKey.get(n.key) === n) this.#byKey.delete(n.key);
    }
  }

  /**
   * The name at `path` is gone: nodes at it and below it lose their paths,
   * and their identities (an inode number the host may give a new file).
   */
  gone(path: string): void {
    const prefix = path + "/";
    for (const [p, n] of this.#byPath) {
      if (p === path || p.startsWith(prefix)) {
        n.path = undefined;
        this.#byPath.delete(p);
        if (this.#byKey.get(n.key) === n) this.#byKey.delete(n.key);
      }
    }
  }

  /** `from` was renamed to `to`: nodes at and below `from` move. */
  moved(from: string, to: string): void {
    const prefix = from + "/";
    const moving: Node[] = [];
    for (const [p, n] of this.#byPath) {
      if (p === from || p.startsWith(prefix)) moving.push(n);
    }
    for (const n of moving) this.#byPath.delete(n.path ?? "");
    for (const n of moving) {
      n.path = to + (n.path ?? "").slice(from.length);
      this.#byPath.set(n.path, n);
    }
  }
}
