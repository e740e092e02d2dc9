/**
 * The 9P messages on open files: opening (Tlopen, Tlcreate), reading
 * (Tread, which also reads an xattr fid), writing (Twrite), syncing
 * (Tfsync), locking (Tlock, Tgetlock: advisory, always granted) and
 * closing (Tclunk). A fid holds a host handle only between its open and its
 * clunk; counts are checked against msize and the reply's room.
 *
 * @module
 */

import {
  P9_LOCK_SUCCESS,
  P9_LOCK_TYPE_UNLCK,
  P9Rgetlock,
  P9Rlopen,
  P9Rread,
  P9Tclunk,
  P9Tfsync,
  P9Tgetlock,
  P9Tlcreate,
  P9Tlock,
  P9Tlopen,
  P9Tread,
  P9Twrite,
} from "../../generated/devices/9p.ts";
import { fsError, type FsStat, OPEN_FLAGS, S_IFDIR, S_IFLNK, S_IFMT } from "../fs/filesystem.ts";
import { guestChild } from "../fs/_guest_path.ts";
import { putQid, qtypeOf } from "./_fids.ts";
import { checkCount, type P9Session } from "./_session.ts";
import type { WireReader, WireWriter } from "./_wire.ts";

/** Tlopen: opens the file of fid (a directory read-only, with no host handle; never a link). */
export function lopen(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Tlopen, "Tlopen");
  const f = s.fids.get(t.fid);
  const flags = t.flags;
  if (f.open) throw fsError("EINVAL", `fid ${t.fid} is open already`);
  const st = s.fs.stat(f.path);
  const type = st.mode & S_IFMT;
  if (type === S_IFDIR) {
    if ((flags & OPEN_FLAGS.O_ACCMODE) !== OPEN_FLAGS.O_RDONLY) {
      throw fsError("EISDIR", `${f.path} is a directory`);
    }
    f.open = true; // directories need no host handle: Treaddir lists the path
  } else if (type === S_IFLNK) {
    throw fsError("ELOOP", `${f.path} is a symbolic link`);
  } else {
    s.fids.opened(f, s.fs.open(f.path, flags & ~(OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_EXCL)));
  }
  f.qtype = qtypeOf(st.mode);
  const o = w.struct(P9Rlopen);
  putQid(o.qid, st);
  o.iounit = 0;
}

/** Tlcreate: creates a file in directory fid, which then names it, open. */
export function lcreate(s: P9Session, r: WireReader, w: WireWriter): void {
  const fidNo = r.struct(P9Tlcreate, "Tlcreate").fid;
  const name = r.str("name");
  const flags = r.u32("flags");
  const mode = r.u32("mode");
  r.u32("gid");
  const f = s.fids.dir(fidNo);
  if (f.open) throw fsError("EINVAL", `fid ${fidNo} is open`);
  const path = guestChild(f.path, name);
  const h = s.fs.create(path, flags | OPEN_FLAGS.O_CREAT, mode & 0o7777);
  let st: FsStat;
  try {
    st = h.stat();
  } catch (e) {
    h.close();
    throw e;
  }
  f.path = path;
  f.qtype = qtypeOf(st.mode);
  s.fids.opened(f, h);
  const o = w.struct(P9Rlopen);
  putQid(o.qid, st);
  o.iounit = 0;
}

/** Tread: up to count bytes at offset of an open file or an xattr fid. */
export function read(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Tread, "Tread");
  const f = s.fids.get(t.fid);
  const offset = t.fileOffset;
  const count = t.count;
  checkCount(s, count, P9Rread.SIZE, "Tread");
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw fsError("EINVAL", "offset past 2^53");
  const pos = Number(offset);
  const head = w.struct(P9Rread);
  const room = Math.min(count, w.room); // the chain's writable part may be shorter
  if (f.xattr !== undefined) {
    const part = f.xattr.subarray(Math.min(pos, f.xattr.length), pos + room);
    w.data(part);
    head.count = part.length;
    return;
  }
  if (!f.open || f.handle === undefined) {
    throw fsError(f.open ? "EISDIR" : "EBADF", `fid ${t.fid} is not an open file`);
  }
  const buf = w.reserve(room);
  const n = room === 0 ? 0 : f.handle.read(buf, pos);
  w.unreserve(room - n);
  head.count = n;
}

/** Twrite: the message's data at offset of an open file. */
export function write(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Twrite, "Twrite");
  const f = s.fids.get(t.fid);
  const offset = t.fileOffset;
  const count = t.count;
  if (count > r.left) throw fsError("EINVAL", `Twrite count ${count}, ${r.left} bytes sent`);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw fsError("EFBIG", "offset past 2^53");
  if (!f.open || f.handle === undefined) throw fsError("EBADF", `fid ${t.fid} is not open`);
  const n = f.handle.write(r.data(count, "data"), Number(offset));
  w.struct(P9Rread).count = n;
}

/** Tclunk: forgets fid, closing what it holds. */
export function clunk(s: P9Session, r: WireReader): void {
  s.fids.clunk(r.struct(P9Tclunk, "Tclunk").fid);
}

/** Tfsync: syncs an open file (data only with datasync). */
export function fsync(s: P9Session, r: WireReader): void {
  const t = r.struct(P9Tfsync, "Tfsync");
  const f = s.fids.get(t.fid);
  if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
  f.handle?.sync(t.datasync !== 0);
}

/** Tlock: granted. */
export function lock(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Tlock, "Tlock");
  const f = s.fids.get(t.fid);
  r.str("client_id");
  if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
  // Advisory locks are the guest kernel's business (one client): always granted.
  w.u8(P9_LOCK_SUCCESS);
}

/** Tgetlock: no lock conflicts. */
export function getlock(s: P9Session, r: WireReader, w: WireWriter): void {
  const t = r.struct(P9Tgetlock, "Tgetlock");
  const f = s.fids.get(t.fid);
  const start = t.start;
  const length = t.length;
  const procId = t.procId;
  const client = r.str("client_id");
  if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
  const o = w.struct(P9Rgetlock);
  o.type = P9_LOCK_TYPE_UNLCK; // nothing conflicts
  o.start = start;
  o.length = length;
  o.procId = procId;
  w.str(client);
}
