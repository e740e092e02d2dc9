/**
 * The FUSE operations on open files: opening (`OPEN`, `OPENDIR`,
 * `CREATE`) and closing (`RELEASE`, `RELEASEDIR`) handles, and what is
 * done through one: `READ`, `WRITE`, `FSYNC`, `FSYNCDIR`, `FALLOCATE`,
 * `LSEEK`. Offsets and sizes are checked against 2^53 and the reply's room.
 * Each returns its reply's payload length.
 *
 * @module
 */

import {
  FUSE_FSYNC_FDATASYNC,
  FuseCreateIn,
  FuseEntryOut,
  FuseFallocateIn,
  FuseFsyncIn,
  FuseLseekIn,
  FuseLseekOut,
  FuseOpenIn,
  FuseOpenOut,
  FuseReadIn,
  FuseReleaseIn,
  FuseWriteIn,
  FuseWriteOut,
} from "../../generated/devices/fs.ts";
import { fsError, OPEN_FLAGS, S_IFDIR, S_IFMT } from "./filesystem.ts";
import type { Node } from "./_fuse_nodes.ts";
import type { FuseSession } from "./_fuse_session.ts";
import { OUT, safeOffset } from "./_fuse_wire.ts";

/** OPEN, or OPENDIR (`dir`, which lists the directory): a handle of `nodeid`. */
export function open(s: FuseSession, nodeid: number, dir: boolean): number {
  const flags = s.req.in.open.at(s.req.args(FuseOpenIn.SIZE)).flags;
  const node = s.nodes.node(nodeid);
  const path = s.nodes.path(nodeid);
  s.reply.ensure(FuseOpenOut.SIZE);
  let fh: number;
  if (dir) {
    if ((s.fs.stat(path).mode & S_IFMT) !== S_IFDIR) throw fsError("ENOTDIR", path);
    fh = s.handles.add(node, undefined, s.fs.readdir(path));
  } else {
    const clean = flags & ~(OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_EXCL);
    fh = s.handles.add(node, s.fs.open(path, clean), undefined);
  }
  s.reply.openOut(OUT, fh);
  return FuseOpenOut.SIZE;
}

/** CREATE: a new file in directory `nodeid`, looked up and open. */
export function create(s: FuseSession, nodeid: number): number {
  const c = s.req.in.create.at(s.req.args(FuseCreateIn.SIZE));
  const flags = c.flags;
  const mode = c.mode;
  const path = s.child(nodeid);
  s.reply.ensure(FuseEntryOut.SIZE + FuseOpenOut.SIZE);
  if (s.handles.full) throw fsError("EMFILE", "too many handles");
  const file = s.fs.create(path, flags, mode);
  let node: Node;
  try {
    const st = file.stat();
    node = s.nodes.ref(path, st);
    s.reply.fillEntry(OUT, node.id, st);
  } catch (e) {
    file.close();
    throw e;
  }
  s.reply.openOut(OUT + FuseEntryOut.SIZE, s.handles.add(node, file, undefined));
  return FuseEntryOut.SIZE + FuseOpenOut.SIZE;
}

/** READ: up to the size asked (and the reply's room) from an open file; short at its end. */
export function read(s: FuseSession): number {
  const r = s.req.in.read.at(s.req.args(FuseReadIn.SIZE));
  const fh = r.fh;
  const offset = safeOffset(r.readOffset);
  const size = Math.min(r.readSize, s.reply.cap - OUT);
  const file = s.handles.file(fh);
  const buf = s.reply.bytes.subarray(OUT, OUT + size);
  let got = 0;
  while (got < size) {
    const n = file.read(buf.subarray(got), offset + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

/** WRITE: the request's data to an open file. */
export function write(s: FuseSession): number {
  const req = s.req;
  const w = req.in.write.at(req.args(FuseWriteIn.SIZE));
  const fh = w.fh;
  const offset = safeOffset(w.writeOffset);
  const size = w.writeSize;
  if (size > req.len - req.pos) throw fsError("EINVAL", "WRITE size past the request");
  if (!Number.isSafeInteger(offset + size)) throw fsError("EFBIG", "write past 2^53");
  s.reply.ensure(FuseWriteOut.SIZE);
  const file = s.handles.file(fh);
  const data = req.bytes.subarray(req.pos, req.pos + size);
  let done = 0;
  while (done < size) {
    const n = file.write(data.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  const o = s.reply.o.write.at(OUT);
  o.written = done;
  o.padding = 0;
  return FuseWriteOut.SIZE;
}

/** RELEASE or RELEASEDIR: closes a handle. */
export function release(s: FuseSession): number {
  s.handles.release(s.req.in.release.at(s.req.args(FuseReleaseIn.SIZE)).fh);
  return 0;
}

/** FSYNC or FSYNCDIR: syncs an open file (data only with FUSE_FSYNC_FDATASYNC). */
export function fsync(s: FuseSession): number {
  const f = s.req.in.fsync.at(s.req.args(FuseFsyncIn.SIZE));
  const hd = s.handles.handle(f.fh);
  hd.file?.sync((f.fsyncFlags & FUSE_FSYNC_FDATASYNC) !== 0);
  return 0;
}

/** FALLOCATE: allocates (or punches, per mode) a range of an open file. */
export function fallocate(s: FuseSession): number {
  const f = s.req.in.fallocate.at(s.req.args(FuseFallocateIn.SIZE));
  const file = s.handles.file(f.fh);
  const offset = safeOffset(f.fallocOffset);
  const length = safeOffset(f.length);
  file.allocate(offset, length, f.mode);
  return 0;
}

/** LSEEK: SEEK_DATA / SEEK_HOLE (and the plain whences) on an open file. */
export function lseek(s: FuseSession): number {
  const l = s.req.in.lseek.at(s.req.args(FuseLseekIn.SIZE));
  const file = s.handles.file(l.fh);
  const at = file.seek(safeOffset(l.seekOffset), l.whence);
  s.reply.ensure(FuseLseekOut.SIZE);
  s.reply.o.lseek.at(OUT).seekOffset = at;
  return FuseLseekOut.SIZE;
}
