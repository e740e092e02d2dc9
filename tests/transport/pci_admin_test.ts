// The administration virtqueue of a PCI group owner (spec 2.12, 2.13,
// 4.1.4.3): our PCI driver against our PCI function, owner and members
// ("VFs") side by side in one guest memory. Expected values come from the
// spec's tables (opcodes, status codes, qualifiers) and from each member's
// own legacy I/O BAR, read with plain BAR accesses.

import assert from "node:assert/strict";
import fc from "fast-check";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { VirtioBus } from "../../src/bus.ts";
import type { DriverDevice, VirtioDriver } from "../../src/driver.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { BalloonDevice } from "../../src/devices/balloon/device.ts";
import { DeviceStatus, VIRTIO_F_ADMIN_VQ } from "../../src/generated/common.ts";
import { VirtioBalloonConfig } from "../../src/generated/devices/balloon.ts";
import {
  VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY,
  VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ,
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ,
  VIRTIO_ADMIN_CMD_LIST_QUERY,
  VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM,
  VIRTIO_ADMIN_GROUP_TYPE_SELF,
  VIRTIO_ADMIN_GROUP_TYPE_SRIOV,
  VIRTIO_ADMIN_STATUS_EINVAL,
  VIRTIO_ADMIN_STATUS_OK,
  VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD,
  VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP,
  VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
  VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE,
  VIRTIO_ADMIN_STATUS_Q_OK,
  VirtioAdminCmd,
} from "../../src/generated/admin.ts";
import {
  VIRTIO_PCI_LEGACY_CONFIG_OFF,
  VirtioPciCommonCfg,
  VirtioPciLegacy,
} from "../../src/generated/pci.ts";
import {
  AdminCommandError,
  type AdminQueue,
  findAdminQueue,
  PciFunction,
  type PciTransport,
  probePci,
} from "../../src/transport/pci/mod.ts";
import { PCI_COMMAND, PCI_COMMAND_IO } from "../../src/transport/pci/_pci_header.ts";

const MEM = 1 << 20;
const L = VirtioPciLegacy.OFFSETS;
const BALLOON = VirtioBalloonConfig.OFFSETS;
/** 2.12.1.1's table: opcodes 0 to 6 are the list and legacy-interface commands. */
const LEGACY_SET = 0b111_1111n;
/** The part of virtio_admin_cmd before command_specific_data. */
const HEAD = VirtioAdminCmd.OFFSETS.commandSpecificData;

interface Group {
  memory: GuestMemory;
  balloon: BalloonDevice;
  vf1: PciFunction;
  vf2: PciFunction;
  pf: PciFunction;
  dev: DriverDevice;
  admin: AdminQueue;
  logs: string[];
  /** Unbind and bind the owner's driver again (a reset in between); the new admin queue. */
  rebind(): Promise<AdminQueue>;
}

async function group(): Promise<Group> {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const balloon = new BalloonDevice();
  balloon.setTarget(0x1234_5678);
  const vf1 = new PciFunction(balloon, memory, { transitional: true, log });
  const vf2 = new PciFunction(new NullDevice({ deviceId: 4 }), memory, { transitional: true, log });
  for (const vf of [vf1, vf2]) vf.configWrite(PCI_COMMAND, 2, PCI_COMMAND_IO);
  const pf = new PciFunction(new NullDevice({ queues: 2 }), memory, {
    groupMembers: [vf1, vf2],
    log,
  });
  let found: { dev: DriverDevice; admin: AdminQueue } | undefined;
  const driver: VirtioDriver = {
    name: "owner",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [VIRTIO_F_ADMIN_VQ],
    probe(dev) {
      found = { dev, admin: findAdminQueue(dev, [{ name: "q0" }, { name: "q1" }]).admin };
    },
    remove(dev) {
      dev.reset();
      dev.delVqs();
    },
  };
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000), log });
  await bus.registerDriver(driver);
  const t = probePci(pf);
  assert(t);
  await bus.addDevice(t);
  if (found === undefined) throw new Error("the owner driver did not probe");
  const rebind = async () => {
    if (found === undefined) throw new Error("unbound");
    await bus.removeDevice(found.dev);
    found = undefined;
    await bus.addDevice(t);
    if (found === undefined) throw new Error("the owner driver did not probe again");
    return (found as { admin: AdminQueue }).admin;
  };
  return { memory, balloon, vf1, vf2, pf, dev: found.dev, admin: found.admin, logs, rebind };
}

/** Read the member's legacy BAR0 (the truth the admin commands must agree with). */
function bar0(vf: PciFunction, offset: number, width: 1 | 2 | 4): number {
  return vf.barRead(0, offset, width);
}

function le(bytes: Uint8Array): number {
  let v = 0;
  for (let i = bytes.length - 1; i >= 0; i--) v = v * 256 + bytes[i];
  return v;
}

function leBytes(value: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (value >>> (8 * i)) & 0xff;
  return b;
}

async function rejectsWith(p: Promise<unknown>, qualifier: number): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof AdminCommandError, `expected an AdminCommandError, got ${error}`);
  assert.deepEqual([error.status, error.statusQualifier], [VIRTIO_ADMIN_STATUS_EINVAL, qualifier]);
}

Deno.test("pci admin: the owner offers VIRTIO_F_ADMIN_VQ and places its queue after the device's", async () => {
  const g = await group();
  const t = g.dev.transport as PciTransport;
  assert(g.dev.hasFeature(VIRTIO_F_ADMIN_VQ));
  // 4.1.4.3: admin_queue_index >= num_queues; one admin queue.
  assert.deepEqual(t.numQueues(), 2);
  assert.deepEqual(t.adminQueues(), { index: 2, num: 1 });
  assert.deepEqual(g.admin.vq.index, 2);
  assert.deepEqual(g.pf.barRead(4, VirtioPciCommonCfg.OFFSETS.numQueues, 2), 2);
  assert.deepEqual(g.logs, []);
});

Deno.test("pci admin: a function without group members does not offer the feature", () => {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const t = probePci(new PciFunction(new NullDevice(), memory));
  if (t === undefined) throw new Error("probe failed");
  assert.deepEqual(t.getDeviceFeatures() & (1n << BigInt(VIRTIO_F_ADMIN_VQ)), 0n);
  assert.deepEqual(t.adminQueues().num, 0);
});

Deno.test("pci admin: findAdminQueue refuses a device where the feature was not negotiated", async () => {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  let error: unknown;
  const driver: VirtioDriver = {
    name: "plain",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [],
    probe(dev) {
      try {
        findAdminQueue(dev, [{ name: "q0" }]);
      } catch (e) {
        error = e;
      }
    },
    remove(dev) {
      dev.reset();
    },
  };
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
  await bus.registerDriver(driver);
  const vf = new PciFunction(new NullDevice(), memory, { transitional: true });
  await bus.addDevice(probePci(new PciFunction(new NullDevice(), memory, { groupMembers: [vf] }))!);
  assert.ok(error instanceof Error);
  assert.deepEqual((error as { code?: string }).code, "ERR_VIRTIO_DEVICE_NO_ADMIN_VQ");
});

Deno.test("pci admin: LIST_QUERY reports opcodes 0-6; nothing but the lists before LIST_USE", async () => {
  const g = await group();
  assert.deepEqual(await g.admin.listQuery(), LEGACY_SET);
  // 2.12.1.1: before LIST_USE only LIST_QUERY and LIST_USE are legal.
  await rejectsWith(g.admin.legacyDevCfgRead(1, 0, 4), VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE);
  await g.admin.listUse(LEGACY_SET);
  assert.deepEqual(le(await g.admin.legacyDevCfgRead(1, BALLOON.numPages, 4)), 0x1234_5678);
  // A list with a bit the device does not support fails, with no side effect.
  const cap = 1n << BigInt(VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY);
  await rejectsWith(g.admin.listUse(LEGACY_SET | cap), VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD);
  assert.deepEqual(le(await g.admin.legacyDevCfgRead(1, BALLOON.numPages, 4)), 0x1234_5678);
  // A smaller list: the commands left out now fail.
  await g.admin.listUse(LEGACY_SET & ~(1n << BigInt(VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ)));
  await rejectsWith(g.admin.legacyDevCfgRead(1, 0, 4), VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE);
  assert.deepEqual(le(await g.admin.legacyCommonCfgRead(1, L.deviceStatus, 1)), 0);
  // A reset of the owner forgets the list: only the list commands again (2.12.1.1).
  const again = await g.rebind();
  await rejectsWith(
    again.legacyCommonCfgRead(1, L.deviceStatus, 1),
    VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE,
  );
  await again.listUse(LEGACY_SET);
  assert.deepEqual(le(await again.legacyCommonCfgRead(1, L.deviceStatus, 1)), 0);
});

Deno.test("pci admin: a member's legacy device config through the owner agrees with its BAR0", async () => {
  const g = await group();
  await g.admin.listUse(await g.admin.listQuery());
  const cfg = VIRTIO_PCI_LEGACY_CONFIG_OFF; // MSI-X is off on the member
  const size = g.vf1.device.configSize;
  const all = await g.admin.legacyDevCfgRead(1, 0, size);
  for (let o = 0; o < size; o++) assert.deepEqual(all[o], bar0(g.vf1, cfg + o, 1), `byte ${o}`);
  // Write `actual` (driver-writable) through the owner, see it in BAR0 and in the model.
  await g.admin.legacyDevCfgWrite(1, BALLOON.actual, leBytes(0x0abc_def0, 4));
  assert.deepEqual(bar0(g.vf1, cfg + BALLOON.actual, 4), 0x0abc_def0);
  assert.deepEqual(g.balloon.actual, 0x0abc_def0);
  // And the other way: a write through BAR0 read through the owner.
  g.vf1.barWrite(0, cfg + BALLOON.actual, 4, 0x55);
  assert.deepEqual(le(await g.admin.legacyDevCfgRead(1, BALLOON.actual, 4)), 0x55);
  // Unaligned, odd-length reads are split into natural pieces, little-endian.
  assert.deepEqual(le(await g.admin.legacyDevCfgRead(1, BALLOON.numPages + 1, 3)), 0x12_3456);
  assert.deepEqual(g.logs, []);
});

Deno.test("pci admin: a member's legacy common config through the owner: a legacy handshake", async () => {
  const g = await group();
  await g.admin.listUse(LEGACY_SET);
  const feat = le(await g.admin.legacyCommonCfgRead(1, L.deviceFeature, 4));
  assert.deepEqual(feat, bar0(g.vf1, L.deviceFeature, 4));
  assert.deepEqual(BigInt(feat), g.balloon.features & 0xffffffffn);
  const S = DeviceStatus;
  for (const s of [S.ACKNOWLEDGE, S.ACKNOWLEDGE | S.DRIVER]) {
    await g.admin.legacyCommonCfgWrite(1, L.deviceStatus, leBytes(s, 1));
    assert.deepEqual(bar0(g.vf1, L.deviceStatus, 1), s);
  }
  await g.admin.legacyCommonCfgWrite(1, L.driverFeature, leBytes(feat, 4));
  assert.deepEqual(bar0(g.vf1, L.driverFeature, 4), feat >>> 0);
  await g.admin.legacyCommonCfgWrite(1, L.queueSelect, leBytes(0, 2));
  const qsize = le(await g.admin.legacyCommonCfgRead(1, L.queueSize, 2));
  assert.deepEqual(qsize, g.balloon.queueMaxSizes[0]);
  assert.deepEqual(qsize, bar0(g.vf1, L.queueSize, 2));
  // The other member is independent.
  assert.deepEqual(le(await g.admin.legacyCommonCfgRead(2, L.deviceStatus, 1)), 0);
  assert.deepEqual(g.vf1.core.legacy, true);
  assert.deepEqual(g.logs, []);
});

Deno.test("pci admin: LEGACY_NOTIFY_INFO names a register of the owner that notifies the member", async () => {
  const g = await group();
  await g.admin.listUse(LEGACY_SET);
  const [r1, ...rest] = await g.admin.legacyNotifyInfo(1);
  assert.deepEqual(rest, []);
  assert.deepEqual(r1.flags, VIRTIO_ADMIN_CMD_NOTIFY_INFO_FLAGS_OWNER_MEM);
  const [r2] = await g.admin.legacyNotifyInfo(2);
  assert(r2.offset !== r1.offset);
  const kicked: number[][] = [[], []];
  g.vf1.core.notify = (i: number) => void kicked[0].push(i);
  g.vf2.core.notify = (i: number) => void kicked[1].push(i);
  g.pf.barWrite(r1.bar, Number(r1.offset), 2, 1);
  g.pf.barWrite(r2.bar, Number(r2.offset), 2, 0);
  assert.deepEqual(kicked, [[1], [0]]);
});

// ---- a hostile driver: raw chains on the admin queue ----

interface Raw {
  opcode?: number;
  group?: number;
  member?: bigint;
  data?: Uint8Array;
  /** Bytes of the readable part actually sent (default: header + data). */
  readable?: number;
  writable: number;
}

/** Send one command with exactly the parts given; the status as the driver must read it. */
async function raw(g: Group, r: Raw) {
  const data = r.data ?? new Uint8Array(0);
  const full = new Uint8Array(Math.max(HEAD + data.length, r.readable ?? 0));
  const cmd = new VirtioAdminCmd(new DataView(full.buffer));
  cmd.opcode = r.opcode ?? VIRTIO_ADMIN_CMD_LIST_QUERY;
  cmd.groupType = r.group ?? VIRTIO_ADMIN_GROUP_TYPE_SRIOV;
  cmd.groupMemberId = r.member ?? 0n;
  full.set(data, HEAD);
  const out = full.subarray(0, r.readable ?? full.length);
  const back = await g.admin.vq.request(out, r.writable);
  const z = new Uint8Array(VirtioAdminCmd.size(0, 0) + Math.max(0, r.writable - 8));
  z.set(back, HEAD);
  const res = new VirtioAdminCmd(new DataView(z.buffer), 0, 0, z.length - VirtioAdminCmd.SIZE);
  return { used: back.length, status: res.status, qualifier: res.statusQualifier, back };
}

Deno.test("pci admin hostile: group, opcode and member are checked in the spec's order", async () => {
  const g = await group();
  await g.admin.listUse(LEGACY_SET);
  const EINVAL = VIRTIO_ADMIN_STATUS_EINVAL;
  const rd = new Uint8Array(8);
  const cases: [Raw, number][] = [
    [{ group: VIRTIO_ADMIN_GROUP_TYPE_SELF, writable: 8 }, VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP],
    [{ group: 0xffff, opcode: 0xffff, writable: 8 }, VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP],
    [{ opcode: 0x7fff, writable: 8 }, VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE],
    [{ opcode: 64, writable: 8 }, VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE],
    [
      { opcode: VIRTIO_ADMIN_CMD_CAP_ID_LIST_QUERY, writable: 16 },
      VIRTIO_ADMIN_STATUS_Q_INVALID_OPCODE,
    ],
    [
      { opcode: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ, member: 0n, data: rd, writable: 12 },
      VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
    ],
    [
      { opcode: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ, member: 3n, data: rd, writable: 12 },
      VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
    ],
    [
      { opcode: VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ, member: 1n << 63n, data: rd, writable: 12 },
      VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
    ],
  ];
  for (const [r, q] of cases) {
    const got = await raw(g, r);
    assert.deepEqual(
      [got.status, got.qualifier, got.used],
      [EINVAL, q, 8],
      JSON.stringify(r, (_, v) => typeof v === "bigint" ? v.toString() : v),
    );
  }
  assert.deepEqual(g.pf.core.status & DeviceStatus.DEVICE_NEEDS_RESET, 0);
});

Deno.test("pci admin hostile: accesses outside a member's legacy interface are INVALID_FIELD", async () => {
  const g = await group();
  await g.admin.listUse(LEGACY_SET);
  const size = g.vf1.device.configSize;
  const F = VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD;
  await rejectsWith(g.admin.legacyDevCfgRead(1, size - 2, 4), F);
  await rejectsWith(g.admin.legacyDevCfgRead(1, 0xff, 1), F);
  await rejectsWith(g.admin.legacyDevCfgRead(2, g.vf2.device.configSize, 1), F);
  await rejectsWith(g.admin.legacyDevCfgWrite(1, size, new Uint8Array(1)), F);
  // Common config: one whole register, writable for a write, before the device config.
  await rejectsWith(g.admin.legacyCommonCfgRead(1, L.deviceFeature, 3), F);
  await rejectsWith(g.admin.legacyCommonCfgRead(1, L.deviceFeature + 1, 2), F);
  await rejectsWith(g.admin.legacyCommonCfgRead(1, L.configMsixVector, 2), F); // MSI-X off
  await rejectsWith(g.admin.legacyCommonCfgWrite(1, L.deviceFeature, leBytes(1, 4)), F);
  await rejectsWith(g.admin.legacyCommonCfgWrite(1, L.deviceStatus, new Uint8Array(0)), F);
  await rejectsWith(g.admin.legacyCommonCfgWrite(1, L.deviceStatus, new Uint8Array(2)), F);
  // Nothing reached the member.
  assert.deepEqual(bar0(g.vf1, L.deviceStatus, 1), 0);
  assert.deepEqual(bar0(g.vf1, L.deviceFeature, 4), Number(g.balloon.features & 0xffffffffn));
  assert.throws(() => g.admin.legacyDevCfgRead(1, 256, 1));
});

Deno.test("pci admin hostile: short and long parts are truncated or zero-extended, never refused", async () => {
  const g = await group();
  // Long readable and writable parts: LIST_QUERY writes status and its 8-byte list only.
  const long = await raw(g, { readable: 200, writable: 100 });
  assert.deepEqual([long.status, long.qualifier, long.used], [VIRTIO_ADMIN_STATUS_OK, 0, 16]);
  assert.deepEqual(long.back[8], Number(LEGACY_SET));
  // A writable part with no room for the result: status only.
  const short = await raw(g, { writable: 8 });
  assert.deepEqual([short.status, short.used], [VIRTIO_ADMIN_STATUS_OK, 8]);
  // A writable part shorter than the status header: what fits.
  const tiny = await raw(g, { opcode: 0x7fff, writable: 2 });
  assert.deepEqual([tiny.used, tiny.status], [2, VIRTIO_ADMIN_STATUS_EINVAL]);
  // A readable part of 2 bytes: group_type reads as 0 (the self group) -> INVALID_GROUP.
  const cut = await raw(g, { readable: 2, writable: 8 });
  assert.deepEqual([cut.status, cut.qualifier], [
    VIRTIO_ADMIN_STATUS_EINVAL,
    VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP,
  ]);
  // No readable part at all: the same.
  const none = await raw(g, { readable: 0, writable: 8 });
  assert.deepEqual(none.qualifier, VIRTIO_ADMIN_STATUS_Q_INVALID_GROUP);
  // No writable part: nothing to write, used length 0, the queue goes on.
  const blind = await g.admin.vq.request(new Uint8Array(HEAD), 0);
  assert.deepEqual(blind.length, 0);
  await g.admin.listUse(LEGACY_SET);
  // A legacy read with the offset word cut to 1 byte still reads its offset.
  const rd = await raw(g, {
    opcode: VIRTIO_ADMIN_CMD_LEGACY_COMMON_CFG_READ,
    member: 1n,
    data: new Uint8Array([L.deviceFeature]),
    writable: 12,
  });
  assert.deepEqual([rd.status, rd.qualifier], [VIRTIO_ADMIN_STATUS_OK, VIRTIO_ADMIN_STATUS_Q_OK]);
  assert.deepEqual(le(rd.back.subarray(8, 12)), bar0(g.vf1, L.deviceFeature, 4));
  assert.deepEqual(g.pf.core.status & DeviceStatus.DEVICE_NEEDS_RESET, 0);
});

Deno.test("pci admin hostile: random commands never break the owner and always get a status", async () => {
  const g = await group();
  await g.admin.listUse(LEGACY_SET);
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 80 }),
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 1, max: 300 }),
      async (bytes, opcode, writable) => {
        // Keep group and opcode plausible often enough to reach the commands.
        const view = new DataView(bytes.buffer);
        if (bytes.length >= 4) {
          view.setUint16(0, opcode, true);
          view.setUint16(2, VIRTIO_ADMIN_GROUP_TYPE_SRIOV, true);
        }
        if (bytes.length >= 24 && bytes[4] & 1) view.setBigUint64(16, BigInt(bytes[5] % 4), true);
        const back = await g.admin.vq.request(bytes, writable);
        assert(back.length <= writable && back.length >= Math.min(writable, 8));
        const status = back.length >= 2 ? back[0] | back[1] << 8 : 0;
        assert(status === VIRTIO_ADMIN_STATUS_OK || status === VIRTIO_ADMIN_STATUS_EINVAL);
        // The member's config stays inside its legacy rules; the owner keeps working.
        assert.deepEqual(g.pf.core.status & DeviceStatus.DEVICE_NEEDS_RESET, 0);
      },
    ),
    { numRuns: 300, seed: 24 },
  );
  assert.deepEqual(await g.admin.listQuery(), LEGACY_SET);
});

Deno.test("pci admin: a transitional owner driven through its legacy interface shows no admin queue", () => {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const vf = new PciFunction(new NullDevice(), memory, { transitional: true });
  const pf = new PciFunction(new NullDevice({ deviceId: 4, queues: 2 }), memory, {
    transitional: true,
    groupMembers: [vf],
  });
  const modern = probePci(pf);
  if (modern === undefined) throw new Error("probe failed");
  assert.notEqual(modern.getDeviceFeatures() & (1n << BigInt(VIRTIO_F_ADMIN_VQ)), 0n);
  const legacy = probePci(pf, { forceLegacy: true });
  if (legacy === undefined) throw new Error("legacy probe failed");
  assert.equal(legacy.legacy, true);
  assert.equal(legacy.getDeviceFeatures() & (1n << BigInt(VIRTIO_F_ADMIN_VQ)), 0n);
  assert.equal(legacy.numQueues(), 2);
  assert.equal(legacy.queueMaxSize(2), 0);
});
