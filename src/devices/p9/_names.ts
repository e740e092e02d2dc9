/**
 * The 9P messages on the names of the tree: Twalk (from a fid through up
 * to 16 names to a new fid), making names (Tmkdir, Tsymlink, Tmknod,
 * Tlink), reading a link (Treadlink), renaming (Trename, Trenameat) and
 * removing (Tunlinkat, Tremove). A name from the client becomes a path
 * through `walkStep` (Twalk) or `Fids.child` (the others) and nowhere
 * else; the fids follow a rename.
 *
 * @module
 */

import {
  P9_AT_REMOVEDIR,
  P9_MAXWELEM,
  P9_QTDIR,
  P9Qid,
  P9Rwalk,
  P9Tclunk,
  P9Tlink,
  P9Tmkdir,
  P9Trename,
  P9Twalk,
} from "../../generated/devices/9p.ts";
import { fsError, type FsStat, S_IFMT, S_IFREG } from "../fs/filesystem.ts";
import { walkStep } from "../fs/_guest_path.ts";
import { putQid, qtypeOf } from "./_fids.ts";
import type { P9Session } from "./_session.ts";
import type { WireReader, WireWriter } from "./_wire.ts";

/** The longest symbolic link target accepted (PATH_MAX - 1). */
const MAX_LINK = 4095;

/** Twalk: Rwalk with a qid per name walked; newfid names the end of a whole walk. */
export function walk(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Twalk, "Twalk");
  const fid = t.fid;
  const newfid = t.newfid;
  const n = t.nwname;
  if (n > P9_MAXWELEM) throw fsError("EINVAL", `Twalk of ${n} names (most ${P9_MAXWELEM})`);
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(r.str("wname"));
  const from = s.fids.get(fid);
  if (from.open) throw fsError("EBADF", `fid ${fid} is open: no walk from it`);
  if (newfid !== fid && s.fids.has(newfid)) throw fsError("EINVAL", `fid ${newfid} in use`);
  let path = from.path;
  let qtype = from.qtype;
  const qids: FsStat[] = [];
  for (const name of names) {
    if (qtype !== P9_QTDIR) {
      if (qids.length === 0) throw fsError("ENOTDIR", `${path} is not a directory`);
      break;
    }
    const next = walkStep(path, name);
    let st: FsStat;
    try {
      st = s.fs.stat(next);
    } catch (e) {
      if (qids.length === 0) throw e;
      break; // a partial walk: Rwalk with fewer qids, newfid untouched
    }
    path = next;
    qtype = qtypeOf(st.mode);
    qids.push(st);
  }
  w.struct(P9Rwalk).nwqid = qids.length;
  for (const st of qids) putQid(w.struct(P9Qid), st);
  if (qids.length !== names.length) return;
  if (newfid === fid) {
    from.path = path;
    from.qtype = qtype;
  } else {
    s.fids.add(newfid, { path, qtype, open: false });
  }
}

function made(s: P9Session, w: WireWriter, path: string): void {
  putQid(w.struct(P9Qid), s.fs.stat(path));
}

/** Tmkdir: a directory in dfid; Rmkdir with its qid. */
export function mkdir(s: P9Session, r: WireReader, w: WireWriter): void {
  const dfid = r.struct(P9Tmkdir, "Tmkdir").dfid;
  const name = r.str("name");
  const mode = r.u32("mode");
  r.u32("gid");
  const path = s.fids.child(dfid, name);
  s.fs.mkdir(path, mode & 0o7777);
  made(s, w, path);
}

/** Tsymlink: a link in dfid holding a target the server never interprets. */
export function symlink(s: P9Session, r: WireReader, w: WireWriter): void {
  const dfid = r.struct(P9Tmkdir, "Tsymlink").dfid;
  const name = r.str("name");
  const target = r.str("symtgt");
  r.u32("gid");
  if (target.length === 0 || target.includes("\0")) throw fsError("EINVAL", "bad link target");
  if (target.length > MAX_LINK) throw fsError("ENAMETOOLONG", "link target too long");
  const path = s.fids.child(dfid, name);
  // The target is stored as text and never interpreted by the server.
  s.fs.symlink(target, path);
  made(s, w, path);
}

/** Tmknod: a file, FIFO or device node in dfid. */
export function mknod(s: P9Session, r: WireReader, w: WireWriter): void {
  const dfid = r.struct(P9Tmkdir, "Tmknod").dfid;
  const name = r.str("name");
  const mode = r.u32("mode");
  const major = r.u32("major");
  const minor = r.u32("minor");
  r.u32("gid");
  const path = s.fids.child(dfid, name);
  const type = mode & S_IFMT;
  s.fs.mknod(path, (type === 0 ? S_IFREG : type) | (mode & 0o7777), (major << 8) | minor);
  made(s, w, path);
}

/** Treadlink: the target of the link fid names, as stored. */
export function readlink(s: P9Session, r: WireReader, w: WireWriter): void {
  const f = s.fids.get(r.struct(P9Tclunk, "Treadlink").fid);
  w.str(s.fs.readlink(f.path));
}

function renamePath(s: P9Session, from: string, to: string): void {
  if (to === from) return;
  if (to.startsWith(`${from}/`)) throw fsError("EINVAL", "a directory into itself");
  s.fs.rename(from, to, 0);
  s.fids.moved(from, to);
}

/** Trename: the file of fid to a name in dfid. */
export function rename(s: P9Session, r: WireReader): void {
  const t = r.struct(P9Trename, "Trename");
  const fid = t.fid;
  const dfid = t.dfid;
  const name = r.str("name");
  const f = s.fids.get(fid);
  if (f.path === "") throw fsError("EBUSY", "the root cannot be renamed");
  const to = s.fids.child(dfid, name);
  renamePath(s, f.path, to);
}

/** Trenameat: a name in olddirfid to a name in newdirfid. */
export function renameat(s: P9Session, r: WireReader): void {
  const olddir = r.struct(P9Tclunk, "Trenameat").fid;
  const oldname = r.str("oldname");
  const newdir = r.u32("newdirfid");
  const newname = r.str("newname");
  const from = s.fids.child(olddir, oldname);
  const to = s.fids.child(newdir, newname);
  renamePath(s, from, to);
}

/** Tunlinkat: removes a name of dfid (a directory with AT_REMOVEDIR). */
export function unlinkat(s: P9Session, r: WireReader): void {
  const dfid = r.struct(P9Tclunk, "Tunlinkat").fid;
  const name = r.str("name");
  const flags = r.u32("flags");
  if ((flags & ~P9_AT_REMOVEDIR) !== 0) throw fsError("EINVAL", `unlinkat flags ${flags}`);
  const path = s.fids.child(dfid, name);
  if (flags & P9_AT_REMOVEDIR) s.fs.rmdir(path);
  else s.fs.unlink(path);
}

/** Tlink: a new name in dfid for the file of fid (not a directory). */
export function link(s: P9Session, r: WireReader): void {
  const t = r.struct(P9Tlink, "Tlink");
  const dfid = t.dfid;
  const fid = t.fid;
  const name = r.str("name");
  const f = s.fids.get(fid);
  if (f.qtype === P9_QTDIR) throw fsError("EPERM", "a hard link to a directory");
  s.fs.link(f.path, s.fids.child(dfid, name));
}

/** Tremove: removes the file of fid. */
export function remove(s: P9Session, r: WireReader): void {
  // 9P: the fid is clunked whether the remove succeeds or not.
  const f = s.fids.clunk(r.struct(P9Tclunk, "Tremove").fid);
  if (f.path === "") throw fsError("EBUSY", "the root cannot be removed");
  if (f.qtype === P9_QTDIR) s.fs.rmdir(f.path);
  else s.fs.unlink(f.path);
}
