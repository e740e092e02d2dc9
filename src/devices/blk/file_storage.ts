/**
 * virtio-blk storage in image files: {@link FileStorage} (synchronous
 * positioned I/O, one `pread`/`pwrite` per call through `node:fs`) and
 * {@link AsyncFileStorage} (a pool of handles). Deno only: they use Deno's
 * file API, and are left out of the npm package.
 *
 * @module
 */

import type * as NodeFs from "node:fs";
import { DeviceError } from "../../errors.ts";
import { type BlockStorage, type MaybePromise, SequentialBatch } from "./storage.ts";

/** The error for an image that cannot be opened. */
function openError(path: string, e: unknown): DeviceError {
  return new DeviceError(
    `virtio-blk: cannot open image ${path}: ${e instanceof Error ? e.message : e}`,
    { code: "ERR_VIRTIO_DEVICE_BLK_OPEN", cause: e },
  );
}

/**
 * `node:fs`, loaded when the first {@link FileStorage} opens its image rather
 * than by a static import: this module is part of `devices/blk/mod.ts`, which
 * a browser bundle (the web page of `deno task web`) also takes in, and a
 * browser cannot load `node:fs`.
 */
let fs: typeof NodeFs;

function loadNodeFs(): typeof NodeFs {
  const p = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const m = p?.getBuiltinModule?.("node:fs") as typeof NodeFs | undefined;
  if (m === undefined) {
    throw new DeviceError("virtio-blk: FileStorage needs node:fs (Deno or Node)", {
      code: "ERR_VIRTIO_DEVICE_BLK_OPEN",
    });
  }
  return m;
}

/** Opens an image file; `readOnly` opens it without write access. */
function openImage(path: string, readOnly: boolean): Deno.FsFile {
  try {
    return Deno.openSync(path, { read: true, write: !readOnly });
  } catch (e) {
    throw openError(path, e);
  }
}

/**
 * A failed host call on an image as a {@link DeviceError} with code
 * `ERR_VIRTIO_DEVICE_BLK_IO` (the host's error, with its errno name such
 * as ENOSPC, is the cause). The device completes the request with
 * VIRTIO_BLK_S_IOERR; a caller of the storage gets a typed error.
 */
function ioError(call: string, path: string, e: unknown): DeviceError {
  const errno = (e as { code?: unknown })?.code;
  const what = e instanceof Error ? e.message : String(e);
  return new DeviceError(
    `virtio-blk: ${call} on image ${path} failed: ${what}${
      typeof errno === "string" && !what.includes(errno) ? ` (${errno})` : ""
    }`,
    { code: "ERR_VIRTIO_DEVICE_BLK_IO", cause: e },
  );
}

/** A write that made no progress: an error, never a loop that spins. */
function noProgress(path: string): DeviceError {
  return new DeviceError(`virtio-blk: write on image ${path} wrote 0 bytes`, {
    code: "ERR_VIRTIO_DEVICE_BLK_IO",
  });
}

/**
 * Storage in an image file, read and written in place with synchronous
 * positioned I/O: `node:fs` `readSync`/`writeSync` with a position, which
 * Deno serves as one `pread`/`pwrite` system call (no seek, no file position
 * shared between calls), and needs no `--allow-ffi`. Flush is `fdatasync`.
 * Deno only (left out of the npm package with Deno's file API).
 */
export class FileStorage implements BlockStorage {
  /** The open file descriptor (`node:fs`). */
  readonly fd: number;
  /** The image's path (for error messages). */
  readonly path: string;
  /** Size in bytes when opened. */
  readonly size: number;
  readonly #readOnly: boolean;
  #file: Deno.FsFile | undefined;
  /**
   * The device's batch for a queue pass of several requests: their `pread`s
   * and `pwrite`s back to back, the device's work for them before and after
   * ({@link SequentialBatch}).
   */
  readonly batch: SequentialBatch = new SequentialBatch(this);

  /** Opens `path` read-write, or read-only when `readOnly`. */
  constructor(path: string, readOnly: boolean = false) {
    this.path = path;
    this.#readOnly = readOnly;
    try {
      fs ??= loadNodeFs();
      this.fd = fs.openSync(path, readOnly ? "r" : "r+");
    } catch (e) {
      throw openError(path, e);
    }
    try {
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      fs.closeSync(this.fd);
      throw openError(path, e);
    }
  }

  /**
   * The image as a `Deno.FsFile`: a second handle on the same file, opened
   * on first use (reads and writes go through {@link FileStorage.fd}); closed
   * by {@link FileStorage.close}.
   */
  get file(): Deno.FsFile {
    return this.#file ??= openImage(this.path, this.#readOnly);
  }

  /** Reads `dst.length` bytes at `offset` (zeroes past the end of the file): one `pread`. */
  read(offset: number, dst: Uint8Array): void {
    const len = dst.length;
    let done = 0;
    try {
      while (done < len) {
        const n = fs.readSync(this.fd, dst, done, len - done, offset + done);
        if (n === 0) {
          dst.fill(0, done);
          return;
        }
        done += n;
      }
    } catch (e) {
      throw ioError("read", this.path, e);
    }
  }

  /** Writes `src` at `offset`: one `pwrite`. */
  write(offset: number, src: Uint8Array): void {
    const len = src.length;
    let done = 0;
    try {
      while (done < len) {
        const n = fs.writeSync(this.fd, src, done, len - done, offset + done);
        if (n <= 0) break;
        done += n;
      }
    } catch (e) {
      throw ioError("write", this.path, e);
    }
    if (done < len) throw noProgress(this.path);
  }

  /** `fdatasync`: completed writes reach the disk. */
  flush(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw ioError("fdatasync", this.path, e);
    }
  }

  /** Closes the file. */
  close(): void {
    fs.closeSync(this.fd);
    this.#file?.close();
    this.#file = undefined;
  }
}

/**
 * Storage in an image file with asynchronous positioned I/O. Each operation
 * takes one handle of a pool (every handle has its own file position, so a
 * seek and the read or write after it never interleave with another
 * request's), which lets `handles` requests run at once. Deno only.
 */
export class AsyncFileStorage implements BlockStorage {
  /** Size in bytes when opened. */
  readonly size: number;
  /** Completes asynchronously. */
  readonly isAsync: boolean = true;
  /** The image's path (for error messages). */
  readonly path: string;
  readonly #free: Deno.FsFile[];
  readonly #all: Deno.FsFile[];
  readonly #waiting: ((f: Deno.FsFile) => void)[] = [];

  /** Opens `path` `handles` times (default 4), read-write or read-only. */
  constructor(path: string, options: { readOnly?: boolean; handles?: number } = {}) {
    const n = options.handles ?? 4;
    if (!Number.isInteger(n) || n < 1) {
      throw new DeviceError(`virtio-blk: ${n} file handles (1 or more)`, {
        code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
      });
    }
    this.path = path;
    this.#all = [];
    for (let i = 0; i < n; i++) this.#all.push(openImage(path, options.readOnly ?? false));
    this.#free = [...this.#all];
    this.size = this.#all[0].statSync().size;
  }

  #take(): MaybePromise<Deno.FsFile> {
    const f = this.#free.pop();
    if (f !== undefined) return f;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #give(f: Deno.FsFile): void {
    const w = this.#waiting.shift();
    if (w !== undefined) w(f);
    else this.#free.push(f);
  }

  async #with<R>(call: string, op: (f: Deno.FsFile) => Promise<R>): Promise<R> {
    const f = await this.#take();
    try {
      return await op(f);
    } catch (e) {
      throw e instanceof DeviceError ? e : ioError(call, this.path, e);
    } finally {
      this.#give(f);
    }
  }

  /** Reads `dst.length` bytes at `offset` (zeroes past the end of the file). */
  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.#with("read", async (f) => {
      await f.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < dst.length) {
        const n = await f.read(dst.subarray(done));
        if (n === null || n === 0) {
          dst.fill(0, done);
          return;
        }
        done += n;
      }
    });
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): Promise<void> {
    return this.#with("write", async (f) => {
      await f.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < src.length) {
        const n = await f.write(src.subarray(done));
        if (n <= 0) throw noProgress(this.path);
        done += n;
      }
    });
  }

  /** `fdatasync` (one handle suffices: the data is the file's, not the handle's). */
  flush(): Promise<void> {
    return this.#with("fdatasync", (f) => f.syncData());
  }

  /** Closes every handle. */
  close(): void {
    for (const f of this.#all) f.close();
  }
}
