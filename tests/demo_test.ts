// The main demo (`deno task demo`) runs as a newcomer runs it: a subprocess
// with exactly the task's permissions, checked for its exit code and the key
// lines of each of its three acts, so it cannot break silently.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));

/** The demo task's arguments after `deno`, e.g. `["run", "--allow-read", "examples/demo.ts"]`. */
function taskArgs(): string[] {
  const task: string = config.tasks.demo;
  const words = task.trim().split(/\s+/);
  assert.equal(words[0], "deno", `the demo task runs deno: ${task}`);
  assert.equal(words.at(-1), "examples/demo.ts", `the demo task runs examples/demo.ts: ${task}`);
  return words.slice(1);
}

Deno.test("deno task demo: exits 0 and prints the three acts", async () => {
  // No timing assertion (a shared machine makes any bound flaky); only a
  // generous deadline, so that a hung demo fails instead of hanging the suite.
  const hang = AbortSignal.timeout(300_000);
  const out = await new Deno.Command(Deno.execPath(), {
    args: taskArgs(),
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: hang,
  }).output();
  assert.ok(!hang.aborted, "the demo hung: killed after 300 s");
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `demo failed:\n${stdout}\n${stderr}`);
  assert.equal(stderr, "", "the demo writes nothing to stderr (no warnings, no bus errors)");
  const lines = stdout.split("\n");
  assert.ok(lines.length <= 85, `the demo prints ${lines.length} lines; keep it short`);

  const expect = (re: RegExp, what: string) => assert.match(stdout, re, what);
  // The acts, in order.
  const acts = ["=== 1. Layouts", "=== 2. One queue", "=== 3. One bus"].map((h) =>
    stdout.indexOf(h)
  );
  assert.ok(acts.every((i, k) => i >= 0 && (k === 0 || i > acts[k - 1])), "three acts, in order");

  // Act 1: the ring laid out through the generated accessors.
  expect(/1 +0x1010 +512 +NEXT\|WRITE +2 +data/, "descriptor 1 of the hand-made chain");
  expect(/used ring: +idx=1 ring\[0\]=\{id: 0, len: 513\}/, "the used ring entry");
  expect(/descriptor 0 as bytes: 00 10 00 00 00 00 00 00 10 00 00 00 01 00 01 00/, "raw bytes");

  // Act 2: both sides of one queue.
  expect(
    /device: chain head 0: \[R 0x[0-9a-f]+\+13, W 0x[0-9a-f]+\+32, W 0x[0-9a-f]+\+1\]/,
    "chain",
  );
  expect(/driver: "hello, device" back, used len 14: "HELLO, DEVICE"/, "used length");
  expect(/driver: "split rings" back, used len 12: "SPLIT RINGS"/, "third request");

  // Act 3: every device probed over its transport, used once, removed.
  const probes: [string, string, string][] = [
    ["MMIO", "00000002", "virtio-blk"],
    ["MMIO", "00000001", "virtio-net"],
    ["PCI ", "00000001", "virtio-net"],
    ["MMIO", "00000004", "virtio-rng"],
    ["PCI ", "00000003", "virtio-console"],
    ["MMIO", "00000012", "virtio-input"],
    ["PCI ", "00000005", "virtio-balloon"],
  ];
  probes.forEach(([kind, id, driver], i) => {
    assert.ok(
      stdout.includes(`virtio${i} ${kind} virtio:d${id}v00001AF4 -> ${driver}`),
      `probe of ${driver}`,
    );
    assert.match(
      stdout,
      new RegExp(`bus: remove virtio${i} \\(${driver}\\): status 0x00`),
      `remove of ${driver}`,
    );
  });
  expect(/features: SIZE_MAX .*FLUSH/, "blk features by name");
  expect(/features: CSUM [A-Z_0-9 ]*MAC/, "net features by name");
  expect(/ MRG_RXBUF /, "net features by name, wrapped");
  expect(/VERSION_1/, "transport features by name");
  expect(/wrote sector 8, read back "typed-virtio was here"/, "blk read after write");
  expect(/sent 60 bytes, 52:54:00:00:00:02 received 60: "ping over virtio-net"/, "net frame");
  expect(/16 random bytes [0-9a-f]{32}\n/, "rng bytes");
  expect(/host read "hello from the guest console\\n"/, "console write");
  expect(/pressed KEY_A -> \{type 1, code 30, value 1\} \{type 0, code 0, value 0\}/, "input");
  expect(/host target 16 pages, guest gave 16/, "balloon inflate");
  expect(/bus: 0 devices, 6 drivers/, "every device removed");
});
