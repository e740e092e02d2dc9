/**
 * The 9P messages on attributes: Tgetattr (the basic set, of an open
 * file's handle when it has one), Tsetattr, Tstatfs of the tree, and
 * Txattrwalk, which reads an extended attribute (or the list of names)
 * into a new fid that Tread then reads.
 *
 * @module
 */

import {
  P9_ATTR_ATIME,
  P9_ATTR_ATIME_SET,
  P9_ATTR_GID,
  P9_ATTR_MODE,
  P9_ATTR_MTIME,
  P9_ATTR_MTIME_SET,
  P9_ATTR_SIZE,
  P9_ATTR_UID,
  P9_GETATTR_BASIC,
  P9Rgetattr,
  P9Rstatfs,
  P9Tclunk,
  P9Tgetattr,
  P9Tsetattr,
  P9Txattrwalk,
  V9FS_MAGIC,
} from "../../generated/devices/9p.ts";
import { fsError, type FsSetAttr, type FsStat } from "../fs/filesystem.ts";
import { type Fid, putQid } from "./_fids.ts";
import type { P9Session } from "./_session.ts";
import type { WireReader, WireWriter } from "./_wire.ts";

const EMPTY = new Uint8Array(0);

function stat(s: P9Session, f: Fid): FsStat {
  return f.handle !== undefined ? f.handle.stat() : s.fs.stat(f.path);
}

/** Tgetattr: the basic attributes of the file of fid. */
export function getattr(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Tgetattr, "Tgetattr");
  const st = stat(s, s.fids.get(t.fid));
  const a = w.struct(P9Rgetattr);
  a.valid = BigInt(P9_GETATTR_BASIC);
  putQid(a.qid, st);
  a.mode = st.mode;
  a.uid = st.uid;
  a.gid = st.gid;
  a.nlink = BigInt(st.nlink);
  a.rdev = BigInt(st.rdev);
  a.fileSize = BigInt(st.size);
  a.blksize = BigInt(st.blksize);
  a.blocks = BigInt(st.blocks);
  a.atimeSec = BigInt(st.atimeSec);
  a.atimeNsec = BigInt(st.atimeNsec);
  a.mtimeSec = BigInt(st.mtimeSec);
  a.mtimeNsec = BigInt(st.mtimeNsec);
  a.ctimeSec = BigInt(st.ctimeSec);
  a.ctimeNsec = BigInt(st.ctimeNsec);
}

/** Tsetattr: sets the attributes valid names (times to now, or to the values sent). */
export function setattr(s: P9Session, r: WireReader): void {
  const t = r.struct(P9Tsetattr, "Tsetattr");
  const f = s.fids.get(t.fid);
  const valid = t.valid;
  const attr: FsSetAttr = {};
  if (valid & P9_ATTR_MODE) attr.mode = t.mode & 0o7777;
  if (valid & P9_ATTR_UID) attr.uid = t.uid;
  if (valid & P9_ATTR_GID) attr.gid = t.gid;
  if (valid & P9_ATTR_SIZE) {
    const size = t.fileSize;
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw fsError("EFBIG", "size past 2^53");
    attr.size = Number(size);
  }
  if (valid & P9_ATTR_ATIME) {
    attr.atimeNs = valid & P9_ATTR_ATIME_SET
      ? t.atimeSec * 1_000_000_000n + (t.atimeNsec % 1_000_000_000n)
      : "now";
  }
  if (valid & P9_ATTR_MTIME) {
    attr.mtimeNs = valid & P9_ATTR_MTIME_SET
      ? t.mtimeSec * 1_000_000_000n + (t.mtimeNsec % 1_000_000_000n)
      : "now";
  }
  if (f.handle !== undefined) f.handle.setattr(attr);
  else s.fs.setattr(f.path, attr);
}

/** Tstatfs: the tree's statistics. */
export function statfs(s: P9Session, r: WireReader, w: WireWriter): void {
  s.fids.get(r.struct(P9Tclunk, "Tstatfs").fid);
  const st = s.fs.statfs();
  const o = w.struct(P9Rstatfs);
  o.type = V9FS_MAGIC;
  o.bsize = st.bsize;
  o.blocks = BigInt(st.blocks);
  o.bfree = BigInt(st.bfree);
  o.bavail = BigInt(st.bavail);
  o.files = BigInt(st.files);
  o.ffree = BigInt(st.ffree);
  o.fsid = 0n;
  o.namelen = st.namelen;
}

/** Txattrwalk: newfid reads the value of attribute name of fid's file (the names, for ""). */
export function xattrwalk(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Txattrwalk, "Txattrwalk");
  const fid = t.fid;
  const newfid = t.newfid;
  const name = r.str("name");
  const f = s.fids.get(fid);
  let value: Uint8Array;
  if (name === "") {
    const names = s.fs.listxattr(f.path);
    value = new TextEncoder().encode(names.map((n) => `${n}\0`).join(""));
  } else {
    value = s.fs.getxattr(f.path, name);
  }
  s.fids.add(newfid, { path: f.path, qtype: f.qtype, open: true, xattr: value ?? EMPTY });
  w.u64(BigInt(value.length));
}
