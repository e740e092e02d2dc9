/**
 * Rewrites of v86's wasm module so that guest-memory views made by the host
 * stay valid while v86 runs. v86 allocates its JIT's data with a `malloc`
 * that grows the wasm memory, and growth detaches the memory's
 * `ArrayBuffer` (and every view over it).
 *
 * - {@link withMemoryMaximum}: a maximum on the memory, which lets
 *   `WebAssembly.Memory.prototype.toResizableBuffer` (Deno 2, Node 22+)
 *   give a buffer that growth does not detach.
 * - {@link withFixedMemory}: for runtimes without it (Node 20): the memory
 *   starts at its full size and never grows. Every `memory.grow` in the
 *   code becomes a call to an added function that hands out pages of the
 *   already present memory (an `sbrk` over a page counter, a global that
 *   `memory.size` reads too); only once those run out does it grow the real
 *   memory (the host then reports the detached buffer).
 *
 * Both check that the module is shaped as v86 0.5.462's is and throw
 * otherwise.
 *
 * @module
 */

/** A thrown reason; the caller wraps it in its own error. */
export class WasmPatchError extends Error {}

const need = (ok: boolean, what: string): void => {
  if (!ok) throw new WasmPatchError(what);
};

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

/** A reader of unsigned LEB128 and bytes over `bytes`. */
class Reader {
  p: number;
  constructor(readonly bytes: Uint8Array, p = 0) {
    this.p = p;
  }
  u(): number {
    let r = 0, shift = 0, b;
    do {
      need(this.p < this.bytes.length, "a wasm module that ends inside a number");
      b = this.bytes[this.p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return r;
  }
  /** Skips a LEB128 number (signed or not). */
  skip(): void {
    while (this.bytes[this.p++] & 0x80) { /* continuation */ }
  }
  byte(): number {
    return this.bytes[this.p++];
  }
}

interface Section {
  readonly id: number;
  /** Where the section's body starts and ends. */
  readonly start: number;
  readonly end: number;
}

function sections(bytes: Uint8Array): Section[] {
  need(
    bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 &&
      bytes[3] === 0x6d && bytes[4] === 1,
    "a wasm module (version 1)",
  );
  const r = new Reader(bytes, 8);
  const out: Section[] = [];
  while (r.p < bytes.length) {
    const id = r.byte();
    const len = r.u();
    out.push({ id, start: r.p, end: r.p + len });
    r.p += len;
  }
  return out;
}

const section = (id: number, body: readonly number[] | Uint8Array): Uint8Array => {
  const len = leb(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = id;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
};

/** The memory section's one memory: its minimum (pages); throws unless one memory without maximum. */
function oneMemory(bytes: Uint8Array, s: Section): number {
  const r = new Reader(bytes, s.start);
  const count = r.u();
  const flags = r.u();
  const min = r.u();
  need(count === 1 && flags === 0, "one wasm memory without a maximum (v86.wasm)");
  return min;
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `bytes` with the maximum 65536 pages on its one defined memory. */
export function withMemoryMaximum(bytes: Uint8Array): Uint8Array {
  const secs = sections(bytes);
  const mem = secs.find((s) => s.id === 5);
  need(mem !== undefined, "a memory section in v86.wasm");
  const min = oneMemory(bytes, mem as Section);
  return rebuildWithNew(
    bytes,
    secs,
    new Map([[5, new Uint8Array([1, 1, ...leb(min), ...leb(65536)])]]),
  );
}

const PAGE = 65536;
const I32 = 0x7f;

/**
 * `bytes` with a memory of `totalBytes` (rounded up to pages; at least what
 * the module asks for) from the start, that its code grows only past that
 * (see the module doc). Returns the patched module and the number of
 * `memory.grow` and `memory.size` instructions rewritten.
 */
export function withFixedMemory(
  bytes: Uint8Array,
  totalBytes: number,
): { bytes: Uint8Array; grows: number; sizes: number } {
  const secs = sections(bytes);
  const get = (id: number): Section | undefined => secs.find((s) => s.id === id);
  const memSec = get(5);
  need(memSec !== undefined, "a memory section in v86.wasm");
  const min = oneMemory(bytes, memSec as Section);
  const pages = Math.max(min, Math.ceil(totalBytes / PAGE));
  need(pages <= 65536, "a memory of at most 4 GiB");

  // imported functions and globals come first in their index spaces
  let importedFuncs = 0;
  let importedGlobals = 0;
  const imp = get(2);
  if (imp !== undefined) {
    const r = new Reader(bytes, imp.start);
    for (let n = r.u(); n > 0; n--) {
      for (let k = 0; k < 2; k++) { // module and name
        const len = r.u();
        r.p += len;
      }
      const kind = r.byte();
      if (kind === 0) {
        importedFuncs++;
        r.u();
      } else if (kind === 1) { // table
        r.byte();
        const f = r.u();
        r.u();
        if (f & 1) r.u();
      } else if (kind === 2) {
        need(false, "no imported memory (v86.wasm defines its own)");
      } else if (kind === 3) {
        importedGlobals++;
        r.byte();
        r.byte();
      } else need(false, `a known import kind (got ${kind})`);
    }
  }

  // the type (i32) -> i32, or a new one
  const typeSec = get(1);
  need(typeSec !== undefined, "a type section");
  const tr = new Reader(bytes, (typeSec as Section).start);
  const typeCount = tr.u();
  const typesStart = tr.p;
  let growType = -1;
  for (let i = 0; i < typeCount; i++) {
    need(tr.byte() === 0x60, "function types only");
    const np = tr.u();
    const params = Array.from({ length: np }, () => tr.byte());
    const nr = tr.u();
    const results = Array.from({ length: nr }, () => tr.byte());
    if (growType < 0 && np === 1 && params[0] === I32 && nr === 1 && results[0] === I32) {
      growType = i;
    }
  }
  const types = [...leb(typeCount + (growType < 0 ? 1 : 0))];
  const typeBody = join([
    new Uint8Array(types),
    bytes.subarray(typesStart, (typeSec as Section).end),
    new Uint8Array(growType < 0 ? [0x60, 1, I32, 1, I32] : []),
  ]);
  if (growType < 0) growType = typeCount;

  // the function section: one more function of that type
  const funcSec = get(3);
  need(funcSec !== undefined, "a function section");
  const fr = new Reader(bytes, (funcSec as Section).start);
  const definedFuncs = fr.u();
  const funcBody = join([
    new Uint8Array(leb(definedFuncs + 1)),
    bytes.subarray(fr.p, (funcSec as Section).end),
    new Uint8Array(leb(growType)),
  ]);
  const growFunc = importedFuncs + definedFuncs;

  // the global section: one more, the page counter, starting at the module's own size
  const globSec = get(6);
  let definedGlobals = 0;
  let globalsRest: Uint8Array = new Uint8Array(0);
  if (globSec !== undefined) {
    const gr = new Reader(bytes, globSec.start);
    definedGlobals = gr.u();
    globalsRest = bytes.subarray(gr.p, globSec.end);
  }
  const counter = importedGlobals + definedGlobals;
  const globalBody = join([
    new Uint8Array(leb(definedGlobals + 1)),
    globalsRest,
    new Uint8Array([I32, 1, 0x41, ...sleb(min), 0x0b]),
  ]);

  // the code section: each body with memory.grow -> call, memory.size -> global.get
  const codeSec = get(10);
  need(codeSec !== undefined, "a code section");
  const cr = new Reader(bytes, (codeSec as Section).start);
  const n = cr.u();
  need(n === definedFuncs, "as many bodies as functions");
  const call = [0x10, ...leb(growFunc)];
  const read = [0x23, ...leb(counter)];
  const out: Uint8Array[] = [new Uint8Array(leb(n + 1))];
  let grows = 0;
  let sizes = 0;
  for (let i = 0; i < n; i++) {
    const size = cr.u();
    const start = cr.p;
    const end = start + size;
    const hits = scanBody(bytes, start, end);
    if (hits.length === 0) {
      out.push(new Uint8Array(leb(size)), bytes.subarray(start, end));
    } else {
      const parts: Uint8Array[] = [];
      let at = start;
      for (const h of hits) {
        parts.push(bytes.subarray(at, h));
        if (bytes[h] === 0x40) {
          grows++;
          parts.push(new Uint8Array(call));
        } else {
          sizes++;
          parts.push(new Uint8Array(read));
        }
        at = h + 2;
      }
      parts.push(bytes.subarray(at, end));
      const body = join(parts);
      out.push(new Uint8Array(leb(body.length)), body);
    }
    cr.p = end;
  }
  const g = leb(counter);
  // (param $delta i32) (result i32) (local $old i32)
  const grow = [
    1,
    1,
    I32, // one local i32
    0x23,
    ...g,
    0x22,
    1, // old = counter (local.tee 1)
    0x20,
    0,
    0x6a,
    0x3f,
    0,
    0x4b, // old + delta > memory.size ?
    0x04,
    0x40,
    0x23,
    ...g,
    0x20,
    0,
    0x6a,
    0x3f,
    0,
    0x6b, // grow by old + delta - memory.size
    0x40,
    0,
    0x41,
    0x7f,
    0x46, // == -1 ?
    0x04,
    0x40,
    0x41,
    0x7f,
    0x0f,
    0x0b, // return -1
    0x0b,
    0x20,
    1,
    0x20,
    0,
    0x6a,
    0x24,
    ...g, // counter = old + delta
    0x20,
    1, // old
    0x0b,
  ];
  out.push(new Uint8Array(leb(grow.length)), new Uint8Array(grow));
  const codeBody = join(out);

  const memBody = new Uint8Array([1, 1, ...leb(pages), ...leb(65536)]);
  // a module without globals gets a global section (id 6) before exports (7)
  let ss = secs;
  if (globSec === undefined) {
    const after = secs.findIndex((s) => s.id !== 0 && s.id > 6);
    ss = [...secs.slice(0, after), { id: 6, start: -1, end: -1 }, ...secs.slice(after)];
  }
  const replaced = new Map<number, Uint8Array>([
    [1, typeBody],
    [3, funcBody],
    [5, memBody],
    [6, globalBody],
    [10, codeBody],
  ]);
  return { bytes: rebuildWithNew(bytes, ss, replaced), grows, sizes };
}

/** `bytes` with its sections `replace`d (by id; a section with start -1 is new) and the rest kept. */
function rebuildWithNew(
  bytes: Uint8Array,
  secs: readonly Section[],
  replace: ReadonlyMap<number, Uint8Array>,
): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let prev = 8;
  for (const s of secs) {
    if (s.start < 0) {
      parts.push(section(s.id, replace.get(s.id) as Uint8Array));
      continue;
    }
    const headerStart = prev;
    prev = s.end;
    const body = replace.get(s.id);
    if (s.id !== 0 && body !== undefined) parts.push(section(s.id, body));
    else parts.push(bytes.subarray(headerStart, s.end));
  }
  return join(parts);
}

const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

/**
 * Where `memory.size` (0x3f 0x00) and `memory.grow` (0x40 0x00)
 * instructions start in the function body `[start, end)`: the body decoded
 * instruction by instruction (MVP, sign extension, saturating truncation,
 * bulk memory, reference types, fixed-width SIMD; no threads, which v86.wasm
 * does not use). Throws on an opcode it does not know and unless the decoding ends
 * exactly at the body's end.
 */
export function scanBody(bytes: Uint8Array, start: number, end: number): number[] {
  const r = new Reader(bytes, start);
  for (let groups = r.u(); groups > 0; groups--) {
    r.u();
    r.byte();
  }
  const hits: number[] = [];
  while (r.p < end) {
    const at = r.p;
    const op = r.byte();
    if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b) {
      continue;
    }
    if (op >= 0x02 && op <= 0x04) { // block type: 0x40, a value type, or a type index (s33)
      const b = bytes[r.p];
      if (b === 0x40 || b >= 0x6f) r.p++;
      else r.skip();
    } else if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26) || op === 0x10) {
      r.skip();
    } else if (op === 0x0e) {
      for (let k = r.u(); k >= 0; k--) r.skip(); // the targets and the default
    } else if (op === 0x11) {
      r.skip();
      r.skip();
    } else if (op === 0x1c) {
      for (let k = r.u(); k > 0; k--) r.byte();
    } else if (op >= 0x28 && op <= 0x3e) {
      r.skip();
      r.skip();
    } else if (op === 0x3f || op === 0x40) {
      need(r.byte() === 0, "memory 0 in memory.size/memory.grow");
      hits.push(at);
    } else if (op === 0x41 || op === 0x42) {
      r.skip();
    } else if (op === 0x43) {
      r.p += 4;
    } else if (op === 0x44) {
      r.p += 8;
    } else if (op >= 0x45 && op <= 0xc4) {
      // numeric instructions without immediates
    } else if (op === 0xd0) {
      r.byte();
    } else if (op === 0xd1) {
      // ref.is_null
    } else if (op === 0xd2) {
      r.skip();
    } else if (op === 0xfc) {
      const sub = r.u();
      if (sub <= 7) { /* saturating truncations */ }
      else if (sub === 8) {
        r.skip();
        r.byte();
      } else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) r.skip();
      else if (sub === 10 || sub === 12 || sub === 14) {
        r.skip();
        r.skip();
      } else if (sub === 11) r.byte();
      else need(false, `a known 0xfc instruction (got ${sub})`);
    } else if (op === 0xfd) { // SIMD
      const sub = r.u();
      if (sub <= 11 || sub === 92 || sub === 93) { // loads and stores: a memarg
        r.skip();
        r.skip();
      } else if (sub === 12 || sub === 13) r.p += 16; // v128.const, i8x16.shuffle
      else if (sub >= 21 && sub <= 34) r.byte(); // lane extract/replace
      else if (sub >= 84 && sub <= 91) { // lane loads and stores: a memarg and a lane
        r.skip();
        r.skip();
        r.byte();
      }
      // the rest have no immediates
    } else {
      need(false, `a known wasm opcode (got 0x${op.toString(16)} at ${at})`);
    }
  }
  need(r.p === end, "a function body that decodes to its end");
  return hits;
}
