// An independent reference for the Internet checksum (RFC 1071) and for
// building and verifying IPv4/IPv6 TCP and UDP frames, for the net tests. It
// shares no code with src/devices/net/offload.ts: the sum is written from
// RFC 1071 section 4.1 (16-bit big-endian words into a 32-bit accumulator,
// an odd last byte padded with a zero byte, carries folded at the end), and
// checked against RFC 1071's own example and a published IPv4 header.

/** RFC 1071's checksum of `data`: the ones' complement of the ones' complement sum. */
export function rfc1071(data: Uint8Array): number {
  let sum = 0;
  let count = data.length;
  let i = 0;
  while (count > 1) {
    sum += data[i] * 256 + data[i + 1];
    // keep the accumulator small: fold now and then, as 4.1's 32-bit loop would
    if (sum >= 0x40000000) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
    i += 2;
    count -= 2;
  }
  if (count > 0) sum += data[i] * 256;
  while (sum >= 0x10000) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

/** Bytes of several parts, one after another. */
export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Published vectors: bytes and the checksum RFC 1071 gives for them. */
export const RFC1071_VECTORS: readonly { what: string; bytes: number[]; checksum: number }[] = [
  // RFC 1071 section 3, "Numerical Examples": the bytes 00 01 f2 03 f4 f5 f6 f7
  // sum to ddf2 (ones' complement), so the checksum is its complement 220d.
  {
    what: "RFC 1071 section 3",
    bytes: [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7],
    checksum: 0x220d,
  },
  // The IPv4 header of the Wikipedia article "Internet checksum" / "IPv4 header
  // checksum" example, with its checksum field zeroed: the checksum is b861.
  {
    what: "IPv4 header 4500 0073 ... c0a8 00c7",
    bytes: [
      0x45,
      0x00,
      0x00,
      0x73,
      0x00,
      0x00,
      0x40,
      0x00,
      0x40,
      0x11,
      0x00,
      0x00,
      0xc0,
      0xa8,
      0x00,
      0x01,
      0xc0,
      0xa8,
      0x00,
      0xc7,
    ],
    checksum: 0xb861,
  },
  // The same header with its checksum in place verifies: the checksum over it is 0.
  {
    what: "IPv4 header with checksum b861",
    bytes: [
      0x45,
      0x00,
      0x00,
      0x73,
      0x00,
      0x00,
      0x40,
      0x00,
      0x40,
      0x11,
      0xb8,
      0x61,
      0xc0,
      0xa8,
      0x00,
      0x01,
      0xc0,
      0xa8,
      0x00,
      0xc7,
    ],
    checksum: 0x0000,
  },
  // Odd length (RFC 1071 4.1: "add left-over byte, if any"): 0001 + f200 = f201.
  { what: "odd length 00 01 f2", bytes: [0x00, 0x01, 0xf2], checksum: 0x0dfe },
  // Empty data sums to 0; its checksum is ffff.
  { what: "empty", bytes: [], checksum: 0xffff },
];

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [...be16(Math.floor(v / 0x10000) & 0xffff), ...be16(v & 0xffff)];

/** What {@link buildFrame} builds. */
export interface FrameSpec {
  ip: 4 | 6;
  /** 6 (TCP) or 17 (UDP). */
  proto: 6 | 17;
  /** One 802.1Q tag before the ethertype. */
  vlan: boolean;
  /** IPv4 options, in 32-bit words (0..10). */
  ipOptionWords: number;
  /** TCP options, in 32-bit words (0..10). */
  tcpOptionWords: number;
  payload: Uint8Array;
  seq: number;
  /** TCP flags byte (FIN 0x01, PSH 0x08, CWR 0x80...). */
  flags: number;
  ipId: number;
}

/** Where the parts of a built frame are. */
export interface FrameLayout {
  frame: Uint8Array;
  ip: number;
  l4: number;
  headers: number;
}

const SRC4 = [10, 0, 0, 1], DST4 = [10, 0, 0, 2];
const SRC6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/**
 * A well-formed Ethernet frame carrying IPv4 or IPv6 with TCP or UDP, every
 * checksum complete (computed with {@link rfc1071}).
 */
export function buildFrame(s: FrameSpec): FrameLayout {
  const eth = concat(
    [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1],
    s.vlan ? [0x81, 0x00, 0x00, 0x05] : [],
    s.ip === 4 ? [0x08, 0x00] : [0x86, 0xdd],
  );
  const l4h = s.proto === 6
    ? concat(
      [0x30, 0x39, 0x00, 0x50],
      be32(s.seq),
      [0, 0, 0, 0],
      [(5 + s.tcpOptionWords) << 4, s.flags, 0xff, 0xff, 0, 0, 0, 0],
      new Array(4 * s.tcpOptionWords).fill(1), // NOP options
    )
    : concat([0x30, 0x39, 0x00, 0x35], be16(8 + s.payload.length), [0, 0]);
  const l4Len = l4h.length + s.payload.length;
  let iph: Uint8Array;
  if (s.ip === 4) {
    const ihl = 5 + s.ipOptionWords;
    iph = concat(
      [0x40 | ihl, 0],
      be16(4 * ihl + l4Len),
      be16(s.ipId),
      [0x40, 0, 64, s.proto, 0, 0],
      SRC4,
      DST4,
      new Array(4 * s.ipOptionWords).fill(1),
    );
    const c = rfc1071(iph);
    iph[10] = c >> 8;
    iph[11] = c & 0xff;
  } else {
    iph = concat([0x60, 0, 0, 0], be16(l4Len), [s.proto, 64], SRC6, DST6);
  }
  const frame = concat(eth, iph, l4h, s.payload);
  const layout = {
    frame,
    ip: eth.length,
    l4: eth.length + iph.length,
    headers: eth.length + iph.length + l4h.length,
  };
  const c = l4Checksum(layout, s.ip, s.proto);
  const at = layout.l4 + (s.proto === 6 ? 16 : 6);
  frame[at] = c >> 8;
  frame[at + 1] = c & 0xff;
  return layout;
}

/** The TCP or UDP checksum of a frame (computed over its checksum field as it is). */
export function l4Checksum(l: FrameLayout, ip: 4 | 6, proto: number): number {
  const f = l.frame;
  const seg = f.subarray(l.l4);
  const pseudo = ip === 4
    ? concat(f.subarray(l.ip + 12, l.ip + 20), [0, proto], be16(seg.length))
    : concat(f.subarray(l.ip + 8, l.ip + 40), be32(seg.length), [0, 0, 0, proto]);
  return rfc1071(concat(pseudo, seg));
}

/** True when a TCP or UDP frame's transport checksum verifies (the sum over it is 0). */
export function l4ChecksumOk(l: FrameLayout, ip: 4 | 6, proto: number): boolean {
  return l4Checksum(l, ip, proto) === 0;
}

/** True when an IPv4 header (at `ip`, `ihl` words) verifies. */
export function ipv4ChecksumOk(f: Uint8Array, ip: number): boolean {
  return rfc1071(f.subarray(ip, ip + 4 * (f[ip] & 0xf))) === 0;
}
