// The two FileSystem backends against POSIX semantics (the host directory
// itself is the independent truth for HostDirFileSystem), and the path-safety
// rules: nothing outside the shared directory is reachable.

import assert from "node:assert/strict";
import {
  ERRNO,
  type FileSystem,
  FsError,
  OPEN_FLAGS,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../../src/devices/fs/filesystem.ts";
import { HostDirFileSystem } from "../../../src/devices/fs/host_dir_fs.ts";
import { MemoryFileSystem } from "../../../src/devices/fs/memory_fs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const { O_RDWR, O_RDONLY, O_EXCL, O_TRUNC, O_APPEND, O_WRONLY } = OPEN_FLAGS;

function errno(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e.errno;
    throw e;
  }
  throw new Error("no error");
}

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

function scenario(name: string, make: () => { fs: FileSystem; cleanup(): void }) {
  Deno.test(`${name}: files, directories, links, renames behave as POSIX says`, () => {
    const { fs, cleanup } = make();
    try {
      fs.mkdir("d", 0o755);
      assert.equal(fs.stat("d").mode & S_IFMT, S_IFDIR);
      const h = fs.create("d/f", O_RDWR | O_EXCL, 0o640);
      assert.equal(h.write(enc.encode("hello world"), 0), 11);
      assert.equal(h.write(enc.encode("W"), 6), 1);
      const buf = new Uint8Array(32);
      assert.equal(dec.decode(buf.subarray(0, h.read(buf, 0))), "hello World");
      assert.equal(h.read(buf, 11), 0);
      h.close();
      assert.equal(errno(() => h.read(buf, 0)), ERRNO.EBADF);
      assert.equal(errno(() => fs.create("d/f", O_RDWR | O_EXCL, 0o644)), ERRNO.EEXIST);
      const st = fs.stat("d/f");
      assert.equal(st.mode, S_IFREG | 0o640);
      assert.equal(st.size, 11);
      // O_TRUNC and O_APPEND
      const t = fs.open("d/f", O_WRONLY | O_TRUNC);
      t.close();
      assert.equal(fs.stat("d/f").size, 0);
      const a = fs.open("d/f", O_WRONLY | O_APPEND);
      a.write(enc.encode("ab"), 0);
      a.write(enc.encode("cd"), 0);
      a.close();
      const r = fs.open("d/f", O_RDONLY);
      assert.equal(dec.decode(buf.subarray(0, r.read(buf, 0))), "abcd");
      assert.equal(errno(() => r.write(enc.encode("x"), 0)), ERRNO.EBADF);
      r.close();
      // setattr
      fs.setattr("d/f", { size: 2, mode: 0o600, mtimeNs: 1_000_000_000_000_000_000n });
      const s2 = fs.stat("d/f");
      assert.equal(s2.size, 2);
      assert.equal(s2.mode & 0o7777, 0o600);
      assert.equal(s2.mtimeSec, 1_000_000_000);
      // symlink, readlink, link
      fs.symlink("../../etc/passwd", "d/l");
      assert.equal(fs.stat("d/l").mode & S_IFMT, S_IFLNK);
      assert.equal(fs.readlink("d/l"), "../../etc/passwd");
      assert.equal(errno(() => fs.open("d/l", O_RDONLY)), ERRNO.ELOOP);
      fs.link("d/f", "d/g");
      assert.equal(fs.stat("d/f").nlink, 2);
      assert.equal(errno(() => fs.link("d", "e")), ERRNO.EPERM);
      // readdir
      assert.deepEqual(fs.readdir("d").map((e) => e.name).sort(), ["f", "g", "l"]);
      assert.equal(fs.readdir("d").find((e) => e.name === "l")?.type, S_IFLNK);
      // rename, RENAME_NOREPLACE, rmdir of non-empty
      assert.equal(errno(() => fs.rename("d/f", "d/g", 1)), ERRNO.EEXIST);
      fs.rename("d/f", "d/h", 0);
      assert.equal(errno(() => fs.stat("d/f")), ERRNO.ENOENT);
      fs.mkdir("e", 0o700);
      assert.equal(errno(() => fs.rmdir("d")), ERRNO.ENOTEMPTY);
      fs.rename("d", "e/d2", 0);
      assert.equal(fs.stat("e/d2/h").size, 2);
      assert.equal(errno(() => fs.rename("e", "e/d2/x", 0)), ERRNO.EINVAL);
      fs.unlink("e/d2/h");
      fs.unlink("e/d2/g");
      fs.unlink("e/d2/l");
      assert.equal(errno(() => fs.unlink("e/d2")), ERRNO.EISDIR);
      fs.rmdir("e/d2");
      assert.deepEqual(fs.readdir("e"), []);
      assert.equal(errno(() => fs.rmdir("e/nope")), ERRNO.ENOENT);
      // an open file outlives its name
      const o = fs.create("e/tmp", O_RDWR, 0o600);
      o.write(enc.encode("kept"), 0);
      fs.unlink("e/tmp");
      assert.equal(o.read(buf, 0), 4);
      assert.equal(o.stat().size, 4);
      o.close();
      // seek and allocate
      const z = fs.create("e/z", O_RDWR, 0o600);
      z.allocate(0, 100, 0);
      assert.equal(z.stat().size, 100);
      assert.equal(z.seek(0, 2), 100);
      assert.equal(z.seek(10, 4), 100);
      assert.equal(errno(() => z.seek(100, 3)), ERRNO.ENXIO);
      z.close();
      const sf = fs.statfs();
      assert.ok(sf.bsize > 0 && sf.blocks > 0);
    } finally {
      cleanup();
    }
  });

  Deno.test(`${name}: paths through a non-directory or a link fail; no escape`, () => {
    const { fs, cleanup } = make();
    try {
      fs.symlink("/", "up");
      fs.symlink("..", "dotdot");
      const h = fs.create("file", O_RDWR, 0o644);
      h.close();
      for (const via of ["up", "dotdot", "file"]) {
        assert.equal(errno(() => fs.stat(`${via}/etc`)), ERRNO.ENOTDIR, via);
        assert.equal(errno(() => fs.readdir(via)), ERRNO.ENOTDIR, via);
        assert.equal(errno(() => fs.mkdir(`${via}/x`, 0o755)), ERRNO.ENOTDIR, via);
        assert.equal(errno(() => fs.create(`${via}/x`, O_RDWR, 0o644)), ERRNO.ENOTDIR, via);
      }
      assert.equal(errno(() => fs.open("up", O_RDONLY)), ERRNO.ELOOP);
    } finally {
      cleanup();
    }
  });
}

scenario("memory", () => ({ fs: new MemoryFileSystem(), cleanup: () => {} }));
scenario("host", () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fs-" });
  return {
    fs: new HostDirFileSystem(dir),
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
});

Deno.test("host: the tree the guest builds is the host's tree, and a link planted on the host is not followed", () => {
  const outside = Deno.makeTempDirSync({ prefix: "typed-virtio-fs-out-" });
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fs-" });
  try {
    Deno.writeTextFileSync(`${outside}/secret`, "s3cret");
    Deno.symlinkSync(outside, `${dir}/planted`);
    Deno.symlinkSync(`${outside}/secret`, `${dir}/planted-file`);
    const fs = new HostDirFileSystem(dir);
    assert.equal(errno(() => fs.stat("planted/secret")), ERRNO.ENOTDIR);
    assert.equal(errno(() => fs.open("planted-file", O_RDONLY)), ERRNO.ELOOP);
    assert.equal(errno(() => fs.setattr("planted-file", { size: 0 })), ERRNO.EOPNOTSUPP);
    assert.equal(errno(() => fs.create("planted/new", O_RDWR, 0o644)), ERRNO.ENOTDIR);
    assert.equal(errno(() => fs.rename("planted-file", "planted/x", 0)), ERRNO.ENOTDIR);
    assert.equal(Deno.readTextFileSync(`${outside}/secret`), "s3cret");
    assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["secret"]);
    // What the guest makes appears on the host.
    fs.mkdir("a", 0o755);
    const h = fs.create("a/b", O_RDWR, 0o644);
    h.write(enc.encode("from guest"), 0);
    h.close();
    assert.equal(Deno.readTextFileSync(`${dir}/a/b`), "from guest");
    // Raw paths with '..' or '/' never get through.
    assert.equal(errno(() => fs.stat("../etc")), ERRNO.EINVAL);
    assert.equal(errno(() => fs.stat("/etc")), ERRNO.EINVAL);
    assert.equal(errno(() => fs.stat("a/../../etc")), ERRNO.EINVAL);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(outside, { recursive: true });
  }
});

Deno.test("host: handles hold host descriptors only until closed", () => {
  const dir = Deno.makeTempDirSync({ prefix: "typed-virtio-fs-" });
  try {
    const fs = new HostDirFileSystem(dir);
    const before = openFds();
    const hs = [];
    for (let i = 0; i < 20; i++) hs.push(fs.create(`f${i}`, O_RDWR, 0o644));
    assert.equal(openFds(), before + 20);
    for (const h of hs) h.close();
    for (const h of hs) h.close();
    assert.equal(openFds(), before);
    // Failed opens leak nothing either.
    Deno.symlinkSync("/etc/passwd", `${dir}/l`);
    for (let i = 0; i < 5; i++) errno(() => fs.open("l", O_RDONLY));
    assert.equal(openFds(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("memory: the byte budget stops a guest from exhausting the host", () => {
  const fs = new MemoryFileSystem({ maxBytes: 1024 });
  const h = fs.create("f", O_RDWR, 0o644);
  assert.equal(errno(() => h.write(new Uint8Array(10), 2 ** 40)), ERRNO.EFBIG);
  h.write(new Uint8Array(1000), 0);
  const g = fs.create("g", O_RDWR, 0o644);
  assert.equal(errno(() => g.write(new Uint8Array(100), 0)), ERRNO.ENOSPC);
  assert.equal(fs.stat("f").size, 1000);
  assert.equal(fs.stat("g").size, 0);
  h.close();
  g.close();
  fs.unlink("f");
  fs.unlink("g");
  assert.equal(fs.bytesUsed, 0);
});
