// virtio-net: two devices joined back to back, each driven by the net driver
// over MMIO and over PCI: frames both ways, mergeable and single receive
// buffers, checksum and segmentation offloads through virtio_net_hdr, link
// status, every control command and hostile buffers. The UDP backend (left out
// of the npm build) is tested in net_udp_test.ts.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { VirtioBus } from "../../src/bus.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import {
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_VLAN,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_OK,
} from "../../src/generated/devices/net.ts";
import type { GuestMemory } from "../../src/memory.ts";
import {
  completeChecksum,
  connectBackToBack,
  foldChecksum,
  NET_DRIVER_FEATURES,
  type NetBackend,
  type NetDeviceOptions,
  type NetDriverOptions,
  onesSum,
  segmentTcp,
} from "../../src/devices/net/mod.ts";
import { DeviceError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { MAIN_KINDS, type MainKind } from "../transport/_kinds.ts";
import { attach, netBus, type Side, tcp4, tcpChecksumOk } from "./_net_rig.ts";
import {
  buildFrame,
  type FrameSpec,
  ipv4ChecksumOk,
  l4ChecksumOk,
  rfc1071,
  RFC1071_VECTORS,
} from "./_inet_ref.ts";

interface Pair {
  a: Side;
  b: Side;
  bus: VirtioBus;
  memory: GuestMemory;
  logs: string[];
}

async function pair(
  kind: MainKind,
  opts: {
    a?: NetDeviceOptions;
    b?: NetDeviceOptions;
    da?: NetDriverOptions;
    db?: NetDriverOptions;
  } = {},
): Promise<Pair> {
  const { memory, bus, logs } = netBus();
  const [l, r] = connectBackToBack();
  const a = await attach(
    bus,
    memory,
    logs,
    kind,
    l,
    { mac: "52:54:00:00:00:0a", ...opts.a },
    opts.da ?? {},
  );
  const b = await attach(
    bus,
    memory,
    logs,
    kind,
    r,
    { mac: "52:54:00:00:00:0b", ...opts.b },
    opts.db ?? {},
  );
  return { a, b, bus, memory, logs };
}

/** An Ethernet frame from `src` to `dst` with `len` bytes in all, payload a counting pattern. */
function ether(dst: Uint8Array, src: Uint8Array, len = 64, type = 0x88b5): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  for (let i = 14; i < len; i++) f[i] = i & 0xff;
  return f;
}

const mac = (s: string) => Uint8Array.from(s.split(":"), (p) => parseInt(p, 16));

for (const kind of MAIN_KINDS) {
  Deno.test(`net/${kind}: frames both ways, MAC and link from config`, async () => {
    const { a, b } = await pair(kind);
    assert.equal(a.nic.macString, "52:54:00:00:00:0a");
    assert.equal(b.nic.macString, "52:54:00:00:00:0b");
    assert.ok(a.nic.linkUp && a.nic.hasControlQueue);
    const f1 = ether(b.nic.mac, a.nic.mac, 60);
    const f2 = ether(a.nic.mac, b.nic.mac, 1514);
    await a.nic.send(f1);
    await b.nic.send(f2);
    assert.equal(b.frames.length, 1);
    assert.deepEqual(b.frames[0].data, f1);
    assert.equal(b.frames[0].numBuffers, 1);
    assert.deepEqual(a.frames[0].data, f2);
    // Many in flight at once.
    const all = [];
    for (let i = 0; i < 600; i++) all.push(a.nic.send(ether(b.nic.mac, a.nic.mac, 60 + (i % 200))));
    await Promise.all(all);
    assert.equal(b.frames.length, 601);
    assert.equal(b.frames[600].data.length, 60 + (599 % 200));
  });

  Deno.test(`net/${kind}: mergeable buffers spread a big frame (num_buffers)`, async () => {
    const { a, b } = await pair(kind, { db: { rxBufferSize: 1536 } });
    const f = ether(b.nic.mac, a.nic.mac, 9000);
    await a.nic.send(f);
    assert.equal(b.frames.length, 1);
    assert.equal(b.frames[0].numBuffers, Math.ceil((9000 + 12) / 1536));
    assert.deepEqual(b.frames[0].data, f);
  });

  Deno.test(`net/${kind}: without MRG_RXBUF one buffer per frame, num_buffers 1`, async () => {
    // Without GUEST_TSO the buffers are MTU sized (5.1.6.3.1), so a jumbo frame cannot fit.
    const features = NET_DRIVER_FEATURES.filter((n) =>
      n !== VIRTIO_NET_F_MRG_RXBUF && n !== 7 && n !== 8
    );
    const { a, b } = await pair(kind, { db: { features } });
    assert.ok(!b.dev.hasFeature(VIRTIO_NET_F_MRG_RXBUF));
    const f = ether(b.nic.mac, a.nic.mac, 1514);
    await a.nic.send(f);
    assert.equal(b.frames[0].numBuffers, 1);
    assert.deepEqual(b.frames[0].data, f);
    // A frame bigger than a buffer is dropped, and the next one still arrives.
    await a.nic.send(ether(b.nic.mac, a.nic.mac, 8000));
    await a.nic.send(f);
    assert.equal(b.frames.length, 2);
    assert.equal(b.device.stats.rxDropped, 1);
  });

  Deno.test(`net/${kind}: partial checksums carried or completed`, async () => {
    // b takes NEEDS_CSUM as is; c (no GUEST_CSUM) gets a complete checksum.
    const noCsum = NET_DRIVER_FEATURES.filter((n) =>
      n !== VIRTIO_NET_F_GUEST_CSUM && n !== VIRTIO_NET_F_GUEST_TSO4 && n !== 7 && n !== 9
    );
    for (const [db, carried] of [[{}, true], [{ features: noCsum }, false]] as const) {
      const { a, b } = await pair(kind, { db });
      const f = tcp4(b.nic.mac, a.nic.mac, 100);
      await a.nic.send(f, { csum: { start: 34, offset: 16 } });
      const got = b.frames[0];
      if (carried) {
        assert.equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert.equal(got.csumStart, 34);
        assert.equal(got.csumOffset, 16);
        assert.deepEqual(got.data, f);
        const done = got.data.slice();
        completeChecksum(done, 34, 16);
        assert.ok(tcpChecksumOk(done));
      } else {
        assert.equal(got.flags, 0); // 5.1.6.4.1
        assert.ok(tcpChecksumOk(got.data));
        assert.ok(!tcpChecksumOk(f));
      }
    }
  });

  Deno.test(`net/${kind}: TSO carried to a GSO driver, segmented for the others`, async () => {
    const only = NET_DRIVER_FEATURES.filter((n) => n !== VIRTIO_NET_F_GUEST_TSO4 && n !== 7);
    for (const [db, gso] of [[{}, true], [{ features: only }, false]] as const) {
      const { a, b } = await pair(kind, { db });
      const f = tcp4(b.nic.mac, a.nic.mac, 3500);
      await a.nic.send(f, {
        csum: { start: 34, offset: 16 },
        gso: { type: VIRTIO_NET_HDR_GSO_TCPV4, size: 1000, hdrLen: 54 },
      });
      if (gso) {
        assert.equal(b.frames.length, 1);
        assert.equal(b.frames[0].gsoType, VIRTIO_NET_HDR_GSO_TCPV4);
        assert.equal(b.frames[0].gsoSize, 1000);
        assert.deepEqual(b.frames[0].data, f);
      } else {
        assert.equal(b.frames.length, 4);
        const payload: number[] = [];
        for (const [i, s] of b.frames.entries()) {
          assert.equal(s.gsoType, 0);
          assert.ok(tcpChecksumOk(s.data), `segment ${i} checksum`);
          assert.ok(ipv4ChecksumOk(s.data, 14), `segment ${i} IP checksum`);
          const seq = new DataView(s.data.buffer).getUint32(38);
          assert.equal(seq, 4096 + 1000 * i);
          assert.equal(s.data[47] & 0x08, i === 3 ? 0x08 : 0, "PSH on the last only");
          payload.push(...s.data.subarray(54));
        }
        assert.deepEqual(Uint8Array.from(payload), f.subarray(54));
      }
    }
  });

  Deno.test(`net/${kind}: link status change raises a config interrupt; frames dropped while down`, async () => {
    const { a, b } = await pair(kind);
    const seen: boolean[] = [];
    b.nic.onLinkChange((up) => seen.push(up));
    b.device.setLinkUp(false);
    assert.deepEqual(seen, [false]);
    assert.equal(b.nic.linkUp, false);
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, 0);
    b.device.setLinkUp(true);
    assert.deepEqual(seen, [false, true]);
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, 1);
  });

  Deno.test(`net/${kind}: receive modes and the MAC table filter`, async () => {
    const { a, b } = await pair(kind);
    const send = (dst: string) => a.nic.send(ether(mac(dst), a.nic.mac));
    const count = () => b.frames.length;
    // Promiscuous is off once CTRL_RX is negotiated: only our MAC and broadcast.
    await send("52:54:00:00:00:99");
    assert.equal(count(), 0);
    await send("ff:ff:ff:ff:ff:ff");
    await send(b.nic.macString);
    assert.equal(count(), 2);
    await b.nic.setPromisc(true);
    await send("52:54:00:00:00:99");
    assert.equal(count(), 3);
    await b.nic.setPromisc(false);
    await b.nic.setMacTable(["52:54:00:00:00:99"], ["01:00:5e:00:00:01"]);
    assert.deepEqual(b.device.macTable, {
      unicast: ["52:54:00:00:00:99"],
      multicast: ["01:00:5e:00:00:01"],
    });
    await send("52:54:00:00:00:99");
    await send("01:00:5e:00:00:01");
    await send("01:00:5e:00:00:02");
    assert.equal(count(), 5);
    await b.nic.setAllMulti(true);
    await send("01:00:5e:00:00:02");
    assert.equal(count(), 6);
    await b.nic.setNoMulti(true);
    await send("01:00:5e:00:00:01");
    assert.equal(count(), 6);
    await b.nic.setNoBcast(true);
    await send("ff:ff:ff:ff:ff:ff");
    assert.equal(count(), 6);
    await b.nic.setAllUni(true);
    await send("52:54:00:00:00:77");
    assert.equal(count(), 7);
    await b.nic.setNoUni(true);
    await send(b.nic.macString);
    assert.equal(count(), 7);
    assert.deepEqual(b.device.rxMode, {
      promisc: false,
      allMulti: true,
      allUni: true,
      noMulti: true,
      noUni: true,
      noBcast: true,
    });
  });

  Deno.test(`net/${kind}: VLAN filter, MAC_ADDR_SET, guest offloads`, async () => {
    const { a, b } = await pair(kind);
    const tagged = (vid: number) => {
      const f = ether(b.nic.mac, a.nic.mac, 64, 0x8100);
      f[14] = vid >> 8;
      f[15] = vid & 0xff;
      return f;
    };
    await a.nic.send(tagged(5));
    assert.equal(b.frames.length, 0); // CTRL_VLAN negotiated: empty table drops tagged frames
    await b.nic.addVlan(5);
    assert.ok(b.device.hasVlan(5));
    await a.nic.send(tagged(5));
    await a.nic.send(tagged(6));
    assert.equal(b.frames.length, 1);
    await b.nic.delVlan(5);
    await a.nic.send(tagged(5));
    assert.equal(b.frames.length, 1);
    await assert.rejects(
      b.nic.addVlan(4096),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_REFUSED", /refused/),
    );

    await b.nic.setMac("02:00:00:00:00:42");
    assert.equal(b.device.macString, "02:00:00:00:00:42");
    assert.equal(b.nic.macString, "02:00:00:00:00:42");
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, 2);

    // Turn off GUEST_CSUM: partial checksums now arrive completed.
    await b.nic.setGuestOffloads(0n);
    await a.nic.send(tcp4(b.nic.mac, a.nic.mac, 10), { csum: { start: 34, offset: 16 } });
    assert.equal(b.frames[2].flags, 0);
    assert.ok(tcpChecksumOk(b.frames[2].data));
    // MAC is not an offload.
    await assert.rejects(
      b.nic.setGuestOffloads(1n << 5n),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_REFUSED", /refused/),
    );
    await b.nic.setGuestOffloads(1n << BigInt(VIRTIO_NET_F_GUEST_CSUM));
  });

  Deno.test(`net/${kind}: multiqueue pairs and steering`, async () => {
    const { a, b } = await pair(kind, { a: { maxQueuePairs: 4 }, b: { maxQueuePairs: 4 } });
    assert.equal(a.nic.queuePairs, 4);
    assert.equal(a.device.queuePairs, 4);
    await assert.rejects(
      a.nic.setQueuePairs(5),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_REFUSED", /refused/),
    );
    await assert.rejects(
      a.nic.command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, Uint8Array.of(0, 0)).then(
        (ack) => {
          if (ack !== VIRTIO_NET_OK) throw new Error("refused");
        },
      ),
      /refused/,
    );
    // Frames of one flow sent on tx queue 2 come back to b on some queue, and b's replies go to a's queue 2.
    const f = tcp4(b.nic.mac, a.nic.mac, 10);
    await a.nic.send(f, { queue: 2 });
    assert.equal(b.frames.length, 1);
    const back = tcp4(a.nic.mac, b.nic.mac, 10);
    back.set([10, 0, 0, 2], 26);
    back.set([10, 0, 0, 1], 30);
    back.set([0x00, 0x50, 0x30, 0x39], 34);
    await b.nic.send(back, { queue: b.frames[0].queue });
    assert.equal(a.frames[0].queue, 2);
    await a.nic.setQueuePairs(1);
    await b.nic.send(back);
    assert.equal(a.frames[1].queue, 0);
    assert.throws(
      () => a.nic.trySend(f, { queue: 2 }),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_PAIR", /not in use/),
    );
  });

  Deno.test(`net/${kind}: announce is acked and clears VIRTIO_NET_S_ANNOUNCE`, async () => {
    const { b } = await pair(kind);
    assert.ok(b.device.announce());
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(b.nic.announces, 1);
    assert.equal(b.device.announcePending, false);
  });

  Deno.test(`net/${kind}: bad control commands get VIRTIO_NET_ERR, device stays usable`, async () => {
    const { a, b } = await pair(kind);
    const n = b.nic;
    assert.equal(await n.command(99, 0), VIRTIO_NET_ERR); // unknown class
    assert.equal(await n.command(VIRTIO_NET_CTRL_RX, 42, Uint8Array.of(1)), VIRTIO_NET_ERR);
    assert.equal(await n.command(VIRTIO_NET_CTRL_RX, 0, Uint8Array.of(1, 1)), VIRTIO_NET_ERR);
    assert.equal(await n.command(VIRTIO_NET_CTRL_RX, 0, Uint8Array.of(2)), VIRTIO_NET_ERR);
    assert.equal(await n.command(VIRTIO_NET_CTRL_VLAN, 0, Uint8Array.of(1)), VIRTIO_NET_ERR);
    // A MAC table whose counts run past the data.
    assert.equal(
      await n.command(
        VIRTIO_NET_CTRL_MAC,
        VIRTIO_NET_CTRL_MAC_TABLE_SET,
        Uint8Array.of(0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0),
      ),
      VIRTIO_NET_ERR,
    );
    assert.equal(
      await n.command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK + 1),
      VIRTIO_NET_ERR,
    );
    assert.equal(b.device.stats.ctrlErr, 7);
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, 1);
    assert.equal(b.dev.needsReset, false);
  });

  Deno.test(`net/${kind}: hostile transmit buffers are dropped, not crashed on`, async () => {
    const { a, b, memory } = await pair(kind);
    const tx = a.dev.vqs[1];
    const { dma } = a.dev.dmaContext;
    const buf = dma.alloc(256, 8);
    // Shorter than the header.
    tx.addSgs([{ addr: buf, len: 8 }], [], 100000);
    // NEEDS_CSUM with offsets past the end.
    memory.bytes(buf, 256).fill(0);
    memory.writeUint8(buf, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    memory.writeUint16(buf + 6, 200);
    memory.writeUint16(buf + 8, 100);
    tx.addSgs([{ addr: buf, len: 12 + 64 }], [], 100001);
    tx.kick();
    assert.equal(a.device.stats.txErrors, 2);
    assert.equal(b.frames.length, 0);
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, 1);
    assert.equal(a.dev.needsReset, false);
  });

  Deno.test(`net/${kind}: a control buffer without an ack byte sets DEVICE_NEEDS_RESET`, async () => {
    const { a } = await pair(kind);
    const ctrl = a.dev.vqs[2];
    const buf = a.dev.dmaContext.dma.alloc(8, 8);
    ctrl.addSgs([{ addr: buf, len: 3 }], [], { addr: buf, ackAt: buf, resolve: () => {} });
    ctrl.kick();
    assert.ok(a.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET);
  });

  Deno.test(`net/${kind}: fuzzed control commands and transmit headers never break the device`, async () => {
    const { a, b, memory, logs } = await pair(kind);
    const tx = a.dev.vqs[1];
    const buf = a.dev.dmaContext.dma.alloc(2048, 8);
    let token = 1 << 20;
    const sentBefore = a.device.stats.txFrames + a.device.stats.txErrors;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: 1600 }),
        async (cls, cmd, data, hdr, len) => {
          const ack = await a.nic.command(cls, cmd, data);
          assert.ok(ack === VIRTIO_NET_OK || ack === VIRTIO_NET_ERR);
          memory.write(buf, hdr);
          tx.addSgs([{ addr: buf, len: Math.min(12 + len, 2048) }], [], token++);
          tx.kick();
          assert.equal(a.dev.needsReset, false);
        },
      ),
      { numRuns: 150, seed: 27 },
    );
    // Every fuzzed transmit buffer was consumed (sent or counted as an error),
    // the device never asked for a reset, and it still works both ways:
    // control commands succeed (no .catch: a refusal fails the test) and
    // frames pass from a to b and back.
    assert.equal(a.device.stats.txFrames + a.device.stats.txErrors - sentBefore, 150);
    assert.equal(a.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0);
    assert.equal(a.dev.getStatus() & DeviceStatus.DRIVER_OK, DeviceStatus.DRIVER_OK);
    await a.nic.setPromisc(true);
    await b.nic.setPromisc(true);
    const before = b.frames.length;
    await a.nic.send(ether(b.nic.mac, a.nic.mac));
    assert.equal(b.frames.length, before + 1);
    const back = a.frames.length;
    await b.nic.send(ether(a.nic.mac, b.nic.mac));
    assert.equal(a.frames.length, back + 1);
    assert.deepEqual(logs.filter((l) => /needs reset|error/i.test(l)), []);
  });

  Deno.test(`net/${kind}: removal rejects every send (in the ring or waiting for room) and frees the driver's memory`, async () => {
    const { memory, bus, logs, dma } = netBus();
    // A backend that takes no frame: the device holds the transmit buffers.
    const backend: NetBackend = {
      attach: () => {},
      transmit: () => false,
      offloads: { csum: false, tso4: false, tso6: false, ecn: false },
      rxReady: () => {},
      close: () => {},
    };
    const idle = dma.bytesUsed;
    const a = await attach(bus, memory, logs, kind, backend, {}, {});
    const tx = a.dev.vqs[1];
    const outcome = (p: Promise<void>) => p.then(() => "resolved", (e: Error) => e.message);
    const inRing: Promise<string>[] = [];
    while (tx.numFree > 0) inRing.push(outcome(a.nic.send(ether(a.nic.mac, a.nic.mac))));
    const waiting = [0, 1, 2].map(() => outcome(a.nic.send(ether(a.nic.mac, a.nic.mac))));
    await new Promise((r) => setTimeout(r, 0)); // let every pending task run
    assert.ok(inRing.length > 0);
    assert.equal(a.device.stats.txFrames, 0, "the backend took nothing");
    assert.ok(dma.bytesUsed > idle);
    await bus.removeDevice(a.dev);
    assert.equal(a.driver.interfaceOf(a.dev), undefined);
    // a frame still in the ring was never known to be sent: its send rejects, as do the waiting
    for (const w of await Promise.all(inRing)) assert.match(w, /removed/);
    for (const w of await Promise.all(waiting)) assert.match(w, /removed/);
    assert.equal(dma.bytesUsed, idle, "every byte the driver and its queues took is freed");
    await assert.rejects(
      a.nic.send(new Uint8Array(60)),
      coded(DeviceError, "ERR_VIRTIO_DEVICE_NET_GONE", /removed/),
    );
  });
}

Deno.test("net: the async iterator yields frames in order", async () => {
  const { a, b } = await pair("mmio-v2");
  b.nic.onFrame(undefined);
  for (let i = 0; i < 3; i++) await a.nic.send(ether(b.nic.mac, a.nic.mac, 60 + i));
  const it = b.nic.frames();
  for (let i = 0; i < 3; i++) {
    const r = await it.next();
    assert.equal(r.done, false);
    assert.equal(r.value?.data.length, 60 + i);
  }
});

Deno.test("net: the checksum reference gives RFC 1071's published values", () => {
  for (const v of RFC1071_VECTORS) {
    assert.equal(rfc1071(Uint8Array.from(v.bytes)), v.checksum, v.what);
  }
});

Deno.test("net: onesSum and foldChecksum agree with RFC 1071, odd lengths and offsets too", () => {
  for (const v of RFC1071_VECTORS) {
    const b = Uint8Array.from(v.bytes);
    assert.equal(foldChecksum(onesSum(b, 0, b.length)), v.checksum, v.what);
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.nat(),
      fc.nat(),
      (data, a, b) => {
        const start = data.length === 0 ? 0 : a % (data.length + 1);
        const end = start + b % (data.length - start + 1);
        const want = rfc1071(data.subarray(start, end));
        assert.equal(foldChecksum(onesSum(data, start, end)), want, `[${start}, ${end})`);
        // a sum carried over a split at an even offset, as a pseudo header is added
        const mid = start + (((end - start) >> 1) & ~1);
        assert.equal(foldChecksum(onesSum(data, mid, end, onesSum(data, start, mid))), want);
      },
    ),
    { numRuns: 300, seed: 28 },
  );
  // many carries: every word ffff, odd and even lengths
  for (const n of [65535, 65536, 131073]) {
    const d = new Uint8Array(n).fill(0xff);
    assert.equal(foldChecksum(onesSum(d, 0, n)), rfc1071(d), `${n} bytes of ff`);
  }
});

Deno.test("net: completeChecksum fills in what RFC 1071 gives, or leaves the frame alone", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 300 }),
      (frame, start, off) => {
        const copy = frame.slice();
        const ok = completeChecksum(copy, start, off);
        if (!ok) {
          assert.ok(start >= frame.length || start + off + 2 > frame.length, "refused a fit");
          assert.deepEqual(copy, frame);
          return;
        }
        assert.ok(start + off + 2 <= frame.length);
        // the field's old value stays in the sum (it held the pseudo-header sum)
        const at = start + off;
        const want = rfc1071(frame.subarray(start));
        assert.equal((copy[at] << 8) | copy[at + 1], want);
        copy[at] = frame[at];
        copy[at + 1] = frame[at + 1];
        assert.deepEqual(copy, frame, "nothing else changed");
        assert.equal(VIRTIO_NET_HDR_F_DATA_VALID, 2); // 5.1.6: the flag the receive side sets instead
      },
    ),
    { numRuns: 300, seed: 29 },
  );
});

const frameSpec: fc.Arbitrary<FrameSpec> = fc.record({
  ip: fc.constantFrom<4 | 6>(4, 6),
  proto: fc.constantFrom<6 | 17>(6, 6, 6, 17),
  vlan: fc.boolean(),
  ipOptionWords: fc.integer({ min: 0, max: 10 }),
  tcpOptionWords: fc.integer({ min: 0, max: 10 }),
  payload: fc.uint8Array({ maxLength: 3000 }),
  seq: fc.nat({ max: 0xffffffff }),
  flags: fc.constantFrom(0x10, 0x18, 0x19, 0x98, 0x99, 0x11),
  ipId: fc.nat({ max: 0xffff }),
});

function gsoMeta(ip: 4 | 6, mss: number) {
  return {
    flags: 0,
    gsoType: ip === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
    hdrLen: 0,
    gsoSize: mss,
    csumStart: 0,
    csumOffset: 0,
  };
}

Deno.test("net: segmentTcp cuts IPv4 and IPv6 TCP frames into valid segments (UDP refused)", () => {
  let segmented = 0;
  fc.assert(
    fc.property(frameSpec, fc.integer({ min: 1, max: 1500 }), (spec, mss) => {
      const l = buildFrame(spec);
      const { frame, ip, l4, headers } = l;
      const scratch = new Uint8Array(headers + mss);
      const segs: Uint8Array[] = [];
      const n = segmentTcp(frame, gsoMeta(spec.ip, mss), scratch, (s) => segs.push(s.slice()));
      if (spec.proto === 17) {
        assert.equal(n, -1, "a UDP frame is not a TCP GSO frame");
        assert.equal(segs.length, 0);
        return;
      }
      const payload = spec.payload.length;
      const want = Math.max(1, Math.ceil(payload / mss));
      assert.equal(n, want, "segment count");
      assert.equal(segs.length, want);
      segmented++;
      const joined: number[] = [];
      segs.forEach((g, i) => {
        const first = i === 0, last = i === want - 1;
        const len = last ? payload - mss * (want - 1) : mss;
        assert.equal(g.length, headers + len, `segment ${i} length`);
        // Ethernet and addresses as in the frame
        assert.deepEqual(g.subarray(0, ip), frame.subarray(0, ip));
        const gl = { frame: g, ip, l4, headers };
        if (spec.ip === 4) {
          assert.equal((g[ip + 2] << 8) | g[ip + 3], headers - ip + len, "IPv4 total length");
          assert.equal((g[ip + 4] << 8) | g[ip + 5], (spec.ipId + i) & 0xffff, "IPv4 id");
          assert.ok(ipv4ChecksumOk(g, ip), `segment ${i} IPv4 header checksum`);
          assert.deepEqual(
            g.subarray(ip + 12, l4),
            frame.subarray(ip + 12, l4),
            "addresses, options",
          );
        } else {
          assert.equal((g[ip + 4] << 8) | g[ip + 5], headers - l4 + len, "IPv6 payload length");
          assert.deepEqual(g.subarray(ip + 6, l4), frame.subarray(ip + 6, l4), "IPv6 addresses");
        }
        const seq = new DataView(g.buffer, g.byteOffset).getUint32(l4 + 4);
        assert.equal(seq, (spec.seq + mss * i) % 0x100000000, "sequence number");
        let flags = spec.flags;
        if (!last) flags &= ~0x09; // FIN and PSH on the last segment only
        if (!first) flags &= ~0x80; // CWR on the first only
        assert.equal(g[l4 + 13], flags, `segment ${i} flags`);
        assert.deepEqual(
          g.subarray(l4 + 20, headers),
          frame.subarray(l4 + 20, headers),
          "TCP options",
        );
        assert.ok(l4ChecksumOk(gl, spec.ip, 6), `segment ${i} TCP checksum`);
        joined.push(...g.subarray(headers));
      });
      assert.deepEqual(Uint8Array.from(joined), spec.payload, "the payload, in order");
    }),
    { numRuns: 200, seed: 30 },
  );
  assert.ok(segmented > 50, `only ${segmented} frames reached segmentation`);
});

Deno.test("net: segmentTcp refuses frames that lie about their layout, and emits nothing", () => {
  type Lie =
    | "truncated"
    | "version"
    | "ihl"
    | "doff"
    | "udp"
    | "ethertype"
    | "gso-type"
    | "mss0";
  let refused = 0;
  fc.assert(
    fc.property(
      frameSpec.map((s) => ({ ...s, proto: 6 as const })),
      fc.constantFrom<Lie>(
        "truncated",
        "version",
        "ihl",
        "doff",
        "udp",
        "ethertype",
        "gso-type",
        "mss0",
      ),
      fc.nat(),
      (spec, lie, r) => {
        const { frame: f0, ip, l4, headers } = buildFrame(spec);
        let frame = f0;
        const meta = gsoMeta(spec.ip, 536);
        switch (lie) {
          case "truncated": // cut inside the headers
            frame = f0.subarray(0, r % headers);
            break;
          case "version":
            frame[ip] = (frame[ip] & 0x0f) | (spec.ip === 4 ? 0x60 : 0x40);
            break;
          case "ihl": // IPv4: under 5 words; IPv6 has none, so break its next header
            if (spec.ip === 4) frame[ip] = 0x40 | (r % 5);
            else frame[ip + 6] = 17;
            break;
          case "doff": // TCP data offset under 5 words, or past the frame
            frame[l4 + 12] = (r % 2 === 0 ? r % 5 : 15) << 4;
            if (r % 2 === 1) frame = frame.subarray(0, Math.min(frame.length, l4 + 59));
            break;
          case "udp":
            frame[spec.ip === 4 ? ip + 9 : ip + 6] = 17;
            break;
          case "ethertype":
            frame[ip - 2] = 0x08;
            frame[ip - 1] = 0x06; // ARP
            break;
          case "gso-type": // an IPv4 frame declared TCPV6, and the other way round
            meta.gsoType = spec.ip === 4 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
            break;
          case "mss0":
            meta.gsoSize = 0;
            break;
        }
        let emitted = 0;
        const n = segmentTcp(frame, meta, new Uint8Array(4096), () => emitted++);
        assert.equal(n, -1, `${lie}: refused`);
        assert.equal(emitted, 0, `${lie}: nothing emitted`);
        refused++;
      },
    ),
    { numRuns: 300, seed: 31 },
  );
  assert.equal(refused, 300);
});
