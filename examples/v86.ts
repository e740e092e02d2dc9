/**
 * `deno task v86 [image] [--transport pci|pci-transitional|mmio|mmio-v1]`:
 * boots Linux (the guest kit of scripts/install_v86_kit.sh) in the v86
 * emulator with our blk, net, console, rng, balloon and input devices, the
 * guest's serial console on this terminal. Without an image, blk serves a
 * fresh 64 MiB one in memory. Leave with Ctrl-]
 *
 * In the guest: `ls /sys/bus/virtio/devices`, `mkfs.ext2 /dev/vda`,
 * `cat /dev/hwrng | head -c 16 | od -x`, `echo hi > /dev/hvc0`...
 */
import { bootV86, type V86Transport } from "../src/hosts/v86/mod.ts";
import { BlkDevice, FileStorage, MemoryStorage } from "../src/devices/blk/mod.ts";
import { connectBackToBack, NetDevice } from "../src/devices/net/mod.ts";
import { ConsoleDevice } from "../src/devices/console/mod.ts";
import { RngDevice } from "../src/devices/rng/mod.ts";
import { BalloonDevice } from "../src/devices/balloon/mod.ts";
import { InputDevice, keyboardProfile } from "../src/devices/input/mod.ts";

const args = [...Deno.args];
const t = args.indexOf("--transport");
const transport = (t >= 0 ? args.splice(t, 2)[1] : "pci") as V86Transport;
const image = args[0];
const storage = image ? new FileStorage(image) : new MemoryStorage(new Uint8Array(64 << 20));
const [netEnd] = connectBackToBack(); // a cable to nowhere: the link is up, nothing answers
const devices = [
  new BlkDevice({ storage }),
  new NetDevice({ backend: netEnd }),
  new ConsoleDevice(),
  new RngDevice(),
  new BalloonDevice(),
  new InputDevice(keyboardProfile()),
];
console.error(
  `booting Linux in v86 with ${devices.length} typed-virtio devices over ${transport}...`,
);
const out = (b: number) => Deno.stdout.writeSync(Uint8Array.of(b));
const machine = await bootV86({
  devices: devices.map((device) => ({ device, transport })),
  cmdline: transport === "pci-transitional" ? "virtio_pci.force_legacy=1" : "",
  onSerial: out,
  log: (line) => console.error(`\n[host] ${line}`),
});
console.error(`\n[host] shell after ${machine.bootSeconds.toFixed(1)} s; Ctrl-] quits`);
if (Deno.stdin.isTerminal()) Deno.stdin.setRaw(true);
const buf = new Uint8Array(256);
for (;;) {
  const n = await Deno.stdin.read(buf);
  if (n === null || buf.subarray(0, n).includes(0x1d)) break;
  machine.send(new TextDecoder().decode(buf.subarray(0, n)));
}
if (Deno.stdin.isTerminal()) Deno.stdin.setRaw(false);
machine.stop();
Deno.exit(0);
