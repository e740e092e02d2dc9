/**
 * What the 9P server's message handlers share ({@link P9Session}): the
 * tree, the fids, and the msize Tversion agreed on. The handlers, one
 * module per group, are functions of a session: `_names.ts` (Tattach,
 * Twalk and the names of the tree), `_attrs.ts` (attributes, statfs,
 * extended attributes), `_files.ts` (open files, I/O, locks, Tclunk),
 * `_readdir.ts`.
 *
 * @module
 */

import { P9Header } from "../../generated/devices/9p.ts";
import { type FileSystem, FsError } from "../fs/filesystem.ts";
import type { Fids } from "./_fids.ts";

/** Linux's EMSGSIZE: a message longer than msize. */
export const EMSGSIZE = 90;

/** The state of a 9P session the handlers read and change. */
export interface P9Session {
  /** The tree served. */
  readonly fs: FileSystem;
  /** The client's fids. */
  readonly fids: Fids;
  /** The negotiated msize (the server's, which Tversion and reset change). */
  msize(): number;
}

/** Checks a count against msize: a reply of `header + count` bytes must fit in it. */
export function checkCount(s: P9Session, count: number, header: number, what: string): void {
  const msize = s.msize();
  if (count > msize - P9Header.SIZE - header) {
    throw new FsError(EMSGSIZE, `${what} count ${count} past msize ${msize}`, {
      code: "ERR_VIRTIO_DEVICE_9P_MSIZE",
    });
  }
}
