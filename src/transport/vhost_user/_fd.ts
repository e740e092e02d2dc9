/**
 * File descriptors a vhost-user peer passes: each is checked for its kind
 * before it is kept, and a file is checked against its size before it is
 * mapped. Every mapping of a peer's descriptor goes through
 * {@link mapPeerFile}: a mapping past the end of its file maps without
 * complaint, and the first access past the end kills the process (SIGBUS).
 *
 * @module
 */

import { VhostUserError, VhostUserErrorCode } from "./errors.ts";
import {
  F_SEAL_SHRINK,
  fileSeals,
  fstat,
  localAddress,
  type Mapping,
  mapShared,
  peerAddress,
  peerPid,
  S_IFREG,
  S_IFSOCK,
} from "./_libc.ts";

function describe(type: number): string {
  switch (type) {
    case S_IFREG:
      return "a regular file";
    case S_IFSOCK:
      return "a socket";
    case 0:
      return "an anonymous inode (eventfd...)";
    default:
      return `a file of type 0o${type.toString(8)}`;
  }
}

function statOf(fd: number, what: string): { type: number; size: number } {
  try {
    return fstat(fd);
  } catch (e) {
    throw new VhostUserError(`${what}: fd ${fd} is not an open file descriptor`, {
      cause: e,
      code: VhostUserErrorCode.BAD_FD,
    });
  }
}

/**
 * Maps `length` bytes of the peer's file `fd` from `offset`, after checking
 * that `fd` is a regular file (a memfd, or a file on tmpfs or hugetlbfs)
 * that holds all of them, and, with `requireSeal`, that it is sealed against
 * shrinking. `what` names the message and the part for errors. Throws
 * {@link VhostUserError} (`FD_TOO_SMALL`, `BAD_FD`, `MAP_FAILED`) and maps
 * nothing then.
 */
export function mapPeerFile(
  fd: number,
  offset: number,
  length: number,
  what: string,
  requireSeal: boolean = false,
): Mapping {
  const st = statOf(fd, what);
  if (st.type !== S_IFREG) {
    throw new VhostUserError(`${what}: fd ${fd} is ${describe(st.type)}, not a memory file`, {
      code: VhostUserErrorCode.BAD_FD,
    });
  }
  // The size is checked now; only a seal keeps the peer from shrinking the file later.
  if (requireSeal && (fileSeals(fd) & F_SEAL_SHRINK) === 0) {
    throw new VhostUserError(
      `${what}: fd ${fd} is not sealed against shrinking (F_SEAL_SHRINK), which this back-end requires`,
      { code: VhostUserErrorCode.FD_NOT_SEALED },
    );
  }
  const end = offset + length;
  if (!Number.isSafeInteger(end) || end > st.size) {
    throw new VhostUserError(
      `${what}: 0x${length.toString(16)} bytes at offset 0x${offset.toString(16)} reach past ` +
        `the end of fd ${fd} (0x${st.size.toString(16)} bytes)`,
      { code: VhostUserErrorCode.FD_TOO_SMALL },
    );
  }
  try {
    return mapShared(fd, length, offset);
  } catch (e) {
    throw new VhostUserError(
      `${what}: fd ${fd} (0x${length.toString(16)} bytes at offset 0x${
        offset.toString(16)
      }) cannot be mapped: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e, code: VhostUserErrorCode.MAP_FAILED },
    );
  }
}

/**
 * Checks that `fd`, passed for `what`, is not a socket unless `socket` is
 * true, and is one if it is: an eventfd or a file where one is expected, a
 * socket for the back-end channel. A socket where an eventfd goes would keep
 * the peer's end of a connection open (a front-end that passes its own end
 * and leaves would never be seen to hang up).
 */
export function checkPeerFd(fd: number, socket: boolean, what: string): void {
  const st = statOf(fd, what);
  if ((st.type === S_IFSOCK) !== socket) {
    throw new VhostUserError(
      `${what}: fd ${fd} is ${describe(st.type)}, ${socket ? "not a socket" : "not an eventfd"}`,
      { code: VhostUserErrorCode.BAD_FD },
    );
  }
}

/**
 * Checks that the back-end channel `fd` (a socket, SET_BACKEND_REQ_FD) leads
 * to the front-end, as a channel the front-end made with `socketpair` does.
 * Refused: a socket connected to the address this connection `conn` was
 * accepted on (a connection to this back-end itself: the front-end's own end
 * of `conn`, say), and a socket whose peer is another process than the
 * front-end (`SO_PEERCRED`). Holding the front-end's own end, the back-end
 * would never see the front-end hang up.
 */
export function checkBackendChannel(fd: number, conn: number, what: string): void {
  let channelPeer: number;
  let frontEnd: number;
  let channelAddress: string;
  let ours: string;
  try {
    channelPeer = peerPid(fd);
    frontEnd = peerPid(conn);
    channelAddress = peerAddress(fd);
    ours = localAddress(conn);
  } catch (e) {
    throw new VhostUserError(`${what}: fd ${fd} is not a connected Unix socket`, {
      cause: e,
      code: VhostUserErrorCode.BAD_FD,
    });
  }
  if (ours !== "" && channelAddress === ours) {
    throw new VhostUserError(
      `${what}: fd ${fd} is connected to this back-end's own socket (${ours}), not to the front-end`,
      { code: VhostUserErrorCode.BAD_FD },
    );
  }
  if (channelPeer !== frontEnd) {
    throw new VhostUserError(
      `${what}: fd ${fd} is connected to process ${channelPeer}, not to the front-end (${frontEnd}): ` +
        "is it the front-end's own end of this connection?",
      { code: VhostUserErrorCode.BAD_FD },
    );
  }
}
