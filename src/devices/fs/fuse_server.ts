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

import { DeviceError, VirtioError } from "../../errors.ts";
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
  FUSE_FSYNC_FDATASYNC,
  FUSE_FSYNCDIR,
  FUSE_GETATTR,
  FUSE_GETATTR_FH,
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
  FUSE_ROOT_ID,
  FUSE_SETATTR,
  FUSE_SETXATTR,
  FUSE_STATFS,
  FUSE_SYMLINK,
  FUSE_UNLINK,
  FUSE_WRITE,
  type FuseAttr,
  FuseAttrOut,
  FuseBatchForgetIn,
  FuseCreateIn,
  FuseDirent,
  FuseDirentplus,
  FuseEntryOut,
  FuseFallocateIn,
  FuseForgetIn,
  FuseForgetOne,
  FuseFsyncIn,
  FuseGetattrIn,
  FuseGetxattrIn,
  FuseGetxattrOut,
  FuseInHeader,
  FuseInitIn,
  FuseInitOut,
  FuseLinkIn,
  FuseLseekIn,
  FuseLseekOut,
  FuseMkdirIn,
  FuseMknodIn,
  FuseOpenIn,
  FuseOpenOut,
  FuseOutHeader,
  FuseReadIn,
  FuseReleaseIn,
  FuseRename2In,
  FuseRenameIn,
  FuseSetattrIn,
  FuseSetxattrIn,
  FuseStatfsOut,
  FuseWriteIn,
  FuseWriteOut,
} from "../../generated/devices/fs.ts";
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
  S_IFMT,
} from "./filesystem.ts";

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

interface Node {
  readonly id: number;
  /** The node's path (the name it was last looked up by), or undefined once that name is gone. */
  path: string | undefined;
  /** The file's identity, `dev:ino`: two names of one file (hard links) are one node. */
  key: string;
  /** Lookup references the driver holds (FUSE nlookup). */
  refs: number;
}

interface Handle {
  readonly node: Node;
  readonly file: FsHandle | undefined;
  /** A directory's entries, read at OPENDIR and again at READDIR offset 0 (rewinddir). */
  entries: { name: string; type: number }[] | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const HDR = FuseInHeader.SIZE;
const OUT = FuseOutHeader.SIZE;

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
  readonly #maxHandles: number;
  readonly #maxNodes: number;
  readonly #maxIo: number;
  readonly #cache: number;
  #req = new Uint8Array(0);
  #out = new Uint8Array(0);
  #inView = new DataView(this.#req.buffer);
  #outView = new DataView(this.#out.buffer);
  // Accessors made once, re-targeted per request.
  #inHdr = new FuseInHeader(this.#inView);
  #outHdr = new FuseOutHeader(this.#outView);
  #in = {
    init: new FuseInitIn(this.#inView),
    forget: new FuseForgetIn(this.#inView),
    batch: new FuseBatchForgetIn(this.#inView),
    one: new FuseForgetOne(this.#inView),
    getattr: new FuseGetattrIn(this.#inView),
    setattr: new FuseSetattrIn(this.#inView),
    open: new FuseOpenIn(this.#inView),
    create: new FuseCreateIn(this.#inView),
    mknod: new FuseMknodIn(this.#inView),
    mkdir: new FuseMkdirIn(this.#inView),
    read: new FuseReadIn(this.#inView),
    write: new FuseWriteIn(this.#inView),
    release: new FuseReleaseIn(this.#inView),
    fsync: new FuseFsyncIn(this.#inView),
    rename: new FuseRenameIn(this.#inView),
    rename2: new FuseRename2In(this.#inView),
    link: new FuseLinkIn(this.#inView),
    getxattr: new FuseGetxattrIn(this.#inView),
    setxattr: new FuseSetxattrIn(this.#inView),
    fallocate: new FuseFallocateIn(this.#inView),
    lseek: new FuseLseekIn(this.#inView),
  };
  #o = {
    init: new FuseInitOut(this.#outView),
    entry: new FuseEntryOut(this.#outView),
    attrOut: new FuseAttrOut(this.#outView),
    open: new FuseOpenOut(this.#outView),
    write: new FuseWriteOut(this.#outView),
    statfs: new FuseStatfsOut(this.#outView),
    xattr: new FuseGetxattrOut(this.#outView),
    lseek: new FuseLseekOut(this.#outView),
    dirent: new FuseDirent(this.#outView),
    direntplus: new FuseDirentplus(this.#outView),
  };
  #nodes = new Map<number, Node>();
  #byPath = new Map<string, Node>();
  #byKey = new Map<string, Node>();
  #handles = new Map<number, Handle>();
  #nextNode = FUSE_ROOT_ID + 1;
  #nextFh = 1;
  #initialized = false;
  #minor = 0;
  #len = 0;
  #cap = 0;
  #pos = 0;

  /** A server for `fs`. */
  constructor(fs: FileSystem, options: FuseServerOptions = {}) {
    this.fs = fs;
    this.#maxHandles = options.maxHandles ?? 1024;
    this.#maxNodes = options.maxNodes ?? 1 << 20;
    this.#maxIo = options.maxIo ?? 1 << 20;
    this.#cache = options.cacheSeconds ?? 1;
    if (!Number.isInteger(this.#maxIo) || this.#maxIo < 4096 || this.#maxIo % 4096 !== 0) {
      throw new DeviceError(`virtio-fs: maxIo ${this.#maxIo} is not a multiple of 4096`, {
        code: FUSE_SERVER_ERROR_CODES.options,
      });
    }
    this.#addRoot();
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
    return this.#handles.size;
  }

  /** Node ids handed out and not forgotten (the root included). */
  get nodeCount(): number {
    return this.#nodes.size;
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
    if (this.#req.length < len) this.#grow(len, this.#out.length);
    return this.#req;
  }

  /** The reply {@link FuseServer.handle} wrote (its first bytes). */
  get reply(): Uint8Array {
    return this.#out;
  }

  #grow(inLen: number, outLen: number): void {
    const round = (n: number) => Math.max(4096, 2 ** Math.ceil(Math.log2(n)));
    if (this.#req.length < inLen) {
      this.#req = new Uint8Array(round(inLen));
      this.#inView = new DataView(this.#req.buffer);
      this.#inHdr.view = this.#inView;
      for (const a of Object.values(this.#in)) a.view = this.#inView;
    }
    if (this.#out.length < outLen) {
      this.#out = new Uint8Array(round(outLen));
      this.#outView = new DataView(this.#out.buffer);
      this.#outHdr.view = this.#outView;
      for (const a of Object.values(this.#o)) {
        a.view = this.#outView;
      }
      // Nested accessors cache a child over the old view: rebuild those.
      this.#o.entry = new FuseEntryOut(this.#outView);
      this.#o.attrOut = new FuseAttrOut(this.#outView);
      this.#o.statfs = new FuseStatfsOut(this.#outView);
      this.#o.direntplus = new FuseDirentplus(this.#outView);
    }
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
    const h = this.#inHdr.at(0);
    const opcode = h.opcode;
    const nodeid = h.nodeid;
    const hdrLen = h.len;
    const unique = h.unique;
    this.#len = len;
    const cap = Math.min(replyCap, this.maxReply);
    if (opcode === FUSE_FORGET || opcode === FUSE_BATCH_FORGET || opcode === FUSE_INTERRUPT) {
      if (hdrLen === len) {
        if (opcode === FUSE_FORGET) this.#forget(nodeid);
        else if (opcode === FUSE_BATCH_FORGET) this.#batchForget();
      }
      return 0;
    }
    if (cap < OUT) return 0;
    if (this.#out.length < cap) this.#grow(0, cap);
    this.#cap = cap;
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
    const out = this.#outHdr.at(0);
    out.unique = unique;
    if (errno !== 0) {
      out.len = OUT;
      out.error = -errno >>> 0;
      return OUT;
    }
    out.len = OUT + payload;
    out.error = 0;
    return OUT + payload;
  }

  /** Closes every handle and forgets every node (device reset, DESTROY). */
  reset(): void {
    for (const hd of this.#handles.values()) hd.file?.close();
    this.#handles.clear();
    this.#nodes.clear();
    this.#byPath.clear();
    this.#byKey.clear();
    this.#initialized = false;
    this.#addRoot();
  }

  #addRoot(): void {
    const root: Node = { id: FUSE_ROOT_ID, path: "", key: "", refs: 1 };
    this.#nodes.set(FUSE_ROOT_ID, root);
    this.#byPath.set("", root);
  }

  // -------------------------------------------------------------------------
  // Request parsing

  /** Checks that `size` argument bytes follow the header; returns their offset. */
  #args(size: number): number {
    if (this.#len < HDR + size) throw fsError("EINVAL", "request shorter than its arguments");
    this.#pos = HDR + size;
    return HDR;
  }

  /** The next NUL-terminated name of the request, checked. */
  #name(): string {
    return checkName(this.#string());
  }

  #string(): string {
    const start = this.#pos;
    const end = this.#req.subarray(start, this.#len).indexOf(0);
    if (end < 0) throw fsError("EINVAL", "name without a terminating NUL");
    this.#pos = start + end + 1;
    try {
      return decoder.decode(this.#req.subarray(start, start + end));
    } catch {
      throw fsError("EINVAL", "name is not UTF-8");
    }
  }

  #exists(path: string): boolean {
    try {
      this.fs.stat(path);
      return true;
    } catch {
      return false;
    }
  }

  #node(id: number): Node {
    const n = this.#nodes.get(id);
    if (n === undefined) throw fsError("ESTALE", `node ${id} is not one we gave`);
    return n;
  }

  #path(id: number): string {
    const p = this.#node(id).path;
    if (p === undefined) throw fsError("ESTALE", `node ${id} has no name any more`);
    return p;
  }

  #handle(fh: number): Handle {
    const hd = this.#handles.get(fh);
    if (hd === undefined) throw fsError("EBADF", `file handle ${fh} is not open`);
    return hd;
  }

  #file(fh: number): FsHandle {
    const f = this.#handle(fh).file;
    if (f === undefined) throw fsError("EISDIR", `handle ${fh} is a directory`);
    return f;
  }

  #offset(v: number): number {
    if (!Number.isSafeInteger(v)) throw fsError("EFBIG", "offset past 2^53");
    return v;
  }

  #ensureOut(n: number): void {
    if (OUT + n > this.#cap) throw fsError("EINVAL", "the reply buffer is too small");
  }

  // -------------------------------------------------------------------------
  // Nodes

  /**
   * A reference to the file at `path` (with attributes `st`): the node of
   * that file if it has one (another name of it, a hard link, included),
   * else a new node. Linux keys its inodes by node id, so one file must be
   * one node for its page cache and attributes to stay coherent.
   */
  #ref(path: string, st: FsStat): Node {
    const key = `${st.dev}:${st.ino}`;
    let n = this.#byKey.get(key);
    const atPath = this.#byPath.get(path);
    if (atPath !== undefined && atPath !== n && atPath.id !== FUSE_ROOT_ID) {
      // Another file took this name (replaced behind our back): the old node has no name now.
      this.#gone(path);
    }
    if (n !== undefined && n.path !== path) {
      if (n.path !== undefined && this.#byPath.get(n.path) === n) {
        if ((st.mode & S_IFMT) === S_IFDIR) {
          this.#moved(n.path, path); // a directory has one name: it moved
        } else {
          this.#byPath.delete(n.path); // a file with several names: follow the latest
        }
      }
      n.path = path;
      this.#byPath.set(path, n);
    }
    if (n === undefined) {
      if (this.#nodes.size >= this.#maxNodes) throw fsError("ENFILE", "too many nodes");
      n = { id: this.#nextNode++, path, key, refs: 0 };
      this.#nodes.set(n.id, n);
      this.#byPath.set(path, n);
      this.#byKey.set(key, n);
    }
    n.refs++;
    return n;
  }

  #unref(n: Node, count: number): void {
    if (n.id === FUSE_ROOT_ID) return;
    n.refs -= count;
    if (n.refs <= 0) {
      this.#nodes.delete(n.id);
      if (n.path !== undefined && this.#byPath.get(n.path) === n) this.#byPath.delete(n.path);
      if (this.#byKey.get(n.key) === n) this.#byKey.delete(n.key);
    }
  }

  /**
   * The name at `path` is gone: nodes at it and below it lose their paths,
   * and their identities (an inode number the host may give a new file).
   */
  #gone(path: string): void {
    const prefix = path + "/";
    for (const [p, n] of this.#byPath) {
      if (p === path || p.startsWith(prefix)) {
        n.path = undefined;
        this.#byPath.delete(p);
        if (this.#byKey.get(n.key) === n) this.#byKey.delete(n.key);
      }
    }
  }

  /** `from` was renamed to `to`: nodes at and below `from` move. */
  #moved(from: string, to: string): void {
    const prefix = from + "/";
    const moving: Node[] = [];
    for (const [p, n] of this.#byPath) {
      if (p === from || p.startsWith(prefix)) moving.push(n);
    }
    for (const n of moving) this.#byPath.delete(n.path ?? "");
    for (const n of moving) {
      n.path = to + (n.path ?? "").slice(from.length);
      this.#byPath.set(n.path, n);
    }
  }

  #forget(nodeid: number): void {
    if (this.#len < HDR + FuseForgetIn.SIZE) return;
    const n = this.#nodes.get(nodeid);
    const count = this.#in.forget.at(HDR).nlookup;
    if (n !== undefined) this.#unref(n, count > 0xffffffffn ? 2 ** 32 : Number(count));
  }

  #batchForget(): void {
    if (this.#len < HDR + FuseBatchForgetIn.SIZE) return;
    const count = this.#in.batch.at(HDR).count;
    const base = HDR + FuseBatchForgetIn.SIZE;
    const fits = Math.min(count, Math.floor((this.#len - base) / FuseForgetOne.SIZE));
    const one = this.#in.one;
    for (let i = 0; i < fits; i++) {
      one.at(base + i * FuseForgetOne.SIZE);
      const n = this.#nodes.get(one.nodeid);
      const c = one.nlookup;
      if (n !== undefined) this.#unref(n, c > 0xffffffffn ? 2 ** 32 : Number(c));
    }
  }

  // -------------------------------------------------------------------------
  // Replies

  #fillAttr(a: FuseAttr, st: FsStat): void {
    a.ino = BigInt(st.ino);
    a.fileSize = st.size;
    a.blocks = st.blocks;
    a.atime = BigInt(st.atimeSec);
    a.mtime = BigInt(st.mtimeSec);
    a.ctime = BigInt(st.ctimeSec);
    a.atimensec = st.atimeNsec;
    a.mtimensec = st.mtimeNsec;
    a.ctimensec = st.ctimeNsec;
    a.mode = st.mode;
    a.nlink = st.nlink;
    a.uid = st.uid;
    a.gid = st.gid;
    a.rdev = st.rdev;
    a.blksize = st.blksize;
    a.flags = 0;
  }

  /** Writes a fuse_entry_out for `node` with `st` at reply offset `at`. */
  #fillEntry(at: number, node: Node | undefined, st: FsStat): void {
    const e = this.#o.entry.at(at);
    e.nodeid = node?.id ?? 0;
    e.generation = 0n;
    e.entryValid = BigInt(this.#cache);
    e.attrValid = BigInt(this.#cache);
    e.entryValidNsec = 0;
    e.attrValidNsec = 0;
    this.#fillAttr(e.attr, st);
  }

  /** LOOKUP-like reply: stat `path`, take a reference, fill fuse_entry_out. */
  #entry(path: string): number {
    this.#ensureOut(FuseEntryOut.SIZE);
    const st = this.fs.stat(path);
    this.#fillEntry(OUT, this.#ref(path, st), st);
    return FuseEntryOut.SIZE;
  }

  #attrOut(st: FsStat): number {
    this.#ensureOut(FuseAttrOut.SIZE);
    const a = this.#o.attrOut.at(OUT);
    a.attrValid = BigInt(this.#cache);
    a.attrValidNsec = 0;
    a.dummy = 0;
    this.#fillAttr(a.attr, st);
    return FuseAttrOut.SIZE;
  }

  #newHandle(node: Node, file: FsHandle | undefined, entries: Handle["entries"]): number {
    if (this.#handles.size >= this.#maxHandles) {
      file?.close();
      throw fsError("EMFILE", `more than ${this.#maxHandles} open handles`);
    }
    const fh = this.#nextFh++;
    this.#handles.set(fh, { node, file, entries });
    return fh;
  }

  #openOut(at: number, fh: number): void {
    const o = this.#o.open.at(at);
    o.fh = fh;
    o.openFlags = 0;
    o.padding = 0;
  }

  // -------------------------------------------------------------------------
  // Operations

  /** Returns the payload length, or -1 for an opcode the server does not know (ENOSYS). */
  #dispatch(opcode: number, nodeid: number): number {
    this.#pos = HDR;
    switch (opcode) {
      case FUSE_INIT:
        return this.#init();
      case FUSE_DESTROY:
        this.reset();
        return 0;
      case FUSE_LOOKUP: {
        const dir = this.#path(nodeid);
        return this.#entry(childPath(dir, this.#name()));
      }
      case FUSE_GETATTR: {
        let st: FsStat | undefined;
        if (this.#len >= HDR + FuseGetattrIn.SIZE) {
          const g = this.#in.getattr.at(this.#args(FuseGetattrIn.SIZE));
          if ((g.getattrFlags & FUSE_GETATTR_FH) !== 0) {
            const hd = this.#handles.get(g.fh);
            if (hd?.file !== undefined && hd.node.id === nodeid) st = hd.file.stat();
          }
        }
        return this.#attrOut(st ?? this.fs.stat(this.#path(nodeid)));
      }
      case FUSE_SETATTR:
        return this.#setattr(nodeid);
      case FUSE_READLINK: {
        const target = encoder.encode(this.fs.readlink(this.#path(nodeid)));
        this.#ensureOut(target.length);
        this.#out.set(target, OUT);
        return target.length;
      }
      case FUSE_SYMLINK: {
        const dir = this.#path(nodeid);
        const name = this.#name();
        const target = this.#string();
        if (target === "" || target.length > 4095) throw fsError("EINVAL", "link target");
        const path = childPath(dir, name);
        this.fs.symlink(target, path);
        return this.#entry(path);
      }
      case FUSE_MKNOD: {
        const m = this.#in.mknod.at(this.#args(FuseMknodIn.SIZE));
        const mode = m.mode;
        const rdev = m.rdev;
        const path = childPath(this.#path(nodeid), this.#name());
        this.fs.mknod(path, mode, rdev);
        return this.#entry(path);
      }
      case FUSE_MKDIR: {
        const m = this.#in.mkdir.at(this.#args(FuseMkdirIn.SIZE));
        const mode = m.mode;
        const path = childPath(this.#path(nodeid), this.#name());
        this.fs.mkdir(path, mode);
        return this.#entry(path);
      }
      case FUSE_UNLINK:
      case FUSE_RMDIR: {
        const path = childPath(this.#path(nodeid), this.#name());
        if (opcode === FUSE_UNLINK) this.fs.unlink(path);
        else this.fs.rmdir(path);
        this.#gone(path);
        return 0;
      }
      case FUSE_RENAME:
      case FUSE_RENAME2: {
        let newdir: number;
        let flags = 0;
        if (opcode === FUSE_RENAME) {
          newdir = this.#in.rename.at(this.#args(FuseRenameIn.SIZE)).newdir;
        } else {
          const r = this.#in.rename2.at(this.#args(FuseRename2In.SIZE));
          newdir = r.newdir;
          flags = r.flags;
        }
        const from = childPath(this.#path(nodeid), this.#name());
        const to = childPath(this.#path(newdir), this.#name());
        this.fs.rename(from, to, flags);
        // Two names of one file: rename(2) leaves both, and so do our nodes.
        if (from !== to && !this.#exists(from)) {
          this.#gone(to);
          this.#moved(from, to);
        }
        return 0;
      }
      case FUSE_LINK: {
        const old = this.#path(this.#in.link.at(this.#args(FuseLinkIn.SIZE)).oldnodeid);
        const path = childPath(this.#path(nodeid), this.#name());
        this.fs.link(old, path);
        return this.#entry(path);
      }
      case FUSE_OPEN:
      case FUSE_OPENDIR: {
        const flags = this.#in.open.at(this.#args(FuseOpenIn.SIZE)).flags;
        const node = this.#node(nodeid);
        const path = this.#path(nodeid);
        this.#ensureOut(FuseOpenOut.SIZE);
        let fh: number;
        if (opcode === FUSE_OPENDIR) {
          if ((this.fs.stat(path).mode & S_IFMT) !== S_IFDIR) throw fsError("ENOTDIR", path);
          fh = this.#newHandle(node, undefined, this.fs.readdir(path));
        } else {
          const clean = flags & ~(OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_EXCL);
          fh = this.#newHandle(node, this.fs.open(path, clean), undefined);
        }
        this.#openOut(OUT, fh);
        return FuseOpenOut.SIZE;
      }
      case FUSE_CREATE: {
        const c = this.#in.create.at(this.#args(FuseCreateIn.SIZE));
        const flags = c.flags;
        const mode = c.mode;
        const path = childPath(this.#path(nodeid), this.#name());
        this.#ensureOut(FuseEntryOut.SIZE + FuseOpenOut.SIZE);
        if (this.#handles.size >= this.#maxHandles) throw fsError("EMFILE", "too many handles");
        const file = this.fs.create(path, flags, mode);
        let node: Node;
        try {
          const st = file.stat();
          node = this.#ref(path, st);
          this.#fillEntry(OUT, node, st);
        } catch (e) {
          file.close();
          throw e;
        }
        this.#openOut(OUT + FuseEntryOut.SIZE, this.#newHandle(node, file, undefined));
        return FuseEntryOut.SIZE + FuseOpenOut.SIZE;
      }
      case FUSE_READ: {
        const r = this.#in.read.at(this.#args(FuseReadIn.SIZE));
        const fh = r.fh;
        const offset = this.#offset(r.readOffset);
        const size = Math.min(r.readSize, this.#cap - OUT);
        const file = this.#file(fh);
        const buf = this.#out.subarray(OUT, OUT + size);
        let got = 0;
        while (got < size) {
          const n = file.read(buf.subarray(got), offset + got);
          if (n <= 0) break;
          got += n;
        }
        return got;
      }
      case FUSE_WRITE: {
        const w = this.#in.write.at(this.#args(FuseWriteIn.SIZE));
        const fh = w.fh;
        const offset = this.#offset(w.writeOffset);
        const size = w.writeSize;
        if (size > this.#len - this.#pos) throw fsError("EINVAL", "WRITE size past the request");
        if (!Number.isSafeInteger(offset + size)) throw fsError("EFBIG", "write past 2^53");
        this.#ensureOut(FuseWriteOut.SIZE);
        const file = this.#file(fh);
        const data = this.#req.subarray(this.#pos, this.#pos + size);
        let done = 0;
        while (done < size) {
          const n = file.write(data.subarray(done), offset + done);
          if (n <= 0) break;
          done += n;
        }
        const o = this.#o.write.at(OUT);
        o.written = done;
        o.padding = 0;
        return FuseWriteOut.SIZE;
      }
      case FUSE_STATFS: {
        this.#ensureOut(FuseStatfsOut.SIZE);
        const s = this.fs.statfs();
        const k = this.#o.statfs.at(OUT).st;
        k.blocks = BigInt(s.blocks);
        k.bfree = BigInt(s.bfree);
        k.bavail = BigInt(s.bavail);
        k.files = BigInt(s.files);
        k.ffree = BigInt(s.ffree);
        k.bsize = s.bsize;
        k.namelen = s.namelen;
        k.frsize = s.frsize;
        k.padding = 0;
        for (let i = 0; i < 6; i++) k.setSpare(i, 0);
        return FuseStatfsOut.SIZE;
      }
      case FUSE_RELEASE:
      case FUSE_RELEASEDIR: {
        const fh = this.#in.release.at(this.#args(FuseReleaseIn.SIZE)).fh;
        const hd = this.#handle(fh);
        this.#handles.delete(fh);
        hd.file?.close();
        return 0;
      }
      case FUSE_FLUSH:
        return 0;
      case FUSE_FSYNC:
      case FUSE_FSYNCDIR: {
        const f = this.#in.fsync.at(this.#args(FuseFsyncIn.SIZE));
        const hd = this.#handle(f.fh);
        hd.file?.sync((f.fsyncFlags & FUSE_FSYNC_FDATASYNC) !== 0);
        return 0;
      }
      case FUSE_READDIR:
      case FUSE_READDIRPLUS:
        return this.#readdir(opcode === FUSE_READDIRPLUS);
      case FUSE_GETXATTR:
      case FUSE_LISTXATTR: {
        const size = this.#in.getxattr.at(this.#args(FuseGetxattrIn.SIZE)).bufferSize;
        const path = this.#path(nodeid);
        let value: Uint8Array;
        if (opcode === FUSE_GETXATTR) {
          value = this.fs.getxattr(path, this.#string());
        } else {
          const names = this.fs.listxattr(path);
          value = encoder.encode(names.map((n) => n + "\0").join(""));
        }
        if (size === 0) {
          this.#ensureOut(FuseGetxattrOut.SIZE);
          const o = this.#o.xattr.at(OUT);
          o.valueSize = value.length;
          o.padding = 0;
          return FuseGetxattrOut.SIZE;
        }
        if (value.length > size) throw fsError("ERANGE", "attribute larger than the buffer");
        this.#ensureOut(value.length);
        this.#out.set(value, OUT);
        return value.length;
      }
      case FUSE_SETXATTR: {
        const s = this.#in.setxattr.at(this.#args(FuseSetxattrIn.SIZE));
        const size = s.valueSize;
        const flags = s.flags;
        const path = this.#path(nodeid);
        const name = this.#string();
        if (size > this.#len - this.#pos || size > 65536) throw fsError("E2BIG", "attribute value");
        this.fs.setxattr(path, name, this.#req.slice(this.#pos, this.#pos + size), flags);
        return 0;
      }
      case FUSE_REMOVEXATTR: {
        const path = this.#path(nodeid);
        this.fs.removexattr(path, this.#string());
        return 0;
      }
      case FUSE_FALLOCATE: {
        const f = this.#in.fallocate.at(this.#args(FuseFallocateIn.SIZE));
        const file = this.#file(f.fh);
        const offset = this.#offset(f.fallocOffset);
        const length = this.#offset(f.length);
        file.allocate(offset, length, f.mode);
        return 0;
      }
      case FUSE_LSEEK: {
        const l = this.#in.lseek.at(this.#args(FuseLseekIn.SIZE));
        const file = this.#file(l.fh);
        const at = file.seek(this.#offset(l.seekOffset), l.whence);
        this.#ensureOut(FuseLseekOut.SIZE);
        this.#o.lseek.at(OUT).seekOffset = at;
        return FuseLseekOut.SIZE;
      }
      default:
        return -1;
    }
  }

  #init(): number {
    const i = this.#in.init.at(this.#args(FuseInitIn.SIZE));
    const major = i.major;
    const minor = i.minor;
    const maxReadahead = i.maxReadahead;
    const flags = i.flags;
    this.#ensureOut(FuseInitOut.SIZE);
    const o = this.#o.init.at(OUT);
    this.#out.fill(0, OUT, OUT + FuseInitOut.SIZE);
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

  #setattr(nodeid: number): number {
    const s = this.#in.setattr.at(this.#args(FuseSetattrIn.SIZE));
    const valid = s.valid;
    const attr: FsSetAttr = {};
    if ((valid & FATTR_MODE) !== 0) attr.mode = s.mode;
    if ((valid & FATTR_UID) !== 0) attr.uid = s.uid;
    if ((valid & FATTR_GID) !== 0) attr.gid = s.gid;
    if ((valid & FATTR_SIZE) !== 0) attr.size = this.#offset(s.fileSize);
    if ((valid & FATTR_ATIME_NOW) !== 0) attr.atimeNs = "now";
    else if ((valid & FATTR_ATIME) !== 0) {
      attr.atimeNs = BigInt(this.#offset(s.atime)) * 1_000_000_000n + BigInt(s.atimensec % 1e9);
    }
    if ((valid & FATTR_MTIME_NOW) !== 0) attr.mtimeNs = "now";
    else if ((valid & FATTR_MTIME) !== 0) {
      attr.mtimeNs = BigInt(this.#offset(s.mtime)) * 1_000_000_000n + BigInt(s.mtimensec % 1e9);
    }
    let file: FsHandle | undefined;
    if ((valid & FATTR_FH) !== 0) {
      const hd = this.#handles.get(s.fh);
      if (hd?.file !== undefined && hd.node.id === nodeid) file = hd.file;
    }
    if (file !== undefined) {
      file.setattr(attr);
      return this.#attrOut(file.stat());
    }
    const path = this.#path(nodeid);
    this.fs.setattr(path, attr);
    return this.#attrOut(this.fs.stat(path));
  }

  #readdir(plus: boolean): number {
    const r = this.#in.read.at(this.#args(FuseReadIn.SIZE));
    const hd = this.#handle(r.fh);
    if (hd.entries === undefined) throw fsError("ENOTDIR", "READDIR on a file handle");
    const dir = hd.node.path;
    if (dir === undefined) return 0; // the directory was removed: it has no entries left
    const start = r.readOffset;
    // Offset 0 starts a new listing (rewinddir(3)): see what is there now.
    if (start === 0) hd.entries = this.fs.readdir(dir);
    const entries = hd.entries;
    const limit = OUT + Math.min(r.readSize, this.#cap - OUT);
    let pos = OUT;
    const total = entries.length + 2;
    for (let idx = Number.isSafeInteger(start) ? start : total; idx < total; idx++) {
      const name = idx === 0 ? "." : idx === 1 ? ".." : entries[idx - 2].name;
      const fixed = plus ? FuseDirentplus.SIZE : FuseDirent.SIZE;
      const nameAt = pos + fixed;
      if (nameAt >= limit) break;
      const { read, written } = encoder.encodeInto(name, this.#out.subarray(nameAt, limit));
      if (read < name.length) break;
      const size = (fixed + written + 7) & ~7;
      if (pos + size > limit) break;
      let st: FsStat;
      let node: Node | undefined;
      try {
        st = this.fs.stat(idx < 2 ? dir : childPath(dir, name));
      } catch {
        continue; // removed since OPENDIR
      }
      const d = plus ? this.#o.direntplus.at(pos).dirent : this.#o.dirent.at(pos);
      if (plus) {
        // . and .. get node id 0: the driver takes no reference for them.
        if (idx >= 2) node = this.#ref(childPath(dir, name), st);
        this.#fillEntry(pos, node, st);
      }
      d.ino = BigInt(st.ino);
      d.off = BigInt(idx + 1);
      d.namelen = written;
      d.type = (st.mode & S_IFMT) >>> 12;
      this.#out.fill(0, nameAt + written, pos + size);
      pos += size;
    }
    return pos - OUT;
  }
}
