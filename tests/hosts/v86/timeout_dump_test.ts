// A v86 guest that stops answering: the ERR_VIRTIO_V86_TIMEOUT error carries, after the console
// tail, the state of every attached device (V86Host.describe): v86's CPU, each device's line in
// the host and in v86's 8259, and its transport state with each queue read from guest memory.
// One boot: a virtio-blk disk over PCI modern whose storage can be made to hang, and a console
// over MMIO v2. Expected values come from the spec (status bits) and from Linux (its 8259
// vectors, ISA_IRQ_VECTOR(0) = 0x30 and 0x38 for the slave; the lines of bound drivers unmasked).

import assert from "node:assert/strict";
import { BlkDevice, type BlockStorage, MemoryStorage } from "../../../src/devices/blk/mod.ts";
import { ConsoleDevice } from "../../../src/devices/console/mod.ts";
import { V86HostError } from "../../../src/hosts/v86/host.ts";
import { bootV86 } from "../../../src/hosts/v86/machine.ts";
import { kitOrSkip, Log } from "./_guest.ts";

const ready = await kitOrSkip();

/** Memory storage whose reads can be held until released: a request the device holds. */
class HangingStorage implements BlockStorage {
  readonly isAsync = true;
  hang = false;
  /** Resolves when the first read is held (the guest's request reached the storage). */
  readonly held: Promise<void>;
  #onHeld: () => void = () => {};
  #release: () => void = () => {};
  /** Completes the held read. */
  release(): void {
    this.hang = false;
    this.#release();
  }
  readonly #inner: MemoryStorage;
  constructor(bytes: Uint8Array) {
    this.#inner = new MemoryStorage(bytes);
    this.held = new Promise((resolve) => (this.#onHeld = resolve));
  }
  get size(): number {
    return this.#inner.size;
  }
  async read(offset: number, dst: Uint8Array): Promise<void> {
    if (this.hang) {
      this.#onHeld();
      await new Promise<void>((resolve) => (this.#release = resolve));
    }
    this.#inner.read(offset, dst);
  }
  write(offset: number, src: Uint8Array): Promise<void> {
    this.#inner.write(offset, src);
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The error of `p`, which must reject with ERR_VIRTIO_V86_TIMEOUT. */
async function timeoutOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(e instanceof V86HostError, `a V86HostError, not ${e}`);
  assert.equal(e.code, "ERR_VIRTIO_V86_TIMEOUT");
  return e.message;
}

/** The lines of attached device `n` in a dump: its attachment line to the next device's. */
function deviceSection(message: string, n: number): string {
  const from = message.indexOf(`\ndevice ${n}: `);
  assert.ok(from >= 0, `device ${n} in the dump:\n${message}`);
  const to = message.indexOf(`\ndevice ${n + 1}: `, from + 1);
  return message.slice(from + 1, to < 0 ? undefined : to);
}

Deno.test({
  name: "v86: a timeout's error carries every attached device's state, a held request included",
  ignore: !ready,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const storage = new HangingStorage(new Uint8Array(16 << 20));
    const log = new Log();
    const m = await bootV86({
      devices: [
        { device: new BlkDevice({ storage }), transport: "pci" },
        { device: new ConsoleDevice(), transport: "mmio" },
      ],
      log: log.fn,
      onSerial: Deno.env.get("TV_V86_SERIAL")
        ? (b) => Deno.stderr.writeSync(Uint8Array.of(b))
        : undefined,
    });
    try {
      await m.run("echo the-console-tail");
      await t.step("a marker that never comes: console tail, then each device", async () => {
        const message = await timeoutOf(m.waitFor("{tv-never}", 1500));
        if (Deno.env.get("TV_V86_SERIAL")) console.error(message);
        const tail = message.indexOf("console tail: ");
        const dump = message.indexOf("\ndevice state at the timeout:\n");
        assert.ok(tail >= 0 && dump > tail, "the console tail first, then the dump");
        assert.match(
          message,
          /^v86 CPU: (halted \(HLT, waiting for an interrupt\)|running), interrupts (enabled|disabled) \(IF\), EIP 0x[0-9a-f]+$/m,
        );
        const blk = deviceSection(message, 0);
        assert.match(blk, /^device 0: pci at PCI slot 0x8, IRQ \d+: host line (up|down), /);
        // Linux programs the 8259s with vectors 0x30 and 0x38 and unmasks a bound driver's line.
        assert.match(
          blk,
          /v86 (master 8259 \(vectors 0x30\+\)|slave 8259 \(vectors 0x38\+\)) IRQ \d+: level (high|low), (not )?requested \(IRR\), (not )?in service \(ISR\), unmasked \(IMR\)/,
        );
        assert.match(blk, /^v86 modern 8\.0: block device \(id 2, BlkDevice\)$/m);
        // 2.1: ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, FEATURES_OK 8.
        assert.match(
          blk,
          /^ {2}status 0xf \(ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK\), activated$/m,
        );
        assert.match(
          blk,
          /^ {2}interrupts: ISR 0x[0-3] \((?:[A-Z|]+|none)\); INTx (not )?asserted \(PCI status\), enabled \(PCI command\); MSI-X disabled$/m,
        );
        assert.match(blk, /^ {2}queue 0: ready, (split|packed), /m);
        assert.match(blk, /^ {4}device queue: next avail \d+.*, 0 in flight$/m);
        const con = deviceSection(message, 1);
        assert.match(
          con,
          /^device 1: mmio at MMIO 0xfe800000, IRQ 5: host line (up|down), .*; v86 master 8259 \(vectors 0x30\+\) IRQ 5: .*, unmasked \(IMR\)$/m,
        );
        assert.match(con, /^v86 mmio v2 @0xfe800000: console device \(id 3, ConsoleDevice\)$/m);
        assert.match(con, /^ {2}interrupts: InterruptStatus 0x[0-3] /m);
        assert.match(con, /^ {2}queue 0: ready, /m);
      });

      await t.step("a read the storage holds: the dump shows it in flight", async () => {
        storage.hang = true;
        // 4 MiB into the disk: no earlier read brought it into the page cache. The command's
        // own timeout is long (a slow host may take seconds to get the read to the device);
        // once the storage holds the read, a marker that never comes times out at once.
        const dd = m.run("dd if=/dev/vda of=/dev/null bs=4096 count=1 skip=1024", 60_000);
        await storage.held;
        const message = await timeoutOf(m.waitFor("{tv-never-2}", 500));
        if (Deno.env.get("TV_V86_SERIAL")) console.error(message);
        const blk = deviceSection(message, 0);
        // The guest's request reached the device, which holds it (the model has it in
        // progress), and nothing else waits for the device in the ring: Linux 6.1 takes the
        // packed ring we offer, where the next descriptor is then not available; a split ring
        // would show no chain available.
        assert.match(
          blk,
          /^ {4}device queue: next avail \d+( wrap [01])?( \(0 chains available, not yet taken\))?, next used \d+( wrap [01])?, [1-9]\d* in flight, [1-9]\d* in progress in the model$/m,
        );
        if (/^ {2}queue 0: ready, packed/m.test(blk)) {
          assert.match(
            blk,
            /^ {4}descriptor ring: next descriptor \d+: .*, not available in wrap [01], /m,
          );
        } else assert.match(blk, /\(0 chains available, not yet taken\)/);
        // Let the read complete: the command ends, and the request leaves the ring.
        storage.release();
        assert.match(await dd, /1\+0 records in/);
      });
    } finally {
      m.stop();
    }
  },
});
