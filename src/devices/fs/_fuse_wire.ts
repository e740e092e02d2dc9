/**
 * The FUSE server's side of the wire: {@link FuseRequest} reads a request
 * from the server's own copy of it, {@link FuseReply} writes the reply.
 * Both go through the generated `fuse_*` accessors, made once and
 * re-targeted per request; both buffers grow to the largest message seen.
 *
 * The request is guest input: every argument read is checked against the
 * bytes that arrived, and a short or malformed one is an EINVAL `FsError`.
 * A reply that does not fit the chain's writable part is an EINVAL one too.
 *
 * @module
 */

import {
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
import { fsError, type FsStat } from "./filesystem.ts";

/** Bytes of fuse_in_header: a request's arguments start here. */
export const HDR: number = FuseInHeader.SIZE;
/** Bytes of fuse_out_header: a reply's payload starts here. */
export const OUT: number = FuseOutHeader.SIZE;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A buffer size for `n` bytes: a power of two, 4 KiB at least. */
function bufferSize(n: number): number {
  return Math.max(4096, 2 ** Math.ceil(Math.log2(n)));
}

/** An offset or size from a request, checked to be an exact number (EFBIG past 2^53). */
export function safeOffset(v: number): number {
  if (!Number.isSafeInteger(v)) throw fsError("EFBIG", "offset past 2^53");
  return v;
}

/** The request being served: its bytes, its length, and where its arguments are read next. */
export class FuseRequest {
  /** The request's bytes: the server's own copy, reused. */
  bytes: Uint8Array = new Uint8Array(0);
  #view = new DataView(this.bytes.buffer);
  /** fuse_in_header, at 0. */
  readonly hdr: FuseInHeader = new FuseInHeader(this.#view);
  /** One accessor per argument layout. */
  readonly in = {
    init: new FuseInitIn(this.#view),
    forget: new FuseForgetIn(this.#view),
    batch: new FuseBatchForgetIn(this.#view),
    one: new FuseForgetOne(this.#view),
    getattr: new FuseGetattrIn(this.#view),
    setattr: new FuseSetattrIn(this.#view),
    open: new FuseOpenIn(this.#view),
    create: new FuseCreateIn(this.#view),
    mknod: new FuseMknodIn(this.#view),
    mkdir: new FuseMkdirIn(this.#view),
    read: new FuseReadIn(this.#view),
    write: new FuseWriteIn(this.#view),
    release: new FuseReleaseIn(this.#view),
    fsync: new FuseFsyncIn(this.#view),
    rename: new FuseRenameIn(this.#view),
    rename2: new FuseRename2In(this.#view),
    link: new FuseLinkIn(this.#view),
    getxattr: new FuseGetxattrIn(this.#view),
    setxattr: new FuseSetxattrIn(this.#view),
    fallocate: new FuseFallocateIn(this.#view),
    lseek: new FuseLseekIn(this.#view),
  };
  /** The bytes that arrived. */
  len = 0;
  /** The next byte to read. */
  pos = 0;

  /** Makes room for a request of `len` bytes. */
  grow(len: number): void {
    if (this.bytes.length >= len) return;
    this.bytes = new Uint8Array(bufferSize(len));
    this.#view = new DataView(this.bytes.buffer);
    this.hdr.view = this.#view;
    for (const a of Object.values(this.in)) a.view = this.#view;
  }

  /** Checks that `size` argument bytes follow the header; returns their offset. */
  args(size: number): number {
    if (this.len < HDR + size) throw fsError("EINVAL", "request shorter than its arguments");
    this.pos = HDR + size;
    return HDR;
  }

  /** The next NUL-terminated string of the request (UTF-8). */
  string(): string {
    const start = this.pos;
    const end = this.bytes.subarray(start, this.len).indexOf(0);
    if (end < 0) throw fsError("EINVAL", "name without a terminating NUL");
    this.pos = start + end + 1;
    try {
      return decoder.decode(this.bytes.subarray(start, start + end));
    } catch {
      throw fsError("EINVAL", "name is not UTF-8");
    }
  }
}

/** The reply being built: its bytes, the room it has, and the writers of its shared parts. */
export class FuseReply {
  /** The reply's bytes, reused. */
  bytes: Uint8Array = new Uint8Array(0);
  #view = new DataView(this.bytes.buffer);
  readonly #hdr: FuseOutHeader = new FuseOutHeader(this.#view);
  /** One accessor per reply layout (nested ones are rebuilt when the buffer grows). */
  readonly o = {
    init: new FuseInitOut(this.#view),
    entry: new FuseEntryOut(this.#view),
    attrOut: new FuseAttrOut(this.#view),
    open: new FuseOpenOut(this.#view),
    write: new FuseWriteOut(this.#view),
    statfs: new FuseStatfsOut(this.#view),
    xattr: new FuseGetxattrOut(this.#view),
    lseek: new FuseLseekOut(this.#view),
    dirent: new FuseDirent(this.#view),
    direntplus: new FuseDirentplus(this.#view),
  };
  /** Bytes this reply may take (the chain's writable length, at most the server's largest reply). */
  cap = 0;
  readonly #cache: number;

  /** A reply that lets the guest cache names and attributes for `cacheSeconds`. */
  constructor(cacheSeconds: number) {
    this.#cache = cacheSeconds;
  }

  /** Makes room for a reply of `len` bytes. */
  grow(len: number): void {
    if (this.bytes.length >= len) return;
    this.bytes = new Uint8Array(bufferSize(len));
    this.#view = new DataView(this.bytes.buffer);
    this.#hdr.view = this.#view;
    for (const a of Object.values(this.o)) {
      a.view = this.#view;
    }
    // Nested accessors cache a child over the old view: rebuild those.
    this.o.entry = new FuseEntryOut(this.#view);
    this.o.attrOut = new FuseAttrOut(this.#view);
    this.o.statfs = new FuseStatfsOut(this.#view);
    this.o.direntplus = new FuseDirentplus(this.#view);
  }

  /** Checks that a payload of `n` bytes fits; an `FsError` (EINVAL) when not. */
  ensure(n: number): void {
    if (OUT + n > this.cap) throw fsError("EINVAL", "the reply buffer is too small");
  }

  /** Writes fuse_out_header for request `unique`: `-errno`, or success with `payload` bytes. Returns the reply's length. */
  finish(unique: bigint, errno: number, payload: number): number {
    const out = this.#hdr.at(0);
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

  /** Writes a fuse_entry_out for node `nodeid` (0: none) with `st` at offset `at`. */
  fillEntry(at: number, nodeid: number, st: FsStat): void {
    const e = this.o.entry.at(at);
    e.nodeid = nodeid;
    e.generation = 0n;
    e.entryValid = BigInt(this.#cache);
    e.attrValid = BigInt(this.#cache);
    e.entryValidNsec = 0;
    e.attrValidNsec = 0;
    this.#fillAttr(e.attr, st);
  }

  /** Writes a fuse_attr_out with `st`; returns its size. */
  attrOut(st: FsStat): number {
    this.ensure(FuseAttrOut.SIZE);
    const a = this.o.attrOut.at(OUT);
    a.attrValid = BigInt(this.#cache);
    a.attrValidNsec = 0;
    a.dummy = 0;
    this.#fillAttr(a.attr, st);
    return FuseAttrOut.SIZE;
  }

  /** Writes a fuse_open_out for file handle `fh` at offset `at`. */
  openOut(at: number, fh: number): void {
    const o = this.o.open.at(at);
    o.fh = fh;
    o.openFlags = 0;
    o.padding = 0;
  }
}
