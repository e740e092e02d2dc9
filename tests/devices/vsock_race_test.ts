// virtio-vsock against a racing writer: a worker keeps rewriting the `len` and `src_cid`
// of a tx packet's header (between the right values and ones the device must refuse)
// while the device serves that packet again and again. The device copies each header
// once and uses only the copy: every packet it passes on carries exactly the 16 bytes that
// follow the header and comes from guest_cid; the rest are dropped, never read past the
// buffer, never a device reset. Deno only (a Web Worker).

import assert from "node:assert/strict";
import type { VsockPacket } from "../../src/devices/vsock/connection.ts";
import { VirtioVsockHdr } from "../../src/generated/devices/vsock.ts";
import { startRacer } from "./_race.ts";
import { GUEST_CID, vsockRig } from "./_vsock_rig.ts";

const EACH_WAY = 5_000;

const RACED = [
  ["len", VirtioVsockHdr.OFFSETS.len, 16, 0x7ffffff0],
  ["src_cid", VirtioVsockHdr.OFFSETS.srcCid, GUEST_CID, GUEST_CID + 1],
] as const;

for (const [name, offset, good, bad] of RACED) {
  Deno.test(`vsock race: ${name} rewritten while served is either the checked value or dropped`, async () => {
    const rig = vsockRig();
    const wrong: VsockPacket[] = []; // packets passed on that are neither outcome
    let rw = 0;
    let invalid = 0;
    const ep = rig.device.endpoint;
    const receive = ep.receive.bind(ep);
    ep.receive = (p) => {
      if (p.op === 5 && p.data.length === 16 && p.srcCid === GUEST_CID) rw++;
      else if (p.op === 0 && p.data.length === 0 && p.srcCid === GUEST_CID) invalid++;
      else wrong.push(p);
      receive(p);
    };
    const buf = rig.alloc.alloc(VirtioVsockHdr.SIZE + 16, 16);
    // RW for no connection: each accepted one is answered with RST, which is fine here.
    rig.writeHdr(buf, { op: 5, len: 16 });
    const racer = await startRacer(rig.sab, [{ addr: buf + offset, a: good, b: bad }]);
    let sent = 0;
    try {
      while (
        rig.resets.length === 0 && sent < 1_000_000 &&
        (rw < EACH_WAY || rig.device.droppedPackets < EACH_WAY)
      ) {
        rig.sendRaw(buf, VirtioVsockHdr.SIZE + 16);
        sent++;
        if (sent % 32 === 0) rig.received(); // give the RSTs somewhere to go
      }
    } finally {
      await racer.stop();
    }
    assert.deepEqual(rig.resets, []);
    assert.deepEqual(wrong, []);
    assert.ok(rw >= EACH_WAY && rig.device.droppedPackets >= EACH_WAY, `${rw} passed on`);
    // A bad len from guest_cid is dropped and reported on as op 0 (INVALID), so the
    // connection layer answers RST; it carries no data.
    assert.equal(rw + rig.device.droppedPackets, sent);
    assert.ok(invalid <= rig.device.droppedPackets);
  });
}
