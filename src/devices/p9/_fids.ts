/**
 * The fids of a 9P session: the numbers the client picks to name a path
 * of the tree (Tattach, Twalk, Txattrwalk make them; Tclunk and Tremove
 * drop them), each with what it holds once opened. A fid the client never
 * made is EBADF; at most `maxFids` at once (EMFILE past it). Also the qids
 * that describe a fid's file in replies.
 *
 * @module
 */

import {
  P9_NOFID,
  P9_QTDIR,
  P9_QTFILE,
  P9_QTSYMLINK,
  type P9Qid,
} from "../../generated/devices/9p.ts";
import { fsError, type FsHandle, type FsStat, S_IFDIR, S_IFLNK, S_IFMT } from "../fs/filesystem.ts";
import { guestChild } from "../fs/_guest_path.ts";

/** What a fid names and holds. */
export interface Fid {
  /** Path in the tree ("" is the root). */
  path: string;
  /** Qid type (P9_QT*) when the fid was made. */
  qtype: number;
  /** Opened (Tlopen, Tlcreate)? */
  open: boolean;
  /** The host handle of an open regular file. */
  handle?: FsHandle;
  /** The snapshot of an open directory's entries (taken at offset 0). */
  dirents?: { name: string; path: string; type: number }[];
  /** The value an xattr fid reads. */
  xattr?: Uint8Array;
}

/** The qid type (P9_QT*) of a mode's type bits. */
export function qtypeOf(mode: number): number {
  const t = mode & S_IFMT;
  return t === S_IFDIR ? P9_QTDIR : t === S_IFLNK ? P9_QTSYMLINK : P9_QTFILE;
}

/** Writes the qid of a file with attributes `st`. */
export function putQid(q: P9Qid, st: FsStat): void {
  q.write(qtypeOf(st.mode), 0, BigInt(st.ino));
}

/** The fid table of a session. */
export class Fids {
  /** The most fids at once. */
  readonly max: number;
  readonly #fids = new Map<number, Fid>();
  #open = 0;

  /** A table of at most `max` fids. */
  constructor(max: number) {
    this.max = max;
  }

  /** Fids held by the client. */
  get size(): number {
    return this.#fids.size;
  }

  /** Host handles open for the client. */
  get openHandles(): number {
    return this.#open;
  }

  /** Is fid `n` in use? */
  has(n: number): boolean {
    return this.#fids.has(n);
  }

  /** Fid `n`; EBADF when the client has not made it. */
  get(n: number): Fid {
    const f = this.#fids.get(n);
    if (f === undefined) throw fsError("EBADF", `fid ${n} is not in use`);
    return f;
  }

  /** Fid `n`, which must be a directory (ENOTDIR). */
  dir(n: number): Fid {
    const f = this.get(n);
    if (f.qtype !== P9_QTDIR) throw fsError("ENOTDIR", `fid ${n} is not a directory`);
    return f;
  }

  /**
   * The path of the client's `name` inside directory fid `dfid`: every
   * message that names a file by a directory fid and a name gets its path
   * here (Twalk's names go through `walkStep`, beside `guestChild` in
   * `../fs/_guest_path.ts`).
   */
  child(dfid: number, name: string): string {
    return guestChild(this.dir(dfid).path, name);
  }

  /** Makes fid `n`; EINVAL for NOFID or a fid in use, EMFILE past the most. */
  add(n: number, f: Fid): void {
    if (n === P9_NOFID) throw fsError("EINVAL", "NOFID as a new fid");
    if (this.#fids.has(n)) throw fsError("EINVAL", `fid ${n} is in use`);
    if (this.#fids.size >= this.max) throw fsError("EMFILE", `more than ${this.max} fids`);
    this.#fids.set(n, f);
  }

  /** `f` is open on host handle `h`. */
  opened(f: Fid, h: FsHandle): void {
    f.handle = h;
    f.open = true;
    this.#open++;
  }

  /** Closes what `f` holds. */
  close(f: Fid): void {
    if (f.handle !== undefined) {
      f.handle.close();
      f.handle = undefined;
      this.#open--;
    }
    f.dirents = undefined;
    f.xattr = undefined;
  }

  /** Closes fid `n` and forgets it (Tclunk, Tremove); returns what it named. */
  clunk(n: number): Fid {
    const f = this.get(n);
    this.close(f);
    this.#fids.delete(n);
    return f;
  }

  /** Closes and forgets every fid. */
  clear(): void {
    for (const f of this.#fids.values()) this.close(f);
    this.#fids.clear();
  }

  /** After a rename, fids below the old name follow it. */
  moved(from: string, to: string): void {
    for (const f of this.#fids.values()) {
      if (f.path === from) f.path = to;
      else if (f.path.startsWith(`${from}/`)) f.path = to + f.path.slice(from.length);
    }
  }
}
