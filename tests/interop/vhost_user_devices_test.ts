// Interop: our virtio-input and virtio-rng device models served over
// vhost-user (examples/vhost_user_input.ts, examples/vhost_user_rng.ts) to a
// Linux guest under QEMU. The guest reads key events the test injects
// through the back-end's stdin, and random bytes from /dev/hwrng. Skips,
// with the reason printed, when QEMU, the kernel or busybox are missing.

import assert from "node:assert/strict";
import {
  describe,
  interopSkipReason,
  NEWER_QEMU_ROOT,
  newerQemu,
  runGuest,
  skipUnlessCi,
} from "./_guest.ts";
import { startBackend } from "./_backend.ts";
import { runInputCommand } from "../../examples/vhost_user_input.ts";
import {
  EV_KEY,
  EV_SYN,
  InputDevice,
  KEY_A,
  keyboardProfile,
} from "../../src/devices/input/device.ts";
import { InputDriver } from "../../src/devices/input/driver.ts";
import { VirtioBus } from "../../src/bus.ts";
import { VIRTIO_ID_INPUT } from "../../src/generated/common.ts";
import { VhostUserFrontend } from "../../src/transport/vhost_user/frontend.ts";
import { deadline } from "./_deadline.ts";

const skip = interopSkipReason("vhost_user_devices_test");

const KEY_B = 48;

Deno.test("vhost-user-input commands: type queues press/release sequences; bad ones throw", () => {
  const d = new InputDevice(keyboardProfile());
  runInputCommand(d, "type ab");
  assert.equal(d.pendingEvents, 8);
  assert.throws(() => runInputCommand(d, "type A"), /no key/);
  assert.throws(() => runInputCommand(d, "jump 1"), /unknown command/);
});

function decodeEvents(hex: string): [number, number, number][] {
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  const v = new DataView(b.buffer);
  const out: [number, number, number][] = [];
  // struct input_event on 64-bit Linux: timeval (16 bytes), type u16, code u16, value s32.
  for (let o = 0; o + 24 <= b.length; o += 24) {
    out.push([v.getUint16(o + 16, true), v.getUint16(o + 18, true), v.getInt32(o + 20, true)]);
  }
  return out;
}

// QEMU 7.2's vhost-user-input refuses to start without KVM ("vhost
// initialization failed: requires kvm", its ioeventfd check), and guests here
// run under TCG; so this test boots the newer QEMU from bookworm-backports
// that scripts/install_interop_deps.sh unpacks beside the system one.
const qemu = newerQemu();
const inputSkip = skip ??
  skipUnlessCi(
    "vhost_user_devices_test (input)",
    qemu === undefined
      ? `no QEMU >= 8 at ${NEWER_QEMU_ROOT} (run scripts/install_interop_deps.sh)`
      : undefined,
  );

Deno.test({
  name: "vhost-user-input: the guest reads the key events injected on the back-end's stdin",
  ignore: inputSkip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuinput-" });
    const socket = `${dir}/input.sock`;
    const backend = await startBackend("vhost_user_input.ts", socket, [], 30_000, true);
    try {
      let injected: Promise<void> | undefined;
      const r = await runGuest({
        script: `
# The virtio keyboard, not the PC's own i8042 one.
ev=""
for e in /sys/class/input/event*; do
  case "$(cat $e/device/name)" in virtio*) ev=$(basename $e) ;; esac
done
echo "@@name=$(cat /sys/class/input/$ev/device/name)"
cat /dev/input/$ev > /tmp/ev &
reader=$!
# Only a reader that has the device open gets events: say so once it has.
until ls -l /proc/$reader/fd 2>/dev/null | grep -q "/dev/input/$ev"; do :; done
echo "@@reading=1"
# Until all 8 events (24 bytes each) arrived; runGuest's deadline catches a hang.
until [ "$(stat -c %s /tmp/ev)" -ge 192 ]; do :; done
kill $reader
echo "@@events=$(od -A n -t x1 -v /tmp/ev | tr -d ' \\n')"
`,
        modules: ["virtio_pci", "virtio_input", "evdev"],
        qemu,
        qemuArgs: [
          "-chardev",
          `socket,id=c2,path=${socket}`,
          "-device",
          "vhost-user-input-pci,chardev=c2",
        ],
        timeoutMs: 90_000,
        onLine: (line) => {
          if (line.includes("@@reading=1")) injected = backend.send("type ab\n");
        },
      });
      await injected;
      const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(r.scriptStatus, 0, why);
      assert.equal(r.markers.get("name"), "virtio keyboard", why);
      assert.deepEqual(decodeEvents(r.markers.get("events") ?? ""), [
        [EV_KEY, KEY_A, 1],
        [EV_SYN, 0, 0],
        [EV_KEY, KEY_A, 0],
        [EV_SYN, 0, 0],
        [EV_KEY, KEY_B, 1],
        [EV_SYN, 0, 0],
        [EV_KEY, KEY_B, 0],
        [EV_SYN, 0, 0],
      ], why);
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "vhost-user-rng: the guest reads random bytes from /dev/hwrng",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vurng-" });
    const socket = `${dir}/rng.sock`;
    const backend = await startBackend("vhost_user_rng.ts", socket, []);
    try {
      const r = await runGuest({
        script: `
echo "@@current=$(cat /sys/class/misc/hw_random/rng_current)"
echo "@@bytes=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -A n -t x1 -v | tr -d ' \\n')"
`,
        modules: ["virtio_pci", "virtio_rng"],
        qemuArgs: [
          "-chardev",
          `socket,id=c3,path=${socket}`,
          "-device",
          "vhost-user-rng-pci,chardev=c3",
        ],
        timeoutMs: 90_000,
      });
      const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(r.scriptStatus, 0, why);
      assert.match(r.markers.get("current") ?? "", /^virtio_rng/, why);
      const hex = r.markers.get("bytes") ?? "";
      assert.equal(hex.length, 128, why);
      assert.notEqual(hex, "0".repeat(128), why);
    } finally {
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /served [1-9]\d* bytes/);
  },
});

Deno.test({
  name:
    "vhost-user-input back-end process driven by our input driver over the vhost-user front-end",
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuinput-fe-" });
    const socket = `${dir}/input.sock`;
    const backend = await startBackend("vhost_user_input.ts", socket, [], 30_000, true);
    // vhost-user cannot tell ring maxima: our input device takes up to 64 entries.
    const fe = await VhostUserFrontend.connect({
      socketPath: socket,
      deviceId: VIRTIO_ID_INPUT,
      queueSize: 64,
    });
    try {
      const bus = new VirtioBus(fe.dmaContext);
      const driver = new InputDriver();
      await bus.registerDriver(driver);
      const dev = await bus.addDevice(fe);
      const input = driver.inputOf(dev);
      assert.ok(input !== undefined, backend.output());
      assert.equal(input.name, "virtio keyboard", "the name through SET_CONFIG/GET_CONFIG");
      assert.ok(input.hasEvent(EV_KEY, KEY_A));
      const seen: number[] = [];
      let done: () => void = () => {};
      const all = new Promise<void>((r) => (done = r));
      input.onEvent((e) => {
        seen.push(e.type, e.code, e.value);
        if (seen.length === 24) done();
      });
      await backend.send("type ab\n");
      await deadline(all, 10_000, `events (got ${seen.length / 3})`);
      assert.deepEqual(seen, [
        ...[EV_KEY, KEY_A, 1, EV_SYN, 0, 0, EV_KEY, KEY_A, 0, EV_SYN, 0, 0],
        ...[EV_KEY, KEY_B, 1, EV_SYN, 0, 0, EV_KEY, KEY_B, 0, EV_SYN, 0, 0],
      ]);
      await bus.removeDevice(dev);
    } finally {
      fe.close();
      await fe.closed();
      await backend.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
