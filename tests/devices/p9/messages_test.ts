// Each 9P2000.L message the server serves, one scenario each, with the tree
// (in memory) read directly as the truth: the messages Linux's v9fs sends that
// the file API of the driver does not (Trename, Tlink, Tmknod, Tsetattr,
// Tfsync, Tstatfs, Txattrwalk, Tlock, Tgetlock, Tflush, Tremove).

import assert from "node:assert/strict";
import { P9Client, P9Error, P9Server } from "../../../src/devices/p9/mod.ts";
import { MemoryFileSystem, OPEN_FLAGS, S_IFREG } from "../../../src/devices/fs/mod.ts";
import { WireReader, WireWriter } from "../../../src/devices/p9/_wire.ts";
import {
  P9_LOCK_SUCCESS,
  P9_LOCK_TYPE_UNLCK,
  P9_LOCK_TYPE_WRLCK,
  P9_RLERROR,
  P9_TFLUSH,
  P9_TGETLOCK,
  P9_TLOCK,
  P9_TMKNOD,
  P9_TRENAME,
  P9_TXATTRWALK,
  P9Header,
  P9Qid,
  P9Rgetlock,
  P9Tflush,
  P9Tgetlock,
  P9Tlock,
  P9Tmkdir,
  P9Trename,
  P9Txattrwalk,
  V9FS_MAGIC,
} from "../../../src/generated/devices/9p.ts";

const EBADF = 9;
const ENOENT = 2;

function setup() {
  const fs = new MemoryFileSystem();
  const server = new P9Server(fs);
  const send = (req: Uint8Array, cap: number) => {
    server.request(req.length).set(req);
    return Promise.resolve(server.reply.slice(0, server.handle(req.length, cap)));
  };
  return { fs, server, c: new P9Client(send), send };
}

/** Sends a raw message; returns a reader of the reply's body after checking its type. */
async function call(
  send: (req: Uint8Array, cap: number) => Promise<Uint8Array>,
  type: number,
  build: (w: WireWriter) => void,
): Promise<{ type: number; body: WireReader }> {
  const w = new WireWriter(new Uint8Array(8192));
  w.begin(type, 3, 8192);
  build(w);
  const reply = await send(w.bytes.slice(0, w.finish()), 8192);
  const body = new WireReader(reply, 0, reply.length);
  const h = body.struct(P9Header, "header");
  assert.equal(h.tag, 3);
  return { type: h.type, body };
}

Deno.test("p9 messages: Trename, Tlink, Tmknod, Tremove", async () => {
  const { fs, c, send } = setup();
  await c.version(8192);
  await c.attach();
  await c.makeDir("a");
  await c.writeFile("a/f", new Uint8Array([1, 2, 3]));
  const f = await c.walk(c.root, ["a", "f"]);
  const dir = await c.walk(c.root, []);
  // Trename: the fid's file to dfid/name; the fid follows it.
  const r = await call(send, P9_TRENAME, (w) => {
    w.struct(P9Trename).write(f, dir);
    w.str("moved");
  });
  assert.equal(r.type, P9_TRENAME + 1);
  assert.deepEqual(fs.readdir("a"), []);
  assert.equal(fs.stat("moved").size, 3);
  assert.equal((await c.getattr(f)).size, 3);
  // Tlink: a second name.
  await c.link(dir, f, "hard");
  assert.equal(fs.stat("hard").nlink, 2);
  // Tmknod: a regular file.
  const m = await call(send, P9_TMKNOD, (w) => {
    w.struct(P9Tmkdir).dfid = dir;
    w.str("node");
    w.u32(S_IFREG | 0o600);
    w.u32(0);
    w.u32(0);
    w.u32(0);
  });
  assert.equal(m.type, P9_TMKNOD + 1);
  assert.equal(m.body.struct(P9Qid, "qid").path, BigInt(fs.stat("node").ino));
  assert.equal(fs.stat("node").mode & 0o7777, 0o600);
  // Tremove: removes and clunks, also when it fails.
  await c.remove(f);
  await assert.rejects(() => c.getattr(f), (e) => e instanceof P9Error && e.errno === EBADF);
  assert.throws(() => fs.stat("moved"));
  const gone = await c.walk(c.root, ["a"]);
  await c.removeFile("a", true);
  await assert.rejects(() => c.remove(gone), (e) => e instanceof P9Error && e.errno === ENOENT);
  await assert.rejects(() => c.getattr(gone), (e) => e instanceof P9Error && e.errno === EBADF);
});

Deno.test("p9 messages: Tsetattr, Tfsync, Tstatfs", async () => {
  const { fs, c } = setup();
  await c.version(8192);
  await c.attach();
  await c.writeFile("f", new Uint8Array(100));
  const f = await c.walk(c.root, ["f"]);
  await c.setattr(f, { mode: 0o600, size: 10, mtimeNow: true });
  assert.equal(fs.stat("f").size, 10);
  assert.equal(fs.stat("f").mode & 0o7777, 0o600);
  await c.lopen(f, OPEN_FLAGS.O_RDWR);
  await c.setattr(f, { size: 20 }); // through the open handle
  assert.equal(fs.stat("f").size, 20);
  await c.fsync(f);
  await c.fsync(f, true);
  const s = await c.statfs();
  assert.equal(s.type, V9FS_MAGIC);
  assert.equal(s.namelen, 255);
  const unopened = await c.walk(c.root, ["f"]);
  await assert.rejects(() => c.fsync(unopened), (e) => e instanceof P9Error && e.errno === EBADF);
});

Deno.test("p9 messages: Txattrwalk, Tlock, Tgetlock, Tflush", async () => {
  const { fs, c, send } = setup();
  await c.version(8192);
  await c.attach();
  await c.writeFile("f", new Uint8Array(1));
  fs.setxattr("f", "user.color", new TextEncoder().encode("blue"), 0);
  const f = await c.walk(c.root, ["f"]);
  // Txattrwalk: the value's size, then Tread of the new fid.
  const x = await call(send, P9_TXATTRWALK, (w) => {
    w.struct(P9Txattrwalk).write(f, 50);
    w.str("user.color");
  });
  assert.equal(x.type, P9_TXATTRWALK + 1);
  assert.equal(x.body.u64("size"), 4n);
  assert.equal(new TextDecoder().decode(await c.read(50, 0, 100)), "blue");
  await c.clunk(50);
  // The list of names: "" as the name.
  const list = await call(send, P9_TXATTRWALK, (w) => {
    w.struct(P9Txattrwalk).write(f, 51);
    w.str("");
  });
  assert.equal(list.body.u64("size"), 11n);
  assert.equal(new TextDecoder().decode(await c.read(51, 0, 100)), "user.color\0");
  await c.clunk(51);
  const missing = await call(send, P9_TXATTRWALK, (w) => {
    w.struct(P9Txattrwalk).write(f, 52);
    w.str("user.none");
  });
  assert.equal(missing.type, P9_RLERROR);
  // Tlock and Tgetlock on an open fid.
  await c.lopen(f, OPEN_FLAGS.O_RDWR);
  const l = await call(send, P9_TLOCK, (w) => {
    w.struct(P9Tlock).write(f, P9_LOCK_TYPE_WRLCK, 0, 0n, 0n, 42);
    w.str("guest");
  });
  assert.equal(l.type, P9_TLOCK + 1);
  assert.equal(l.body.data(1, "status")[0], P9_LOCK_SUCCESS);
  const g = await call(send, P9_TGETLOCK, (w) => {
    w.struct(P9Tgetlock).write(f, P9_LOCK_TYPE_WRLCK, 5n, 10n, 42);
    w.str("guest");
  });
  assert.equal(g.type, P9_TGETLOCK + 1);
  const gl = g.body.struct(P9Rgetlock, "Rgetlock");
  assert.equal(gl.type, P9_LOCK_TYPE_UNLCK);
  assert.equal(gl.start, 5n);
  assert.equal(gl.length, 10n);
  assert.equal(g.body.str("client_id"), "guest");
  // Tflush: nothing is pending; Rflush.
  const fl = await call(send, P9_TFLUSH, (w) => w.struct(P9Tflush).oldtag = 9);
  assert.equal(fl.type, P9_TFLUSH + 1);
  // A lock on an unopened fid is an error, not a grant.
  const other = await c.walk(c.root, ["f"]);
  const bad = await call(send, P9_TLOCK, (w) => {
    w.struct(P9Tlock).write(other, P9_LOCK_TYPE_WRLCK, 0, 0n, 0n, 42);
    w.str("guest");
  });
  assert.equal(bad.type, P9_RLERROR);
});
