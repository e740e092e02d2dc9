// The driver side against bad requests from its caller: an element that is
// not a buffer, a buffer longer than 2^32 bytes in all, an undefined token,
// no elements. Each is a QueueError, and the queue is as before: nothing
// is made available (not even part of a chain, in either layout), no
// descriptor is lost, and the next good request goes through alone.
import assert from "node:assert/strict";
import { QueueError } from "../../src/errors.ts";
import type { Sg } from "../../src/virtqueue/mod.ts";
import { CONFIGS, label, pair, type PairConfig } from "./_rig.ts";

interface BadRequest {
  name: string;
  out: (buf: number) => Sg[];
  in_: (buf: number) => Sg[];
  token?: number;
  message: RegExp;
  code: string;
}

const BAD: BadRequest[] = [
  {
    name: "a negative address in the last element",
    out: (b) => [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }],
    in_: () => [{ addr: -16, len: 8 }],
    message: /element 2 \(addr -16, len 8\) is not a valid buffer/,
    code: "ERR_VIRTIO_QUEUE_BAD_ELEMENT",
  },
  {
    name: "a negative length in the last of four elements",
    out: (b) => [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }, { addr: b + 16, len: 8 }],
    in_: (b) => [{ addr: b + 24, len: -1 }],
    message: /element 3 .* is not a valid buffer/,
    code: "ERR_VIRTIO_QUEUE_BAD_ELEMENT",
  },
  {
    name: "a fractional length in the middle",
    out: (b) => [{ addr: b, len: 8 }, { addr: b + 8, len: 2.5 }],
    in_: (b) => [{ addr: b + 16, len: 8 }],
    message: /element 1 .* is not a valid buffer/,
    code: "ERR_VIRTIO_QUEUE_BAD_ELEMENT",
  },
  {
    name: "an address past 2^53",
    out: (b) => [{ addr: b, len: 8 }],
    in_: () => [{ addr: 2 ** 60, len: 8 }],
    message: /element 1 .* is not a valid buffer/,
    code: "ERR_VIRTIO_QUEUE_BAD_ELEMENT",
  },
  {
    name: "more than 2^32 - 1 bytes in all",
    out: (b) => [{ addr: b, len: 0xffffffff }, { addr: b, len: 0xffffffff }],
    in_: (b) => [{ addr: b, len: 1 }],
    message: /longer than 2\^32 bytes/,
    code: "ERR_VIRTIO_QUEUE_TOO_MANY_BYTES",
  },
  {
    name: "an undefined token",
    out: (b) => [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }],
    in_: (b) => [{ addr: b + 16, len: 8 }],
    token: undefined,
    message: /token must not be undefined/,
    code: "ERR_VIRTIO_QUEUE_BAD_TOKEN",
  },
  {
    name: "no elements",
    out: () => [],
    in_: () => [],
    message: /at least one element/,
    code: "ERR_VIRTIO_QUEUE_EMPTY_BUFFER",
  },
];

function check(cfg: PairConfig, bad: BadRequest): void {
  const { alloc, driver, device } = pair({ ...cfg, size: 8 });
  const buf = alloc.alloc(256, 8);
  // Move the ring off its start, so that faults near the wrap are covered too.
  for (let k = 0; k < 6; k++) {
    driver.addSgs([{ addr: buf, len: 8 }], [{ addr: buf + 64, len: 8 }], 100 + k);
    driver.kick();
    const chain = device.pop();
    assert.ok(chain);
    device.addUsed(chain, 8);
    assert.equal(driver.getBuf()?.token, 100 + k);
  }
  const before = driver.state();
  const token = "token" in bad ? bad.token : 7;
  assert.throws(
    () => driver.addSgs(bad.out(buf), bad.in_(buf), token as number),
    (e: unknown) => e instanceof QueueError && bad.message.test(e.message) && e.code === bad.code,
  );
  assert.deepEqual(driver.state(), before, "driver state changed by a refused request");
  assert.equal(driver.kick(), false, "a refused request counts as added");
  assert.equal(device.pop(), null, "a refused request reached the device");
  // The next good request, of a different shape, goes through alone.
  driver.addSgs([{ addr: buf + 32, len: 4 }], [{ addr: buf + 128, len: 16 }], 1);
  const chain = device.pop();
  assert.ok(chain);
  assert.equal(chain.readableLength, 4);
  assert.equal(chain.writableLength, 16);
  assert.equal(device.pop(), null, "part of the refused chain became available");
  device.addUsed(chain, 16);
  assert.deepEqual(driver.getBuf(), { token: 1, len: 16 });
  assert.equal(driver.numFree, 8);
  assert.equal(driver.inFlight, 0);
}

for (const cfg of CONFIGS) {
  for (const bad of BAD) {
    Deno.test(`driver ${label(cfg)}: ${bad.name} is refused and leaves the queue as it was`, () => {
      check(cfg, bad);
    });
  }
}
