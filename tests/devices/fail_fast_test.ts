// Fail fast, for every built-in driver: once its device is reset, a request the device holds
// rejects with ERR_VIRTIO_DEVICE_RESET (it used to wait until the device was removed), and a new
// request is refused with the same code. The device model is wrapped so that it never serves the
// queue under test: the request is pending for certain when the reset comes.

import assert from "node:assert/strict";
import type { ConfigWidth, DeviceContext, VirtioDevice } from "../../src/device.ts";
import type { DriverDevice, VirtioDriver } from "../../src/driver.ts";
import { DeviceError } from "../../src/errors.ts";
import { BlkDevice, blkDriver, MemoryStorage } from "../../src/devices/blk/mod.ts";
import { RngDevice, rngDriver } from "../../src/devices/rng/mod.ts";
import { BalloonDevice, balloonDriver } from "../../src/devices/balloon/mod.ts";
import { connectBackToBack, NetDevice, NetDriver } from "../../src/devices/net/mod.ts";
import { ConsoleDevice, ConsoleDriver } from "../../src/devices/console/mod.ts";
import { InputDevice, InputDriver, keyboardProfile } from "../../src/devices/input/mod.ts";
import { NullDevice, nullDriver } from "../../src/devices/null/mod.ts";
import { rigFor } from "../transport/_rig.ts";

/** `inner`, except that kicks of the queues in `held` never reach it. */
class Held implements VirtioDevice {
  constructor(readonly inner: VirtioDevice, readonly held: ReadonlySet<number>) {}
  get deviceId(): number {
    return this.inner.deviceId;
  }
  get features(): bigint {
    return this.inner.features;
  }
  get queueMaxSizes(): readonly number[] {
    return this.inner.queueMaxSizes;
  }
  get configSize(): number {
    return this.inner.configSize;
  }
  get configGeneration(): number {
    return this.inner.configGeneration;
  }
  acceptFeatures(f: bigint): boolean {
    return this.inner.acceptFeatures?.(f) ?? true;
  }
  readConfig(offset: number, width: ConfigWidth): number {
    return this.inner.readConfig(offset, width);
  }
  writeConfig(offset: number, width: ConfigWidth, value: number): void {
    this.inner.writeConfig(offset, width, value);
  }
  activate(ctx: DeviceContext): void | Promise<void> {
    return this.inner.activate(ctx);
  }
  queueNotify(index: number): void {
    if (!this.held.has(index)) this.inner.queueNotify(index);
  }
  reset(): void {
    this.inner.reset();
  }
}

/** Binds `driver` to `device` over MMIO, holding the kicks of queue `queue`. */
async function bound(device: VirtioDevice, driver: VirtioDriver, queue: number) {
  const r = rigFor("mmio-v2", new Held(device, new Set([queue])), 4 << 20);
  await r.bus.registerDriver(driver);
  const dev: DriverDevice = await r.bus.addDevice(r.transport);
  assert.equal(dev.driver, driver, r.logs.join("; "));
  return { r, dev };
}

const RESET = (e: unknown) => e instanceof DeviceError && e.code === "ERR_VIRTIO_DEVICE_RESET";

/** Starts `op` (held by the device), resets, and checks it and a second `op` fail with RESET. */
async function resetFailsPending(dev: DriverDevice, op: () => Promise<unknown>): Promise<void> {
  const pending = op();
  let settled = false;
  pending.then(() => settled = true, () => settled = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(settled, false, "the held request is still pending before the reset");
  dev.reset();
  await assert.rejects(pending, RESET);
  await assert.rejects(op(), RESET);
}

Deno.test("fail fast: blk read pending at reset", async () => {
  const driver = blkDriver();
  const { dev } = await bound(
    new BlkDevice({ storage: new MemoryStorage(new Uint8Array(64 * 1024)) }),
    driver,
    0,
  );
  const disk = await driver.nextDisk();
  await resetFailsPending(dev, () => disk.read(0, new Uint8Array(512)));
});

Deno.test("fail fast: rng read pending at reset", async () => {
  const driver = rngDriver();
  const { dev } = await bound(new RngDevice(), driver, 0);
  const rng = await driver.nextSource();
  await resetFailsPending(dev, () => rng.read(16));
});

Deno.test("fail fast: balloon inflate pending at reset", async () => {
  const driver = balloonDriver({ auto: false });
  const { dev } = await bound(new BalloonDevice({ packed: false }), driver, 0); // inflateq
  const balloon = await driver.nextBalloon();
  await resetFailsPending(dev, () => balloon.inflate(4));
});

Deno.test("fail fast: net send pending at reset", async () => {
  const [a] = connectBackToBack();
  const driver = new NetDriver();
  // Queue 1 is output.0 (5.1.2).
  const { dev } = await bound(new NetDevice({ backend: a }), driver, 1);
  const nic = driver.interfaceOf(dev);
  assert.ok(nic);
  await resetFailsPending(dev, () => nic.send(new Uint8Array(60)));
});

Deno.test("fail fast: net control command pending at reset", async () => {
  const [a] = connectBackToBack();
  const driver = new NetDriver();
  // Queue 2 is the control queue without VIRTIO_NET_F_MQ (5.1.2).
  const { dev } = await bound(new NetDevice({ backend: a }), driver, 2);
  const nic = driver.interfaceOf(dev);
  assert.ok(nic);
  await resetFailsPending(dev, () => nic.command(0, 0, new Uint8Array([1])));
});

Deno.test("fail fast: console write pending at reset", async () => {
  const driver = new ConsoleDriver();
  // Single port: queue 1 is port 0's transmitq.
  const { dev } = await bound(new ConsoleDevice(), driver, 1);
  const con = driver.consoleOf(dev);
  assert.ok(con);
  const port = con.port(0);
  assert.ok(port);
  const writer = port.writable.getWriter();
  await resetFailsPending(dev, () => writer.write(new Uint8Array([0x41])));
});

Deno.test("fail fast: input event read pending at reset; status writes are refused", async () => {
  const driver = new InputDriver();
  const { dev } = await bound(new InputDevice(keyboardProfile()), driver, 1);
  const input = driver.inputOf(dev);
  assert.ok(input);
  const stream = input.eventStream();
  await resetFailsPending(dev, () => stream.next());
  assert.throws(() => input.sendStatus(0x11, 0, 1), RESET);
});

Deno.test("fail fast: null driver queue refuses buffers after reset", async () => {
  const driver = nullDriver({ collect: false });
  const { dev } = await bound(new NullDevice(), driver, 0);
  const st = driver.states.get(dev);
  assert.ok(st);
  const vq = st.vq;
  await resetFailsPending(dev, () => vq.request(new Uint8Array([1]), 4));
});
