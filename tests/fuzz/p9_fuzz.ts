/**
 * A fuzzer of the 9P2000.L server of virtio-9p (`P9Server`, which
 * `P9Device` feeds one request at a time): each case is a session of hostile
 * messages against a fresh tree, in memory, or (one case in
 * {@link HOST_EVERY}) a host directory next to a directory that must stay
 * untouched. Messages are well-formed T-messages with hostile contents (fids
 * it made, fids it never made, names such as `..`, `/`, embedded NULs,
 * invalid UTF-8 and very long ones, links that lead outside, offsets and
 * counts past every limit), the same with a mutation (a lying size field, a
 * cut, a flipped bit), or random bytes; the reply room varies too.
 *
 * A message fails the case when `handle` throws, when the server met an
 * exception that is not a `VirtioError` (its `internalErrors` count), when
 * the server asks the file system for a path outside the tree (a `..`, an
 * absolute path, a NUL), when the reply is longer than its room, its size
 * field is not its length, its tag is not the request's or its type neither
 * the answer's nor Rlerror, or when fids or open handles pass their bounds.
 * After the hostile messages, a valid session must still be served (version,
 * attach, create, write, read back, clunk); for a host directory, nothing
 * outside the export may have changed, no reply may hold the marker of the
 * file outside, and the export may hold no device node or socket. Every
 * {@link FD_EVERY} host cases, no host descriptor may stay open after the
 * server's reset.
 *
 * `fuzzP9({ seed, cases, first? })` returns `{ cases, failures }`.
 *
 * @module
 */

import { P9Server } from "../../src/devices/p9/server.ts";
import {
  P9_RLERROR,
  P9_TATTACH,
  P9_TAUTH,
  P9_TCLUNK,
  P9_TFLUSH,
  P9_TFSYNC,
  P9_TGETATTR,
  P9_TGETLOCK,
  P9_TLCREATE,
  P9_TLINK,
  P9_TLOCK,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TMKNOD,
  P9_TREAD,
  P9_TREADDIR,
  P9_TREADLINK,
  P9_TREMOVE,
  P9_TRENAME,
  P9_TRENAMEAT,
  P9_TSETATTR,
  P9_TSTATFS,
  P9_TSYMLINK,
  P9_TUNLINKAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9_TXATTRCREATE,
  P9_TXATTRWALK,
} from "../../src/generated/devices/9p.ts";
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
const MAX_MSIZE = 16 * 1024;
const MAX_FIDS = 16; // low, so that EMFILE is reached

/** One failed case. */
export interface P9FuzzFailure {
  /** The case index; with the run's seed, it replays the case. */
  readonly case: number;
  /** What went wrong. */
  readonly error: string;
  /** The case's messages up to the failure (type, length, mutation), newest last. */
  readonly input: string[];
}

/** Fuzz the 9P2000.L server. */
export function fuzzP9(
  o: { seed: number; cases: number; first?: number },
): { cases: number; failures: P9FuzzFailure[] } {
  let failures: P9FuzzFailure[] = [];
  // Every refused message makes an error; capturing its stack was a tenth of the time. A
  // replay of one case keeps the stacks.
  const limit = Error.stackTraceLimit;
  if (o.cases > 1) Error.stackTraceLimit = 0;
  try {
    failures = runFsCases(o, 0, HOST_EVERY, FD_EVERY, runCase);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return { cases: o.cases, failures };
}

const enc = new TextEncoder();

/** Builds one message: size[4] type[1] tag[2] and the fields. */
class Msg {
  static #buf = new Uint8Array(1 << 17);
  static #view = new DataView(Msg.#buf.buffer);
  #n = 4;
  constructor(type: number, tag: number) {
    this.u8(type).u16(tag);
  }
  u8(v: number): this {
    Msg.#buf[this.#n++] = v;
    return this;
  }
  u16(v: number): this {
    Msg.#view.setUint16(this.#n, v & 0xffff, true);
    this.#n += 2;
    return this;
  }
  u32(v: number): this {
    Msg.#view.setUint32(this.#n, v >>> 0, true);
    this.#n += 4;
    return this;
  }
  u64(v: bigint): this {
    Msg.#view.setBigUint64(this.#n, v & 0xffffffffffffffffn, true);
    this.#n += 8;
    return this;
  }
  /** len[2] and the bytes. */
  str(s: Uint8Array): this {
    this.u16(s.length);
    return this.data(s);
  }
  data(d: Uint8Array): this {
    Msg.#buf.set(d, this.#n);
    this.#n += d.length;
    return this;
  }
  /** The message (a copy), its size field set. */
  done(): Uint8Array {
    Msg.#view.setUint32(0, this.#n, true);
    return Msg.#buf.slice(0, this.#n);
  }
}

const TYPES = [
  P9_TATTACH,
  P9_TWALK,
  P9_TWALK,
  P9_TWALK,
  P9_TLOPEN,
  P9_TLOPEN,
  P9_TLCREATE,
  P9_TREAD,
  P9_TREAD,
  P9_TWRITE,
  P9_TWRITE,
  P9_TCLUNK,
  P9_TREMOVE,
  P9_TGETATTR,
  P9_TSETATTR,
  P9_TREADDIR,
  P9_TREADDIR,
  P9_TMKDIR,
  P9_TSYMLINK,
  P9_TMKNOD,
  P9_TREADLINK,
  P9_TRENAME,
  P9_TRENAMEAT,
  P9_TUNLINKAT,
  P9_TLINK,
  P9_TSTATFS,
  P9_TFSYNC,
  P9_TXATTRWALK,
  P9_TXATTRCREATE,
  P9_TLOCK,
  P9_TGETLOCK,
  P9_TFLUSH,
  P9_TVERSION,
  P9_TAUTH,
];

interface CaseState {
  r: Rng;
  /** Fids the case made (or tried to). */
  fids: number[];
  outside: string;
}

function fid(s: CaseState): number {
  const r = s.r;
  if (s.fids.length > 0 && r.chance(0.75)) return r.pick(s.fids);
  return r.pick([0, 1, 2, 3, 0xffffffff, 0xfffffffe, r.u32(), r.below(MAX_FIDS * 2)]);
}

function newFid(s: CaseState): number {
  const r = s.r;
  // Now and then one in use (refused), mostly a small number, sometimes NOFID or any.
  const n = s.fids.length > 0 && r.chance(0.15)
    ? r.pick(s.fids)
    : r.chance(0.85)
    ? r.below(MAX_FIDS + 8)
    : r.pick([0xffffffff, r.u32()]);
  s.fids.push(n);
  return n;
}

function u32(r: Rng): number {
  return r.pick([0, 1, 4096, 8192, MAX_MSIZE, 0x7fffffff, 0xffffffff, r.u32(), r.below(256)]);
}

function u64(r: Rng): bigint {
  return r.pick([
    0n,
    1n,
    4096n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 63n,
    2n ** 64n - 1n,
    BigInt(r.u32()),
    BigInt(r.below(300)),
  ]);
}

function openFlags(r: Rng): number {
  const F = OPEN_FLAGS;
  return r.chance(0.7)
    ? r.pick([F.O_RDONLY, F.O_WRONLY, F.O_RDWR]) |
      r.pick([0, F.O_TRUNC, F.O_APPEND, F.O_CREAT | F.O_EXCL, F.O_DIRECTORY, F.O_NOFOLLOW])
    : r.u32();
}

function mode(r: Rng): number {
  return r.pick([0o644, 0o755, 0o4755, 0o100644, 0o20644, 0o60644, 0o10644, 0o140644, r.u32()]);
}

function name(s: CaseState): Uint8Array {
  return hostileName(s.r, 12000);
}

/** A T-message of `type` with hostile contents. */
function message(s: CaseState, type: number, tag: number): Uint8Array {
  const r = s.r;
  const m = new Msg(type, tag);
  switch (type) {
    case P9_TVERSION:
      return m.u32(r.pick([4095, 4096, 8192, MAX_MSIZE, 0xffffffff, r.u32()]))
        .str(enc.encode(r.pick(["9P2000.L", "9P2000", "9P2000.u", "", "9P2000.L\0"]))).done();
    case P9_TAUTH:
    case P9_TATTACH:
      m.u32(type === P9_TAUTH ? fid(s) : newFid(s)).u32(r.pick([0xffffffff, fid(s)]));
      return m.str(enc.encode(r.pick(["root", "", "nobody"]))).str(name(s)).u32(u32(r)).done();
    case P9_TWALK: {
      m.u32(fid(s)).u32(r.chance(0.2) ? fid(s) : newFid(s));
      const n = r.chance(0.9) ? r.below(5) : r.pick([16, 17, 0xffff]);
      m.u16(n);
      for (let i = 0; i < Math.min(n, 20); i++) m.str(name(s));
      return m.done();
    }
    case P9_TLOPEN:
      return m.u32(fid(s)).u32(openFlags(r)).done();
    case P9_TLCREATE:
      return m.u32(fid(s)).str(name(s)).u32(openFlags(r)).u32(mode(r)).u32(u32(r)).done();
    case P9_TREAD:
    case P9_TREADDIR:
      return m.u32(fid(s)).u64(u64(r)).u32(u32(r)).done();
    case P9_TWRITE: {
      const data = r.bytes(r.pick([0, 1, 100, 4000]));
      const count = r.chance(0.8) ? data.length : u32(r);
      return m.u32(fid(s)).u64(u64(r)).u32(count).data(data).done();
    }
    case P9_TCLUNK:
    case P9_TREMOVE:
    case P9_TREADLINK:
    case P9_TSTATFS:
      return m.u32(fid(s)).done();
    case P9_TGETATTR:
      return m.u32(fid(s)).u64(r.pick([0x3fffn, 0x7ffn, 0n, u64(r)])).done();
    case P9_TSETATTR:
      m.u32(fid(s)).u32(r.pick([r.u32(), 0x1ff, 1, 8, 0x80 | 0x100, 0])).u32(mode(r))
        .u32(u32(r)).u32(u32(r)).u64(u64(r));
      for (let i = 0; i < 4; i++) m.u64(u64(r));
      return m.done();
    case P9_TMKDIR:
      return m.u32(fid(s)).str(name(s)).u32(mode(r)).u32(u32(r)).done();
    case P9_TSYMLINK:
      return m.u32(fid(s)).str(name(s)).str(hostileTarget(r, s.outside)).u32(u32(r)).done();
    case P9_TMKNOD:
      return m.u32(fid(s)).str(name(s)).u32(mode(r)).u32(u32(r)).u32(u32(r)).u32(u32(r))
        .done();
    case P9_TRENAME:
      return m.u32(fid(s)).u32(fid(s)).str(name(s)).done();
    case P9_TRENAMEAT:
      return m.u32(fid(s)).str(name(s)).u32(fid(s)).str(name(s)).done();
    case P9_TUNLINKAT:
      return m.u32(fid(s)).str(name(s)).u32(r.pick([0, 0x200, r.u32()])).done();
    case P9_TLINK:
      return m.u32(fid(s)).u32(fid(s)).str(name(s)).done();
    case P9_TFSYNC:
      return m.u32(fid(s)).u32(r.below(3)).done();
    case P9_TXATTRWALK:
      return m.u32(fid(s)).u32(newFid(s))
        .str(enc.encode(r.pick(["", "user.fuzz", "user.none", "security.x"]))).done();
    case P9_TXATTRCREATE:
      return m.u32(fid(s)).str(enc.encode("user.fuzz")).u64(u64(r)).u32(r.below(4)).done();
    case P9_TLOCK:
      return m.u32(fid(s)).u8(r.below(4)).u32(r.below(4)).u64(u64(r)).u64(u64(r)).u32(u32(r))
        .str(name(s)).done();
    case P9_TGETLOCK:
      return m.u32(fid(s)).u8(r.below(4)).u64(u64(r)).u64(u64(r)).u32(u32(r)).str(name(s))
        .done();
    case P9_TFLUSH:
      return m.u16(r.u32()).done();
    default:
      return m.data(r.bytes(r.below(64))).done();
  }
}

/** The message, mutated now and then; returns its bytes and what was done to it. */
function mutate(r: Rng, msg: Uint8Array): { bytes: Uint8Array; how: string } {
  switch (r.below(12)) {
    case 0: { // the size field lies
      const b = msg.slice();
      const size = r.pick([0, 6, 7, b.length - 1, b.length + 1, b.length + 4096, 0xffffffff]);
      new DataView(b.buffer).setUint32(0, size >>> 0, true);
      return { bytes: b, how: `size ${size >>> 0}` };
    }
    case 1: { // cut short, the size field kept (or made to match)
      const n = r.below(msg.length);
      const b = msg.slice(0, n);
      if (n >= 4 && r.chance(0.5)) new DataView(b.buffer).setUint32(0, n, true);
      return { bytes: b, how: `cut at ${n}` };
    }
    case 2: { // a flipped bit
      const b = msg.slice();
      const at = r.below(b.length);
      b[at] ^= 1 << r.below(8);
      return { bytes: b, how: `bit flip at ${at}` };
    }
    case 3: { // trailing junk
      const tail = r.bytes(1 + r.below(16));
      const b = new Uint8Array(msg.length + tail.length);
      b.set(msg);
      b.set(tail, msg.length);
      if (r.chance(0.5)) new DataView(b.buffer).setUint32(0, b.length, true);
      return { bytes: b, how: `+${tail.length} bytes` };
    }
    case 4: { // random bytes with a plausible header
      const b = r.bytes(7 + r.below(80));
      new DataView(b.buffer).setUint32(0, b.length, true);
      return { bytes: b, how: "random body" };
    }
    default:
      return { bytes: msg, how: "" };
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
  const server = new P9Server(fs, { maxMsize: MAX_MSIZE, maxFids: MAX_FIDS });
  const s: CaseState = { r, fids: [], outside: host?.outside ?? "/nonexistent-outside" };
  const fail = (error: string) => ({ error, input: input.slice(-40) });

  // Mostly a proper start (Tversion, Tattach), so that messages get past the first refusal.
  const start: Uint8Array[] = [];
  if (r.chance(0.9)) {
    const msize = r.pick([4096, 8192, 65536, MAX_MSIZE, 0xffffffff]);
    start.push(new Msg(P9_TVERSION, 0xffff).u32(msize).str(enc.encode("9P2000.L")).done());
    if (r.chance(0.9)) {
      s.fids.push(0);
      start.push(
        new Msg(P9_TATTACH, 1).u32(0).u32(0xffffffff).str(enc.encode("root"))
          .str(new Uint8Array()).u32(0).done(),
      );
    }
  }
  const n = 1 + r.below(40);
  for (let i = 0; i < start.length + n; i++) {
    let bytes: Uint8Array;
    let how = "start";
    if (i < start.length) {
      bytes = start[i];
    } else if (r.chance(0.03)) {
      bytes = r.bytes(r.below(40));
      how = "random bytes";
    } else {
      const type = r.chance(0.97) ? r.pick(TYPES) : r.below(256);
      ({ bytes, how } = mutate(r, message(s, type, r.below(0x10000))));
    }
    const cap = r.chance(0.85) ? MAX_MSIZE : r.pick([0, 6, 7, 11, 12, 64, 200, r.below(8192)]);
    input.push(`type ${bytes[4] ?? "-"} len ${bytes.length} cap ${cap} ${how}`);
    const problem = exchange(server, bytes, cap, host);
    // (An escape also shows as an untyped error: the checking wrapper refuses with an Error.)
    if (escapes.length > 0) return fail(`escape: ${escapes[0]}`);
    if (problem !== undefined) return fail(problem);
    if (server.fidCount > MAX_FIDS) return fail(`${server.fidCount} fids, past ${MAX_FIDS}`);
    if (server.openHandles > server.fidCount) {
      return fail(`${server.openHandles} open handles for ${server.fidCount} fids`);
    }
  }
  input.push("-- a valid session");
  const problem = validSession(server, host);
  if (escapes.length > 0) return fail(`escape: ${escapes[0]}`);
  if (problem !== undefined) return fail(problem);
  server.reset();
  if (server.openHandles !== 0) return fail(`${server.openHandles} handles open after reset`);
  if (host !== undefined) {
    const odd = host.check();
    if (odd !== undefined) return fail(`host: ${odd}`);
  }
  return undefined;
}

/** One request and its checks; the reply is left in `server.reply`. */
function exchange(
  server: P9Server,
  bytes: Uint8Array,
  cap: number,
  host: HostTree | undefined,
): string | undefined {
  const before = server.internalErrors;
  const buf = server.request(bytes.length);
  const len = Math.min(bytes.length, buf.length);
  buf.set(bytes.subarray(0, len));
  let n: number;
  try {
    n = server.handle(len, cap);
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
  if (n === 0) return cap < 11 ? undefined : `no reply in a room of ${cap}`;
  const reply = server.reply.subarray(0, n);
  const v = new DataView(reply.buffer, reply.byteOffset, n);
  if (n < 7 || v.getUint32(0, true) !== n) return `reply's size field is not its length ${n}`;
  const type = reply[4];
  const reqType = len >= 5 ? bytes[4] : -1;
  if (type !== P9_RLERROR && type !== reqType + 1) {
    return `reply type ${type} to a request of type ${reqType}`;
  }
  if (len >= 7 && v.getUint16(5, true) !== (bytes[5] | (bytes[6] << 8))) return "reply's tag";
  if (type === P9_RLERROR) {
    const errno = n >= 11 ? v.getUint32(7, true) : -1;
    if (!(errno >= 1 && errno < 4096)) return `Rlerror with errno ${errno}`;
  }
  if (host !== undefined && host.leaks(reply)) return "a reply holds the secret of outside/";
  return undefined;
}

/** A well-behaved client after the hostile one: version, attach, create, write, read, clunk. */
function validSession(server: P9Server, host: HostTree | undefined): string | undefined {
  const data = enc.encode("valid session data\n".repeat(20));
  const steps: [string, Uint8Array, (v: DataView, n: number) => boolean][] = [
    [
      "Tversion",
      new Msg(P9_TVERSION, 0xffff).u32(8192).str(enc.encode("9P2000.L")).done(),
      (v) => v.getUint32(7, true) === 8192,
    ],
    [
      "Tattach",
      new Msg(P9_TATTACH, 1).u32(0).u32(0xffffffff).str(enc.encode("root"))
        .str(new Uint8Array()).u32(0).done(),
      () => true,
    ],
    ["Twalk", new Msg(P9_TWALK, 2).u32(0).u32(1).u16(0).done(), () => true],
    [
      "Tlcreate",
      new Msg(P9_TLCREATE, 3).u32(1).str(enc.encode("valid-file"))
        .u32(OPEN_FLAGS.O_RDWR | OPEN_FLAGS.O_TRUNC).u32(0o644).u32(0).done(),
      () => true,
    ],
    [
      "Twrite",
      new Msg(P9_TWRITE, 4).u32(1).u64(0n).u32(data.length).data(data).done(),
      (v) => v.getUint32(7, true) === data.length,
    ],
    [
      "Tread",
      new Msg(P9_TREAD, 5).u32(1).u64(0n).u32(4096).done(),
      (v, n) =>
        v.getUint32(7, true) === data.length && n === 11 + data.length &&
        data.every((b, i) => v.getUint8(11 + i) === b),
    ],
    ["Tclunk", new Msg(P9_TCLUNK, 6).u32(1).done(), () => true],
  ];
  for (const [what, msg, ok] of steps) {
    const problem = exchange(server, msg, 8192, host);
    if (problem !== undefined) return `valid session, ${what}: ${problem}`;
    const n = new DataView(server.reply.buffer).getUint32(0, true);
    const v = new DataView(server.reply.buffer, 0, n);
    if (server.reply[4] === P9_RLERROR) {
      // Tlcreate of a name the hostile session made a directory or a link: EEXIST and the like.
      return `valid session, ${what}: Rlerror ${v.getUint32(7, true)}`;
    }
    if (!ok(v, n)) return `valid session, ${what}: unexpected reply`;
  }
  return undefined;
}
