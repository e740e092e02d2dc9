// The 9P2000.L server against a hostile client: escapes through `..`,
// symbolic links (absolute, relative, planted on the host), names with '/',
// fids it never made, counts and sizes past msize, short and truncated
// messages, messages 9P2000.L does not have. Expected errnos are Linux's
// (asm-generic/errno*.h); the host directory is read with Deno's own API.

import assert from "node:assert/strict";
import fc from "fast-check";
import { P9Client, P9Error, P9Server } from "../../../src/devices/p9/mod.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import { MemoryFileSystem, OPEN_FLAGS } from "../../../src/devices/fs/mod.ts";
import { WireWriter } from "../../../src/devices/p9/_wire.ts";
import {
  P9_RLERROR,
  P9_TATTACH,
  P9_TCLUNK,
  P9_TREAD,
  P9_TREADDIR,
  P9_TSTAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9Header,
  P9Rlerror,
  P9Tattach,
  P9Tclunk,
  P9Tread,
  P9Treaddir,
  P9Tversion,
  P9Twalk,
  P9Twrite,
} from "../../../src/generated/devices/9p.ts";

const EBADF = 9;
const ENOENT = 2;
const EINVAL = 22;
const ENOTDIR = 20;
const ELOOP = 40;
const EMFILE = 24;
const EPROTO = 71;
const EMSGSIZE = 90;
const EOPNOTSUPP = 95;
const ENAMETOOLONG = 36;

function client(server: P9Server): P9Client {
  return new P9Client((req, cap) => {
    server.request(req.length).set(req);
    return Promise.resolve(server.reply.slice(0, server.handle(req.length, cap)));
  });
}

/** One raw message, as a hostile guest would build it. */
function raw(type: number, build: (w: WireWriter) => void, tag = 7): Uint8Array {
  const w = new WireWriter(new Uint8Array(65536));
  w.begin(type, tag, 65536);
  build(w);
  return w.bytes.slice(0, w.finish());
}

/** Sends `msg` (`len` bytes of it, the header as written) and returns the reply's type, tag, errno. */
function send(server: P9Server, msg: Uint8Array, cap = 65536) {
  server.request(msg.length).set(msg);
  const n = server.handle(msg.length, cap);
  const r = server.reply.slice(0, n);
  if (n === 0) return { n, type: -1, tag: -1, errno: -1 };
  const v = new DataView(r.buffer);
  const h = new P9Header(v);
  assert.equal(h.msgSize, n);
  const errno = h.type === P9_RLERROR ? new P9Rlerror(v, P9Header.SIZE).ecode : 0;
  return { n, type: h.type, tag: h.tag, errno };
}

async function session(server: P9Server, msize = 8192) {
  const c = client(server);
  await c.version(msize);
  await c.attach();
  return c;
}

const errno = (n: number) => (e: unknown) => e instanceof P9Error && e.errno === n;

Deno.test("p9 server: nothing outside the export is reachable through .., links or names", async () => {
  const outer = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-hostile-" });
  const dir = `${outer}/export`;
  try {
    Deno.mkdirSync(dir);
    Deno.mkdirSync(`${dir}/sub`);
    Deno.writeTextFileSync(`${outer}/secret`, "secret");
    Deno.writeTextFileSync(`${dir}/inside`, "inside");
    Deno.symlinkSync(outer, `${dir}/abs-dir`); // planted on the host: absolute, outside
    Deno.symlinkSync("..", `${dir}/up`); // planted: relative, outside
    Deno.symlinkSync(`${outer}/secret`, `${dir}/abs-file`);
    const server = new P9Server(new HostDirFileSystem(dir));
    const c = await session(server);
    // `..` at the root stays at the root: export/../../inside is export/inside.
    const f = await c.walk(c.root, ["..", "..", "inside"]);
    assert.equal((await c.getattr(f)).size, 6);
    await c.clunk(f);
    await assert.rejects(() => c.walk(c.root, ["..", "secret"]), errno(ENOENT));
    await assert.rejects(() => c.walk(c.root, ["sub", "..", "..", "secret"]), errno(ENOENT));
    // No walk goes through a link, wherever it points.
    await assert.rejects(() => c.walk(c.root, ["abs-dir", "secret"]), errno(ENOENT));
    await assert.rejects(() => c.walk(c.root, ["up", "secret"]), errno(ENOENT));
    // Opening a link itself fails with ELOOP; its target is only text.
    const l = await c.walk(c.root, ["abs-file"]);
    await assert.rejects(() => c.lopen(l, OPEN_FLAGS.O_RDONLY), errno(ELOOP));
    assert.equal(await c.readlink(l), `${outer}/secret`);
    await c.clunk(l);
    // Links the guest makes are stored as text, never followed by the server.
    await c.makeSymlink("/", "root-link");
    await c.makeSymlink("../../..", "sub/far");
    await assert.rejects(() => c.walk(c.root, ["root-link", "etc"]), errno(ENOENT));
    await assert.rejects(() => c.readFile("sub/far/secret"), errno(ENOENT));
    assert.equal(Deno.readLinkSync(`${dir}/root-link`), "/");
    // Names are single components: '/', '..', '.' and over-long names fail.
    const root = c.root;
    await assert.rejects(() => c.walk(root, ["sub/../../secret"]), errno(EINVAL));
    await assert.rejects(() => c.mkdir(root, "../escape"), errno(EINVAL));
    await assert.rejects(() => c.mkdir(root, ".."), errno(EINVAL));
    const clone = await c.walk(root, []);
    await assert.rejects(() => c.lcreate(clone, "..", 0o1, 0o644), errno(EINVAL));
    await c.clunk(clone);
    await assert.rejects(() => c.symlink(root, "a/b", "x"), errno(EINVAL));
    await assert.rejects(() => c.renameat(root, "inside", root, "../moved"), errno(EINVAL));
    await assert.rejects(() => c.unlinkat(root, "../secret"), errno(EINVAL));
    await assert.rejects(() => c.mkdir(root, "x".repeat(256)), errno(ENAMETOOLONG));
    // Walking past a file: ENOTDIR as the first name, a partial walk (ENOENT) after one.
    const file = await c.walk(root, ["inside"]);
    await assert.rejects(() => c.walk(file, ["x"]), errno(ENOTDIR));
    await c.clunk(file);
    await assert.rejects(() => c.walk(root, ["inside", "x"]), errno(ENOENT));
    // The host: outside untouched, inside only the two links the client made.
    assert.deepEqual([...Deno.readDirSync(outer)].map((e) => e.name).sort(), ["export", "secret"]);
    assert.equal(Deno.readTextFileSync(`${outer}/secret`), "secret");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["abs-dir", "abs-file", "inside", "root-link", "sub", "up"],
    );
  } finally {
    Deno.removeSync(outer, { recursive: true });
  }
});

Deno.test("p9 server: fids the client never made, or uses twice, get Rlerror", async () => {
  const server = new P9Server(new MemoryFileSystem(), { maxFids: 8 });
  const c = await session(server);
  await c.writeFile("f", new Uint8Array([1, 2, 3]));
  await assert.rejects(() => c.read(999, 0, 10), errno(EBADF));
  await assert.rejects(() => c.clunk(999), errno(EBADF));
  await assert.rejects(() => c.walk(999, []), errno(EBADF));
  await assert.rejects(() => c.getattr(12345), errno(EBADF));
  await assert.rejects(() => c.write(0xffffffff, 0, new Uint8Array(1)), errno(EBADF));
  // Attach to a fid in use, walk to a newfid in use, open twice.
  await assert.rejects(() => c.attach(), errno(EINVAL));
  const a = await c.walk(c.root, ["f"]);
  const b = await c.walk(c.root, ["f"]);
  const r = send(server, raw(P9_TWALK, (w) => w.struct(P9Twalk).write(c.root, b, 0)));
  assert.equal(r.errno, EINVAL);
  await c.lopen(a, OPEN_FLAGS.O_RDONLY);
  await assert.rejects(() => c.lopen(a, OPEN_FLAGS.O_RDONLY), errno(EINVAL));
  // Walking from an open fid, reading an unopened one, readdir on a file.
  await assert.rejects(() => c.walk(a, []), errno(EBADF));
  await assert.rejects(() => c.read(b, 0, 1), errno(EBADF));
  await assert.rejects(() => c.readdir(a, 0n, 100), errno(ENOTDIR));
  // The fid table is bounded.
  const held: number[] = [];
  await assert.rejects(async () => {
    for (;;) held.push(await c.walk(c.root, []));
  }, errno(EMFILE));
  assert.equal(server.fidCount, 8);
  // Clunking frees them; the file handle is closed.
  for (const f of [a, b, ...held]) await c.clunk(f);
  assert.equal(server.fidCount, 1);
  assert.equal(server.openHandles, 0);
});

Deno.test("p9 server: msize, counts and lengths are checked", async () => {
  const server = new P9Server(new MemoryFileSystem(), { maxMsize: 65536 });
  // Before Tversion: EPROTO.
  assert.equal(
    send(server, raw(P9_TATTACH, (w) => w.struct(P9Tattach).write(0, 0xffffffff))).errno,
    EPROTO,
  );
  // msize below the minimum.
  const v = (msize: number, version = "9P2000.L") =>
    raw(P9_TVERSION, (w) => {
      w.struct(P9Tversion).msize = msize;
      w.str(version);
    }, 0xffff);
  assert.equal(send(server, v(512)).errno, EINVAL);
  // Another dialect: Rversion "unknown".
  const u = send(server, v(8192, "9P2000.u"));
  assert.equal(u.type, P9_TVERSION + 1);
  assert.equal(server.versioned, false);
  const c = await session(server, 8192);
  assert.equal(server.msize, 8192);
  await c.writeFile("f", new Uint8Array(20_000));
  const fid = await c.walk(c.root, ["f"]);
  await c.lopen(fid, OPEN_FLAGS.O_RDWR);
  // A read whose reply would pass msize; a readdir likewise.
  await assert.rejects(() => c.read(fid, 0, 8192 - 11 + 1), errno(EMSGSIZE));
  assert.equal((await c.read(fid, 0, 8192 - 11)).length, 8192 - 11);
  const dfid = await c.walk(c.root, []);
  await c.lopen(dfid, OPEN_FLAGS.O_RDONLY);
  const rd = raw(P9_TREADDIR, (w) => w.struct(P9Treaddir).write(dfid, 0n, 0xffffffff));
  assert.equal(send(server, rd).errno, EMSGSIZE);
  // A reply room smaller than the count: the read is cut to fit, not overrun.
  const small = send(server, raw(P9_TREAD, (w) => w.struct(P9Tread).write(fid, 0n, 4000)), 100);
  assert.equal(small.n, 100);
  // No room even for Rlerror: nothing written.
  assert.equal(send(server, raw(P9_TCLUNK, (w) => w.struct(P9Tclunk).fid = 5), 10).n, 0);
  // A message longer than msize.
  const big = raw(P9_TWRITE, (w) => {
    w.struct(P9Twrite).write(fid, 0n, 9000);
    w.data(new Uint8Array(9000));
  });
  assert.equal(send(server, big).errno, EMSGSIZE);
  // Twrite's count past the data sent.
  const short = raw(P9_TWRITE, (w) => {
    w.struct(P9Twrite).write(fid, 0n, 100);
    w.data(new Uint8Array(10));
  });
  assert.equal(send(server, short).errno, EINVAL);
  // The header's size past the bytes sent, or below the header.
  const lying = raw(P9_TCLUNK, (w) => w.struct(P9Tclunk).fid = fid);
  new P9Header(new DataView(lying.buffer)).msgSize = 5000;
  assert.equal(send(server, lying).errno, EINVAL);
  new P9Header(new DataView(lying.buffer)).msgSize = 3;
  assert.equal(send(server, lying).errno, EINVAL);
  // A Twalk that claims more names than it holds, or more than 16.
  const walk = (n: number, names: string[]) =>
    raw(P9_TWALK, (w) => {
      w.struct(P9Twalk).write(c.root, 77, n);
      for (const s of names) w.str(s);
    });
  assert.equal(send(server, walk(3, ["f"])).errno, EINVAL);
  assert.equal(send(server, walk(17, new Array(17).fill("f"))).errno, EINVAL);
  // A string that is not UTF-8.
  const bad = raw(P9_TWALK, (w) => {
    w.struct(P9Twalk).write(c.root, 78, 1);
    w.u16(2);
    w.data(new Uint8Array([0xff, 0xfe]));
  });
  assert.equal(send(server, bad).errno, 84);
  // Messages 9P2000.L does not have.
  assert.equal(send(server, raw(P9_TSTAT, (w) => w.u32(fid))).errno, EOPNOTSUPP);
  assert.equal(send(server, raw(0, () => {})).errno, EOPNOTSUPP);
  // Every reply carried its request's tag; the session still works.
  assert.equal(
    send(server, raw(P9_TCLUNK, (w) => w.struct(P9Tclunk).fid = 4242, 0x1234)).tag,
    0x1234,
  );
  assert.equal((await c.read(fid, 19_990, 100)).length, 10);
  await c.clunk(fid);
  await c.clunk(dfid);
  assert.equal(server.openHandles, 0);
});

Deno.test("p9 server: a new Tversion closes every host descriptor", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-p9-fds-" });
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  try {
    for (let i = 0; i < 12; i++) Deno.writeTextFileSync(`${dir}/f${i}`, String(i));
    const server = new P9Server(new HostDirFileSystem(dir));
    const c = await session(server);
    const before = fds();
    for (let i = 0; i < 12; i++) {
      await c.lopen(await c.walk(c.root, [`f${i}`]), OPEN_FLAGS.O_RDONLY);
    }
    // Failed opens and creates leave nothing open either.
    await assert.rejects(() => c.lcreate(c.root, "f0", OPEN_FLAGS.O_EXCL | 1, 0o644));
    assert.equal(server.openHandles, 12);
    assert.equal(fds(), before + 12);
    await c.version(8192);
    assert.equal(server.openHandles, 0);
    assert.equal(server.fidCount, 0);
    assert.equal(fds(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("p9 server: random bodies after any header get a reply, and the session survives", () => {
  const server = new P9Server(new MemoryFileSystem());
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      (type, body, version) => {
        if (version) {
          const v = raw(P9_TVERSION, (w) => {
            w.struct(P9Tversion).msize = 8192;
            w.str("9P2000.L");
          }, 0xffff);
          assert.equal(send(server, v).type, P9_TVERSION + 1);
          send(
            server,
            raw(P9_TATTACH, (w) => {
              w.struct(P9Tattach).write(1, 0xffffffff);
              w.str("");
              w.str("");
              w.u32(0);
            }),
          );
        }
        const msg = raw(type, (w) => w.data(body));
        const r = send(server, msg);
        assert.ok(r.n >= P9Header.SIZE);
        assert.equal(r.tag, 7);
      },
    ),
    { numRuns: 500, seed: 25 },
  );
});

Deno.test("p9 server: on the in-memory tree too, .. stops at the root and links are not walked", async () => {
  const fs = new MemoryFileSystem();
  fs.mkdir("d", 0o755);
  fs.symlink("/", "d/root");
  fs.symlink("..", "d/up");
  const server = new P9Server(fs);
  const c = await session(server);
  const r = await c.walk(c.root, ["..", "d", "..", ".."]);
  assert.equal((await c.getattr(r)).qid.path, (await c.getattr(c.root)).qid.path);
  await c.clunk(r);
  const link = await c.walk(c.root, ["d", "up"]);
  assert.equal((await c.getattr(link)).qid.type, 0x02); // the link itself
  await assert.rejects(() => c.walk(link, ["d"]), errno(ENOTDIR));
  await assert.rejects(() => c.lopen(link, OPEN_FLAGS.O_RDONLY), errno(ELOOP));
  await c.clunk(link);
  await assert.rejects(() => c.walk(c.root, ["d", "root", "d"]), errno(ENOENT)); // partial
  assert.equal(server.fidCount, 1);
});

Deno.test("p9 server: a walk stops at a link even over a backend that would follow it", async () => {
  // A naive backend: paths under the link "lnk" resolve as if the link were
  // followed. The server's own rule must stop the walk at the link.
  const inner = new MemoryFileSystem();
  inner.mkdir("target", 0o755);
  inner.symlink("target", "lnk");
  const naive = Object.create(inner) as MemoryFileSystem;
  naive.stat = (path: string) =>
    inner.stat(path.startsWith("lnk/") ? `target/${path.slice(4)}` : path);
  const h = inner.create("target/x", OPEN_FLAGS.O_WRONLY, 0o644);
  h.close();
  assert.equal(naive.stat("lnk/x").size, 0); // the backend would follow
  const c = await session(new P9Server(naive));
  await assert.rejects(() => c.walk(c.root, ["lnk", "x"]), errno(ENOENT)); // partial walk
  const l = await c.walk(c.root, ["lnk"]);
  await assert.rejects(() => c.walk(l, ["x"]), errno(ENOTDIR));
});
