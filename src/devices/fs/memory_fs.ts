/**
 * An in-memory {@link FileSystem}: directories, regular files, symbolic
 * links and extended attributes in JavaScript objects, bounded by a byte
 * budget (ENOSPC past it) so a guest cannot exhaust the host's memory.
 *
 * @example
 * ```ts
 * import { MemoryFileSystem } from "./memory_fs.ts";
 *
 * const fs = new MemoryFileSystem();
 * fs.mkdir("docs", 0o755);
 * const h = fs.create("docs/a.txt", 0o2, 0o644);
 * h.write(new TextEncoder().encode("hello"), 0);
 * h.close();
 * if (fs.stat("docs/a.txt").size !== 5 || fs.readdir("docs")[0].name !== "a.txt") {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

import {
  type FileSystem,
  type FsDirEntry,
  fsError,
  type FsHandle,
  type FsSetAttr,
  type FsStat,
  type FsStatfs,
  NAME_MAX,
  OPEN_FLAGS,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "./filesystem.ts";

interface Inode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  data: Uint8Array;
  size: number;
  children: Map<string, Inode> | undefined;
  target: string;
  xattrs: Map<string, Uint8Array>;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** Options of a {@link MemoryFileSystem}. */
export interface MemoryFileSystemOptions {
  /** Most bytes of file data, link targets and attributes together (default 256 MiB). */
  readonly maxBytes?: number;
  /** Most inodes (default 65536). */
  readonly maxInodes?: number;
  /** Owner of the root and of new nodes (default 0). */
  readonly uid?: number;
  /** Group of the root and of new nodes (default 0). */
  readonly gid?: number;
}

const BLOCK = 4096;

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** What a {@link MemoryHandle} asks of its file system; set in MemoryFileSystem's `static` block. */
let fsHooks: {
  /** Sets a file's size within the budget. */
  resize(fs: MemoryFileSystem, n: Inode, size: number): void;
  /** A handle was closed (`open` handles left): drop the inode if it has no names left. */
  closed(fs: MemoryFileSystem, n: Inode, open: number): void;
  /** Changes attributes of an inode. */
  setattr(fs: MemoryFileSystem, n: Inode, attr: FsSetAttr): void;
  /** The attributes of an inode. */
  stat(fs: MemoryFileSystem, n: Inode): FsStat;
};

/** A file system held in memory. */
export class MemoryFileSystem implements FileSystem {
  readonly #root: Inode;
  readonly #maxBytes: number;
  readonly #maxInodes: number;
  readonly #uid: number;
  readonly #gid: number;
  #nextIno = 1;
  #bytes = 0;
  #inodes = 0;

  static {
    fsHooks = {
      resize: (fs, n, size) => fs.#resize(n, size),
      closed: (fs, n, open) => fs.#dropIfGone(n, open),
      setattr: (fs, n, attr) => fs.#setattr(n, attr),
      stat: (fs, n) => fs.#statOf(n),
    };
  }

  /** An empty file system: a root directory with mode 0755. */
  constructor(options: MemoryFileSystemOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#maxInodes = options.maxInodes ?? 65536;
    this.#uid = options.uid ?? 0;
    this.#gid = options.gid ?? 0;
    this.#root = this.#inode(S_IFDIR | 0o755);
    this.#root.nlink = 2;
  }

  /** Bytes used of the budget. */
  get bytesUsed(): number {
    return this.#bytes;
  }

  #inode(mode: number): Inode {
    if (this.#inodes >= this.#maxInodes) throw fsError("ENOSPC", "no inodes left");
    this.#inodes++;
    const t = nowNs();
    return {
      ino: this.#nextIno++,
      mode,
      uid: this.#uid,
      gid: this.#gid,
      nlink: 1,
      data: new Uint8Array(0),
      size: 0,
      children: (mode & S_IFMT) === S_IFDIR ? new Map() : undefined,
      target: "",
      xattrs: new Map(),
      atimeNs: t,
      mtimeNs: t,
      ctimeNs: t,
    };
  }

  #charge(n: number): void {
    if (this.#bytes + n > this.#maxBytes) throw fsError("ENOSPC", "the memory budget is spent");
    this.#bytes += n;
  }

  #dropIfGone(n: Inode, open: number): void {
    if (n.nlink === 0 && open === 0) {
      this.#bytes -= n.size + n.target.length;
      for (const v of n.xattrs.values()) this.#bytes -= v.length;
      n.data = new Uint8Array(0);
      n.size = 0;
      this.#inodes--;
    }
  }

  #walk(path: string): Inode {
    let n = this.#root;
    if (path === "") return n;
    for (const part of path.split("/")) {
      if (n.children === undefined) throw fsError("ENOTDIR", `${path}: not a directory on the way`);
      const c = n.children.get(part);
      if (c === undefined) throw fsError("ENOENT", `${path}: no such entry`);
      n = c;
    }
    return n;
  }

  #parent(path: string): { dir: Map<string, Inode>; dirNode: Inode; name: string } {
    const slash = path.lastIndexOf("/");
    const dirNode = this.#walk(slash < 0 ? "" : path.slice(0, slash));
    const name = slash < 0 ? path : path.slice(slash + 1);
    if (name === "") throw fsError("EINVAL", "the root has no parent");
    if (dirNode.children === undefined) throw fsError("ENOTDIR", `${path}: parent is no directory`);
    return { dir: dirNode.children, dirNode, name };
  }

  #add(path: string, n: Inode): void {
    const { dir, dirNode, name } = this.#parent(path);
    if (dir.has(name)) throw fsError("EEXIST", `${path} exists`);
    dir.set(name, n);
    if (n.children !== undefined) dirNode.nlink++;
    dirNode.mtimeNs = dirNode.ctimeNs = nowNs();
  }

  #statOf(n: Inode): FsStat {
    const sec = (t: bigint) => Number(t / 1_000_000_000n);
    const nsec = (t: bigint) => Number(t % 1_000_000_000n);
    return {
      dev: 0,
      ino: n.ino,
      size: n.children !== undefined
        ? BLOCK
        : (n.mode & S_IFMT) === S_IFLNK
        ? n.target.length
        : n.size,
      blocks: Math.ceil(n.size / 512),
      atimeSec: sec(n.atimeNs),
      atimeNsec: nsec(n.atimeNs),
      mtimeSec: sec(n.mtimeNs),
      mtimeNsec: nsec(n.mtimeNs),
      ctimeSec: sec(n.ctimeNs),
      ctimeNsec: nsec(n.ctimeNs),
      mode: n.mode,
      nlink: n.nlink,
      uid: n.uid,
      gid: n.gid,
      rdev: 0,
      blksize: BLOCK,
    };
  }

  /** lstat(2). */
  stat(path: string): FsStat {
    return this.#statOf(this.#walk(path));
  }

  /** The entries of a directory. */
  readdir(path: string): FsDirEntry[] {
    const n = this.#walk(path);
    if (n.children === undefined) throw fsError("ENOTDIR", `${path} is not a directory`);
    const out: FsDirEntry[] = [];
    for (const [name, c] of n.children) out.push({ name, type: c.mode & S_IFMT });
    return out;
  }

  /** Opens an existing file or directory. */
  open(path: string, flags: number): FsHandle {
    const n = this.#walk(path);
    return this.#openNode(n, flags, path);
  }

  #openNode(n: Inode, flags: number, path: string): FsHandle {
    const type = n.mode & S_IFMT;
    if (type === S_IFLNK) throw fsError("ELOOP", `${path} is a symbolic link`);
    const acc = flags & OPEN_FLAGS.O_ACCMODE;
    if (type === S_IFDIR && acc !== OPEN_FLAGS.O_RDONLY) {
      throw fsError("EISDIR", `${path} is a directory`);
    }
    if ((flags & OPEN_FLAGS.O_DIRECTORY) !== 0 && type !== S_IFDIR) {
      throw fsError("ENOTDIR", `${path} is not a directory`);
    }
    if ((flags & OPEN_FLAGS.O_TRUNC) !== 0 && type === S_IFREG && acc !== OPEN_FLAGS.O_RDONLY) {
      this.#resize(n, 0);
    }
    return new MemoryHandle(this, n, acc, (flags & OPEN_FLAGS.O_APPEND) !== 0);
  }

  #resize(n: Inode, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw fsError("EINVAL", `size ${size}`);
    if (size > this.#maxBytes) throw fsError("EFBIG", `size ${size} past the budget`);
    const delta = size - n.size;
    if (delta > 0) this.#charge(delta);
    else this.#bytes += delta;
    if (size > n.data.length) {
      const d = new Uint8Array(Math.min(Math.max(size, n.data.length * 2, 64), this.#maxBytes));
      d.set(n.data.subarray(0, n.size));
      n.data = d;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
    n.size = size;
    n.mtimeNs = n.ctimeNs = nowNs();
  }

  /** Creates and opens a regular file. */
  create(path: string, flags: number, mode: number): FsHandle {
    const { dir, name } = this.#parent(path);
    const existing = dir.get(name);
    if (existing !== undefined) {
      if ((flags & OPEN_FLAGS.O_EXCL) !== 0) throw fsError("EEXIST", `${path} exists`);
      return this.#openNode(existing, flags, path);
    }
    const n = this.#inode(S_IFREG | (mode & 0o7777));
    this.#add(path, n);
    return new MemoryHandle(
      this,
      n,
      flags & OPEN_FLAGS.O_ACCMODE,
      (flags & OPEN_FLAGS.O_APPEND) !== 0,
    );
  }

  /** Regular files only. */
  mknod(path: string, mode: number, _rdev: number): void {
    if ((mode & S_IFMT) !== S_IFREG && (mode & S_IFMT) !== 0) {
      throw fsError("EPERM", `${path}: only regular files can be made`);
    }
    this.#add(path, this.#inode(S_IFREG | (mode & 0o7777)));
  }

  /** mkdir(2). */
  mkdir(path: string, mode: number): void {
    const n = this.#inode(S_IFDIR | (mode & 0o7777));
    n.nlink = 2;
    this.#add(path, n);
  }

  /** symlink(2). */
  symlink(target: string, path: string): void {
    if (target.length > 4095) throw fsError("ENAMETOOLONG", "link target too long");
    const n = this.#inode(S_IFLNK | 0o777);
    this.#charge(target.length);
    n.target = target;
    n.size = 0;
    try {
      this.#add(path, n);
    } catch (e) {
      this.#bytes -= target.length;
      throw e;
    }
  }

  /** readlink(2). */
  readlink(path: string): string {
    const n = this.#walk(path);
    if ((n.mode & S_IFMT) !== S_IFLNK) throw fsError("EINVAL", `${path} is not a symbolic link`);
    return n.target;
  }

  /** link(2). */
  link(oldPath: string, newPath: string): void {
    const n = this.#walk(oldPath);
    if (n.children !== undefined) throw fsError("EPERM", `${oldPath} is a directory`);
    this.#add(newPath, n);
    n.nlink++;
    n.ctimeNs = nowNs();
  }

  /** unlink(2). */
  unlink(path: string): void {
    const { dir, dirNode, name } = this.#parent(path);
    const n = dir.get(name);
    if (n === undefined) throw fsError("ENOENT", `${path}: no such entry`);
    if (n.children !== undefined) throw fsError("EISDIR", `${path} is a directory`);
    dir.delete(name);
    dirNode.mtimeNs = dirNode.ctimeNs = nowNs();
    n.nlink--;
    this.#dropIfGone(n, MemoryHandle.openCount(n));
  }

  /** rmdir(2). */
  rmdir(path: string): void {
    const { dir, dirNode, name } = this.#parent(path);
    const n = dir.get(name);
    if (n === undefined) throw fsError("ENOENT", `${path}: no such entry`);
    if (n.children === undefined) throw fsError("ENOTDIR", `${path} is not a directory`);
    if (n.children.size > 0) throw fsError("ENOTEMPTY", `${path} is not empty`);
    dir.delete(name);
    dirNode.nlink--;
    n.nlink = 0;
    this.#inodes--;
  }

  /** rename(2) / renameat2(2) with RENAME_NOREPLACE. */
  rename(oldPath: string, newPath: string, flags: number): void {
    if ((flags & ~1) !== 0) throw fsError("EINVAL", `rename flags ${flags} not supported`);
    const from = this.#parent(oldPath);
    const n = from.dir.get(from.name);
    if (n === undefined) throw fsError("ENOENT", `${oldPath}: no such entry`);
    if (n.children !== undefined && (newPath === oldPath || newPath.startsWith(oldPath + "/"))) {
      if (newPath === oldPath) return;
      throw fsError("EINVAL", `${newPath} is inside ${oldPath}`);
    }
    const to = this.#parent(newPath);
    const old = to.dir.get(to.name);
    if (old !== undefined && (flags & 1) !== 0) throw fsError("EEXIST", `${newPath} exists`);
    if (old === n) return;
    if (old !== undefined) {
      if (old.children !== undefined) {
        if (n.children === undefined) throw fsError("EISDIR", `${newPath} is a directory`);
        if (old.children.size > 0) throw fsError("ENOTEMPTY", `${newPath} is not empty`);
        to.dirNode.nlink--;
        this.#inodes--;
      } else if (n.children !== undefined) {
        throw fsError("ENOTDIR", `${newPath} is not a directory`);
      } else {
        old.nlink--;
        this.#dropIfGone(old, MemoryHandle.openCount(old));
      }
    }
    from.dir.delete(from.name);
    to.dir.set(to.name, n);
    if (n.children !== undefined) {
      from.dirNode.nlink--;
      to.dirNode.nlink++;
    }
    const t = nowNs();
    from.dirNode.mtimeNs = to.dirNode.mtimeNs = n.ctimeNs = t;
  }

  /** Changes attributes of `path`. */
  setattr(path: string, attr: FsSetAttr): void {
    this.#setattr(this.#walk(path), attr);
  }

  #setattr(n: Inode, attr: FsSetAttr): void {
    if (attr.size !== undefined) {
      if ((n.mode & S_IFMT) !== S_IFREG) throw fsError("EINVAL", "size of a non-file");
      this.#resize(n, attr.size);
    }
    if (attr.mode !== undefined) n.mode = (n.mode & S_IFMT) | (attr.mode & 0o7777);
    if (attr.uid !== undefined) n.uid = attr.uid;
    if (attr.gid !== undefined) n.gid = attr.gid;
    if (attr.atimeNs !== undefined) n.atimeNs = attr.atimeNs === "now" ? nowNs() : attr.atimeNs;
    if (attr.mtimeNs !== undefined) n.mtimeNs = attr.mtimeNs === "now" ? nowNs() : attr.mtimeNs;
    n.ctimeNs = nowNs();
  }

  /** The budget as a file system. */
  statfs(): FsStatfs {
    return {
      blocks: Math.floor(this.#maxBytes / BLOCK),
      bfree: Math.floor((this.#maxBytes - this.#bytes) / BLOCK),
      bavail: Math.floor((this.#maxBytes - this.#bytes) / BLOCK),
      files: this.#maxInodes,
      ffree: this.#maxInodes - this.#inodes,
      bsize: BLOCK,
      namelen: NAME_MAX,
      frsize: BLOCK,
    };
  }

  /** getxattr(2). */
  getxattr(path: string, name: string): Uint8Array {
    const v = this.#walk(path).xattrs.get(name);
    if (v === undefined) throw fsError("ENODATA", `${path}: no attribute ${name}`);
    return v;
  }

  /** setxattr(2). */
  setxattr(path: string, name: string, value: Uint8Array, flags: number): void {
    const n = this.#walk(path);
    if (name === "" || name.length > 255) throw fsError("ERANGE", "attribute name length");
    const old = n.xattrs.get(name);
    if ((flags & 1) !== 0 && old !== undefined) throw fsError("EEXIST", `${name} exists`);
    if ((flags & 2) !== 0 && old === undefined) throw fsError("ENODATA", `no attribute ${name}`);
    this.#charge(value.length - (old?.length ?? 0));
    n.xattrs.set(name, value.slice());
    n.ctimeNs = nowNs();
  }

  /** listxattr(2). */
  listxattr(path: string): string[] {
    return [...this.#walk(path).xattrs.keys()];
  }

  /** removexattr(2). */
  removexattr(path: string, name: string): void {
    const n = this.#walk(path);
    const old = n.xattrs.get(name);
    if (old === undefined) throw fsError("ENODATA", `${path}: no attribute ${name}`);
    n.xattrs.delete(name);
    this.#bytes -= old.length;
  }
}

class MemoryHandle implements FsHandle {
  static #open = new WeakMap<Inode, number>();
  static openCount(n: Inode): number {
    return MemoryHandle.#open.get(n) ?? 0;
  }
  #fs: MemoryFileSystem;
  #n: Inode | undefined;
  #acc: number;
  #append: boolean;

  constructor(fs: MemoryFileSystem, n: Inode, acc: number, append: boolean) {
    this.#fs = fs;
    this.#n = n;
    this.#acc = acc;
    this.#append = append;
    MemoryHandle.#open.set(n, MemoryHandle.openCount(n) + 1);
  }

  #node(): Inode {
    if (this.#n === undefined) throw fsError("EBADF", "handle is closed");
    return this.#n;
  }

  read(buf: Uint8Array, position: number): number {
    const n = this.#node();
    if (this.#acc === OPEN_FLAGS.O_WRONLY) throw fsError("EBADF", "not open for reading");
    if (n.children !== undefined) throw fsError("EISDIR", "read of a directory");
    if (position >= n.size) return 0;
    const len = Math.min(buf.length, n.size - position);
    buf.set(n.data.subarray(position, position + len));
    return len;
  }

  write(data: Uint8Array, position: number): number {
    const n = this.#node();
    if (this.#acc === OPEN_FLAGS.O_RDONLY) throw fsError("EBADF", "not open for writing");
    const at = this.#append ? n.size : position;
    if (!Number.isSafeInteger(at + data.length)) throw fsError("EFBIG", "write past the limit");
    if (at + data.length > n.size) fsHooks.resize(this.#fs, n, at + data.length);
    n.data.set(data, at);
    n.mtimeNs = n.ctimeNs = nowNs();
    return data.length;
  }

  stat(): FsStat {
    return fsHooks.stat(this.#fs, this.#node());
  }

  setattr(attr: FsSetAttr): void {
    fsHooks.setattr(this.#fs, this.#node(), attr);
  }

  sync(_dataOnly: boolean): void {
    this.#node();
  }

  allocate(offset: number, length: number, mode: number): void {
    const n = this.#node();
    if (mode !== 0) throw fsError("EOPNOTSUPP", `fallocate mode ${mode}`);
    if (n.children !== undefined) throw fsError("EISDIR", "fallocate of a directory");
    if (offset + length > n.size) fsHooks.resize(this.#fs, n, offset + length);
  }

  seek(offset: number, whence: number): number {
    const n = this.#node();
    switch (whence) {
      case 0:
      case 1:
        return offset;
      case 2:
        return n.size + offset;
      case 3: // SEEK_DATA: no holes here
        if (offset >= n.size) throw fsError("ENXIO", "SEEK_DATA past the end");
        return offset;
      case 4: // SEEK_HOLE: the end is the only hole
        if (offset >= n.size) throw fsError("ENXIO", "SEEK_HOLE past the end");
        return n.size;
      default:
        throw fsError("EINVAL", `whence ${whence}`);
    }
  }

  close(): void {
    const n = this.#n;
    if (n === undefined) return;
    this.#n = undefined;
    const left = MemoryHandle.openCount(n) - 1;
    MemoryHandle.#open.set(n, left);
    fsHooks.closed(this.#fs, n, left);
  }
}
