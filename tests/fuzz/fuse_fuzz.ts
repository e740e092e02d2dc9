/**
 * A fuzzer of the FUSE server of virtio-fs (`FuseServer`, which `FsDevice`
 * feeds one request at a time): each case is a session of hostile requests
 * against a fresh tree, in memory, or (one case in {@link HOST_EVERY}) a
 * host directory next to a directory that must stay untouched. Requests are
 * well-formed FUSE requests with hostile contents (node ids and file handles
 * the server gave, ones it never gave, forgotten ones; names such as `..`,
 * `/`, embedded NULs, missing terminators, invalid UTF-8, very long ones;
 * links that lead outside; offsets, sizes and counts past every limit), the
 * same with a mutation (a lying `len`, a cut, a flipped bit), or random
 * bytes; the reply room varies too.
 *
 * A request fails the case when `handle` throws, when the server met an
 * exception that is not a `VirtioError` (its `internalErrors` count), when
 * it asks the file system for a path outside the tree, when the reply is
 * longer than its room, its `len` is not its length, its `unique` is not the
 * request's, or its error is not 0 or a negated errno. After the hostile
 * requests a valid session must still be served (DESTROY, INIT, CREATE,
 * WRITE, READ back, RELEASE, LOOKUP); for a host directory, nothing outside the export may
 * have changed, no reply may hold the marker of the file outside, and the
 * export may hold no device node or socket.
 *
 * `fuzzFuse({ seed, cases, first? })` returns `{ cases, failures }`.
 *
 * @module
 */

import { FuseServer } from "../../src/devices/fs/fuse_server.ts";
import {
  FUSE_ACCESS,
  FUSE_BATCH_FORGET,
  FUSE_CREATE,
  FUSE_DESTROY,
  FUSE_FALLOCATE,
  FUSE_FLUSH,
  FUSE_FORGET,
  FUSE_FSYNC,
  FUSE_FSYNCDIR,
  FUSE_GETATTR,
  FUSE_GETXATTR,
  FUSE_INIT,
  FUSE_INTERRUPT,
  FUSE_LINK,
  FUSE_LISTXATTR,
  FUSE_LOOKUP,
  FUSE_LSEEK,
  FUSE_MKDIR,
  FUSE_MKNOD,
  FUSE_OPEN,
  FUSE_OPENDIR,
  FUSE_READ,
  FUSE_READDIR,
  FUSE_READDIRPLUS,
  FUSE_READLINK,
  FUSE_RELEASE,
  FUSE_RELEASEDIR,
  FUSE_REMOVEXATTR,
  FUSE_RENAME,
  FUSE_RENAME2,
  FUSE_RMDIR,
  FUSE_SETATTR,
  FUSE_SETXATTR,
  FUSE_STATFS,
  FUSE_SYMLINK,
  FUSE_UNLINK,
  FUSE_WRITE,
} from "../../src/generated/devices/fs.ts";
import { OPEN_FLAGS } from "../../src/devices/fs/mod.ts";
import {
  checkedFs,
  hostileName,
  hostileTarget,
  type HostTree,
  memoryTree,
  type Rng,
  runFsCases,
} from "./_fs_fuzz.ts";

/** One case in this many serves a host directory. */
export const HOST_EVERY = 16;
/** Host cases between two counts of open descriptors. */
const FD_EVERY = 32;
const MAX_HANDLES = 4; // low, so that EMFILE is reached
const MAX_NODES = 12; // and ENFILE
const HDR = 40;
const OUT = 16;
const ROOM = 64 * 1024;

/** One failed case. */
export interface FuseFuzzFailure {
  /** The case index; with the run's seed, it replays the case. */
  readonly case: number;
  /** What went wrong. */
  readonly error: string;
  /** The case's requests up to the failure (opcode, length, mutation), newest last. */
  readonly input: string[];
}

/** Fuzz the FUSE server. */
export function fuzzFuse(
  o: { seed: number; cases: number; first?: number },
): { cases: number; failures: FuseFuzzFailure[] } {
  let failures: FuseFuzzFailure[] = [];
  // Every refused request makes an error; capturing its stack costs much. A replay keeps them.
  const limit = Error.stackTraceLimit;
  if (o.cases > 1) Error.stackTraceLimit = 0;
  // The server logs a non-FsError EIO with console.error: the fuzzer reports those itself.
  const consoleError = console.error;
  console.error = () => {};
  try {
    failures = runFsCases(o, 0x5bd1e995, HOST_EVERY, FD_EVERY, runCase);
  } finally {
    console.error = consoleError;
    Error.stackTraceLimit = limit;
  }
  return { cases: o.cases, failures };
}

type Slot = "fh" | "node" | "u32" | "u64" | "off" | "size" | "flags" | "mode";

/** The fixed argument of an opcode: its size and its fields worth choosing (the rest random). */
interface Op {
  readonly size: number;
  readonly slots: readonly (readonly [number, Slot, 4 | 8])[];
  /** Names after the fixed part (NUL-terminated strings). */
  readonly names?: number;
  /** What follows: write data, an xattr name and value, forget entries, a link target. */
  readonly tail?: "data" | "xattr" | "xname" | "forgets" | "target";
}

const OPS: ReadonlyMap<number, Op> = new Map<number, Op>([
  [FUSE_LOOKUP, { size: 0, slots: [], names: 1 }],
  [FUSE_FORGET, { size: 8, slots: [[0, "u64", 8]] }],
  [FUSE_GETATTR, { size: 16, slots: [[0, "u32", 4], [8, "fh", 8]] }],
  [FUSE_SETATTR, {
    size: 88,
    slots: [[0, "u32", 4], [8, "fh", 8], [16, "off", 8], [68, "mode", 4], [76, "u32", 4]],
  }],
  [FUSE_READLINK, { size: 0, slots: [] }],
  [FUSE_SYMLINK, { size: 0, slots: [], names: 1, tail: "target" }],
  [FUSE_MKNOD, { size: 16, slots: [[0, "mode", 4], [4, "u32", 4]], names: 1 }],
  [FUSE_MKDIR, { size: 8, slots: [[0, "mode", 4]], names: 1 }],
  [FUSE_UNLINK, { size: 0, slots: [], names: 1 }],
  [FUSE_RMDIR, { size: 0, slots: [], names: 1 }],
  [FUSE_RENAME, { size: 8, slots: [[0, "node", 8]], names: 2 }],
  [FUSE_RENAME2, { size: 16, slots: [[0, "node", 8], [8, "u32", 4]], names: 2 }],
  [FUSE_LINK, { size: 8, slots: [[0, "node", 8]], names: 1 }],
  [FUSE_OPEN, { size: 8, slots: [[0, "flags", 4]] }],
  [FUSE_OPENDIR, { size: 8, slots: [[0, "flags", 4]] }],
  [FUSE_CREATE, { size: 16, slots: [[0, "flags", 4], [4, "mode", 4]], names: 1 }],
  [FUSE_READ, { size: 40, slots: [[0, "fh", 8], [8, "off", 8], [16, "size", 4]] }],
  [FUSE_READDIR, { size: 40, slots: [[0, "fh", 8], [8, "off", 8], [16, "size", 4]] }],
  [FUSE_READDIRPLUS, { size: 40, slots: [[0, "fh", 8], [8, "off", 8], [16, "size", 4]] }],
  [FUSE_WRITE, {
    size: 40,
    slots: [[0, "fh", 8], [8, "off", 8], [16, "size", 4]],
    tail: "data",
  }],
  [FUSE_STATFS, { size: 0, slots: [] }],
  [FUSE_RELEASE, { size: 24, slots: [[0, "fh", 8]] }],
  [FUSE_RELEASEDIR, { size: 24, slots: [[0, "fh", 8]] }],
  [FUSE_FLUSH, { size: 24, slots: [[0, "fh", 8]] }],
  [FUSE_FSYNC, { size: 16, slots: [[0, "fh", 8], [8, "u32", 4]] }],
  [FUSE_FSYNCDIR, { size: 16, slots: [[0, "fh", 8], [8, "u32", 4]] }],
  [FUSE_SETXATTR, { size: 8, slots: [[0, "size", 4], [4, "u32", 4]], tail: "xattr" }],
  [FUSE_GETXATTR, { size: 8, slots: [[0, "size", 4]], tail: "xname" }],
  [FUSE_LISTXATTR, { size: 8, slots: [[0, "size", 4]] }],
  [FUSE_REMOVEXATTR, { size: 0, slots: [], tail: "xname" }],
  [FUSE_ACCESS, { size: 8, slots: [[0, "u32", 4]] }],
  [FUSE_FALLOCATE, {
    size: 32,
    slots: [[0, "fh", 8], [8, "off", 8], [16, "off", 8], [24, "u32", 4]],
  }],
  [FUSE_LSEEK, { size: 24, slots: [[0, "fh", 8], [8, "off", 8], [16, "u32", 4]] }],
  [FUSE_BATCH_FORGET, { size: 8, slots: [[0, "u32", 4]], tail: "forgets" }],
  [FUSE_INTERRUPT, { size: 8, slots: [[0, "u64", 8]] }],
  [FUSE_INIT, { size: 16, slots: [[0, "u32", 4], [4, "u32", 4], [12, "u32", 4]] }],
  [FUSE_DESTROY, { size: 0, slots: [] }],
]);
const OPCODES = [...OPS.keys()];

interface CaseState {
  r: Rng;
  /** Node ids and file handles the server gave in this case. */
  nodes: number[];
  fhs: number[];
  outside: string;
}

const enc = new TextEncoder();

/** Builds one request: fuse_in_header, the fixed argument, names and the tail. */
class Req {
  static #buf = new Uint8Array(1 << 17);
  static #view = new DataView(Req.#buf.buffer);
  #n = HDR;
  constructor(opcode: number, unique: bigint, nodeid: bigint) {
    const v = Req.#view;
    Req.#buf.fill(0, 0, HDR);
    v.setUint32(4, opcode, true);
    v.setBigUint64(8, unique, true);
    v.setBigUint64(16, nodeid & 0xffffffffffffffffn, true);
  }
  get view(): DataView {
    return Req.#view;
  }
  get at(): number {
    return this.#n;
  }
  data(d: Uint8Array): this {
    Req.#buf.set(d, this.#n);
    this.#n += d.length;
    return this;
  }
  /** A name and its NUL (or not). */
  name(s: Uint8Array, nul = true): this {
    this.data(s);
    if (nul) Req.#buf[this.#n++] = 0;
    return this;
  }
  done(): Uint8Array {
    Req.#view.setUint32(0, this.#n, true);
    return Req.#buf.slice(0, this.#n);
  }
}

function node(s: CaseState): bigint {
  const r = s.r;
  if (s.nodes.length > 0 && r.chance(0.6)) return BigInt(r.pick(s.nodes));
  return r.pick([1n, 1n, 1n, 0n, 2n, 3n, 2n ** 53n, 2n ** 64n - 1n, BigInt(r.u32())]);
}

function fh(s: CaseState): bigint {
  const r = s.r;
  if (s.fhs.length > 0 && r.chance(0.7)) return BigInt(r.pick(s.fhs));
  return r.pick([0n, 1n, 2n, 2n ** 32n, 2n ** 64n - 1n, BigInt(r.u32())]);
}

function slotValue(s: CaseState, kind: Slot): bigint {
  const r = s.r;
  switch (kind) {
    case "fh":
      return fh(s);
    case "node":
      return node(s);
    case "off":
      return r.pick([0n, 1n, 100n, 4096n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]);
    case "size":
      return BigInt(r.pick([0, 1, 64, 4096, ROOM, 0x7fffffff, 0xffffffff, r.below(300)]));
    case "flags": {
      const F = OPEN_FLAGS;
      return BigInt(
        r.chance(0.7)
          ? r.pick([F.O_RDONLY, F.O_WRONLY, F.O_RDWR]) |
            r.pick([0, F.O_TRUNC, F.O_APPEND, F.O_CREAT | F.O_EXCL, F.O_DIRECTORY])
          : r.u32(),
      );
    }
    case "mode":
      return BigInt(r.pick([0o644, 0o755, 0o4755, 0o100644, 0o20644, 0o60644, 0o10644, r.u32()]));
    case "u64":
      return r.chance(0.5) ? BigInt(r.below(4)) : BigInt(r.u32()) << BigInt(r.below(33));
    default:
      return BigInt(r.chance(0.5) ? r.below(8) : r.u32());
  }
}

/** A request of `opcode` with hostile contents. */
function request(s: CaseState, opcode: number, unique: bigint): Uint8Array {
  const r = s.r;
  const op = OPS.get(opcode);
  const q = new Req(opcode, unique, node(s));
  if (op === undefined) return q.data(r.bytes(r.below(64))).done();
  const at = q.at;
  q.data(r.bytes(op.size));
  for (const [off, kind, width] of op.slots) {
    if (r.chance(0.1)) continue; // keep the random bytes
    const v = slotValue(s, kind);
    if (width === 4) q.view.setUint32(at + off, Number(v & 0xffffffffn), true);
    else q.view.setBigUint64(at + off, v & 0xffffffffffffffffn, true);
  }
  for (let i = 0; i < (op.names ?? 0); i++) q.name(hostileName(r, 8000), r.chance(0.95));
  switch (op.tail) {
    case "data": {
      const n = q.view.getUint32(at + 16, true);
      q.data(r.bytes(n <= 8192 && r.chance(0.8) ? n : r.below(600)));
      break;
    }
    case "target":
      q.name(hostileTarget(r, s.outside), r.chance(0.95));
      break;
    case "xname":
    case "xattr": {
      q.name(enc.encode(r.pick(["user.fuzz", "user.x", "", "security.selinux", "trusted.a"])));
      if (op.tail === "xattr") {
        const n = q.view.getUint32(at, true);
        q.data(r.bytes(n <= 8192 && r.chance(0.8) ? n : r.below(100)));
      }
      break;
    }
    case "forgets": {
      const count = q.view.getUint32(at, true);
      const n = count <= 64 && r.chance(0.8) ? count : r.below(8);
      for (let i = 0; i < n; i++) {
        const e = new Uint8Array(16);
        const v = new DataView(e.buffer);
        v.setBigUint64(0, node(s) & 0xffffffffffffffffn, true);
        v.setBigUint64(8, BigInt(r.pick([0, 1, 2, 0xffffffff])), true);
        q.data(e);
      }
      break;
    }
  }
  return q.done();
}

/** The request, mutated now and then; returns its bytes and what was done to it. */
function mutate(r: Rng, req: Uint8Array): { bytes: Uint8Array; how: string } {
  switch (r.below(14)) {
    case 0: {
      const b = req.slice();
      const len = r.pick([0, 16, 39, 40, b.length - 1, b.length + 1, b.length + 4096, 0xffffffff]);
      new DataView(b.buffer).setUint32(0, len >>> 0, true);
      return { bytes: b, how: `len ${len >>> 0}` };
    }
    case 1: {
      const n = r.below(req.length);
      const b = req.slice(0, n);
      if (n >= 4 && r.chance(0.7)) new DataView(b.buffer).setUint32(0, n, true);
      return { bytes: b, how: `cut at ${n}` };
    }
    case 2: {
      const b = req.slice();
      const at = r.below(b.length);
      b[at] ^= 1 << r.below(8);
      return { bytes: b, how: `bit flip at ${at}` };
    }
    case 3: {
      const tail = r.bytes(1 + r.below(16));
      const b = new Uint8Array(req.length + tail.length);
      b.set(req);
      b.set(tail, req.length);
      if (r.chance(0.7)) new DataView(b.buffer).setUint32(0, b.length, true);
      return { bytes: b, how: `+${tail.length} bytes` };
    }
    default:
      return { bytes: req, how: "" };
  }
}

function runCase(
  r: Rng,
  host: HostTree | undefined,
): { error: string; input: string[] } | undefined {
  const input: string[] = [];
  const escapes: string[] = [];
  if (host !== undefined) host.reset();
  const fs = checkedFs(host?.fs ?? memoryTree(), escapes);
  const server = new FuseServer(fs, { maxHandles: MAX_HANDLES, maxNodes: MAX_NODES });
  const s: CaseState = { r, nodes: [], fhs: [], outside: host?.outside ?? "/nonexistent-outside" };
  const fail = (error: string) => ({ error, input: input.slice(-40) });
  let unique = 1n;
  const n = (r.chance(0.9) ? 1 : 0) + 1 + r.below(40);
  for (let i = 0; i < n; i++) {
    let bytes: Uint8Array;
    let how = "";
    if (i === 0 && n > 1 && r.chance(0.9)) {
      bytes = init(unique++);
      how = "start";
    } else if (r.chance(0.03)) {
      bytes = r.bytes(r.below(80));
      how = "random bytes";
    } else {
      const opcode = r.chance(0.97) ? r.pick(OPCODES) : r.below(64);
      ({ bytes, how } = mutate(r, request(s, opcode, r.chance(0.9) ? unique++ : BigInt(r.u32()))));
    }
    const cap = r.chance(0.85) ? ROOM : r.pick([0, 15, 16, 17, 100, 127, 144, r.below(8192)]);
    const opcode = bytes.length >= 8 ? new DataView(bytes.buffer).getUint32(4, true) : -1;
    input.push(`opcode ${opcode} len ${bytes.length} cap ${cap} ${how}`);
    const problem = exchange(server, bytes, cap, host, s);
    if (escapes.length > 0) return fail(`escape: ${escapes[0]}`);
    if (problem !== undefined) return fail(problem);
  }
  input.push("-- a valid session");
  const problem = validSession(server, host, s);
  if (escapes.length > 0) return fail(`escape: ${escapes[0]}`);
  if (problem !== undefined) return fail(problem);
  server.reset();
  if (host !== undefined) {
    const odd = host.check();
    if (odd !== undefined) return fail(`host: ${odd}`);
  }
  return undefined;
}

function init(unique: bigint): Uint8Array {
  const q = new Req(FUSE_INIT, unique, 0n);
  const a = new Uint8Array(16);
  const v = new DataView(a.buffer);
  v.setUint32(0, 7, true);
  v.setUint32(4, 31, true);
  v.setUint32(8, 65536, true);
  v.setUint32(12, 0xffffffff, true);
  return q.data(a).done();
}

/** One request and its checks; learns node ids and handles from good replies. */
function exchange(
  server: FuseServer,
  bytes: Uint8Array,
  cap: number,
  host: HostTree | undefined,
  s: CaseState,
): string | undefined {
  const before = server.internalErrors;
  server.request(bytes.length).set(bytes);
  let n: number;
  try {
    n = server.handle(bytes.length, cap);
  } catch (e) {
    return `handle threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  if (server.internalErrors !== before) {
    const e = server.lastInternalError;
    return `untyped error inside the server: ${
      e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)
    }`;
  }
  if (n < 0 || n > cap) return `reply of ${n} bytes for a room of ${cap}`;
  if (n === 0) return undefined; // FORGET, INTERRUPT, a request too short, or no room
  if (n < OUT) return `a reply of ${n} bytes, shorter than its header`;
  const reply = server.reply.subarray(0, n);
  const v = new DataView(reply.buffer, reply.byteOffset, n);
  if (v.getUint32(0, true) !== n) {
    return `reply's len ${v.getUint32(0, true)} is not its length ${n}`;
  }
  const error = v.getInt32(4, true);
  if (!(error === 0 || (error < 0 && error > -4096))) return `reply error ${error}`;
  if (error !== 0 && n !== OUT) return `an error reply of ${n} bytes`;
  if (
    bytes.length >= HDR &&
    v.getBigUint64(8, true) !== new DataView(bytes.buffer).getBigUint64(8, true)
  ) {
    return "reply's unique is not the request's";
  }
  if (host !== undefined && host.leaks(reply)) return "a reply holds the secret of outside/";
  if (error === 0 && bytes.length >= HDR) {
    // Learn what the server handed out, for later requests to use.
    const opcode = new DataView(bytes.buffer).getUint32(4, true);
    if (
      [FUSE_LOOKUP, FUSE_MKDIR, FUSE_MKNOD, FUSE_SYMLINK, FUSE_LINK, FUSE_CREATE].includes(opcode)
    ) {
      s.nodes.push(Number(v.getBigUint64(OUT, true)));
    }
    if (opcode === FUSE_OPEN || opcode === FUSE_OPENDIR) {
      s.fhs.push(Number(v.getBigUint64(OUT, true)));
    }
    if (opcode === FUSE_CREATE && n >= OUT + 128 + 8) {
      s.fhs.push(Number(v.getBigUint64(OUT + 128, true)));
    }
  }
  return undefined;
}

/** A well-behaved driver after the hostile one: INIT, CREATE, WRITE, READ, RELEASE, LOOKUP. */
function validSession(
  server: FuseServer,
  host: HostTree | undefined,
  s: CaseState,
): string | undefined {
  const data = enc.encode("valid session data\n".repeat(20));
  const call = (what: string, bytes: Uint8Array): DataView | string => {
    const problem = exchange(server, bytes, ROOM, host, s);
    if (problem !== undefined) return `valid session, ${what}: ${problem}`;
    const n = new DataView(server.reply.buffer).getUint32(0, true);
    const v = new DataView(server.reply.buffer, 0, n);
    if (v.getInt32(4, true) !== 0) return `valid session, ${what}: error ${v.getInt32(4, true)}`;
    return v;
  };
  // A driver that mounts afresh: DESTROY (the unmount; it forgets every node and handle, as a
  // Tversion does for 9P, so the hostile session's nodes and handles do not count against the
  // limits), then INIT.
  server.request(HDR).set(new Req(FUSE_DESTROY, 999n, 0n).done());
  server.handle(HDR, ROOM);
  if (server.nodeCount !== 1) return `valid session: ${server.nodeCount} nodes after DESTROY`;
  const i = call("INIT", init(1000n));
  if (typeof i === "string") return i;
  const name = enc.encode("valid-file");
  const cq = new Req(FUSE_CREATE, 1001n, 1n);
  const ca = new Uint8Array(16);
  new DataView(ca.buffer).setUint32(0, OPEN_FLAGS.O_RDWR | OPEN_FLAGS.O_TRUNC, true);
  new DataView(ca.buffer).setUint32(4, 0o100644, true);
  const c = call("CREATE", cq.data(ca).name(name).done());
  if (typeof c === "string") return c;
  const nodeid = c.getBigUint64(OUT, true);
  const handle = c.getBigUint64(OUT + 128, true);
  const io = (opcode: number, unique: bigint, size: number, tail?: Uint8Array) => {
    const q = new Req(opcode, unique, nodeid);
    const a = new Uint8Array(40);
    const v = new DataView(a.buffer);
    v.setBigUint64(0, handle, true);
    v.setUint32(16, size, true);
    q.data(a);
    if (tail !== undefined) q.data(tail);
    return q.done();
  };
  const w = call("WRITE", io(FUSE_WRITE, 1002n, data.length, data));
  if (typeof w === "string") return w;
  if (w.getUint32(OUT, true) !== data.length) return "valid session, WRITE: short";
  const rd = call("READ", io(FUSE_READ, 1003n, 4096));
  if (typeof rd === "string") return rd;
  if (rd.byteLength !== OUT + data.length || !data.every((b, k) => rd.getUint8(OUT + k) === b)) {
    return "valid session, READ: not the data written";
  }
  const rel = new Req(FUSE_RELEASE, 1004n, nodeid);
  const ra = new Uint8Array(24);
  new DataView(ra.buffer).setBigUint64(0, handle, true);
  const re = call("RELEASE", rel.data(ra).done());
  if (typeof re === "string") return re;
  const lk = call("LOOKUP", new Req(FUSE_LOOKUP, 1005n, 1n).name(name).done());
  if (typeof lk === "string") return lk;
  if (lk.getBigUint64(OUT, true) !== nodeid) return "valid session, LOOKUP: another node id";
  return undefined;
}
