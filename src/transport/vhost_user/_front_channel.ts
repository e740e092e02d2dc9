/**
 * The front-end's half of the conversation with a back-end: messages sent
 * whole (waiting while the socket is full), replies awaited and checked
 * (their request, their flags; descriptors that come with them closed),
 * within a time limit.
 *
 * @module
 */

import { closeFd, pollAsync, POLLIN, POLLOUT, pollSync, sendWithFds } from "./_libc.ts";
import {
  decodeConfig,
  isReply,
  type MessageReader,
  requestName,
  type VhostUserMessage,
} from "./_protocol.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";

/** The first `size` config bytes of a GET_CONFIG reply (fewer is a `BAD_REPLY`). */
export function configBytes(m: VhostUserMessage, size: number): Uint8Array {
  const c = decodeConfig(m);
  if (c.data.length < size) {
    throw new VhostUserError(
      `VHOST_USER_GET_CONFIG: ${c.data.length} config bytes in the reply, asked for ${size}`,
      { code: VhostUserErrorCode.BAD_REPLY },
    );
  }
  return c.data.slice(0, size);
}

/** Sends all of `bytes` (the fds with the first part), waiting while the socket is full. */
export function sendAll(
  fd: number,
  bytes: Uint8Array,
  fds: readonly number[],
  timeoutMs: number,
): void {
  let off = 0;
  let withFds = fds;
  const deadline = Date.now() + timeoutMs;
  while (off < bytes.length) {
    const n = sendWithFds(fd, bytes.subarray(off), withFds);
    if (n > 0) {
      off += n;
      withFds = [];
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new VhostUserError("vhost-user: the back-end stopped reading its socket", {
        code: VhostUserErrorCode.NO_REPLY,
      });
    }
    pollSync([{ fd, events: POLLOUT, revents: 0 }], Math.min(left, 100));
  }
}

export function checkReply(m: VhostUserMessage, request: number): VhostUserMessage {
  if (!isReply(m.flags) || m.request !== request) {
    for (const f of m.fds) closeFd(f);
    throw new VhostUserError(
      `vhost-user: expected the reply to ${requestName(request)}, got ${requestName(m.request)}` +
        ` (flags 0x${m.flags.toString(16)})`,
      { code: VhostUserErrorCode.BAD_REPLY },
    );
  }
  for (const f of m.fds) closeFd(f);
  return m;
}

/**
 * One look for the reply to `request`: the reply, or how many ms are left
 * until `deadline` to wait for more bytes. The end of the connection or of
 * the time is a `VhostUserError`.
 */
export function replyOrWait(
  reader: MessageReader,
  request: number,
  deadline: number,
): VhostUserMessage | number {
  const r = reader.read();
  if (r.kind === "message") return checkReply(r.message, request);
  if (r.kind === "eof") {
    throw new VhostUserError(
      `vhost-user: the back-end closed the connection before answering ${requestName(request)}`,
      { code: VhostUserErrorCode.CLOSED },
    );
  }
  const left = deadline - Date.now();
  if (left <= 0) {
    throw new VhostUserError(`vhost-user: no reply to ${requestName(request)}`, {
      code: VhostUserErrorCode.NO_REPLY,
    });
  }
  return left;
}

/** Waits (without blocking the event loop) for the reply to `request`. */
export async function recvReply(
  fd: number,
  reader: MessageReader,
  request: number,
  timeoutMs: number,
): Promise<VhostUserMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = replyOrWait(reader, request, deadline);
    if (typeof r !== "number") return r;
    await pollAsync([{ fd, events: POLLIN, revents: 0 }], Math.min(r, 1000));
  }
}

/** Waits, blocking the JS thread, for the reply to `request`. */
export function recvReplySync(
  fd: number,
  reader: MessageReader,
  request: number,
  timeoutMs: number,
): VhostUserMessage {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = replyOrWait(reader, request, deadline);
    if (typeof r !== "number") return r;
    pollSync([{ fd, events: POLLIN, revents: 0 }], Math.min(r, 100));
  }
}
