// A virtio keyboard and a virtio tablet on one bus: the driver reads each
// device's identity and capabilities through the config selectors, events
// are injected on the device side and read by the driver, and the driver
// turns on caps lock, which the keyboard sees on its status queue.
// Run: deno run examples/input.ts

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { MmioDevice, probeMmio } from "../src/transport/mmio/mod.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import {
  EV_ABS,
  EV_KEY,
  EV_SYN,
  InputDevice,
  InputDriver,
  KEY_CAPSLOCK,
  KEY_Q,
  keyboardProfile,
  LED_CAPSL,
  tabletProfile,
} from "../src/devices/input/mod.ts";

const MEM = 1 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
const driver = new InputDriver();
await bus.registerDriver(driver);

const keyboard = new InputDevice(keyboardProfile());
const tablet = new InputDevice(tabletProfile("virtio tablet", 1920));
const tk = probeMmio(new MmioDevice(keyboard, memory));
const tt = probePci(new PciFunction(tablet, memory));
if (!tk || !tt) throw new Error("probe failed");
const kbd = driver.inputOf(await bus.addDevice(tk));
const pen = driver.inputOf(await bus.addDevice(tt));
if (!kbd || !pen) throw new Error("driver did not bind");

for (const h of [kbd, pen]) {
  const types = [...h.events.keys()].map((t) => `0x${t.toString(16)}`).join(", ");
  console.log(`${h.name} (serial ${h.serial}, product ${h.ids?.product}): event types ${types}`);
}
console.log("tablet X axis:", pen.abs.get(0));

const names: Record<number, string> = { [EV_SYN]: "SYN", [EV_KEY]: "KEY", [EV_ABS]: "ABS" };
kbd.onEvent((e) => console.log(`keyboard: ${names[e.type]} code ${e.code} value ${e.value}`));
pen.onEvent((e) => console.log(`tablet:   ${names[e.type]} code ${e.code} value ${e.value}`));

keyboard.key(KEY_Q, true);
keyboard.key(KEY_Q, false);
tablet.moveAbs(960, 540);

keyboard.onStatus((e) =>
  console.log(
    `keyboard status queue: type 0x${e.type.toString(16)} code ${e.code} value ${e.value}`,
  )
);
keyboard.key(KEY_CAPSLOCK, true);
kbd.setLed(LED_CAPSL, true);
console.log("caps lock LED on the device:", keyboard.leds.get(LED_CAPSL));

for (const d of [...bus.devices]) await bus.removeDevice(d);
