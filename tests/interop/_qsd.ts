/**
 * Starts `qemu-storage-daemon` exporting a raw image as vhost-user-blk, for
 * interop tests and the benchmark; always stops it.
 *
 * @module
 */

/** A running qemu-storage-daemon. */
export interface StorageDaemon {
  /** The export's socket path. */
  readonly socket: string;
  /** The daemon's process id (the benchmark reads its CPU time). */
  readonly pid: number;
  /** stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * Exports `image` (raw, writable unless `readonly`, with `queues` request
 * queues, default 1) on `socket`; resolves once the socket exists.
 */
export async function startStorageDaemon(
  image: string,
  socket: string,
  options: {
    readonly?: boolean;
    timeoutMs?: number;
    queues?: number;
    /**
     * Serve the export from an IOThread (`-object iothread`) instead of the
     * main loop: QEMU's event loop then polls before it sleeps, adaptively
     * up to the IOThread's default `poll-max-ns` (32 µs).
     */
    iothread?: boolean;
  } = {},
): Promise<StorageDaemon> {
  const child = new Deno.Command("qemu-storage-daemon", {
    args: [
      ...(options.iothread ? ["--object", "iothread,id=io0"] : []),
      "--blockdev",
      `driver=file,node-name=f,filename=${image}`,
      "--export",
      `type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=${socket},writable=${
        options.readonly ? "off" : "on"
      },num-queues=${options.queues ?? 1}${options.iothread ? ",iothread=io0" : ""}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const c of s) text += dec.decode(c, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 5000);
      await status;
      clearTimeout(t);
      await pumps;
    })();
    return stopping;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    try {
      if (Deno.statSync(socket).isSocket) break;
    } catch {
      // not yet
    }
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`qemu-storage-daemon did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { socket, pid: child.pid, output: () => text, stop };
}
