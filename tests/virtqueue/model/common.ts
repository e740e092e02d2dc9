// The reference model's plumbing: guest memory as one plain byte array, the
// fault type (a code, as the engine's QueueError codes), and the rules both
// layouts share. Written from the spec's text (2.7, 2.8), simple rather
// than fast: plain objects and arrays, no pooling, nothing hoisted. It
// imports nothing from src/: it is the oracle the engine is compared with.

/** A fault the model finds: `code` is the engine's QueueError code for the same cause. */
export class ModelFault extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

export function fault(code: string, message: string): never {
  throw new ModelFault(`ERR_VIRTIO_QUEUE_${code}`, message);
}

/** Guest memory: `bytes` hold guest-physical addresses `base .. base + bytes.length`. */
export class ModelMemory {
  readonly view: DataView;
  constructor(readonly base: number, readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get end(): number {
    return this.base + this.bytes.length;
  }
  /** True when `[addr, addr + len)` is guest memory (a buffer must start inside it). */
  holds(addr: number, len: number): boolean {
    return addr >= this.base && addr < this.end && len >= 0 && addr + len <= this.end;
  }
  u16(addr: number): number {
    return this.view.getUint16(addr - this.base, true);
  }
  u32(addr: number): number {
    return this.view.getUint32(addr - this.base, true);
  }
  /** A le64 address as a number (exact below 2^53, which is all a buffer can be). */
  u64(addr: number): number {
    return this.u32(addr) + this.u32(addr + 4) * 2 ** 32;
  }
  set16(addr: number, v: number): void {
    this.view.setUint16(addr - this.base, v, true);
  }
  set32(addr: number, v: number): void {
    this.view.setUint32(addr - this.base, v, true);
  }
  set64(addr: number, v: number): void {
    this.set32(addr, v % 2 ** 32);
    this.set32(addr + 4, Math.floor(v / 2 ** 32));
  }
}

/** Something that hands out indirect tables (the driver's DMA allocator). */
export interface TableAllocator {
  tryAlloc(size: number, align: number): number;
  free(addr: number): void;
}

/** One buffer of a chain as the device sees it. */
export interface Segment {
  addr: number;
  len: number;
  writable: boolean;
}

/** A chain the model's device popped. */
export interface ModelChain {
  /** Split: head descriptor index; packed: buffer id. */
  head: number;
  segments: Segment[];
  /** Descriptors the chain takes in the table or ring (an indirect table counts 1). */
  descriptorCount: number;
  indirect: boolean;
  live: boolean;
}

export function writableLength(c: ModelChain): number {
  let n = 0;
  for (const s of c.segments) if (s.writable) n += s.len;
  return n;
}

export function readableLength(c: ModelChain): number {
  let n = 0;
  for (const s of c.segments) if (!s.writable) n += s.len;
  return n;
}

/** Options both sides agree on (the negotiated features). */
export interface ModelOptions {
  size: number;
  eventIdx: boolean;
  indirect: boolean;
  inOrder: boolean;
}

/** 2.7.7.2 / 2.7.10: notify when `event` is in the window `(old, now]` (mod `m`). */
export function needEvent(event: number, now: number, old: number, m: number): boolean {
  const mod = (x: number) => ((x % m) + m) % m;
  return mod(now - event - 1) < mod(now - old);
}

/**
 * Most descriptors a chain may take once indirect tables are in play: the
 * queue size, or 1024 for a small queue (the engine's documented cap, 2.7.5.3.1
 * leaves the limit of an indirect table to the implementation).
 */
export function indirectLimit(size: number): number {
  return Math.max(size, 1024);
}

/**
 * The rules for one more buffer of a chain (2.7.4.2 / 2.8.17: readable
 * before writable; 2.7.5.2: at most 2^32 - 1 bytes; the buffer in memory),
 * checked in that order after the length limit.
 */
export function addSegment(
  mem: ModelMemory,
  segs: Segment[],
  seg: Segment,
  limit: number,
): void {
  if (segs.length >= limit) fault("CHAIN_TOO_LONG", `more than ${limit} descriptors`);
  if (!seg.writable && segs.some((s) => s.writable)) {
    fault("READABLE_AFTER_WRITABLE", "readable buffer after a writable one");
  }
  let total = seg.len;
  for (const s of segs) total += s.len;
  if (total > 0xffffffff) fault("TOO_MANY_BYTES", "more than 2^32 - 1 bytes");
  if (!mem.holds(seg.addr, seg.len)) fault("ADDRESS", `buffer ${seg.addr}+${seg.len}`);
  segs.push(seg);
}

/**
 * The rules for a descriptor that points at an indirect table (2.7.5.3.1,
 * 2.8.19), in order; returns the number of entries.
 */
export function indirectEntries(
  negotiated: boolean,
  len: number,
  hasNext: boolean,
  nested: boolean,
  size: number,
): number {
  if (!negotiated) fault("INDIRECT_NOT_NEGOTIATED", "INDIRECT without the feature");
  if (nested) fault("NESTED_INDIRECT", "an indirect table inside one");
  if (hasNext) fault("INDIRECT_WITH_NEXT", "INDIRECT with NEXT");
  if (len === 0 || len % 16 !== 0) fault("INDIRECT_LENGTH", `table length ${len}`);
  if (len / 16 > indirectLimit(size)) fault("CHAIN_TOO_LONG", `table of ${len / 16} entries`);
  return len / 16;
}

/** A buffer the model's driver keeps while the device has it. */
export interface Outstanding<T> {
  token: T;
  /** Descriptors it takes (split: in the table, in chain order; packed: a count). */
  descriptors: number[];
  writable: number;
  table: number;
}

/** The driver's checks on an add request, as the engine's API defines them. */
export function checkRequest(
  out: readonly { addr: number; len: number }[],
  in_: readonly { addr: number; len: number }[],
  token: unknown,
  limit: number,
): void {
  const all = [...out, ...in_];
  if (token === undefined) fault("BAD_TOKEN", "undefined token");
  if (all.length === 0) fault("EMPTY_BUFFER", "no elements");
  if (all.length > limit) fault("CHAIN_TOO_LONG", `${all.length} elements`);
  let bytes = 0;
  for (const sg of all) {
    if (!(Number.isSafeInteger(sg.addr) && sg.addr >= 0 && (sg.len >>> 0) === sg.len)) {
      fault("BAD_ELEMENT", "not a buffer");
    }
    bytes += sg.len;
  }
  if (bytes > 0xffffffff) fault("TOO_MANY_BYTES", "more than 2^32 - 1 bytes");
}

/** A position of the device side, as `DeviceQueue.position()` gives it. */
export interface ModelPosition {
  availIdx: number;
  availWrap: number;
  usedIdx: number;
  usedWrap: number;
}

/** One field of a restore position: an integer in 0..max, else a fault. */
export function positionField(v: number | undefined, fallback: number, max: number): number {
  const x = v ?? fallback;
  if (!Number.isInteger(x) || x < 0 || x > max) fault("RESTORE_POSITION", `field ${x}`);
  return x;
}
