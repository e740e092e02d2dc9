/**
 * Packet helpers shared by the virtio-net device model and its backends:
 * the offload metadata a `virtio_net_hdr` carries (spec 5.1.6.2), ones'
 * complement checksums, completing a partial checksum
 * (`VIRTIO_NET_HDR_F_NEEDS_CSUM`), software TCP segmentation for frames a
 * receiver cannot take as GSO, and a direction-independent flow hash for
 * receive steering (5.1.6.5.6).
 *
 * None of these functions trusts the frame: offsets come from a guest, so
 * every one is checked against the frame's length and a bad frame is
 * refused (`false`) rather than read or written out of bounds.
 *
 * @module
 */

import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
} from "../../generated/devices/net.ts";

/**
 * The offload fields of a `virtio_net_hdr` as they travel with a frame
 * between a device and a backend. A device reuses one object per queue:
 * copy what you keep.
 */
export interface NetFrameMeta {
  /** `VIRTIO_NET_HDR_F_*` bits (NEEDS_CSUM, DATA_VALID). */
  flags: number;
  /** `VIRTIO_NET_HDR_GSO_*` type, with the ECN bit. */
  gsoType: number;
  /** Header length hint (Ethernet + IP + TCP). */
  hdrLen: number;
  /** Segment payload size (MSS) for GSO frames. */
  gsoSize: number;
  /** With NEEDS_CSUM: where checksumming starts. */
  csumStart: number;
  /** With NEEDS_CSUM: where the checksum goes, relative to {@link NetFrameMeta.csumStart}. */
  csumOffset: number;
}

/** What a receiver of frames accepts without software help. */
export interface NetOffloads {
  /** Frames with a partial checksum (`NEEDS_CSUM`). */
  readonly csum: boolean;
  /** TCP over IPv4 GSO frames. */
  readonly tso4: boolean;
  /** TCP over IPv6 GSO frames. */
  readonly tso6: boolean;
  /** GSO frames with the ECN bit. */
  readonly ecn: boolean;
}

/** A receiver that needs every frame complete: checksummed and segmented. */
export const NO_OFFLOADS: NetOffloads = Object.freeze({
  csum: false,
  tso4: false,
  tso6: false,
  ecn: false,
});

/** A fresh metadata object for a plain frame (no offloads). */
export function plainMeta(): NetFrameMeta {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Ones' complement sum of `data[start, end)` added to `sum` (not folded, not inverted). */
export function onesSum(data: Uint8Array, start: number, end: number, sum: number = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (i < end) sum += data[i] << 8;
  return sum;
}

/** Folds a sum to 16 bits and inverts it: the checksum field value. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/**
 * Completes a partial checksum in place (what a device does for
 * `VIRTIO_NET_HDR_F_NEEDS_CSUM` when the receiver cannot): the 16-bit field
 * at `csumStart + csumOffset` holds the pseudo-header sum; the ones'
 * complement checksum of `frame[csumStart..]` replaces it. Returns false
 * (frame untouched) when the offsets do not fit the frame.
 */
export function completeChecksum(
  frame: Uint8Array,
  csumStart: number,
  csumOffset: number,
): boolean {
  const at = csumStart + csumOffset;
  if (csumStart >= frame.length || at + 2 > frame.length) return false;
  const c = foldChecksum(onesSum(frame, csumStart, frame.length));
  frame[at] = c >>> 8;
  frame[at + 1] = c & 0xff;
  return true;
}

/** Ethernet header length of `frame` (14, or 18 with one 802.1Q tag), and its ethertype. */
function l2(frame: Uint8Array): { len: number; type: number } | null {
  if (frame.length < 14) return null;
  let type = (frame[12] << 8) | frame[13];
  let len = 14;
  if (type === 0x8100 || type === 0x88a8) {
    if (frame.length < 18) return null;
    type = (frame[16] << 8) | frame[17];
    len = 18;
  }
  return { len, type };
}

/** The 802.1Q VLAN id of a tagged frame, or -1 for an untagged one. */
export function vlanId(frame: Uint8Array): number {
  if (frame.length < 18) return -1;
  const type = (frame[12] << 8) | frame[13];
  return type === 0x8100 ? ((frame[14] << 8) | frame[15]) & 0xfff : -1;
}

/**
 * A hash of a frame's flow that is the same in both directions (addresses
 * and ports combined with xor), for steering replies to the queue the flow
 * was sent on.
 */
export function flowHash(frame: Uint8Array): number {
  const l = frame.length;
  let h = 0;
  if (l >= 34 && frame[12] === 0x08 && frame[13] === 0x00) {
    const ihl = (frame[14] & 0xf) * 4;
    for (let i = 0; i < 4; i++) h = (h * 31 + (frame[26 + i] ^ frame[30 + i])) | 0;
    const p = 14 + ihl;
    const proto = frame[23];
    if ((proto === 6 || proto === 17) && p + 4 <= l) {
      h = (h * 31 + ((frame[p] ^ frame[p + 2]) << 8 | (frame[p + 1] ^ frame[p + 3]))) | 0;
    }
  } else if (l >= 12) {
    for (let i = 0; i < 6; i++) h = (h * 31 + (frame[i] ^ frame[6 + i])) | 0;
  }
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Splits a TCP GSO frame (`VIRTIO_NET_HDR_GSO_TCPV4` / `TCPV6`) into
 * segments of at most `gsoSize` payload bytes, each fully checksummed, and
 * hands each to `emit` (the bytes are reused for the next segment: copy
 * them to keep them). `scratch` must hold one segment. Returns the number
 * of segments, or -1 for a frame that is not a well-formed TCP packet of
 * the declared type (the caller drops it, as 5.1.6.2.2 lets a device do).
 */
export function segmentTcp(
  frame: Uint8Array,
  meta: NetFrameMeta,
  scratch: Uint8Array,
  emit: (segment: Uint8Array) => void,
): number {
  const e = l2(frame);
  if (e === null) return -1;
  const type = meta.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  const v4 = type === VIRTIO_NET_HDR_GSO_TCPV4;
  if (!(v4 && e.type === 0x0800) && !(type === VIRTIO_NET_HDR_GSO_TCPV6 && e.type === 0x86dd)) {
    return -1;
  }
  const ip = e.len;
  let ipLen: number;
  if (v4) {
    if (frame.length < ip + 20 || frame[ip] >> 4 !== 4) return -1;
    ipLen = (frame[ip] & 0xf) * 4;
    if (ipLen < 20 || frame[ip + 9] !== 6) return -1;
  } else {
    // No extension headers: next header must be TCP.
    if (frame.length < ip + 40 || frame[ip] >> 4 !== 6 || frame[ip + 6] !== 6) return -1;
    ipLen = 40;
  }
  const tcp = ip + ipLen;
  if (frame.length < tcp + 20) return -1;
  const tcpLen = ((frame[tcp + 12] >> 4) & 0xf) * 4;
  const headers = tcp + tcpLen;
  if (tcpLen < 20 || frame.length < headers) return -1;
  const mss = meta.gsoSize;
  const payload = frame.length - headers;
  if (mss === 0 || headers + Math.min(mss, payload) > scratch.length) return -1;
  const seq0 = ((frame[tcp + 4] << 24) | (frame[tcp + 5] << 16) | (frame[tcp + 6] << 8) |
    frame[tcp + 7]) >>> 0;
  const id0 = v4 ? (frame[ip + 4] << 8) | frame[ip + 5] : 0;
  const flags0 = frame[tcp + 13];
  let count = 0;
  for (let off = 0; off < payload || (off === 0 && payload === 0); off += mss) {
    const n = Math.min(mss, payload - off);
    const last = off + n >= payload;
    scratch.set(frame.subarray(0, headers), 0);
    scratch.set(frame.subarray(headers + off, headers + off + n), headers);
    const segLen = headers + n;
    if (v4) {
      put16(scratch, ip + 2, ipLen + tcpLen + n);
      put16(scratch, ip + 4, (id0 + count) & 0xffff);
      put16(scratch, ip + 10, 0);
      put16(scratch, ip + 10, foldChecksum(onesSum(scratch, ip, ip + ipLen)));
    } else {
      put16(scratch, ip + 4, tcpLen + n);
    }
    const seq = (seq0 + off) >>> 0;
    put16(scratch, tcp + 4, seq >>> 16);
    put16(scratch, tcp + 6, seq & 0xffff);
    // FIN and PSH only on the last segment, CWR only on the first.
    let f = flags0;
    if (!last) f &= ~0x09;
    if (count > 0) f &= ~0x80;
    scratch[tcp + 13] = f;
    // Full TCP checksum over the pseudo header and the segment.
    put16(scratch, tcp + 16, 0);
    let sum = v4 ? onesSum(scratch, ip + 12, ip + 20) : onesSum(scratch, ip + 8, ip + 40);
    sum += 6 + tcpLen + n;
    sum = onesSum(scratch, tcp, segLen, sum);
    put16(scratch, tcp + 16, foldChecksum(sum));
    emit(scratch.subarray(0, segLen));
    count++;
    if (payload === 0) break;
  }
  return count;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** Is `meta` a GSO frame? */
export function isGso(meta: NetFrameMeta): boolean {
  return (meta.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE;
}

/** Does `meta` ask for a partial checksum to be completed? */
export function needsCsum(meta: NetFrameMeta): boolean {
  return (meta.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
}

/** Can a receiver with `offloads` take `meta`'s frame as it is? */
export function offloadsAccept(offloads: NetOffloads, meta: NetFrameMeta): boolean {
  if (needsCsum(meta) && !offloads.csum) return false;
  const t = meta.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (t === VIRTIO_NET_HDR_GSO_NONE) return true;
  if ((meta.gsoType & VIRTIO_NET_HDR_GSO_ECN) && !offloads.ecn) return false;
  if (t === VIRTIO_NET_HDR_GSO_TCPV4) return offloads.tso4;
  if (t === VIRTIO_NET_HDR_GSO_TCPV6) return offloads.tso6;
  return false;
}
