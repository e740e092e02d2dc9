// The FUSE server against FUSE semantics (fuse.h, what Linux's virtiofs
// driver expects), driven by our FUSE client and by hand-made hostile
// requests. Expected values come from the backing tree (the host directory
// or the in-memory tree read directly), never from the server's own replies.

import assert from "node:assert/strict";
import fc from "fast-check";
import { FuseClient } from "../../../src/devices/fs/fuse_client.ts";
import { FuseServer } from "../../../src/devices/fs/fuse_server.ts";
import { ERRNO, FsError } from "../../../src/devices/fs/filesystem.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import { MemoryFileSystem } from "../../../src/devices/fs/memory_fs.ts";
import {
  FUSE_BATCH_FORGET,
  FUSE_DESTROY,
  FUSE_GETATTR,
  FUSE_GETLK,
  FUSE_INIT,
  FUSE_LOOKUP,
  FUSE_MKDIR,
  FUSE_OPEN,
  FUSE_OPENDIR,
  FUSE_READ,
  FUSE_READDIR,
  FUSE_READDIRPLUS,
  FUSE_RELEASE,
  FUSE_WRITE,
  FuseBatchForgetIn,
  FuseDirent,
  FuseDirentplus,
  FuseEntryOut,
  FuseForgetOne,
  FuseInHeader,
  FuseInitIn,
  FuseInitOut,
  FuseMkdirIn,
  FuseOpenIn,
  FuseOpenOut,
  FuseOutHeader,
  FuseReadIn,
  FuseReleaseIn,
  FuseWriteIn,
} from "../../../src/generated/devices/fs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function direct(server: FuseServer): FuseClient {
  return new FuseClient((req, cap) => {
    server.request(req.length).set(req);
    const n = server.handle(req.length, cap);
    return Promise.resolve(server.reply.slice(0, n));
  });
}

/** Sends a raw request; returns [error, payload]. */
function raw(
  server: FuseServer,
  opcode: number,
  nodeid: number,
  args: Uint8Array,
  opts: { len?: number; cap?: number } = {},
): [number, Uint8Array] {
  const req = server.request(FuseInHeader.SIZE + args.length);
  req.set(args, FuseInHeader.SIZE);
  const h = new FuseInHeader(new DataView(req.buffer));
  const len = FuseInHeader.SIZE + args.length;
  h.len = opts.len ?? len;
  h.opcode = opcode;
  h.unique = 99n;
  h.nodeid = nodeid;
  const n = server.handle(len, opts.cap ?? 1 << 16);
  if (n === 0) return [0, new Uint8Array(0)];
  const o = new FuseOutHeader(new DataView(server.reply.buffer));
  assert.equal(o.unique, 99n);
  assert.equal(o.len, n);
  return [o.error | 0, server.reply.slice(FuseOutHeader.SIZE, n)];
}

function struct(size: number, fill: (v: DataView) => void, tail: Uint8Array = new Uint8Array(0)) {
  const b = new Uint8Array(size + tail.length);
  fill(new DataView(b.buffer));
  b.set(tail, size);
  return b;
}

function initServer(server: FuseServer): void {
  const [err, out] = raw(
    server,
    FUSE_INIT,
    0,
    struct(FuseInitIn.SIZE, (v) => {
      const i = new FuseInitIn(v);
      i.major = 7;
      i.minor = 38;
      i.maxReadahead = 1 << 17;
      i.flags = 0xffffffff;
    }),
  );
  assert.equal(err, 0);
  const o = new FuseInitOut(new DataView(out.buffer));
  assert.equal(o.major, 7);
  assert.equal(o.minor, 31);
}

function lookup(server: FuseServer, parent: number, name: string): [number, number] {
  const [err, out] = raw(server, FUSE_LOOKUP, parent, enc.encode(name + "\0"));
  return [err, err === 0 ? new FuseEntryOut(new DataView(out.buffer)).nodeid : 0];
}

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FsError) return e.errno;
    throw e;
  }
  return 0;
}

Deno.test("fuse server over a host directory: the client's file API and the host see the same tree", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fuse-" });
  try {
    const server = new FuseServer(new HostDirFileSystem(dir));
    const c = direct(server);
    await c.init();
    assert.equal(c.minor, 31);
    await c.mkdir("docs");
    assert.ok(Deno.statSync(`${dir}/docs`).isDirectory);
    const big = new Uint8Array(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 12)) & 0xff;
    await c.writeFile("docs/big.bin", big);
    assert.deepEqual(Deno.readFileSync(`${dir}/docs/big.bin`), big);
    assert.deepEqual(await c.readFile("docs/big.bin"), big);
    Deno.writeTextFileSync(`${dir}/docs/host.txt`, "written on the host");
    assert.equal(dec.decode(await c.readFile("docs/host.txt")), "written on the host");
    assert.deepEqual((await c.readdir("docs")).sort(), ["big.bin", "host.txt"]);
    const st = await c.stat("docs/big.bin");
    assert.equal(st.size, big.length);
    assert.equal(st.ino, BigInt(Deno.statSync(`${dir}/docs/big.bin`).ino ?? 0));
    await c.rename("docs/host.txt", "moved.txt");
    assert.equal(Deno.readTextFileSync(`${dir}/moved.txt`), "written on the host");
    await c.unlink("moved.txt");
    assert.throws(() => Deno.statSync(`${dir}/moved.txt`), Deno.errors.NotFound);
    assert.equal(await errnoOf(c.rmdir("docs")), ERRNO.ENOTEMPTY);
    await c.unlink("docs/big.bin");
    await c.rmdir("docs");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // The client forgot every node it looked up: only the root is left.
    assert.equal(server.nodeCount, 1);
    assert.equal(server.openHandles, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fuse server: requests before INIT fail with EIO; unknown opcodes with ENOSYS; a length that lies with EINVAL", () => {
  const server = new FuseServer(new MemoryFileSystem());
  assert.equal(raw(server, FUSE_GETATTR, 1, new Uint8Array(16))[0], -ERRNO.EIO);
  initServer(server);
  assert.equal(raw(server, FUSE_GETATTR, 1, new Uint8Array(16))[0], 0);
  assert.equal(raw(server, 4242, 1, new Uint8Array(0))[0], -ERRNO.ENOSYS);
  assert.equal(raw(server, FUSE_GETLK, 1, new Uint8Array(64))[0], -ERRNO.ENOSYS);
  assert.equal(raw(server, FUSE_GETATTR, 1, new Uint8Array(16), { len: 4000 })[0], -ERRNO.EINVAL);
  // A request shorter than its header gets no reply at all.
  assert.equal(server.handle(10, 4096), 0);
  // No room for even a reply header: no reply.
  const req = server.request(FuseInHeader.SIZE);
  const h = new FuseInHeader(new DataView(req.buffer));
  h.len = FuseInHeader.SIZE;
  h.opcode = FUSE_GETATTR;
  h.nodeid = 1;
  assert.equal(server.handle(FuseInHeader.SIZE, 8), 0);
});

Deno.test("fuse server: hostile names and made-up node ids never reach outside the tree", () => {
  const outside = Deno.makeTempDirSync({ prefix: "typed-virtio-fuse-out-" });
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fuse-" });
  try {
    Deno.writeTextFileSync(`${outside}/secret`, "s3cret");
    Deno.symlinkSync(outside, `${dir}/escape`);
    const server = new FuseServer(new HostDirFileSystem(dir));
    initServer(server);
    for (const bad of ["..", ".", "a/b", "/etc", "../etc"]) {
      assert.equal(lookup(server, 1, bad)[0], -ERRNO.EINVAL, bad);
    }
    // A name without its NUL, a name that is not UTF-8.
    assert.equal(raw(server, FUSE_LOOKUP, 1, enc.encode("escape"))[0], -ERRNO.EINVAL);
    assert.equal(raw(server, FUSE_LOOKUP, 1, new Uint8Array([0xff, 0xfe, 0]))[0], -ERRNO.EINVAL);
    // The planted link is a link: LOOKUP through it fails, OPEN of it fails.
    const [err, link] = lookup(server, 1, "escape");
    assert.equal(err, 0);
    assert.equal(lookup(server, link, "secret")[0], -ERRNO.ENOTDIR);
    const openArgs = struct(FuseOpenIn.SIZE, (v) => (new FuseOpenIn(v).flags = 0));
    assert.equal(raw(server, FUSE_OPEN, link, openArgs)[0], -ERRNO.ELOOP);
    assert.equal(raw(server, FUSE_OPENDIR, link, openArgs)[0], -ERRNO.ENOTDIR);
    // Node ids the server never gave.
    for (const id of [0, 2 ** 40, 12345, 2 ** 53 + 2]) {
      assert.equal(lookup(server, id, "x")[0], -ERRNO.ESTALE, String(id));
      assert.equal(raw(server, FUSE_GETATTR, id, new Uint8Array(16))[0], -ERRNO.ESTALE);
    }
    // MKDIR with a hostile name leaves nothing behind.
    const mk = (name: string) =>
      raw(
        server,
        FUSE_MKDIR,
        1,
        struct(FuseMkdirIn.SIZE, (v) => (new FuseMkdirIn(v).mode = 0o755), enc.encode(name + "\0")),
      )[0];
    assert.equal(mk("../evil"), -ERRNO.EINVAL);
    assert.equal(mk("x".repeat(256)), -ERRNO.ENAMETOOLONG);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["escape"]);
    assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["secret"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(outside, { recursive: true });
  }
});

Deno.test("fuse server: forgotten and removed nodes are stale; stale handles are EBADF", async () => {
  const fs = new MemoryFileSystem();
  const server = new FuseServer(fs);
  const c = direct(server);
  await c.init();
  await c.writeFile("f", enc.encode("data"));
  const { nodeid } = await c.lookup(1, "f");
  await c.forget(nodeid);
  assert.equal(raw(server, FUSE_GETATTR, nodeid, new Uint8Array(16))[0], -ERRNO.ESTALE);
  const again = (await c.lookup(1, "f")).nodeid;
  await c.unlink("f");
  assert.equal(raw(server, FUSE_GETATTR, again, new Uint8Array(16))[0], -ERRNO.ESTALE);
  const read = struct(FuseReadIn.SIZE, (v) => {
    const r = new FuseReadIn(v);
    r.fh = 777;
    r.readSize = 10;
  });
  assert.equal(raw(server, FUSE_READ, 1, read)[0], -ERRNO.EBADF);
  // A WRITE that claims more data than it carries.
  const w = struct(FuseWriteIn.SIZE, (v) => {
    const x = new FuseWriteIn(v);
    x.fh = 1;
    x.writeSize = 1000;
  }, new Uint8Array(10));
  assert.equal(raw(server, FUSE_WRITE, 1, w)[0], -ERRNO.EINVAL);
});

Deno.test("fuse server: open handles are bounded, and RELEASE, DESTROY and reset close their host descriptors", () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fuse-" });
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  try {
    Deno.writeTextFileSync(`${dir}/f`, "x");
    const server = new FuseServer(new HostDirFileSystem(dir), { maxHandles: 8 });
    initServer(server);
    const [, f] = lookup(server, 1, "f");
    const before = fds();
    const open = () => raw(server, FUSE_OPEN, f, struct(FuseOpenIn.SIZE, () => {}));
    const fhs: number[] = [];
    for (let i = 0; i < 8; i++) {
      const [err, out] = open();
      assert.equal(err, 0);
      fhs.push(new FuseOpenOut(new DataView(out.buffer)).fh);
    }
    assert.equal(open()[0], -ERRNO.EMFILE);
    assert.equal(fds(), before + 8);
    const release = (fh: number) =>
      raw(
        server,
        FUSE_RELEASE,
        f,
        struct(FuseReleaseIn.SIZE, (v) => (new FuseReleaseIn(v).fh = fh)),
      );
    assert.equal(release(fhs[0])[0], 0);
    assert.equal(release(fhs[0])[0], -ERRNO.EBADF);
    assert.equal(fds(), before + 7);
    assert.equal(raw(server, FUSE_DESTROY, 0, new Uint8Array(0))[0], 0);
    assert.equal(fds(), before);
    assert.equal(server.openHandles, 0);
    assert.equal(raw(server, FUSE_GETATTR, 1, new Uint8Array(16))[0], -ERRNO.EIO);
    initServer(server);
    const [, f2] = lookup(server, 1, "f");
    assert.equal(raw(server, FUSE_OPEN, f2, struct(FuseOpenIn.SIZE, () => {}))[0], 0);
    server.reset();
    assert.equal(fds(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fuse server: READDIRPLUS entries are lookups the driver can forget; . and .. take none", () => {
  const fs = new MemoryFileSystem();
  for (const n of ["a", "b", "c"]) fs.create(n, 2, 0o644).close();
  const server = new FuseServer(fs);
  initServer(server);
  const [, fhOut] = raw(server, FUSE_OPENDIR, 1, struct(FuseOpenIn.SIZE, () => {}));
  const fh = new FuseOpenOut(new DataView(fhOut.buffer)).fh;
  const [err, out] = raw(
    server,
    FUSE_READDIRPLUS,
    1,
    struct(FuseReadIn.SIZE, (v) => {
      const r = new FuseReadIn(v);
      r.fh = fh;
      r.readSize = 4096;
    }),
  );
  assert.equal(err, 0);
  const v = new DataView(out.buffer);
  const names: string[] = [];
  const ids: number[] = [];
  for (let pos = 0; pos < out.length;) {
    const e = new FuseDirentplus(v, pos);
    const d = e.dirent;
    names.push(
      dec.decode(out.subarray(pos + FuseDirentplus.SIZE, pos + FuseDirentplus.SIZE + d.namelen)),
    );
    ids.push(e.entryOut.nodeid);
    pos += (FuseDirentplus.SIZE + d.namelen + 7) & ~7;
  }
  assert.deepEqual(names, [".", "..", "a", "b", "c"]);
  assert.equal(ids[0], 0);
  assert.equal(ids[1], 0);
  assert.equal(server.nodeCount, 4);
  const forget = struct(FuseBatchForgetIn.SIZE + 3 * FuseForgetOne.SIZE, (dv) => {
    new FuseBatchForgetIn(dv).count = 3;
    for (let i = 0; i < 3; i++) {
      const o = new FuseForgetOne(dv, FuseBatchForgetIn.SIZE + i * FuseForgetOne.SIZE);
      o.nodeid = ids[i + 2];
      o.nlookup = 1n;
    }
  });
  raw(server, FUSE_BATCH_FORGET, 0, forget);
  assert.equal(server.nodeCount, 1);
  // A READDIR buffer too small for one entry returns nothing, not a partial entry.
  const [, small] = raw(
    server,
    FUSE_READDIR,
    1,
    struct(FuseReadIn.SIZE, (dv) => {
      const r = new FuseReadIn(dv);
      r.fh = fh;
      r.readSize = FuseDirent.SIZE;
    }),
  );
  assert.equal(small.length, 0);
});

Deno.test("fuse server: random requests get a well-formed reply or none, and never throw", () => {
  const fs = new MemoryFileSystem({ maxBytes: 1 << 20 });
  const server = new FuseServer(fs, { maxHandles: 16 });
  initServer(server);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 50 }),
      fc.constantFrom(0, 1, 2, 3, 1000),
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      (opcode, nodeid, args, lie) => {
        const [err, payload] = raw(server, opcode, nodeid, args, lie ? { len: args.length } : {});
        assert.ok(err <= 0 && err > -4096);
        if (err !== 0) assert.equal(payload.length, 0);
      },
    ),
    { numRuns: 3000, seed: 20 },
  );
  assert.ok(server.openHandles <= 16);
});

Deno.test("fuse server: renaming one hard link onto another keeps both names and both nodes", async () => {
  const fs = new MemoryFileSystem();
  const server = new FuseServer(fs);
  const c = direct(server);
  await c.init();
  await c.writeFile("a", enc.encode("same"));
  fs.link("a", "b");
  const a = (await c.lookup(1, "a")).nodeid;
  const b = (await c.lookup(1, "b")).nodeid;
  await c.rename("a", "b");
  // rename(2): "If oldpath and newpath are existing hard links referring to the same file, then rename() does nothing".
  assert.deepEqual(fs.readdir("").map((e) => e.name).sort(), ["a", "b"]);
  assert.equal(raw(server, FUSE_GETATTR, a, new Uint8Array(16))[0], 0);
  assert.equal(raw(server, FUSE_GETATTR, b, new Uint8Array(16))[0], 0);
});

Deno.test("fuse server: READDIR from offset 0 again (rewinddir) lists what the directory holds now", async () => {
  const fs = new MemoryFileSystem();
  const server = new FuseServer(fs);
  const c = direct(server);
  await c.init();
  fs.create("a", 2, 0o644).close();
  const [, fhOut] = raw(server, FUSE_OPENDIR, 1, struct(FuseOpenIn.SIZE, () => {}));
  const fh = new FuseOpenOut(new DataView(fhOut.buffer)).fh;
  const list = () => {
    const [err, out] = raw(
      server,
      FUSE_READDIR,
      1,
      struct(FuseReadIn.SIZE, (v) => {
        const r = new FuseReadIn(v);
        r.fh = fh;
        r.readSize = 4096;
      }),
    );
    assert.equal(err, 0);
    const names: string[] = [];
    for (let pos = 0; pos < out.length;) {
      const d = new FuseDirent(new DataView(out.buffer), pos);
      names.push(
        dec.decode(out.subarray(pos + FuseDirent.SIZE, pos + FuseDirent.SIZE + d.namelen)),
      );
      pos += (FuseDirent.SIZE + d.namelen + 7) & ~7;
    }
    return names;
  };
  assert.deepEqual(list(), [".", "..", "a"]);
  fs.create("b", 2, 0o644).close();
  assert.deepEqual(list(), [".", "..", "a", "b"]);
});

Deno.test("fuse server: two names of one file (a hard link) are one node, as Linux keys its inodes by node id", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fuse-" });
  try {
    Deno.writeTextFileSync(`${dir}/a`, "one file");
    Deno.linkSync(`${dir}/a`, `${dir}/b`);
    Deno.writeTextFileSync(`${dir}/c`, "another");
    const server = new FuseServer(new HostDirFileSystem(dir));
    const c = direct(server);
    await c.init();
    const a = await c.lookup(1, "a");
    const b = await c.lookup(1, "b");
    const other = await c.lookup(1, "c");
    assert.equal(a.nodeid, b.nodeid);
    assert.notEqual(a.nodeid, other.nodeid);
    assert.equal(server.nodeCount, 3); // the root, a/b, c
    // The host replaces "c" with a new file (the old one kept under another name, so its
    // inode number is not reused): a LOOKUP gives a new node, the old one is stale.
    Deno.renameSync(`${dir}/c`, `${dir}/c.old`);
    Deno.writeTextFileSync(`${dir}/c.new`, "replaced");
    Deno.renameSync(`${dir}/c.new`, `${dir}/c`);
    const again = await c.lookup(1, "c");
    assert.notEqual(again.nodeid, other.nodeid);
    assert.equal(raw(server, FUSE_GETATTR, other.nodeid, new Uint8Array(16))[0], -ERRNO.ESTALE);
    // Unlinking the name the node was last looked up by keeps the file reachable by the other.
    await c.unlink("b");
    const a2 = await c.lookup(1, "a");
    assert.equal(dec.decode(await c.readFile("a")), "one file");
    assert.equal(a2.stat.nlink, 1);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
