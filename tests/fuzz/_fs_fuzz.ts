// What the 9P and FUSE fuzzers (p9_fuzz.ts, fuse_fuzz.ts) share: a seeded
// generator, hostile names, the trees they serve (in memory, or a host
// directory next to a directory that must stay untouched), a FileSystem
// wrapper that checks every path a server asks for, and the checks of the
// host side after a case.

import { type FileSystem, MemoryFileSystem, OPEN_FLAGS, S_IFMT } from "../../src/devices/fs/mod.ts";
import { HostDirFileSystem } from "../../src/devices/fs/host_dir_fs.ts";
import * as nfs from "node:fs";

/** A small seeded generator (mulberry32): the same seed, the same case. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
  /** `n` random bytes, cut from a fixed pool at an offset this generator picks. */
  bytes(n: number): Uint8Array {
    const p = randomPool();
    const from = this.below(p.length - n + 1);
    return p.slice(from, from + n);
  }
}

let pool: Uint8Array | undefined;
function randomPool(): Uint8Array {
  if (pool === undefined) {
    pool = new Uint8Array(1 << 18);
    const r = new Rng(0x9003);
    for (let i = 0; i < pool.length; i += 4) {
      new DataView(pool.buffer).setUint32(i, r.u32(), true);
    }
  }
  return pool;
}

const enc = new TextEncoder();

/** Names of the tree every case starts with (see {@link populate}). */
export const TREE_NAMES = ["f", "d", "e", "g", "ln", "abs", "ln_out", "empty"] as const;

/** The content of `f` and `d/g`. */
export const FILE_DATA: Uint8Array = enc.encode("typed-virtio fuzz file\n".repeat(8));

/** A name: a real one, a hostile one, or random bytes (UTF-8 or not, NULs included). */
export function hostileName(r: Rng, maxLong: number): Uint8Array {
  switch (r.below(12)) {
    case 0:
    case 1:
    case 2:
      return enc.encode(r.pick(TREE_NAMES));
    case 3:
      return enc.encode(`n${r.below(8)}`); // new names, reused within a case
    case 4:
      return enc.encode(
        r.pick(["..", ".", "/", "", "a/b", "../..", "/etc/passwd", "d/../..", "//"]),
      );
    case 5:
      return enc.encode(r.pick(["x\0y", "\0", "f\0", "..\0x"]));
    case 6:
      return new Uint8Array([0xff, 0xfe, 0xc0, 0x80].slice(0, 1 + r.below(4))); // not UTF-8
    case 7: {
      const n = r.pick([255, 256, 1024, 4095, 4096, maxLong]);
      return new Uint8Array(Math.min(n, maxLong)).fill(0x61 + r.below(26));
    }
    case 8:
      return enc.encode(r.pick(["é", "日本", "\u{1f600}", "a b", "-", "~", "$HOME"]));
    default:
      return r.bytes(1 + r.below(12));
  }
}

/** A link target: one that would leave the export, or junk. */
export function hostileTarget(r: Rng, outside: string): Uint8Array {
  return enc.encode(
    r.pick([
      "../outside/secret",
      "../../outside/secret",
      `${outside}/secret`,
      "/etc/passwd",
      "f",
      "d/g",
      ".",
      "",
      "x\0y",
      "a".repeat(5000),
    ]),
  );
}

/**
 * The start tree, one top-level entry at a time, in the order it is made
 * (the in-memory tree numbers its inodes in this order): f, d/ (with d/e/
 * and d/g), empty/, and links, two of which lead outside.
 */
const START: readonly (readonly [string, (fs: FileSystem, outside: string) => void])[] = [
  ["f", (fs) => writeNew(fs, "f")],
  ["d", (fs) => {
    fs.mkdir("d", 0o755);
    fs.mkdir("d/e", 0o755);
    writeNew(fs, "d/g");
  }],
  ["empty", (fs) => fs.mkdir("empty", 0o700)],
  ["ln_out", (fs) => fs.symlink("../outside/secret", "ln_out")],
  ["abs", (fs, outside) => fs.symlink(`${outside}/secret`, "abs")],
  ["ln", (fs) => fs.symlink("d/g", "ln")],
];

/** Every path of the start tree, directories before what they hold. */
const START_PATHS: ReadonlySet<string> = new Set([
  "f",
  "d",
  "d/e",
  "d/g",
  "empty",
  "ln_out",
  "abs",
  "ln",
]);
/** The start tree's directories (the export itself is ""). */
const START_DIRS = ["", "d", "d/e", "empty"] as const;

function writeNew(fs: FileSystem, path: string): void {
  const h = fs.create(path, OPEN_FLAGS.O_RDWR | OPEN_FLAGS.O_CREAT, 0o644);
  h.write(FILE_DATA, 0);
  h.close();
}

/** Fills `fs` with the start tree: f, d/, d/g, d/e/, empty/, and links that lead outside. */
export function populate(fs: FileSystem, outside: string): void {
  for (const [, make] of START) make(fs, outside);
  if (fs instanceof MemoryFileSystem) fs.setxattr("f", "user.fuzz", enc.encode("xattr value"), 0);
}

/** Every path a server hands the file system must be one the interface allows. */
export function badPath(path: unknown): string | undefined {
  if (typeof path !== "string") return `a path that is not a string: ${String(path)}`;
  if (path === "") return undefined;
  if (path.includes("\0")) return `a path with a NUL: ${JSON.stringify(path)}`;
  if (path.startsWith("/")) return `an absolute path: ${JSON.stringify(path)}`;
  for (const c of path.split("/")) {
    if (c === "" || c === "." || c === "..") return `a path with "${c}": ${JSON.stringify(path)}`;
  }
  return undefined;
}

/** Arguments that are paths, by method (symlink's first is the target, free text). */
const PATH_ARGS: Record<string, number[]> = {
  stat: [0],
  readdir: [0],
  open: [0],
  create: [0],
  mknod: [0],
  mkdir: [0],
  symlink: [1],
  readlink: [0],
  link: [0, 1],
  unlink: [0],
  rmdir: [0],
  rename: [0, 1],
  setattr: [0],
  getxattr: [0],
  setxattr: [0],
  listxattr: [0],
  removexattr: [0],
};

/** `fs`, with every path argument checked; a bad one is pushed to `escapes` (and refused). */
export function checkedFs(fs: FileSystem, escapes: string[]): FileSystem {
  return new Proxy(fs, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string") return v;
      const args = PATH_ARGS[prop];
      if (args === undefined) return v.bind(target);
      return (...a: unknown[]) => {
        for (const i of args) {
          const bad = badPath(a[i]);
          if (bad !== undefined) {
            escapes.push(`${prop}: ${bad}`);
            throw new Error(`fuzz: ${bad}`);
          }
        }
        return v.apply(target, a);
      };
    },
  });
}

/** A fresh in-memory tree for one case. */
export function memoryTree(): MemoryFileSystem {
  const fs = new MemoryFileSystem({ maxBytes: 8 << 20, maxInodes: 4096 });
  populate(fs, "/nonexistent-outside");
  return fs;
}

/**
 * A host directory for the cases that use one: `root/export` is served,
 * `root/outside/secret` holds a marker no reply may contain, and nothing
 * outside `export` may change.
 */
export class HostTree {
  readonly root: string;
  readonly export: string;
  readonly outside: string;
  readonly secret: Uint8Array;
  fs: HostDirFileSystem;

  constructor() {
    this.root = Deno.makeTempDirSync({ prefix: "typed-virtio-fsfuzz-" });
    this.export = `${this.root}/export`;
    this.outside = `${this.root}/outside`;
    this.secret = enc.encode(`SECRET-${crypto.randomUUID()}`);
    Deno.mkdirSync(this.outside);
    Deno.writeFileSync(`${this.outside}/secret`, this.secret);
    Deno.mkdirSync(this.export);
    this.fs = new HostDirFileSystem(this.export);
    populate(this.fs, this.outside);
    for (const p of ["", ...START_PATHS]) this.#snap.set(p, this.#lstat(p));
  }

  /**
   * Back to the start tree (a case may have changed anything inside the
   * export). Only what the case changed is undone (see {@link HostTree.restore});
   * when that cannot be done, the whole export is made again.
   */
  reset(): void {
    this.restores++;
    try {
      if (this.#restore()) return;
    } catch {
      // an entry the walk could not read: start over
    }
    this.rebuild();
  }

  /** How often {@link HostTree.reset} ran, and how often it had to remake the whole export. */
  restores = 0;
  rebuilds = 0;

  /** The whole export removed and made again, as on the first use. */
  rebuild(): void {
    this.rebuilds++;
    try {
      Deno.removeSync(this.export, { recursive: true });
    } catch {
      // a directory the case made unreadable: open it up, then remove
      chmodAll(this.export);
      Deno.removeSync(this.export, { recursive: true });
    }
    Deno.mkdirSync(this.export);
    this.fs = new HostDirFileSystem(this.export);
    populate(this.fs, this.outside);
    this.#snap.clear();
    for (const p of ["", ...START_PATHS]) this.#snap.set(p, this.#lstat(p));
  }

  /** The inode of each path of the start tree, as made (see {@link HostTree.restore}). */
  #snap = new Map<string, InodeSnap>();

  #lstat(path: string): InodeSnap {
    const s = nfs.lstatSync(path === "" ? this.export : `${this.export}/${path}`, { bigint: true });
    return {
      ino: s.ino,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      size: s.size,
      nlink: s.nlink,
      mtimeNs: s.mtimeNs,
      ctimeNs: s.ctimeNs,
    };
  }

  /**
   * Undoes a case's changes without remaking the export: what is not in the
   * start tree is removed, and a top-level entry whose inode changed in any
   * way is made again. An inode with the same number and the same ctime as
   * when it was made has the same content, mode, owner, links and mtime (any
   * change to those sets the ctime, which no call can set back); only its
   * atime may differ (a read), which no check looks at. The export itself
   * cannot be made again: its mode, owner and mtime are set back, and a
   * change of its size or link count remakes everything. False: remake
   * everything.
   */
  #restore(): boolean {
    if (this.#snap.size === 0) return false;
    // 1. Whatever the case added, in any directory of the start tree that is still one (and
    // whose parent is: `d` may be a link now, to a directory outside with an `e` of its own).
    const realDirs = new Set<string>();
    for (const dir of START_DIRS) {
      const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "";
      if (dir !== "" && !realDirs.has(parent)) continue;
      const p = dir === "" ? this.export : `${this.export}/${dir}`;
      let st: nfs.Stats;
      try {
        st = nfs.lstatSync(p);
      } catch {
        continue; // gone: step 2 makes it again
      }
      if (!st.isDirectory()) continue;
      realDirs.add(dir);
      for (const name of nfs.readdirSync(p)) {
        const rel = dir === "" ? name : `${dir}/${name}`;
        if (!START_PATHS.has(rel)) removeAny(`${p}/${name}`);
      }
    }
    // 2. Each top-level entry whose inode (or one below it) changed, made again.
    for (const [name, make] of START) {
      const paths = [...START_PATHS].filter((p) => p === name || p.startsWith(`${name}/`));
      if (paths.every((p) => this.#unchanged(p))) continue;
      const p = `${this.export}/${name}`;
      if (lexists(p)) removeAny(p);
      make(this.fs, this.outside);
      for (const q of paths) this.#snap.set(q, this.#lstat(q));
    }
    // 3. The export itself.
    const want = this.#snap.get("")!;
    const now = this.#lstat("");
    if (now.ino !== want.ino || now.size !== want.size || now.nlink !== want.nlink) return false;
    if ((now.mode & 0o7777n) !== (want.mode & 0o7777n)) {
      nfs.chmodSync(this.export, Number(want.mode & 0o7777n));
    }
    if (now.uid !== want.uid || now.gid !== want.gid) {
      nfs.chownSync(this.export, Number(want.uid), Number(want.gid));
    }
    if (now.mtimeNs !== want.mtimeNs) {
      const atime = nfs.lstatSync(this.export).atime;
      nfs.utimesSync(this.export, atime, Number(want.mtimeNs) / 1e9);
      // to the nearest microsecond or so: what the export now has is the start from here on
      this.#snap.set("", this.#lstat(""));
    }
    return true;
  }

  #unchanged(path: string): boolean {
    const want = this.#snap.get(path);
    if (want === undefined) return false;
    let now: InodeSnap;
    try {
      now = this.#lstat(path);
    } catch {
      return false;
    }
    return now.ino === want.ino && now.ctimeNs === want.ctimeNs && now.mode === want.mode &&
      now.uid === want.uid && now.gid === want.gid && now.size === want.size &&
      now.nlink === want.nlink && now.mtimeNs === want.mtimeNs;
  }

  /** What went wrong outside the export or in it (a device node, a socket), if anything. */
  check(): string | undefined {
    const top = [...Deno.readDirSync(this.root)].map((e) => e.name).sort();
    if (top.join() !== "export,outside") return `the temp dir holds ${top.join(", ")}`;
    const out = [...Deno.readDirSync(this.outside)].map((e) => e.name);
    if (out.join() !== "secret") return `outside/ holds ${out.join(", ")}`;
    const s = Deno.readFileSync(`${this.outside}/secret`);
    if (s.length !== this.secret.length || !s.every((b, i) => b === this.secret[i])) {
      return "outside/secret changed";
    }
    const st = Deno.lstatSync(`${this.outside}/secret`);
    if ((st.mode ?? 0) & 0o7000 || st.nlink !== 1) return "outside/secret's mode or links changed";
    return walkOdd(this.export);
  }

  /** True when `bytes` holds the secret marker. */
  leaks(bytes: Uint8Array): boolean {
    const s = this.secret;
    outer: for (let i = 0; i + s.length <= bytes.length; i++) {
      for (let k = 0; k < s.length; k++) if (bytes[i + k] !== s[k]) continue outer;
      return true;
    }
    return false;
  }

  close(): void {
    try {
      Deno.removeSync(this.root, { recursive: true });
    } catch {
      chmodAll(this.root);
      Deno.removeSync(this.root, { recursive: true });
    }
  }
}

/** What a start-tree inode was when made (see {@link HostTree.restore}). */
interface InodeSnap {
  ino: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
  nlink: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** Whether `p` exists, not following a link at `p`. */
function lexists(p: string): boolean {
  try {
    nfs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Removes a file, a link (not what it leads to) or a directory and all it holds. */
function removeAny(p: string): void {
  try {
    Deno.removeSync(p, { recursive: true });
  } catch {
    // a directory the case made unreadable: open it up, then remove
    if (!nfs.lstatSync(p).isDirectory()) throw new Error(`fuzz: cannot remove ${p}`);
    chmodAll(p);
    Deno.removeSync(p, { recursive: true });
  }
}

function chmodAll(dir: string): void {
  Deno.chmodSync(dir, 0o700);
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) chmodAll(`${dir}/${e.name}`);
  }
}

/** The first thing in `dir` that is not a file, a directory or a link (a device, a FIFO, a socket). */
function walkOdd(dir: string): string | undefined {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) {
      const odd = walkOdd(p);
      if (odd !== undefined) return odd;
    } else if (!e.isFile && !e.isSymlink) {
      const mode = Deno.lstatSync(p).mode ?? 0;
      return `the export holds ${p} of type 0o${(mode & S_IFMT).toString(8)}`;
    }
  }
  return undefined;
}

/** Descriptors open in this process (for the host tree's handles). */
export function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/** One case's failure, without its index. */
export interface FsCaseFailure {
  readonly error: string;
  readonly input: string[];
}

/**
 * The case loop the 9p and FUSE fuzzers share: case `i`'s generator comes from
 * the seed, `salt` and `i` only (one case replays alone); one case in
 * `hostEvery` runs on a {@link HostTree} (made on first use, closed at the
 * end), and every `fdEvery` host cases the open descriptors are counted: a
 * handle left open per case grows the count, Deno's own come and go by a few.
 */
export function runFsCases(
  o: { seed: number; cases: number; first?: number },
  salt: number,
  hostEvery: number,
  fdEvery: number,
  runCase: (r: Rng, host: HostTree | undefined) => FsCaseFailure | undefined,
): { case: number; error: string; input: string[] }[] {
  const first = o.first ?? 0;
  const failures: { case: number; error: string; input: string[] }[] = [];
  let host: HostTree | undefined;
  let hostCases = 0;
  let fdsBefore = -1;
  try {
    for (let i = first; i < first + o.cases; i++) {
      const r = new Rng((o.seed * 0x9e3779b1 + i * 0x85ebca6b + salt) >>> 0);
      const useHost = r.below(hostEvery) === 0;
      if (useHost) {
        host ??= new HostTree();
        if (fdsBefore < 0) fdsBefore = openFds();
      }
      const failure = runCase(r, useHost ? host : undefined);
      if (failure !== undefined) failures.push({ case: i, ...failure });
      if (useHost && ++hostCases % fdEvery === 0) {
        const open = openFds();
        if (open - fdsBefore > 8) {
          failures.push({
            case: i,
            error: `${open - fdsBefore} more descriptors open than before the host cases`,
            input: [],
          });
          fdsBefore = open;
        }
      }
    }
  } finally {
    host?.close();
  }
  return failures;
}
