// The 9P client against a server that lies: replies of the wrong size, tag or
// type, and an Rread longer than asked, are EPROTO; an Rlerror carries its errno.

import assert from "node:assert/strict";
import { P9Client, P9Error, P9Server } from "../../../src/devices/p9/mod.ts";
import { MemoryFileSystem } from "../../../src/devices/fs/mod.ts";
import { P9Header, P9Rread } from "../../../src/generated/devices/9p.ts";

const EPROTO = 71;
const ENOENT = 2;

/** A client whose replies from a real server pass through `tamper` first. */
function lyingClient(tamper: (reply: Uint8Array, type: number) => Uint8Array) {
  const server = new P9Server(new MemoryFileSystem());
  return new P9Client((req, cap) => {
    server.request(req.length).set(req);
    const reply = server.reply.slice(0, server.handle(req.length, cap));
    return Promise.resolve(tamper(reply, req[4]));
  });
}

const errno = (n: number) => (e: unknown) => e instanceof P9Error && e.errno === n;

Deno.test("p9 client: replies that do not match their request are EPROTO", async () => {
  let mode = "";
  const c = lyingClient((r, type) => {
    const v = new DataView(r.buffer, r.byteOffset);
    const h = new P9Header(v);
    if (type === 100 || mode === "") return r; // Tversion stays honest
    if (mode === "tag") h.tag = h.tag ^ 1;
    if (mode === "type") h.type = 200;
    if (mode === "size") return r.subarray(0, r.length - 1);
    if (mode === "short") return r.subarray(0, 3);
    return r;
  });
  await c.version(8192);
  await c.attach();
  await c.writeFile("f", new Uint8Array(10));
  for (const m of ["tag", "type", "size", "short"]) {
    mode = m;
    await assert.rejects(() => c.stat("f"), errno(EPROTO), m);
  }
  mode = "";
  await assert.rejects(() => c.stat("nope"), errno(ENOENT));
  assert.equal((await c.stat("f")).size, 10);
});

Deno.test("p9 client: an Rread longer than the count asked is EPROTO", async () => {
  let grow = false;
  const c = lyingClient((r, type) => {
    if (!grow || type !== 116) return r;
    // Claim one byte more than asked, and carry it.
    const out = new Uint8Array(r.length + 1);
    out.set(r);
    const v = new DataView(out.buffer);
    new P9Header(v).msgSize = out.length;
    const rread = new P9Rread(v, P9Header.SIZE);
    rread.count = rread.count + 1;
    return out;
  });
  await c.version(8192);
  await c.attach();
  await c.writeFile("f", new Uint8Array(100));
  const fid = await c.walk(c.root, ["f"]);
  await c.lopen(fid, 0);
  grow = true;
  await assert.rejects(() => c.read(fid, 0, 50), errno(EPROTO));
});
