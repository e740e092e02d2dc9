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

// This module decodes the header, dispatches by message type and answers the session's own
// messages (Tversion, Tattach, Tflush). The other messages are in one module per group
// (_names.ts, _attrs.ts, _files.ts, _readdir.ts), functions of the session of _session.ts:
// the tree, the fid table of _fids.ts and msize. Every name the client sends becomes a path
// in one place, ../fs/_guest_path.ts (through Fids.child, or walkStep for Twalk).

import { ERRNO, errnoOf, type FileSystem, FsError, fsError } from "../fs/filesystem.ts";
import {
  P9_NOFID,
  P9_QTDIR,
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
  P9Header,
  P9Qid,
  P9Rlerror,
  P9Tattach,
  P9Tflush,
  P9Tversion,
} from "../../generated/devices/9p.ts";
import { VirtioError } from "../../errors.ts";
import { getattr, setattr, statfs, xattrwalk } from "./_attrs.ts";
import { Fids, putQid } from "./_fids.ts";
import { clunk, fsync, getlock, lcreate, lock, lopen, read, write } from "./_files.ts";
import {
  link,
  mkdir,
  mknod,
  readlink,
  remove,
  rename,
  renameat,
  symlink,
  unlinkat,
  walk,
} from "./_names.ts";
import { readdir } from "./_readdir.ts";
import { EMSGSIZE, type P9Session } from "./_session.ts";
import { WireReader, WireWriter } from "./_wire.ts";

/** The protocol this server speaks. */
export const P9_VERSION_L = "9P2000.L";
/** Linux's EOPNOTSUPP. */
const EOPNOTSUPP = 95;
/** The smallest msize a client may negotiate. */
export const P9_MIN_MSIZE = 4096;

/** Options of a {@link P9Server}. */
export interface P9ServerOptions {
  /** The largest msize the server accepts (default 512 KiB; at least 4096). */
  readonly maxMsize?: number;
  /** The most fids a client may hold at once (default 4096): beyond, EMFILE. */
  readonly maxFids?: number;
}

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
  readonly #fids: Fids;
  readonly #s: P9Session;
  readonly #req: Uint8Array;
  readonly #out: WireWriter;

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
    this.#fids = new Fids(this.maxFids);
    this.#s = { fs, fids: this.#fids, msize: () => this.#msize };
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
    return this.#fids.openHandles;
  }

  /** Forgets every fid and closes every handle (device reset, new Tversion). */
  reset(): void {
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
    const s = this.#s;
    switch (type) {
      case P9_TATTACH:
        return this.#attach(r, w);
      case P9_TWALK:
        return walk(s, r, w);
      case P9_TLOPEN:
        return lopen(s, r, w);
      case P9_TLCREATE:
        return lcreate(s, r, w);
      case P9_TREAD:
        return read(s, r, w);
      case P9_TWRITE:
        return write(s, r, w);
      case P9_TCLUNK:
        return clunk(s, r);
      case P9_TREMOVE:
        return remove(s, r);
      case P9_TGETATTR:
        return getattr(s, r, w);
      case P9_TSETATTR:
        return setattr(s, r);
      case P9_TREADDIR:
        return readdir(s, r, w);
      case P9_TMKDIR:
        return mkdir(s, r, w);
      case P9_TSYMLINK:
        return symlink(s, r, w);
      case P9_TMKNOD:
        return mknod(s, r, w);
      case P9_TREADLINK:
        return readlink(s, r, w);
      case P9_TRENAME:
        return rename(s, r);
      case P9_TRENAMEAT:
        return renameat(s, r);
      case P9_TUNLINKAT:
        return unlinkat(s, r);
      case P9_TLINK:
        return link(s, r);
      case P9_TSTATFS:
        return statfs(s, r, w);
      case P9_TFSYNC:
        return fsync(s, r);
      case P9_TXATTRWALK:
        return xattrwalk(s, r, w);
      case P9_TLOCK:
        return lock(s, r, w);
      case P9_TGETLOCK:
        return getlock(s, r, w);
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
    this.#fids.add(fid, { path: "", qtype: P9_QTDIR, open: false });
    putQid(w.struct(P9Qid), st);
  }
}
