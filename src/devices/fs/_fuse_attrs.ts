/**
 * The FUSE operations on attributes: `GETATTR` and `SETATTR` of a node
 * (through its open file handle when the request names one the node
 * holds), and `STATFS` of the tree. Each returns its reply's payload
 * length.
 *
 * @module
 */

import {
  FATTR_ATIME,
  FATTR_ATIME_NOW,
  FATTR_FH,
  FATTR_GID,
  FATTR_MODE,
  FATTR_MTIME,
  FATTR_MTIME_NOW,
  FATTR_SIZE,
  FATTR_UID,
  FUSE_GETATTR_FH,
  FuseGetattrIn,
  FuseSetattrIn,
  FuseStatfsOut,
} from "../../generated/devices/fs.ts";
import type { FsHandle, FsSetAttr, FsStat } from "./filesystem.ts";
import type { FuseSession } from "./_fuse_session.ts";
import { HDR, OUT, safeOffset } from "./_fuse_wire.ts";

/** GETATTR: the attributes of `nodeid` (of its open file when the request says so). */
export function getattr(s: FuseSession, nodeid: number): number {
  let st: FsStat | undefined;
  if (s.req.len >= HDR + FuseGetattrIn.SIZE) {
    const g = s.req.in.getattr.at(s.req.args(FuseGetattrIn.SIZE));
    if ((g.getattrFlags & FUSE_GETATTR_FH) !== 0) {
      const hd = s.handles.get(g.fh);
      if (hd?.file !== undefined && hd.node.id === nodeid) st = hd.file.stat();
    }
  }
  return s.reply.attrOut(st ?? s.fs.stat(s.nodes.path(nodeid)));
}

/** SETATTR: sets the attributes `valid` names; replies with the new ones. */
export function setattr(s: FuseSession, nodeid: number): number {
  const a = s.req.in.setattr.at(s.req.args(FuseSetattrIn.SIZE));
  const valid = a.valid;
  const attr: FsSetAttr = {};
  if ((valid & FATTR_MODE) !== 0) attr.mode = a.mode;
  if ((valid & FATTR_UID) !== 0) attr.uid = a.uid;
  if ((valid & FATTR_GID) !== 0) attr.gid = a.gid;
  if ((valid & FATTR_SIZE) !== 0) attr.size = safeOffset(a.fileSize);
  if ((valid & FATTR_ATIME_NOW) !== 0) attr.atimeNs = "now";
  else if ((valid & FATTR_ATIME) !== 0) {
    attr.atimeNs = BigInt(safeOffset(a.atime)) * 1_000_000_000n + BigInt(a.atimensec % 1e9);
  }
  if ((valid & FATTR_MTIME_NOW) !== 0) attr.mtimeNs = "now";
  else if ((valid & FATTR_MTIME) !== 0) {
    attr.mtimeNs = BigInt(safeOffset(a.mtime)) * 1_000_000_000n + BigInt(a.mtimensec % 1e9);
  }
  let file: FsHandle | undefined;
  if ((valid & FATTR_FH) !== 0) {
    const hd = s.handles.get(a.fh);
    if (hd?.file !== undefined && hd.node.id === nodeid) file = hd.file;
  }
  if (file !== undefined) {
    file.setattr(attr);
    return s.reply.attrOut(file.stat());
  }
  const path = s.nodes.path(nodeid);
  s.fs.setattr(path, attr);
  return s.reply.attrOut(s.fs.stat(path));
}

/** STATFS: the tree's statistics. */
export function statfs(s: FuseSession): number {
  s.reply.ensure(FuseStatfsOut.SIZE);
  const st = s.fs.statfs();
  const k = s.reply.o.statfs.at(OUT).st;
  k.blocks = BigInt(st.blocks);
  k.bfree = BigInt(st.bfree);
  k.bavail = BigInt(st.bavail);
  k.files = BigInt(st.files);
  k.ffree = BigInt(st.ffree);
  k.bsize = st.bsize;
  k.namelen = st.namelen;
  k.frsize = st.frsize;
  k.padding = 0;
  for (let i = 0; i < 6; i++) k.setSpare(i, 0);
  return FuseStatfsOut.SIZE;
}
