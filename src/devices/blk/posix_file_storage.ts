/**
 * virtio-blk storage in an image file through libc (Deno FFI, Linux):
 * {@link PosixFileStorage}. A request of any number of data segments is one
 * `preadv` or `pwritev` system call straight into (or from) the segments,
 * as QEMU's own block layer does, where {@link FileStorage} makes a seek
 * and a read per segment. Run with `--allow-ffi`; the vhost-user-blk
 * back-end (which needs FFI anyway) uses it.
 *
 * **Deno only, Linux only** (64-bit). libc is opened on first use, so
 * importing this module needs no permission. Left out of the npm package.
 *
 * @example
 * ```ts ignore
 * import { BlkDevice } from "./device.ts";
 * import { PosixFileStorage } from "./posix_file_storage.ts";
 *
 * const storage = new PosixFileStorage("disk.img");
 * const device = new BlkDevice({ storage });
 * // ... serve it; then
 * storage.close();
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import { type BlockStorage, SequentialBatch } from "./storage.ts";
import { lastErrno, type Libc, openLibc } from "../../_libc.ts";
import { address } from "./_address.ts";

function unsupported(os: string): DeviceError {
  return new DeviceError(`virtio-blk: PosixFileStorage needs Linux; this is ${os}`, {
    code: "ERR_VIRTIO_DEVICE_BLK_PLATFORM",
  });
}

let lib: Libc | undefined;

/** libc, opened on first use (kept here: no closure made per call on the I/O path). */
function libc(): Libc {
  return lib ??= openLibc(unsupported);
}

const EINTR = 4;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_CLOEXEC = 0x80000;
const SEEK_END = 2;
/** Most iovecs one `preadv` takes (`IOV_MAX` on Linux). */
const IOV_MAX = 1024;

function errno(): number {
  return lastErrno(libc());
}

/** Names of the errno values a host's storage gives most (Linux numbers). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  9: "EBADF",
  13: "EACCES",
  22: "EINVAL",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  122: "EDQUOT",
};

function errnoText(): string {
  const n = errno();
  return ERRNO_NAMES[n] === undefined ? `errno ${n}` : `${ERRNO_NAMES[n]} (errno ${n})`;
}

/**
 * A failed libc call on an image: `ERR_VIRTIO_DEVICE_BLK_OPEN` for `open`
 * and `lseek` at open, else `ERR_VIRTIO_DEVICE_BLK_IO`. The device
 * completes the request with VIRTIO_BLK_S_IOERR.
 */
function ioError(call: string, path: string, detail: string = errnoText()): DeviceError {
  return new DeviceError(`virtio-blk: ${call} on image ${path} failed: ${detail}`, {
    code: call === "open" ? "ERR_VIRTIO_DEVICE_BLK_OPEN" : "ERR_VIRTIO_DEVICE_BLK_IO",
  });
}

/**
 * Storage in an image file, read and written with `pread`/`preadv` and
 * `pwrite`/`pwritev` through Deno FFI: one system call per request
 * ({@link BlockStorage.readv}), no file position shared between calls.
 * Flush is `fdatasync`. A read past the end of the file reads zeroes.
 */
export class PosixFileStorage implements BlockStorage {
  /** The image path. */
  readonly path: string;
  #size: number;
  #fd: number;
  /** `struct iovec[]` as 32-bit words, reused: one request at a time on this thread. */
  #iov = new Uint32Array(4 * 64);
  #iovBytes = new Uint8Array(this.#iov.buffer);
  /**
   * The device's batch for a queue pass of several requests: their system
   * calls back to back, the device's work for them before and after
   * ({@link SequentialBatch}).
   */
  readonly batch: SequentialBatch = new SequentialBatch(this);

  /** Opens `path` read-write, or read-only when `readOnly` (needs `--allow-ffi`). */
  constructor(path: string, readOnly: boolean = false) {
    this.path = path;
    const l = libc();
    const fd = l.open(
      new TextEncoder().encode(path + "\0"),
      (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC,
      0,
    );
    if (fd < 0) throw ioError("open", path);
    const end = Number(l.lseek(fd, 0n, SEEK_END));
    if (end < 0) {
      const e = ioError("lseek", path);
      l.close(fd);
      throw e;
    }
    this.#fd = fd;
    this.#size = end;
  }

  /** Size in bytes: when opened, or at the last {@link PosixFileStorage.refreshSize}. */
  get size(): number {
    return this.#size;
  }

  /**
   * Reads the image's size again (after it was grown or shrunk on the host),
   * for `BlkDevice.setCapacity`. Returns the new size in bytes.
   */
  refreshSize(): number {
    const end = Number(libc().lseek(this.#live(), 0n, SEEK_END));
    if (end < 0) throw ioError("lseek", this.path);
    this.#size = end;
    return end;
  }

  /** Reads `dst.length` bytes at `offset`. */
  read(offset: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const part = done === 0 ? dst : dst.subarray(done);
      const n = Number(
        libc().pread(this.#live(), part, BigInt(part.length), BigInt(offset + done)),
      );
      if (n < 0) {
        if (errno() === EINTR) continue;
        throw ioError("pread", this.path);
      }
      if (n === 0) {
        dst.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) {
      const part = done === 0 ? src : src.subarray(done);
      const n = Number(
        libc().pwrite(this.#live(), part, BigInt(part.length), BigInt(offset + done)),
      );
      if (n < 0) {
        if (errno() === EINTR) continue;
        throw ioError("pwrite", this.path);
      }
      // No progress and no error: fail rather than spin.
      if (n === 0) throw ioError("pwrite", this.path, "wrote 0 bytes");
      done += n;
    }
  }

  /** Fills each of `dsts` in turn from `offset` on: one `preadv` (per 1024 segments). */
  readv(offset: number, dsts: readonly Uint8Array[]): void {
    this.#vectored(offset, dsts, false);
  }

  /** Writes each of `srcs` in turn from `offset` on: one `pwritev` (per 1024 segments). */
  writev(offset: number, srcs: readonly Uint8Array[]): void {
    this.#vectored(offset, srcs, true);
  }

  /** `fdatasync`: completed writes reach the disk. */
  flush(): void {
    while (libc().fdatasync(this.#live()) < 0) {
      if (errno() !== EINTR) throw ioError("fdatasync", this.path);
    }
  }

  /** Closes the file (further calls throw). */
  close(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }

  /** The open file descriptor (a `DeviceError` once closed). */
  get fd(): number {
    return this.#live();
  }

  #live(): number {
    if (this.#fd < 0) {
      throw new DeviceError(`virtio-blk: image ${this.path} is closed`, {
        code: "ERR_VIRTIO_DEVICE_BLK_CLOSED",
      });
    }
    return this.#fd;
  }

  #vectored(offset: number, bufs: readonly Uint8Array[], write: boolean): void {
    if (bufs.length === 1) {
      // One segment (a 4 KiB read): pread takes the buffer as it is, no iovec to build.
      if (write) this.write(offset, bufs[0]);
      else this.read(offset, bufs[0]);
      return;
    }
    const fd = this.#live();
    let pos = offset;
    for (let first = 0; first < bufs.length; first += IOV_MAX) {
      const count = Math.min(IOV_MAX, bufs.length - first);
      if (this.#iov.length < 4 * count) {
        this.#iov = new Uint32Array(4 * count);
        this.#iovBytes = new Uint8Array(this.#iov.buffer);
      }
      const iov = this.#iov;
      let total = 0;
      for (let i = 0; i < count; i++) {
        const b = bufs[first + i];
        const a = address(b);
        // iov_base, iov_len: two little-endian 64-bit words.
        iov[4 * i] = a >>> 0;
        iov[4 * i + 1] = Math.floor(a / 0x100000000);
        iov[4 * i + 2] = b.length;
        iov[4 * i + 3] = 0;
        total += b.length;
      }
      const l = libc();
      const bytes = this.#iovBytes;
      let n: number;
      do {
        n = Number(
          write
            ? l.pwritev(fd, bytes, count, BigInt(pos))
            : l.preadv(fd, bytes, count, BigInt(pos)),
        );
      } while (n < 0 && errno() === EINTR);
      if (n < 0) throw ioError(write ? "pwritev" : "preadv", this.path);
      if (n < total) {
        // Short (end of file, or a signal midway): finish segment by segment.
        let at = pos;
        for (let i = 0; i < count; i++) {
          const b = bufs[first + i];
          const done = Math.min(b.length, Math.max(0, pos + n - at));
          if (done < b.length) {
            const rest = done === 0 ? b : b.subarray(done);
            if (write) this.write(at + done, rest);
            else this.read(at + done, rest);
          }
          at += b.length;
        }
      }
      pos += total;
    }
  }
}

/**
 * Storage in an image file whose reads, writes and flushes run on Deno's
 * blocking-call threads (`nonblocking` FFI calls to `pread`, `pwrite` and
 * `fdatasync`), so several requests are served at once, as QEMU's thread
 * pool does. It is asynchronous ({@link BlockStorage.isAsync}): the device
 * reads and writes through its own buffers and copies to and from guest
 * memory on the JS thread, so no system call ever writes guest memory after
 * a reset. Worth it for large requests; a 4 KiB request waits for a thread
 * hand-over that {@link PosixFileStorage} does not pay. Error codes are not
 * reported (errno is per thread): a failed call is an I/O error.
 */
export class ThreadedFileStorage implements BlockStorage {
  /** The image path. */
  readonly path: string;
  /** Always true: every call completes on another thread. */
  readonly isAsync = true;
  readonly #file: PosixFileStorage;

  /** Opens `path` read-write, or read-only when `readOnly` (needs `--allow-ffi`). */
  constructor(path: string, readOnly: boolean = false) {
    this.#file = new PosixFileStorage(path, readOnly);
    this.path = path;
    libc();
  }

  /** Size in bytes: when opened, or at the last {@link ThreadedFileStorage.refreshSize}. */
  get size(): number {
    return this.#file.size;
  }

  /** Reads the image's size again; see {@link PosixFileStorage.refreshSize}. */
  refreshSize(): number {
    return this.#file.refreshSize();
  }

  /** Reads `dst.length` bytes at `offset` (zeroes past the end of the file). */
  async read(offset: number, dst: Uint8Array): Promise<void> {
    const fd = this.#file.fd;
    let done = 0;
    while (done < dst.length) {
      const part = done === 0 ? dst : dst.subarray(done);
      const n = Number(
        await libc().pread_nb(fd, part, BigInt(part.length), BigInt(offset + done)),
      );
      if (n < 0) throw ioError("pread", this.path, "the call failed");
      if (n === 0) {
        dst.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes `src` at `offset`. */
  async write(offset: number, src: Uint8Array): Promise<void> {
    const fd = this.#file.fd;
    let done = 0;
    while (done < src.length) {
      const part = done === 0 ? src : src.subarray(done);
      const n = Number(
        await libc().pwrite_nb(fd, part, BigInt(part.length), BigInt(offset + done)),
      );
      if (n <= 0) throw ioError("pwrite", this.path, n < 0 ? "the call failed" : "wrote 0 bytes");
      done += n;
    }
  }

  /** `fdatasync` on a blocking-call thread. */
  async flush(): Promise<void> {
    if ((await libc().fdatasync_nb(this.#file.fd)) < 0) {
      throw ioError("fdatasync", this.path, "the call failed");
    }
  }

  /** Closes the file (further calls throw); wait for pending calls first. */
  close(): void {
    this.#file.close();
  }
}
