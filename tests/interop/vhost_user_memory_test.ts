// The soak back-end (tests/interop/_soak_backend.ts: our vhost-user-blk
// back-end with its fault hooks) retains nothing per request or per fault:
// a scripted front-end drives tens of thousands of writes, reads and flushes
// through it while the storage fills (ENOSPC) and kicks and calls are dropped
// and delayed, and the back-end's heap after a full collection (`heap`
// command, --expose-gc) may not grow by more than a few bytes per request
// between the end of a warm-up and the end of the run. The soak itself
// (soak_test.ts) runs at some ten requests a second, too few for a slow
// leak to show within CI's two minutes; this runs thousands a second.
// Linux only (FFI), no QEMU. See docs/reliability.md, "Soak with faults".

import assert from "node:assert/strict";
import { startBackend } from "./_backend.ts";
import { canRun, Front, startSplitQueue, withGuest } from "./_vhost_user_front.ts";
import { type HeapSample, parseHeapLines } from "./_soak.ts";
import { deadline } from "./_deadline.ts";
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VhostUserRequest as R,
} from "../../src/generated/vhost_user.ts";
import {
  pollAsync,
  POLLIN,
  readEventfd,
  writeEventfd,
} from "../../src/transport/vhost_user/_libc.ts";
import { VIRTIO_F_RING_PACKED } from "../../src/generated/common.ts";

/** Requests before the first sample (the JIT compiles the hot paths meanwhile), then between the samples. */
const WARM_UP = 10_000;
const MEASURED = 20_000;
/** Requests between two fault switches (each fault is on for one such stretch in two). */
const FAULT_EVERY = 1_000;
/**
 * Growth of the post-collection heap over the measured requests that fails
 * the test: under a byte a request, or some 16 bytes per fault (each fault
 * window of notifications drops or delays several hundred of them).
 */
const GROWTH_BYTES = 16 * 1024;
const DEPTH = 4;

/** The back-end's `soak-heap` lines so far. */
function heapSamples(output: string): HeapSample[] {
  return parseHeapLines(output, 0, 0);
}

Deno.test({
  name: "soak back-end: nothing retained per request or per fault (post-GC heap flat over " +
    `${MEASURED} requests with ENOSPC and dropped and delayed notifications)`,
  ignore: !canRun,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-memory-" });
    const image = `${dir}/disk.img`;
    const file = await Deno.open(image, { create: true, write: true });
    await file.truncate(1 << 20);
    file.close();
    const socket = `${dir}/blk.sock`;
    const backend = await startBackend(
      "../tests/interop/_soak_backend.ts",
      socket,
      ["--image", image, "--seed", "18"],
      60_000,
      true,
      ["--v8-flags=--expose-gc,--no-sparkplug,--no-maglev,--no-turbofan,--no-flush-bytecode"],
    );
    /** A full collection in the back-end, then its figures. */
    const sample = async (): Promise<HeapSample> => {
      const before = heapSamples(backend.output()).length;
      await backend.send("heap\n");
      const got = async () => {
        for (;;) {
          const all = heapSamples(backend.output());
          if (all.length > before) return all[all.length - 1];
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      return await deadline(got(), 30_000, "the back-end's heap line");
    };
    const counts = { done: 0, ok: 0, ioerr: 0, faults: 0 };
    let samples: HeapSample[] = [];
    try {
      await withGuest(async (g) => {
        const f = new Front(socket);
        try {
          const reply = await deadline(f.call(R.VHOST_USER_GET_FEATURES), 10_000, "features");
          const offered = new DataView(reply.payload.buffer, reply.payload.byteOffset)
            .getBigUint64(0, true);
          // A split ring, started enabled (no protocol features).
          const features = offered & ~(1n << BigInt(VIRTIO_F_RING_PACKED)) &
            ~(1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES));
          const h = { device: { features } } as Parameters<typeof startSplitQueue>[0];
          const driver = startSplitQueue<number>(h, f, g);
          await deadline(f.call(R.VHOST_USER_GET_FEATURES), 10_000, "the ring's set-up");
          const slots = Array.from({ length: DEPTH }, () => ({
            hdr: g.alloc.alloc(16, 8),
            data: g.alloc.alloc(4096, 8),
            status: g.alloc.alloc(1, 1),
          }));
          let submitted = 0;
          const submit = (i: number) => {
            const s = slots[i];
            const kind = submitted % 3; // VIRTIO_BLK_T_OUT, _IN, _FLUSH in turn
            g.mem.writeUint32(s.hdr, [1, 0, 4][kind]);
            g.mem.writeBigUint64(s.hdr + 8, BigInt((submitted * 8) % 2040));
            g.mem.writeUint8(s.status, 0xff);
            const status = { addr: s.status, len: 1 };
            const data = { addr: s.data, len: 4096 };
            const hdr = { addr: s.hdr, len: 16 };
            if (kind === 0) driver.addSgs([hdr, data], [status], i);
            else if (kind === 1) driver.addSgs([hdr], [data, status], i);
            else driver.addSgs([hdr], [status], i);
            submitted++;
            if (driver.kick()) writeEventfd(g.kick);
          };
          let fault: string | undefined;
          const kinds = ["enospc", "notify"];
          const run = async (n: number) => {
            const target = counts.done + n;
            for (let i = 0; i < DEPTH && submitted < target; i++) submit(i);
            while (counts.done < target) {
              // A dropped call or kick would wait for the injector's watchdog (up to a
              // second): the used ring is read after 5 ms without a call anyway, and a
              // kick is sent again then (the injector decides its fate too).
              const n = await pollAsync([{ fd: g.call, events: POLLIN, revents: 0 }], 5);
              readEventfd(g.call);
              const before = counts.done;
              for (let b = driver.getBuf(); b !== null; b = driver.getBuf()) {
                counts.done++;
                if (g.mem.readUint8(slots[b.token].status) === 0) counts.ok++;
                else counts.ioerr++;
                if (counts.done % FAULT_EVERY === 0) {
                  if (fault === undefined) {
                    fault = kinds[counts.faults++ % kinds.length];
                    await backend.send(`${fault} on\n`);
                  } else {
                    await backend.send(`${fault} off\n`);
                    fault = undefined;
                  }
                }
                if (submitted < target) submit(b.token);
              }
              if (n === 0 && counts.done === before) writeEventfd(g.kick);
            }
          };
          await deadline(run(WARM_UP), 300_000, "the warm-up requests");
          samples.push(await sample());
          await deadline(run(MEASURED), 300_000, "the measured requests");
          samples.push(await sample());
          if (fault !== undefined) await backend.send(`${fault} off\n`);
        } finally {
          f.close();
        }
      });
    } finally {
      const code = await backend.stop();
      await Deno.remove(dir, { recursive: true });
      assert.equal(code, 0, backend.output());
    }
    samples = samples.filter((s) => s.gc);
    assert.equal(samples.length, 2, `post-collection samples\n${backend.output()}`);
    const [a, b] = samples;
    const grew = b.heapUsed - a.heapUsed;
    const why = `${counts.done} requests (${counts.ok} ok, ${counts.ioerr} I/O errors, ` +
      `${counts.faults} fault windows); post-GC heapUsed ${a.heapUsed} -> ${b.heapUsed} bytes ` +
      `(${(grew / MEASURED).toFixed(2)} bytes per measured request)\n` +
      backend.output().split("\n").filter((l) => !l.startsWith("soak-command")).join("\n");
    console.log(why.split("\n")[0]);
    // The faults happened: writes refused, notifications dropped and delayed.
    assert.ok(counts.ioerr > 0, why);
    assert.ok(/kicksDropped=[1-9]/.test(backend.output()), why);
    assert.ok(grew < GROWTH_BYTES, why);
  },
});
