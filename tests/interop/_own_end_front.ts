// A hostile front-end run as its own process (the back-end channel check
// compares processes): connects to the socket given as the first argument,
// negotiates the back-end channel, hands the back-end its own end of the
// connection as that channel, and exits. Used by vhost_user_hostile_test.ts.

import { connectUnix, sendWithFds, socketUnix } from "../../src/transport/vhost_user/_libc.ts";
import {
  encodeMessage,
  headerFlags,
  u64Payload,
} from "../../src/transport/vhost_user/_protocol.ts";
import {
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VhostUserRequest as R,
} from "../../src/generated/vhost_user.ts";

const fd = socketUnix();
connectUnix(fd, Deno.args[0]);
const send = (request: number, payload: Uint8Array, fds: number[] = []) => {
  const bytes = encodeMessage(request, headerFlags(), payload);
  if (sendWithFds(fd, bytes, fds) !== bytes.length) throw new Error("short send");
};
send(
  R.VHOST_USER_SET_PROTOCOL_FEATURES,
  u64Payload(1n << BigInt(VHOST_USER_PROTOCOL_F_BACKEND_REQ)),
);
send(R.VHOST_USER_SET_BACKEND_REQ_FD, new Uint8Array(0), [fd]);
console.log("sent");
// Exiting closes this process's descriptor of its end.
