// The edges of the register transports (issues 16 and 18): bad arguments to
// the device-side register APIs are typed errors that change nothing; the
// driver side refuses config accesses past the config and queue setups the
// device refused; a probe that found nothing is a typed error on the bus
// that takes no device index; the device side logs a cause once, not once
// per byte.

import assert from "node:assert/strict";
import { VirtioBus } from "../../src/bus.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { ArgumentError, TransportError, type VirtioError } from "../../src/errors.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import { VirtioMmio } from "../../src/generated/mmio.ts";
import { VirtioPciCommonCfg } from "../../src/generated/pci.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { ConfigWidth } from "../../src/device.ts";
import { KINDS } from "./_kinds.ts";
import { rig } from "./_rig.ts";

const R = VirtioMmio.OFFSETS;
const CC = VirtioPciCommonCfg.OFFSETS;
const S = DeviceStatus;

/** `fn` throws a VirtioError of `cls` with `code`. */
function throwsCode(fn: () => unknown, cls: typeof VirtioError, code: string, what: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `${what}: ${e instanceof Error ? e.name + " " + e.message : e}`);
    assert.equal((e as VirtioError).code, code, what);
    return true;
  }, what);
}

// Widths no bus carries and offsets that are not byte addresses.
const BAD_WIDTHS = [0, -1, 3, 8, NaN, 1.5] as unknown as ConfigWidth[];
const BAD_OFFSETS = [-1, -4, 1.5, NaN, Infinity, 2 ** 53];

function pciFn() {
  const logs: string[] = [];
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const p = new PciFunction(new NullDevice({ deviceId: 4 }), memory, {
    transitional: true,
    log: (l) => logs.push(l),
  });
  p.configWrite(4, 2, 0x3);
  return { p, logs };
}

Deno.test("PCI function: bad widths, offsets, BARs and values are ArgumentErrors that change nothing", () => {
  const { p, logs } = pciFn();
  p.barWrite(4, CC.deviceStatus, 1, S.ACKNOWLEDGE);
  const config = new Uint8Array(256).map((_, i) => p.configRead(i, 1));
  logs.length = 0; // the PCI cfg access window, unset, refuses its reads
  for (const w of BAD_WIDTHS) {
    const code = "ERR_VIRTIO_ARGUMENT_WIDTH";
    throwsCode(() => p.configRead(0, w), ArgumentError, code, `configRead width ${w}`);
    throwsCode(() => p.configWrite(4, w, 0), ArgumentError, code, `configWrite width ${w}`);
    throwsCode(() => p.barRead(4, CC.deviceStatus, w), ArgumentError, code, `barRead width ${w}`);
    throwsCode(() => p.barWrite(4, CC.deviceStatus, w, 0), ArgumentError, code, `barWrite ${w}`);
    throwsCode(() => p.barRead(0, 0, w), ArgumentError, code, `legacy barRead width ${w}`);
  }
  for (const o of BAD_OFFSETS) {
    const code = "ERR_VIRTIO_ARGUMENT_OFFSET";
    throwsCode(() => p.configRead(o, 1), ArgumentError, code, `configRead offset ${o}`);
    throwsCode(() => p.configWrite(o, 2, 0), ArgumentError, code, `configWrite offset ${o}`);
    throwsCode(() => p.barRead(4, o, 1), ArgumentError, code, `barRead offset ${o}`);
    throwsCode(() => p.barWrite(4, o, 1, 0), ArgumentError, code, `barWrite offset ${o}`);
  }
  for (const bar of [-1, 6, 1.5, NaN]) {
    throwsCode(() => p.barRead(bar, 0, 4), ArgumentError, "ERR_VIRTIO_ARGUMENT_BAR", `BAR ${bar}`);
    throwsCode(() => p.barWrite(bar, 0, 4, 0), ArgumentError, "ERR_VIRTIO_ARGUMENT_BAR", `${bar}`);
  }
  const big = 1n as unknown as number;
  throwsCode(() => p.configWrite(4, 2, big), ArgumentError, "ERR_VIRTIO_ARGUMENT_VALUE", "bigint");
  throwsCode(
    () => p.barWrite(4, CC.deviceStatus, 1, big),
    ArgumentError,
    "ERR_VIRTIO_ARGUMENT_VALUE",
    "bigint",
  );
  // Nothing changed: config space, status, no log line (no guest access happened).
  assert.deepEqual(new Uint8Array(256).map((_, i) => p.configRead(i, 1)), config);
  logs.length = 0;
  assert.equal(p.barRead(4, CC.deviceStatus, 1), S.ACKNOWLEDGE);
  assert.deepEqual(logs, []);
});

Deno.test("MMIO device: bad widths, offsets and values are ArgumentErrors that change nothing", () => {
  for (const version of [1, 2] as const) {
    const logs: string[] = [];
    const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
    const m = new MmioDevice(new NullDevice(), memory, { version, log: (l) => logs.push(l) });
    m.write(R.status, 4, S.ACKNOWLEDGE);
    for (const w of BAD_WIDTHS) {
      const code = "ERR_VIRTIO_ARGUMENT_WIDTH";
      throwsCode(() => m.read(R.status, w), ArgumentError, code, `v${version} read width ${w}`);
      throwsCode(() => m.write(R.status, w, 0), ArgumentError, code, `write width ${w}`);
      throwsCode(() => m.read(0x100, w), ArgumentError, code, `config read width ${w}`);
      throwsCode(() => m.write(R.queueNotify, w, 0), ArgumentError, code, `notify width ${w}`);
    }
    for (const o of BAD_OFFSETS) {
      const code = "ERR_VIRTIO_ARGUMENT_OFFSET";
      throwsCode(() => m.read(o, 4), ArgumentError, code, `read offset ${o}`);
      throwsCode(() => m.write(o, 4, 0), ArgumentError, code, `write offset ${o}`);
    }
    const big = 0n as unknown as number;
    throwsCode(() => m.write(R.status, 4, big), ArgumentError, "ERR_VIRTIO_ARGUMENT_VALUE", "big");
    assert.equal(m.read(R.status, 4), S.ACKNOWLEDGE);
    assert.deepEqual(logs, []);
  }
});

for (const kind of KINDS) {
  Deno.test(`${kind}: config accesses past the config throw ArgumentError; nothing reaches the device`, async () => {
    const r = rig(kind);
    await r.bus.registerDriver(nullDriver({ deviceId: r.device.deviceId }));
    const dev = await r.bus.addDevice(r.transport);
    const size = r.transport.configSize;
    // The null device's config is one le64 (8 bytes); legacy PCI rounds up to BAR0's end.
    assert.ok(size !== undefined && size >= 8, `configSize ${size}`);
    const code = "ERR_VIRTIO_ARGUMENT_CONFIG_RANGE";
    throwsCode(() => dev.configSnapshot(4096), ArgumentError, code, "configSnapshot(4096)");
    throwsCode(() => dev.readConfig((c) => c.le32(4096)), ArgumentError, code, "le32(4096)");
    throwsCode(() => dev.writeConfig(size, 1, 0), ArgumentError, code, "write at the end");
    throwsCode(
      () => r.transport.readConfig(-4, 4),
      ArgumentError,
      "ERR_VIRTIO_ARGUMENT_OFFSET",
      "-4",
    );
    r.device.setValue(0xfeed_f00d_1234n);
    assert.equal(
      new DataView(dev.configSnapshot(8).buffer).getBigUint64(0, true),
      0xfeed_f00d_1234n,
    );
    assert.deepEqual(r.logs, []);
  });

  Deno.test(`${kind}: a queue size the device refuses is a TransportError and the queue stays off`, () => {
    const r = rig(kind);
    const t = r.transport;
    t.reset();
    t.setStatus(S.ACKNOWLEDGE | S.DRIVER);
    const legacy = t.legacy;
    if (!legacy) {
      t.setDriverFeatures(t.getDeviceFeatures());
      t.setStatus(S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
    }
    const max = t.queueMaxSize(0);
    const base = 0x10000; // page aligned, room for any ring of the null device
    const addrs = (size: number) =>
      legacy
        ? {
          desc: base,
          driver: base + 16 * size,
          device: base + 0x1000 * Math.ceil((16 * size + 6 + 2 * size) / 0x1000),
        }
        : { desc: base, driver: base + 0x4000, device: base + 0x8000 };
    for (const size of [6, 0, max * 2]) {
      throwsCode(
        () => t.setupQueue(0, size, addrs(size)),
        TransportError,
        "ERR_VIRTIO_TRANSPORT_QUEUE_SIZE",
        `${kind} size ${size}`,
      );
      assert.equal(r.host.core.queues[0].ready, false, `size ${size}: queue 0 stays disabled`);
    }
    throwsCode(
      () => t.setupQueue(7, 8, addrs(8)),
      TransportError,
      "ERR_VIRTIO_TRANSPORT_QUEUE_MISSING",
      "a missing queue",
    );
    // The right size works afterwards.
    t.setupQueue(0, max, addrs(max));
    assert.equal(r.host.core.queues[0].ready, true);
  });
}

Deno.test("MMIO device: a refused QueueNum keeps QueueReady from enabling the queue (4.2.2)", () => {
  const logs: string[] = [];
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const m = new MmioDevice(new NullDevice({ queueSize: 64 }), memory, { log: (l) => logs.push(l) });
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  m.write(R.queueSel, 4, 0);
  m.write(R.queueSize, 4, 6); // not a power of 2: refused
  for (
    const [lo, a] of [[R.queueDescLow, 0x1000], [R.queueDriverLow, 0x2000], [
      R.queueDeviceLow,
      0x3000,
    ]]
  ) {
    m.write(lo, 4, a);
  }
  m.write(R.queueReady, 4, 1);
  assert.equal(m.read(R.queueReady, 4), 0, "the driver reads the refusal back");
  m.write(R.queueSize, 4, 32);
  m.write(R.queueReady, 4, 1);
  assert.equal(m.read(R.queueReady, 4), 1);
  assert.equal(m.core.queues[0].size, 32);
});

Deno.test("bus: a probe that found nothing is an ArgumentError and takes no device index", async () => {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, 0xf000), log: () => {} });
  const empty = { read: () => 0, write: () => {} }; // an MMIO window with nothing behind it
  const none = probeMmio(empty);
  assert.equal(none, undefined);
  await assert.rejects(
    () => bus.addDevice(none as never),
    (e: unknown) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_NO_DEVICE",
  );
  const notPci = {
    configRead: () => 0xffff,
    configWrite() {},
    barRead: () => 0,
    barWrite() {},
    connect() {},
  };
  await assert.rejects(
    () => bus.addDevice(probePci(notPci) as never),
    (e: unknown) => e instanceof ArgumentError && e.code === "ERR_VIRTIO_ARGUMENT_NO_DEVICE",
  );
  const t = probeMmio(new MmioDevice(new NullDevice(), memory));
  assert.ok(t);
  const dev = await bus.addDevice(t);
  assert.equal(dev.name, "virtio0", "the failed adds took no index");
});

Deno.test("device side: a driver walking past the config logs one line, and a count at reset", () => {
  const logs: string[] = [];
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const m = new MmioDevice(new NullDevice(), memory, { log: (l) => logs.push(l) });
  for (let o = 0; o < 1024; o++) assert.equal(m.read(0x100 + 8 + o, 1), 0);
  assert.equal(logs.length, 1, logs.slice(0, 3).join("\n"));
  assert.match(logs[0], /past the 8-byte config/);
  m.write(R.status, 4, 0);
  assert.equal(logs.length, 2);
  assert.match(logs[1], /1023 more refused accesses: config accesses past the 8-byte config/);
  // After the reset the cause is logged again, once.
  m.read(0x100 + 8, 4);
  m.read(0x100 + 12, 4);
  assert.equal(logs.length, 3);

  const { p, logs: plogs } = pciFn();
  for (let o = 0; o < 1024; o++) p.barRead(4, 0x2000 + 8 + o, 1);
  assert.equal(plogs.length, 1, plogs.slice(0, 3).join("\n"));
});
