// virtio rpmsg against a racing writer: a worker keeps rewriting a message's `len` (with
// `flags`, the le32 at offset 12 of Linux's rpmsg_hdr) and its `dst` (offset 4) between a value
// the device takes and one it must refuse, while the device serves that message again and
// again. The device copies each message once and uses only the copy: every message it delivers
// has exactly the 16 payload bytes that follow the header and goes to the endpoint; the rest are
// counted (bad length, unknown destination), never read past the buffer, never a device reset.
// Deno only (a Web Worker). 100 000 each way, within 4 000 000 sends (the racer may show one
// value far more often than the other); with 5 000 a deliberate second fetch of `len` went
// unnoticed on a loaded 2-core machine, with 100 000 it was caught in three runs of three.

import assert from "node:assert/strict";
import { startRacer } from "./_race.ts";
import { HDR, rpmsgRig } from "./_rpmsg_rig.ts";

const EACH_WAY = 100_000;

const RACED = [
  // len 16 / flags 0, and len 0xffff (past the 16 bytes given) / flags 0
  ["len", 12, 16, 0xffff, "badMessages"],
  // the endpoint's address, and one with no endpoint
  ["dst", 4, 0x400, 0x402, "unknownDst"],
] as const;

for (const [name, offset, good, bad, counter] of RACED) {
  Deno.test(`rpmsg race: ${name} rewritten while served is either the checked value or dropped`, async () => {
    const rig = rpmsgRig({}, true, 16, true);
    const ep = rig.device.createEndpoint("", 0x400);
    const other = rig.device.createEndpoint("", 0x401);
    let delivered = 0;
    const wrong: string[] = [];
    ep.onMessage((m) => {
      if (m.data.length === 16 && m.data.every((b, i) => b === i) && m.src === 1024) delivered++;
      else wrong.push(`${m.src} ${m.data.length}`);
    });
    other.onMessage((m) => wrong.push(`to 0x401 from ${m.src}`));
    const buf = rig.alloc.alloc(HDR + 16, 16);
    rig.memory.write(
      buf,
      rig.message({ src: 1024, dst: 0x400 }, Uint8Array.from({ length: 16 }, (_, i) => i)),
    );
    const racer = await startRacer(rig.buffer as SharedArrayBuffer, [
      { addr: buf + offset, a: good, b: bad },
    ]);
    let sent = 0;
    try {
      while (
        rig.resets.length === 0 && sent < 4_000_000 &&
        (delivered < EACH_WAY || rig.device[counter] < EACH_WAY)
      ) {
        rig.sendAt(buf, HDR + 16);
        sent++;
      }
    } finally {
      await racer.stop();
    }
    assert.deepEqual(rig.resets, []);
    assert.deepEqual(wrong, []);
    assert.ok(delivered >= EACH_WAY && rig.device[counter] >= EACH_WAY, `${delivered} delivered`);
    assert.equal(delivered + rig.device[counter], sent);
  });
}
