// virtio-console's stdio backend (Deno only: it defaults to Deno.stdin and
// Deno.stdout): a port piped to byte streams.

import assert from "node:assert/strict";
import { attachStdio } from "../../src/devices/console/stdio.ts";
import { dec, enc, readBytes, rig } from "./_console_rig.ts";

Deno.test("console: stdio backend pipes a port to byte streams", async () => {
  const { device, con } = await rig("pci-modern");
  const out: string[] = [];
  let feed: ReadableStreamDefaultController<Uint8Array> | undefined;
  const link = attachStdio(device.port(0)!, {
    input: new ReadableStream({ start: (c) => void (feed = c) }),
    output: new WritableStream({ write: (c) => void out.push(dec(c)) }),
  });
  await con.port(0)!.writable.getWriter().write(enc("$ "));
  feed?.enqueue(enc("ls\n"));
  assert.equal(dec(await readBytes(con.port(0)!.readable.getReader(), 3)), "ls\n");
  while (out.join("") !== "$ ") await new Promise((r) => setTimeout(r, 1));
  link.close();
  await link.done;
});
