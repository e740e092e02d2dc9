// Refusals of the vhost-user back-end that the fuzzers never reached
// (docs/reliability.md, "Fuzz coverage"): a front-end that changes a running
// ring's size, addresses or base, asks for dirty logging, starts a ring before
// the memory table or without a kick fd, writes config bytes past the config
// space or sends a payload too short for its request, loses its session with a
// typed error (nothing is changed under the device), and the next front-end is
// served; bad back-end options are refused at construction.
// Linux only (FFI), no QEMU.
import assert from "node:assert/strict";
import {
  configPayload,
  decodeU64,
  u64Payload,
  vringAddrPayload,
  vringFdPayload,
  vringStatePayload,
} from "../../src/transport/vhost_user/_protocol.ts";
import {
  VHOST_USER_PROTOCOL_F_CONFIG,
  VhostUserRequest as R,
} from "../../src/generated/vhost_user.ts";
import { closeFd, eventfd } from "../../src/transport/vhost_user/_libc.ts";
import { VhostUserBackend } from "../../src/transport/vhost_user/backend.ts";
import { VhostUserError, VhostUserErrorCode } from "../../src/transport/vhost_user/errors.ts";
import { BlkDevice, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { deadline } from "./_deadline.ts";
import {
  canRun,
  expectClosed,
  type Front,
  type Harness,
  lastError,
  session,
  startSplitQueue,
  withBackend,
  withGuest,
} from "./_vhost_user_front.ts";

if (!canRun) console.log("vhost_user_running_ring_test: skipped, vhost-user needs Linux");

/** VHOST_F_LOG_ALL (26): dirty-page logging for migration, which the back-end does not do. */
const VHOST_F_LOG_ALL = 1n << 26n;

const cases: [string, (f: Front) => Promise<void>, RegExp][] = [
  [
    "SET_VRING_NUM",
    (f) => expectClosed(f, R.VHOST_USER_SET_VRING_NUM, vringStatePayload(0, 8)),
    /VHOST_USER_SET_VRING_NUM: vring 0 is running/,
  ],
  ["SET_VRING_ADDR", (f) =>
    expectClosed(
      f,
      R.VHOST_USER_SET_VRING_ADDR,
      vringAddrPayload({ index: 0, flags: 0, desc: 0x1000, used: 0x2000, avail: 0x3000, log: 0 }),
    ), /VHOST_USER_SET_VRING_ADDR: vring 0 is running/],
  [
    "SET_VRING_BASE",
    (f) => expectClosed(f, R.VHOST_USER_SET_VRING_BASE, vringStatePayload(0, 5)),
    /VHOST_USER_SET_VRING_BASE: vring 0 is running/,
  ],
];

for (const [what, send, message] of cases) {
  Deno.test({
    name: `vhost-user backend: ${what} on a running ring ends the session (BAD_VRING_STATE)`,
    ignore: !canRun,
    fn: () =>
      withBackend(async (h: Harness) => {
        await withGuest(async (g) => {
          await session(h, async (f) => {
            startSplitQueue<number>(h, f, g);
            // The ring runs: GET_FEATURES is still answered.
            assert.notEqual(decodeU64(await f.call(R.VHOST_USER_GET_FEATURES)), 0n);
            // A back-end that accepted the change would keep the session: fail, not hang.
            await deadline(send(f), 10_000, `the back-end to drop the session after ${what}`);
          });
        });
        assert.match(lastError(h), message);
        assert.equal(h.backend.sessions.at(-1)?.code, VhostUserErrorCode.BAD_VRING_STATE);
        // The next front-end is served.
        await session(h, async (f) => {
          assert.notEqual(decodeU64(await f.call(R.VHOST_USER_GET_FEATURES)), 0n);
        });
        assert.equal(h.backend.sessions.at(-1)?.end, "eof");
      }),
  });
}

/** Requests refused on a fresh session: what is sent, the message and code of the refusal. */
const fresh: [string, (f: Front) => Promise<void>, RegExp, string][] = [
  [
    "SET_VRING_KICK before SET_MEM_TABLE",
    async (f) => {
      const kick = eventfd();
      try {
        await expectClosed(f, R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, false), [kick]);
      } finally {
        closeFd(kick);
      }
    },
    /vring 0 started before VHOST_USER_SET_MEM_TABLE/,
    VhostUserErrorCode.VRING_NOT_READY,
  ],
  [
    "SET_VRING_KICK without a kick fd (polling)",
    (f) => expectClosed(f, R.VHOST_USER_SET_VRING_KICK, vringFdPayload(0, true)),
    /without a kick fd/,
    VhostUserErrorCode.UNSUPPORTED_REQUEST,
  ],
  [
    "SET_CONFIG past the config space",
    async (f) => {
      const proto = decodeU64(await f.call(R.VHOST_USER_GET_PROTOCOL_FEATURES));
      assert.notEqual(proto & (1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG)), 0n);
      f.send(R.VHOST_USER_SET_PROTOCOL_FEATURES, u64Payload(proto));
      await expectClosed(f, R.VHOST_USER_SET_CONFIG, configPayload(40, 0, new Uint8Array(60)));
    },
    /VHOST_USER_SET_CONFIG: bytes 40\.\.100 are outside/,
    VhostUserErrorCode.BAD_CONFIG,
  ],
  [
    "SET_VRING_NUM with a 2-byte payload",
    (f) => expectClosed(f, R.VHOST_USER_SET_VRING_NUM, new Uint8Array(2)),
    /payload of 2 bytes is too short/,
    VhostUserErrorCode.SHORT_PAYLOAD,
  ],
];

for (const [what, send, message, code] of fresh) {
  Deno.test({
    name: `vhost-user backend: ${what} ends the session (${code.replace(/^.*_USER_/, "")})`,
    ignore: !canRun,
    fn: () =>
      withBackend(async (h) => {
        await session(h, async (f) => {
          await deadline(send(f), 10_000, `the back-end to drop the session after ${what}`);
        });
        assert.match(lastError(h), message);
        assert.equal(h.backend.sessions.at(-1)?.code, code);
        await session(h, async (f) => {
          assert.notEqual(decodeU64(await f.call(R.VHOST_USER_GET_FEATURES)), 0n);
        });
      }),
  });
}

Deno.test({
  name: "vhost-user backend: SET_FEATURES with VHOST_F_LOG_ALL (dirty logging) is refused",
  ignore: !canRun,
  fn: () =>
    withBackend(async (h) => {
      await session(h, async (f) => {
        const offered = decodeU64(await f.call(R.VHOST_USER_GET_FEATURES));
        await expectClosed(f, R.VHOST_USER_SET_FEATURES, u64Payload(offered | VHOST_F_LOG_ALL));
      });
      assert.match(lastError(h), /dirty logging is not supported/);
      assert.equal(h.backend.sessions.at(-1)?.code, VhostUserErrorCode.UNSUPPORTED_REQUEST);
    }),
});

Deno.test({
  name: "vhost-user backend: out-of-range pollBeforeSleepUs and messageTimeoutMs are BAD_OPTION",
  ignore: !canRun,
  fn: () => {
    const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(4096)) });
    const bad = [
      { pollBeforeSleepUs: -1 },
      { pollBeforeSleepUs: 1_000_000 },
      { pollBeforeSleepUs: NaN },
      { messageTimeoutMs: 0 },
      { messageTimeoutMs: 3_600_001 },
      { messageTimeoutMs: Infinity },
    ];
    for (const o of bad) {
      assert.throws(
        () => new VhostUserBackend(device, { socketPath: "/nonexistent/x.sock", ...o }),
        (e: unknown) =>
          e instanceof VhostUserError && e.code === VhostUserErrorCode.BAD_OPTION &&
          /pollBeforeSleepUs|messageTimeoutMs/.test(e.message),
        JSON.stringify(o),
      );
    }
  },
});
