/**
 * Bridges between vsock connections and host sockets (Deno only):
 * {@link bridge} joins one connection to a `Deno.Conn`, {@link forward}
 * joins every guest connection to a host port to a new connection to a
 * Unix socket, so a guest can talk to host programs.
 *
 * @module
 */

import type { VsockConnection, VsockListener } from "./connection.ts";

/**
 * Joins a vsock connection and a host connection (a Unix or TCP socket):
 * bytes flow both ways, and the end of one direction is passed on as a
 * half close (SHUTDOWN of sending, `closeWrite`). Resolves once both
 * directions are done.
 */
export async function bridge(c: VsockConnection, s: Deno.Conn): Promise<void> {
  const toHost = (async () => {
    for await (const chunk of c.readable) {
      for (let off = 0; off < chunk.length;) off += await s.write(chunk.subarray(off));
    }
    await s.closeWrite();
  })();
  const toGuest = (async () => {
    const w = c.writable.getWriter();
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await s.read(buf);
      if (n === null) break;
      await w.write(buf.slice(0, n));
    }
    await w.close();
  })();
  await Promise.allSettled([toHost, toGuest]);
  c.close();
  try {
    s.close();
  } catch { /* closed */ }
}

/**
 * Bridges every connection `listener` accepts (a host port the guest
 * connects to) to a new connection to the Unix socket at `path`; a
 * connection whose Unix socket cannot be reached is reset. Resolves once
 * the listener is closed.
 */
export async function forward(listener: VsockListener, path: string): Promise<void> {
  for await (const c of listener) {
    Deno.connect({ transport: "unix", path }).then(
      (u) => bridge(c, u),
      () => c.reset(),
    );
  }
}
