/**
 * Where a virtio-blk device keeps its bytes: the small {@link BlockStorage}
 * interface and three implementations, {@link MemoryStorage} (a
 * `Uint8Array`), {@link FileStorage} (an image file, synchronous positioned
 * I/O) and {@link AsyncFileStorage} (an image file, asynchronous positioned
 * I/O over a pool of file handles, so several requests are in flight at once).
 *
 * Storage methods may return a promise or complete synchronously; the device
 * model takes the synchronous fast path when they do (no promise per request).
 * Offsets and lengths handed to storage are always inside `[0, size)`: the
 * device checks every guest request against the capacity first.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./storage.ts";
 *
 * const disk = new MemoryStorage(new Uint8Array(4096));
 * disk.write(512, new Uint8Array([1, 2, 3]));
 * const out = new Uint8Array(3);
 * disk.read(512, out);
 * if (out[2] !== 3) throw new Error("unreachable");
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";

/** A value or a promise of it: storage may complete synchronously or not. */
export type MaybePromise<T> = T | Promise<T>;

/** The answer of `VIRTIO_BLK_T_GET_LIFETIME` (5.2.6: `struct virtio_blk_lifetime`). */
export interface BlkLifetime {
  /** `VIRTIO_BLK_PRE_EOL_INFO_*` (0..3). */
  readonly preEolInfo: number;
  /** SLC wear in 10% steps: 0 undefined, 1..10, 11 exceeded. */
  readonly deviceLifetimeEstTypA: number;
  /** MLC wear, same scale. */
  readonly deviceLifetimeEstTypB: number;
}

/** What a block device reads and writes. Offsets are bytes; the device keeps them in range. */
export interface BlockStorage {
  /** Size in bytes (only whole 512-byte sectors are addressable). */
  readonly size: number;
  /** Fills `dst` from byte `offset`. */
  read(offset: number, dst: Uint8Array): MaybePromise<void>;
  /** Writes `src` at byte `offset`. */
  write(offset: number, src: Uint8Array): MaybePromise<void>;
  /** Makes completed writes durable (fsync / fdatasync). */
  flush(): MaybePromise<void>;
  /** Optional: deallocate `length` bytes at `offset` (reads after it are undefined). */
  discard?(offset: number, length: number): MaybePromise<void>;
  /**
   * Optional: make `length` bytes at `offset` read as zeroes, deallocating them
   * when `unmap` is set and the storage can. Without it the device writes zeroes.
   */
  writeZeroes?(offset: number, length: number, unmap: boolean): MaybePromise<void>;
  /** True when `writeZeroes` with `unmap` may deallocate (sets `write_zeroes_may_unmap`). */
  readonly canUnmap?: boolean;
  /**
   * True when the methods complete asynchronously. The device then reads and
   * writes through its own buffers, so no guest memory is touched after a reset.
   */
  readonly isAsync?: boolean;
}

/** Storage in a `Uint8Array` (tests, RAM disks). Discard and write zeroes clear the bytes. */
export class MemoryStorage implements BlockStorage {
  /** The bytes. */
  readonly bytes: Uint8Array;
  /** Flushes seen (nothing to do, counted for tests). */
  flushes = 0;
  /** Discarded ranges are zeroed: they read back as zeroes. */
  readonly canUnmap: boolean = true;

  /** Storage over `bytes` (not copied). */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Size in bytes. */
  get size(): number {
    return this.bytes.length;
  }

  /** Copies out. */
  read(offset: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }

  /** Copies in. */
  write(offset: number, src: Uint8Array): void {
    this.bytes.set(src, offset);
  }

  /** Counts the flush. */
  flush(): void {
    this.flushes++;
  }

  /** Zeroes the range. */
  discard(offset: number, length: number): void {
    this.bytes.fill(0, offset, offset + length);
  }

  /** Zeroes the range. */
  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    this.bytes.fill(0, offset, offset + length);
  }
}

/** Opens an image file; `readOnly` opens it without write access. */
function openImage(path: string, readOnly: boolean): Deno.FsFile {
  try {
    return Deno.openSync(path, { read: true, write: !readOnly });
  } catch (e) {
    throw new DeviceError(
      `virtio-blk: cannot open image ${path}: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/**
 * Storage in an image file, read and written in place with synchronous
 * positioned I/O (seek, then read or write; JavaScript runs one call at a
 * time, so the pair is atomic). Flush is `fdatasync`. Deno only.
 */
export class FileStorage implements BlockStorage {
  /** The file. */
  readonly file: Deno.FsFile;
  /** Size in bytes when opened. */
  readonly size: number;

  /** Opens `path` read-write, or read-only when `readOnly`. */
  constructor(path: string, readOnly: boolean = false) {
    this.file = openImage(path, readOnly);
    this.size = this.file.statSync().size;
  }

  /** Reads `dst.length` bytes at `offset` (zeroes past the end of the file). */
  read(offset: number, dst: Uint8Array): void {
    this.file.seekSync(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < dst.length) {
      const n = this.file.readSync(dst.subarray(done));
      if (n === null || n === 0) {
        dst.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): void {
    this.file.seekSync(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < src.length) done += this.file.writeSync(src.subarray(done));
  }

  /** `fdatasync`: completed writes reach the disk. */
  flush(): void {
    this.file.syncDataSync();
  }

  /** Closes the file. */
  close(): void {
    this.file.close();
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
  readonly #free: Deno.FsFile[];
  readonly #all: Deno.FsFile[];
  readonly #waiting: ((f: Deno.FsFile) => void)[] = [];

  /** Opens `path` `handles` times (default 4), read-write or read-only. */
  constructor(path: string, options: { readOnly?: boolean; handles?: number } = {}) {
    const n = options.handles ?? 4;
    if (!Number.isInteger(n) || n < 1) throw new DeviceError(`virtio-blk: ${n} file handles`);
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

  async #with<R>(op: (f: Deno.FsFile) => Promise<R>): Promise<R> {
    const f = await this.#take();
    try {
      return await op(f);
    } finally {
      this.#give(f);
    }
  }

  /** Reads `dst.length` bytes at `offset` (zeroes past the end of the file). */
  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.#with(async (f) => {
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
    return this.#with(async (f) => {
      await f.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < src.length) done += await f.write(src.subarray(done));
    });
  }

  /** `fdatasync` (one handle suffices: the data is the file's, not the handle's). */
  flush(): Promise<void> {
    return this.#with((f) => f.syncData());
  }

  /** Closes every handle. */
  close(): void {
    for (const f of this.#all) f.close();
  }
}
