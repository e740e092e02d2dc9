/**
 * A vhost-user-blk back-end: serves a raw disk image to QEMU through the
 * virtio-blk device model, over a Unix socket. Deno only (FFI).
 *
 * ```
 * deno task vhost-user-blk --socket /tmp/vblk.sock --image disk.img [--queues N] [--readonly] \
 *   [--poll-us N] [--poll-ring-us N] [--storage posix|threaded|deno|uring]
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c0,path=/tmp/vblk.sock -device vhost-user-blk-pci,chardev=c0,num-queues=1
 * ```
 *
 * Prints `vhost-user-blk: ready ...` once the socket listens, serves one
 * QEMU after another, and exits cleanly on SIGINT or SIGTERM. After the
 * image was grown or shrunk on the host, SIGUSR1 sets the new capacity and
 * tells the guest (a config change over the back-end channel).
 *
 * `--storage` picks how the image is read and written: `posix` (default,
 * one `preadv`/`pwritev` per request), `threaded` (FFI threads), `deno`
 * (Deno's file API) or `uring` (Linux io_uring: the reads and writes the
 * device takes from a queue in one pass go to the kernel in one
 * `io_uring_enter`; a kernel that refuses io_uring is reported at start,
 * exit status 1).
 *
 * @module
 */

import {
  MAX_POLL_RING_US,
  type SessionSummary,
  VhostUserBackend,
} from "../src/transport/vhost_user/backend.ts";
import {
  BlkDevice,
  FileStorage,
  PosixFileStorage,
  SequentialBatch,
  ThreadedFileStorage,
  UringFileStorage,
} from "../src/devices/blk/mod.ts";

/** Parsed command line. */
export interface BlkArgs {
  /** Socket path. */
  socket: string;
  /** Image path. */
  image: string;
  /** Number of queues. */
  queues: number;
  /** Queue size. */
  queueSize: number;
  /** Read-only device. */
  readonly: boolean;
  /**
   * Microseconds to wait for the next kick before sleeping
   * (`pollBeforeSleepUs`); undefined: {@link BLK_POLL_US}.
   */
  pollUs: number | undefined;
  /**
   * Microseconds of looking at the rings themselves before that wait
   * (`pollRingUs`; default 0: never).
   */
  pollRingUs: number;
  /**
   * `posix`: {@link PosixFileStorage} (preadv, default); `threaded`:
   * {@link ThreadedFileStorage} (requests served in parallel on FFI threads);
   * `deno`: {@link FileStorage} (Deno's file API); `uring`:
   * {@link UringFileStorage} (Linux io_uring, one `io_uring_enter` per
   * queue pass).
   */
  storage: BlkStorageKind;
}

/** The values of `--storage`. */
export const BLK_STORAGE_KINDS = ["posix", "threaded", "deno", "uring"] as const;

/** One of {@link BLK_STORAGE_KINDS}. */
export type BlkStorageKind = typeof BLK_STORAGE_KINDS[number];

/**
 * This program's `pollBeforeSleepUs` unless `--poll-us` says otherwise:
 * 2 ms, where the library's default is 300 µs. This process does nothing
 * but serve the disk, so blocking its event loop that long costs nothing
 * (signals wait at most that), and a guest under TCG on a loaded host often
 * takes more than 300 µs between a completion and its next request: each
 * such request then pays the worker-thread wake-up on top. Measured in one
 * guest against `--poll-us 300` (bench/vhost_user_bench.ts `--versus`, 2
 * boots x 2 rounds, host load 22-29 on 2 cores): 4 KiB random reads at
 * depth 1 1.15x the rate at 0.67x the host CPU per request, 1 MiB
 * sequential 1.13x at 0.76x, depth 32 over 2 queues 1.02x at 0.86x.
 */
export const BLK_POLL_US = 2000;

const USAGE = "usage: vhost_user_blk.ts --socket PATH --image FILE [--queues N] " +
  `[--queue-size N] [--readonly] [--poll-us N] [--poll-ring-us N] [--storage ${
    BLK_STORAGE_KINDS.join("|")
  }]`;

/** Parses the command line; throws with the usage text on a mistake. */
export function parseBlkArgs(args: readonly string[]): BlkArgs {
  const out: BlkArgs = {
    socket: "",
    image: "",
    queues: 1,
    queueSize: 256,
    readonly: false,
    pollUs: undefined,
    pollRingUs: 0,
    storage: "posix",
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case "--socket":
      case "--socket-path":
        out.socket = value();
        break;
      case "--image":
      case "--blk-file":
        out.image = value();
        break;
      case "--queues":
        out.queues = Number(value());
        break;
      case "--queue-size":
        out.queueSize = Number(value());
        break;
      case "--poll-us":
        out.pollUs = Number(value());
        break;
      case "--poll-ring-us":
        out.pollRingUs = Number(value());
        break;
      case "--storage": {
        const v = value();
        const kind = BLK_STORAGE_KINDS.find((k) => k === v);
        if (kind === undefined) {
          throw new Error(
            `bad --storage ${v} (one of ${BLK_STORAGE_KINDS.join(", ")})\n${USAGE}`,
          );
        }
        out.storage = kind;
        break;
      }
      case "--readonly":
      case "--read-only":
        out.readonly = true;
        break;
      default:
        throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (out.socket === "" || out.image === "") {
    throw new Error(`--socket and --image are required\n${USAGE}`);
  }
  if (!Number.isInteger(out.queues) || out.queues < 1) throw new Error(`bad --queues\n${USAGE}`);
  if (!Number.isInteger(out.queueSize) || out.queueSize < 2 || out.queueSize > 32768) {
    throw new Error(`bad --queue-size\n${USAGE}`);
  }
  if (
    out.pollUs !== undefined &&
    (!Number.isInteger(out.pollUs) || out.pollUs < 0 || out.pollUs >= 1_000_000)
  ) {
    throw new Error(`bad --poll-us (0..999999)\n${USAGE}`);
  }
  if (
    !Number.isInteger(out.pollRingUs) || out.pollRingUs < 0 || out.pollRingUs > MAX_POLL_RING_US
  ) {
    throw new Error(`bad --poll-ring-us (0..${MAX_POLL_RING_US})\n${USAGE}`);
  }
  return out;
}

function openStorage(
  args: BlkArgs,
): PosixFileStorage | ThreadedFileStorage | FileStorage | UringFileStorage {
  switch (args.storage) {
    case "posix":
      // preadv/pwritev: one system call per request, however many segments it has.
      return new PosixFileStorage(args.image, args.readonly);
    case "threaded":
      return new ThreadedFileStorage(args.image, args.readonly);
    case "deno":
      return new FileStorage(args.image, args.readonly);
    case "uring":
      return new UringFileStorage(args.image, args.readonly);
  }
}

async function main(): Promise<number> {
  let args: BlkArgs;
  try {
    args = parseBlkArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  let storage: PosixFileStorage | ThreadedFileStorage | FileStorage | UringFileStorage;
  try {
    storage = openStorage(args);
  } catch (e) {
    // A missing image, or a kernel that refuses io_uring: say so, no stack trace.
    console.error(`vhost-user-blk: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const device = new BlkDevice({
    storage,
    queues: args.queues,
    queueSize: args.queueSize,
    readOnly: args.readonly,
  });
  const backend = new VhostUserBackend(device, {
    socketPath: args.socket,
    pollBeforeSleepUs: args.pollUs ?? BLK_POLL_US,
    pollRingUs: args.pollRingUs,
  });
  backend.listen();
  const stop = () => backend.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // SIGUSR1: the image was resized on the host; the guest is told (a config change).
  const resize = () => {
    if (storage instanceof FileStorage) {
      console.error("vhost-user-blk: resizing needs --storage posix, threaded or uring");
      return;
    }
    const sectors = Math.floor(storage.refreshSize() / 512);
    try {
      device.setCapacity(sectors);
      console.log(`vhost-user-blk: capacity ${sectors} sectors`);
    } catch (e) {
      console.error(`vhost-user-blk: resize failed: ${e instanceof Error ? e.message : e}`);
    }
  };
  Deno.addSignalListener("SIGUSR1", resize);
  console.log(
    `vhost-user-blk: ready on ${args.socket} (${device.capacity} sectors, ${args.queues} queue(s)` +
      `${args.readonly ? ", read-only" : ""}${
        args.storage === "posix" ? "" : `, ${args.storage} storage`
      })`,
  );
  await backend.serve();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGUSR1", resize);
  await storage.flush();
  storage.close();
  console.log(
    `vhost-user-blk: stopped after ${backend.sessions.length} session(s); ` +
      `reads ${device.stats.reads}, writes ${device.stats.writes}, flushes ${device.stats.flushes}` +
      (storage instanceof UringFileStorage
        ? `; io_uring: ${storage.ringRequests} requests in ${storage.enters} submissions`
        : "") +
      ("batch" in storage && storage.batch instanceof SequentialBatch
        ? `; batched: ${storage.batch.requests} requests in ${storage.batch.submissions} passes`
        : "") +
      (args.pollRingUs > 0 ? `; ${ringPollText(backend.sessions)}` : ""),
  );
  return 0;
}

/** What looking at the rings did over `sessions`. */
function ringPollText(sessions: readonly SessionSummary[]): string {
  const sum = (f: (s: SessionSummary) => number) => sessions.reduce((n, s) => n + f(s), 0);
  return `${sum((s) => s.kickWakeups)} pass(es) started by a kick, ` +
    `${sum((s) => s.ringPolls)} pass(es) started by looking at the rings, ` +
    `${sum((s) => s.ringPollsGivenUp)} look(s) given up (${
      sum((s) => s.ringPollsPreempted)
    } of them preempted, the others empty), ` +
    `${sum((s) => s.ringPollsSkipped)} wait(s) without looking after those`;
}

if (import.meta.main) Deno.exit(await main());
