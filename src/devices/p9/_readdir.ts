/**
 * Treaddir: the entries of an open directory fid as 9P dirents, from a
 * snapshot taken at offset 0 (`.` and `..` first). An entry gone since the
 * snapshot is skipped; an entry that does not fit ends the reply, and the
 * next Treaddir resumes there.
 *
 * @module
 */

import { P9_QTDIR, P9Dirent, P9Rread, P9Treaddir } from "../../generated/devices/9p.ts";
import {
  childPath,
  ERRNO,
  FsError,
  fsError,
  type FsStat,
  S_IFDIR,
  S_IFMT,
} from "../fs/filesystem.ts";
import { parentOf } from "../fs/_guest_path.ts";
import { putQid } from "./_fids.ts";
import { checkCount, type P9Session } from "./_session.ts";
import type { WireReader, WireWriter } from "./_wire.ts";

/** d_type (linux/fs_types.h) of a mode's type bits. */
function dtypeOf(type: number): number {
  return (type & S_IFMT) >>> 12;
}

/** Treaddir: Rreaddir with the entries from offset that fit in count bytes. */
export function readdir(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Treaddir, "Treaddir");
  const f = s.fids.get(t.fid);
  const offset = t.dirOffset;
  const count = t.count;
  checkCount(s, count, P9Rread.SIZE, "Treaddir");
  if (f.qtype !== P9_QTDIR) throw fsError("ENOTDIR", `fid ${t.fid} is not a directory`);
  if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
  if (offset === 0n || f.dirents === undefined) {
    f.dirents = [
      { name: ".", path: f.path, type: S_IFDIR },
      { name: "..", path: parentOf(f.path), type: S_IFDIR },
      // Names from the tree's own listing, not from the client.
      ...s.fs.readdir(f.path).map((e) => ({
        name: e.name,
        path: childPath(f.path, e.name),
        type: e.type,
      })),
    ];
  }
  const head = w.struct(P9Rread);
  const start = w.pos;
  const end = Math.min(w.limit, start + count);
  const saved = w.limit;
  w.limit = end;
  const list = f.dirents;
  let i = offset > BigInt(list.length) ? list.length : Number(offset);
  for (; i < list.length; i++) {
    const e = list[i];
    let st: FsStat;
    try {
      st = s.fs.stat(e.path);
    } catch {
      continue; // gone since the snapshot
    }
    const at = w.pos;
    try {
      const d = w.struct(P9Dirent);
      putQid(d.qid, st);
      d.nextOffset = BigInt(i + 1);
      d.type = dtypeOf(st.mode);
      w.str(e.name);
    } catch (err) {
      if (!(err instanceof FsError) || err.errno !== ERRNO.ERANGE) throw err;
      w.pos = at; // no room: the next Treaddir resumes here
      if (at === start) {
        w.limit = saved;
        throw fsError("EINVAL", `Treaddir count ${count} holds no entry`);
      }
      break;
    }
  }
  w.limit = saved;
  head.count = w.pos - start;
}
