// The scenarios every transport runs in its one shared boot.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { V86Machine } from "../../../src/hosts/v86/machine.ts";
import type { V86Transport } from "../../../src/hosts/v86/host.ts";
import { BlkDevice, MemoryStorage } from "../../../src/devices/blk/mod.ts";
import { VIRTIO_F_VERSION_1 } from "../../../src/generated/common.ts";
import { VIRTIO_ID_BLOCK } from "../../../src/generated/common.ts";
import { ConsoleDevice } from "../../../src/devices/console/mod.ts";
import { RngDevice } from "../../../src/devices/rng/mod.ts";
import { NetDevice } from "../../../src/devices/net/mod.ts";
import { BalloonDevice } from "../../../src/devices/balloon/mod.ts";
import { VIRTIO_BALLOON_F_DEFLATE_ON_OOM } from "../../../src/generated/devices/balloon.ts";
import { EV_KEY, EV_SYN, InputDevice, keyboardProfile } from "../../../src/devices/input/mod.ts";
import type { VirtioDevice } from "../../../src/device.ts";
import {
  VIRTIO_ID_BALLOON,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_INPUT,
  VIRTIO_ID_NET,
  VIRTIO_ID_RNG,
} from "../../../src/generated/common.ts";
import { HOST_IP, IcmpResponder } from "./_icmp_responder.ts";
import { boot, kitOrSkip, Log, negotiated, sysfsDevice } from "./_guest.ts";

/** The devices of one boot and what the scenarios need of them. */
export interface Rig {
  readonly image: Uint8Array;
  readonly blk: BlkDevice;
  readonly console: ConsoleDevice;
  readonly rng: RngDevice;
  /** Every byte our rng source produced, as hex. */
  readonly rngProduced: string[];
  readonly net: NetDevice;
  readonly network: IcmpResponder;
  readonly balloon: BalloonDevice;
  readonly input: InputDevice;
}

/**
 * The devices of one boot. The balloon offers VIRTIO_BALLOON_F_DEFLATE_ON_OOM
 * or not as `deflateOnOom` says: Linux takes inflated pages out of MemTotal
 * only without it, and the transports share the two cases between them.
 */
export function makeRig(options: { deflateOnOom?: boolean } = {}): Rig {
  const image = new Uint8Array(16 << 20);
  const rngProduced: string[] = [];
  let seed = 0x2545f491;
  const network = new IcmpResponder();
  return {
    image,
    blk: new BlkDevice({ storage: new MemoryStorage(image) }),
    console: new ConsoleDevice(),
    rngProduced,
    rng: new RngDevice({
      // A xorshift stream, recorded: the guest's bytes must be found in it.
      source: (buf) => {
        for (let i = 0; i < buf.length; i++) {
          seed ^= seed << 13;
          seed ^= seed >>> 17;
          seed ^= seed << 5;
          buf[i] = seed & 0xff;
        }
        rngProduced.push(hex(buf));
      },
    }),
    net: new NetDevice({ mac: "52:54:00:12:34:56", backend: network }),
    network,
    balloon: new BalloonDevice({ deflateOnOom: options.deflateOnOom ?? true }),
    input: new InputDevice(keyboardProfile()),
  };
}

/** The rig's devices in attach order. */
export function rigDevices(rig: Rig): VirtioDevice[] {
  return [rig.blk, rig.console, rig.rng, rig.net, rig.balloon, rig.input];
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Checks what the guest negotiated: a subset of the offer, VERSION_1 iff not legacy. */
export async function checkFeatures(
  m: V86Machine,
  type: number,
  offered: bigint,
  transport: V86Transport,
): Promise<bigint> {
  const f = await negotiated(m, await sysfsDevice(m, type));
  assert.equal(f & ~offered, 0n, `guest accepted features the device did not offer`);
  // 4.1.2.1: only the types with a transitional PCI id have a legacy interface
  // (virtio-input has none, so Linux drives it as modern even with force_legacy).
  const transitionalType = [VIRTIO_ID_NET, VIRTIO_ID_BLOCK, VIRTIO_ID_BALLOON, VIRTIO_ID_CONSOLE]
    .includes(type) || type === VIRTIO_ID_RNG;
  const legacy = transport === "mmio-v1" || (transport === "pci-transitional" && transitionalType);
  assert.equal((f >> BigInt(VIRTIO_F_VERSION_1)) & 1n, legacy ? 0n : 1n, "VIRTIO_F_VERSION_1");
  return f;
}

/** Reads a file out of an ext2 image with e2fsprogs' debugfs: the host's own look at the disk. */
async function debugfsCat(image: Uint8Array, path: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".img" });
  try {
    await Deno.writeFile(file, image);
    const out = await new Deno.Command("debugfs", { args: ["-R", `cat ${path}`, file] }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}

/** blk: mkfs.ext2, mount, write files, unmount; the host finds the files in the image. */
export async function blkScenario(m: V86Machine, rig: Rig, transport: V86Transport): Promise<void> {
  await checkFeatures(m, VIRTIO_ID_BLOCK, rig.blk.features, transport);
  const sectors = Number((await m.run("cat /sys/block/vda/size")).trim());
  assert.equal(sectors * 512, rig.image.length, "the guest sees the image's size");
  await m.run(
    "mkfs.ext2 -q /dev/vda && mount -t ext2 /dev/vda /mnt && " +
      `echo 'written by Linux over ${transport}' > /mnt/greeting && mkdir /mnt/dir && ` +
      "seq 1 50000 > /mnt/dir/numbers && umount /mnt && sync",
  );
  assert.equal(await debugfsCat(rig.image, "/greeting"), `written by Linux over ${transport}\n`);
  const numbers = (await debugfsCat(rig.image, "/dir/numbers")).trim().split("\n");
  assert.equal(numbers.length, 50000);
  assert.equal(numbers.at(-1), "50000");
}

/**
 * Declares the test of one transport: one boot with every device attached,
 * each scenario a step. Skipped (outside CI) without the kit.
 */
export async function transportTest(transport: V86Transport, title: string): Promise<void> {
  const ready = await kitOrSkip();
  Deno.test({
    name: `v86 + Linux over ${title}: the guest drives our devices`,
    ignore: !ready,
    // v86 keeps timers and the emulator's resources until it is destroyed.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      // PCI modern and MMIO v2 offer DEFLATE_ON_OOM; the legacy-driven two do not.
      const rig = makeRig({ deflateOnOom: transport === "pci" || transport === "mmio" });
      const log = new Log();
      const payload = new Uint8Array(100_003).map((_, i) => (i * 131 + (i >> 8)) & 0xff);
      const m = await boot(transport, rigDevices(rig), log, "", { "/opt/tv/payload": payload });
      try {
        const steps: [string, () => Promise<void>][] = [
          [
            "a file given to bootV86 is in the guest, byte for byte",
            async () => {
              const sum = (await m.run("sha256sum /opt/tv/payload")).trim().split(/\s+/)[0];
              assert.equal(sum, createHash("sha256").update(payload).digest("hex"));
            },
          ],
          [
            "blk: mkfs.ext2, mount, write, umount; the host reads the files",
            () => blkScenario(m, rig, transport),
          ],
          ["console: hvc0 round trip, 1 MiB each way", () => consoleScenario(m, rig, transport)],
          ["rng: /dev/hwrng gives bytes of our source", () => rngScenario(m, rig, transport)],
          ["net: the guest pings the host's responder", () => netScenario(m, rig, transport)],
          [
            "balloon: the guest inflates to num_pages and reports actual",
            () => balloonScenario(m, rig, transport),
          ],
          [
            transport === "mmio-v1"
              ? "input: Linux refuses virtio-input without VERSION_1 (no legacy interface)"
              : "input: key events injected on the host are read from /dev/input",
            () => inputScenario(m, rig, transport),
          ],
          [
            "garbage register writes are refused and logged; the host runs on",
            () => garbageScenario(m, rig, transport, log),
          ],
        ];
        for (const [name, fn] of steps) await t.step(name, fn);
      } finally {
        m.stop();
      }
    },
  });
}

const sha256 = async (b: Uint8Array): Promise<string> =>
  hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>)));

/** console: 1 MiB from the guest to the host and 1 MiB back, over /dev/hvc0 in raw mode. */
export async function consoleScenario(
  m: V86Machine,
  rig: Rig,
  transport: V86Transport,
): Promise<void> {
  await checkFeatures(m, VIRTIO_ID_CONSOLE, rig.console.features, transport);
  const port = rig.console.port(0);
  assert.ok(port !== undefined);
  const size = 1 << 20;
  // Guest to host: the guest's own checksum of what it sent against what arrived.
  const reader = port.readable.getReader();
  const got = new Uint8Array(size);
  const arrived = (async () => {
    let n = 0;
    while (n < size) {
      const { value, done } = await reader.read();
      if (done) break;
      got.set(value.subarray(0, size - n), n);
      n += value.length;
    }
    reader.releaseLock();
    return n;
  })();
  const sent = await m.run(
    "dd if=/dev/urandom of=/tmp/blob bs=65536 count=16 2>/dev/null && " +
      // hvc resets its termios on the last close: raw mode and the copy share one open.
      "exec 3<>/dev/hvc0 && stty raw -echo <&3 && cat /tmp/blob >&3 && exec 3>&- && " +
      "sha256sum /tmp/blob",
  );
  assert.equal(await arrived, size);
  assert.equal(sent.trim().split(/\s+/).at(-2), await sha256(got));
  // Host to guest: printable bytes (a tty, even raw, is no place for NULs to prove a point).
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = 0x41 + ((i * 7 + (i >> 10)) % 26);
  const received = m.run(`{ stty raw -echo && head -c ${size}; } </dev/hvc0 | sha256sum`);
  await new Promise((r) => setTimeout(r, 2000)); // let head open the port first
  const writer = port.writable.getWriter();
  for (let i = 0; i < size; i += 4096) await writer.write(data.slice(i, i + 4096));
  writer.releaseLock();
  assert.equal((await received).trim().split(/\s+/)[0], await sha256(data));
}

/** rng: what /dev/hwrng gives the guest is a run of our source's stream. */
export async function rngScenario(m: V86Machine, rig: Rig, transport: V86Transport): Promise<void> {
  await checkFeatures(m, VIRTIO_ID_RNG, rig.rng.features, transport);
  const current = (await m.run("cat /sys/class/misc/hw_random/rng_current")).trim();
  assert.match(current, /virtio_rng/);
  const out = await m.run("head -c 16 /dev/hwrng | od -An -tx1 -v");
  const bytes = out.replace(/\s+/g, "");
  assert.equal(bytes.length, 32);
  assert.ok(rig.rngProduced.join("").includes(bytes), `guest bytes ${bytes} not from our source`);
}

/** net: the guest's ping of the host's address is answered by the responder behind our device. */
export async function netScenario(m: V86Machine, rig: Rig, transport: V86Transport): Promise<void> {
  await checkFeatures(m, VIRTIO_ID_NET, rig.net.features, transport);
  const out = await m.run(
    "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && " +
      `ping -c 3 -W 10 ${HOST_IP.join(".")}`,
  );
  assert.match(out, /3 packets transmitted, 3 packets received/);
  assert.ok(rig.network.echoReplies >= 3);
  assert.ok(rig.network.arpReplies >= 1);
}

/**
 * balloon: the host asks for pages; the guest gives exactly that many distinct
 * pages of its RAM and writes `actual` to match. What the guest's MemTotal
 * does depends on DEFLATE_ON_OOM: Linux's fill_balloon (6.1,
 * drivers/virtio/virtio_balloon.c) calls adjust_managed_page_count(page, -1)
 * only when that feature was not negotiated; with it, the pages stay counted
 * so the OOM notifier can hand them back, and MemTotal does not move.
 */
export async function balloonScenario(
  m: V86Machine,
  rig: Rig,
  transport: V86Transport,
): Promise<void> {
  const f = await checkFeatures(m, VIRTIO_ID_BALLOON, rig.balloon.features, transport);
  const deflateOnOom = ((f >> BigInt(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) & 1n) === 1n;
  assert.equal(
    deflateOnOom,
    ((rig.balloon.features >> BigInt(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) & 1n) === 1n,
    "Linux accepts DEFLATE_ON_OOM exactly when it is offered",
  );
  const memTotal = async () =>
    Number(/MemTotal:\s+(\d+) kB/.exec(await m.run("cat /proc/meminfo"))?.[1]);
  const before = await memTotal();
  const pages = 2048; // 8 MiB
  rig.balloon.setTarget(pages);
  for (let i = 0; i < 120 && rig.balloon.actual !== pages; i++) {
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = await memTotal();
  assert.equal(rig.balloon.target, pages, "num_pages as the host set it");
  assert.equal(rig.balloon.actual, pages, "actual as the guest wrote it");
  assert.equal(rig.balloon.pages.size, pages, "distinct pages the guest gave");
  const ramPages = (160 << 20) / 4096;
  for (const pfn of rig.balloon.pages) assert.ok(pfn > 0 && pfn < ramPages, `pfn ${pfn} in RAM`);
  assert.equal(rig.balloon.counters.ignoredPfns, 0, "no page outside the guest's memory");
  assert.equal(
    before - after,
    deflateOnOom ? 0 : pages * 4,
    deflateOnOom
      ? "with DEFLATE_ON_OOM Linux keeps the balloon's pages in MemTotal"
      : "without DEFLATE_ON_OOM the guest's MemTotal shrinks by the balloon",
  );
}

/** input: events injected on the host arrive in the guest's evdev node. */
export async function inputScenario(
  m: V86Machine,
  rig: Rig,
  transport: V86Transport,
): Promise<void> {
  const f = await checkFeatures(m, VIRTIO_ID_INPUT, rig.input.features, transport);
  if (((f >> BigInt(VIRTIO_F_VERSION_1)) & 1n) === 0n) {
    // Only MMIO v1 gets here (checkFeatures: VERSION_1 is negotiated
    // everywhere else). virtio-input has no legacy interface (5.8; no
    // transitional PCI id in 4.1.2.1), and Linux's virtinput_probe returns
    // -ENODEV without VIRTIO_F_VERSION_1: the device is enumerated, no driver
    // binds, and no evdev node appears. That refusal is what Linux guarantees.
    assert.equal(transport, "mmio-v1");
    const dir = await sysfsDevice(m, VIRTIO_ID_INPUT);
    assert.equal(
      (await m.run(`[ -e ${dir}/driver ] && echo bound || echo unbound`)).trim(),
      "unbound",
      "virtio_input refuses a device without VERSION_1",
    );
    const names = await m.run("cat /sys/class/input/event*/device/name 2>/dev/null; true");
    assert.ok(!/virtio keyboard/.test(names), `no virtio evdev node: ${names}`);
    return;
  }
  const node = (await m.run(
    "for e in /sys/class/input/event*; do grep -q 'virtio keyboard' $e/device/name && basename $e; done",
  )).trim();
  assert.match(node, /^event\d+$/);
  // i386 struct input_event: 8 bytes of time, type le16, code le16, value le32.
  // evdev passes events only to a reader that has the node open, and when `head` gets to open it
  // depends on the guest's speed (a fixed wait lost the events under load and `head` waited
  // forever). So the host repeats the packet pair (key down + SYN, key up + SYN) until the read
  // is done, and the guest reads 8 events: any 8 in a row of that cycle hold one whole pair.
  let done = false;
  const read = m.run(`head -c 128 /dev/input/${node} | od -An -tx1 -v`).finally(() => {
    done = true;
  });
  while (!done) {
    rig.input.inject(EV_KEY, 30, 1); // KEY_A down
    rig.input.inject(EV_SYN, 0, 0);
    rig.input.inject(EV_KEY, 30, 0);
    rig.input.inject(EV_SYN, 0, 0);
    await Promise.race([read, new Promise((r) => setTimeout(r, 500))]);
  }
  const bytes = (await read).trim().split(/\s+/).map((x) => parseInt(x, 16));
  const events: string[] = [];
  for (let i = 0; i + 16 <= bytes.length; i += 16) {
    const v = new DataView(Uint8Array.from(bytes.slice(i, i + 16)).buffer);
    events.push([v.getUint16(8, true), v.getUint16(10, true), v.getInt32(12, true)].join(","));
  }
  assert.equal(events.length, 8, `8 events read: ${events.join(" ")}`);
  // Every event is one of the cycle's, in the cycle's order, and a whole pair is there.
  const cycle = [`${EV_KEY},30,1`, `${EV_SYN},0,0`, `${EV_KEY},30,0`, `${EV_SYN},0,0`];
  const start = events.findIndex((e, i) => e === cycle[0] && events[i + 2] === cycle[2]);
  assert.ok(start >= 0 && start <= 4, `a key-down, key-up pair in ${events.join(" ")}`);
  for (let i = 0; i < events.length; i++) {
    assert.equal(events[i], cycle[(i - start + 4 * 4) % 4], `event ${i} of ${events.join(" ")}`);
  }
}

/**
 * Garbage register writes from the guest: a root shell writes read-only PCI
 * config registers through sysfs, pokes the BAR through the PCI cfg access
 * capability, and writes into the host's MMIO block outside every device
 * window with devmem. Each is refused and logged; the devices keep working.
 */
export async function garbageScenario(
  m: V86Machine,
  rig: Rig,
  transport: V86Transport,
  log: Log,
): Promise<void> {
  const before = log.lines.length;
  if (transport.startsWith("pci")) {
    const dev = (await m.run(
      "for d in /sys/bus/pci/devices/*; do [ $(cat $d/vendor) = 0x1af4 ] && echo $d && break; done",
    )).trim();
    const poke = (offset: number, bytes: string) =>
      m.run(`printf '${bytes}' | dd of=${dev}/config bs=1 seek=${offset} conv=notrunc 2>/dev/null`);
    await poke(0x00, "\\xff\\xff\\xff\\xff"); // vendor and device id: read-only
    await poke(0x2c, "\\x00\\x00"); // subsystem vendor: read-only
    await poke(0x40, "\\x00"); // a capability id: read-only
    // devmem into the host's block of PCI windows, past every BAR.
    await m.run("devmem 0xfe01f000 32 0xdeadbeef; devmem 0xfe01f000 32 >/dev/null");
  } else {
    await m.run("devmem 0xfe80f000 32 0xdeadbeef; devmem 0xfe80f000 32 >/dev/null");
  }
  const refused = log.lines.slice(before);
  assert.ok(refused.length >= 2, `refusals logged: ${JSON.stringify(refused)}`);
  assert.ok(refused.some((l) => /hits no device window/.test(l)));
  if (transport.startsWith("pci")) assert.ok(refused.some((l) => /read-only PCI config/.test(l)));
  // The device model and the guest are still fine: read the disk back.
  await m.run("mount -t ext2 -o ro /dev/vda /mnt && cat /mnt/greeting && umount /mnt");
  assert.equal(rig.blk.stats.errors, 0);
}
