/**
 * The errors of vhost-user and their stable codes. Every failure the
 * back-end or the front-end reports is a {@link VhostUserError} (or a
 * `LibcError` for a failed system call), and each has one of the codes of
 * {@link VhostUserErrorCode}, so a program can switch on the cause.
 *
 * @example Switching on a code
 * ```ts
 * import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
 *
 * const e: unknown = new VhostUserError("region 0 is past the end of its file", {
 *   code: VhostUserErrorCode.FD_TOO_SMALL,
 * });
 * if (!(e instanceof VhostUserError) || e.code !== "ERR_VIRTIO_TRANSPORT_VHOST_USER_FD_TOO_SMALL") {
 *   throw new Error("unreachable");
 * }
 * ```
 *
 * @module
 */

import { TransportError } from "../../errors.ts";

/** A vhost-user protocol violation: a message that cannot be honoured. */
export class VhostUserError extends TransportError {
  /** The code of a {@link VhostUserError} without a more precise cause. */
  static override readonly defaultCode: string = "ERR_VIRTIO_TRANSPORT_VHOST_USER";
}

const P = "ERR_VIRTIO_TRANSPORT_VHOST_USER";

/**
 * The codes of {@link VhostUserError}, by cause. A throw site without a
 * more precise cause uses the class's code, `ERR_VIRTIO_TRANSPORT_VHOST_USER`.
 */
export const VhostUserErrorCode: {
  /** A message shorter than its payload needs, or a header shorter than 12 bytes. */
  readonly SHORT_PAYLOAD: string;
  /** A payload larger than any vhost-user message. */
  readonly PAYLOAD_TOO_LARGE: string;
  /** Header flags with a version other than 1. */
  readonly BAD_VERSION: string;
  /** A message with more file descriptors than the socket could carry. */
  readonly FDS_DROPPED: string;
  /** A message that stayed incomplete past the back-end's message timeout. */
  readonly INCOMPLETE_MESSAGE: string;
  /** A request the back-end does not implement, or one not negotiated. */
  readonly UNSUPPORTED_REQUEST: string;
  /** Feature or protocol-feature bits that were not offered. */
  readonly FEATURES_NOT_OFFERED: string;
  /** A vring index past the device's queue count. */
  readonly NO_SUCH_VRING: string;
  /** A vring state (size, enable value, base) out of range, or a change to a running ring. */
  readonly BAD_VRING_STATE: string;
  /** A ring started before its size, addresses or the memory table were given. */
  readonly VRING_NOT_READY: string;
  /** A ring address outside the memory table, or beyond 2^53. */
  readonly BAD_ADDRESS: string;
  /** A memory table that is empty, too large, overflowing or overlapping. */
  readonly BAD_MEMORY_TABLE: string;
  /** A message without the file descriptors it must carry, or with too many. */
  readonly MISSING_FD: string;
  /** A file descriptor of the wrong kind (a socket where a memory file or an eventfd goes...). */
  readonly BAD_FD: string;
  /** A memory region or inflight area that reaches past the end of its file. */
  readonly FD_TOO_SMALL: string;
  /** A memory file not sealed against shrinking, where the back-end requires it. */
  readonly FD_NOT_SEALED: string;
  /** A file descriptor that could not be mapped. */
  readonly MAP_FAILED: string;
  /** An inflight description that is not valid (queue count, size, area, offset). */
  readonly BAD_INFLIGHT: string;
  /** A config access outside the device's config space, or too large. */
  readonly BAD_CONFIG: string;
  /** A reply that could not be sent, or did not come. */
  readonly NO_REPLY: string;
  /** A reply of the wrong request, size or shape (front-end side). */
  readonly BAD_REPLY: string;
  /** The back-end refused a request (a nack of REPLY_ACK; front-end side). */
  readonly REFUSED: string;
  /** A bad option of the back-end or the front-end. */
  readonly BAD_OPTION: string;
  /** The device model threw something other than a typed error while handling a request. */
  readonly DEVICE_FAILED: string;
  /** A queue that does not exist, is set up twice, or is used before it is set up (front-end side). */
  readonly BAD_QUEUE: string;
  /** A request on a connection that is closed, or whose back-end has gone away (front-end side). */
  readonly CLOSED: string;
} = Object.freeze({
  SHORT_PAYLOAD: `${P}_SHORT_PAYLOAD`,
  PAYLOAD_TOO_LARGE: `${P}_PAYLOAD_TOO_LARGE`,
  BAD_VERSION: `${P}_BAD_VERSION`,
  FDS_DROPPED: `${P}_FDS_DROPPED`,
  INCOMPLETE_MESSAGE: `${P}_INCOMPLETE_MESSAGE`,
  UNSUPPORTED_REQUEST: `${P}_UNSUPPORTED_REQUEST`,
  FEATURES_NOT_OFFERED: `${P}_FEATURES_NOT_OFFERED`,
  NO_SUCH_VRING: `${P}_NO_SUCH_VRING`,
  BAD_VRING_STATE: `${P}_BAD_VRING_STATE`,
  VRING_NOT_READY: `${P}_VRING_NOT_READY`,
  BAD_ADDRESS: `${P}_BAD_ADDRESS`,
  BAD_MEMORY_TABLE: `${P}_BAD_MEMORY_TABLE`,
  MISSING_FD: `${P}_MISSING_FD`,
  BAD_FD: `${P}_BAD_FD`,
  FD_TOO_SMALL: `${P}_FD_TOO_SMALL`,
  FD_NOT_SEALED: `${P}_FD_NOT_SEALED`,
  MAP_FAILED: `${P}_MAP_FAILED`,
  BAD_INFLIGHT: `${P}_BAD_INFLIGHT`,
  BAD_CONFIG: `${P}_BAD_CONFIG`,
  NO_REPLY: `${P}_NO_REPLY`,
  BAD_REPLY: `${P}_BAD_REPLY`,
  REFUSED: `${P}_REFUSED`,
  BAD_OPTION: `${P}_BAD_OPTION`,
  DEVICE_FAILED: `${P}_DEVICE_FAILED`,
  BAD_QUEUE: `${P}_BAD_QUEUE`,
  CLOSED: `${P}_CLOSED`,
});
