// virtio-caif: our driver (Linux caif_virtio's part) against the modem model over MMIO and PCI.
// Expected framing comes from Linux's caif_virtio.c (headroom + frame + tailroom in each buffer,
// each downlink descriptor one frame) and is checked in guest memory, not through the code under
// test.

import assert from "node:assert/strict";
import {
  CaifDevice,
  type CaifDeviceOptions,
  caifDriver,
  type CaifDriverOptions,
  type CaifLink,
} from "../../src/devices/caif/mod.ts";
import { ArgumentError } from "../../src/errors.ts";
import { VirtqDesc } from "../../src/generated/virtqueue.ts";
import { coded } from "./_coded.ts";
import { type Kind, KINDS, MAIN_KINDS } from "../transport/_kinds.ts";
import { rig } from "./_rig.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function setup(kind: Kind, opts: CaifDeviceOptions = {}, dopts: CaifDriverOptions = {}) {
  const uplink: Uint8Array[] = [];
  const device = new CaifDevice({ onFrame: (f) => uplink.push(f), ...opts });
  const r = rig(kind, device);
  const driver = caifDriver(dopts);
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-caif", r.logs.join("; "));
  const link: CaifLink = await driver.nextLink();
  return { r, device, dev, link, uplink, driver };
}

const odd = { headroom: 6, tailroom: 10, mtu: 200 };

// No pci-legacy: CAIF has no transitional PCI device id (4.1.2.3), so a legacy function cannot
// carry it.
for (const kind of KINDS.filter((k) => k !== "pci-legacy")) {
  Deno.test(`caif ${kind}: frames go both ways with the configured headroom and tailroom`, async () => {
    const t = await setup(kind, { uplink: odd });
    assert.deepEqual({ ...t.link.uplink }, odd, "the driver read the device's config");
    assert.deepEqual({ ...t.link.downlink }, odd, "downlink defaults to the uplink framing");
    await t.link.send(te.encode("uplink one"));
    await t.link.send(te.encode("uplink two"));
    assert.deepEqual(t.uplink.map((f) => td.decode(f)), ["uplink one", "uplink two"]);
    assert.ok(t.device.send(te.encode("downlink")));
    assert.equal(td.decode(await t.link.nextFrame()), "downlink");
    assert.equal(t.device.downlinkBuffers, 64);
    assert.deepEqual(t.r.logs, []);
  });
}

for (const kind of MAIN_KINDS) {
  Deno.test(`caif ${kind}: a downlink buffer in guest memory is headroom, frame, tailroom`, async () => {
    const t = await setup(kind, { uplink: odd });
    const got: Uint8Array[] = [];
    // Hold frames in the ring: no callback runs while the link's ring is not polled.
    t.link.onFrame = (f) => got.push(f);
    t.device.send(te.encode("abc"));
    const { desc, size } = t.link.vrh.addresses;
    const d = new VirtqDesc(t.r.memory.view(desc, 16 * size));
    // The device published one descriptor; find it by its length (6 + 3 + 10).
    let found = -1;
    for (let i = 0; i < size; i++) if (d.at(16 * i).len === 19) found = i;
    assert.ok(found >= 0, "a 19-byte descriptor");
    const bytes = t.r.memory.bytes(d.at(16 * found).addr, 19);
    assert.deepEqual([...bytes.subarray(0, 6)], [0, 0, 0, 0, 0, 0]);
    assert.equal(td.decode(bytes.subarray(6, 9)), "abc");
    assert.deepEqual([...bytes.subarray(9)], new Array(10).fill(0));
    assert.deepEqual(got.map((f) => td.decode(f)), ["abc"]);
  });

  Deno.test(`caif ${kind}: an uplink buffer's headroom and tailroom are cut off by the device`, async () => {
    const t = await setup(kind, { uplink: odd });
    // A raw buffer as Linux builds it: garbage in headroom and tailroom.
    const raw = new Uint8Array(6 + 5 + 10).fill(0xee);
    raw.set(te.encode("hello"), 6);
    await t.link.vq.request(raw, 0);
    assert.deepEqual(t.uplink.map((f) => td.decode(f)), ["hello"]);
  });

  Deno.test(`caif ${kind}: separate downlink framing when the driver reads it`, async () => {
    const t = await setup(kind, { uplink: odd, downlink: { headroom: 0, tailroom: 4, mtu: 64 } });
    assert.deepEqual({ ...t.link.downlink }, { headroom: 0, tailroom: 4, mtu: 64 });
    t.device.send(new Uint8Array(60).fill(7));
    assert.deepEqual([...await t.link.nextFrame()], new Array(60).fill(7));
    assert.throws(
      () => t.device.send(new Uint8Array(61)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_FRAME"),
    );
  });

  Deno.test(`caif ${kind}: more frames than lent buffers wait in the backlog and arrive in order`, async () => {
    const t = await setup(kind, {}, { downlinkSize: 4 });
    const n = 50;
    for (let i = 0; i < n; i++) assert.ok(t.device.send(te.encode(`f${i}`)));
    const got: string[] = [];
    for (let i = 0; i < n; i++) got.push(td.decode(await t.link.nextFrame()));
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `f${i}`));
    assert.equal(t.device.backlog, 0);
    assert.equal(t.device.downlinkFrames, n);
  });

  Deno.test(`caif ${kind}: frames sent before the host is up wait for it`, async () => {
    const device = new CaifDevice({ backlog: 2 });
    assert.ok(device.send(te.encode("early 1")));
    assert.ok(device.send(te.encode("early 2")));
    assert.equal(device.send(te.encode("one too many")), false);
    const r = rig(kind, device);
    const driver = caifDriver();
    await r.bus.registerDriver(driver);
    await r.bus.addDevice(r.transport);
    const link = await driver.nextLink();
    assert.equal(td.decode(await link.nextFrame()), "early 1");
    assert.equal(td.decode(await link.nextFrame()), "early 2");
  });

  Deno.test(`caif ${kind}: sizes at the MTU pass, one byte more is refused on both ends`, async () => {
    const t = await setup(kind, { uplink: odd });
    const max = 200 - 16;
    assert.equal(t.link.maxFrame, max);
    assert.equal(t.device.maxDownlinkFrame, max);
    await t.link.send(new Uint8Array(max).fill(1));
    assert.equal(t.uplink[0].length, max);
    await assert.rejects(
      t.link.send(new Uint8Array(max + 1)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_FRAME"),
    );
    await assert.rejects(
      t.link.send(new Uint8Array(0)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_FRAME"),
    );
    t.device.send(new Uint8Array(max).fill(2));
    assert.equal((await t.link.nextFrame()).length, max);
    assert.throws(
      () => t.device.send(new Uint8Array(0)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_FRAME"),
    );
  });

  Deno.test(`caif ${kind}: after a reset the backlog waits for the next driver`, async () => {
    const t = await setup(kind, {}, { downlinkSize: 2 });
    t.link.detach();
    assert.equal(t.device.downlinkBuffers, 0);
    assert.ok(t.device.send(te.encode("while down")));
    assert.equal(t.device.backlog, 1);
    await t.r.bus.removeDevice(t.dev);
    const dev = await t.r.bus.addDevice(t.r.transport);
    assert.equal(dev.driver?.name, "virtio-caif");
    const link = await t.driver.nextLink();
    assert.equal(td.decode(await link.nextFrame()), "while down");
    assert.equal(t.device.clearBacklog(), 0);
  });
}

Deno.test("caif options: bad framing and sizes are ArgumentErrors", () => {
  for (
    const uplink of [
      { headroom: 10, tailroom: 10, mtu: 20 },
      { headroom: -1, tailroom: 0, mtu: 100 },
      { headroom: 0, tailroom: 65536, mtu: 70000 },
      { headroom: 0, tailroom: 0, mtu: (1 << 20) + 1 },
      { headroom: 0.5, tailroom: 0, mtu: 100 },
    ]
  ) {
    assert.throws(
      () => new CaifDevice({ uplink }),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_OPTION"),
    );
  }
  assert.throws(
    () => new CaifDevice({ backlog: -1 }),
    coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_CAIF_OPTION"),
  );
  assert.throws(
    () => new CaifDevice({ queueSize: 0 }),
    coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_QUEUE_SIZE"),
  );
});

Deno.test("caif: config bytes are Linux's virtio_caif_config, little-endian", () => {
  const d = new CaifDevice({
    uplink: { headroom: 0x102, tailroom: 0x304, mtu: 0x5060 },
    downlink: odd,
  });
  const le = (o: number, w: 1 | 2 | 4) => d.readConfig(o, w);
  assert.equal(le(0, 2), 0x102);
  assert.equal(le(2, 2), 0x304);
  assert.equal(le(4, 4), 0x5060);
  assert.equal(le(12, 2), 6);
  assert.equal(le(14, 2), 10);
  assert.equal(le(16, 4), 200);
  assert.equal(d.configSize, 32);
  assert.equal(d.deviceId, 12);
  assert.equal(d.features & (1n << 34n), 0n, "no packed ring: vringh is split only");
});

Deno.test("caif driver: a device config with mtu not above headroom + tailroom is refused at probe", async () => {
  const device = new CaifDevice();
  device.updateConfig((c) => {
    c.uplink.mtu = 64;
  });
  const r = rig("pci-modern", device);
  const driver = caifDriver();
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver, undefined);
  assert.ok(
    r.logs.some((l) => l.includes("ERR_VIRTIO_DEVICE_CAIF_CONFIG") || l.includes("mtu 64")),
    r.logs.join("\n"),
  );
  assert.equal(driver.links.size, 0);
});
