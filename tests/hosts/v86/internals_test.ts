// The v86 internals the host uses are where v86 0.5.462 has them; an upgrade
// that moves one fails here with the member's name.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { V86 } from "v86";
import { V86_VERSION, V86HostError, v86Internals } from "../../../src/hosts/v86/_internals.ts";
import { V86Host } from "../../../src/hosts/v86/host.ts";
import { wasmOption } from "../../../src/hosts/v86/machine.ts";

Deno.test("the installed v86 is the pinned version", () => {
  const pkg = createRequire(import.meta.url)("v86/package.json") as { version: string };
  assert.equal(pkg.version.split("+")[0], V86_VERSION);
});

Deno.test({
  name: "every v86 internal the host uses is present on a fresh emulator, and a host attaches",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const emulator = new V86({
      memory_size: 32 << 20,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      ...(await wasmOption()) as object,
    });
    try {
      await new Promise<void>((resolve) =>
        emulator.add_listener("emulator-ready", () => resolve())
      );
      const cpu = v86Internals(emulator); // throws naming the missing member
      assert.equal(cpu.memory_size[0], 32 << 20);
      const host = new V86Host(emulator, { log: () => {} });
      // The guest memory is v86's: a byte written by the host is the byte v86 reads.
      host.memory.writeUint8(0x1234, 0xa5);
      assert.equal(
        (emulator as unknown as { v86: { cpu: { read8(a: number): number } } }).v86.cpu.read8(
          0x1234,
        ),
        0xa5,
      );
    } finally {
      await emulator.destroy();
    }
  },
});

Deno.test("a moved v86 internal is reported by name with the pinned version", () => {
  const err = assert.throws(
    () => v86Internals({ v86: { cpu: { wasm_memory: new WebAssembly.Memory({ initial: 1 }) } } }),
    (e: unknown) =>
      e instanceof V86HostError && e.code === "ERR_VIRTIO_V86_INTERNAL_API" &&
      /cpu\.mem8/.test(e.message) && e.message.includes(V86_VERSION),
  );
  void err;
  assert.throws(
    () => v86Internals({}),
    (e: unknown) => e instanceof V86HostError && /emulator-ready/.test(e.message),
  );
});
