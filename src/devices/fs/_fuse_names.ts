/**
 * The FUSE operations on the names of the tree: `LOOKUP` and the `FORGET`s
 * that give its references back, making names (`MKNOD`, `MKDIR`,
 * `SYMLINK`, `LINK`), reading a link (`READLINK`), removing names
 * (`UNLINK`, `RMDIR`) and renaming them (`RENAME`, `RENAME2`). Each takes
 * the guest's names through {@link FuseSession.child} and keeps the node
 * ids in step with the tree. Each returns its reply's payload length.
 *
 * @module
 */

import {
  FuseBatchForgetIn,
  FuseForgetIn,
  FuseForgetOne,
  FuseLinkIn,
  FuseMkdirIn,
  FuseMknodIn,
  FuseRename2In,
  FuseRenameIn,
} from "../../generated/devices/fs.ts";
import { fsError } from "./filesystem.ts";
import type { FuseSession } from "./_fuse_session.ts";
import { HDR, OUT } from "./_fuse_wire.ts";

const encoder = new TextEncoder();

/** LOOKUP: the entry of a name in directory `nodeid`. */
export function lookup(s: FuseSession, nodeid: number): number {
  return s.entry(s.child(nodeid));
}

/** FORGET: drops nlookup references of `nodeid` (no reply). */
export function forget(s: FuseSession, nodeid: number): void {
  if (s.req.len < HDR + FuseForgetIn.SIZE) return;
  const n = s.nodes.get(nodeid);
  const count = s.req.in.forget.at(HDR).nlookup;
  if (n !== undefined) s.nodes.unref(n, count > 0xffffffffn ? 2 ** 32 : Number(count));
}

/** BATCH_FORGET: FORGET for each node listed (those that arrived whole; no reply). */
export function batchForget(s: FuseSession): void {
  const req = s.req;
  if (req.len < HDR + FuseBatchForgetIn.SIZE) return;
  const count = req.in.batch.at(HDR).count;
  const base = HDR + FuseBatchForgetIn.SIZE;
  const fits = Math.min(count, Math.floor((req.len - base) / FuseForgetOne.SIZE));
  const one = req.in.one;
  for (let i = 0; i < fits; i++) {
    one.at(base + i * FuseForgetOne.SIZE);
    const n = s.nodes.get(one.nodeid);
    const c = one.nlookup;
    if (n !== undefined) s.nodes.unref(n, c > 0xffffffffn ? 2 ** 32 : Number(c));
  }
}

/** READLINK: the target of link `nodeid`, as stored. */
export function readlink(s: FuseSession, nodeid: number): number {
  const target = encoder.encode(s.fs.readlink(s.nodes.path(nodeid)));
  s.reply.ensure(target.length);
  s.reply.bytes.set(target, OUT);
  return target.length;
}

/** SYMLINK: a link in directory `nodeid` holding a target the server never interprets. */
export function symlink(s: FuseSession, nodeid: number): number {
  const path = s.child(nodeid);
  const target = s.req.string();
  if (target === "" || target.length > 4095) throw fsError("EINVAL", "link target");
  s.fs.symlink(target, path);
  return s.entry(path);
}

/** MKNOD: a file, FIFO or device node in directory `nodeid`. */
export function mknod(s: FuseSession, nodeid: number): number {
  const m = s.req.in.mknod.at(s.req.args(FuseMknodIn.SIZE));
  const mode = m.mode;
  const rdev = m.rdev;
  const path = s.child(nodeid);
  s.fs.mknod(path, mode, rdev);
  return s.entry(path);
}

/** MKDIR: a directory in directory `nodeid`. */
export function mkdir(s: FuseSession, nodeid: number): number {
  const m = s.req.in.mkdir.at(s.req.args(FuseMkdirIn.SIZE));
  const mode = m.mode;
  const path = s.child(nodeid);
  s.fs.mkdir(path, mode);
  return s.entry(path);
}

/** UNLINK (`dir` false) or RMDIR: removes a name of directory `nodeid`. */
export function remove(s: FuseSession, nodeid: number, dir: boolean): number {
  const path = s.child(nodeid);
  if (!dir) s.fs.unlink(path);
  else s.fs.rmdir(path);
  s.nodes.gone(path);
  return 0;
}

function exists(s: FuseSession, path: string): boolean {
  try {
    s.fs.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** RENAME, or RENAME2 (`withFlags`, RENAME_NOREPLACE / RENAME_EXCHANGE): a name of `nodeid` to one of newdir. */
export function rename(s: FuseSession, nodeid: number, withFlags: boolean): number {
  let newdir: number;
  let flags = 0;
  if (!withFlags) {
    newdir = s.req.in.rename.at(s.req.args(FuseRenameIn.SIZE)).newdir;
  } else {
    const r = s.req.in.rename2.at(s.req.args(FuseRename2In.SIZE));
    newdir = r.newdir;
    flags = r.flags;
  }
  const from = s.child(nodeid);
  const to = s.child(newdir);
  s.fs.rename(from, to, flags);
  // Two names of one file: rename(2) leaves both, and so do our nodes.
  if (from !== to && !exists(s, from)) {
    s.nodes.gone(to);
    s.nodes.moved(from, to);
  }
  return 0;
}

/** LINK: a new name in directory `nodeid` for the file of oldnodeid. */
export function link(s: FuseSession, nodeid: number): number {
  const old = s.nodes.path(s.req.in.link.at(s.req.args(FuseLinkIn.SIZE)).oldnodeid);
  const path = s.child(nodeid);
  s.fs.link(old, path);
  return s.entry(path);
}
