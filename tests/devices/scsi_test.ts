// virtio-scsi: our driver against the device model over MMIO and PCI (split and
// packed rings): block I/O checked against the storage bytes, sense data against
// SPC-4, task management and asynchronous notification, hotplug events, and
// hostile requests on the device side (bad LUN encodings, abused cdb_size and
// sense_size, short buffers).

import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryStorage } from "../../src/devices/blk/storage.ts";
import {
  ScsiCommandError,
  ScsiDevice,
  type ScsiDeviceOptions,
  scsiDriver,
  type ScsiDriverOptions,
} from "../../src/devices/scsi/mod.ts";
import { DeviceStatus } from "../../src/generated/common.ts";
import { ArgumentError } from "../../src/errors.ts";
import { coded } from "./_coded.ts";
import { rig } from "./_rig.ts";
import { type Kind, MAIN_KINDS } from "../transport/_kinds.ts";

// Spec values written out (5.6.6): responses, TMF subtypes and results, event codes.
const S_OK = 0, S_OVERRUN = 1, S_ABORTED = 2, S_BAD_TARGET = 3, S_RESET = 4, S_FAILURE = 9;
const S_INCORRECT_LUN = 12;
const FUNCTION_COMPLETE = 0, FUNCTION_SUCCEEDED = 10, FUNCTION_REJECTED = 11;
const TMF_ABORT_TASK = 0, TMF_CLEAR_ACA = 2, TMF_I_T_NEXUS_RESET = 4, TMF_LUN_RESET = 5;
const TMF_QUERY_TASK = 6;
const T_TRANSPORT_RESET = 1, EVT_RESET_RESCAN = 1, EVT_RESET_REMOVED = 2;
const CHECK_CONDITION = 2;
// virtio_scsi_config offsets (5.6.4): sense_size at 20, cdb_size at 24.
const SENSE_SIZE_AT = 20, CDB_SIZE_AT = 24;

async function setup(
  kind: Kind,
  devOpts: Partial<ScsiDeviceOptions> = {},
  drvOpts: ScsiDriverOptions = {},
  sizes: number[] = [64 * 512],
) {
  const disks = sizes.map((n) => new Uint8Array(n));
  const storages = disks.map((b) => new MemoryStorage(b));
  const device = new ScsiDevice({
    luns: storages.map((storage, lun) => ({ lun, storage, serial: `S${lun}` })),
    ...devOpts,
  });
  const r = rig(kind, device);
  const driver = scsiDriver(drvOpts);
  await r.bus.registerDriver(driver);
  const dev = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver?.name, "virtio-scsi", `probe failed: ${r.logs.join("; ")}`);
  const host = await driver.nextHost();
  return { r, device, host, disks, storages, dev };
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed * 5 + (i >> 9)) & 0xff);
}

/** A request header (5.6.6.1) with `lun` bytes and `cdb`, cdb field `cdbSize` bytes long. */
function request(
  lunBytes: number[],
  cdb: number[],
  cdbSize = 32,
  dataOut?: Uint8Array,
): Uint8Array {
  const b = new Uint8Array(19 + cdbSize + (dataOut?.length ?? 0));
  b.set(lunBytes, 0);
  b[8] = 42; // id
  b.set(cdb.slice(0, cdbSize), 19);
  if (dataOut !== undefined) b.set(dataOut, 19 + cdbSize);
  return b;
}

const LUN0 = [1, 0, 0x40, 0, 0, 0, 0, 0];
const INQUIRY36 = [0x12, 0, 0, 0, 36, 0];

for (const kind of MAIN_KINDS) {
  for (const packed of [false, true]) {
    const name = `scsi ${kind}${packed ? " packed" : ""}`;
    Deno.test(`${name}: LUNs, inquiry, capacity; writes land in the storage, reads come back`, async () => {
      const t = await setup(kind, { packed }, {}, [64 * 512, 16 * 512]);
      assert.deepEqual(await t.host.reportLuns(), [0, 1]);
      const inq = await t.host.inquiry(1);
      assert.equal(inq.vendor, "TYPEDVIO");
      assert.equal(inq.product, "VIRTIO-SCSI");
      assert.equal(inq.serial, "S1");
      const disk = await t.host.disk(0);
      assert.equal(disk.blocks, 64);
      assert.equal(disk.blockSize, 512);
      assert.equal(disk.thin, true);
      assert.equal(disk.writeback, true);
      const data = pattern(8 * 512, 1);
      await disk.write(5, data);
      assert.deepEqual(t.disks[0].subarray(5 * 512, 13 * 512), data);
      t.disks[0].set(pattern(512, 9), 40 * 512);
      const back = new Uint8Array(512);
      await disk.read(40, back);
      assert.deepEqual(back, pattern(512, 9));
      await disk.flush();
      assert.equal(t.storages[0].flushes, 1);
      await disk.discard(5, 2);
      assert.ok(t.disks[0].subarray(5 * 512, 7 * 512).every((b) => b === 0));
      assert.deepEqual(t.disks[0].subarray(7 * 512, 13 * 512), data.subarray(2 * 512));
      assert.equal((await t.host.disk(1)).blocks, 16);
      assert.deepEqual(t.r.logs, []);
    });
  }

  Deno.test(`scsi ${kind}: CHECK CONDITION reaches the driver with its sense (SPC-4)`, async () => {
    const t = await setup(kind);
    const disk = await t.host.disk(0);
    // Past the end: the driver refuses before sending.
    await assert.rejects(
      disk.read(63, new Uint8Array(1024)),
      coded(ArgumentError, "ERR_VIRTIO_ARGUMENT_SCSI_RANGE"),
    );
    // Sent anyway: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
    const r = await t.host.command(0, Uint8Array.of(0x28, 0, 0, 0, 0, 63, 0, 0, 2, 0), {
      dataInLength: 1024,
    });
    assert.equal(r.response, S_OK);
    assert.equal(r.status, CHECK_CONDITION);
    assert.deepEqual([...r.sense.subarray(0, 14)], [
      0x70,
      0,
      5,
      0,
      0,
      0,
      0,
      10,
      0,
      0,
      0,
      0,
      0x21,
      0,
    ]);
    assert.equal(r.residual, 1024, "nothing transferred");
    await assert.rejects(
      t.host.execute(0, Uint8Array.of(0x04, 0, 0, 0, 0, 0)),
      (e: unknown) => {
        assert.ok(e instanceof ScsiCommandError);
        assert.equal(e.code, "ERR_VIRTIO_DEVICE_SCSI_CHECK_CONDITION");
        assert.deepEqual([e.senseKey, e.asc, e.ascq], [5, 0x20, 0]);
        return true;
      },
    );
    // A LUN with no unit: INQUIRY says so, TEST UNIT READY fails with 25h.
    const none = await t.host.inquiry(9);
    assert.equal(none.qualifier, 3);
    assert.equal(none.deviceType, 0x1f);
    const tur = await t.host.command(9, Uint8Array.of(0, 0, 0, 0, 0, 0));
    assert.equal(tur.sense[12], 0x25);
    // A read bigger than its buffer: VIRTIO_SCSI_S_OVERRUN.
    const ov = await t.host.command(0, Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0), {
      dataInLength: 512,
    });
    assert.equal(ov.response, S_OVERRUN);
  });

  Deno.test(`scsi ${kind}: a read-only LUN reports WP and refuses writes`, async () => {
    const bytes = new Uint8Array(8 * 512).fill(3);
    const device = new ScsiDevice({
      luns: [{ lun: 0, storage: new MemoryStorage(bytes), readOnly: true }],
    });
    const r = rig(kind, device);
    const driver = scsiDriver();
    await r.bus.registerDriver(driver);
    await r.bus.addDevice(r.transport);
    const host = await driver.nextHost();
    const disk = await host.disk(0);
    assert.equal(disk.readOnly, true);
    const w = await host.command(0, Uint8Array.of(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), {
      dataOut: new Uint8Array(512),
    });
    assert.deepEqual([w.sense[2], w.sense[12]], [7, 0x27]);
    assert.ok(bytes.every((b) => b === 3));
  });

  Deno.test(`scsi ${kind}: task management and asynchronous notification (5.6.6.2)`, async () => {
    // Storage that holds reads until released: a command stays in flight.
    const bytes = new Uint8Array(8 * 512);
    let release: () => void = () => {};
    const held = new Promise<void>((res) => (release = res));
    const storage = {
      size: bytes.length,
      isAsync: true,
      read: async (o: number, d: Uint8Array) => {
        await held;
        d.set(bytes.subarray(o, o + d.length));
      },
      write: (o: number, s: Uint8Array) => void bytes.set(s, o),
      flush: () => {},
    };
    const t = await setup(kind, { luns: [{ lun: 0, storage }, { lun: 1, storage }] });
    const read10 = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0);
    const a = t.host.command(0, read10, { dataInLength: 512, id: 77n });
    const b = t.host.command(1, read10, { dataInLength: 512, id: 78n });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(t.device.inProgress(2), 2);
    assert.equal(await t.host.taskManagement(TMF_QUERY_TASK, 0, 77n), FUNCTION_SUCCEEDED);
    assert.equal(await t.host.taskManagement(TMF_QUERY_TASK, 0, 5n), FUNCTION_COMPLETE);
    assert.equal(await t.host.taskManagement(TMF_ABORT_TASK, 0, 77n), FUNCTION_COMPLETE);
    assert.equal((await a).response, S_ABORTED);
    assert.equal(await t.host.taskManagement(TMF_LUN_RESET, 1), FUNCTION_COMPLETE);
    assert.equal((await b).response, S_RESET);
    assert.equal(t.device.inProgress(2), 0);
    const c = t.host.command(0, read10, { dataInLength: 512 });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(await t.host.taskManagement(TMF_I_T_NEXUS_RESET, 0), FUNCTION_COMPLETE);
    assert.equal((await c).response, S_RESET);
    assert.equal(await t.host.taskManagement(TMF_CLEAR_ACA, 0), FUNCTION_REJECTED);
    assert.equal(await t.host.taskManagement(TMF_LUN_RESET, 5), S_INCORRECT_LUN);
    assert.equal(await t.host.taskManagement(99, 0), FUNCTION_REJECTED);
    // The aborted reads finish later: nothing more arrives, and a new read works.
    release();
    bytes[0] = 0x5a;
    const d = await t.host.command(0, read10, { dataInLength: 512 });
    assert.equal(d.response, S_OK);
    assert.equal(d.data[0], 0x5a);
    const an = await t.host.asyncNotification(false, 0, 2 | 16);
    assert.deepEqual(an, { response: S_OK, eventActual: 0 });
    const sub = await t.host.asyncNotification(true, 0, 16);
    assert.deepEqual(sub, { response: S_OK, eventActual: 0 });
  });

  Deno.test(`scsi ${kind}: hotplug events for LUNs added and removed at run time`, async () => {
    const t = await setup(kind);
    const extra = new Uint8Array(4 * 512).fill(0xee);
    t.device.addLun(7, { storage: new MemoryStorage(extra) });
    t.device.removeLun(0);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(t.host.events, [
      { event: T_TRANSPORT_RESET, missed: false, lun: 7, reason: EVT_RESET_RESCAN },
      { event: T_TRANSPORT_RESET, missed: false, lun: 0, reason: EVT_RESET_REMOVED },
    ]);
    assert.deepEqual(await t.host.reportLuns(), [7]);
    const disk = await t.host.disk(7);
    const back = new Uint8Array(512);
    await disk.read(3, back);
    assert.ok(back.every((b) => b === 0xee));
    // LUN 300 (flat space on the wire) comes back as 300.
    t.device.addLun(300, { storage: new MemoryStorage(new Uint8Array(512)) });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(t.host.events.at(-1)?.lun, 300);
  });

  Deno.test(`scsi ${kind}: with no event buffer an event is lost, and the next says so`, async () => {
    const t = await setup(kind, {}, { eventBuffers: 0 });
    t.device.addLun(1, { storage: new MemoryStorage(new Uint8Array(512)) });
    t.device.addLun(2, { storage: new MemoryStorage(new Uint8Array(512)) });
    assert.equal(t.device.stats.eventsMissed, 2);
    t.host.addEventBuffers(2);
    await new Promise((r) => setTimeout(r, 0));
    // 5.6.6.3: VIRTIO_SCSI_T_NO_EVENT with VIRTIO_SCSI_T_EVENTS_MISSED: rescan everything.
    assert.deepEqual(t.host.events, [{ event: 0, missed: true, lun: 0, reason: 0 }]);
    t.device.addLun(3, { storage: new MemoryStorage(new Uint8Array(512)) });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(t.host.events[1], {
      event: T_TRANSPORT_RESET,
      missed: false,
      lun: 3,
      reason: EVT_RESET_RESCAN,
    });
  });

  Deno.test(`scsi ${kind}: hostile LUN encodings get BAD_TARGET, never a command`, async () => {
    const t = await setup(kind);
    const before = t.device.stats.commands;
    for (
      const lun of [
        [0, 0, 0x40, 0, 0, 0, 0, 0], // byte 0 not 1
        [1, 1, 0x40, 0, 0, 0, 0, 0], // target 1
        [1, 0, 0x80, 0, 0, 0, 0, 0], // address method 2
        [1, 0, 0x40, 0, 0, 0, 0, 1], // second level set
        [1, 0, 0x01, 0x00, 0, 0, 0, 0], // peripheral addressing with a bus
        [0xc1, 0x01, 0, 0, 0, 0, 0, 1], // well-known LU with junk
      ]
    ) {
      const { bytes, usedLen } = await t.host.rawRequest({
        out: request(lun, INQUIRY36),
        inLength: 12 + 96 + 36,
      });
      assert.equal(bytes[11], S_BAD_TARGET, `lun ${lun}`);
      assert.equal(usedLen, 12);
    }
    assert.equal(t.device.stats.commands, before);
    // The REPORT LUNS well-known LU answers REPORT LUNS.
    const wl = await t.host.rawRequest({
      out: request([0xc1, 0x01, 0, 0, 0, 0, 0, 0], [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0]),
      inLength: 12 + 96 + 16,
    });
    assert.equal(wl.bytes[11], S_OK);
    assert.equal(wl.bytes[10], 0);
    assert.equal(wl.bytes[108 + 3], 8, "one LUN listed");
    assert.equal(t.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0);
  });

  Deno.test(`scsi ${kind}: short requests and abused cdb_size / sense_size never crash`, async () => {
    const t = await setup(kind);
    // A request shorter than its header: VIRTIO_SCSI_S_FAILURE.
    const short = await t.host.rawRequest({ out: new Uint8Array(10), inLength: 108 });
    assert.equal(short.bytes[11], S_FAILURE);
    // No data-in room for INQUIRY: GOOD, 0 bytes moved, residual 0 of 0.
    const noRoom = await t.host.rawRequest({ out: request(LUN0, INQUIRY36), inLength: 108 });
    assert.equal(noRoom.bytes[11], S_OK);
    // sense_size 0xffffffff: there is no room for data at all; CHECK CONDITION sense goes nowhere.
    t.dev.writeConfig(SENSE_SIZE_AT, 4, 0xffffffff);
    const big = await t.host.rawRequest({
      out: request(LUN0, [0x04, 0, 0, 0, 0, 0]),
      inLength: 12 + 40,
    });
    assert.equal(big.bytes[11], S_OK);
    assert.equal(big.bytes[10], CHECK_CONDITION);
    assert.equal(big.bytes[0], 18, "the 18 bytes of fixed sense fitted in the 40 there were");
    t.dev.writeConfig(SENSE_SIZE_AT, 4, 96);
    // cdb_size 2: READ(10) does not fit, INVALID FIELD IN CDB.
    t.dev.writeConfig(CDB_SIZE_AT, 4, 2);
    const small = await t.host.rawRequest({
      out: request(LUN0, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 2),
      inLength: 108 + 512,
    });
    assert.equal(small.bytes[10], CHECK_CONDITION);
    assert.equal(small.bytes[12 + 12], 0x24);
    // cdb_size 0xfffffff0: a WRITE has no data-out left: VIRTIO_SCSI_S_OVERRUN, storage untouched.
    t.dev.writeConfig(CDB_SIZE_AT, 4, 0xfffffff0);
    const huge = await t.host.rawRequest({
      out: request(LUN0, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], 32, new Uint8Array(512).fill(1)),
      inLength: 108,
    });
    assert.equal(huge.bytes[11], S_OVERRUN);
    assert.ok(t.disks[0].every((b) => b === 0));
    t.dev.writeConfig(CDB_SIZE_AT, 4, 32);
    assert.equal(t.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0);
    // Still serving.
    const ok = await t.host.rawRequest({ out: request(LUN0, INQUIRY36), inLength: 108 + 36 });
    assert.equal(ok.bytes[11], S_OK);
    assert.equal(ok.bytes[108 + 2], 6);
  });

  Deno.test(`scsi ${kind}: a request with no room for the response header needs a reset`, async () => {
    const t = await setup(kind);
    // The driver fails fast: the request rejects once the device asked for a reset.
    await assert.rejects(
      t.host.rawRequest({ out: request(LUN0, INQUIRY36), inLength: 11 }),
      (e: unknown) => (e as { code: string }).code === "ERR_VIRTIO_DEVICE_NEEDS_RESET",
    );
    assert.notEqual(t.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0);
  });
}

Deno.test("scsi: device options out of range are refused with codes", () => {
  assert.throws(() => new ScsiDevice({ queues: 0 }), (e: unknown) => {
    assert.equal((e as { code: string }).code, "ERR_VIRTIO_DEVICE_SCSI_OPTION");
    return true;
  });
  assert.throws(
    () =>
      new ScsiDevice({
        luns: [{ lun: 0, storage: new MemoryStorage(new Uint8Array(512)), blockSize: 1000 }],
      }),
    (e: unknown) => (e as { code: string }).code === "ERR_VIRTIO_DEVICE_SCSI_OPTION",
  );
});

Deno.test("scsi property: any request bytes get a response; the device keeps serving", async () => {
  const t = await setup("pci-modern");
  const lunBytes = fc.oneof(
    fc.constant(LUN0),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 }),
  );
  await fc.assert(
    fc.asyncProperty(
      lunBytes,
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 0, maxLength: 16 }),
      fc.integer({ min: 0, max: 600 }),
      fc.integer({ min: 0, max: 1100 }),
      async (lun, cdb, outExtra, inData) => {
        const out = request(lun, cdb, 32, new Uint8Array(outExtra).fill(0x5a));
        const r = await t.host.rawRequest({ out, inLength: 108 + inData });
        // 5.6.6.1 responses only; the used length never exceeds what the driver gave.
        assert.ok(
          [S_OK, S_OVERRUN, S_BAD_TARGET, S_FAILURE].includes(r.bytes[11]),
          `${r.bytes[11]}`,
        );
        assert.ok(r.usedLen <= 108 + inData);
      },
    ),
    { seed: 14, numRuns: 300 },
  );
  assert.equal(t.dev.getStatus() & DeviceStatus.DEVICE_NEEDS_RESET, 0);
  assert.equal((await t.host.inquiry(0)).vendor, "TYPEDVIO");
});
