/**
 * A 9P2000.L client: the messages of the protocol as methods
 * ({@link P9Client.version}, `attach`, `walk`, `lopen`, `lcreate`, `read`,
 * `write`, `readdir`, `clunk`, `mkdir`, ...) over any transport that carries
 * one request and returns its reply, and a small file API on top
 * (`readFile`, `writeFile`, `list`, `makeDir`...) that walks paths from the
 * root fid. Replies are checked: a short or mistyped reply is an EPROTO
 * {@link P9Error}; an Rlerror is a {@link P9Error} with the server's errno.
 *
 * @example
 * ```ts
 * import { P9Client } from "./client.ts";
 * import { P9Server } from "./server.ts";
 * import { MemoryFileSystem } from "../fs/memory_fs.ts";
 *
 * const server = new P9Server(new MemoryFileSystem());
 * const client = new P9Client((req, cap) => {
 *   server.request(req.length).set(req);
 *   return Promise.resolve(server.reply.slice(0, server.handle(req.length, cap)));
 * });
 * await client.version(65536);
 * await client.attach();
 * await client.writeFile("hello.txt", new TextEncoder().encode("hi"));
 * if ((await client.list(""))[0] !== "hello.txt") throw new Error("unreachable");
 * ```
 *
 * @module
 */

import {
  P9_AT_REMOVEDIR,
  P9_ATTR_ATIME,
  P9_ATTR_GID,
  P9_ATTR_MODE,
  P9_ATTR_MTIME,
  P9_ATTR_SIZE,
  P9_ATTR_UID,
  P9_GETATTR_BASIC,
  P9_MAXWELEM,
  P9_NOFID,
  P9_NOTAG,
  P9_RLERROR,
  P9_TATTACH,
  P9_TCLUNK,
  P9_TFSYNC,
  P9_TGETATTR,
  P9_TLCREATE,
  P9_TLINK,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TREAD,
  P9_TREADDIR,
  P9_TREADLINK,
  P9_TREMOVE,
  P9_TRENAMEAT,
  P9_TSETATTR,
  P9_TSTATFS,
  P9_TSYMLINK,
  P9_TUNLINKAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9Dirent,
  P9Header,
  P9Qid,
  P9Rgetattr,
  P9Rlerror,
  P9Rlopen,
  P9Rread,
  P9Rstatfs,
  P9Rwalk,
  P9Tattach,
  P9Tclunk,
  P9Tfsync,
  P9Tgetattr,
  P9Tlcreate,
  P9Tlink,
  P9Tlopen,
  P9Tmkdir,
  P9Tread,
  P9Treaddir,
  P9Tsetattr,
  P9Tversion,
  P9Twalk,
  P9Twrite,
} from "../../generated/devices/9p.ts";
import { ERRNO } from "../fs/filesystem.ts";
import * as paths from "./_client_paths.ts";
import { ERRNO_NAME, WireReader, WireWriter } from "./_wire.ts";
import { P9Error } from "./errors.ts";
import { P9_VERSION_L } from "./server.ts";

export { P9Error };

/** Carries one request (its bytes) and resolves with the reply (at most `cap` bytes). */
export type P9Transport = (request: Uint8Array, cap: number) => Promise<Uint8Array>;

/** A qid: the server's identity of a file. */
export interface P9QidValue {
  /** P9_QT* bits. */
  readonly type: number;
  /** Version. */
  readonly version: number;
  /** Unique path (inode). */
  readonly path: bigint;
}

/** Attributes from Rgetattr. */
export interface P9Attr {
  /** Identity. */
  readonly qid: P9QidValue;
  /** Type and permission bits. */
  readonly mode: number;
  /** Owner. */
  readonly uid: number;
  /** Group. */
  readonly gid: number;
  /** Links. */
  readonly nlink: number;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, seconds. */
  readonly mtimeSec: number;
}

/** One Rreaddir entry. */
export interface P9DirEntry {
  /** Identity. */
  readonly qid: P9QidValue;
  /** Where the next Treaddir resumes. */
  readonly offset: bigint;
  /** d_type. */
  readonly type: number;
  /** Name. */
  readonly name: string;
}

/** Attributes to set with Tsetattr. */
export interface P9SetAttr {
  /** Permission bits. */
  mode?: number;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** Truncate or extend to. */
  size?: number;
  /** Set the access time to now. */
  atimeNow?: boolean;
  /** Set the modification time to now. */
  mtimeNow?: boolean;
}

/** File system statistics from Rstatfs. */
export interface P9Statfs {
  /** f_type (V9FS_MAGIC). */
  readonly type: number;
  /** Block size. */
  readonly bsize: number;
  /** Total blocks. */
  readonly blocks: number;
  /** Free blocks. */
  readonly bfree: number;
  /** Longest name. */
  readonly namelen: number;
}

function qidOf(q: P9Qid): P9QidValue {
  return { type: q.type, version: q.version, path: q.path };
}

/** The root fid the client attaches. */
const ROOT = 0;

/** A 9P2000.L client session. */
export class P9Client {
  readonly #send: P9Transport;
  /** The negotiated msize (0 before {@link P9Client.version}). */
  get msize(): number {
    return this.#msize;
  }
  #msize = 0;
  #tag = 0;
  #nextFid = 1;
  readonly #freeFids: number[] = [];

  /** A client sending its requests through `send`. */
  constructor(send: P9Transport) {
    this.#send = send;
  }

  /** The root fid (after {@link P9Client.attach}). */
  get root(): number {
    return ROOT;
  }

  /** A fid number not in use. */
  allocFid(): number {
    return this.#freeFids.pop() ?? this.#nextFid++;
  }

  /**
   * Gives `fid` back for reuse, unless `error` (what the request that
   * released it failed with) leaves the server's state of it unknown: a
   * reply that was not a well-formed answer. Such a fid is never reused.
   */
  #freeFid(fid: number, error?: unknown): void {
    if (fid === ROOT) return;
    if (error !== undefined && !(error instanceof P9Error && error.errno !== ERRNO.EPROTO)) return;
    this.#freeFids.push(fid);
  }

  async #rpc(
    type: number,
    build: (w: WireWriter) => void,
    cap: number,
    tag?: number,
  ): Promise<WireReader> {
    const limit = this.#msize === 0 ? 8192 : this.#msize;
    const w = new WireWriter(new Uint8Array(limit));
    const t = tag ?? (this.#tag = (this.#tag + 1) % P9_NOTAG);
    w.begin(type, t, limit);
    build(w);
    const n = w.finish();
    const reply = await this.#send(w.bytes.subarray(0, n), Math.min(cap, limit));
    const r = new WireReader(reply, 0, reply.length);
    let h: P9Header;
    try {
      h = r.struct(P9Header, "the reply header");
    } catch {
      throw new P9Error(ERRNO.EPROTO, `reply of ${reply.length} bytes to message ${type}`);
    }
    const size = h.msgSize;
    const rtype = h.type;
    if (size !== reply.length || h.tag !== t) {
      throw new P9Error(ERRNO.EPROTO, `reply size ${size}/${reply.length}, tag ${h.tag}/${t}`);
    }
    const body = new WireReader(reply, P9Header.SIZE, size);
    if (rtype === P9_RLERROR) {
      const errno = body.struct(P9Rlerror, "Rlerror").ecode;
      throw new P9Error(errno, `message ${type}: ${ERRNO_NAME.get(errno) ?? `errno ${errno}`}`);
    }
    if (rtype !== type + 1) throw new P9Error(ERRNO.EPROTO, `reply ${rtype} to ${type}`);
    return body;
  }

  /** Tversion: offers `msize` and 9P2000.L; keeps what the server agrees to. */
  async version(msize: number): Promise<number> {
    const r = await this.#rpc(
      P9_TVERSION,
      (w) => {
        w.struct(P9Tversion).msize = msize;
        w.str(P9_VERSION_L);
      },
      256,
      P9_NOTAG,
    );
    const agreed = r.struct(P9Tversion, "Rversion").msize;
    const v = r.str("version");
    if (v !== P9_VERSION_L) throw new P9Error(ERRNO.EPROTO, `server speaks ${v}`);
    if (agreed > msize || agreed < 4096) {
      throw new P9Error(ERRNO.EPROTO, `server's msize ${agreed} (asked ${msize})`);
    }
    this.#msize = agreed;
    return agreed;
  }

  /** Tattach: binds the root fid to the server's root. */
  async attach(uname = "root", aname = ""): Promise<P9QidValue> {
    const r = await this.#rpc(P9_TATTACH, (w) => {
      w.struct(P9Tattach).write(ROOT, P9_NOFID);
      w.str(uname);
      w.str(aname);
      w.u32(0);
    }, 64);
    return qidOf(r.struct(P9Qid, "Rattach"));
  }

  /**
   * Twalk from `fid` through `names` to a new fid (returned); more than 16
   * names take several walks. A name that does not exist fails with ENOENT.
   */
  async walk(fid: number, names: readonly string[]): Promise<number> {
    const newfid = this.allocFid();
    let from = fid;
    let i = 0;
    try {
      do {
        const part = names.slice(i, i + P9_MAXWELEM);
        const r = await this.#rpc(P9_TWALK, (w) => {
          w.struct(P9Twalk).write(from, newfid, part.length);
          for (const n of part) w.str(n);
        }, 512);
        const got = r.struct(P9Rwalk, "Rwalk").nwqid;
        if (got !== part.length) {
          throw new P9Error(ERRNO.ENOENT, `${names.slice(0, i + got + 1).join("/")}: not found`);
        }
        from = newfid;
        i += part.length;
      } while (i < names.length);
    } catch (e) {
      if (from === newfid) await this.clunk(newfid);
      else this.#freeFid(newfid, e);
      throw e;
    }
    return newfid;
  }

  /** Tlopen with Linux open flags. */
  async lopen(fid: number, flags: number): Promise<{ qid: P9QidValue; iounit: number }> {
    const r = await this.#rpc(P9_TLOPEN, (w) => w.struct(P9Tlopen).write(fid, flags), 64);
    const o = r.struct(P9Rlopen, "Rlopen");
    return { qid: qidOf(o.qid), iounit: o.iounit };
  }

  /** Tlcreate: creates `name` in directory `fid`, which then is the new file, open. */
  async lcreate(fid: number, name: string, flags: number, mode: number): Promise<P9QidValue> {
    const r = await this.#rpc(P9_TLCREATE, (w) => {
      w.struct(P9Tlcreate).fid = fid;
      w.str(name);
      w.u32(flags);
      w.u32(mode);
      w.u32(0);
    }, 64);
    return qidOf(r.struct(P9Rlopen, "Rlcreate").qid);
  }

  /** The most data one Tread or Twrite moves. */
  get ioSize(): number {
    return this.#msize - 24; // P9_IOHDRSZ
  }

  /** Tread: up to `count` bytes at `offset`. */
  async read(fid: number, offset: number, count: number): Promise<Uint8Array> {
    const r = await this.#rpc(
      P9_TREAD,
      (w) => w.struct(P9Tread).write(fid, BigInt(offset), count),
      P9Header.SIZE + P9Rread.SIZE + count,
    );
    const n = r.struct(P9Rread, "Rread").count;
    if (n > count) throw new P9Error(ERRNO.EPROTO, `Rread of ${n} bytes for ${count}`);
    return r.data(n, "Rread data");
  }

  /** Twrite: `data` at `offset`; returns the bytes written. */
  async write(fid: number, offset: number, data: Uint8Array): Promise<number> {
    const r = await this.#rpc(P9_TWRITE, (w) => {
      w.struct(P9Twrite).write(fid, BigInt(offset), data.length);
      w.data(data);
    }, 64);
    return r.struct(P9Rread, "Rwrite").count;
  }

  /** Treaddir: entries from `offset` within `count` bytes. */
  async readdir(fid: number, offset: bigint, count: number): Promise<P9DirEntry[]> {
    const r = await this.#rpc(
      P9_TREADDIR,
      (w) => w.struct(P9Treaddir).write(fid, offset, count),
      P9Header.SIZE + P9Rread.SIZE + count,
    );
    const n = r.struct(P9Rread, "Rreaddir").count;
    const d = new WireReader(r.data(n, "Rreaddir data"), 0, n);
    const out: P9DirEntry[] = [];
    while (d.left > 0) {
      const e = d.struct(P9Dirent, "dirent");
      const qid = qidOf(e.qid);
      const next = e.nextOffset;
      const type = e.type;
      out.push({ qid, offset: next, type, name: d.str("name") });
    }
    return out;
  }

  /** Tclunk: forgets `fid` (and closes it on the server). */
  async clunk(fid: number): Promise<void> {
    try {
      await this.#rpc(P9_TCLUNK, (w) => w.struct(P9Tclunk).fid = fid, 64);
    } catch (e) {
      this.#freeFid(fid, e);
      throw e;
    }
    this.#freeFid(fid);
  }

  /** Tremove: removes the file of `fid`; the fid is clunked either way. */
  async remove(fid: number): Promise<void> {
    try {
      await this.#rpc(P9_TREMOVE, (w) => w.struct(P9Tclunk).fid = fid, 64);
    } catch (e) {
      this.#freeFid(fid, e);
      throw e;
    }
    this.#freeFid(fid);
  }

  /** Tgetattr (the basic attributes). */
  async getattr(fid: number): Promise<P9Attr> {
    const r = await this.#rpc(
      P9_TGETATTR,
      (w) => w.struct(P9Tgetattr).write(fid, BigInt(P9_GETATTR_BASIC)),
      256,
    );
    const a = r.struct(P9Rgetattr, "Rgetattr");
    return {
      qid: qidOf(a.qid),
      mode: a.mode,
      uid: a.uid,
      gid: a.gid,
      nlink: Number(a.nlink),
      size: Number(a.fileSize),
      mtimeSec: Number(a.mtimeSec),
    };
  }

  /** Tsetattr. */
  async setattr(fid: number, attr: P9SetAttr): Promise<void> {
    let valid = 0;
    if (attr.mode !== undefined) valid |= P9_ATTR_MODE;
    if (attr.uid !== undefined) valid |= P9_ATTR_UID;
    if (attr.gid !== undefined) valid |= P9_ATTR_GID;
    if (attr.size !== undefined) valid |= P9_ATTR_SIZE;
    if (attr.atimeNow) valid |= P9_ATTR_ATIME;
    if (attr.mtimeNow) valid |= P9_ATTR_MTIME;
    await this.#rpc(P9_TSETATTR, (w) => {
      const t = w.struct(P9Tsetattr);
      t.fid = fid;
      t.valid = valid;
      t.mode = attr.mode ?? 0;
      t.uid = attr.uid ?? 0;
      t.gid = attr.gid ?? 0;
      t.fileSize = BigInt(attr.size ?? 0);
    }, 64);
  }

  /** Tmkdir: `name` in directory `dfid`. */
  async mkdir(dfid: number, name: string, mode = 0o755): Promise<P9QidValue> {
    const r = await this.#rpc(P9_TMKDIR, (w) => {
      w.struct(P9Tmkdir).dfid = dfid;
      w.str(name);
      w.u32(mode);
      w.u32(0);
    }, 64);
    return qidOf(r.struct(P9Qid, "Rmkdir"));
  }

  /** Tsymlink: a link `name` in directory `dfid` holding `target`. */
  async symlink(dfid: number, name: string, target: string): Promise<P9QidValue> {
    const r = await this.#rpc(P9_TSYMLINK, (w) => {
      w.struct(P9Tmkdir).dfid = dfid;
      w.str(name);
      w.str(target);
      w.u32(0);
    }, 64);
    return qidOf(r.struct(P9Qid, "Rsymlink"));
  }

  /** Treadlink. */
  async readlink(fid: number): Promise<string> {
    const r = await this.#rpc(P9_TREADLINK, (w) => w.struct(P9Tclunk).fid = fid, 8192);
    return r.str("target");
  }

  /** Tlink: a new name `name` in `dfid` for the file of `fid`. */
  async link(dfid: number, fid: number, name: string): Promise<void> {
    await this.#rpc(P9_TLINK, (w) => {
      w.struct(P9Tlink).write(dfid, fid);
      w.str(name);
    }, 64);
  }

  /** Trenameat. */
  async renameat(olddir: number, oldname: string, newdir: number, newname: string): Promise<void> {
    await this.#rpc(P9_TRENAMEAT, (w) => {
      w.struct(P9Tclunk).fid = olddir;
      w.str(oldname);
      w.u32(newdir);
      w.str(newname);
    }, 64);
  }

  /** Tunlinkat (`dir`: a directory, AT_REMOVEDIR). */
  async unlinkat(dfid: number, name: string, dir = false): Promise<void> {
    await this.#rpc(P9_TUNLINKAT, (w) => {
      w.struct(P9Tclunk).fid = dfid;
      w.str(name);
      w.u32(dir ? P9_AT_REMOVEDIR : 0);
    }, 64);
  }

  /** Tstatfs. */
  async statfs(fid = ROOT): Promise<P9Statfs> {
    const r = await this.#rpc(P9_TSTATFS, (w) => w.struct(P9Tclunk).fid = fid, 128);
    const s = r.struct(P9Rstatfs, "Rstatfs");
    return {
      type: s.type,
      bsize: s.bsize,
      blocks: Number(s.blocks),
      bfree: Number(s.bfree),
      namelen: s.namelen,
    };
  }

  /** Tfsync. */
  async fsync(fid: number, datasync = false): Promise<void> {
    await this.#rpc(P9_TFSYNC, (w) => w.struct(P9Tfsync).write(fid, datasync ? 1 : 0), 64);
  }

  // ---- the file API: paths relative to the root, "" is the root (in _client_paths.ts)

  /** The components of `path`. */
  static split(path: string): string[] {
    return paths.splitPath(path);
  }

  /** The whole content of file `path`. */
  readFile(path: string): Promise<Uint8Array> {
    return paths.readFile(this, path);
  }

  /** Creates or replaces file `path` with `data`. */
  async writeFile(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
    await paths.writeFile(this, path, data, mode);
  }

  /** The names in directory `path`, without `.` and `..`. */
  list(path: string): Promise<string[]> {
    return paths.list(this, path);
  }

  /** Makes directory `path`. */
  async makeDir(path: string, mode = 0o755): Promise<void> {
    await paths.makeDir(this, path, mode);
  }

  /** Removes file `path` (or the empty directory, with `dir`). */
  async removeFile(path: string, dir = false): Promise<void> {
    await paths.removeFile(this, path, dir);
  }

  /** Renames `from` to `to`. */
  async renamePath(from: string, to: string): Promise<void> {
    await paths.renamePath(this, from, to);
  }

  /** Attributes of `path` (a link's own). */
  stat(path: string): Promise<P9Attr> {
    return paths.stat(this, path);
  }

  /** Makes a symbolic link `path` holding `target`. */
  async makeSymlink(target: string, path: string): Promise<void> {
    await paths.makeSymlink(this, target, path);
  }

  /** The target of the symbolic link `path`. */
  readSymlink(path: string): Promise<string> {
    return paths.readSymlink(this, path);
  }
}
