// Short fixed-seed passes of the 9P and FUSE request fuzzers (tests/fuzz/p9_fuzz.ts,
// tests/fuzz/fuse_fuzz.ts; long runs go through `deno task fuzz --only 9p` and
// `--only fuse`), and checks that they catch what they are there to catch.

import assert from "node:assert/strict";
import { fuzzP9 } from "./p9_fuzz.ts";
import { fuzzFuse } from "./fuse_fuzz.ts";
import { MemoryFileSystem } from "../../src/devices/fs/memory_fs.ts";
import { OPEN_FLAGS } from "../../src/devices/fs/mod.ts";
import { HostTree } from "./_fs_fuzz.ts";

Deno.test("9p fuzz: 300 fixed-seed cases, no failure", () => {
  const r = fuzzP9({ seed: 18, cases: 300 });
  assert.equal(r.cases, 300);
  assert.deepEqual(r.failures, [], JSON.stringify(r.failures.slice(0, 2), null, 1));
});

Deno.test("9p fuzz: an untyped error in the tree is reported, and the case replays alone", () => {
  // A file system that fails with a TypeError on one name: the server answers EIO, and counts it.
  const stat = MemoryFileSystem.prototype.stat;
  MemoryFileSystem.prototype.stat = function (path) {
    if (path === "d") throw new TypeError("boom");
    return stat.call(this, path);
  };
  try {
    const r = fuzzP9({ seed: 18, cases: 300 });
    assert.ok(r.failures.length > 0);
    assert.match(r.failures[0].error, /untyped error inside the server: TypeError: boom/);
    const again = fuzzP9({ seed: 18, cases: 1, first: r.failures[0].case });
    assert.equal(again.failures[0]?.error.split("\n")[0], r.failures[0].error.split("\n")[0]);
  } finally {
    MemoryFileSystem.prototype.stat = stat;
  }
});

Deno.test("fuse fuzz: 300 fixed-seed cases, no failure", () => {
  const r = fuzzFuse({ seed: 18, cases: 300 });
  assert.equal(r.cases, 300);
  assert.deepEqual(r.failures, [], JSON.stringify(r.failures.slice(0, 2), null, 1));
});

Deno.test("fuse fuzz: an untyped error in the tree is reported, and the case replays alone", () => {
  const stat = MemoryFileSystem.prototype.stat;
  MemoryFileSystem.prototype.stat = function (path) {
    if (path === "d") throw new RangeError("boom");
    return stat.call(this, path);
  };
  try {
    const r = fuzzFuse({ seed: 18, cases: 300 });
    assert.ok(r.failures.length > 0);
    assert.match(r.failures[0].error, /untyped error inside the server: RangeError: boom/);
    const again = fuzzFuse({ seed: 18, cases: 1, first: r.failures[0].case });
    assert.equal(again.failures[0]?.error.split("\n")[0], r.failures[0].error.split("\n")[0]);
  } finally {
    MemoryFileSystem.prototype.stat = stat;
  }
});

/** The export as a case sees it: each path's type, mode, owner, size, links, content or target. */
function describe(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of [...Deno.readDirSync(`${dir}/${rel}`)].map((e) => e.name).sort()) {
    const p = rel === "" ? name : `${rel}/${name}`;
    const st = Deno.lstatSync(`${dir}/${p}`);
    let what = `${p} ${st.mode?.toString(8)} ${st.uid}:${st.gid} ${st.nlink}`;
    if (st.isFile) {
      what += ` ${st.size} ${new TextDecoder().decode(Deno.readFileSync(`${dir}/${p}`))}`;
    }
    if (st.isSymlink) what += ` -> ${Deno.readLinkSync(`${dir}/${p}`)}`;
    out.push(what);
    if (st.isDirectory) out.push(...describe(dir, p));
  }
  return out;
}

Deno.test("HostTree.reset undoes a case's changes: the export is the start tree again", () => {
  const host = new HostTree();
  try {
    const start = describe(host.export);
    const rootMode = Deno.lstatSync(host.export).mode;
    const fs = host.fs;
    const x = `${host.export}`;
    // What a hostile session can do: new entries, in the export and below; writes, truncation,
    // modes, times, hard links, renames over start entries, a directory replaced by a file.
    Deno.writeTextFileSync(`${x}/n0`, "new");
    Deno.mkdirSync(`${x}/n1/deep`, { recursive: true });
    Deno.chmodSync(`${x}/n1`, 0);
    Deno.symlinkSync("../outside/secret", `${x}/d/e/n2`);
    fs.link("f", "d/n3");
    const h = fs.open("d/g", OPEN_FLAGS.O_RDWR);
    h.write(new TextEncoder().encode("changed"), 3);
    h.close();
    fs.setattr("f", { mode: 0o4700 });
    Deno.utimeSync(`${x}/d/e`, 0, 0);
    fs.rename("ln", "ln_out", 0);
    fs.rmdir("empty");
    Deno.writeTextFileSync(`${x}/empty`, "a file now");
    fs.setattr("", { mode: 0o711 });
    host.reset();
    assert.deepEqual(describe(host.export), start);
    assert.equal(Deno.lstatSync(host.export).mode, rootMode);
    assert.equal(host.check(), undefined);
    assert.equal(host.rebuilds, 0, "undone in place, not remade");
    // Nothing changed: nothing to do; a second reset keeps the tree.
    host.reset();
    assert.deepEqual(describe(host.export), start);
    assert.equal(host.rebuilds, 0);
    // `d` a link to a directory elsewhere that has an `e` of its own: that `e` is not touched.
    const elsewhere = Deno.makeTempDirSync();
    try {
      Deno.mkdirSync(`${elsewhere}/e`);
      Deno.writeTextFileSync(`${elsewhere}/e/keep`, "keep");
      Deno.removeSync(`${x}/d`, { recursive: true });
      Deno.symlinkSync(elsewhere, `${x}/d`);
      host.reset();
      assert.deepEqual(describe(host.export), start);
      assert.equal(Deno.readTextFileSync(`${elsewhere}/e/keep`), "keep");
    } finally {
      Deno.removeSync(elsewhere, { recursive: true });
    }
  } finally {
    host.close();
  }
});
