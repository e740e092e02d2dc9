// DeviceQueue.suspendNotifications / resumeNotifications: the kick hold-off
// of a device that polls its rings (the vhost-user back-end's pollRingUs).

import assert from "node:assert/strict";
import { label, pair, type PairConfig } from "./_rig.ts";

const CASES: PairConfig[] = [];
for (const packed of [false, true]) {
  for (const eventIdx of [false, true]) {
    for (const shared of [false, true]) CASES.push({ packed, eventIdx, shared, size: 8 });
  }
}

for (const cfg of CASES) {
  const name = `${label(cfg)}${cfg.shared ? " (shared)" : ""}`;

  Deno.test(`${name}: kicks held off while suspended, asked for again by resume, chains waiting reported`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(64, 8);
    let token = 0;
    const add = () => driver.addSgs([], [{ addr: b, len: 8 }], token++);
    device.suspendNotifications();
    assert.equal(device.notificationsSuspended, true);
    add();
    assert.equal(driver.kick(), false, "the very next chain asks for no kick");
    add();
    assert.equal(driver.kick(), false);
    // Serving while suspended: a serving pass's enable only reports.
    const c0 = device.pop()!;
    assert.equal(device.enableNotification(), true, "one chain still waiting");
    add();
    assert.equal(driver.kick(), false, "enable while suspended asks for nothing");
    const c1 = device.pop()!;
    const c2 = device.pop()!;
    assert.equal(device.pop(), null);
    assert.equal(device.enableNotification(), false);
    add();
    assert.equal(driver.kick(), false);
    // Resume reports the chain published while kicks were off.
    assert.equal(device.resumeNotifications(), true);
    assert.equal(device.notificationsSuspended, false);
    const c3 = device.pop()!;
    assert.equal(device.enableNotification(), false);
    add();
    assert.equal(driver.kick(), true, "resumed: the next chain kicks");
    assert.equal(device.resumeNotifications(), true, "resume when not suspended: as enable");
    for (const c of [c0, c1, c2, c3, device.pop()!]) device.addUsed(c, 0);
    for (let i = 0; i < 5; i++) assert.notEqual(driver.getBuf(), null);
    assert.equal(device.resumeNotifications(), false, "nothing waiting");
  });

  Deno.test(`${name}: suspended over 70000 chains, the driver kicks at most once per 16-bit lap`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(64, 8);
    device.suspendNotifications();
    let kicks = 0;
    for (let i = 0; i < 70000; i++) {
      driver.addSgs([], [{ addr: b, len: 8 }], i);
      if (driver.kick()) kicks++;
      const c = device.pop()!;
      assert.equal(device.enableNotification(), false);
      device.addUsed(c, 0);
      assert.equal(driver.getBuf()?.token, i);
    }
    assert.ok(kicks <= 2, `${kicks} kicks`);
    assert.equal(device.resumeNotifications(), false);
    driver.addSgs([], [{ addr: b, len: 8 }], -1);
    assert.equal(driver.kick(), true);
  });

  Deno.test(`${name}: restore ends a suspension`, () => {
    const { alloc, driver, device } = pair(cfg);
    const b = alloc.alloc(64, 8);
    device.suspendNotifications();
    device.restore(device.position());
    assert.equal(device.notificationsSuspended, false);
    driver.addSgs([], [{ addr: b, len: 8 }], 0);
    assert.equal(driver.kick(), true);
  });
}
