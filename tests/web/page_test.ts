// The page of `deno task web` in a real browser: Debian's Chromium, headless,
// driven over the DevTools protocol (tests/web/_cdp.ts). Linux boots in v86
// with our devices, a command typed into the terminal runs on the guest's
// virtio console, the inspector's blk queue moves while the guest reads the
// disk, ping reaches the in-page peer over our net device, and the browser
// console shows no error. Screenshots and the inspector's measured cost go
// to $TYPED_VIRTIO_ARTIFACTS (default test-artifacts/web).
//
// Skipped outside CI without the kit or Chromium; under CI=true either one
// missing fails (kitOrSkip, chromiumOrSkip).

import assert from "node:assert/strict";
import { join } from "node:path";
import { buildWeb, serveWeb } from "../../scripts/web.ts";
import { kitOrSkip } from "../hosts/v86/_guest.ts";
import { Browser, chromiumOrSkip } from "./_cdp.ts";

const artifacts = Deno.env.get("TYPED_VIRTIO_ARTIFACTS") ?? join("test-artifacts", "web");
/** Under a loaded 2-core machine a boot in the page takes minutes. */
const BOOT_MS = 25 * 60_000;
const STEP_MS = 10 * 60_000;

const ready = (await kitOrSkip()) && chromiumOrSkip();

Deno.test({
  name: "web page in Chromium: Linux on our devices, the terminal, the inspector",
  ignore: !ready,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await Deno.mkdir(artifacts, { recursive: true });
    const dist = await Deno.makeTempDir({ prefix: "tv-web-" });
    await buildWeb(dist);
    let url = "";
    const listening = Promise.withResolvers<void>();
    const server = serveWeb(dist, 0, (u) => {
      url = u;
      listening.resolve();
    });
    await listening.promise;
    const b = await Browser.launch();
    const shot = async (name: string) =>
      await Deno.writeFile(join(artifacts, `${name}.png`), await b.screenshot());
    try {
      await b.navigate(url);
      assert.equal(
        await b.evaluate("crossOriginIsolated"),
        true,
        "COOP/COEP make the page isolated",
      );

      await t.step("the guest reaches a shell on the terminal", async () => {
        await b.evaluate(`Promise.race([typedVirtio.ready, new Promise((_, no) =>
          setTimeout(() => no(new Error("no shell in ${BOOT_MS} ms")), ${BOOT_MS}))])`);
        assert.equal(await b.evaluate("typedVirtio.state"), "ready");
        await shot("booted");
      });

      await t.step("a command typed into the terminal runs in the guest", async () => {
        await b.evaluate("document.querySelector('.xterm-helper-textarea').focus()");
        // The shell computes 6*7: the echo of what was typed cannot match the output.
        await b.type("echo typed-$((6*7)) on $(tty)\r");
        await b.evaluate(`typedVirtio.waitForTerminal("typed-42 on /dev/hvc0", ${STEP_MS})`);
      });

      await t.step("the inspector's blk queue moves while the guest reads the disk", async () => {
        await b.evaluate(`typedVirtio.select("blk/0")`);
        await b.evaluate(`(() => {
          globalThis.stopAvail = typedVirtio.watchCell("blk/0", "avail-idx");
          globalThis.stopUsed = typedVirtio.watchCell("blk/0", "used-idx");
        })()`);
        await b.type("dd if=/dev/vda of=/dev/null bs=4k && echo read-$((30+12))\r");
        await b.evaluate(`typedVirtio.waitForTerminal("read-42", ${STEP_MS})`);
        await shot("inspector-after-read");
        const avail = await b.evaluate<string[]>("stopAvail()");
        const used = await b.evaluate<string[]>("stopUsed()");
        // The cell changed several times while dd ran: the inspector followed
        // the ring, not just its final state.
        assert.ok(new Set(avail).size >= 3, `avail idx shown: ${avail.join(" ")}`);
        assert.ok(new Set(used).size >= 3, `used idx shown: ${used.join(" ")}`);
        // 32 MiB read by readahead (128 KiB windows by default): about 256 chains; at
        // least 64 even if the guest merged requests up to 512 KiB.
        const moved = (Number(used.at(-1)) - Number(used[0]) + 0x10000) & 0xffff;
        assert.ok(moved >= 64, `used idx moved by ${moved}`);
      });

      await t.step("ping reaches the in-page peer through our net device", async () => {
        await b.type("ping -c 2 10.0.2.2 | grep -c 'bytes from' | sed 's/^/pongs=/'\r");
        await b.evaluate(`typedVirtio.waitForTerminal("pongs=2", ${STEP_MS})`);
        await shot("terminal");
      });

      await t.step(
        "the inspector's cost: disk read throughput, inspector open / closed",
        async () => {
          const rounds: { open: boolean; mbps: number }[] = [];
          for (const open of [false, true, false, true]) {
            await b.evaluate(`typedVirtio.setInspector(${open})`);
            rounds.push({ open, mbps: await b.evaluate<number>("typedVirtio.readThroughput(32)") });
          }
          await b.evaluate("typedVirtio.setInspector(true)");
          const mean = (open: boolean) => {
            const r = rounds.filter((x) => x.open === open).map((x) => x.mbps);
            return r.reduce((a, x) => a + x, 0) / r.length;
          };
          const ratio = mean(true) / mean(false);
          // The inspector's own main-thread time per redraw, and the share of the time it takes.
          const render = await b.evaluate<{ renders: number; ms: number; intervalMs: number }>(
            "typedVirtio.renderStats",
          );
          const msPerRender = render.ms / render.renders;
          const report = {
            rounds,
            ratioOpenOverClosed: ratio,
            msPerRender,
            shareOfMainThread: msPerRender / render.intervalMs,
          };
          await Deno.writeTextFile(join(artifacts, "inspector_cost.json"), JSON.stringify(report));
          console.log(`inspector cost: open/closed read throughput ${ratio.toFixed(3)}`, report);
          assert.ok(rounds.every((r) => r.mbps > 0));
          assert.ok(render.renders > 0, "the open inspector redrew");
        },
      );

      await shot("page");
      await Deno.writeTextFile(join(artifacts, "console.txt"), b.console.join("\n"));
      assert.deepEqual(b.errors, [], "the browser console shows no errors");
    } finally {
      await b.close();
      await server.shutdown();
      await Deno.remove(dist, { recursive: true });
    }
  },
});
