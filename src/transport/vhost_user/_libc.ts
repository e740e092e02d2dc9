/**
 * The few libc calls vhost-user needs, through Deno FFI: Unix sockets with
 * file descriptor passing (`SCM_RIGHTS`), `mmap` of shared memory, eventfds,
 * `poll`, memfds.
 *
 * **Deno only, Linux on 64-bit x86 or Arm only.** It needs `--allow-ffi`
 * (and `--allow-read`/`--allow-write` for socket paths). Struct layouts
 * (`msghdr`, `cmsghdr`, `sockaddr_un`, `pollfd`) and constants are those of
 * 64-bit Linux with glibc or musl.
 *
 * Calls that may block are made in one of two ways so that the JavaScript
 * event loop never stalls: on file descriptors set `O_NONBLOCK` (they return
 * "would block" instead of waiting), or, for {@link pollAsync}, as an FFI
 * symbol declared `nonblocking: true` that runs on a worker thread and
 * returns a promise. errno is read right after a synchronous call through
 * `__errno_location`, which is exact since synchronous calls run on the
 * JavaScript thread.
 *
 * The library is the one binding of `src/_libc.ts`, opened lazily, on first
 * use, so importing this module needs no permission.
 *
 * @example
 * ```ts ignore
 * import { eventfd, readEventfd, writeEventfd, closeFd } from "./_libc.ts";
 * const fd = eventfd();
 * writeEventfd(fd, 1n);
 * console.log(readEventfd(fd)); // 1n
 * closeFd(fd);
 * ```
 *
 * @module
 */

import { TransportError } from "../../errors.ts";
import { lastErrno, type Libc, openLibc } from "../../_libc.ts";

/** A failed libc call: names the call and errno. */
export class LibcError extends TransportError {
  /** The default code of this class: `ERR_VIRTIO_TRANSPORT_LIBC`. */
  static override readonly defaultCode: string = "ERR_VIRTIO_TRANSPORT_LIBC";
  /** The libc function that failed. */
  readonly call: string;
  /** errno after the call. */
  readonly errno: number;
  /** Creates the error for `call` failing with `errno`. */
  constructor(call: string, errno: number, detail?: string) {
    super(`${call} failed: ${errnoName(errno)} (errno ${errno})${detail ? `: ${detail}` : ""}`, {
      code: `ERR_VIRTIO_TRANSPORT_LIBC_${ERRNO_NAMES[errno] ?? errno}`,
    });
    this.call = call;
    this.errno = errno;
  }
}

/** `EINTR`: interrupted call. */
export const EINTR: number = 4;
/** `EBADF`: bad file descriptor. */
export const EBADF: number = 9;
/** `EAGAIN` / `EWOULDBLOCK`: the call would block. */
export const EAGAIN: number = 11;
/** `EINVAL`: invalid argument. */
export const EINVAL: number = 22;
/** `EPIPE`: the peer closed the connection. */
export const EPIPE: number = 32;
/** `ECONNRESET`: the peer reset the connection. */
export const ECONNRESET: number = 104;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  32: "EPIPE",
  98: "EADDRINUSE",
  104: "ECONNRESET",
  111: "ECONNREFUSED",
};

/** The symbolic name of an errno value (`EAGAIN`), or `errno N`. */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/** `POLLIN`: data to read. */
export const POLLIN: number = 0x1;
/** `POLLOUT`: writing will not block. */
export const POLLOUT: number = 0x4;
/** `POLLERR`: error condition. */
export const POLLERR: number = 0x8;
/** `POLLHUP`: hang up. */
export const POLLHUP: number = 0x10;
/** `POLLNVAL`: the fd is not open. */
export const POLLNVAL: number = 0x20;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_CTRUNC = 0x8;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0x800;
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
const MFD_CLOEXEC = 1;

/** `PROT_READ`. */
export const PROT_READ: number = 1;
/** `PROT_WRITE`. */
export const PROT_WRITE: number = 2;
const MAP_SHARED = 1;

function open(): Libc {
  return openLibc((os) =>
    new TransportError(`vhost-user needs Linux; this is ${os}`, {
      code: "ERR_VIRTIO_TRANSPORT_LIBC_UNSUPPORTED_OS",
    })
  );
}

/** errno of the last failed synchronous call on this thread. */
export function errno(): number {
  return lastErrno(open());
}

function fail(call: string, detail?: string): never {
  throw new LibcError(call, errno(), detail);
}

const encoder = new TextEncoder();

function sockaddrUn(path: string): Uint8Array {
  const bytes = encoder.encode(path);
  // sun_family (2 bytes) + sun_path[108], NUL-terminated.
  if (bytes.length >= 108) {
    throw new TransportError(`socket path is ${bytes.length} bytes; Unix sockets allow 107`, {
      code: "ERR_VIRTIO_TRANSPORT_LIBC_PATH_TOO_LONG",
    });
  }
  const sa = new Uint8Array(110);
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true);
  sa.set(bytes, 2);
  return sa;
}

/** A new non-blocking, close-on-exec Unix stream socket. */
export function socketUnix(): number {
  const fd = open().socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  return fd;
}

/** A connected pair of non-blocking Unix stream sockets (for tests and in-process links). */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  const r = open().socketpair(
    AF_UNIX,
    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
    new Uint8Array(fds.buffer),
  );
  if (r < 0) fail("socketpair");
  return [fds[0], fds[1]];
}

/** Binds `fd` to the filesystem path `path` and listens with `backlog`. */
export function bindListen(fd: number, path: string, backlog: number = 1): void {
  bindUnix(fd, path);
  if (open().listen(fd, backlog) < 0) fail("listen", path);
}

/** Binds `fd` to `path` (a name in the abstract namespace when it starts with NUL). */
export function bindUnix(fd: number, path: string): void {
  const sa = sockaddrUn(path);
  if (open().bind(fd, sa, sa.length) < 0) fail("bind", path.replaceAll("\0", "@"));
}

/** Accepts a connection as a non-blocking socket; -1 when none is pending. */
export function accept(fd: number): number {
  const c = open().accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return -1;
    throw new LibcError("accept4", e);
  }
  return c;
}

/** Connects the Unix socket `fd` to `path` (immediate for Unix sockets, or an error). */
export function connectUnix(fd: number, path: string): void {
  const sa = sockaddrUn(path);
  if (open().connect(fd, sa, sa.length) < 0) fail("connect", path);
}

/** Most file descriptors one message may carry (vhost-user's limit is 8; room for more). */
export const MAX_FDS: number = 32;
const CMSG_HDR = 16; // cmsg_len (size_t), cmsg_level, cmsg_type
const CONTROL_LEN = CMSG_HDR + MAX_FDS * 4;

// Reused buffers: one message in flight at a time on the JS thread.
const msghdr = new Uint8Array(56);
const msgView = new DataView(msghdr.buffer);
const iov = new Uint8Array(16);
const iovView = new DataView(iov.buffer);
const control = new Uint8Array(CONTROL_LEN);
const controlView = new DataView(control.buffer);

function ptrValue(buf: Uint8Array): bigint {
  const p = Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>);
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
}

function setupMsg(buf: Uint8Array, controlLen: number): void {
  msghdr.fill(0);
  iovView.setBigUint64(0, ptrValue(buf), true);
  iovView.setBigUint64(8, BigInt(buf.length), true);
  msgView.setBigUint64(16, ptrValue(iov), true); // msg_iov
  msgView.setBigUint64(24, 1n, true); // msg_iovlen
  msgView.setBigUint64(32, controlLen === 0 ? 0n : ptrValue(control), true); // msg_control
  msgView.setBigUint64(40, BigInt(controlLen), true); // msg_controllen
}

/** The result of {@link recvWithFds}. */
export interface Received {
  /** Bytes read: 0 at end of stream, -1 when nothing is ready. */
  readonly n: number;
  /** File descriptors that came with the bytes (close them when done). */
  readonly fds: number[];
  /** True when the kernel dropped descriptors for lack of control space. */
  readonly truncated: boolean;
}

/**
 * Reads up to `buf.length` bytes from the socket `fd` with any file
 * descriptors passed alongside (`SCM_RIGHTS`, received close-on-exec).
 * A connection reset by the peer reads as the end of the stream (0).
 */
export function recvWithFds(fd: number, buf: Uint8Array): Received {
  setupMsg(buf, CONTROL_LEN);
  control.fill(0);
  const n = Number(open().recvmsg(fd, msghdr, MSG_CMSG_CLOEXEC));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return { n: -1, fds: [], truncated: false };
    // The peer closed with data unread: for a reader, the stream has ended.
    if (e === ECONNRESET) return { n: 0, fds: [], truncated: false };
    throw new LibcError("recvmsg", e);
  }
  const fds: number[] = [];
  const controlLen = Number(msgView.getBigUint64(40, true));
  let off = 0;
  while (off + CMSG_HDR <= controlLen) {
    const len = Number(controlView.getBigUint64(off, true));
    if (len < CMSG_HDR || off + len > CONTROL_LEN) break;
    const level = controlView.getInt32(off + 8, true);
    const type = controlView.getInt32(off + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) {
        fds.push(controlView.getInt32(p, true));
      }
    }
    off += (len + 7) & ~7;
  }
  const flags = msgView.getInt32(48, true);
  return { n, fds, truncated: (flags & MSG_CTRUNC) !== 0 };
}

/**
 * Writes `buf` to the socket `fd` with `fds` attached (`SCM_RIGHTS`).
 * Returns the bytes written, or -1 when the socket buffer is full.
 */
export function sendWithFds(fd: number, buf: Uint8Array, fds: readonly number[] = []): number {
  if (fds.length > MAX_FDS) {
    throw new TransportError(`${fds.length} fds in one message`, {
      code: "ERR_VIRTIO_TRANSPORT_LIBC_TOO_MANY_FDS",
    });
  }
  let controlLen = 0;
  if (fds.length > 0) {
    control.fill(0);
    const len = CMSG_HDR + 4 * fds.length;
    controlView.setBigUint64(0, BigInt(len), true);
    controlView.setInt32(8, SOL_SOCKET, true);
    controlView.setInt32(12, SCM_RIGHTS, true);
    fds.forEach((f, i) => controlView.setInt32(CMSG_HDR + 4 * i, f, true));
    controlLen = (len + 7) & ~7;
  }
  setupMsg(buf, controlLen);
  const n = Number(open().sendmsg(fd, msghdr, MSG_NOSIGNAL));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return -1;
    throw new LibcError("sendmsg", e);
  }
  return n;
}

/** `read(2)`: bytes read, 0 at end of file, -1 when it would block. */
export function readFd(fd: number, buf: Uint8Array): number {
  const n = Number(open().read(fd, buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return -1;
    throw new LibcError("read", e);
  }
  return n;
}

/** `write(2)`: bytes written, -1 when it would block. */
export function writeFd(fd: number, buf: Uint8Array): number {
  const n = Number(open().write(fd, buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return -1;
    throw new LibcError("write", e);
  }
  return n;
}

/** Closes `fd`, ignoring errors (the descriptor is gone either way). */
export function closeFd(fd: number): void {
  if (fd >= 0) open().close(fd);
}

/** Duplicates `fd` (close-on-exec is not set on the copy). */
export function dupFd(fd: number): number {
  const r = open().dup(fd);
  if (r < 0) fail("dup");
  return r;
}

/** Sets `O_NONBLOCK` on `fd`; throws {@link LibcError} (EBADF) for a bad descriptor. */
export function setNonblocking(fd: number): void {
  const l = open();
  const flags = l.fcntl(fd, F_GETFL, 0);
  if (flags < 0) fail("fcntl(F_GETFL)");
  if ((flags & O_NONBLOCK) === 0 && l.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    fail("fcntl(F_SETFL)");
  }
}

/** A new non-blocking, close-on-exec eventfd with counter `initial`. */
export function eventfd(initial: number = 0): number {
  const fd = open().eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) fail("eventfd");
  return fd;
}

const counter = new Uint8Array(8);
const counterView = new DataView(counter.buffer);

/** Reads and clears an eventfd's counter; `null` when it is zero (would block). */
export function readEventfd(fd: number): bigint | null {
  const n = readFd(fd, counter);
  if (n !== 8) return null;
  return counterView.getBigUint64(0, true);
}

/** Adds `value` to an eventfd's counter (a kick or a call). Returns false if it would block. */
export function writeEventfd(fd: number, value: bigint = 1n): boolean {
  counterView.setBigUint64(0, value, true);
  return writeFd(fd, counter) === 8;
}

/** One entry of a poll set. */
export interface PollEntry {
  /** The file descriptor. */
  fd: number;
  /** Requested events (`POLLIN`...). */
  events: number;
  /** Returned events, filled in by the poll call. */
  revents: number;
}

/**
 * The `struct pollfd[]` of the synchronous polls, reused (they run on the
 * JavaScript thread one at a time): a kick served through
 * {@link pollBrief} allocates nothing here.
 */
let syncPollBuf = new Uint8Array(8 * 8);
let syncPollView = new DataView(syncPollBuf.buffer);

/** `entries` as `struct pollfd[]`: in `buf` when it is big enough (synchronous calls), else new. */
function pollBuffer(entries: readonly PollEntry[], reuse: boolean = false): Uint8Array {
  const bytes = 8 * Math.max(1, entries.length);
  let buf: Uint8Array;
  let v: DataView;
  if (reuse) {
    if (syncPollBuf.length < bytes) {
      syncPollBuf = new Uint8Array(bytes);
      syncPollView = new DataView(syncPollBuf.buffer);
    }
    buf = syncPollBuf;
    v = syncPollView;
  } else {
    buf = new Uint8Array(bytes);
    v = new DataView(buf.buffer);
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    v.setInt32(8 * i, e.fd, true);
    v.setInt16(8 * i + 4, e.events, true);
    v.setInt16(8 * i + 6, 0, true);
  }
  return buf;
}

function pollResult(entries: PollEntry[], buf: Uint8Array): void {
  const v = buf === syncPollBuf ? syncPollView : new DataView(buf.buffer);
  for (let i = 0; i < entries.length; i++) entries[i].revents = v.getUint16(8 * i + 6, true);
}

/** `poll(2)` on the JS thread: use a timeout of 0 (or very short) only. Returns ready entries. */
export function pollSync(entries: PollEntry[], timeoutMs: number): number {
  const buf = pollBuffer(entries, true);
  const r = open().poll(buf, BigInt(entries.length), timeoutMs);
  if (r < 0) {
    const e = errno();
    if (e === EINTR) return 0;
    throw new LibcError("poll", e);
  }
  pollResult(entries, buf);
  return r;
}

const timespec = new BigInt64Array(2);
const timespecBytes = new Uint8Array(timespec.buffer);

/**
 * `ppoll(2)` on the JS thread for at most `timeoutUs` microseconds (no
 * signal mask change). Blocks the event loop meanwhile, so keep the timeout
 * well under a millisecond unless the process does nothing else (the
 * vhost-user-blk example waits 2 ms); it costs no CPU while it sleeps, and wakes as
 * fast as the kernel can (one thread wake-up, where {@link pollAsync} needs
 * two: the worker's, then the JS thread's). Returns ready entries (0 on
 * timeout or interruption).
 */
export function pollBrief(entries: PollEntry[], timeoutUs: number): number {
  const buf = pollBuffer(entries, true);
  const us = Math.max(0, Math.floor(timeoutUs));
  timespec[0] = BigInt(Math.floor(us / 1_000_000));
  timespec[1] = BigInt((us % 1_000_000) * 1000);
  const r = open().ppoll(buf, BigInt(entries.length), timespecBytes, null);
  if (r < 0) {
    const e = errno();
    if (e === EINTR) return 0;
    throw new LibcError("ppoll", e);
  }
  if (r > 0) pollResult(entries, buf);
  return r;
}

/**
 * `poll(2)` on a worker thread: the event loop keeps running while it
 * waits. Returns the number of ready entries (0 on timeout or interruption);
 * errno is not available from the worker thread, so a failure reports -1.
 */
export async function pollAsync(entries: PollEntry[], timeoutMs: number): Promise<number> {
  const buf = pollBuffer(entries);
  const r = await open().poll_nb(buf, BigInt(entries.length), timeoutMs);
  if (r < 0) return -1;
  pollResult(entries, buf);
  return r;
}

/** A shared mapping of a file descriptor. */
export interface Mapping {
  /** Start of the mapping. */
  readonly pointer: Deno.PointerObject;
  /** Length in bytes. */
  readonly length: number;
  /** The mapping as an `ArrayBuffer` (foreign memory: dead after {@link unmap}). */
  readonly buffer: ArrayBuffer;
}

/** Maps `length` bytes of `fd` from `offset`, shared and read-write. */
export function mapShared(fd: number, length: number, offset: number = 0): Mapping {
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw new TransportError(`mmap of ${length} bytes`, {
      code: "ERR_VIRTIO_TRANSPORT_LIBC_BAD_LENGTH",
    });
  }
  const p = open().mmap(
    null,
    BigInt(length),
    PROT_READ | PROT_WRITE,
    MAP_SHARED,
    fd,
    BigInt(offset),
  );
  if (p === null || BigInt(Deno.UnsafePointer.value(p)) === 0xffffffffffffffffn) {
    fail("mmap", `fd ${fd}, ${length} bytes at offset ${offset}`);
  }
  const buffer = Deno.UnsafePointerView.getArrayBuffer(p, length);
  return { pointer: p, length, buffer };
}

/** Unmaps a mapping from {@link mapShared}. Every view of its buffer must be dropped first. */
export function unmap(m: Mapping): void {
  open().munmap(m.pointer, BigInt(m.length));
}

// struct stat of 64-bit Linux: st_mode is at 24 on x86-64 and at 16 on the
// generic layout (Arm64); st_size is at 48 on both. sizeof is 144 / 128.
const STAT_SIZE = 144;
const ST_MODE = Deno.build.arch === "x86_64" ? 24 : 16;
const ST_SIZE = 48;
const S_IFMT = 0o170000;

/** File types of {@link FileStat.type} (`st_mode & S_IFMT`). */
export const S_IFREG: number = 0o100000;
/** A socket. */
export const S_IFSOCK: number = 0o140000;

/** What `fstat(2)` says of a file descriptor (the fields vhost-user checks). */
export interface FileStat {
  /** The file type bits of `st_mode` ({@link S_IFREG}, {@link S_IFSOCK}...; 0 for an eventfd). */
  readonly type: number;
  /** `st_size`: the length of a regular file (a memfd's, after `ftruncate`). */
  readonly size: number;
}

const statBuf = new Uint8Array(STAT_SIZE);
const statView = new DataView(statBuf.buffer);

/** `fstat(2)` of `fd`; throws {@link LibcError} (EBADF) for a descriptor that is not open. */
export function fstat(fd: number): FileStat {
  statBuf.fill(0);
  if (open().fstat(fd, statBuf) < 0) fail("fstat", `fd ${fd}`);
  const size = statView.getBigInt64(ST_SIZE, true);
  return {
    type: statView.getUint32(ST_MODE, true) & S_IFMT,
    size: size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size),
  };
}

const SO_PEERCRED = 17;
// struct ucred: pid (i32), uid (u32), gid (u32).
const ucred = new Int32Array(3);
const ucredLen = new Uint32Array(1);

/**
 * The process id of the peer of the Unix socket `fd` (`SO_PEERCRED`): the
 * process that connected, or for the connecting end the one that listened,
 * or for a `socketpair` the one that made it, as of that moment.
 */
export function peerPid(fd: number): number {
  ucred.fill(0);
  ucredLen[0] = 12;
  const r = open().getsockopt(
    fd,
    SOL_SOCKET,
    SO_PEERCRED,
    new Uint8Array(ucred.buffer),
    new Uint8Array(ucredLen.buffer),
  );
  if (r < 0) fail("getsockopt(SO_PEERCRED)", `fd ${fd}`);
  return ucred[0];
}

const addrBuf = new Uint8Array(110);
const addrLen = new Uint32Array(1);

function unixAddress(fd: number, peer: boolean): string {
  addrBuf.fill(0);
  addrLen[0] = addrBuf.length;
  const l = open();
  const lenBytes = new Uint8Array(addrLen.buffer);
  const r = peer ? l.getpeername(fd, addrBuf, lenBytes) : l.getsockname(fd, addrBuf, lenBytes);
  if (r < 0) fail(peer ? "getpeername" : "getsockname", `fd ${fd}`);
  // sun_family (2 bytes), then the path (or an abstract name starting with NUL); "" when unnamed.
  const len = Math.min(addrLen[0], addrBuf.length);
  return len <= 2
    ? ""
    : Array.from(addrBuf.subarray(2, len), (b) => String.fromCharCode(b)).join("");
}

/**
 * The address the Unix socket `fd` is bound to (a path, or an abstract name
 * starting with NUL), or "" for an unnamed socket (`socketpair`, a
 * connecting socket that was not bound).
 */
export function localAddress(fd: number): string {
  return unixAddress(fd, false);
}

/** The address of the peer of the connected Unix socket `fd` ("" when unnamed). */
export function peerAddress(fd: number): string {
  return unixAddress(fd, true);
}

/** `F_SEAL_SHRINK`: the file cannot be made smaller. */
export const F_SEAL_SHRINK: number = 0x2;
/** `F_SEAL_GROW`: the file cannot be made larger. */
export const F_SEAL_GROW: number = 0x4;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const MFD_ALLOW_SEALING = 2;

/**
 * A new memfd of `size` bytes (close-on-exec), for guest memory a frontend
 * shares or an area a back-end hands out; with `seals` (`F_SEAL_SHRINK`...)
 * those seals are added once it has its size.
 */
export function memfdCreate(name: string, size: number, seals: number = 0): number {
  const flags = MFD_CLOEXEC | (seals !== 0 ? MFD_ALLOW_SEALING : 0);
  const fd = open().memfd_create(encoder.encode(name + "\0"), flags);
  if (fd < 0) fail("memfd_create");
  if (open().ftruncate(fd, BigInt(size)) < 0) {
    const e = errno();
    closeFd(fd);
    throw new LibcError("ftruncate", e);
  }
  if (seals !== 0 && open().fcntl(fd, F_ADD_SEALS, seals) < 0) {
    const e = errno();
    closeFd(fd);
    throw new LibcError("fcntl(F_ADD_SEALS)", e);
  }
  return fd;
}

/** The seals of `fd` (`F_SEAL_SHRINK`...); 0 for a file that cannot be sealed. */
export function fileSeals(fd: number): number {
  const r = open().fcntl(fd, F_GET_SEALS, 0);
  return r < 0 ? 0 : r;
}
