// Soak with faults (issue 18): a Linux guest on our vhost-user-blk back-end
// writes and verifies checksummed blocks for TYPED_VIRTIO_SOAK_SECONDS (CI:
// 120) while the back-end is killed and restarted, kicks and calls are
// dropped and delayed, and the storage fills (ENOSPC); see tests/interop/
// _soak.ts for the run and docs/reliability.md, "Soak with faults". The long
// run is `deno task soak --seconds 3600`.

import assert from "node:assert/strict";
import { interopSkipReason } from "./_guest.ts";
import { BLOCKS, HEAP_GROWTH_KIB, RSS_GROWTH_KIB, runSoak, SECONDS } from "./_soak.ts";

const skip = interopSkipReason("soak_test");

Deno.test({
  name: `soak with faults: ${SECONDS} s of checksummed guest I/O on our vhost-user-blk back-end ` +
    `while it is killed and restarted, kicks and calls are dropped and delayed and the storage ` +
    `fills; no acknowledged write lost, no hang, I/O errors reach the guest, memory flat`,
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const r = await runSoak();
    const { result, why } = r;
    assert.equal(r.hang, undefined, `guest hang in phase ${r.hang}\n${why}`);
    assert.equal(result.timedOut, false, `guest timed out\n${why}`);
    assert.deepEqual(r.problems, [], `acknowledged writes lost or torn on the image\n${why}`);
    assert.equal(result.markers.get("verify_bad"), undefined, `guest verification\n${why}`);
    assert.equal(result.markers.get("readbad"), undefined, `a read-back differed\n${why}`);
    assert.equal(result.markers.get("verify_ioerr"), undefined, `verification read failed\n${why}`);
    assert.equal(result.scriptStatus, 0, why);
    assert.equal(Number(result.markers.get("verified")), BLOCKS, why);
    assert.ok(r.acks > 0, why);
    assert.ok(r.restarts >= 1 || SECONDS < 30, `the back-end was restarted\n${why}`);
    // ENOSPC reached the guest as an I/O error, and the back-end lived on.
    assert.ok(r.refused > 0, `the back-end refused writes with ENOSPC\n${why}`);
    assert.ok(r.errors > 0, `the guest saw I/O errors while the storage was full\n${why}`);
    // Each refused write failed in the guest: none became a silent success.
    assert.equal(r.errors, r.refused, `every ENOSPC reached the guest as an I/O error\n${why}`);
    // As EIO, the errno of VIRTIO_BLK_S_IOERR (not EOPNOTSUPP, which UNSUPP gives).
    assert.equal(r.errorsEio, r.errors, `every failed write failed with EIO\n${why}`);
    assert.equal(r.readErrors, 0, `no read-back failed (ENOSPC fails writes only)\n${why}`);
    assert.equal(r.lastCode, 0, `the last back-end exited cleanly\n${why}`);
    for (const out of r.outputs) assert.doesNotMatch(out, /Uncaught|panicked|SIGBUS|SIGSEGV/, why);
    // Memory: the last process, after warm-up.
    if (r.rssGrowth !== undefined) {
      const grew = r.rssGrowth.late - r.rssGrowth.early;
      assert.ok(grew < RSS_GROWTH_KIB, `RSS grew ${grew} KiB\n${why}`);
      // What the back-end holds: its heap after a full collection (--expose-gc) each sample.
      assert.ok(r.heap.length > 0 && r.heap.every((s) => s.gc), `post-GC heap samples\n${why}`);
      assert.ok(r.heapTrend !== undefined, `post-GC heap samples of the last back-end\n${why}`);
      const fitted = r.heapTrend.fittedGrowthKib;
      assert.ok(
        fitted < HEAP_GROWTH_KIB,
        `post-GC heap grew ${fitted.toFixed(0)} KiB (fitted) after warm-up\n${why}`,
      );
    }
  },
});
