/**
 * virtio-blk storage in an image file through Linux io_uring (Deno FFI):
 * {@link UringFileStorage}. The device queues every read and write it takes
 * from a queue in one pass ({@link BlockStorage.batch}), and the storage
 * submits them all and waits for them all with ONE `io_uring_enter` system
 * call, straight into (or from) guest memory, before the device returns the
 * chains as used. At queue depth 32 that is one system call where
 * {@link PosixFileStorage} makes 32; on a kernel whose every system call
 * flushes the TLB (Meltdown PTI without PCID) the JavaScript after each call
 * pays for it too. Single calls (`read`, `write`, `readv`, `writev`,
 * `flush`) and stable writes go through `PosixFileStorage` on the same file.
 *
 * **Deno only, Linux only** (64-bit, io_uring since 5.6). Run with
 * `--allow-ffi`. A kernel with io_uring disabled
 * (`/proc/sys/kernel/io_uring_disabled`, seccomp) refuses the ring:
 * `DeviceError` `ERR_VIRTIO_DEVICE_BLK_URING`, and `PosixFileStorage` is the
 * fall-back. Left out of the npm package.
 *
 * @example
 * ```ts ignore
 * import { BlkDevice } from "./device.ts";
 * import { UringFileStorage } from "./uring_file_storage.ts";
 *
 * const storage = new UringFileStorage("disk.img");
 * const device = new BlkDevice({ storage });
 * // ... serve it; then
 * storage.close();
 * ```
 *
 * @module
 */

import { DeviceError } from "../../errors.ts";
import { lastErrno, type Libc, openLibc } from "../../_libc.ts";
import { address } from "./_address.ts";
import { PosixFileStorage } from "./posix_file_storage.ts";
import type { BlockBatch, BlockStorage } from "./storage.ts";

function unsupported(os: string): DeviceError {
  return new DeviceError(`virtio-blk: UringFileStorage needs Linux; this is ${os}`, {
    code: "ERR_VIRTIO_DEVICE_BLK_PLATFORM",
  });
}

let lib: Libc | undefined;

function libc(): Libc {
  return lib ??= openLibc(unsupported);
}

// The io_uring ABI (include/uapi/linux/io_uring.h; the same on x86-64 and arm64).
/** `__NR_io_uring_setup` and `__NR_io_uring_enter` (one number on every architecture since 5.1). */
const SYS_IO_URING_SETUP = 425n;
const SYS_IO_URING_ENTER = 426n;
/** `struct io_uring_params`: its size and fields. */
const PARAMS_SIZE = 120;
const P_SQ_ENTRIES = 0;
const P_CQ_ENTRIES = 4;
const P_FLAGS = 8;
const P_SQ_OFF = 40;
const P_CQ_OFF = 80;
/** `struct io_sqring_offsets` (at `P_SQ_OFF`) and `struct io_cqring_offsets` (at `P_CQ_OFF`). */
const RING_HEAD = 0;
const RING_TAIL = 4;
const RING_MASK = 8;
const SQ_ARRAY = 24;
const CQ_CQES = 20;
/** mmap offsets of the three areas. */
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_CQ_RING = 0x8000000;
const IORING_OFF_SQES = 0x10000000;
/** `struct io_uring_sqe`: 64 bytes; the fields this storage sets. */
const SQE_SIZE = 64;
const SQE_OPCODE = 0;
const SQE_FD = 4;
const SQE_OFF = 8;
const SQE_ADDR = 16;
const SQE_LEN = 24;
const SQE_RW_FLAGS = 28;
const SQE_USER_DATA = 32;
/** `struct io_uring_cqe`: 16 bytes. */
const CQE_SIZE = 16;
const CQE_USER_DATA = 0;
const CQE_RES = 8;
const IORING_OP_READV = 1;
const IORING_OP_WRITEV = 2;
const IORING_OP_READ = 22;
const IORING_OP_WRITE = 23;
const IORING_ENTER_GETEVENTS = 1;
/** Setup flags: completions run when we wait, by this thread only (fewer interrupts). */
const IORING_SETUP_COOP_TASKRUN = 1 << 8;
const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
const IORING_SETUP_DEFER_TASKRUN = 1 << 13;

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;

const EPERM = 1;
const EINTR = 4;
const EIO = 5;
const EAGAIN = 11;
const EBUSY = 16;
const EINVAL = 22;
const ENOSYS = 38;

/** Default submission ring size; a pass with more requests submits in several rounds. */
const DEFAULT_ENTRIES = 128;

/** A failed ring set-up or submission: `ERR_VIRTIO_DEVICE_BLK_URING`. */
function uringError(what: string, errno: number): DeviceError {
  const name = errno === EPERM
    ? "EPERM: io_uring is disabled (see /proc/sys/kernel/io_uring_disabled)"
    : errno === ENOSYS
    ? "ENOSYS: this kernel has no io_uring"
    : `errno ${errno}`;
  return new DeviceError(`virtio-blk: io_uring ${what} failed: ${name}`, {
    code: "ERR_VIRTIO_DEVICE_BLK_URING",
  });
}

/** The address a pointer holds, as a number (0 for null). */
function addressOf(p: Deno.PointerValue): bigint {
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

/** mmap of one ring area, or a typed error. */
function mapArea(l: Libc, fd: number, size: number, offset: number): Deno.PointerObject {
  const p = l.mmap(null, BigInt(size), PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, BigInt(offset));
  // MAP_FAILED is (void *)-1.
  if (p === null || addressOf(p) === 0xffffffffffffffffn) {
    throw uringError("mmap", lastErrno(l));
  }
  return p;
}

/**
 * Storage in an image file served through one io_uring: the device's
 * requests of a queue pass are submitted and reaped with one
 * `io_uring_enter` ({@link UringFileStorage.batch}). A read past the end of
 * the file reads zeroes; a short transfer is finished with `preadv` /
 * `pwritev`. A completion with an error (`-errno`) fails only its request
 * (the device answers VIRTIO_BLK_S_IOERR).
 */
export class UringFileStorage implements BlockStorage {
  /** The image path. */
  readonly path: string;
  /** The batch the device queues a pass's reads and writes on. */
  readonly batch: BlockBatch;
  readonly #file: PosixFileStorage;
  #ringFd: number;
  readonly #maps: { p: Deno.PointerObject; size: number }[] = [];
  /** The SQ and CQ rings as 32-bit words, the SQE array, the CQEs. */
  readonly #sq: Uint32Array;
  readonly #cq: Uint32Array;
  readonly #sqes: Uint32Array;
  readonly #sqeBytes: Uint8Array;
  readonly #cqes: Int32Array;
  /** Word indexes of the ring fields. */
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqeBase: number;
  readonly #entries: number;
  /** SQEs written since the last enter, and the local tail. */
  #unsubmitted = 0;
  #tail = 0;
  /** Requests of the current batch; SQEs written and completions reaped for it. */
  #count = 0;
  #written = 0;
  #reaped = 0;
  /** Per slot: the result, the bytes asked, the offset, the buffers, an iovec array. */
  #results = new Int32Array(DEFAULT_ENTRIES);
  readonly #want: number[] = [];
  readonly #offsets: number[] = [];
  readonly #writes: boolean[] = [];
  readonly #bufs: Uint8Array[][] = [];
  readonly #iovs: Uint32Array[] = [];
  /** True once `submit` ran: the next queued request starts a new batch. */
  #submitted = true;
  #ringRequests = 0;
  #enters = 0;

  /**
   * Opens `path` read-write, or read-only when `readOnly`, and sets up a
   * ring of `entries` submissions (a power of two, default 128). Needs
   * `--allow-ffi`; `ERR_VIRTIO_DEVICE_BLK_URING` when the kernel refuses io_uring.
   */
  constructor(path: string, readOnly: boolean = false, entries: number = DEFAULT_ENTRIES) {
    if (!Number.isInteger(entries) || entries < 1 || entries > 4096) {
      throw new DeviceError(`virtio-blk: ${entries} io_uring entries (1..4096)`, {
        code: "ERR_VIRTIO_DEVICE_BLK_OPTION",
      });
    }
    this.path = path;
    const l = libc();
    this.#file = new PosixFileStorage(path, readOnly);
    const params = new Uint8Array(PARAMS_SIZE);
    const pv = new DataView(params.buffer);
    const setup = (flags: number): number => {
      params.fill(0);
      pv.setUint32(P_FLAGS, flags, true);
      return l.io_uring_setup(SYS_IO_URING_SETUP, entries, params);
    };
    let fd = setup(
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    );
    // Kernels before 6.1 refuse the flags: a plain ring then.
    if (fd < 0 && lastErrno(l) === EINVAL) fd = setup(0);
    if (fd < 0) {
      const e = uringError("setup", lastErrno(l));
      this.#file.close();
      throw e;
    }
    this.#ringFd = fd;
    try {
      const sqEntries = pv.getUint32(P_SQ_ENTRIES, true);
      const cqEntries = pv.getUint32(P_CQ_ENTRIES, true);
      const sqSize = pv.getUint32(P_SQ_OFF + SQ_ARRAY, true) + 4 * sqEntries;
      const cqSize = pv.getUint32(P_CQ_OFF + CQ_CQES, true) + CQE_SIZE * cqEntries;
      const sqesSize = SQE_SIZE * sqEntries;
      const map = (size: number, off: number) => {
        const p = mapArea(l, fd, size, off);
        this.#maps.push({ p, size });
        return Deno.UnsafePointerView.getArrayBuffer(p, size);
      };
      const sq = map(sqSize, IORING_OFF_SQ_RING);
      const cq = map(cqSize, IORING_OFF_CQ_RING);
      const sqes = map(sqesSize, IORING_OFF_SQES);
      this.#sq = new Uint32Array(sq);
      this.#cq = new Uint32Array(cq);
      this.#sqes = new Uint32Array(sqes);
      this.#sqeBytes = new Uint8Array(sqes);
      this.#cqes = new Int32Array(cq);
      const word = (base: number, field: number) => pv.getUint32(base + field, true) / 4;
      this.#sqTail = word(P_SQ_OFF, RING_TAIL);
      this.#sqMask = this.#sq[word(P_SQ_OFF, RING_MASK)];
      this.#cqHead = word(P_CQ_OFF, RING_HEAD);
      this.#cqTail = word(P_CQ_OFF, RING_TAIL);
      this.#cqMask = this.#cq[word(P_CQ_OFF, RING_MASK)];
      this.#cqeBase = word(P_CQ_OFF, CQ_CQES);
      this.#entries = sqEntries;
      this.#tail = this.#sq[this.#sqTail];
      // The SQ array maps ring positions to SQEs: position i uses SQE i, once and for all.
      const array = word(P_SQ_OFF, SQ_ARRAY);
      for (let i = 0; i < sqEntries; i++) this.#sq[array + i] = i;
    } catch (e) {
      this.#release();
      throw e;
    }
    this.batch = {
      readv: (offset, dsts) => this.#queue(offset, dsts, false),
      writev: (offset, srcs) => this.#queue(offset, srcs, true),
      submit: () => this.#submit(),
      result: (slot) => this.#results[slot],
    };
  }

  /**
   * Requests that went through the ring so far (those of passes of two or
   * more; a request alone in its pass is one `preadv`/`pwritev`).
   */
  get ringRequests(): number {
    return this.#ringRequests;
  }

  /** `io_uring_enter` calls made so far (retries after EINTR included). */
  get enters(): number {
    return this.#enters;
  }

  /** Size in bytes: when opened, or at the last {@link UringFileStorage.refreshSize}. */
  get size(): number {
    return this.#file.size;
  }

  /** Reads the image's size again; see {@link PosixFileStorage.refreshSize}. */
  refreshSize(): number {
    return this.#file.refreshSize();
  }

  /** Reads `dst.length` bytes at `offset` (`pread`). */
  read(offset: number, dst: Uint8Array): void {
    this.#file.read(offset, dst);
  }

  /** Writes `src` at `offset` (`pwrite`). */
  write(offset: number, src: Uint8Array): void {
    this.#file.write(offset, src);
  }

  /** One `preadv` (outside a batch). */
  readv(offset: number, dsts: readonly Uint8Array[]): void {
    this.#file.readv(offset, dsts);
  }

  /** One `pwritev` (outside a batch). */
  writev(offset: number, srcs: readonly Uint8Array[]): void {
    this.#file.writev(offset, srcs);
  }

  /** `fdatasync`. */
  flush(): void {
    this.#file.flush();
  }

  /** Unmaps the ring, closes it and the file (further calls throw). */
  close(): void {
    if (this.#ringFd < 0) return;
    this.#release();
  }

  #release(): void {
    const l = libc();
    for (const m of this.#maps) l.munmap(m.p, BigInt(m.size));
    this.#maps.length = 0;
    if (this.#ringFd >= 0) l.close(this.#ringFd);
    this.#ringFd = -1;
    this.#file.close();
  }

  /** Records a request of the batch (its SQE is written at submit); returns its slot. */
  #queue(offset: number, bufs: readonly Uint8Array[], write: boolean): number {
    this.#file.fd; // throws once closed
    if (this.#submitted) {
      this.#submitted = false;
      this.#count = 0;
    }
    const slot = this.#count++;
    if (slot >= this.#results.length) {
      const grown = new Int32Array(2 * this.#results.length);
      grown.set(this.#results);
      this.#results = grown;
    }
    let total = 0;
    const keep = this.#bufs[slot] ??= [];
    keep.length = 0;
    for (let i = 0; i < bufs.length; i++) {
      keep.push(bufs[i]);
      total += bufs[i].length;
    }
    this.#want[slot] = total;
    this.#offsets[slot] = offset;
    this.#writes[slot] = write;
    this.#results[slot] = 0;
    return slot;
  }

  /** Writes the SQE of `slot` at the local tail. */
  #writeSqe(fd: number, slot: number): void {
    const bufs = this.#bufs[slot];
    const write = this.#writes[slot];
    const offset = this.#offsets[slot];
    const w = (this.#tail & this.#sqMask) * (SQE_SIZE / 4);
    const sqes = this.#sqes;
    sqes.fill(0, w, w + SQE_SIZE / 4);
    let addr: number;
    let len: number;
    let op: number;
    if (bufs.length === 1) {
      // One segment (a 4 KiB request): the buffer itself, no iovec.
      addr = address(bufs[0]);
      len = bufs[0].length;
      op = write ? IORING_OP_WRITE : IORING_OP_READ;
    } else {
      let iov = this.#iovs[slot];
      if (iov === undefined || iov.length < 4 * bufs.length) {
        iov = this.#iovs[slot] = new Uint32Array(4 * Math.max(16, bufs.length));
      }
      for (let i = 0; i < bufs.length; i++) {
        const a = address(bufs[i]);
        // struct iovec { iov_base, iov_len }: two little-endian 64-bit words.
        iov[4 * i] = a >>> 0;
        iov[4 * i + 1] = Math.floor(a / 0x100000000);
        iov[4 * i + 2] = bufs[i].length;
        iov[4 * i + 3] = 0;
      }
      addr = address(new Uint8Array(iov.buffer));
      len = bufs.length;
      op = write ? IORING_OP_WRITEV : IORING_OP_READV;
    }
    this.#sqeBytes[4 * w + SQE_OPCODE] = op;
    sqes[w + SQE_FD / 4] = fd;
    sqes[w + SQE_OFF / 4] = offset >>> 0;
    sqes[w + SQE_OFF / 4 + 1] = Math.floor(offset / 0x100000000);
    sqes[w + SQE_ADDR / 4] = addr >>> 0;
    sqes[w + SQE_ADDR / 4 + 1] = Math.floor(addr / 0x100000000);
    sqes[w + SQE_LEN / 4] = len;
    sqes[w + SQE_RW_FLAGS / 4] = 0;
    sqes[w + SQE_USER_DATA / 4] = slot;
    this.#tail = (this.#tail + 1) >>> 0;
    this.#unsubmitted++;
    this.#written++;
  }

  /** Submits what is queued and waits until every queued request has completed. */
  #enter(): void {
    const l = libc();
    // Publish the new tail (the system call that follows orders the stores before the kernel reads them).
    this.#sq[this.#sqTail] = this.#tail;
    const cq = this.#cq;
    const cqes = this.#cqes;
    while (this.#reaped < this.#written) {
      if (this.#unsubmitted > 0 || cq[this.#cqTail] === cq[this.#cqHead]) {
        const r = l.io_uring_enter(
          SYS_IO_URING_ENTER,
          this.#ringFd,
          this.#unsubmitted,
          this.#written - this.#reaped,
          IORING_ENTER_GETEVENTS,
          null,
          0n,
        );
        this.#enters++;
        if (r < 0) {
          const e = lastErrno(l);
          if (e === EINTR || e === EAGAIN || e === EBUSY) continue;
          throw uringError("enter", e);
        }
        this.#unsubmitted -= r;
      }
      let head = cq[this.#cqHead];
      const tail = cq[this.#cqTail];
      while (head !== tail) {
        const at = this.#cqeBase + (head & this.#cqMask) * (CQE_SIZE / 4);
        const slot = cqes[at + CQE_USER_DATA / 4];
        this.#results[slot] = cqes[at + CQE_RES / 4];
        this.#reaped++;
        head = (head + 1) >>> 0;
      }
      cq[this.#cqHead] = head;
    }
  }

  /**
   * Runs the batch: one request alone is one `preadv`/`pwritev` (a system
   * call either way, and no ring to go through); more are written to the
   * ring and submitted with one `io_uring_enter` (one per `entries`
   * requests). Then finishes short transfers; results become 0 or -errno.
   */
  #submit(): void {
    if (this.#submitted) return;
    this.#submitted = true;
    const n = this.#count;
    if (n === 1) {
      this.#results[0] = this.#direct(0);
      return;
    }
    this.#written = 0;
    this.#reaped = 0;
    this.#ringRequests += n;
    try {
      const fd = this.#file.fd;
      for (let slot = 0; slot < n; slot++) {
        // Every SQE of the ring in use: run them now, the rest in another round.
        if (this.#written - this.#reaped >= this.#entries) this.#enter();
        this.#writeSqe(fd, slot);
      }
      this.#enter();
    } catch (e) {
      // The ring is in an unknown state: count nothing as done, drop what is queued.
      this.#results.fill(-EIO, 0, n);
      this.#unsubmitted = 0;
      this.#tail = this.#sq[this.#sqTail];
      throw e;
    }
    for (let slot = 0; slot < n; slot++) {
      const r = this.#results[slot];
      if (r < 0) continue;
      this.#results[slot] = r >= this.#want[slot] ? 0 : this.#finishShort(slot, r);
    }
  }

  /** The request of `slot` as one `preadv`/`pwritev`: 0, or -errno. */
  #direct(slot: number): number {
    try {
      if (this.#writes[slot]) this.#file.writev(this.#offsets[slot], this.#bufs[slot]);
      else this.#file.readv(this.#offsets[slot], this.#bufs[slot]);
      return 0;
    } catch {
      // errno of the call that failed (nothing called libc since on this thread).
      return -(lastErrno(libc()) || EIO);
    }
  }

  /** A transfer that moved `done` of its bytes: the rest with `preadv`/`pwritev` (zeroes past the end). */
  #finishShort(slot: number, done: number): number {
    const bufs = this.#bufs[slot];
    const rest: Uint8Array[] = [];
    let skip = done;
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip === 0 ? b : b.subarray(skip));
      skip = 0;
    }
    try {
      if (this.#writes[slot]) this.#file.writev(this.#offsets[slot] + done, rest);
      else this.#file.readv(this.#offsets[slot] + done, rest);
      return 0;
    } catch {
      return -EIO;
    }
  }
}
