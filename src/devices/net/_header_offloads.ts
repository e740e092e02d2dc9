/**
 * The offloads a `virtio_net_hdr` carries between a driver and the
 * virtio-net device model: which a transmitted header may ask for, given
 * the negotiated features (spec 5.1.6.2.2), which the driver takes on
 * receive (the GUEST_* features, switched by
 * VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, 5.1.6.5.6.1), and the header flags a
 * received frame gets for them (5.1.6.4.1).
 *
 * @module
 */

import {
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
} from "../../generated/devices/net.ts";
import { bit, featureMask } from "../../features.ts";
import {
  completeChecksum,
  isGso,
  type NetFrameMeta,
  type NetOffloads,
  offloadsAccept,
} from "./offload.ts";

/** GUEST_* offload bits VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET may switch (spec 5.1.6.5.6.1). */
export const GUEST_OFFLOAD_BITS: bigint = featureMask([
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_UFO,
]);

/** What a driver takes on receive, from the GUEST_* offload bits switched on. */
export function guestOffloads(g: bigint): NetOffloads {
  return {
    csum: (g & bit(VIRTIO_NET_F_GUEST_CSUM)) !== 0n,
    tso4: (g & bit(VIRTIO_NET_F_GUEST_TSO4)) !== 0n,
    tso6: (g & bit(VIRTIO_NET_F_GUEST_TSO6)) !== 0n,
    ecn: (g & bit(VIRTIO_NET_F_GUEST_ECN)) !== 0n,
  };
}

/**
 * 5.1.6.2.2: the offsets of a transmitted header inside the frame (`len`
 * bytes), its offloads only as negotiated (`f`). Clears the flag bits the
 * device does not know.
 */
export function validTx(m: NetFrameMeta, f: bigint, len: number): boolean {
  if (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    if (!(f & bit(VIRTIO_NET_F_CSUM))) return false;
    if (m.csumStart + m.csumOffset + 2 > len) return false;
  }
  // Flag bits we do not know are ignored (5.1.6.2.2); clear them before passing on.
  m.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
  const ecn = (m.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
  const t = m.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (t === VIRTIO_NET_HDR_GSO_NONE) return !ecn;
  if (t === VIRTIO_NET_HDR_GSO_TCPV4 && !(f & bit(VIRTIO_NET_F_HOST_TSO4))) return false;
  if (t === VIRTIO_NET_HDR_GSO_TCPV6 && !(f & bit(VIRTIO_NET_F_HOST_TSO6))) return false;
  if (t !== VIRTIO_NET_HDR_GSO_TCPV4 && t !== VIRTIO_NET_HDR_GSO_TCPV6) return false;
  if (ecn && !(f & bit(VIRTIO_NET_F_HOST_ECN))) return false;
  // GSO needs a partial checksum (5.1.6.2.1) and a segment size.
  return (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && m.gsoSize > 0;
}

/**
 * The `flags` of the header a received frame gets, for a driver that takes
 * `offloads`: a partial checksum is passed on or completed here; -1 when
 * the frame must be dropped (a checksum that cannot be completed, GSO the
 * driver cannot take).
 */
export function rxHeaderFlags(frame: Uint8Array, m: NetFrameMeta, offloads: NetOffloads): number {
  let flags = 0;
  if (m.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    if (offloads.csum) {
      flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    } else if (!isGso(m) && completeChecksum(frame, m.csumStart, m.csumOffset)) {
      // 5.1.6.4.1: without GUEST_CSUM, flags stay zero and the frame is complete.
    } else if (!isGso(m)) {
      return -1;
    }
  } else if ((m.flags & VIRTIO_NET_HDR_F_DATA_VALID) && offloads.csum) {
    flags = VIRTIO_NET_HDR_F_DATA_VALID;
  }
  if (isGso(m) && !offloadsAccept(offloads, m)) return -1;
  return flags;
}
