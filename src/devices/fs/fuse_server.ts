/**
 * The FUSE server of the virtio-fs device: it answers the FUSE requests the
 * Linux virtiofs driver sends (spec 5.11.6) from a {@link FileSystem}.
 *
 * It works on bytes, not rings: the device copies a request out of guest
 * memory once into {@link FuseServer.request} (so a guest changing the
 * buffer while it is served changes nothing), calls
 * {@link FuseServer.handle}, and copies {@link FuseServer.reply} back. Every
 * byte is read and written through the generated `fuse_*` accessors.
 *
 * The guest is not trusted:
 * - node ids are ours (`LOOKUP` hands them out, `FORGET` takes them back);
 *   an id we did not give, or one whose name was removed, fails with ESTALE;
 * - names are checked components ({@link checkName}): no `.`, `..`, `/`, NUL;
 *   the path of a node is built from such names only, and the
 *   {@link FileSystem} never follows a symbolic link;
 * - file handles are ours, at most {@link FuseServerOptions.maxHandles} at a
 *   time (EMFILE past it); `RELEASE`, `DESTROY` and {@link FuseServer.reset}
 *   close them;
 * - lengths in the request are checked against the bytes that arrived,
 *   sizes and offsets against our limits; a failure is `-errno` in
 *   `fuse_out_header.error`, never an exception out of {@link FuseServer.handle}.
 *
 * @example A LOOKUP of a name that does not exist
 * ```ts
 * import { FuseServer } from "./fuse_server.ts";
 * import { MemoryFileSystem } from "./memory_fs.ts";
 * import { FUSE_INIT, FUSE_LOOKUP, FuseInHeader, FuseInitIn, FuseOutHeader } from "../../generated/devices/fs.ts";
 *
 * const server = new FuseServer(new MemoryFileSystem());
 * const put = (opcode: number, nodeid: number, args: (b: DataView) => number) => {
 *   const req = server.request(4096);
 *   const v = new DataView(req.buffer);
 *   const h = new FuseInHeader(v);
 *   const len = FuseInHeader.SIZE + args(v);
 *   h.len = len; h.opcode = opcode; h.unique = 7n; h.nodeid = nodeid;
 *   const n = server.handle(len, 4096);
 *   return new FuseOutHeader(new DataView(server.reply.buffer)).error | 0 || n;
 * };
 * put(FUSE_INIT, 0, (v) => {
 *   const i = new FuseInitIn(v, FuseInHeader.SIZE);
 *   i.major = 7; i.minor = 31; i.maxReadahead = 0; i.flags = 0;
 *   return FuseInitIn.SIZE;
 * });
 * const err = put(FUSE_LOOKUP, 1, (v) => {
 *   new Uint8Array(v.buffer).set(new TextEncoder().encode("nope\0"), FuseInHeader.SIZE);
 *   return 5;
 * });
 * if (err !== -2) throw new Error("unreachable"); // -ENOENT
 * ```
 *
 * @module
 */

// This module decodes the header, dispatches by opcode and answers INIT. The operations are
// in _fuse_*.ts, one module per group (names, attributes, files, directory listings, extended
// attributes), functions of the session state in _fuse_session.ts: node ids, file handles, and
// the request reader and reply writer of _fuse_wire.ts. Every name the guest sends becomes a
// path in one place, _guest_path.ts, through FuseSession.child.

import { DeviceError, VirtioError } from "../../errors.ts";
import {
  FUSE_ASYNC_READ,
  FUSE_ATOMIC_O_TRUNC,
  FUSE_BATCH_FORGET,
  FUSE_BIG_WRITES,
  FUSE_CREATE,
  FUSE_DESTROY,
  FUSE_DO_READDIRPLUS,
  FUSE_FALLOCATE,
  FUSE_FLUSH,
  FUSE_FORGET,
  FUSE_FSYNC,
  FUSE_FSYNCDIR,
  FUSE_GETATTR,
  FUSE_GETXATTR,
  FUSE_INIT,
  FUSE_INTERRUPT,
  FUSE_KERNEL_VERSION,
  FUSE_LINK,
  FUSE_LISTXATTR,
  FUSE_LOOKUP,
  FUSE_LSEEK,
  FUSE_MAX_PAGES,
  FUSE_MKDIR,
  FUSE_MKNOD,
  FUSE_OPEN,
  FUSE_OPENDIR,
  FUSE_PARALLEL_DIROPS,
  FUSE_READ,
  FUSE_READDIR,
  FUSE_READDIRPLUS,
  FUSE_READLINK,
  FUSE_RELEASE,
  FUSE_RELEASEDIR,
  FUSE_REMOVEXATTR,
  FUSE_RENAME,
  FUSE_RENAME2,
  FUSE_RMDIR,
  FUSE_SETATTR,
  FUSE_SETXATTR,
  FUSE_STATFS,
  FUSE_SYMLINK,
  FUSE_UNLINK,
  FUSE_WRITE,
  FuseInitIn,
  FuseInitOut,
  FuseWriteIn,
} from "../../generated/devices/fs.ts";
import { ERRNO, errnoOf, type FileSystem, FsError, fsError } from "./filesystem.ts";
import { getattr, setattr, statfs } from "./_fuse_attrs.ts";
import { create, fallocate, fsync, lseek, open, read, release, write } from "./_fuse_files.ts";
import {
  batchForget,
  forget,
  link,
  lookup,
  mkdir,
  mknod,
  readlink,
  remove,
  rename,
  symlink,
} from "./_fuse_names.ts";
import { readdir } from "./_fuse_readdir.ts";
import { FuseSession } from "./_fuse_session.ts";
import { HDR, OUT } from "./_fuse_wire.ts";
import { getxattr, removexattr, setxattr } from "./_fuse_xattrs.ts";

/** The FUSE minor version this server speaks (7.31: no extensions past it are needed). */
export const FUSE_SERVER_MINOR: number = 31;

/** The INIT flags the server accepts when the driver offers them. */
export const FUSE_SERVER_FLAGS: number = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
  FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS;

/** Options of a {@link FuseServer}. */
export interface FuseServerOptions {
  /** Most open file and directory handles at once (default 1024; EMFILE past it). */
  readonly maxHandles?: number;
  /** Most node ids handed out at once (default 1 << 20; ENFILE past it). */
  readonly maxNodes?: number;
  /** Largest READ or WRITE payload in bytes, a multiple of 4096 (default 1 MiB). */
  readonly maxIo?: number;
  /** Seconds the guest may cache names and attributes (default 1). */
  readonly cacheSeconds?: number;
}

/** Error codes of the server's own (non-FUSE) failures. */
export const FUSE_SERVER_ERROR_CODES: { readonly options: string } = Object.freeze({
  options: "ERR_VIRTIO_DEVICE_FS_OPTIONS",
});

/** Serves FUSE requests from a {@link FileSystem}. */
export class FuseServer {
  /** The file system served. */
  readonly fs: FileSystem;
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
  readonly #maxIo: number;
  readonly #s: FuseSession;
  #initialized = false;
  #minor = 0;

  /** A server for `fs`. */
  constructor(fs: FileSystem, options: FuseServerOptions = {}) {
    this.fs = fs;
    this.#maxIo = options.maxIo ?? 1 << 20;
    this.#s = new FuseSession(
      fs,
      options.maxHandles ?? 1024,
      options.maxNodes ?? 1 << 20,
      options.cacheSeconds ?? 1,
    );
    if (!Number.isInteger(this.#maxIo) || this.#maxIo < 4096 || this.#maxIo % 4096 !== 0) {
      throw new DeviceError(`virtio-fs: maxIo ${this.#maxIo} is not a multiple of 4096`, {
        code: FUSE_SERVER_ERROR_CODES.options,
      });
    }
  }

  /** Largest request the server accepts: a WRITE of {@link FuseServerOptions.maxIo} bytes with its headers. */
  get maxRequest(): number {
    return HDR + FuseWriteIn.SIZE + this.#maxIo;
  }

  /** Largest reply the server writes. */
  get maxReply(): number {
    return OUT + this.#maxIo;
  }

  /** Open handles (files and directories). */
  get openHandles(): number {
    return this.#s.handles.size;
  }

  /** Node ids handed out and not forgotten (the root included). */
  get nodeCount(): number {
    return this.#s.nodes.size;
  }

  /** True after INIT and before DESTROY. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /**
   * The buffer to copy a request of `len` bytes into (the server's own
   * memory, reused). Valid until the next call.
   */
  request(len: number): Uint8Array {
    this.#s.req.grow(len);
    return this.#s.req.bytes;
  }

  /** The reply {@link FuseServer.handle} wrote (its first bytes). */
  get reply(): Uint8Array {
    return this.#s.reply.bytes;
  }

  /**
   * Serves the request of `len` bytes in {@link FuseServer.request}; the
   * reply may take up to `replyCap` bytes (the chain's writable length).
   * Returns the reply's length in {@link FuseServer.reply}, or 0 when there
   * is none (FORGET, BATCH_FORGET, INTERRUPT, a request too short to answer,
   * or no room for a reply header). Never throws for guest input.
   */
  handle(len: number, replyCap: number): number {
    if (len < HDR) return 0;
    const s = this.#s;
    const h = s.req.hdr.at(0);
    const opcode = h.opcode;
    const nodeid = h.nodeid;
    const hdrLen = h.len;
    const unique = h.unique;
    s.req.len = len;
    const cap = Math.min(replyCap, this.maxReply);
    if (opcode === FUSE_FORGET || opcode === FUSE_BATCH_FORGET || opcode === FUSE_INTERRUPT) {
      if (hdrLen === len) {
        if (opcode === FUSE_FORGET) forget(s, nodeid);
        else if (opcode === FUSE_BATCH_FORGET) batchForget(s);
      }
      return 0;
    }
    if (cap < OUT) return 0;
    s.reply.grow(cap);
    s.reply.cap = cap;
    let errno = 0;
    let payload = 0;
    if (hdrLen !== len) {
      errno = ERRNO.EINVAL;
    } else if (!this.#initialized && opcode !== FUSE_INIT) {
      errno = ERRNO.EIO;
    } else {
      try {
        payload = this.#dispatch(opcode, nodeid);
      } catch (e) {
        errno = errnoOf(e);
        if (!(e instanceof VirtioError)) {
          // Guest input and host failures arrive as typed errors: this is a bug of ours.
          this.#internalErrors++;
          this.#lastInternalError = e;
        }
        if (!(e instanceof FsError) && errno === ERRNO.EIO) {
          // A bug or a host failure we do not know: the guest sees EIO, the host a log line.
          console.error(`virtio-fs: opcode ${opcode}:`, e);
        }
      }
    }
    if (errno === 0 && payload < 0) errno = ERRNO.ENOSYS;
    return s.reply.finish(unique, errno, payload);
  }

  /** Closes every handle and forgets every node (device reset, DESTROY). */
  reset(): void {
    this.#s.handles.closeAll();
    this.#s.nodes.reset();
    this.#initialized = false;
  }

  /** Returns the payload length, or -1 for an opcode the server does not know (ENOSYS). */
  #dispatch(opcode: number, nodeid: number): number {
    const s = this.#s;
    s.req.pos = HDR;
    switch (opcode) {
      case FUSE_INIT:
        return this.#init();
      case FUSE_DESTROY:
        this.reset();
        return 0;
      case FUSE_LOOKUP:
        return lookup(s, nodeid);
      case FUSE_GETATTR:
        return getattr(s, nodeid);
      case FUSE_SETATTR:
        return setattr(s, nodeid);
      case FUSE_READLINK:
        return readlink(s, nodeid);
      case FUSE_SYMLINK:
        return symlink(s, nodeid);
      case FUSE_MKNOD:
        return mknod(s, nodeid);
      case FUSE_MKDIR:
        return mkdir(s, nodeid);
      case FUSE_UNLINK:
      case FUSE_RMDIR:
        return remove(s, nodeid, opcode === FUSE_RMDIR);
      case FUSE_RENAME:
      case FUSE_RENAME2:
        return rename(s, nodeid, opcode === FUSE_RENAME2);
      case FUSE_LINK:
        return link(s, nodeid);
      case FUSE_OPEN:
      case FUSE_OPENDIR:
        return open(s, nodeid, opcode === FUSE_OPENDIR);
      case FUSE_CREATE:
        return create(s, nodeid);
      case FUSE_READ:
        return read(s);
      case FUSE_WRITE:
        return write(s);
      case FUSE_STATFS:
        return statfs(s);
      case FUSE_RELEASE:
      case FUSE_RELEASEDIR:
        return release(s);
      case FUSE_FLUSH:
        return 0;
      case FUSE_FSYNC:
      case FUSE_FSYNCDIR:
        return fsync(s);
      case FUSE_READDIR:
      case FUSE_READDIRPLUS:
        return readdir(s, opcode === FUSE_READDIRPLUS);
      case FUSE_GETXATTR:
      case FUSE_LISTXATTR:
        return getxattr(s, nodeid, opcode === FUSE_LISTXATTR);
      case FUSE_SETXATTR:
        return setxattr(s, nodeid);
      case FUSE_REMOVEXATTR:
        return removexattr(s, nodeid);
      case FUSE_FALLOCATE:
        return fallocate(s);
      case FUSE_LSEEK:
        return lseek(s);
      default:
        return -1;
    }
  }

  #init(): number {
    const { req, reply } = this.#s;
    const i = req.in.init.at(req.args(FuseInitIn.SIZE));
    const major = i.major;
    const minor = i.minor;
    const maxReadahead = i.maxReadahead;
    const flags = i.flags;
    reply.ensure(FuseInitOut.SIZE);
    const o = reply.o.init.at(OUT);
    reply.bytes.fill(0, OUT, OUT + FuseInitOut.SIZE);
    o.major = FUSE_KERNEL_VERSION;
    if (major < FUSE_KERNEL_VERSION) throw fsError("EPROTO", `FUSE major ${major} is too old`);
    if (major > FUSE_KERNEL_VERSION) {
      // Tell the driver our major; it sends INIT again with it (only major and minor count).
      o.minor = FUSE_SERVER_MINOR;
      return 8;
    }
    if (this.#initialized) this.reset();
    this.#minor = Math.min(minor, FUSE_SERVER_MINOR);
    o.minor = this.#minor;
    o.maxReadahead = maxReadahead;
    o.flags = flags & FUSE_SERVER_FLAGS;
    o.maxBackground = 64;
    o.congestionThreshold = 48;
    o.maxWrite = this.#maxIo;
    o.timeGran = 1;
    o.maxPages = this.#maxIo / 4096;
    o.mapAlignment = 0;
    this.#initialized = true;
    return FuseInitOut.SIZE;
  }
}
