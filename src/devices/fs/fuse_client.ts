/**
 * The driver side of FUSE: builds requests, checks replies, and offers a
 * small file system API (`readFile`, `writeFile`, `readdir`, `mkdir`,
 * `unlink`, `rmdir`, `rename`, `stat`) over any way of sending a request and
 * getting its reply, a virtqueue in `driver.ts` or a {@link FuseServer}
 * directly in tests.
 *
 * A reply is not trusted: its header must carry the request's `unique`, a
 * length no longer than what arrived, and an error that is 0 or a negative
 * errno; a malformed reply fails with `ERR_VIRTIO_DEVICE_FS_BAD_REPLY`.
 *
 * @example Against a server in memory
 * ```ts
 * import { FuseClient } from "./fuse_client.ts";
 * import { FuseServer } from "./fuse_server.ts";
 * import { MemoryFileSystem } from "./memory_fs.ts";
 *
 * const server = new FuseServer(new MemoryFileSystem());
 * const client = new FuseClient((req, cap) => {
 *   server.request(req.length).set(req);
 *   const n = server.handle(req.length, cap);
 *   return Promise.resolve(server.reply.slice(0, n));
 * });
 * await client.init();
 * await client.mkdir("docs");
 * await client.writeFile("docs/a.txt", new TextEncoder().encode("hi"));
 * const text = new TextDecoder().decode(await client.readFile("docs/a.txt"));
 * if (text !== "hi" || (await client.readdir("docs"))[0] !== "a.txt") throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import {
  FATTR_SIZE,
  FUSE_BATCH_FORGET,
  FUSE_CREATE,
  FUSE_DO_READDIRPLUS,
  FUSE_FORGET,
  FUSE_GETATTR,
  FUSE_INIT,
  FUSE_KERNEL_VERSION,
  FUSE_LOOKUP,
  FUSE_MAX_PAGES,
  FUSE_MKDIR,
  FUSE_OPEN,
  FUSE_OPENDIR,
  FUSE_READ,
  FUSE_READDIR,
  FUSE_RELEASE,
  FUSE_RELEASEDIR,
  FUSE_RENAME,
  FUSE_RMDIR,
  FUSE_ROOT_ID,
  FUSE_SETATTR,
  FUSE_UNLINK,
  FUSE_WRITE,
  type FuseAttr,
  FuseAttrOut,
  FuseCreateIn,
  FuseDirent,
  FuseEntryOut,
  FuseForgetIn,
  FuseGetattrIn,
  FuseInHeader,
  FuseInitIn,
  FuseInitOut,
  FuseMkdirIn,
  FuseOpenIn,
  FuseOpenOut,
  FuseOutHeader,
  FuseReadIn,
  FuseReleaseIn,
  FuseRenameIn,
  FuseSetattrIn,
  FuseWriteIn,
  FuseWriteOut,
} from "../../generated/devices/fs.ts";
import { FsError, OPEN_FLAGS } from "./filesystem.ts";

/** Sends one request and resolves with the reply bytes (at most `replyCap`); FORGET gets `replyCap` 0. */
export type FuseTransport = (request: Uint8Array, replyCap: number) => Promise<Uint8Array>;

/** What {@link FuseClient.stat} returns. */
export interface FuseStat {
  /** Inode number. */
  readonly ino: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** Type and permission bits. */
  readonly mode: number;
  /** Hard links. */
  readonly nlink: number;
  /** Modification time, seconds. */
  readonly mtime: bigint;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const HDR = FuseInHeader.SIZE;
const OUT = FuseOutHeader.SIZE;

/** A FUSE client. */
export class FuseClient {
  readonly #send: FuseTransport;
  #unique = 0n;
  #maxIo = 4096;
  /** Flags the device accepted at INIT. */
  get flags(): number {
    return this.#flags;
  }
  #flags = 0;
  /** Minor version agreed at INIT. */
  get minor(): number {
    return this.#minor;
  }
  #minor = 0;

  /** A client that sends through `send`. */
  constructor(send: FuseTransport) {
    this.#send = send;
  }

  /** Largest READ/WRITE payload agreed at INIT. */
  get maxIo(): number {
    return this.#maxIo;
  }

  /**
   * Sends a request with `argLen` argument bytes written by `args` into a
   * fresh buffer; returns the reply payload. Throws {@link FsError} for an
   * error reply.
   */
  async call(
    opcode: number,
    nodeid: number,
    argLen: number,
    args: (v: DataView, at: number, bytes: Uint8Array) => void,
    replyCap: number,
  ): Promise<Uint8Array> {
    const req = new Uint8Array(HDR + argLen);
    const v = new DataView(req.buffer);
    const h = new FuseInHeader(v);
    const unique = (this.#unique += 2n);
    h.len = req.length;
    h.opcode = opcode;
    h.unique = unique;
    h.nodeid = nodeid;
    args(v, HDR, req);
    const noReply = opcode === FUSE_FORGET || opcode === FUSE_BATCH_FORGET;
    const reply = await this.#send(req, noReply ? 0 : OUT + replyCap);
    if (noReply) return reply;
    if (reply.length < OUT) throw badReply(`reply of ${reply.length} bytes`);
    const o = new FuseOutHeader(new DataView(reply.buffer, reply.byteOffset, reply.length));
    const len = o.len;
    const error = o.error | 0;
    if (o.unique !== unique) throw badReply(`reply for request ${o.unique}, not ${unique}`);
    if (len < OUT || len > reply.length) throw badReply(`reply length ${len}`);
    if (error > 0 || error < -4095) throw badReply(`error ${error}`);
    if (error !== 0) throw new FsError(-error, `opcode ${opcode}: errno ${-error}`);
    return reply.subarray(OUT, len);
  }

  /** FUSE_INIT: version 7.31, offering READDIRPLUS and MAX_PAGES. */
  async init(): Promise<void> {
    const r = await this.call(FUSE_INIT, 0, FuseInitIn.SIZE, (v, at) => {
      const i = new FuseInitIn(v, at);
      i.major = FUSE_KERNEL_VERSION;
      i.minor = 31;
      i.maxReadahead = 1 << 17;
      i.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES;
    }, FuseInitOut.SIZE);
    if (r.length < FuseInitOut.SIZE) throw badReply("short INIT reply");
    const o = new FuseInitOut(view(r));
    if (o.major !== FUSE_KERNEL_VERSION) throw badReply(`FUSE major ${o.major}`);
    this.#minor = o.minor;
    this.#flags = o.flags;
    this.#maxIo = Math.max(4096, Math.min(o.maxWrite, 1 << 20));
  }

  /** LOOKUP `name` in `parent`: the node id and its attributes. */
  async lookup(parent: number, name: string): Promise<{ nodeid: number; stat: FuseStat }> {
    const n = enc.encode(name + "\0");
    const r = await this.call(
      FUSE_LOOKUP,
      parent,
      n.length,
      (_v, at, b) => b.set(n, at),
      FuseEntryOut.SIZE,
    );
    return entryOf(r);
  }

  /** FORGET `count` lookups of `nodeid` (no reply). */
  async forget(nodeid: number, count = 1): Promise<void> {
    await this.call(FUSE_FORGET, nodeid, FuseForgetIn.SIZE, (v, at) => {
      new FuseForgetIn(v, at).nlookup = BigInt(count);
    }, 0);
  }

  /** Resolves a relative path (`a/b`) to a node id, one LOOKUP per component; forgets the ones on the way. */
  async resolve(path: string): Promise<number> {
    let id = FUSE_ROOT_ID;
    for (const part of path.split("/").filter((p) => p !== "")) {
      const next = (await this.lookup(id, part)).nodeid;
      if (id !== FUSE_ROOT_ID) await this.forget(id);
      id = next;
    }
    return id;
  }

  async #parent(path: string): Promise<{ dir: number; name: string }> {
    const parts = path.split("/").filter((p) => p !== "");
    const name = parts.pop();
    if (name === undefined) throw new FsError(22, `${path} has no last component`);
    return { dir: await this.resolve(parts.join("/")), name };
  }

  async #done(id: number): Promise<void> {
    if (id !== FUSE_ROOT_ID) await this.forget(id);
  }

  /** GETATTR of `path`. */
  async stat(path: string): Promise<FuseStat> {
    const id = await this.resolve(path);
    try {
      const r = await this.call(FUSE_GETATTR, id, FuseGetattrIn.SIZE, () => {}, FuseAttrOut.SIZE);
      if (r.length < FuseAttrOut.SIZE) throw badReply("short GETATTR reply");
      return statOf(new FuseAttrOut(view(r)).attr);
    } finally {
      await this.#done(id);
    }
  }

  /** MKDIR `path` with `mode`. */
  async mkdir(path: string, mode = 0o755): Promise<void> {
    const { dir, name } = await this.#parent(path);
    const n = enc.encode(name + "\0");
    try {
      const r = await this.call(FUSE_MKDIR, dir, FuseMkdirIn.SIZE + n.length, (v, at, b) => {
        const m = new FuseMkdirIn(v, at);
        m.mode = mode;
        m.umask = 0;
        b.set(n, at + FuseMkdirIn.SIZE);
      }, FuseEntryOut.SIZE);
      await this.forget(entryOf(r).nodeid);
    } finally {
      await this.#done(dir);
    }
  }

  /** UNLINK `path`. */
  async unlink(path: string): Promise<void> {
    await this.#remove(FUSE_UNLINK, path);
  }

  /** RMDIR `path`. */
  async rmdir(path: string): Promise<void> {
    await this.#remove(FUSE_RMDIR, path);
  }

  async #remove(opcode: number, path: string): Promise<void> {
    const { dir, name } = await this.#parent(path);
    const n = enc.encode(name + "\0");
    try {
      await this.call(opcode, dir, n.length, (_v, at, b) => b.set(n, at), 0);
    } finally {
      await this.#done(dir);
    }
  }

  /** RENAME `from` to `to`. */
  async rename(from: string, to: string): Promise<void> {
    const a = await this.#parent(from);
    const b = await this.#parent(to);
    const na = enc.encode(a.name + "\0");
    const nb = enc.encode(b.name + "\0");
    try {
      await this.call(
        FUSE_RENAME,
        a.dir,
        FuseRenameIn.SIZE + na.length + nb.length,
        (v, at, bytes) => {
          new FuseRenameIn(v, at).newdir = b.dir;
          bytes.set(na, at + FuseRenameIn.SIZE);
          bytes.set(nb, at + FuseRenameIn.SIZE + na.length);
        },
        0,
      );
    } finally {
      await this.#done(a.dir);
      await this.#done(b.dir);
    }
  }

  /** The names in directory `path` (without `.` and `..`), through OPENDIR/READDIR/RELEASEDIR. */
  async readdir(path: string): Promise<string[]> {
    const id = await this.resolve(path);
    const names: string[] = [];
    try {
      const fh = await this.#open(FUSE_OPENDIR, id, OPEN_FLAGS.O_RDONLY);
      try {
        let offset = 0n;
        for (;;) {
          const r = await this.#read(FUSE_READDIR, id, fh, Number(offset), 8192);
          if (r.length === 0) break;
          const v = view(r);
          const d = new FuseDirent(v);
          let pos = 0;
          while (pos + FuseDirent.SIZE <= r.length) {
            d.at(pos);
            const nameLen = d.namelen;
            const size = (FuseDirent.SIZE + nameLen + 7) & ~7;
            if (nameLen === 0 || pos + FuseDirent.SIZE + nameLen > r.length) {
              throw badReply("dirent past the reply");
            }
            const name = dec.decode(
              r.subarray(pos + FuseDirent.SIZE, pos + FuseDirent.SIZE + nameLen),
            );
            if (name !== "." && name !== "..") names.push(name);
            if (d.off <= offset) throw badReply("READDIR offsets do not advance");
            offset = d.off;
            pos += size;
          }
        }
      } finally {
        await this.#release(FUSE_RELEASEDIR, id, fh);
      }
    } finally {
      await this.#done(id);
    }
    return names;
  }

  async #open(opcode: number, id: number, flags: number): Promise<number> {
    const r = await this.call(opcode, id, FuseOpenIn.SIZE, (v, at) => {
      new FuseOpenIn(v, at).flags = flags;
    }, FuseOpenOut.SIZE);
    if (r.length < FuseOpenOut.SIZE) throw badReply("short OPEN reply");
    return new FuseOpenOut(view(r)).fh;
  }

  async #release(opcode: number, id: number, fh: number): Promise<void> {
    await this.call(opcode, id, FuseReleaseIn.SIZE, (v, at) => {
      new FuseReleaseIn(v, at).fh = fh;
    }, 0);
  }

  #read(opcode: number, id: number, fh: number, offset: number, size: number): Promise<Uint8Array> {
    return this.call(opcode, id, FuseReadIn.SIZE, (v, at) => {
      const r = new FuseReadIn(v, at);
      r.fh = fh;
      r.readOffset = offset;
      r.readSize = size;
    }, size);
  }

  /** The whole content of file `path` (OPEN, READ until a short read, RELEASE). */
  async readFile(path: string): Promise<Uint8Array> {
    const id = await this.resolve(path);
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      const fh = await this.#open(FUSE_OPEN, id, OPEN_FLAGS.O_RDONLY);
      try {
        for (;;) {
          const r = await this.#read(FUSE_READ, id, fh, total, this.#maxIo);
          if (r.length > this.#maxIo) throw badReply("READ reply longer than asked");
          if (r.length === 0) break;
          chunks.push(r.slice());
          total += r.length;
        }
      } finally {
        await this.#release(FUSE_RELEASE, id, fh);
      }
    } finally {
      await this.#done(id);
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  /** Creates or replaces file `path` with `data` (CREATE or OPEN+truncate, WRITEs, RELEASE). */
  async writeFile(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
    const { dir, name } = await this.#parent(path);
    const n = enc.encode(name + "\0");
    let id: number;
    let fh: number;
    try {
      const r = await this.call(FUSE_CREATE, dir, FuseCreateIn.SIZE + n.length, (v, at, b) => {
        const c = new FuseCreateIn(v, at);
        c.flags = OPEN_FLAGS.O_WRONLY | OPEN_FLAGS.O_CREAT | OPEN_FLAGS.O_TRUNC;
        c.mode = 0o100000 | mode;
        c.umask = 0;
        b.set(n, at + FuseCreateIn.SIZE);
      }, FuseEntryOut.SIZE + FuseOpenOut.SIZE);
      if (r.length < FuseEntryOut.SIZE + FuseOpenOut.SIZE) throw badReply("short CREATE reply");
      id = entryOf(r).nodeid;
      fh = new FuseOpenOut(view(r), FuseEntryOut.SIZE).fh;
    } finally {
      await this.#done(dir);
    }
    try {
      // CREATE of an existing file opens it; O_TRUNC empties it, SETATTR makes sure.
      await this.call(FUSE_SETATTR, id, FuseSetattrIn.SIZE, (v, at) => {
        const s = new FuseSetattrIn(v, at);
        s.valid = FATTR_SIZE;
        s.fileSize = data.length;
      }, FuseAttrOut.SIZE);
      for (let off = 0; off < data.length;) {
        const chunk = data.subarray(off, off + this.#maxIo);
        const r = await this.call(FUSE_WRITE, id, FuseWriteIn.SIZE + chunk.length, (v, at, b) => {
          const w = new FuseWriteIn(v, at);
          w.fh = fh;
          w.writeOffset = off;
          w.writeSize = chunk.length;
          b.set(chunk, at + FuseWriteIn.SIZE);
        }, FuseWriteOut.SIZE);
        if (r.length < FuseWriteOut.SIZE) throw badReply("short WRITE reply");
        const written = new FuseWriteOut(view(r)).written;
        if (written === 0 || written > chunk.length) throw badReply(`WRITE wrote ${written}`);
        off += written;
      }
    } finally {
      await this.#release(FUSE_RELEASE, id, fh);
      await this.forget(id);
    }
  }
}

function view(r: Uint8Array): DataView {
  return new DataView(r.buffer, r.byteOffset, r.length);
}

function badReply(what: string): DeviceError {
  return new DeviceError(`virtio-fs driver: malformed reply: ${what}`, {
    code: "ERR_VIRTIO_DEVICE_FS_BAD_REPLY",
  });
}

function statOf(a: FuseAttr): FuseStat {
  return { ino: a.ino, size: a.fileSize, mode: a.mode, nlink: a.nlink, mtime: a.mtime };
}

function entryOf(r: Uint8Array): { nodeid: number; stat: FuseStat } {
  if (r.length < FuseEntryOut.SIZE) throw badReply("short entry reply");
  const e = new FuseEntryOut(view(r));
  return { nodeid: e.nodeid, stat: statOf(e.attr) };
}
