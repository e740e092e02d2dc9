/**
 * Starts one of the `examples/vhost_user_*.ts` back-ends as a child process
 * for interop tests, waits for its ready line, and always stops it.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** A running back-end process. */
export interface BackendProcess {
  /** Socket path it listens on. */
  readonly socket: string;
  /** Everything it printed so far (stdout and stderr, interleaved by line). */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the exit code. */
  stop(): Promise<number>;
  /** Writes `text` to its stdin (only when started with `stdin`). */
  send(text: string): Promise<void>;
  /** The process id. */
  readonly pid: number;
  /**
   * Resolves true once its output matches `pattern` (at once if it already
   * does), or false if it ends without that.
   */
  waitFor(pattern: RegExp): Promise<boolean>;
}

/**
 * Runs `examples/<example>` with `args` (and extra Deno permission flags
 * `denoFlags`), resolving once a line containing
 * `ready` appears (or rejecting after `timeoutMs`, with the process killed).
 */
export async function startBackend(
  example: string,
  socket: string,
  args: readonly string[],
  timeoutMs: number = 30_000,
  stdin: boolean = false,
  /** Extra `deno run` flags (permissions beyond FFI, read, write and env: `--allow-net` for Unix sockets, `--allow-sys=statfs`). */
  denoFlags: readonly string[] = [],
): Promise<BackendProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      ...denoFlags,
      new URL(`examples/${example}`, ROOT).pathname,
      "--socket",
      socket,
      ...args,
    ],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => (readyResolve = r));
  let waiters: { pattern: RegExp; resolve: (seen: boolean) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      text += dec.decode(chunk, { stream: true });
      if (/ready/.test(text)) readyResolve();
      const seen = waiters.filter((w) => w.pattern.test(text));
      waiters = waiters.filter((w) => !seen.includes(w));
      for (const w of seen) w.resolve(true);
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let ended = false;
  const end = () => {
    ended = true;
    for (const w of waiters.splice(0)) w.resolve(w.pattern.test(text));
  };
  void pumps.then(end, end);
  const waitFor = (pattern: RegExp): Promise<boolean> => {
    if (pattern.test(text) || ended) return Promise.resolve(pattern.test(text));
    return new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
  const writer = stdin ? child.stdin.getWriter() : undefined;
  const send = async (t: string): Promise<void> => {
    if (writer === undefined) throw new Error("back-end started without stdin");
    await writer.write(new TextEncoder().encode(t));
  };
  let stopped: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    stopped ??= (async () => {
      await writer?.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5_000);
      const status = await child.status;
      clearTimeout(killer);
      await pumps;
      return status.code;
    })();
    return stopped;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  const exited = child.status.then(() => "exited" as const);
  const first = await Promise.race([ready.then(() => "ready" as const), timeout, exited]);
  clearTimeout(timer);
  if (first !== "ready") {
    await stop();
    throw new Error(`back-end ${example} did not become ready (${first}):\n${text}`);
  }
  return { socket, output: () => text, stop, send, pid: child.pid, waitFor };
}
