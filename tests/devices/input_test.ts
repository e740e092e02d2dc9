// virtio-input: keyboard, mouse and tablet profiles driven by the input
// driver over MMIO and PCI: every config selector (and size 0 for what is
// not supported), event delivery a whole sequence at a time, the statusq
// (LEDs), hostile buffers, and a property test of the selector window.

import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtioBus } from "../../src/bus.ts";
import {
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VIRTIO_INPUT_CFG_PROP_BITS,
  VIRTIO_INPUT_CFG_UNSET,
} from "../../src/generated/devices/input.ts";
import { DmaAllocator, GuestMemory } from "../../src/memory.ts";
import { MmioDevice, probeMmio } from "../../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../../src/transport/pci/mod.ts";
import type { Transport } from "../../src/transport/transport.ts";
import {
  ABS_X,
  ABS_Y,
  BTN_LEFT,
  BUS_VIRTUAL,
  EV_ABS,
  EV_KEY,
  EV_LED,
  EV_REL,
  EV_REP,
  EV_SYN,
  INPUT_PROP_DIRECT,
  InputDevice,
  type InputDeviceOptions,
  InputDriver,
  type InputEvent,
  type InputHandle,
  type InputProfile,
  KEY_A,
  KEY_CAPSLOCK,
  keyboardProfile,
  LED_CAPSL,
  LED_NUML,
  mouseProfile,
  REL_WHEEL,
  REL_X,
  REL_Y,
  tabletProfile,
} from "../../src/devices/input/mod.ts";
import { MAIN_KINDS, type MainKind } from "../transport/_kinds.ts";

const MEM = 1 << 20;

async function rig(
  kind: MainKind,
  profile: InputProfile,
  options: InputDeviceOptions = {},
  before?: (d: InputDevice) => void,
) {
  const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000), log });
  const device = new InputDevice(profile, options);
  before?.(device);
  const t: Transport | undefined = kind === "mmio-v2"
    ? probeMmio(new MmioDevice(device, memory, { log }))
    : probePci(new PciFunction(device, memory, { log }));
  if (t === undefined) throw new Error("probe failed");
  const driver = new InputDriver();
  await bus.registerDriver(driver);
  const dev = await bus.addDevice(t);
  const input = driver.inputOf(dev);
  assert.ok(input, `input driver did not bind: ${logs.join("; ")}`);
  const events: InputEvent[] = [];
  (input as InputHandle).onEvent((e) => events.push({ ...e }));
  return { device, input: input as InputHandle, dev, bus, memory, events, logs };
}

const ev = (type: number, code: number, value: number): InputEvent => ({ type, code, value });
const SYN = ev(EV_SYN, 0, 0);

for (const kind of MAIN_KINDS) {
  Deno.test(`input/${kind}: keyboard identity and capabilities from the selectors`, async () => {
    const { input } = await rig(kind, keyboardProfile());
    assert.equal(input.name, "virtio keyboard");
    assert.equal(input.serial, "typed-virtio-kbd");
    assert.deepEqual(input.ids, { bustype: BUS_VIRTUAL, vendor: 0x0627, product: 1, version: 1 });
    assert.equal(input.props.size, 0);
    assert.equal(input.events.get(EV_KEY)?.size, 248);
    assert.ok(input.hasEvent(EV_KEY, KEY_A));
    assert.deepEqual([...(input.events.get(EV_LED) ?? [])], [0, 1, 2]);
    assert.ok(input.events.has(EV_REP));
    assert.ok(!input.events.has(EV_REL));
  });

  Deno.test(`input/${kind}: key presses arrive as whole sequences`, async () => {
    const { device, events } = await rig(kind, keyboardProfile());
    device.key(KEY_A, true);
    device.key(KEY_A, false);
    assert.deepEqual(events, [ev(EV_KEY, KEY_A, 1), SYN, ev(EV_KEY, KEY_A, 0), SYN]);
    // An unfinished sequence waits for its SYN_REPORT.
    device.inject(EV_KEY, KEY_CAPSLOCK, 1);
    assert.equal(events.length, 4);
    device.sync();
    assert.equal(events.length, 6);
    // More events than buffers at once: the driver re-posts, nothing is lost.
    for (let i = 0; i < 500; i++) device.key(KEY_A, i % 2 === 0);
    assert.equal(events.length, 6 + 1000);
  });

  Deno.test(`input/${kind}: LEDs through the statusq`, async () => {
    const { device, input } = await rig(kind, keyboardProfile());
    const seen: unknown[] = [];
    device.onStatus((e) => seen.push(e));
    input.setLed(LED_CAPSL, true);
    input.setLed(LED_NUML, true);
    input.setLed(LED_NUML, false);
    assert.equal(device.leds.get(LED_CAPSL), true);
    assert.equal(device.leds.get(LED_NUML), false);
    assert.deepEqual(seen[0], { type: EV_LED, code: LED_CAPSL, value: 1 });
    for (let i = 0; i < 200; i++) input.setLed(LED_CAPSL, i % 2 === 0); // buffers are recycled
    assert.equal(seen.length, 203);
  });

  Deno.test(`input/${kind}: mouse motion with signed values`, async () => {
    const { device, input, events } = await rig(kind, mouseProfile());
    assert.deepEqual([...(input.events.get(EV_REL) ?? [])], [REL_X, REL_Y, REL_WHEEL]);
    device.moveRel(-5, 7, -1);
    device.key(BTN_LEFT, true);
    assert.deepEqual(events, [
      ev(EV_REL, REL_X, -5),
      ev(EV_REL, REL_Y, 7),
      ev(EV_REL, REL_WHEEL, -1),
      SYN,
      ev(EV_KEY, BTN_LEFT, 1),
      SYN,
    ]);
  });

  Deno.test(`input/${kind}: tablet axes and ABS_INFO`, async () => {
    const { device, input, events } = await rig(kind, tabletProfile("pen", 1000));
    assert.equal(input.name, "pen");
    assert.ok(input.props.has(INPUT_PROP_DIRECT));
    assert.deepEqual(input.abs.get(ABS_X), { min: 0, max: 1000, fuzz: 0, flat: 0, res: 0 });
    assert.deepEqual(input.abs.get(ABS_Y)?.max, 1000);
    device.moveAbs(500, 250);
    assert.deepEqual(events, [ev(EV_ABS, ABS_X, 500), ev(EV_ABS, ABS_Y, 250), SYN]);
  });

  Deno.test(`input/${kind}: unsupported selectors answer size 0`, async () => {
    const { input } = await rig(kind, mouseProfile());
    assert.equal(input.query(VIRTIO_INPUT_CFG_UNSET, 0).length, 0);
    assert.equal(input.query(0x7f, 0).length, 0);
    assert.equal(input.query(VIRTIO_INPUT_CFG_ID_NAME, 1).length, 0);
    assert.equal(input.query(VIRTIO_INPUT_CFG_EV_BITS, EV_ABS).length, 0);
    assert.equal(input.query(VIRTIO_INPUT_CFG_ABS_INFO, ABS_X).length, 0);
    assert.equal(input.query(VIRTIO_INPUT_CFG_ID_DEVIDS, 3).length, 0);
    assert.equal(input.abs.size, 0);
  });

  Deno.test(`input/${kind}: events queued before the driver, whole sequences dropped past the backlog`, async () => {
    const { events, device } = await rig(kind, mouseProfile(), { backlog: 4 }, (d) => {
      d.moveRel(1, 1);
      d.moveRel(2, 2);
      d.moveRel(3, 3);
    });
    assert.equal(device.dropped, 6);
    assert.deepEqual(events, [ev(EV_REL, REL_X, 3), ev(EV_REL, REL_Y, 3), SYN]);
  });

  Deno.test(`input/${kind}: a sequence longer than the ring is dropped whole, the next arrives`, async () => {
    const { events, device } = await rig(kind, keyboardProfile(), { queueSize: 4 });
    for (let i = 0; i < 5; i++) device.inject(EV_KEY, KEY_A + i, 1);
    device.sync();
    assert.equal(device.dropped, 6);
    device.key(KEY_A, true);
    assert.deepEqual(events, [ev(EV_KEY, KEY_A, 1), SYN]);
  });

  Deno.test(`input/${kind}: hostile buffers: short status and event buffers`, async () => {
    const { device, dev, memory, events } = await rig(kind, keyboardProfile());
    const { dma } = dev.dmaContext;
    const a = dma.alloc(16, 8);
    memory.bytes(a, 16).fill(0xff);
    dev.vqs[1].addOutbuf({ addr: a, len: 4 }, { addr: dma.alloc(8, 8) });
    dev.vqs[1].kick();
    assert.equal(device.badStatus, 1);
    assert.equal(device.leds.size, 0);
    assert.equal(dev.needsReset, false);
    device.key(KEY_A, true);
    assert.equal(events.length, 2);
  });

  Deno.test(`input/${kind}: fuzzed selector writes always give a consistent answer`, async () => {
    const profile = tabletProfile();
    const { device, input } = await rig(kind, profile);
    const enc = new TextEncoder();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xff }),
        (sel, sub) => {
          const got = input.query(sel, sub);
          let want = 0;
          if (sel === VIRTIO_INPUT_CFG_ID_NAME && sub === 0) want = enc.encode(profile.name).length;
          if (sel === VIRTIO_INPUT_CFG_ID_SERIAL && sub === 0) {
            want = enc.encode(profile.serial ?? "").length;
          }
          if (sel === VIRTIO_INPUT_CFG_ID_DEVIDS && sub === 0) want = 8;
          if (sel === VIRTIO_INPUT_CFG_PROP_BITS && sub === 0) want = 1;
          if (sel === VIRTIO_INPUT_CFG_EV_BITS && sub === EV_KEY) want = (BTN_LEFT + 2 >> 3) + 1;
          if (sel === VIRTIO_INPUT_CFG_EV_BITS && sub === EV_ABS) want = 1;
          if (sel === VIRTIO_INPUT_CFG_ABS_INFO && (sub === ABS_X || sub === ABS_Y)) want = 20;
          assert.equal(got.length, want, `select ${sel} subsel ${sub}`);
          // Writes to other fields are ignored (5.8.5.1: the driver may not write them).
          device.writeConfig(2, 1, 99);
          device.writeConfig(8, 4, 0xdeadbeef);
          assert.deepEqual(input.query(sel, sub), got);
        },
      ),
      { numRuns: 300, seed: 33 },
    );
  });
}

Deno.test("input: the async iterator yields events in order and ends on removal", async () => {
  const { device, input, bus, dev } = await rig("mmio-v2", keyboardProfile());
  input.onEvent(undefined);
  device.key(KEY_A, true);
  const it = input.eventStream();
  assert.deepEqual((await it.next()).value, ev(EV_KEY, KEY_A, 1));
  assert.deepEqual((await it.next()).value, SYN);
  const end = it.next();
  await bus.removeDevice(dev);
  assert.equal((await end).done, true);
});
