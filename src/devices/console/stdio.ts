/**
 * A console backend on standard input and output: joins a device-side
 * {@link ConsoleDevicePort} to a terminal (or any pair of byte streams), so what
 * the driver writes appears on stdout and what is typed reaches the driver.
 *
 * @example With streams in place of the terminal
 * ```ts
 * import { VirtioConsoleConfig } from "../../generated/devices/console.ts";
 * import { ConsoleDevice } from "./device.ts";
 * import { attachStdio } from "./stdio.ts";
 *
 * const dev = new ConsoleDevice();
 * const port = dev.port(0);
 * if (port === undefined) throw new Error("unreachable");
 * const chunks: Uint8Array[] = [];
 * const link = attachStdio(port, {
 *   input: new ReadableStream({ start: (c) => c.close() }),
 *   output: new WritableStream({ write: (c) => void chunks.push(c) }),
 * });
 * dev.writeConfig(VirtioConsoleConfig.OFFSETS.emergWr, 4, 0x21); // an emergency "!" reaches the output
 * await new Promise((r) => setTimeout(r, 0));
 * link.close();
 * ```
 *
 * @module
 */

import type { ConsoleDevicePort } from "./device.ts";

/** Streams to use instead of the process's stdin and stdout. */
export interface StdioOptions {
  /** Bytes typed by the user (default `Deno.stdin.readable`). */
  readonly input?: ReadableStream<Uint8Array>;
  /** Where guest output goes (default `Deno.stdout.writable`). */
  readonly output?: WritableStream<Uint8Array>;
}

/** A running stdio link; {@link StdioLink.close} stops both directions. */
export interface StdioLink {
  /** Resolves when both pipes have stopped. */
  readonly done: Promise<void>;
  /** Stop piping (stdin and stdout themselves stay open). */
  close(): void;
}

/** Pipe `port`'s output to `output` and `input` to the port. */
export function attachStdio(port: ConsoleDevicePort, options: StdioOptions = {}): StdioLink {
  const input = options.input ?? Deno.stdin.readable;
  const output = options.output ?? Deno.stdout.writable;
  const stop = new AbortController();
  const signal = stop.signal;
  const out = port.readable.pipeTo(output, { signal, preventClose: true }).catch(() => {});
  const inp = input.pipeTo(port.writable, { signal, preventClose: true }).catch(() => {});
  return {
    done: Promise.all([out, inp]).then(() => {}),
    close: () => stop.abort(),
  };
}
