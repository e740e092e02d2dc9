/**
 * Where a virtio-blk device keeps its bytes: the small {@link BlockStorage}
 * interface and {@link MemoryStorage} (a `Uint8Array`). Image files are in
 * `file_storage.ts` (`FileStorage`, synchronous positioned I/O, and
 * `AsyncFileStorage`, asynchronous I/O over a pool of file handles), which
 * needs Deno's file API, in `posix_file_storage.ts` (`PosixFileStorage`,
 * `preadv`/`pwritev` through Deno FFI: one system call per request) and in
 * `uring_file_storage.ts` (`UringFileStorage`, io_uring: one system call per
 * queue pass, through {@link BlockStorage.batch}).
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
  /**
   * Optional: fills each of `dsts` in turn from byte `offset` on (a scatter
   * read, one call for a request of many segments). Without it the device
   * calls `read` once per segment. The array is the device's and reused:
   * do not keep it past the call (a promise may keep the buffers).
   */
  readv?(offset: number, dsts: readonly Uint8Array[]): MaybePromise<void>;
  /** Optional: writes each of `srcs` in turn from byte `offset` on (a gather write); see `readv`. */
  writev?(offset: number, srcs: readonly Uint8Array[]): MaybePromise<void>;
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
  /**
   * Optional: batched I/O for synchronous storage (`UringFileStorage`: one
   * `io_uring_enter` for every request of a queue pass; `FileStorage` and
   * `PosixFileStorage`: a {@link SequentialBatch}, their calls back to back).
   * The device queues the reads and writes of one pass here instead of
   * calling `readv`/`writev`, then submits them all at once before it returns
   * their chains as used. A request alone in its pass (nothing published
   * behind it) is not batched: it goes to `read`/`readv` or `write`/`writev`.
   */
  readonly batch?: BlockBatch;
}

/**
 * Requests queued now and done together by {@link BlockBatch.submit}, straight
 * into (or from) the buffers given: they must stay valid until `submit`
 * returns (a guest's chain stays the device's until it is used). Queued
 * requests may run in any order, and at once.
 */
export interface BlockBatch {
  /** Queues a read filling each of `dsts` in turn from `offset` on; returns its slot. */
  readv(offset: number, dsts: readonly Uint8Array[]): number;
  /** Queues a write of each of `srcs` in turn from `offset` on; returns its slot. */
  writev(offset: number, srcs: readonly Uint8Array[]): number;
  /**
   * Runs every request queued since the last `submit` and waits for them all.
   * Throws when the batch as a whole failed (then every slot is an error).
   */
  submit(): void;
  /** After `submit`: 0 when the request of `slot` moved all its bytes, else a negative errno. */
  result(slot: number): number;
}

/** The storage calls {@link SequentialBatch} makes: synchronous reads and writes. */
export type SequentialBatchStorage = Pick<
  BlockStorage,
  "read" | "write" | "readv" | "writev" | "isAsync"
>;

/** `-EIO`: what {@link SequentialBatch.result} gives for a request whose storage call failed. */
const EIO = 5;
const NO_BYTES = new Uint8Array(0);
/** Buffer slots a {@link SequentialBatch} keeps between passes (more are dropped after a pass). */
const MAX_KEPT_BUFS = 4096;

/**
 * A {@link BlockBatch} for synchronous storage that makes one system call
 * per request, such as `FileStorage` (`pread`/`pwrite`) and
 * `PosixFileStorage` (`preadv`/`pwritev`): the device queues a pass's reads
 * and writes, and {@link SequentialBatch.submit} makes their calls one after
 * another, in the order queued. Nothing is saved in system calls; what it
 * saves is the work between them. Served one by one, every request's chain
 * walk and completion runs between two system calls, and on a machine whose
 * system calls flush the TLB and caches (kernel page-table isolation) that
 * work runs cold after each; here the calls come back to back and the
 * device's work for the pass runs once before them and once after.
 *
 * A call that throws fails its request alone (`result` is `-EIO`); a call
 * that returns a promise breaks the contract (synchronous storage only) and
 * fails its request too, its outcome ignored. Requests queued after
 * `submit` start the next batch.
 */
export class SequentialBatch implements BlockBatch {
  readonly #storage: SequentialBatchStorage;
  // The queued requests (parallel arrays, reused batch after batch).
  readonly #offset: number[] = [];
  readonly #write: boolean[] = [];
  readonly #first: number[] = [];
  readonly #count: number[] = [];
  readonly #results: number[] = [];
  /** Every queued request's buffers, one after another. */
  #bufs: Uint8Array[] = [];
  /** One request's buffers for `readv`/`writev` (reused). */
  readonly #one: Uint8Array[] = [];
  #queued = 0;
  #queuedBufs = 0;
  #submitted = true;
  #requests = 0;
  #submissions = 0;

  /** A batch over `storage`, which must be synchronous. */
  constructor(storage: SequentialBatchStorage) {
    if (storage.isAsync) {
      throw new DeviceError("virtio-blk: a sequential batch needs synchronous storage", {
        code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
      });
    }
    this.#storage = storage;
  }

  /** Requests run so far, over every batch. */
  get requests(): number {
    return this.#requests;
  }

  /** Batches run so far (a `submit` with nothing queued does not count). */
  get submissions(): number {
    return this.#submissions;
  }

  /** Queues a read filling each of `dsts` in turn from `offset` on; returns its slot. */
  readv(offset: number, dsts: readonly Uint8Array[]): number {
    return this.#queue(offset, dsts, false);
  }

  /** Queues a write of each of `srcs` in turn from `offset` on; returns its slot. */
  writev(offset: number, srcs: readonly Uint8Array[]): number {
    return this.#queue(offset, srcs, true);
  }

  #queue(offset: number, bufs: readonly Uint8Array[], write: boolean): number {
    if (this.#submitted) {
      this.#submitted = false;
      this.#queued = 0;
      this.#queuedBufs = 0;
    }
    const slot = this.#queued++;
    this.#offset[slot] = offset;
    this.#write[slot] = write;
    this.#first[slot] = this.#queuedBufs;
    this.#count[slot] = bufs.length;
    for (let i = 0; i < bufs.length; i++) this.#bufs[this.#queuedBufs++] = bufs[i];
    return slot;
  }

  /** Makes every queued request's calls, in order; each request's outcome goes to its slot. */
  submit(): void {
    if (this.#submitted) return;
    this.#submitted = true;
    this.#requests += this.#queued;
    this.#submissions++;
    for (let slot = 0; slot < this.#queued; slot++) this.#results[slot] = this.#run(slot);
    // Let go of the guest's buffers: the batch must not keep a mapping alive; and of the room a
    // pass of very many segments (a hostile driver's) made.
    if (this.#bufs.length > MAX_KEPT_BUFS) this.#bufs = [];
    else this.#bufs.fill(NO_BYTES, 0, this.#queuedBufs);
  }

  /** After `submit`: 0 when the request of `slot` moved all its bytes, else `-EIO`. */
  result(slot: number): number {
    return slot >= 0 && slot < this.#queued ? this.#results[slot] : -EIO;
  }

  #run(slot: number): number {
    const storage = this.#storage;
    const write = this.#write[slot];
    const first = this.#first[slot];
    const count = this.#count[slot];
    const bufs = this.#bufs;
    if (count === 0) return 0;
    const vectored = write ? storage.writev : storage.readv;
    let r: unknown;
    try {
      if (count === 1) {
        r = write
          ? storage.write(this.#offset[slot], bufs[first])
          : storage.read(this.#offset[slot], bufs[first]);
      } else if (vectored !== undefined) {
        const one = this.#one;
        for (let i = 0; i < count; i++) one.push(bufs[first + i]);
        try {
          r = vectored.call(storage, this.#offset[slot], one);
        } finally {
          while (one.length > 0) one.pop();
        }
      } else {
        let pos = this.#offset[slot];
        for (let i = 0; i < count; i++) {
          const b = bufs[first + i];
          r = write ? storage.write(pos, b) : storage.read(pos, b);
          if (r instanceof Promise) break;
          pos += b.length;
        }
      }
    } catch {
      return -EIO;
    }
    if (r instanceof Promise) {
      // Not synchronous after all: the request fails, and its late outcome must not go unhandled.
      r.catch(() => {});
      return -EIO;
    }
    return 0;
  }
}

/** Storage in a `Uint8Array` (tests, RAM disks). Discard and write zeroes clear the bytes. */
export class MemoryStorage implements BlockStorage {
  /** The bytes. */
  readonly bytes: Uint8Array;
  /** Flushes seen (nothing to do, counted for tests). */
  get flushes(): number {
    return this.#flushes;
  }
  #flushes = 0;
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
    this.#flushes++;
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
