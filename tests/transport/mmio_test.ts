// virtio-mmio: probing, the register file driven by the generated map, and
// every guest rule violation refused, logged and never thrown.

import assert from "node:assert/strict";
import { GuestMemory } from "../../src/memory.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VirtioMmio,
  VirtioMmioLegacy,
} from "../../src/generated/mmio.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import type { RegisterBus } from "../../src/transport/transport.ts";
import { rig } from "./_rig.ts";

const R = VirtioMmio.OFFSETS;
const S = DeviceStatus;

function host(options: { version?: 1 | 2; device?: NullDevice } = {}) {
  const logs: string[] = [];
  const device = options.device ?? new NullDevice({ queues: 2, queueSize: 64 });
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const m = new MmioDevice(device, memory, { version: options.version, log: (l) => logs.push(l) });
  return { m, logs, device };
}

/** A fake window with given register values that records every access. */
function fakeBus(values: Record<number, number>): RegisterBus & { touched: number[] } {
  const touched: number[] = [];
  return {
    touched,
    read(offset) {
      touched.push(offset);
      return values[offset] ?? 0;
    },
    write(offset) {
      touched.push(offset);
    },
  };
}

Deno.test("probe: wrong magic, unknown version and device id 0 are ignored", () => {
  assert.equal(
    probeMmio(fakeBus({ [R.magicValue]: 0x12345678, [R.version]: 2, [R.deviceID]: 1 })),
    undefined,
  );
  assert.equal(
    probeMmio(fakeBus({ [R.magicValue]: VIRTIO_MMIO_MAGIC, [R.version]: 3, [R.deviceID]: 1 })),
    undefined,
  );
  const empty = fakeBus({ [R.magicValue]: VIRTIO_MMIO_MAGIC, [R.version]: 2, [R.deviceID]: 0 });
  assert.equal(probeMmio(empty), undefined);
  // 4.2.3.1.1: after DeviceID 0 no other register is accessed.
  assert.deepEqual(empty.touched, [R.magicValue, R.version, R.deviceID]);
  const ok = probeMmio(
    fakeBus({ [R.magicValue]: VIRTIO_MMIO_MAGIC, [R.version]: 1, [R.deviceID]: 4 }),
  );
  assert.equal(ok?.deviceId, 4);
  assert.equal(ok?.legacy, true);
});

Deno.test("register file: identity registers and every generated register is served", () => {
  for (const version of [1, 2] as const) {
    const { m, logs } = host({ version });
    assert.equal(m.read(R.magicValue, 4), VIRTIO_MMIO_MAGIC);
    assert.equal(m.read(R.version, 4), version);
    assert.equal(m.read(R.deviceID, 4), NullDevice.DEVICE_ID);
    assert.equal(m.read(R.vendorID, 4), 0x1af4);
    const regs = version === 1 ? VirtioMmioLegacy.REGISTERS : VirtioMmio.REGISTERS;
    for (const r of regs) {
      if (r.access !== "w") m.read(r.offset, 4);
    }
    assert.deepEqual(logs, [], `v${version} readable registers all answer`);
  }
});

Deno.test("features: 64-bit windows on v2, 32 bits without VERSION_1 on v1", () => {
  const { m } = host();
  m.write(R.deviceFeaturesSel, 4, 1);
  assert.equal(m.read(R.deviceFeatures, 4), 1); // VERSION_1 is bit 32
  const legacy = host({ version: 1 }).m;
  legacy.write(R.deviceFeaturesSel, 4, 1);
  assert.equal(legacy.read(R.deviceFeatures, 4), 0);
});

function violations(m: MmioDevice): Array<[string, () => void]> {
  return [
    ["wrong access width", () => m.read(R.status, 2)],
    ["unaligned access", () => m.write(R.status + 1, 1, 1)],
    ["write to a read-only register", () => m.write(R.magicValue, 4, 0)],
    ["read of a write-only register", () => m.read(R.queueSel, 4)],
    ["access to no register", () => m.read(0x0fc - 4, 4)],
    ["QueueSel out of range", () => {
      m.write(R.queueSel, 4, 7);
      m.write(R.queueSize, 4, 16);
    }],
    ["queue size 0", () => {
      m.write(R.queueSel, 4, 0);
      m.write(R.queueSize, 4, 0);
    }],
    ["queue size too big", () => m.write(R.queueSize, 4, 128)],
    ["split queue size not a power of 2", () => m.write(R.queueSize, 4, 48)],
    ["QueueReady with unset addresses", () => m.write(R.queueReady, 4, 1)],
    ["config read past the end", () => m.read(0x100 + 8, 4)],
    ["undefined InterruptACK bits", () => m.write(R.interruptACK, 4, 0x80)],
  ];
}

Deno.test("rule violations are refused, logged with the register, and never throw", () => {
  const { m, logs } = host();
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  for (const [what, act] of violations(m)) {
    const before = logs.length;
    assert.doesNotThrow(act, what);
    assert.ok(logs.length > before, `${what} is logged`);
    assert.match(logs[logs.length - 1], /refused/, what);
  }
  // Nothing above took effect.
  m.write(R.queueSel, 4, 0);
  assert.equal(m.read(R.queueReady, 4), 0);
  assert.equal(m.core.queues[0].size, 64);
  assert.match(logs.join("\n"), /QueueSize value 0x30/);
});

Deno.test("status: bits cannot be cleared without reset; FEATURES_OK needs VERSION_1 and offered bits", () => {
  const { m, logs } = host();
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  m.write(R.status, 4, S.ACKNOWLEDGE);
  assert.equal(m.read(R.status, 4), S.ACKNOWLEDGE | S.DRIVER);
  assert.match(logs.at(-1) ?? "", /Status value 0x1: .*cleared without a reset/);

  // No VERSION_1: FEATURES_OK stays clear.
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  assert.equal(m.read(R.status, 4) & S.FEATURES_OK, 0);
  assert.match(logs.at(-1) ?? "", /VERSION_1/);

  // A bit the device never offered: refused too.
  m.write(R.driverFeaturesSel, 4, 0);
  m.write(R.driverFeatures, 4, 1 << 5);
  m.write(R.driverFeaturesSel, 4, 1);
  m.write(R.driverFeatures, 4, 1);
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  assert.equal(m.read(R.status, 4) & S.FEATURES_OK, 0);
  assert.match(logs.at(-1) ?? "", /not offered/);

  m.write(R.driverFeaturesSel, 4, 0);
  m.write(R.driverFeatures, 4, 0);
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  assert.equal(m.read(R.status, 4), S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);

  // Features after FEATURES_OK: refused, negotiated set unchanged.
  m.write(R.driverFeatures, 4, 0xffff);
  assert.match(
    logs.at(-1) ?? "",
    /DriverFeatures value 0xffff: features written after FEATURES_OK/,
  );
  assert.equal(m.core.driverFeatures, 1n << 32n);

  // DRIVER_OK before FEATURES_OK on a fresh start is refused as well.
  m.write(R.status, 4, 0);
  m.write(R.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK);
  assert.equal(m.read(R.status, 4) & S.DRIVER_OK, 0);
});

Deno.test("interrupts: status bits, acknowledge, config change and generation", async () => {
  const r = rig("mmio-v2");
  const m = r.host as MmioDevice;
  const lines: number[] = [];
  m.connect((v) => lines.push(v)); // take the line away from the driver: ack by hand
  const { nullDriver } = await import("../../src/devices/null/driver.ts");
  const drv = nullDriver();
  await r.bus.registerDriver(drv);
  await r.bus.addDevice(r.transport);
  const gen = m.read(R.configGeneration, 4);
  r.device.setValue(9n);
  assert.notEqual(m.read(R.configGeneration, 4), gen);
  assert.equal(m.read(R.interruptStatus, 4), VIRTIO_MMIO_INT_CONFIG);
  assert.deepEqual(lines, [-1]);
  m.write(R.interruptACK, 4, VIRTIO_MMIO_INT_CONFIG);
  assert.equal(m.read(R.interruptStatus, 4), 0);
  r.device.context?.notifyUsed(0);
  assert.equal(m.read(R.interruptStatus, 4), VIRTIO_MMIO_INT_VRING);
  m.write(R.status, 4, 0);
  assert.equal(m.read(R.interruptStatus, 4), 0, "reset clears InterruptStatus");
});

Deno.test("shared memory registers: missing regions read all ones", () => {
  const device = new NullDevice();
  Object.defineProperty(device, "sharedMemoryRegions", {
    value: [{ id: 1, base: 0x1_0000_0000n, length: 0x2000n }],
  });
  const { m } = host({ device });
  m.write(R.sHMSel, 4, 0);
  assert.equal(m.read(R.sHMLenLow, 4), 0xffffffff);
  assert.equal(m.read(R.sHMBaseHigh, 4), 0xffffffff);
  const t = probeMmio(m);
  assert.deepEqual(t?.sharedMemory(1), { base: 0x1_0000_0000n, length: 0x2000n });
  assert.equal(t?.sharedMemory(0), undefined);
});

Deno.test("legacy v1: GuestPageSize and QueueAlign must be powers of 2; QueuePFN places the rings", () => {
  const { m, logs } = host({ version: 1 });
  const L = VirtioMmioLegacy.OFFSETS;
  m.write(L.guestPageSize, 4, 3000);
  assert.match(logs.at(-1) ?? "", /GuestPageSize value 0xbb8/);
  m.write(L.guestPageSize, 4, 4096);
  m.write(L.queueSel, 4, 0);
  m.write(L.queueSize, 4, 16);
  m.write(L.queueAlign, 4, 4096);
  m.write(L.queuePFN, 4, 3);
  const q = m.core.queues[0];
  assert.equal(q.desc, 3 * 4096);
  assert.equal(q.driver, 3 * 4096 + 16 * 16);
  assert.equal(q.device, 4 * 4096);
  assert.equal(m.read(L.queuePFN, 4), 3);
});

Deno.test("the direct paths (QueueNotify, InterruptStatus, InterruptACK) keep the rules", () => {
  const { m, logs } = host();
  for (
    const [what, act] of [
      ["2-byte QueueNotify", () => m.write(R.queueNotify, 2, 0)],
      ["2-byte InterruptStatus read", () => m.read(R.interruptStatus, 2)],
      ["2-byte InterruptACK", () => m.write(R.interruptACK, 2, 1)],
      ["InterruptStatus write", () => m.write(R.interruptStatus, 4, 1)],
      ["InterruptACK read", () => m.read(R.interruptACK, 4)],
      ["QueueNotify read", () => m.read(R.queueNotify, 4)],
      ["QueueNotify of a missing queue", () => m.write(R.queueNotify, 4, 9)],
    ] as const
  ) {
    const before = logs.length;
    assert.doesNotThrow(act, what);
    assert.ok(logs.length > before, `${what} is logged`);
  }
  // Undefined bits are refused and logged; the defined ones are still acknowledged.
  m.core.sink.config();
  const before = logs.length;
  m.write(R.interruptACK, 4, VIRTIO_MMIO_INT_CONFIG | 0x80);
  assert.equal(logs.length, before + 1);
  assert.equal(m.read(R.interruptStatus, 4), 0);
});
