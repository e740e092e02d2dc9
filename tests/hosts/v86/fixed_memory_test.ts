// The v86 host where wasm memory cannot be made resizable (Node 20): v86's
// memory is one that does not grow (withFixedMemory), so that plain views of
// guest memory stay valid. Forced here on Deno; on Node 20 it is the only
// path, and the Node run of the npm package boots Linux in this file.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { V86 } from "v86";
import { v86Wasm } from "../../../src/hosts/v86/_internals.ts";
import { scanBody, withFixedMemory } from "../../../src/hosts/v86/_wasm_patch.ts";
import { V86Host } from "../../../src/hosts/v86/host.ts";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { ConsoleDevice } from "../../../src/devices/console/mod.ts";
import { NetDevice } from "../../../src/devices/net/mod.ts";
import { VIRTIO_ID_CONSOLE, VIRTIO_ID_NET } from "../../../src/generated/common.ts";
import { HOST_IP, IcmpResponder } from "./_icmp_responder.ts";
import { kitOrSkip, Log, sysfsDevice } from "./_guest.ts";

const v86WasmBytes = async (): Promise<Uint8Array> =>
  new Uint8Array(await readFile(createRequire(import.meta.url).resolve("v86/build/v86.wasm")));

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const sha256 = async (b: Uint8Array): Promise<string> =>
  hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>)));

Deno.test("v86.wasm: its memory.grow becomes a call, and the module starts at the full size", async () => {
  const bytes = await v86WasmBytes();
  const fixed = withFixedMemory(bytes, 64 << 20);
  assert.equal(fixed.grows, 1); // dlmalloc's one
  const module = await WebAssembly.compile(fixed.bytes as Uint8Array<ArrayBuffer>);
  assert.equal(WebAssembly.Module.exports(module).length, 802);
  // memory.size and memory.grow are found as instructions, not as bytes of immediates
  const body = Uint8Array.of(
    0, // no locals
    0x41,
    0x40, // i32.const 64 (0x40 as an immediate)
    0x02,
    0x40,
    0x0b, // block (empty type 0x40) end
    0x3f,
    0, // memory.size
    0x40,
    0, // memory.grow
    0x1a,
    0x0b,
  );
  assert.deepEqual(scanBody(body, 0, body.length), [6, 8]);
  assert.throws(() => scanBody(body, 0, body.length - 3), /decodes to its end/);
});

Deno.test({
  name: "v86 with a fixed memory: its allocations do not detach the buffer the host views",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const guest = 32 << 20;
    const wasm = v86Wasm(await v86WasmBytes(), { fixed: true, memoryBytes: guest + (2 << 20) });
    let first: ArrayBufferLike | undefined;
    let memory: WebAssembly.Memory | undefined;
    const emulator = new V86({
      memory_size: guest,
      vga_memory_size: 2 << 20,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      wasm_fn: async (imports: WebAssembly.Imports) => {
        const exports = await wasm(imports);
        memory = exports.memory as WebAssembly.Memory;
        first = memory.buffer;
        return exports as WebAssembly.Exports;
      },
    });
    try {
      await new Promise<void>((resolve) =>
        emulator.add_listener("emulator-ready", () => resolve())
      );
      // v86 allocated its RAM, VGA memory and JIT tables with malloc by now
      assert.ok(first !== undefined && memory !== undefined);
      assert.ok(first.byteLength > guest, "the buffer from before v86's allocations is detached");
      assert.equal(memory.buffer, first);
      const host = new V86Host(emulator, { log: () => {} });
      host.memory.writeUint8(0x4321, 0x5a);
      const cpu = (emulator as unknown as { v86: { cpu: { read8(a: number): number } } }).v86.cpu;
      assert.equal(cpu.read8(0x4321), 0x5a);
    } finally {
      await emulator.destroy();
    }
  },
});

const ready = await kitOrSkip();

Deno.test({
  name: "v86 + Linux with a fixed memory: the guest drives our console and net over PCI",
  ignore: !ready,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const memoryMiB = 96;
    const wasm_fn = v86Wasm(await v86WasmBytes(), {
      fixed: true,
      memoryBytes: (memoryMiB + 2) << 20,
    });
    const hvc = new ConsoleDevice();
    const network = new IcmpResponder();
    const net = new NetDevice({ mac: "52:54:00:12:34:56", backend: network });
    const log = new Log();
    const m = await bootV86({
      devices: [{ device: hvc, transport: "pci" }, { device: net, transport: "pci" }],
      memoryMiB,
      log: log.fn,
      v86Options: { wasm_fn },
    });
    try {
      await sysfsDevice(m, VIRTIO_ID_CONSOLE);
      await sysfsDevice(m, VIRTIO_ID_NET);
      // net: the guest's ping is answered by the responder behind our device
      const ping = await m.run(
        "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && " +
          `ping -c 2 -W 10 ${HOST_IP.join(".")}`,
      );
      assert.match(ping, /2 packets transmitted, 2 packets received/);
      assert.ok(network.echoReplies >= 2);
      // console: 256 KiB from the guest, its checksum against what arrived
      const port = hvc.port(0);
      assert.ok(port !== undefined);
      const size = 256 << 10;
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
        `dd if=/dev/urandom of=/tmp/blob bs=65536 count=${size >> 16} 2>/dev/null && ` +
          "exec 3<>/dev/hvc0 && stty raw -echo <&3 && cat /tmp/blob >&3 && exec 3>&- && " +
          "sha256sum /tmp/blob",
      );
      assert.equal(await arrived, size);
      assert.equal(sent.trim().split(/\s+/).at(-2), await sha256(got));
      assert.deepEqual(log.lines.filter((l) => l.includes("no device window")), []);
    } finally {
      m.stop();
    }
  },
});
