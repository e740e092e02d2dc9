/**
 * The one binding of libc in typed-virtio (Deno FFI, Linux, 64-bit): every
 * symbol any module calls, opened once, on first use, so importing a module
 * that may call libc needs no permission. Users wrap the calls they need
 * with their own errors: vhost-user's sockets, eventfds and mappings
 * (`transport/vhost_user/_libc.ts`) and blk's image files
 * (`devices/blk/posix_file_storage.ts`, `devices/blk/uring_file_storage.ts`).
 *
 * Symbols declared `nonblocking` (suffix `_nb`) run on Deno's blocking-call
 * threads and return a promise; errno is only exact after a synchronous
 * call, which runs on the JavaScript thread.
 *
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  // Unix sockets and descriptor passing
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // Descriptors and files
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  preadv: { parameters: ["i32", "buffer", "i32", "i64"], result: "isize" },
  pwritev: { parameters: ["i32", "buffer", "i32", "i64"], result: "isize" },
  fdatasync: { parameters: ["i32"], result: "i32" },
  pread_nb: {
    name: "pread",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  pwrite_nb: {
    name: "pwrite",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  fdatasync_nb: { name: "fdatasync", parameters: ["i32"], result: "i32", nonblocking: true },
  // Waiting
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  ppoll: { parameters: ["buffer", "u64", "buffer", "pointer"], result: "i32" },
  poll_nb: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // Memory, eventfds
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  // io_uring (no libc wrapper: `syscall(SYS_io_uring_setup, entries, params)` and
  // `syscall(SYS_io_uring_enter, fd, to_submit, min_complete, flags, sig, sigsz)`)
  io_uring_setup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i32" },
  io_uring_enter: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "u32", "u32", "pointer", "usize"],
    result: "i32",
  },
} as const;

/** The libc symbols typed-virtio calls. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | undefined;

/**
 * libc, opened on first use. Off Linux it throws what `unsupported` makes
 * (each caller's own error class, naming what needs Linux).
 */
export function openLibc(unsupported: (os: string) => Error): Libc {
  if (lib !== undefined) return lib;
  if (Deno.build.os !== "linux") throw unsupported(Deno.build.os);
  lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** errno of the last failed synchronous call on this thread (libc must be open). */
export function lastErrno(l: Libc): number {
  const p = l.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}
