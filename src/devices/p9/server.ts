/**
 * A 9P2000.L server over a {@link FileSystem} (the tree virtio-fs shares
 * too: a host directory or an in-memory tree). It answers the messages
 * Linux's v9fs sends with `version=9p2000.L`, one at a time: each request
 * is a message in the server's own buffer, each reply is built in
 * {@link P9Server.reply}.
 *
 * Fids name paths inside the tree. A walk never leaves the root (`..` at
 * the root stays there), never follows a symbolic link (the guest's kernel
 * reads the link and resolves it in its own namespace, so absolute links
 * and links pointing outside land in the guest's tree, never the host's),
 * and the host-directory backend refuses a link anywhere on the way. A fid
 * the guest never made, a count past msize, a message shorter than its
 * fields or longer than msize are answered with Rlerror and a Linux errno;
 * so is every message 9P2000.L does not have. Open files hold host
 * descriptors only between Tlopen/Tlcreate and Tclunk/Tremove, Tversion
 * or {@link P9Server.reset}; the number of fids is bounded.
 *
 * @example
 * ```ts
 * import { P9Server } from "./server.ts";
 * import { MemoryFileSystem } from "../fs/memory_fs.ts";
 * import { P9_RVERSION, P9_TVERSION, P9Header, P9Tversion } from "../../generated/devices/9p.ts";
 *
 * const server = new P9Server(new MemoryFileSystem());
 * // Tversion: size[4] type[1] tag[2], msize[4], version[s]
 * const version = new TextEncoder().encode("9P2000.L");
 * const len = P9Header.SIZE + P9Tversion.SIZE + 2 + version.length;
 * const req = server.request(len);
 * const view = new DataView(req.buffer, req.byteOffset);
 * new P9Header(view).write(len, P9_TVERSION, 0xffff);
 * new P9Tversion(view, P9Header.SIZE).msize = 8192;
 * view.setUint16(P9Header.SIZE + P9Tversion.SIZE, version.length, true);
 * req.set(version, P9Header.SIZE + P9Tversion.SIZE + 2);
 * const n = server.handle(len, 8192);
 * const reply = new P9Header(new DataView(server.reply.buffer));
 * if (reply.type !== P9_RVERSION || n !== len || server.msize !== 8192) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import {
  checkName,
  childPath,
  ERRNO,
  errnoOf,
  type FileSystem,
  FsError,
  fsError,
  type FsHandle,
  type FsSetAttr,
  type FsStat,
  OPEN_FLAGS,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../fs/filesystem.ts";
import {
  P9_AT_REMOVEDIR,
  P9_ATTR_ATIME,
  P9_ATTR_ATIME_SET,
  P9_ATTR_GID,
  P9_ATTR_MODE,
  P9_ATTR_MTIME,
  P9_ATTR_MTIME_SET,
  P9_ATTR_SIZE,
  P9_ATTR_UID,
  P9_GETATTR_BASIC,
  P9_LOCK_SUCCESS,
  P9_LOCK_TYPE_UNLCK,
  P9_MAXWELEM,
  P9_NOFID,
  P9_QTDIR,
  P9_QTFILE,
  P9_QTSYMLINK,
  P9_RLERROR,
  P9_TATTACH,
  P9_TCLUNK,
  P9_TFLUSH,
  P9_TFSYNC,
  P9_TGETATTR,
  P9_TGETLOCK,
  P9_TLCREATE,
  P9_TLINK,
  P9_TLOCK,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TMKNOD,
  P9_TREAD,
  P9_TREADDIR,
  P9_TREADLINK,
  P9_TREMOVE,
  P9_TRENAME,
  P9_TRENAMEAT,
  P9_TSETATTR,
  P9_TSTATFS,
  P9_TSYMLINK,
  P9_TUNLINKAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9_TXATTRWALK,
  P9Dirent,
  P9Header,
  P9Qid,
  P9Rgetattr,
  P9Rgetlock,
  P9Rlerror,
  P9Rlopen,
  P9Rread,
  P9Rstatfs,
  P9Rwalk,
  P9Tattach,
  P9Tclunk,
  P9Tflush,
  P9Tfsync,
  P9Tgetattr,
  P9Tgetlock,
  P9Tlcreate,
  P9Tlink,
  P9Tlock,
  P9Tlopen,
  P9Tmkdir,
  P9Tread,
  P9Treaddir,
  P9Trename,
  P9Tsetattr,
  P9Tversion,
  P9Twalk,
  P9Twrite,
  P9Txattrwalk,
  V9FS_MAGIC,
} from "../../generated/devices/9p.ts";
import { VirtioError } from "../../errors.ts";
import { WireReader, WireWriter } from "./_wire.ts";

/** The protocol this server speaks. */
export const P9_VERSION_L = "9P2000.L";
/** Linux's EMSGSIZE: a message longer than msize. */
const EMSGSIZE = 90;
/** Linux's EOPNOTSUPP. */
const EOPNOTSUPP = 95;
/** The smallest msize a client may negotiate. */
export const P9_MIN_MSIZE = 4096;
/** The longest symbolic link target accepted (PATH_MAX - 1). */
const MAX_LINK = 4095;

/** Options of a {@link P9Server}. */
export interface P9ServerOptions {
  /** The largest msize the server accepts (default 512 KiB; at least 4096). */
  readonly maxMsize?: number;
  /** The most fids a client may hold at once (default 4096): beyond, EMFILE. */
  readonly maxFids?: number;
}

interface Fid {
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

function qtypeOf(mode: number): number {
  const t = mode & S_IFMT;
  return t === S_IFDIR ? P9_QTDIR : t === S_IFLNK ? P9_QTSYMLINK : P9_QTFILE;
}

/** d_type (linux/fs_types.h) of a mode's type bits. */
function dtypeOf(type: number): number {
  return (type & S_IFMT) >>> 12;
}

function putQid(q: P9Qid, st: FsStat): void {
  q.write(qtypeOf(st.mode), 0, BigInt(st.ino));
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

const EMPTY = new Uint8Array(0);

/** Serves one 9P2000.L session over a {@link FileSystem}. */
export class P9Server {
  /** The tree served. */
  readonly fs: FileSystem;
  /** The largest msize offered. */
  readonly maxMsize: number;
  /** The most fids at once. */
  readonly maxFids: number;
  /** The negotiated msize (the maximum until Tversion). */
  get msize(): number {
    return this.#msize;
  }
  #msize: number;
  /** Did Tversion agree on 9P2000.L? */
  get versioned(): boolean {
    return this.#versioned;
  }
  #versioned = false;
  /**
   * Requests that failed with an exception that is not a `VirtioError` (a bug:
   * guest input and host failures are typed); each was answered with EIO.
   */
  get internalErrors(): number {
    return this.#internalErrors;
  }
  #internalErrors = 0;
  /** The last such exception. */
  get lastInternalError(): unknown {
    return this.#lastInternalError;
  }
  #lastInternalError: unknown = undefined;
  readonly #fids = new Map<number, Fid>();
  readonly #req: Uint8Array;
  readonly #out: WireWriter;
  #open = 0;

  /** A server for `fs`. */
  constructor(fs: FileSystem, options: P9ServerOptions = {}) {
    const max = options.maxMsize ?? 512 * 1024;
    if (!Number.isInteger(max) || max < P9_MIN_MSIZE || max > 16 << 20) {
      throw new FsError(ERRNO.EINVAL, `maxMsize ${max} (4096..16 MiB)`, {
        code: "ERR_VIRTIO_DEVICE_9P_MSIZE",
      });
    }
    this.fs = fs;
    this.maxMsize = max;
    this.#msize = max;
    this.maxFids = options.maxFids ?? 4096;
    this.#req = new Uint8Array(max);
    this.#out = new WireWriter(new Uint8Array(max));
  }

  /** The buffer for a request of `len` bytes (at most {@link P9Server.maxMsize}). */
  request(len: number): Uint8Array {
    return this.#req.subarray(0, Math.min(len, this.maxMsize));
  }

  /** The last reply (its length is what {@link P9Server.handle} returned). */
  get reply(): Uint8Array {
    return this.#out.bytes;
  }

  /** Fids held by the client. */
  get fidCount(): number {
    return this.#fids.size;
  }

  /** Host handles open for the client. */
  get openHandles(): number {
    return this.#open;
  }

  /** Forgets every fid and closes every handle (device reset, new Tversion). */
  reset(): void {
    for (const f of this.#fids.values()) this.#close(f);
    this.#fids.clear();
    this.#versioned = false;
    this.#msize = this.maxMsize;
  }

  /**
   * Answers the request of `len` bytes in {@link P9Server.request}'s
   * buffer; the reply (at most `cap` bytes) is in {@link P9Server.reply}.
   * Returns its length, 0 when `cap` has no room for even an Rlerror.
   */
  handle(len: number, cap: number): number {
    const w = this.#out;
    if (cap < P9Header.SIZE + P9Rlerror.SIZE) return 0;
    const r = new WireReader(this.#req, 0, Math.min(len, this.maxMsize));
    let tag = 0xffff;
    let type = 0;
    try {
      const h = r.struct(P9Header, "the header");
      const size = h.msgSize;
      type = h.type;
      tag = h.tag;
      if (size > this.#msize) {
        throw new FsError(EMSGSIZE, `message of ${size} bytes, msize is ${this.#msize}`, {
          code: "ERR_VIRTIO_DEVICE_9P_MSIZE",
        });
      }
      if (size < P9Header.SIZE || size > len) {
        throw fsError("EINVAL", `header size ${size}, ${len} bytes sent`);
      }
      const body = new WireReader(this.#req, P9Header.SIZE, size);
      w.begin(type + 1, tag, Math.min(cap, this.#msize));
      this.#dispatch(type, body, w);
      return w.finish();
    } catch (e) {
      // Guest input and host failures arrive as typed errors; anything else is a bug of
      // ours, answered with EIO all the same but counted (the fuzzers check the count).
      if (!(e instanceof VirtioError)) {
        this.#internalErrors++;
        this.#lastInternalError = e;
      }
      w.begin(P9_RLERROR, tag, cap);
      w.struct(P9Rlerror).ecode = errnoOf(e);
      return w.finish();
    }
  }

  #dispatch(type: number, r: WireReader, w: WireWriter): void {
    if (type === P9_TVERSION) return this.#version(r, w);
    if (!this.#versioned) throw fsError("EPROTO", "no Tversion yet");
    switch (type) {
      case P9_TATTACH:
        return this.#attach(r, w);
      case P9_TWALK:
        return this.#walk(r, w);
      case P9_TLOPEN:
        return this.#lopen(r, w);
      case P9_TLCREATE:
        return this.#lcreate(r, w);
      case P9_TREAD:
        return this.#read(r, w);
      case P9_TWRITE:
        return this.#write(r, w);
      case P9_TCLUNK:
        return this.#clunk(r);
      case P9_TREMOVE:
        return this.#remove(r);
      case P9_TGETATTR:
        return this.#getattr(r, w);
      case P9_TSETATTR:
        return this.#setattr(r);
      case P9_TREADDIR:
        return this.#readdir(r, w);
      case P9_TMKDIR:
        return this.#mkdir(r, w);
      case P9_TSYMLINK:
        return this.#symlink(r, w);
      case P9_TMKNOD:
        return this.#mknod(r, w);
      case P9_TREADLINK:
        return this.#readlink(r, w);
      case P9_TRENAME:
        return this.#rename(r);
      case P9_TRENAMEAT:
        return this.#renameat(r);
      case P9_TUNLINKAT:
        return this.#unlinkat(r);
      case P9_TLINK:
        return this.#link(r);
      case P9_TSTATFS:
        return this.#statfs(r, w);
      case P9_TFSYNC:
        return this.#fsync(r);
      case P9_TXATTRWALK:
        return this.#xattrwalk(r, w);
      case P9_TLOCK:
        return this.#lock(r, w);
      case P9_TGETLOCK:
        return this.#getlock(r, w);
      case P9_TFLUSH:
        // Requests are answered in order, one at a time: the old one is done.
        r.struct(P9Tflush, "Tflush");
        return;
      default:
        throw new FsError(EOPNOTSUPP, `message type ${type} is not 9P2000.L or not served`, {
          code: "ERR_VIRTIO_DEVICE_9P_EOPNOTSUPP",
        });
    }
  }

  // ---- fids

  #fid(n: number): Fid {
    const f = this.#fids.get(n);
    if (f === undefined) throw fsError("EBADF", `fid ${n} is not in use`);
    return f;
  }

  #newFid(n: number, f: Fid): void {
    if (n === P9_NOFID) throw fsError("EINVAL", "NOFID as a new fid");
    if (this.#fids.has(n)) throw fsError("EINVAL", `fid ${n} is in use`);
    if (this.#fids.size >= this.maxFids) throw fsError("EMFILE", `more than ${this.maxFids} fids`);
    this.#fids.set(n, f);
  }

  #close(f: Fid): void {
    if (f.handle !== undefined) {
      f.handle.close();
      f.handle = undefined;
      this.#open--;
    }
    f.dirents = undefined;
    f.xattr = undefined;
  }

  #dir(n: number): Fid {
    const f = this.#fid(n);
    if (f.qtype !== P9_QTDIR) throw fsError("ENOTDIR", `fid ${n} is not a directory`);
    return f;
  }

  /** After a rename, fids below the old name follow it. */
  #moved(from: string, to: string): void {
    for (const f of this.#fids.values()) {
      if (f.path === from) f.path = to;
      else if (f.path.startsWith(`${from}/`)) f.path = to + f.path.slice(from.length);
    }
  }

  // ---- messages

  #version(r: WireReader, w: WireWriter): void {
    const msize = r.struct(P9Tversion, "Tversion").msize;
    const version = r.str("version");
    if (msize < P9_MIN_MSIZE) throw fsError("EINVAL", `msize ${msize} below ${P9_MIN_MSIZE}`);
    this.reset(); // a new session: every fid goes
    const agreed = Math.min(msize, this.maxMsize);
    w.struct(P9Tversion).msize = agreed;
    if (version === P9_VERSION_L) {
      this.#msize = agreed;
      this.#versioned = true;
      w.str(P9_VERSION_L);
    } else {
      w.str("unknown");
    }
  }

  #attach(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tattach, "Tattach");
    const fid = t.fid;
    const afid = t.afid;
    r.str("uname");
    const aname = r.str("aname");
    if (afid !== P9_NOFID) throw fsError("EINVAL", "no authentication: afid must be NOFID");
    if (aname !== "" && aname !== "/") throw fsError("ENOENT", `aname ${aname}: only the root`);
    const st = this.fs.stat("");
    this.#newFid(fid, { path: "", qtype: P9_QTDIR, open: false });
    putQid(w.struct(P9Qid), st);
  }

  #walk(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Twalk, "Twalk");
    const fid = t.fid;
    const newfid = t.newfid;
    const n = t.nwname;
    if (n > P9_MAXWELEM) throw fsError("EINVAL", `Twalk of ${n} names (most ${P9_MAXWELEM})`);
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(r.str("wname"));
    const from = this.#fid(fid);
    if (from.open) throw fsError("EBADF", `fid ${fid} is open: no walk from it`);
    if (newfid !== fid && this.#fids.has(newfid)) throw fsError("EINVAL", `fid ${newfid} in use`);
    let path = from.path;
    let qtype = from.qtype;
    const qids: FsStat[] = [];
    for (const name of names) {
      if (qtype !== P9_QTDIR) {
        if (qids.length === 0) throw fsError("ENOTDIR", `${path} is not a directory`);
        break;
      }
      let next: string;
      if (name === "..") next = parentOf(path); // at the root, the root
      else if (name === ".") next = path;
      else next = childPath(path, checkName(name));
      let st: FsStat;
      try {
        st = this.fs.stat(next);
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
      this.#newFid(newfid, { path, qtype, open: false });
    }
  }

  #lopen(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tlopen, "Tlopen");
    const f = this.#fid(t.fid);
    const flags = t.flags;
    if (f.open) throw fsError("EINVAL", `fid ${t.fid} is open already`);
    const st = this.fs.stat(f.path);
    const type = st.mode & S_IFMT;
    if (type === S_IFDIR) {
      if ((flags & OPEN_FLAGS.O_ACCMODE) !== OPEN_FLAGS.O_RDONLY) {
        throw fsError("EISDIR", `${f.path} is a directory`);
      }
      f.open = true; // directories need no host handle: Treaddir lists the path
    } else if (type === S_IFLNK) {
      throw fsError("ELOOP", `${f.path} is a symbolic link`);
    } else {
      this.#opened(f, this.fs.open(f.path, flags & ~(OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_EXCL)));
    }
    f.qtype = qtypeOf(st.mode);
    const o = w.struct(P9Rlopen);
    putQid(o.qid, st);
    o.iounit = 0;
  }

  #opened(f: Fid, h: FsHandle): void {
    f.handle = h;
    f.open = true;
    this.#open++;
  }

  #lcreate(r: WireReader, w: WireWriter): void {
    const fidNo = r.struct(P9Tlcreate, "Tlcreate").fid;
    const name = r.str("name");
    const flags = r.u32("flags");
    const mode = r.u32("mode");
    r.u32("gid");
    const f = this.#dir(fidNo);
    if (f.open) throw fsError("EINVAL", `fid ${fidNo} is open`);
    const path = childPath(f.path, checkName(name));
    const h = this.fs.create(path, flags | OPEN_FLAGS.O_CREAT, mode & 0o7777);
    let st: FsStat;
    try {
      st = h.stat();
    } catch (e) {
      h.close();
      throw e;
    }
    f.path = path;
    f.qtype = qtypeOf(st.mode);
    this.#opened(f, h);
    const o = w.struct(P9Rlopen);
    putQid(o.qid, st);
    o.iounit = 0;
  }

  /** Checks a count against msize: a reply of `header + count` bytes must fit in it. */
  #count(count: number, header: number, what: string): void {
    if (count > this.#msize - P9Header.SIZE - header) {
      throw new FsError(EMSGSIZE, `${what} count ${count} past msize ${this.#msize}`, {
        code: "ERR_VIRTIO_DEVICE_9P_MSIZE",
      });
    }
  }

  #read(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tread, "Tread");
    const f = this.#fid(t.fid);
    const offset = t.fileOffset;
    const count = t.count;
    this.#count(count, P9Rread.SIZE, "Tread");
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

  #write(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Twrite, "Twrite");
    const f = this.#fid(t.fid);
    const offset = t.fileOffset;
    const count = t.count;
    if (count > r.left) throw fsError("EINVAL", `Twrite count ${count}, ${r.left} bytes sent`);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw fsError("EFBIG", "offset past 2^53");
    if (!f.open || f.handle === undefined) throw fsError("EBADF", `fid ${t.fid} is not open`);
    const n = f.handle.write(r.data(count, "data"), Number(offset));
    w.struct(P9Rread).count = n;
  }

  #clunk(r: WireReader): void {
    const n = r.struct(P9Tclunk, "Tclunk").fid;
    const f = this.#fid(n);
    this.#close(f);
    this.#fids.delete(n);
  }

  #remove(r: WireReader): void {
    const n = r.struct(P9Tclunk, "Tremove").fid;
    const f = this.#fid(n);
    // 9P: the fid is clunked whether the remove succeeds or not.
    this.#close(f);
    this.#fids.delete(n);
    if (f.path === "") throw fsError("EBUSY", "the root cannot be removed");
    if (f.qtype === P9_QTDIR) this.fs.rmdir(f.path);
    else this.fs.unlink(f.path);
  }

  #stat(f: Fid): FsStat {
    return f.handle !== undefined ? f.handle.stat() : this.fs.stat(f.path);
  }

  #getattr(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tgetattr, "Tgetattr");
    const st = this.#stat(this.#fid(t.fid));
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

  #setattr(r: WireReader): void {
    const t = r.struct(P9Tsetattr, "Tsetattr");
    const f = this.#fid(t.fid);
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
    else this.fs.setattr(f.path, attr);
  }

  #readdir(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Treaddir, "Treaddir");
    const f = this.#fid(t.fid);
    const offset = t.dirOffset;
    const count = t.count;
    this.#count(count, P9Rread.SIZE, "Treaddir");
    if (f.qtype !== P9_QTDIR) throw fsError("ENOTDIR", `fid ${t.fid} is not a directory`);
    if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
    if (offset === 0n || f.dirents === undefined) {
      f.dirents = [
        { name: ".", path: f.path, type: S_IFDIR },
        { name: "..", path: parentOf(f.path), type: S_IFDIR },
        ...this.fs.readdir(f.path).map((e) => ({
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
        st = this.fs.stat(e.path);
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

  #made(w: WireWriter, path: string): void {
    putQid(w.struct(P9Qid), this.fs.stat(path));
  }

  #mkdir(r: WireReader, w: WireWriter): void {
    const dfid = r.struct(P9Tmkdir, "Tmkdir").dfid;
    const name = r.str("name");
    const mode = r.u32("mode");
    r.u32("gid");
    const path = childPath(this.#dir(dfid).path, checkName(name));
    this.fs.mkdir(path, mode & 0o7777);
    this.#made(w, path);
  }

  #symlink(r: WireReader, w: WireWriter): void {
    const dfid = r.struct(P9Tmkdir, "Tsymlink").dfid;
    const name = r.str("name");
    const target = r.str("symtgt");
    r.u32("gid");
    if (target.length === 0 || target.includes("\0")) throw fsError("EINVAL", "bad link target");
    if (target.length > MAX_LINK) throw fsError("ENAMETOOLONG", "link target too long");
    const path = childPath(this.#dir(dfid).path, checkName(name));
    // The target is stored as text and never interpreted by the server.
    this.fs.symlink(target, path);
    this.#made(w, path);
  }

  #mknod(r: WireReader, w: WireWriter): void {
    const dfid = r.struct(P9Tmkdir, "Tmknod").dfid;
    const name = r.str("name");
    const mode = r.u32("mode");
    const major = r.u32("major");
    const minor = r.u32("minor");
    r.u32("gid");
    const path = childPath(this.#dir(dfid).path, checkName(name));
    const type = mode & S_IFMT;
    this.fs.mknod(path, (type === 0 ? S_IFREG : type) | (mode & 0o7777), (major << 8) | minor);
    this.#made(w, path);
  }

  #readlink(r: WireReader, w: WireWriter): void {
    const f = this.#fid(r.struct(P9Tclunk, "Treadlink").fid);
    w.str(this.fs.readlink(f.path));
  }

  #rename(r: WireReader): void {
    const t = r.struct(P9Trename, "Trename");
    const fid = t.fid;
    const dfid = t.dfid;
    const name = r.str("name");
    const f = this.#fid(fid);
    if (f.path === "") throw fsError("EBUSY", "the root cannot be renamed");
    const to = childPath(this.#dir(dfid).path, checkName(name));
    this.#renamePath(f.path, to);
  }

  #renamePath(from: string, to: string): void {
    if (to === from) return;
    if (to.startsWith(`${from}/`)) throw fsError("EINVAL", "a directory into itself");
    this.fs.rename(from, to, 0);
    this.#moved(from, to);
  }

  #renameat(r: WireReader): void {
    const olddir = r.struct(P9Tclunk, "Trenameat").fid;
    const oldname = r.str("oldname");
    const newdir = r.u32("newdirfid");
    const newname = r.str("newname");
    const from = childPath(this.#dir(olddir).path, checkName(oldname));
    const to = childPath(this.#dir(newdir).path, checkName(newname));
    this.#renamePath(from, to);
  }

  #unlinkat(r: WireReader): void {
    const dfid = r.struct(P9Tclunk, "Tunlinkat").fid;
    const name = r.str("name");
    const flags = r.u32("flags");
    if ((flags & ~P9_AT_REMOVEDIR) !== 0) throw fsError("EINVAL", `unlinkat flags ${flags}`);
    const path = childPath(this.#dir(dfid).path, checkName(name));
    if (flags & P9_AT_REMOVEDIR) this.fs.rmdir(path);
    else this.fs.unlink(path);
  }

  #link(r: WireReader): void {
    const t = r.struct(P9Tlink, "Tlink");
    const dfid = t.dfid;
    const fid = t.fid;
    const name = r.str("name");
    const f = this.#fid(fid);
    if (f.qtype === P9_QTDIR) throw fsError("EPERM", "a hard link to a directory");
    this.fs.link(f.path, childPath(this.#dir(dfid).path, checkName(name)));
  }

  #statfs(r: WireReader, w: WireWriter): void {
    this.#fid(r.struct(P9Tclunk, "Tstatfs").fid);
    const s = this.fs.statfs();
    const o = w.struct(P9Rstatfs);
    o.type = V9FS_MAGIC;
    o.bsize = s.bsize;
    o.blocks = BigInt(s.blocks);
    o.bfree = BigInt(s.bfree);
    o.bavail = BigInt(s.bavail);
    o.files = BigInt(s.files);
    o.ffree = BigInt(s.ffree);
    o.fsid = 0n;
    o.namelen = s.namelen;
  }

  #fsync(r: WireReader): void {
    const t = r.struct(P9Tfsync, "Tfsync");
    const f = this.#fid(t.fid);
    if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
    f.handle?.sync(t.datasync !== 0);
  }

  #xattrwalk(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Txattrwalk, "Txattrwalk");
    const fid = t.fid;
    const newfid = t.newfid;
    const name = r.str("name");
    const f = this.#fid(fid);
    let value: Uint8Array;
    if (name === "") {
      const names = this.fs.listxattr(f.path);
      value = new TextEncoder().encode(names.map((n) => `${n}\0`).join(""));
    } else {
      value = this.fs.getxattr(f.path, name);
    }
    this.#newFid(newfid, { path: f.path, qtype: f.qtype, open: true, xattr: value ?? EMPTY });
    w.u64(BigInt(value.length));
  }

  #lock(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tlock, "Tlock");
    const f = this.#fid(t.fid);
    r.str("client_id");
    if (!f.open) throw fsError("EBADF", `fid ${t.fid} is not open`);
    // Advisory locks are the guest kernel's business (one client): always granted.
    w.u8(P9_LOCK_SUCCESS);
  }

  #getlock(r: WireReader, w: WireWriter): void {
    const t = r.struct(P9Tgetlock, "Tgetlock");
    const f = this.#fid(t.fid);
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
}
