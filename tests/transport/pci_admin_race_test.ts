// The PCI owner's administration queue against a racing writer: a worker keeps
// rewriting fields of one command in shared guest memory while the owner serves
// it again and again. The owner copies the readable part once and checks the
// copy, so each answer is the one its checked copy deserves: a member id
// flipping between 1 and one far outside the group gives OK with member 1's
// bytes or INVALID_MEMBER, never a crash or a reset; a legacy read offset
// flipping between 0 and one past the member's config gives OK with the
// bytes at 0 or INVALID_FIELD, never bytes from elsewhere. Deno only (a Web
// Worker).

import assert from "node:assert/strict";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { VirtioBus } from "../../src/bus.ts";
import type { Completion, VirtioDriver } from "../../src/driver.ts";
import { BalloonDevice } from "../../src/devices/balloon/device.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { DeviceStatus, VIRTIO_F_ADMIN_VQ } from "../../src/generated/common.ts";
import {
  VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ,
  VIRTIO_ADMIN_GROUP_TYPE_SRIOV,
  VIRTIO_ADMIN_STATUS_EINVAL,
  VIRTIO_ADMIN_STATUS_OK,
  VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD,
  VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
  VirtioAdminCmd,
} from "../../src/generated/admin.ts";
import {
  type AdminQueue,
  findAdminQueue,
  PciFunction,
  probePci,
} from "../../src/transport/pci/mod.ts";
import { startRacer } from "../devices/_race.ts";

const MEM = 1 << 20;
/** Times each answer must have been seen before the test ends. */
const EACH_WAY = 20_000;
const HEAD = VirtioAdminCmd.OFFSETS.commandSpecificData;
const NUM_PAGES = 0x0102_0304;

async function setup() {
  const sab = new SharedArrayBuffer(MEM);
  const memory = GuestMemory.fromBuffer(sab);
  const dma = new DmaAllocator(0x1000, MEM - 0x1000);
  const balloon = new BalloonDevice();
  balloon.setTarget(NUM_PAGES);
  const vf = new PciFunction(balloon, memory, { transitional: true });
  const pf = new PciFunction(new NullDevice(), memory, { groupMembers: [vf] });
  let admin: AdminQueue | undefined;
  const driver: VirtioDriver = {
    name: "owner",
    idTable: [{ device: NullDevice.DEVICE_ID }],
    featureTable: [VIRTIO_F_ADMIN_VQ],
    probe(dev) {
      admin = findAdminQueue(dev, [{ name: "q0" }]).admin;
    },
    remove(dev) {
      dev.reset();
      dev.delVqs();
    },
  };
  const bus = new VirtioBus({ memory, dma });
  await bus.registerDriver(driver);
  const t = probePci(pf);
  if (t === undefined) throw new Error("probe failed");
  await bus.addDevice(t);
  if (admin === undefined) throw new Error("no admin queue");
  await admin.listUse(await admin.listQuery());
  // One command at fixed addresses: readable header + 8 bytes of data, 8 + 4 writable.
  const cmdAt = dma.alloc(HEAD + 8 + 8 + 4, 8);
  memory.bytes(cmdAt, HEAD + 8 + 8 + 4).fill(0); // DMA memory is reused: offset 0
  const cmd = new VirtioAdminCmd(memory.view(cmdAt, HEAD + 8), 0, 1);
  cmd.opcode = VIRTIO_ADMIN_CMD_LEGACY_DEV_CFG_READ;
  cmd.groupType = VIRTIO_ADMIN_GROUP_TYPE_SRIOV;
  cmd.groupMemberId = 1n;
  const statusAt = cmdAt + HEAD + 8;
  let done = -1;
  const completion: Completion = {
    complete: (len) => void (done = len),
    fail: (e) => {
      throw e;
    },
  };
  const q = admin;
  const send = (): { status: number; qualifier: number; data: number } => {
    memory.bytes(statusAt, 12).fill(0xee);
    done = -1;
    q.vq.submit([{ addr: cmdAt, len: HEAD + 8 }], [{ addr: statusAt, len: 12 }], completion);
    q.vq.kick();
    assert.notEqual(done, -1, "no answer: the owner broke (DEVICE_NEEDS_RESET?)");
    const res = new VirtioAdminCmd(memory.view(cmdAt, HEAD + 8 + 12), 0, 1, 4);
    return {
      status: res.status,
      qualifier: res.statusQualifier,
      data: memory.readUint32(statusAt + 8),
    };
  };
  return { sab, memory, pf, cmdAt, send };
}

Deno.test("pci admin race: a member id rewritten while served is member 1 or INVALID_MEMBER", async () => {
  const s = await setup();
  // The low word of group_member_id: 1, or 1 + 0x7f000000 (only the top byte differs, so a torn
  // read is one of the two).
  const idAt = s.cmdAt + VirtioAdminCmd.OFFSETS.groupMemberId;
  const racer = await startRacer(s.sab, [{ addr: idAt, a: 1, b: 0x7f00_0001 }]);
  const seen = { ok: 0, invalid: 0 };
  try {
    for (let i = 0; i < 1_000_000 && (seen.ok < EACH_WAY || seen.invalid < EACH_WAY); i++) {
      const r = s.send();
      if (r.status === VIRTIO_ADMIN_STATUS_OK) {
        assert.equal(r.data, NUM_PAGES);
        seen.ok++;
      } else {
        assert.deepEqual([r.status, r.qualifier], [
          VIRTIO_ADMIN_STATUS_EINVAL,
          VIRTIO_ADMIN_STATUS_Q_INVALID_MEMBER,
        ]);
        seen.invalid++;
      }
    }
  } finally {
    await racer.stop();
  }
  assert.ok(seen.ok >= EACH_WAY && seen.invalid >= EACH_WAY, JSON.stringify(seen));
  assert.equal(s.pf.core.status & DeviceStatus.DEVICE_NEEDS_RESET, 0);
});

Deno.test("pci admin race: a read offset rewritten while served is checked once", async () => {
  const s = await setup();
  // The word holding the offset byte: offset 0, or 0xf0 (past the 16-byte balloon config).
  const offAt = s.cmdAt + HEAD;
  const racer = await startRacer(s.sab, [{ addr: offAt, a: 0, b: 0xf0 }]);
  const seen = { ok: 0, invalid: 0 };
  try {
    for (let i = 0; i < 1_000_000 && (seen.ok < EACH_WAY || seen.invalid < EACH_WAY); i++) {
      const r = s.send();
      if (r.status === VIRTIO_ADMIN_STATUS_OK) {
        assert.equal(r.data, NUM_PAGES);
        seen.ok++;
      } else {
        assert.deepEqual([r.status, r.qualifier], [
          VIRTIO_ADMIN_STATUS_EINVAL,
          VIRTIO_ADMIN_STATUS_Q_INVALID_FIELD,
        ]);
        seen.invalid++;
      }
    }
  } finally {
    await racer.stop();
  }
  assert.ok(seen.ok >= EACH_WAY && seen.invalid >= EACH_WAY, JSON.stringify(seen));
  assert.equal(s.pf.core.status & DeviceStatus.DEVICE_NEEDS_RESET, 0);
});
