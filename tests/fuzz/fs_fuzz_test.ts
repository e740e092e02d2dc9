// Short fixed-seed passes of the 9P and FUSE request fuzzers (tests/fuzz/p9_fuzz.ts,
// tests/fuzz/fuse_fuzz.ts; long runs go through `deno task fuzz --only 9p` and
// `--only fuse`), and checks that they catch what they are there to catch.

import assert from "node:assert/strict";
import { fuzzP9 } from "./p9_fuzz.ts";
import { fuzzFuse } from "./fuse_fuzz.ts";
import { MemoryFileSystem } from "../../src/devices/fs/memory_fs.ts";

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
