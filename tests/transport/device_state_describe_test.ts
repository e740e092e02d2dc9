// TransportDeviceState.describe(): the device-state dump a timeout reports. Our driver puts
// chains in a queue the device holds, and the dump must show them as the ring holds them
// (split and packed, over every transport); interrupts pending stay pending; hostile and
// half-set-up state (rings outside guest memory, a bogus avail idx, a model that throws) is
// described without a throw; and describing changes nothing, in guest memory or elsewhere.
// Expected values are the spec's (status bits, descriptor flags) and the scenario's counts.

import assert from "node:assert/strict";
import {
  DeviceStatus,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
} from "../../src/generated/common.ts";
import { VirtioMmio } from "../../src/generated/mmio.ts";
import { VirtqAvail } from "../../src/generated/virtqueue.ts";
import { featureMask } from "../../src/features.ts";
import { GuestMemory } from "../../src/memory.ts";
import { NullDevice } from "../../src/devices/null/device.ts";
import { nullDriver } from "../../src/devices/null/driver.ts";
import { MmioDevice } from "../../src/transport/mmio/mod.ts";
import { PciFunction } from "../../src/transport/pci/mod.ts";
import type { DescriptorChain } from "../../src/virtqueue/mod.ts";
import { KINDS, MAIN_KINDS } from "./_kinds.ts";
import { buffers, rigFor } from "./_rig.ts";

const S = DeviceStatus;
const O = VirtioMmio.OFFSETS;

/** Every byte of guest memory, to compare before and after a dump. */
const snapshot = (memory: GuestMemory): Uint8Array[] => memory.regions.map((r) => r.bytes.slice());

/** The dump, checked to leave guest memory as it was. */
function describeReadOnly(core: { describe(): string; memory: GuestMemory }): string {
  const before = snapshot(core.memory);
  const text = core.describe();
  assert.deepEqual(snapshot(core.memory), before, "describe() wrote guest memory");
  return text;
}

/** `host` bound by our null driver over `kind`, with `n` requests made available and kicked. */
async function boundWithRequests(
  kind: (typeof KINDS)[number],
  device: NullDevice,
  n: number,
) {
  const r = rigFor(kind, device, 1 << 20);
  const drv = nullDriver({ deviceId: device.deviceId });
  await r.bus.registerDriver(drv);
  const dev = await r.bus.addDevice(r.transport);
  const st = drv.states.get(dev);
  assert.ok(st, "the null driver bound");
  buffers(r, n).forEach((b, i) => st.vq.addSgs([{ addr: b, len: 64 }], [], i));
  st.vq.kick();
  const q = device.context?.queues[0];
  assert.ok(q, "queue 0 is live");
  return { r, st, q };
}

for (const kind of KINDS) {
  Deno.test(`${kind}: the dump shows chains the driver made available ahead of the device`, async () => {
    const legacy = kind === "mmio-v1" || kind === "pci-legacy";
    // Legacy PCI needs a device type with a transitional id: borrow rng (4).
    const device = new NullDevice({
      hold: true,
      ...(kind === "pci-legacy" ? { deviceId: 4 } : {}),
    });
    const { r, q } = await boundWithRequests(kind, device, 5);
    // The device takes 2 of the 5 and holds them; 3 wait in the avail ring.
    const held = [q.pop(), q.pop()];
    const interrupts = r.host instanceof MmioDevice ? r.host.interruptStatus : r.host.isr;
    const text = describeReadOnly(r.host.core);
    const lines = text.split("\n");
    const type = kind === "pci-legacy" ? "rng device (id 4" : "device of unknown type (id 63";
    assert.equal(lines[0], `${r.host.core.where}: ${type}, NullDevice)`);
    // 2.1: ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, FEATURES_OK 8 (none on a legacy interface).
    assert.ok(
      lines.includes(
        legacy
          ? "  status 0x7 (ACKNOWLEDGE|DRIVER|DRIVER_OK), activated, legacy interface"
          : "  status 0xf (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK), activated",
      ),
      text,
    );
    assert.match(text, /^ {2}features: offered 0x[0-9a-f]+, driver 0x[0-9a-f]+$/m);
    assert.match(text, /^ {2}interrupts: (InterruptStatus|ISR) 0x0 \(none\)/m);
    assert.match(text, /^ {2}queue 0: ready, split, size 256 \(max 256\)/m);
    // VIRTIO_F_EVENT_IDX is negotiated: the device moved avail_event past each chain it took.
    assert.match(text, /^ {4}avail ring \(driver\): idx 5, flags 0x0 \(none\), used_event \d+$/m);
    assert.match(text, /^ {4}used ring \(device\): idx 0, flags 0x0 \(none\), avail_event 2$/m);
    assert.ok(
      lines.includes(
        "    device queue: next avail 2 (3 chains available, not yet taken), next used 0, 2 in flight",
      ),
      text,
    );
    // Nothing moved: the interrupt state, and the device's next chain is still the third.
    assert.equal(r.host instanceof MmioDevice ? r.host.interruptStatus : r.host.isr, interrupts);
    const third = q.pop();
    assert.ok(third);
    assert.equal(q.position().availIdx, 3);
    // One used and published: the dump follows.
    q.addUsed(held[0] as DescriptorChain, 0);
    assert.match(
      describeReadOnly(r.host.core),
      /^ {4}used ring \(device\): idx 1, .*\n {4}device queue: next avail 3 \(2 chains available, not yet taken\), next used 1, 2 in flight$/m,
    );
  });
}

for (const kind of MAIN_KINDS) {
  Deno.test(`${kind}: the dump of a packed ring shows the next descriptor and both event structures`, async () => {
    const features = featureMask([VIRTIO_F_VERSION_1, VIRTIO_F_RING_PACKED, VIRTIO_F_EVENT_IDX]);
    const device = new NullDevice({ hold: true, features });
    const { r, q } = await boundWithRequests(kind, device, 3);
    q.pop();
    const text = describeReadOnly(r.host.core);
    assert.match(text, /^ {2}queue 0: ready, packed, size 256 \(max 256\)/m);
    // 2.8.1: available in wrap 1 is AVAIL (1 << 7) set and USED (1 << 15) clear; a
    // device-readable buffer of one descriptor has no other flag.
    assert.match(
      text,
      /^ {4}descriptor ring: next descriptor 1: flags 0x80 \(AVAIL\), available in wrap 1, id \d+, len 64$/m,
    );
    assert.match(
      text,
      /^ {4}driver event suppression: flags (ENABLE|DISABLE|DESC), off \d+ wrap [01]$/m,
    );
    assert.match(
      text,
      /^ {4}device event suppression: flags (ENABLE|DISABLE|DESC), off \d+ wrap [01]$/m,
    );
    assert.match(text, /^ {4}device queue: next avail 1 wrap 1, next used 0 wrap 1, 1 in flight$/m);
    q.pop();
    q.pop();
    assert.match(
      describeReadOnly(r.host.core),
      /^ {4}descriptor ring: next descriptor 3: flags 0x0 \(none\), not available in wrap 1, /m,
    );
  });
}

Deno.test("mmio: an interrupt not yet acknowledged is shown and stays pending", () => {
  const m = new MmioDevice(new NullDevice(), GuestMemory.fromBuffer(new ArrayBuffer(1 << 16)), {
    log: () => {},
  });
  m.core.sink.config();
  assert.match(
    describeReadOnly(m.core),
    /^ {2}interrupts: InterruptStatus 0x2 \(CONFIG\), not acknowledged$/m,
  );
  assert.equal(m.interruptStatus, 2, "describe() acknowledged nothing");
});

Deno.test("pci: INTx pending and a masked MSI-X vector's pending message are shown and stay", async () => {
  // INTx: the function's ISR status (4.1.4.5) and the PCI status bit, never read-cleared here.
  const p = new PciFunction(new NullDevice(), GuestMemory.fromBuffer(new ArrayBuffer(1 << 16)), {
    log: () => {},
  });
  p.core.sink.config();
  assert.match(
    describeReadOnly(p.core),
    /^ {2}interrupts: ISR 0x2 \(CONFIG\); INTx asserted \(PCI status\), enabled \(PCI command\); MSI-X disabled$/m,
  );
  assert.equal(p.isr, 2, "describe() did not read-clear the ISR");
  // MSI-X: queue 0's vector masked in the table while the device uses a chain.
  const device = new NullDevice({ hold: true });
  const { r, q } = await boundWithRequests("pci-modern", device, 1);
  const fn = r.host as PciFunction;
  const vector = fn.core.queues[0].vector;
  fn.barWrite(1, vector * 16 + 12, 4, 1); // Vector Control: Mask Bit
  const chain = q.pop();
  assert.ok(chain);
  q.addUsed(chain, 0);
  device.context?.notifyUsed(0);
  assert.ok(fn.msixPending.has(vector));
  const text = describeReadOnly(fn.core);
  assert.match(
    text,
    new RegExp(
      `MSI-X enabled \\(function mask off\\): config vector \\d+ unmasked, queue 0 vector ${vector} masked pending`,
    ),
  );
  assert.match(
    text,
    new RegExp(`^ {2}queue 0: ready, split, size 256 \\(max 256\\), MSI-X vector ${vector},`, "m"),
  );
  assert.ok(fn.msixPending.has(vector), "describe() delivered nothing");
});

/** An MMIO v2 device driven by hand through its registers up to FEATURES_OK. */
function byHand(device: NullDevice, memSize: number) {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(memSize));
  const logs: string[] = [];
  const m = new MmioDevice(device, memory, { log: (l) => logs.push(l) });
  m.connect(() => {});
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER);
  m.write(O.driverFeaturesSel, 4, 0);
  m.write(O.driverFeatures, 4, Number(device.features & 0xffffffffn));
  m.write(O.driverFeaturesSel, 4, 1);
  m.write(O.driverFeatures, 4, Number(device.features >> 32n));
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK);
  const queue = (sel: number, size: number, desc: number, driver: number, dev: number) => {
    m.write(O.queueSel, 4, sel);
    m.write(O.queueSize, 4, size);
    m.write(O.queueDescLow, 4, desc % 2 ** 32);
    m.write(O.queueDescHigh, 4, Math.floor(desc / 2 ** 32));
    m.write(O.queueDriverLow, 4, driver % 2 ** 32);
    m.write(O.queueDriverHigh, 4, Math.floor(driver / 2 ** 32));
    m.write(O.queueDeviceLow, 4, dev % 2 ** 32);
    m.write(O.queueDeviceHigh, 4, Math.floor(dev / 2 ** 32));
    m.write(O.queueReady, 4, 1);
    assert.equal(m.read(O.queueReady, 4), 1, `queue ${sel} accepted`);
  };
  return { m, memory, logs, queue };
}

Deno.test("hostile: rings outside guest memory, across its end or past 2^52 are unreadable, never a throw", () => {
  const device = new NullDevice({ queues: 4, queueSize: 256 });
  const { m, queue } = byHand(device, 1 << 16);
  queue(0, 256, 0x100000, 0x101000, 0x102000); // past the 64 KiB of memory
  queue(1, 256, 0xf000, 0xfe00, 0x2000); // the avail ring crosses the end of memory
  queue(2, 256, 0x1fffff_00001000, 0x1fffff_00002000, 0x1fffff_00003000); // near 2^53
  queue(3, 16, 0x4000, 0x4100, 0x4200); // a sane one
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  assert.ok(m.core.status & S.DEVICE_NEEDS_RESET, "the rings outside memory failed activation");
  const text = describeReadOnly(m.core);
  // 2.7: avail ring 6 + 2 * size bytes, used ring 6 + 8 * size (with the event words).
  assert.match(
    text,
    /status 0x4f \(ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK\|DEVICE_NEEDS_RESET\), activated/,
  );
  assert.match(
    text,
    /^ {4}avail ring 0x101000\+518: unreadable \(not inside one guest memory region\)$/m,
  );
  assert.match(text, /^ {4}used ring 0x102000\+2054: unreadable/m);
  assert.match(text, /^ {4}avail ring 0xfe00\+518: unreadable/m);
  assert.match(text, /^ {4}used ring \(device\): idx 0,/m, "queue 1's used ring is inside memory");
  assert.match(text, /^ {4}avail ring 0x1fffff00002000\+518: unreadable/m);
  assert.match(text, /device queue: none \(no live queue: its setup failed, or it was reset\)/);
  // The sane queue is live; a bogus avail idx far ahead of the device is reported as such.
  assert.match(
    text,
    /^ {4}device queue: next avail 0 \(0 chains available, not yet taken\), next used 0, 0 in flight$/m,
  );
  new VirtqAvail(new DataView(m.core.memory.regions[0].bytes.buffer), 0x4100, 16).idx = 0x8000;
  const bogus = describeReadOnly(m.core);
  assert.match(
    bogus,
    /device queue: next avail 0 \(avail idx 32768 ahead: more than the queue size, a bogus idx\)/,
  );
  assert.equal(describeReadOnly(m.core), bogus, "a second dump reads the same: nothing moved");
  assert.equal(device.context?.queues[3]?.position().availIdx, 0, "the device took nothing");
});

Deno.test("hostile: a packed ring outside guest memory, and a model whose inProgress throws", () => {
  const features = featureMask([VIRTIO_F_VERSION_1, VIRTIO_F_RING_PACKED]);
  const device = Object.assign(new NullDevice({ queues: 2, features }), {
    inProgress(): number {
      throw new Error("a broken model");
    },
  });
  const { m, queue } = byHand(device, 1 << 16);
  queue(0, 64, 0x200000, 0x201000, 0x202000);
  queue(1, 64, 0x1000, 0x1400, 0x1410);
  m.write(O.status, 4, S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  const text = describeReadOnly(m.core);
  // 2.8.10.1: the descriptor ring is 16 bytes a descriptor, each event structure 4.
  assert.match(text, /^ {4}descriptor ring 0x200000\+1024: unreadable/m);
  assert.match(text, /^ {4}driver event suppression 0x201000\+4: unreadable/m);
  assert.match(text, /^ {4}device event suppression 0x202000\+4: unreadable/m);
  assert.match(text, /^ {2}queue 1: ready, packed, size 64 \(max 256\)/m);
  assert.match(
    text,
    /^ {4}descriptor ring: next descriptor 0: flags 0x0 \(none\), not available in wrap 1/m,
  );
  assert.match(text, /^ {4}device queue: next avail 0 wrap 1, next used 0 wrap 1, 0 in flight$/m);
  // A part that throws (here the transport's interrupt line) is reported in its place.
  const sink = m.core.sink;
  m.core.sink = {
    used: (i) => sink.used(i),
    config: () => sink.config(),
    describe: () => {
      throw new Error("a broken sink");
    },
  };
  const broken = describeReadOnly(m.core);
  assert.match(broken, /^ {2}interrupts: not described \(a broken sink\)$/m);
  assert.match(broken, /^ {2}queue 1: ready, packed/m, "the rest is still there");
});

Deno.test("half set up: a queue ready before DRIVER_OK, its kick held, no device queue yet", () => {
  const device = new NullDevice({ queues: 2, queueSize: 16 });
  const { m, queue } = byHand(device, 1 << 16);
  queue(0, 16, 0x1000, 0x1100, 0x1200);
  m.write(O.queueNotify, 4, 0);
  m.write(O.queueSel, 4, 1);
  m.write(O.queueSize, 4, 3); // refused: not a power of 2
  const text = describeReadOnly(m.core);
  assert.match(text, /^ {2}status 0xb \(ACKNOWLEDGE\|DRIVER\|FEATURES_OK\), not activated$/m);
  assert.match(text, /^ {2}kicks held until DRIVER_OK: queue 0$/m);
  assert.match(text, /^ {4}avail ring \(driver\): idx 0, flags 0x0 \(none\), used_event 0$/m);
  assert.match(text, /^ {4}device queue: none \(the device is not activated\)$/m);
  assert.match(text, /^ {2}queue 1: not ready, size 16 \(max 16, last size refused\)$/m);
  // An SR-IOV group owner's administration queue is labelled as the transport's own.
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(1 << 16));
  const owner = new PciFunction(new NullDevice(), memory, {
    groupMembers: [new PciFunction(new NullDevice(), memory)],
    log: () => {},
  });
  assert.match(
    describeReadOnly(owner.core),
    /^ {2}queue 1 \(the transport's administration queue\): not ready, /m,
  );
});
