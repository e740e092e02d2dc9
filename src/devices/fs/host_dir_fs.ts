/**
 * A {@link FileSystem} over a directory of the host, for guests that must
 * not see anything else: every operation stays inside the shared directory.
 *
 * How: paths come in as checked components (no `.`, `..`, `/`, NUL). Before
 * each operation, every directory on the way is `lstat`ed and must be a real
 * directory, not a symbolic link (a link planted on the host or made by the
 * guest is never followed); the last component is opened with `O_NOFOLLOW`
 * and changed through the open descriptor, or with the `l*` calls (lstat,
 * lchown, lutimes) that act on a link itself. Host descriptors are open only
 * while the guest holds a handle, and {@link FsHandle.close} closes them.
 *
 * Deno's own API has no `O_NOFOLLOW`, `pread` or `statfs`, so this backend
 * uses `node:fs` (synchronous calls: the device answers each request before
 * the next). Extended attributes are not reachable from Deno: they fail with
 * EOPNOTSUPP, which Linux reports as "not supported" to the guest's callers.
 *
 * What it cannot stop: a host process changing the tree between a check and
 * the call that follows it (a directory on the way swapped for a link). The
 * guest cannot, because the device serves its requests one at a time.
 *
 * @example
 * ```ts
 * import { HostDirFileSystem } from "./host_dir_fs.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * const fs = new HostDirFileSystem(dir);
 * fs.mkdir("sub", 0o755);
 * if (!Deno.statSync(`${dir}/sub`).isDirectory) throw new Error("unreachable");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */

import * as nfs from "node:fs";
import {
  errnoOf,
  type FileSystem,
  type FsDirEntry,
  FsError,
  fsError,
  type FsHandle,
  type FsSetAttr,
  type FsStat,
  type FsStatfs,
  NAME_MAX,
  OPEN_FLAGS,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "./filesystem.ts";

const C = nfs.constants;

/** Runs a host call; any failure becomes an {@link FsError} with the host's errno. */
function host<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FsError) throw e;
    throw new FsError(errnoOf(e), `${what}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** Converts host open flags from the Linux flags of the guest (the same values on Linux). */
function hostFlags(flags: number): number {
  let f = 0;
  const acc = flags & OPEN_FLAGS.O_ACCMODE;
  f |= acc === OPEN_FLAGS.O_WRONLY ? C.O_WRONLY : acc === OPEN_FLAGS.O_RDWR ? C.O_RDWR : C.O_RDONLY;
  if ((flags & OPEN_FLAGS.O_TRUNC) !== 0) f |= C.O_TRUNC;
  if ((flags & OPEN_FLAGS.O_APPEND) !== 0) f |= C.O_APPEND;
  if ((flags & OPEN_FLAGS.O_DIRECTORY) !== 0) f |= C.O_DIRECTORY;
  // Never follow a link at the last component; never block on a FIFO; never take a tty.
  return f | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
}

function statOf(s: nfs.BigIntStats): FsStat {
  const sec = (t: bigint) => Number(t / 1_000_000_000n);
  const nsec = (t: bigint) => Number(t % 1_000_000_000n);
  return {
    dev: Number(s.dev),
    ino: Number(s.ino),
    size: Number(s.size),
    blocks: Number(s.blocks),
    atimeSec: sec(s.atimeNs),
    atimeNsec: nsec(s.atimeNs),
    mtimeSec: sec(s.mtimeNs),
    mtimeNsec: nsec(s.mtimeNs),
    ctimeSec: sec(s.ctimeNs),
    ctimeNsec: nsec(s.ctimeNs),
    mode: Number(s.mode),
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: Number(s.rdev) >>> 0,
    blksize: Number(s.blksize),
  };
}

function typeOf(d: nfs.Dirent): number {
  if (d.isDirectory()) return S_IFDIR;
  if (d.isSymbolicLink()) return S_IFLNK;
  if (d.isFIFO()) return S_IFIFO;
  if (d.isFile()) return S_IFREG;
  return 0;
}

function timeArg(t: bigint | "now" | undefined, current: bigint): number | Date {
  if (t === undefined) return Number(current) / 1e9;
  if (t === "now") return new Date();
  return Number(t) / 1e9;
}

/** A host directory shared with a guest. */
export class HostDirFileSystem implements FileSystem {
  /** The shared directory, as an absolute path. */
  readonly root: string;

  /** Shares `dir`, which must be an existing directory (not a link). */
  constructor(dir: string) {
    const abs = host(`shared directory ${dir}`, () => nfs.realpathSync(dir));
    const st = host(`shared directory ${dir}`, () => nfs.lstatSync(abs));
    if (!st.isDirectory()) throw fsError("ENOTDIR", `shared directory ${dir} is not a directory`);
    this.root = abs;
  }

  /**
   * The host path of `path`, after checking that each directory on the way
   * is a directory and not a symbolic link. The last component is not
   * checked: callers act on it without following it.
   */
  #resolve(path: string): string {
    if (path === "") return this.root;
    if (path.startsWith("/") || path.includes("\0")) throw fsError("EINVAL", `bad path ${path}`);
    const parts = path.split("/");
    let p = this.root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === "" || part === "." || part === "..") throw fsError("EINVAL", `bad path ${path}`);
      p = `${p}/${part}`;
      if (i < parts.length - 1) {
        const st = host(path, () => nfs.lstatSync(p));
        if (!st.isDirectory()) throw fsError("ENOTDIR", `${path}: a component is not a directory`);
      }
    }
    return p;
  }

  /** lstat(2). */
  stat(path: string): FsStat {
    const p = this.#resolve(path);
    return statOf(host(path, () => nfs.lstatSync(p, { bigint: true })));
  }

  /** readdir(3). */
  readdir(path: string): FsDirEntry[] {
    const p = this.#resolve(path);
    if (path !== "" && !host(path, () => nfs.lstatSync(p)).isDirectory()) {
      throw fsError("ENOTDIR", `${path} is not a directory`);
    }
    return host(path, () => nfs.readdirSync(p, { withFileTypes: true })).map((d) => ({
      name: d.name,
      type: typeOf(d),
    }));
  }

  /** Opens an existing regular file or directory, never through a link. */
  open(path: string, flags: number): FsHandle {
    const p = this.#resolve(path);
    const fd = host(path, () => nfs.openSync(p, hostFlags(flags & ~OPEN_FLAGS.O_CREAT)));
    return this.#handle(fd, path, flags);
  }

  #handle(fd: number, path: string, flags: number): FsHandle {
    const st = host(path, () => nfs.fstatSync(fd));
    if (!st.isFile() && !st.isDirectory()) {
      nfs.closeSync(fd);
      throw fsError("EPERM", `${path} is neither a file nor a directory`);
    }
    if (st.isDirectory() && (flags & OPEN_FLAGS.O_ACCMODE) !== OPEN_FLAGS.O_RDONLY) {
      nfs.closeSync(fd);
      throw fsError("EISDIR", `${path} is a directory`);
    }
    return new HostHandle(fd, (flags & OPEN_FLAGS.O_APPEND) !== 0);
  }

  /** Creates (O_CREAT, O_EXCL as asked) and opens a regular file. */
  create(path: string, flags: number, mode: number): FsHandle {
    const p = this.#resolve(path);
    const f = hostFlags(flags) | C.O_CREAT | ((flags & OPEN_FLAGS.O_EXCL) !== 0 ? C.O_EXCL : 0);
    const fd = host(path, () => nfs.openSync(p, f, mode & 0o7777));
    return this.#handle(fd, path, flags);
  }

  /** Regular files only (no device nodes, FIFOs or sockets on the host). */
  mknod(path: string, mode: number, _rdev: number): void {
    if ((mode & S_IFMT) !== S_IFREG && (mode & S_IFMT) !== 0) {
      throw fsError("EPERM", `${path}: only regular files can be made`);
    }
    const p = this.#resolve(path);
    const fd = host(
      path,
      () => nfs.openSync(p, C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_NOFOLLOW, mode & 0o7777),
    );
    nfs.closeSync(fd);
  }

  /** mkdir(2). */
  mkdir(path: string, mode: number): void {
    const p = this.#resolve(path);
    host(path, () => nfs.mkdirSync(p, { mode: mode & 0o7777 }));
  }

  /** symlink(2); the target is stored, never followed here. */
  symlink(target: string, path: string): void {
    if (target.includes("\0") || target.length === 0) throw fsError("EINVAL", "bad link target");
    const p = this.#resolve(path);
    host(path, () => nfs.symlinkSync(target, p));
  }

  /** readlink(2). */
  readlink(path: string): string {
    const p = this.#resolve(path);
    return host(path, () => nfs.readlinkSync(p));
  }

  /** link(2): link(2) does not follow a link at `oldPath` on Linux. */
  link(oldPath: string, newPath: string): void {
    const o = this.#resolve(oldPath);
    const n = this.#resolve(newPath);
    host(newPath, () => nfs.linkSync(o, n));
  }

  /** unlink(2). */
  unlink(path: string): void {
    const p = this.#resolve(path);
    // Deno's node:fs unlinkSync removes an empty directory too; unlink(2) does not.
    if (host(path, () => nfs.lstatSync(p)).isDirectory()) {
      throw fsError("EISDIR", `${path} is a directory`);
    }
    host(path, () => nfs.unlinkSync(p));
  }

  /** rmdir(2). */
  rmdir(path: string): void {
    const p = this.#resolve(path);
    host(path, () => nfs.rmdirSync(p));
  }

  /** rename(2); RENAME_NOREPLACE is checked before the rename (no renameat2 in Deno). */
  rename(oldPath: string, newPath: string, flags: number): void {
    if ((flags & ~1) !== 0) throw fsError("EINVAL", `rename flags ${flags} not supported`);
    const o = this.#resolve(oldPath);
    const n = this.#resolve(newPath);
    if ((flags & 1) !== 0) {
      let exists = true;
      try {
        nfs.lstatSync(n);
      } catch {
        exists = false;
      }
      if (exists) throw fsError("EEXIST", `${newPath} exists`);
    }
    host(newPath, () => nfs.renameSync(o, n));
  }

  /** Changes attributes: through an O_NOFOLLOW descriptor, or with lchown/lutimes on a link. */
  setattr(path: string, attr: FsSetAttr): void {
    const p = this.#resolve(path);
    const st = host(path, () => nfs.lstatSync(p, { bigint: true }));
    if (st.isSymbolicLink()) {
      if (attr.size !== undefined || attr.mode !== undefined) {
        throw fsError("EOPNOTSUPP", `${path}: mode or size of a symbolic link`);
      }
      if (attr.uid !== undefined || attr.gid !== undefined) {
        host(path, () => nfs.lchownSync(p, attr.uid ?? -1, attr.gid ?? -1));
      }
      if (attr.atimeNs !== undefined || attr.mtimeNs !== undefined) {
        host(
          path,
          () =>
            nfs.lutimesSync(
              p,
              timeArg(attr.atimeNs, st.atimeNs),
              timeArg(attr.mtimeNs, st.mtimeNs),
            ),
        );
      }
      return;
    }
    const acc = attr.size !== undefined ? C.O_WRONLY : C.O_RDONLY;
    const fd = host(path, () => nfs.openSync(p, acc | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY));
    try {
      setattrFd(fd, attr, st);
    } finally {
      nfs.closeSync(fd);
    }
  }

  /** statfs(2) of the shared directory's file system. */
  statfs(): FsStatfs {
    const s = host("statfs", () => nfs.statfsSync(this.root));
    return {
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      bsize: s.bsize,
      namelen: NAME_MAX,
      frsize: s.bsize,
    };
  }

  /** Not reachable from Deno: EOPNOTSUPP. */
  getxattr(path: string, _name: string): Uint8Array {
    this.stat(path);
    throw fsError("EOPNOTSUPP", "extended attributes are not supported on a host directory");
  }

  /** Not reachable from Deno: EOPNOTSUPP. */
  setxattr(path: string, _name: string, _value: Uint8Array, _flags: number): void {
    this.stat(path);
    throw fsError("EOPNOTSUPP", "extended attributes are not supported on a host directory");
  }

  /** No attributes are visible: an empty list. */
  listxattr(path: string): string[] {
    this.stat(path);
    return [];
  }

  /** Not reachable from Deno: EOPNOTSUPP. */
  removexattr(path: string, _name: string): void {
    this.stat(path);
    throw fsError("EOPNOTSUPP", "extended attributes are not supported on a host directory");
  }
}

function setattrFd(fd: number, attr: FsSetAttr, st: nfs.BigIntStats): void {
  if (attr.size !== undefined) {
    if (!Number.isSafeInteger(attr.size) || attr.size < 0) throw fsError("EINVAL", "size");
    host("truncate", () => nfs.ftruncateSync(fd, attr.size));
  }
  if (attr.mode !== undefined) host("chmod", () => nfs.fchmodSync(fd, (attr.mode ?? 0) & 0o7777));
  if (attr.uid !== undefined || attr.gid !== undefined) {
    host("chown", () => nfs.fchownSync(fd, attr.uid ?? -1, attr.gid ?? -1));
  }
  if (attr.atimeNs !== undefined || attr.mtimeNs !== undefined) {
    host(
      "utimes",
      () =>
        nfs.futimesSync(fd, timeArg(attr.atimeNs, st.atimeNs), timeArg(attr.mtimeNs, st.mtimeNs)),
    );
  }
}

class HostHandle implements FsHandle {
  #fd: number;
  #append: boolean;

  constructor(fd: number, append: boolean) {
    this.#fd = fd;
    this.#append = append;
  }

  #check(): number {
    if (this.#fd < 0) throw fsError("EBADF", "handle is closed");
    return this.#fd;
  }

  read(buf: Uint8Array, position: number): number {
    const fd = this.#check();
    return host("read", () => nfs.readSync(fd, buf, 0, buf.length, position));
  }

  write(data: Uint8Array, position: number): number {
    const fd = this.#check();
    // With O_APPEND the kernel writes at the end whatever the position.
    return host(
      "write",
      () => nfs.writeSync(fd, data, 0, data.length, this.#append ? null : position),
    );
  }

  stat(): FsStat {
    const fd = this.#check();
    return statOf(host("fstat", () => nfs.fstatSync(fd, { bigint: true })));
  }

  setattr(attr: FsSetAttr): void {
    const fd = this.#check();
    const st = host("fstat", () => nfs.fstatSync(fd, { bigint: true }));
    setattrFd(fd, attr, st);
  }

  sync(dataOnly: boolean): void {
    const fd = this.#check();
    host("fsync", () => (dataOnly ? nfs.fdatasyncSync(fd) : nfs.fsyncSync(fd)));
  }

  allocate(offset: number, length: number, mode: number): void {
    const fd = this.#check();
    if (mode !== 0) throw fsError("EOPNOTSUPP", `fallocate mode ${mode}`);
    const end = offset + length;
    if (!Number.isSafeInteger(end)) throw fsError("EFBIG", "fallocate past the limit");
    const size = Number(host("fstat", () => nfs.fstatSync(fd)).size);
    if (end > size) host("fallocate", () => nfs.ftruncateSync(fd, end));
  }

  seek(offset: number, whence: number): number {
    const fd = this.#check();
    const size = host("fstat", () => nfs.fstatSync(fd)).size;
    switch (whence) {
      case 0:
      case 1:
        return offset;
      case 2:
        return size + offset;
      case 3:
        if (offset >= size) throw fsError("ENXIO", "SEEK_DATA past the end");
        return offset;
      case 4:
        if (offset >= size) throw fsError("ENXIO", "SEEK_HOLE past the end");
        return size;
      default:
        throw fsError("EINVAL", `whence ${whence}`);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      nfs.closeSync(fd);
    } catch {
      // already closed by the host: nothing to leak
    }
  }
}
