/**
 * The filesystem a virtio-fs device shares with its guest: one interface,
 * {@link FileSystem}, with two backends, a host directory
 * (`host_dir_fs.ts`) and an in-memory tree (`memory_fs.ts`).
 *
 * The interface speaks in relative paths that the FUSE server builds from
 * names it has checked with {@link checkName}: `""` is the root, `"a/b"` is
 * `b` inside `a`. No path ever holds `.`, `..`, an empty component, a NUL or
 * a leading `/`, and no backend follows a symbolic link: a link is an object
 * of its own (lstat semantics), and the guest's kernel resolves it with
 * READLINK. Failures are {@link FsError}s carrying a Linux errno, which the
 * server returns to the guest as `-errno` in `fuse_out_header.error`.
 *
 * @example Checking names from the guest
 * ```ts
 * import { checkName, FsError, ERRNO } from "./filesystem.ts";
 *
 * checkName("notes.txt");
 * for (const bad of ["..", ".", "a/b", "x\0y", ""]) {
 *   try {
 *     checkName(bad);
 *     throw new Error("unreachable");
 *   } catch (e) {
 *     if (!(e instanceof FsError) || e.errno !== ERRNO.EINVAL) throw e;
 *   }
 * }
 * ```
 *
 * @module
 */

import { DeviceError, type VirtioErrorOptions } from "../../errors.ts";

/** Linux errno values (asm-generic/errno-base.h, errno.h) the file systems return. */
export const ERRNO: Readonly<Record<string, number>> = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EOVERFLOW: 75,
  EILSEQ: 84,
  EOPNOTSUPP: 95,
  ESTALE: 116,
  EDQUOT: 122,
});

const ERRNO_NAME = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** Linux open(2) flags (asm-generic/fcntl.h) as the guest sends them. */
export const OPEN_FLAGS: {
  readonly O_ACCMODE: number;
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_NOCTTY: number;
  readonly O_TRUNC: number;
  readonly O_APPEND: number;
  readonly O_NONBLOCK: number;
  readonly O_DIRECTORY: number;
  readonly O_NOFOLLOW: number;
} = Object.freeze({
  O_ACCMODE: 0o3,
  O_RDONLY: 0o0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
});

/** File type bits of `st_mode` (linux/stat.h). */
export const S_IFMT: number = 0o170000;
/** Directory. */
export const S_IFDIR: number = 0o040000;
/** Regular file. */
export const S_IFREG: number = 0o100000;
/** Symbolic link. */
export const S_IFLNK: number = 0o120000;
/** FIFO. */
export const S_IFIFO: number = 0o010000;

/** The longest name a component may have, in UTF-8 bytes (NAME_MAX). */
export const NAME_MAX: number = 255;

/** A failure a file system reports to the guest as `-errno`. */
export class FsError extends DeviceError {
  /** The Linux errno. */
  readonly errno: number;
  /** Creates the error; the code is `ERR_VIRTIO_DEVICE_FS_<ERRNO NAME>`. */
  constructor(errno: number, message: string, options?: VirtioErrorOptions) {
    super(`virtio-fs: ${message}`, {
      ...options,
      code: options?.code ?? `ERR_VIRTIO_DEVICE_FS_${ERRNO_NAME.get(errno) ?? "ERRNO"}`,
    });
    this.errno = errno;
  }
}

/** Shorthand: an {@link FsError} for errno `name`. */
export function fsError(name: keyof typeof ERRNO & string, message: string): FsError {
  return new FsError(ERRNO[name], message);
}

/**
 * The errno of any failure: an {@link FsError}'s own, the `code` of a
 * Deno or `node:fs` error (`"ENOENT"`...), or EIO for anything else.
 */
export function errnoOf(e: unknown): number {
  if (e instanceof FsError) return e.errno;
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") {
    const n = ERRNO[e.code];
    if (n !== undefined) return n;
  }
  return ERRNO.EIO;
}

/**
 * Checks one name the guest sent (a path component): non-empty, not `.` or
 * `..`, no `/` or NUL, at most {@link NAME_MAX} UTF-8 bytes. Throws an
 * {@link FsError} (EINVAL, ENAMETOOLONG) otherwise.
 */
export function checkName(name: string): string {
  if (name === "" || name === "." || name === "..") {
    throw fsError("EINVAL", `name ${JSON.stringify(name)} is not a plain component`);
  }
  if (name.includes("/") || name.includes("\0")) {
    throw fsError("EINVAL", `name ${JSON.stringify(name)} holds '/' or NUL`);
  }
  // A UTF-16 unit takes at most 3 UTF-8 bytes; count exactly only when it matters.
  if (name.length * 3 > NAME_MAX && new TextEncoder().encode(name).length > NAME_MAX) {
    throw fsError("ENAMETOOLONG", `name of more than ${NAME_MAX} bytes`);
  }
  return name;
}

/** The path of `name` inside directory `dir` (both relative; `""` is the root). */
export function childPath(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** The attributes of a node (lstat(2)). Times are seconds and nanoseconds since the epoch. */
export interface FsStat {
  /** Device (file system) number; with {@link FsStat.ino} it names the file. */
  dev: number;
  /** Inode number as the backend knows it. */
  ino: number;
  /** Size in bytes. */
  size: number;
  /** 512-byte blocks allocated. */
  blocks: number;
  /** Last access, seconds. */
  atimeSec: number;
  /** Last access, nanoseconds. */
  atimeNsec: number;
  /** Last modification, seconds. */
  mtimeSec: number;
  /** Last modification, nanoseconds. */
  mtimeNsec: number;
  /** Last status change, seconds. */
  ctimeSec: number;
  /** Last status change, nanoseconds. */
  ctimeNsec: number;
  /** Type and permission bits. */
  mode: number;
  /** Hard links. */
  nlink: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Device number of a device node. */
  rdev: number;
  /** Preferred I/O size. */
  blksize: number;
}

/** File system statistics (statfs(2)). */
export interface FsStatfs {
  /** Total blocks of `bsize`. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks for unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Block size. */
  bsize: number;
  /** Longest name. */
  namelen: number;
  /** Fragment size. */
  frsize: number;
}

/** One directory entry. */
export interface FsDirEntry {
  /** The name (a checked component). */
  readonly name: string;
  /** Type bits (`mode & S_IFMT`) of the entry. */
  readonly type: number;
}

/** Attributes to change; absent fields stay. */
export interface FsSetAttr {
  /** Permission bits (07777). */
  mode?: number;
  /** Owner. */
  uid?: number;
  /** Group. */
  gid?: number;
  /** New size (truncate or extend). */
  size?: number;
  /** Access time in nanoseconds since the epoch, or "now". */
  atimeNs?: bigint | "now";
  /** Modification time in nanoseconds since the epoch, or "now". */
  mtimeNs?: bigint | "now";
}

/** An open file. Positions are explicit (pread/pwrite); it has no file offset of its own. */
export interface FsHandle {
  /** Reads into `buf` from `position`; returns the bytes read (0 at the end). */
  read(buf: Uint8Array, position: number): number;
  /** Writes `data` at `position` (at the end when opened with O_APPEND); returns the bytes written. */
  write(data: Uint8Array, position: number): number;
  /** The attributes of the open file (also after it was unlinked). */
  stat(): FsStat;
  /** Changes attributes through the handle. */
  setattr(attr: FsSetAttr): void;
  /** Flushes to stable storage. */
  sync(dataOnly: boolean): void;
  /** fallocate(2); mode 0 (allocate, extending the size) at least. */
  allocate(offset: number, length: number, mode: number): void;
  /** lseek(2) for SEEK_SET/CUR(=SET here)/END/DATA/HOLE: the resulting offset. */
  seek(offset: number, whence: number): number;
  /** Closes the handle; later calls fail with EBADF. Idempotent. */
  close(): void;
}

/**
 * A tree of files, directories and symbolic links a virtio-fs device
 * serves. Every path is relative and made of checked names; no method
 * follows a symbolic link. Methods throw {@link FsError}.
 */
export interface FileSystem {
  /** lstat(2) of `path`. */
  stat(path: string): FsStat;
  /** The entries of directory `path`, without `.` and `..`. */
  readdir(path: string): FsDirEntry[];
  /**
   * Opens an existing regular file or directory with Linux open `flags`
   * (access mode, O_TRUNC, O_APPEND; a symbolic link fails with ELOOP).
   * Directories open read-only.
   */
  open(path: string, flags: number): FsHandle;
  /** Creates a regular file (O_EXCL when `flags` says so) with `mode` and opens it. */
  create(path: string, flags: number, mode: number): FsHandle;
  /** mknod(2); backends may support regular files (S_IFREG) only. */
  mknod(path: string, mode: number, rdev: number): void;
  /** mkdir(2). */
  mkdir(path: string, mode: number): void;
  /** symlink(2): a link at `path` whose content is `target` (never interpreted here). */
  symlink(target: string, path: string): void;
  /** readlink(2). */
  readlink(path: string): string;
  /** link(2): a new name `newPath` for the non-directory at `oldPath`. */
  link(oldPath: string, newPath: string): void;
  /** unlink(2). */
  unlink(path: string): void;
  /** rmdir(2). */
  rmdir(path: string): void;
  /** renameat2(2) with `flags` RENAME_NOREPLACE (1) or 0; others may fail with EINVAL. */
  rename(oldPath: string, newPath: string, flags: number): void;
  /** Changes attributes of `path` (never through a symbolic link). */
  setattr(path: string, attr: FsSetAttr): void;
  /** statfs(2) of the whole file system. */
  statfs(): FsStatfs;
  /** The value of extended attribute `name`; ENODATA when absent, EOPNOTSUPP when unsupported. */
  getxattr(path: string, name: string): Uint8Array;
  /** Sets `name` to `value`; flags XATTR_CREATE (1), XATTR_REPLACE (2). */
  setxattr(path: string, name: string, value: Uint8Array, flags: number): void;
  /** The names of the extended attributes of `path`. */
  listxattr(path: string): string[];
  /** Removes extended attribute `name`. */
  removexattr(path: string, name: string): void;
}
