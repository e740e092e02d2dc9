// The vhost-user front-end against a back-end that misbehaves, in the same
// process: every failure is a VhostUserError with the code of its cause,
// and descriptors the back-end sent with a bad reply are closed.
// Needs Linux and --allow-ffi; no QEMU.

import assert from "node:assert/strict";
import { VhostUserFrontend } from "../../src/transport/vhost_user/frontend.ts";
import { VhostUserError, VhostUserErrorCode } from "../../src/transport/vhost_user/errors.ts";
import {
  accept,
  bindListen,
  closeFd,
  eventfd,
  pollAsync,
  POLLIN,
  recvWithFds,
  sendWithFds,
  socketUnix,
} from "../../src/transport/vhost_user/_libc.ts";
import {
  encodeMessage,
  MessageReader,
  REPLY_FLAGS,
  u64Payload,
} from "../../src/transport/vhost_user/_protocol.ts";
import { VhostUserRequest as R } from "../../src/generated/vhost_user.ts";
import { VIRTIO_ID_BLOCK } from "../../src/generated/common.ts";
import { canRun } from "./_vhost_user_front.ts";

if (!canRun) console.log("vhost_user_frontend_test: skipped, vhost-user needs Linux");

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name: "vhost-user front-end: a bad memory size is refused before connecting (BAD_OPTION)",
  ignore: !canRun,
  fn: async () => {
    await assert.rejects(
      VhostUserFrontend.connect({
        socketPath: "/nonexistent.sock",
        deviceId: VIRTIO_ID_BLOCK,
        memorySize: 4097,
      }),
      (e: unknown) => e instanceof VhostUserError && e.code === VhostUserErrorCode.BAD_OPTION,
    );
  },
});

Deno.test({
  name: "vhost-user front-end: a reply to another request is refused (BAD_REPLY), " +
    "and the descriptor sent with it is closed",
  ignore: !canRun,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-fe-" });
    const path = `${dir}/be.sock`;
    const listen = socketUnix();
    bindListen(listen, path);
    const before = openFds();
    // The back-end: answers GET_FEATURES as if it were GET_PROTOCOL_FEATURES, with an eventfd.
    const backend = (async () => {
      await pollAsync([{ fd: listen, events: POLLIN, revents: 0 }], 10_000);
      const conn = accept(listen);
      const reader = new MessageReader((b) => recvWithFds(conn, b), closeFd);
      try {
        for (let i = 0; i < 100; i++) {
          const r = reader.read();
          if (r.kind === "eof") return;
          if (r.kind === "again") {
            await pollAsync([{ fd: conn, events: POLLIN, revents: 0 }], 10_000);
            continue;
          }
          for (const fd of r.message.fds) closeFd(fd);
          if (r.message.request !== R.VHOST_USER_GET_FEATURES) continue;
          const efd = eventfd();
          const bytes = encodeMessage(
            R.VHOST_USER_GET_PROTOCOL_FEATURES,
            REPLY_FLAGS,
            u64Payload(0n),
          );
          sendWithFds(conn, bytes, [efd]);
          closeFd(efd);
        }
      } finally {
        reader.discard();
        closeFd(conn);
      }
    })();
    try {
      await assert.rejects(
        VhostUserFrontend.connect({ socketPath: path, deviceId: VIRTIO_ID_BLOCK }),
        (e: unknown) =>
          e instanceof VhostUserError && e.code === VhostUserErrorCode.BAD_REPLY &&
          /expected the reply to VHOST_USER_GET_FEATURES/.test(e.message),
      );
      await backend;
      assert.equal(openFds(), before, "the front-end closed its socket, its memfd and the eventfd");
    } finally {
      closeFd(listen);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
