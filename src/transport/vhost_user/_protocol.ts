/**
 * vhost-user messages: framing, the header, payload encoders and decoders
 * over the generated accessors of `schema/vhost_user.ts`, and a
 * {@link MessageReader} that reassembles messages (with their file
 * descriptors) from a non-blocking stream socket.
 *
 * This module does no I/O itself: the reader takes a receive function, so it
 * runs over a socket ({@link ./_libc.ts}) or over plain bytes in a test.
 *
 * @example
 * ```ts
 * import { decodeHeader, encodeMessage, HEADER_SIZE, u64Payload } from "./_protocol.ts";
 * import { VHOST_USER_SET_FEATURES } from "../../generated/vhost_user.ts";
 *
 * const bytes = encodeMessage(VHOST_USER_SET_FEATURES, 1, u64Payload(1n << 32n));
 * const h = decodeHeader(bytes);
 * if (h.request !== VHOST_USER_SET_FEATURES || h.size !== 8 || bytes.length !== HEADER_SIZE + 8) {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import {
  VHOST_MEMORY_BASELINE_NREGIONS,
  VHOST_USER_MAX_CONFIG_SIZE,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
  VHOST_USER_VERSION_MASK,
  VHOST_USER_VRING_IDX_MASK,
  VHOST_USER_VRING_NOFD_MASK,
  VhostUserBackendRequest,
  VhostUserConfig,
  VhostUserHeader,
  VhostUserInflight,
  VhostUserMemory,
  VhostUserMemoryRegion,
  VhostUserRequest,
  VhostUserU64,
  VhostVringAddr,
  VhostVringState,
} from "../../generated/vhost_user.ts";

export { VHOST_MEMORY_BASELINE_NREGIONS, VHOST_USER_MAX_CONFIG_SIZE };

/** Size of the message header in bytes. */
export const HEADER_SIZE: number = VhostUserHeader.SIZE;

/**
 * Largest payload accepted. The largest front-end message is a memory table
 * (8 + 8 * 32 bytes) or a config access (12 + 256 bytes); anything far
 * larger is a broken or hostile peer.
 */
export const MAX_PAYLOAD_SIZE: number = 4096;

export { VhostUserError, VhostUserErrorCode };

/** A message as read from the socket: header fields, payload and passed file descriptors. */
export interface VhostUserMessage {
  /** Request code. */
  readonly request: number;
  /** Header flags (version, reply, need_reply). */
  readonly flags: number;
  /** The payload (its length is the header's size). */
  readonly payload: Uint8Array;
  /** File descriptors that came with the message; the receiver owns (and closes) them. */
  readonly fds: number[];
}

/** A decoded header. */
export interface Header {
  /** Request code. */
  readonly request: number;
  /** Flags. */
  readonly flags: number;
  /** Payload size. */
  readonly size: number;
}

const requestNames = new Map<number, string>(
  Object.entries(VhostUserRequest).map(([k, v]) => [v, k]),
);
const backendRequestNames = new Map<number, string>(
  Object.entries(VhostUserBackendRequest).map(([k, v]) => [v, k]),
);

/** The name of a front-end request code (`VHOST_USER_GET_FEATURES`), or `request N`. */
export function requestName(code: number): string {
  return requestNames.get(code) ?? `request ${code}`;
}

/** The name of a back-end request code, or `backend request N`. */
export function backendRequestName(code: number): string {
  return backendRequestNames.get(code) ?? `backend request ${code}`;
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes the 12-byte header at the start of `bytes`. */
export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_SIZE) {
    throw new VhostUserError(`header needs ${HEADER_SIZE} bytes, got ${bytes.length}`, {
      code: VhostUserErrorCode.SHORT_PAYLOAD,
    });
  }
  const h = new VhostUserHeader(viewOf(bytes));
  return { request: h.request, flags: h.flags, size: h.payloadSize };
}

/** Header flags for a message this side sends: version 1, plus `extra` bits. */
export function headerFlags(extra: number = 0): number {
  return VHOST_USER_VERSION | extra;
}

/** True when `flags` carry the version this implements. */
export function versionOk(flags: number): boolean {
  return (flags & VHOST_USER_VERSION_MASK) === VHOST_USER_VERSION;
}

/** True when the sender set need_reply. */
export function needsReply(flags: number): boolean {
  return (flags & VHOST_USER_NEED_REPLY_MASK) !== 0;
}

/** True when the message is a reply. */
export function isReply(flags: number): boolean {
  return (flags & VHOST_USER_REPLY_MASK) !== 0;
}

/** Flags of a reply: version 1 and the reply bit. */
export const REPLY_FLAGS: number = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;

/** Header plus payload as one buffer, ready to send. */
export function encodeMessage(
  request: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const h = new VhostUserHeader(viewOf(out));
  h.request = request;
  h.flags = flags;
  h.payloadSize = payload.length;
  out.set(payload, HEADER_SIZE);
  return out;
}

function need(m: VhostUserMessage, size: number, what: string): DataView {
  if (m.payload.length < size) {
    throw new VhostUserError(
      `${
        requestName(m.request)
      }: payload of ${m.payload.length} bytes is too short for ${what} (${size} bytes)`,
      { code: VhostUserErrorCode.SHORT_PAYLOAD },
    );
  }
  return viewOf(m.payload);
}

/** A u64 payload. */
export function u64Payload(value: bigint): Uint8Array {
  const b = new Uint8Array(VhostUserU64.SIZE);
  new VhostUserU64(viewOf(b)).u64 = value;
  return b;
}

/** Reads a u64 payload. */
export function decodeU64(m: VhostUserMessage): bigint {
  return new VhostUserU64(need(m, VhostUserU64.SIZE, "a u64")).u64;
}

/** A vring state (index, num). */
export interface VringState {
  /** Vring index. */
  readonly index: number;
  /** The number (size, base, enable). */
  readonly num: number;
}

/** A vring state payload. */
export function vringStatePayload(index: number, num: number): Uint8Array {
  const b = new Uint8Array(VhostVringState.SIZE);
  const s = new VhostVringState(viewOf(b));
  s.index = index;
  s.num = num;
  return b;
}

/** Reads a vring state payload. */
export function decodeVringState(m: VhostUserMessage): VringState {
  const s = new VhostVringState(need(m, VhostVringState.SIZE, "a vring state"));
  return { index: s.index, num: s.num };
}

/** An inflight description (GET/SET_INFLIGHT_FD). */
export interface InflightDesc {
  /** Size of the shared area that tracks inflight I/O. */
  readonly mmapSize: number;
  /** Where the area starts in the file descriptor. */
  readonly mmapOffset: number;
  /** Number of queues it covers. */
  readonly numQueues: number;
  /** Size of each queue. */
  readonly queueSize: number;
}

/**
 * An inflight description payload: 24 bytes, the 20 of the description and
 * the padding QEMU's (unpacked) C struct has, which QEMU checks for.
 */
export function inflightPayload(d: InflightDesc): Uint8Array {
  const b = new Uint8Array(VhostUserInflight.SIZE);
  const s = new VhostUserInflight(viewOf(b));
  s.mmapSize = d.mmapSize;
  s.mmapOffset = d.mmapOffset;
  s.numQueues = d.numQueues;
  s.queueSize = d.queueSize;
  return b;
}

/** Reads an inflight description payload (20 bytes or more). */
export function decodeInflight(m: VhostUserMessage): InflightDesc {
  // The description without the padding some front-ends leave out.
  const size = VhostUserInflight.OFFSETS.padding;
  const s = new VhostUserInflight(need(m, size, "an inflight description"));
  return {
    mmapSize: s.mmapSize,
    mmapOffset: s.mmapOffset,
    numQueues: s.numQueues,
    queueSize: s.queueSize,
  };
}

/** A vring address description (front-end user addresses). */
export interface VringAddr {
  /** Vring index. */
  readonly index: number;
  /** Flags (bit 0: log used-ring writes). */
  readonly flags: number;
  /** Descriptor area. */
  readonly desc: number;
  /** Used ring / device area. */
  readonly used: number;
  /** Available ring / driver area. */
  readonly avail: number;
  /** Log address. */
  readonly log: number;
}

/** A vring address payload. */
export function vringAddrPayload(a: VringAddr): Uint8Array {
  const b = new Uint8Array(VhostVringAddr.SIZE);
  const v = new VhostVringAddr(viewOf(b));
  v.index = a.index;
  v.flags = a.flags;
  v.descUserAddr = a.desc;
  v.usedUserAddr = a.used;
  v.availUserAddr = a.avail;
  v.logGuestAddr = a.log;
  return b;
}

/** Reads a vring address payload; addresses beyond 2^53 are rejected. */
export function decodeVringAddr(m: VhostUserMessage): VringAddr {
  const v = new VhostVringAddr(need(m, VhostVringAddr.SIZE, "a vring address"));
  try {
    return {
      index: v.index,
      flags: v.flags,
      desc: v.descUserAddr,
      used: v.usedUserAddr,
      avail: v.availUserAddr,
      log: v.logGuestAddr,
    };
  } catch (e) {
    throw new VhostUserError(`${requestName(m.request)}: address out of range`, {
      cause: e,
      code: VhostUserErrorCode.BAD_ADDRESS,
    });
  }
}

/** The vring index and no-fd flag of SET_VRING_KICK / CALL / ERR. */
export interface VringFd {
  /** Vring index. */
  readonly index: number;
  /** True when no descriptor comes with the message. */
  readonly noFd: boolean;
}

/** Reads the u64 of SET_VRING_KICK / CALL / ERR. */
export function decodeVringFd(m: VhostUserMessage): VringFd {
  const v = Number(decodeU64(m) & BigInt(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK));
  return {
    index: v & VHOST_USER_VRING_IDX_MASK,
    noFd: (v & VHOST_USER_VRING_NOFD_MASK) !== 0,
  };
}

/** The u64 payload of SET_VRING_KICK / CALL / ERR. */
export function vringFdPayload(index: number, noFd: boolean): Uint8Array {
  return u64Payload(BigInt(index | (noFd ? VHOST_USER_VRING_NOFD_MASK : 0)));
}

/** One memory region of a memory table. */
export interface MemoryRegionDesc {
  /** Guest-physical address. */
  readonly guestPhysAddr: number;
  /** Size in bytes. */
  readonly memorySize: number;
  /** The front-end's user address. */
  readonly userspaceAddr: number;
  /** Offset of the region in its file descriptor. */
  readonly mmapOffset: number;
}

/** Reads a SET_MEM_TABLE payload; the regions are checked for sanity, not against fds. */
export function decodeMemoryTable(m: VhostUserMessage): MemoryRegionDesc[] {
  const v = need(m, VhostUserMemory.OFFSETS.regions, "a memory table header");
  const table = new VhostUserMemory(v);
  const n = table.nregions;
  if (n === 0 || n > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new VhostUserError(
      `VHOST_USER_SET_MEM_TABLE: ${n} regions (1 to ${VHOST_MEMORY_BASELINE_NREGIONS} allowed)`,
      { code: VhostUserErrorCode.BAD_MEMORY_TABLE },
    );
  }
  need(m, VhostUserMemory.OFFSETS.regions + n * VhostUserMemoryRegion.SIZE, `${n} memory regions`);
  const out: MemoryRegionDesc[] = [];
  for (let i = 0; i < n; i++) {
    const r = table.regions(i);
    try {
      out.push({
        guestPhysAddr: r.guestPhysAddr,
        memorySize: r.memorySize,
        userspaceAddr: r.userspaceAddr,
        mmapOffset: r.mmapOffset,
      });
    } catch (e) {
      throw new VhostUserError(`VHOST_USER_SET_MEM_TABLE: region ${i} has an address beyond 2^53`, {
        cause: e,
        code: VhostUserErrorCode.BAD_ADDRESS,
      });
    }
  }
  checkRegions(out);
  return out;
}

/** Throws {@link VhostUserError} for empty, overflowing or overlapping regions. */
export function checkRegions(regions: readonly MemoryRegionDesc[]): void {
  regions.forEach((r, i) => {
    if (r.memorySize === 0) {
      throw new VhostUserError(`memory region ${i} is empty`, {
        code: VhostUserErrorCode.BAD_MEMORY_TABLE,
      });
    }
    const limit = Number.MAX_SAFE_INTEGER;
    if (
      r.guestPhysAddr + r.memorySize > limit || r.userspaceAddr + r.memorySize > limit ||
      r.mmapOffset + r.memorySize > limit
    ) {
      throw new VhostUserError(`memory region ${i} overflows the address space`, {
        code: VhostUserErrorCode.BAD_MEMORY_TABLE,
      });
    }
    for (let j = 0; j < i; j++) {
      const o = regions[j];
      const gpa = r.guestPhysAddr < o.guestPhysAddr + o.memorySize &&
        o.guestPhysAddr < r.guestPhysAddr + r.memorySize;
      const ua = r.userspaceAddr < o.userspaceAddr + o.memorySize &&
        o.userspaceAddr < r.userspaceAddr + r.memorySize;
      if (gpa || ua) {
        throw new VhostUserError(
          `memory region ${i} (guest 0x${r.guestPhysAddr.toString(16)}+0x${
            r.memorySize.toString(16)
          }) overlaps region ${j} in ${gpa ? "guest-physical" : "user"} addresses`,
          { code: VhostUserErrorCode.BAD_MEMORY_TABLE },
        );
      }
    }
  });
}

/** A SET_MEM_TABLE payload for `regions`. */
export function memoryTablePayload(regions: readonly MemoryRegionDesc[]): Uint8Array {
  if (regions.length === 0 || regions.length > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new VhostUserError(`${regions.length} memory regions`, {
      code: VhostUserErrorCode.BAD_MEMORY_TABLE,
    });
  }
  const b = new Uint8Array(
    VhostUserMemory.OFFSETS.regions + regions.length * VhostUserMemoryRegion.SIZE,
  );
  const t = new VhostUserMemory(viewOf(b));
  t.nregions = regions.length;
  regions.forEach((r, i) => {
    const d = t.regions(i);
    d.guestPhysAddr = r.guestPhysAddr;
    d.memorySize = r.memorySize;
    d.userspaceAddr = r.userspaceAddr;
    d.mmapOffset = r.mmapOffset;
  });
  return b;
}

/** A config space access (GET_CONFIG / SET_CONFIG). */
export interface ConfigAccess {
  /** Offset in the device config space. */
  readonly offset: number;
  /** Bytes accessed. */
  readonly size: number;
  /** 0: writable field; 1: live migration. */
  readonly flags: number;
  /** The bytes (SET_CONFIG, or GET_CONFIG's reply). */
  readonly data: Uint8Array;
}

/** Reads a GET_CONFIG / SET_CONFIG payload. */
export function decodeConfig(m: VhostUserMessage): ConfigAccess {
  const v = need(m, VhostUserConfig.SIZE, "a config access header");
  const c = new VhostUserConfig(v);
  const size = c.configSize;
  if (size > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new VhostUserError(
      `${requestName(m.request)}: config size ${size} exceeds ${VHOST_USER_MAX_CONFIG_SIZE}`,
      { code: VhostUserErrorCode.BAD_CONFIG },
    );
  }
  if (c.configOffset > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new VhostUserError(`${requestName(m.request)}: config offset ${c.configOffset}`, {
      code: VhostUserErrorCode.BAD_CONFIG,
    });
  }
  const data = m.payload.subarray(VhostUserConfig.SIZE, VhostUserConfig.SIZE + size);
  if (m.request !== VhostUserRequest.VHOST_USER_GET_CONFIG && data.length < size) {
    throw new VhostUserError(
      `${requestName(m.request)}: ${data.length} config bytes present, header says ${size}`,
      { code: VhostUserErrorCode.BAD_CONFIG },
    );
  }
  return { offset: c.configOffset, size, flags: c.flags, data };
}

/** A GET_CONFIG / SET_CONFIG payload (the reply to GET_CONFIG carries the bytes). */
export function configPayload(offset: number, flags: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(VhostUserConfig.SIZE + data.length);
  const c = new VhostUserConfig(viewOf(b));
  c.configOffset = offset;
  c.configSize = data.length;
  c.flags = flags;
  b.set(data, VhostUserConfig.SIZE);
  return b;
}

/** What a receive function returns (see `recvWithFds` in libc.ts). */
export interface RecvResult {
  /** Bytes read: 0 at end of stream, -1 when nothing is ready. */
  readonly n: number;
  /** Descriptors passed with the bytes. */
  readonly fds: number[];
  /** True when descriptors were dropped for lack of room. */
  readonly truncated: boolean;
}

/** The outcome of {@link MessageReader.read}. */
export type ReadOutcome =
  | { readonly kind: "message"; readonly message: VhostUserMessage }
  | { readonly kind: "again" }
  | { readonly kind: "eof" };

/**
 * Reassembles messages from a non-blocking stream. Descriptors arrive with
 * the first byte of the message that carries them; the header is read on
 * its own so they stay with their message.
 */
export class MessageReader {
  readonly #recv: (buf: Uint8Array) => RecvResult;
  readonly #close: (fd: number) => void;
  readonly #header = new Uint8Array(HEADER_SIZE);
  #headerLen = 0;
  #payload: Uint8Array | undefined;
  #payloadLen = 0;
  #fds: number[] = [];

  /**
   * A reader over `recv`; `close` disposes of descriptors left over when a
   * message is rejected.
   */
  constructor(recv: (buf: Uint8Array) => RecvResult, close: (fd: number) => void) {
    this.#recv = recv;
    this.#close = close;
  }

  /**
   * Reads until one message is complete, nothing more is ready, or the
   * stream ends. Throws {@link VhostUserError} for an oversized payload, a
   * wrong version or dropped descriptors (the descriptors are closed).
   */
  read(): ReadOutcome {
    for (;;) {
      if (this.#headerLen < HEADER_SIZE) {
        const r = this.#recv(this.#header.subarray(this.#headerLen));
        this.#fds.push(...r.fds);
        if (r.truncated) {
          this.#fail(
            "file descriptors were dropped (too many in one message)",
            VhostUserErrorCode.FDS_DROPPED,
          );
        }
        if (r.n === 0) return this.#eof();
        if (r.n < 0) return { kind: "again" };
        this.#headerLen += r.n;
        if (this.#headerLen < HEADER_SIZE) continue;
        const h = decodeHeader(this.#header);
        if (!versionOk(h.flags)) {
          this.#fail(
            `${requestName(h.request)}: unsupported version in flags 0x${h.flags.toString(16)}`,
            VhostUserErrorCode.BAD_VERSION,
          );
        }
        if (h.size > MAX_PAYLOAD_SIZE) {
          this.#fail(
            `${requestName(h.request)}: payload size ${h.size} exceeds ${MAX_PAYLOAD_SIZE}`,
            VhostUserErrorCode.PAYLOAD_TOO_LARGE,
          );
        }
        this.#payload = new Uint8Array(h.size);
        this.#payloadLen = 0;
      }
      const payload = this.#payload as Uint8Array;
      if (this.#payloadLen < payload.length) {
        const r = this.#recv(payload.subarray(this.#payloadLen));
        this.#fds.push(...r.fds);
        if (r.truncated) {
          this.#fail("file descriptors were dropped", VhostUserErrorCode.FDS_DROPPED);
        }
        if (r.n === 0) return this.#eof();
        if (r.n < 0) return { kind: "again" };
        this.#payloadLen += r.n;
        if (this.#payloadLen < payload.length) continue;
      }
      const h = decodeHeader(this.#header);
      const message: VhostUserMessage = {
        request: h.request,
        flags: h.flags,
        payload,
        fds: this.#fds,
      };
      this.#headerLen = 0;
      this.#payload = undefined;
      this.#fds = [];
      return { kind: "message", message };
    }
  }

  /**
   * True while part of a message has been read (and, maybe, descriptors
   * that came with it are held): the rest is owed.
   */
  get pending(): boolean {
    return this.#headerLen > 0 || this.#fds.length > 0;
  }

  /** Closes descriptors of a partly read message (on teardown). */
  discard(): void {
    for (const fd of this.#fds) this.#close(fd);
    this.#fds = [];
    this.#headerLen = 0;
    this.#payload = undefined;
  }

  #eof(): ReadOutcome {
    this.discard();
    return { kind: "eof" };
  }

  #fail(msg: string, code: string): never {
    this.discard();
    throw new VhostUserError(msg, { code });
  }
}
