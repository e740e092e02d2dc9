// ConfigDevice, the base of device models with a config space: the config is the generated
// accessor's layout, the driver writes only what configWritable allows, updateConfig moves the
// generation and tells an active driver.

import assert from "node:assert/strict";
import { ConfigDevice, type ConfigWidth, type DeviceContext } from "../src/device.ts";
import { VirtioConsoleConfig } from "../src/generated/devices/console.ts";
import type { ChainServer } from "../src/queue_service.ts";

class Console extends ConfigDevice<VirtioConsoleConfig> {
  readonly deviceId = 3;
  readonly features = 1n << 32n;
  readonly queueMaxSizes = [8];
  readonly #server: ChainServer = {
    serveChain: () => 0,
    isLive: (ctx) => this.isLive(ctx),
  };
  constructor() {
    super(VirtioConsoleConfig);
  }
  // The spec's virtio_console_config: cols at 0, rows at 2, max_nr_ports at 4, emerg_wr at 8.
  protected override configWritable(offset: number, width: ConfigWidth): boolean {
    return offset === 8 && width === 4;
  }
  queueNotify(index: number): void {
    this.serve(index, this.#server);
  }
}

function context(changes: string[]): DeviceContext {
  return {
    memory: undefined as never,
    features: 1n << 32n,
    queues: [],
    notifyUsed: () => {},
    configChanged: () => changes.push("config"),
    needsReset: () => {},
  };
}

Deno.test("ConfigDevice: config laid out by the generated accessor, 12 bytes of virtio_console_config", () => {
  const d = new Console();
  assert.equal(d.configSize, 12);
  d.updateConfig((c) => {
    c.cols = 80;
    c.rows = 25;
  });
  assert.equal(d.readConfig(0, 2), 80);
  assert.equal(d.readConfig(2, 2), 25);
  assert.equal(d.readConfig(0, 4), 25 * 65536 + 80, "little-endian, as the spec lays it out");
});

Deno.test("ConfigDevice: the driver writes only what configWritable allows", () => {
  const d = new Console();
  d.writeConfig(0, 2, 132); // cols: read-only
  d.writeConfig(8, 4, 0x41); // emerg_wr: writable here
  assert.equal(d.cfg.cols, 0);
  assert.equal(d.readConfig(8, 4), 0x41);
  assert.equal(d.configGeneration, 0, "driver writes do not move the generation");
});

Deno.test("ConfigDevice: updateConfig bumps the generation and tells only an active driver", () => {
  const d = new Console();
  const changes: string[] = [];
  d.updateConfig((c) => c.cols = 1);
  assert.deepEqual(changes, [], "not active: nobody to tell");
  const ctx = context(changes);
  d.activate(ctx);
  assert.equal(d.context, ctx);
  assert.ok(d.isLive(ctx));
  d.updateConfig((c) => c.cols = 2);
  assert.deepEqual(changes, ["config"]);
  assert.equal(d.configGeneration, 2);
  d.reset();
  assert.equal(d.context, undefined);
  assert.ok(!d.isLive(ctx));
  d.updateConfig((c) => c.cols = 3);
  assert.deepEqual(changes, ["config"], "reset: the old context is not told");
  assert.equal(d.configGeneration, 3);
});
