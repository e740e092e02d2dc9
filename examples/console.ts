// A multiport virtio-console: port 0 is a console joined to this process's
// stdout by the stdio backend; port 1 is a named channel. The "guest" side
// (the console driver) prints a prompt, echoes what it reads, and talks on
// the channel. Run: deno run examples/console.ts
// (add --stdin to type into the console yourself; Ctrl-D ends)

import { VirtioBus } from "../src/bus.ts";
import { DmaAllocator, GuestMemory } from "../src/memory.ts";
import { PciFunction, probePci } from "../src/transport/pci/mod.ts";
import { attachStdio, ConsoleDevice, ConsoleDriver } from "../src/devices/console/mod.ts";

const MEM = 4 << 20;
const memory = GuestMemory.fromBuffer(new ArrayBuffer(MEM));
const bus = new VirtioBus({ memory, dma: new DmaAllocator(0x1000, MEM - 0x1000) });
const device = new ConsoleDevice({
  maxPorts: 4,
  ports: [{ console: true }, { name: "org.example.channel" }],
  size: { cols: 80, rows: 24 },
});
const driver = new ConsoleDriver();
await bus.registerDriver(driver);
const transport = probePci(new PciFunction(device, memory));
if (!transport) throw new Error("probe failed");
const con = driver.consoleOf(await bus.addDevice(transport));
if (!con) throw new Error("driver did not bind");

// Host side: port 0 on stdio (scripted input unless --stdin).
const scripted = new ReadableStream<Uint8Array>({
  start(c) {
    c.enqueue(new TextEncoder().encode("uname\n"));
    c.close();
  },
});
const stdio = attachStdio(device.port(0)!, {
  input: Deno.args.includes("--stdin") ? Deno.stdin.readable : scripted,
});

// Guest side: a tiny shell on the console port.
const consolePort = con.port(0)!;
const out = consolePort.writable.getWriter();
const enc = (s: string) => new TextEncoder().encode(s);
console.log(
  `console ${consolePort.size?.cols}x${consolePort.size?.rows}, ports:`,
  con.ports.map((p) => p.name ?? p.id),
);
consolePort.onResize((s) => void out.write(enc(`[resized to ${s.cols}x${s.rows}]\n`)));
await out.write(enc("guest$ "));
const reader = consolePort.readable.getReader();
const line = new TextDecoder().decode((await reader.read()).value);
await out.write(enc(`you typed: ${line}`));
device.resize(132, 43);

// The named channel, both ways.
const chan = await con.whenPort("org.example.channel");
await chan.writable.getWriter().write(enc("ping from guest"));
const hostChan = device.port(1)!.readable.getReader();
console.log("host got on channel:", new TextDecoder().decode((await hostChan.read()).value));

con.emergencyWrite("emergency: bye\n");
await new Promise((r) => setTimeout(r, 10));
stdio.close();
for (const d of [...bus.devices]) await bus.removeDevice(d);
