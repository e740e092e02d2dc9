/**
 * 9P message codec shared by the server and the client: a {@link WireReader}
 * that walks a message in order (fixed parts through the generated
 * accessors, strings and words after them), and a {@link WireWriter} that
 * builds one into a buffer of bounded size. Every read is bounds-checked
 * against the message's own length; a short or malformed message is an
 * EINVAL {@link FsError}, a reply that does not fit is an ERANGE one.
 * {@link ERRNO_NAME} names the Linux errno an Rlerror carries.
 *
 * @module
 */

import { ERRNO, FsError, fsError } from "../fs/filesystem.ts";
import { P9Header } from "../../generated/devices/9p.ts";

/** The names of Linux errnos (an Rlerror's ecode), by number. */
export const ERRNO_NAME: ReadonlyMap<number, string> = new Map<number, string>(
  Object.entries(ERRNO).map(([k, v]) => [v, k]),
);

/** A generated accessor class: SIZE bytes at an offset of a view. */
export interface Accessor<T> {
  /** Bytes of the fixed layout. */
  readonly SIZE: number;
  /** Creates one over `view` at `offset`. */
  new (view: DataView, offset: number): T;
}

const dec = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();
const U16 = 2;
const U32 = 4;
const U64 = 8;

/** Reads one message in order; each accessor or value is read once, from our own copy. */
export class WireReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The next byte to read. */
  pos: number;
  /** One past the last byte of the message. */
  readonly end: number;

  /** Reads `bytes[start, end)`. */
  constructor(bytes: Uint8Array, start: number, end: number) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  #take(n: number, what: string): number {
    const at = this.pos;
    if (n < 0 || at + n > this.end) throw fsError("EINVAL", `9P message ends inside ${what}`);
    this.pos = at + n;
    return at;
  }

  /** The accessor of the next fixed part. */
  struct<T>(cls: Accessor<T>, what: string): T {
    return new cls(this.view, this.#take(cls.SIZE, what));
  }

  /** A le16. */
  u16(what: string): number {
    return this.view.getUint16(this.#take(U16, what), true);
  }

  /** A le32. */
  u32(what: string): number {
    return this.view.getUint32(this.#take(U32, what), true);
  }

  /** A le64. */
  u64(what: string): bigint {
    return this.view.getBigUint64(this.#take(U64, what), true);
  }

  /** A string: len[2] and len bytes of UTF-8 (EILSEQ when not UTF-8). */
  str(what: string): string {
    const n = this.u16(what);
    const at = this.#take(n, what);
    try {
      return dec.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw fsError("EILSEQ", `${what} is not UTF-8`);
    }
  }

  /** `n` raw bytes (a view into the message, no copy). */
  data(n: number, what: string): Uint8Array {
    const at = this.#take(n, what);
    return this.bytes.subarray(at, at + n);
  }

  /** Bytes left in the message. */
  get left(): number {
    return this.end - this.pos;
  }
}

/** Builds one message; {@link WireWriter.finish} fills in the header's size. */
export class WireWriter {
  /** The buffer the message is built in. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The next byte to write. */
  pos = 0;
  /** Bytes the message may take (the buffer's length at most). */
  limit: number;
  readonly #header: P9Header;

  /** A writer over `bytes`. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limit = bytes.length;
    this.#header = new P9Header(this.view, 0);
  }

  /** Starts a message of `type` with `tag`, at most `limit` bytes long. */
  begin(type: number, tag: number, limit: number): this {
    this.limit = Math.min(limit, this.bytes.length);
    this.pos = 0;
    this.#take(P9Header.SIZE);
    this.#header.at(0).write(0, type, tag);
    return this;
  }

  #take(n: number): number {
    const at = this.pos;
    if (at + n > this.limit) {
      throw new FsError(ERRNO.ERANGE, `9P message of more than ${this.limit} bytes`, {
        code: "ERR_VIRTIO_DEVICE_9P_REPLY_TOO_LONG",
      });
    }
    this.pos = at + n;
    return at;
  }

  /** Room left in the message. */
  get room(): number {
    return this.limit - this.pos;
  }

  /** The accessor of the next fixed part, to fill in. */
  struct<T>(cls: Accessor<T>): T {
    const at = this.#take(cls.SIZE);
    this.bytes.fill(0, at, at + cls.SIZE);
    return new cls(this.view, at);
  }

  /** A byte. */
  u8(v: number): void {
    this.bytes[this.#take(1)] = v;
  }

  /** A le16. */
  u16(v: number): void {
    this.view.setUint16(this.#take(U16), v, true);
  }

  /** A le32. */
  u32(v: number): void {
    this.view.setUint32(this.#take(U32), v, true);
  }

  /** A le64. */
  u64(v: bigint): void {
    this.view.setBigUint64(this.#take(U64), v, true);
  }

  /** A string: len[2] and its UTF-8 bytes. */
  str(s: string): void {
    const b = enc.encode(s);
    if (b.length > 0xffff) throw fsError("ENAMETOOLONG", "9P string of more than 65535 bytes");
    this.u16(b.length);
    this.bytes.set(b, this.#take(b.length));
  }

  /** Raw bytes. */
  data(b: Uint8Array): void {
    this.bytes.set(b, this.#take(b.length));
  }

  /** Reserves `n` bytes to be filled in place; returns them. */
  reserve(n: number): Uint8Array {
    const at = this.#take(n);
    return this.bytes.subarray(at, at + n);
  }

  /** Gives back the last `n` reserved bytes that were not used. */
  unreserve(n: number): void {
    this.pos -= n;
  }

  /** Sets the header's size; returns the message's length. */
  finish(): number {
    this.#header.at(0).msgSize = this.pos;
    return this.pos;
  }
}
