/**
 * A small Chrome DevTools Protocol client for the browser test: starts the
 * system's Chromium headless (Debian's `chromium`, installed by
 * scripts/install_interop_deps.sh; no browser is downloaded), talks to it
 * over its DevTools WebSocket, and gives one page: navigate, evaluate,
 * type, screenshot, and every console error and uncaught exception.
 *
 * @module
 */

const inCi = (): boolean => Deno.env.get("CI") === "true";

/** Where Debian's package puts the browser. */
export const CHROMIUM = Deno.env.get("TYPED_VIRTIO_CHROMIUM") ?? "/usr/bin/chromium";

/**
 * True when Chromium is installed; false (with a note) when not, but a
 * failure under `CI=true`, like `kitOrSkip`.
 */
export function chromiumOrSkip(): boolean {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return true;
  } catch { /* missing */ }
  const why = `${CHROMIUM} missing: run scripts/install_interop_deps.sh (Debian's chromium)`;
  if (inCi()) throw new Error(`CI=true and ${why}`);
  console.warn(`skipping: ${why}`);
  return false;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** A page of a headless Chromium driven over CDP. */
export class Browser {
  readonly #child: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners: ((method: string, params: Record<string, unknown>) => void)[] = [];
  #id = 0;
  #session = "";
  /** Console errors, uncaught exceptions and error log entries of the page. */
  readonly errors: string[] = [];
  /** Every console message, for the artifacts. */
  readonly console: string[] = [];

  private constructor(child: Deno.ChildProcess, ws: WebSocket, dir: string) {
    this.#child = child;
    this.#ws = ws;
    this.#dir = dir;
    ws.onmessage = (ev) => this.#message(JSON.parse(String(ev.data)));
  }

  /** Starts Chromium headless with a fresh profile and opens one page. */
  static async launch(width = 1800, height = 1100): Promise<Browser> {
    const dir = await Deno.makeTempDir({ prefix: "tv-chromium-" });
    const child = new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        // The page is the only one: never throttle its timers as a background page's.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        `--user-data-dir=${dir}`,
        "--remote-debugging-port=0",
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chromium says where its DevTools endpoint is on stderr.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited before DevTools was up:\n${text}`);
      text += value;
      url = /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1];
    }
    // Keep draining stderr so that Chromium never blocks on it.
    void (async () => {
      try {
        while (!(await reader.read()).done) { /* drained */ }
      } catch { /* closed */ }
    })();
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot open ${url}`));
    });
    const b = new Browser(child, ws, dir);
    const { targetId } = await b.#send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await b.#send("Target.attachToTarget", { targetId, flatten: true });
    b.#session = String(sessionId);
    b.#listeners.push((method, p) => b.#watch(method, p));
    await b.send("Runtime.enable");
    await b.send("Log.enable");
    await b.send("Page.enable");
    return b;
  }

  #message(m: Record<string, unknown>): void {
    if (typeof m.id === "number") {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      const err = m.error as { message?: string } | undefined;
      if (err !== undefined) p?.reject(new Error(`${p.method}: ${err.message}`));
      else p?.resolve((m.result ?? {}) as Record<string, unknown>);
      return;
    }
    if (m.sessionId !== this.#session) return;
    for (const l of this.#listeners) {
      l(String(m.method), (m.params ?? {}) as Record<string, unknown>);
    }
  }

  #watch(method: string, p: Record<string, unknown>): void {
    if (method === "Runtime.consoleAPICalled") {
      const args = (p.args as { value?: unknown; description?: string }[]).map((a) =>
        a.value !== undefined ? String(a.value) : a.description ?? ""
      ).join(" ");
      this.console.push(`[${p.type}] ${args}`);
      if (p.type === "error" || p.type === "assert") this.errors.push(`console.${p.type}: ${args}`);
    } else if (method === "Runtime.exceptionThrown") {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } };
      this.errors.push(`uncaught: ${d.exception?.description ?? d.text}`);
    } else if (method === "Log.entryAdded") {
      const e = p.entry as { level: string; text: string; url?: string };
      this.console.push(`[log ${e.level}] ${e.text}`);
      if (e.level === "error") this.errors.push(`log: ${e.text} ${e.url ?? ""}`);
    }
  }

  #send(method: string, params: Record<string, unknown> = {}, session?: string) {
    const id = ++this.#id;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId: session }));
    });
  }

  /** Sends a CDP command to the page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#send(method, params, this.#session);
  }

  /** Loads `url` and resolves at its load event. */
  async navigate(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      this.#listeners.push((m) => {
        if (m === "Page.loadEventFired") resolve();
      });
    });
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const ex = r.exceptionDetails as
      | { text?: string; exception?: { description?: string } }
      | undefined;
    if (ex !== undefined) {
      throw new Error(`page: ${ex.exception?.description ?? ex.text}: ${expression.slice(0, 200)}`);
    }
    return (r.result as { value: T }).value;
  }

  /** Types `text` into the focused element, as keyboard input (Enter for "\r"). */
  async type(text: string): Promise<void> {
    for (const part of text.split(/(\r)/)) {
      if (part === "\r") {
        for (const type of ["keyDown", "keyUp"]) {
          await this.send("Input.dispatchKeyEvent", {
            type,
            key: "Enter",
            code: "Enter",
            windowsVirtualKeyCode: 13,
            ...(type === "keyDown" ? { text: "\r" } : {}),
          });
        }
      } else if (part !== "") {
        await this.send("Input.insertText", { text: part });
      }
    }
  }

  /** A PNG screenshot of the page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.#send("Browser.close");
    } catch { /* already gone */ }
    this.#ws.close();
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
