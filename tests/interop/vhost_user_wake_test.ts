// The back-end's wake-up path: the brief blocking wait for the next kick
// (`pollBrief`, `pollBeforeSleepUs`). Needs Linux and --allow-ffi; no QEMU.
// The latency it buys is measured by bench/vhost_user_bench.ts, not here.

import assert from "node:assert/strict";
import {
  DEFAULT_POLL_BEFORE_SLEEP_US,
  MAX_POLL_RING_US,
  VhostUserBackend,
} from "../../src/transport/vhost_user/backend.ts";
import { parseBlkArgs } from "../../examples/vhost_user_blk.ts";
import {
  closeFd,
  eventfd,
  pollBrief,
  POLLIN,
  readEventfd,
  writeEventfd,
} from "../../src/transport/vhost_user/_libc.ts";
import { VhostUserError, VhostUserErrorCode } from "../../src/transport/vhost_user/errors.ts";
import { BlkDevice, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { skipUnlessCi } from "./_guest.ts";

const canRun = skipUnlessCi(
  "vhost_user_wake_test",
  Deno.build.os === "linux" ? undefined : "vhost-user needs Linux",
) === undefined;

Deno.test({
  name: "pollBrief: a quiet eventfd times out with nothing ready; a kicked one is ready",
  ignore: !canRun,
  fn() {
    const quiet = eventfd();
    const kicked = eventfd();
    try {
      const entries = [
        { fd: quiet, events: POLLIN, revents: 0 },
        { fd: kicked, events: POLLIN, revents: 0 },
      ];
      assert.equal(pollBrief(entries, 200), 0, "nothing written yet");
      assert.deepEqual(entries.map((e) => e.revents), [0, 0]);
      writeEventfd(kicked);
      assert.equal(pollBrief(entries, 200), 1);
      assert.deepEqual(entries.map((e) => e.revents), [0, POLLIN]);
      assert.equal(readEventfd(kicked), 1n);
      // Zero is a plain check, as poll with a zero timeout.
      entries[1].revents = 0;
      assert.equal(pollBrief(entries, 0), 0);
    } finally {
      closeFd(quiet);
      closeFd(kicked);
    }
  },
});

Deno.test({
  name: "vhost-user backend: pollBeforeSleepUs defaults, accepts 0, refuses what ppoll cannot take",
  ignore: !canRun,
  fn() {
    const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(4096)) });
    const socketPath = "/tmp/typed-virtio-wake-test.sock"; // never created: no listen()
    assert.equal(
      new VhostUserBackend(device, { socketPath }).pollBeforeSleepUs,
      DEFAULT_POLL_BEFORE_SLEEP_US,
    );
    assert.equal(
      new VhostUserBackend(device, { socketPath, pollBeforeSleepUs: 0 }).pollBeforeSleepUs,
      0,
    );
    for (const bad of [-1, 1_000_000, Number.NaN, Infinity]) {
      assert.throws(
        () => new VhostUserBackend(device, { socketPath, pollBeforeSleepUs: bad }),
        (e: unknown) =>
          e instanceof VhostUserError && e.message.includes("pollBeforeSleepUs") &&
          e.code === VhostUserErrorCode.BAD_OPTION,
        String(bad),
      );
    }
  },
});

Deno.test({
  name: "vhost-user backend: pollRingUs defaults to 0 (off), takes 0 up to MAX_POLL_RING_US",
  ignore: !canRun,
  fn() {
    const device = new BlkDevice({ storage: new MemoryStorage(new Uint8Array(4096)) });
    const socketPath = "/tmp/typed-virtio-wake-test.sock"; // never created: no listen()
    assert.equal(new VhostUserBackend(device, { socketPath }).pollRingUs, 0);
    for (const ok of [0, 1, 150, MAX_POLL_RING_US]) {
      assert.equal(new VhostUserBackend(device, { socketPath, pollRingUs: ok }).pollRingUs, ok);
    }
    for (const bad of [-1, MAX_POLL_RING_US + 1, Number.NaN, Infinity]) {
      assert.throws(
        () => new VhostUserBackend(device, { socketPath, pollRingUs: bad }),
        (e: unknown) =>
          e instanceof VhostUserError && e.message.includes("pollRingUs") &&
          e.code === VhostUserErrorCode.BAD_OPTION,
        String(bad),
      );
    }
  },
});

Deno.test("vhost_user_blk.ts: --poll-ring-us is 0 unless given, and checked", () => {
  const base = ["--socket", "/tmp/x.sock", "--image", "/tmp/x.img"];
  assert.equal(parseBlkArgs(base).pollRingUs, 0);
  assert.equal(parseBlkArgs([...base, "--poll-ring-us", "150"]).pollRingUs, 150);
  assert.equal(parseBlkArgs([...base, "--poll-ring-us=0"]).pollRingUs, 0);
  for (const bad of ["-1", "1.5", String(MAX_POLL_RING_US + 1), "x"]) {
    assert.throws(() => parseBlkArgs([...base, "--poll-ring-us", bad]), /bad --poll-ring-us/, bad);
  }
});
