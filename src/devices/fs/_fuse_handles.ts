/**
 * The FUSE server's file handles: the numbers `OPEN`, `OPENDIR` and
 * `CREATE` hand the guest, each holding a host file or a directory's
 * listing until `RELEASE`, `RELEASEDIR`, `DESTROY` or a device reset. At
 * most `maxHandles` are open at once (EMFILE past it); a handle the guest
 * does not hold fails with EBADF.
 *
 * @module
 */

import { fsError, type FsHandle } from "./filesystem.ts";
import type { Node } from "./_fuse_nodes.ts";

/** An open file or directory. */
export interface Handle {
  /** The node it was opened from. */
  readonly node: Node;
  /** The host file (undefined for a directory). */
  readonly file: FsHandle | undefined;
  /** A directory's entries, read at OPENDIR and again at READDIR offset 0 (rewinddir). */
  entries: { name: string; type: number }[] | undefined;
}

/** The open handles of a FUSE session. */
export class FuseHandles {
  readonly #maxHandles: number;
  #handles = new Map<number, Handle>();
  #nextFh = 1;

  /** A table for at most `maxHandles` handles at once. */
  constructor(maxHandles: number) {
    this.#maxHandles = maxHandles;
  }

  /** Open handles. */
  get size(): number {
    return this.#handles.size;
  }

  /** Is there no room for another handle? */
  get full(): boolean {
    return this.#handles.size >= this.#maxHandles;
  }

  /** Handle `fh`, or undefined when it is not open. */
  get(fh: number): Handle | undefined {
    return this.#handles.get(fh);
  }

  /** Handle `fh`; EBADF when it is not open. */
  handle(fh: number): Handle {
    const hd = this.#handles.get(fh);
    if (hd === undefined) throw fsError("EBADF", `file handle ${fh} is not open`);
    return hd;
  }

  /** The host file of handle `fh`; EBADF when it is not open, EISDIR for a directory. */
  file(fh: number): FsHandle {
    const f = this.handle(fh).file;
    if (f === undefined) throw fsError("EISDIR", `handle ${fh} is a directory`);
    return f;
  }

  /** A new handle of `node` holding `file` or a directory's `entries`; EMFILE (closing `file`) when full. */
  add(node: Node, file: FsHandle | undefined, entries: Handle["entries"]): number {
    if (this.#handles.size >= this.#maxHandles) {
      file?.close();
      throw fsError("EMFILE", `more than ${this.#maxHandles} open handles`);
    }
    const fh = this.#nextFh++;
    this.#handles.set(fh, { node, file, entries });
    return fh;
  }

  /** Closes handle `fh` (RELEASE); EBADF when it is not open. */
  release(fh: number): void {
    const hd = this.handle(fh);
    this.#handles.delete(fh);
    hd.file?.close();
  }

  /** Closes every handle. */
  closeAll(): void {
    for (const hd of this.#handles.values()) hd.file?.close();
    this.#handles.clear();
  }
}
