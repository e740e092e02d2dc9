// The v86 soak with faults (issue 18): Linux in v86 writes and verifies
// checksummed blocks on two of our virtio-blk disks (PCI modern and MMIO v2)
// for TYPED_VIRTIO_SOAK_SECONDS (CI: 120) while the storage fills (ENOSPC)
// and fails (EIO), kicks and interrupts are dropped and delayed, and the
// device models are restarted; see tests/hosts/v86/_soak.ts for the run and
// docs/reliability.md, "Soak with faults". The long run is
// `deno task soak --host v86 --seconds 3600`.

import assert from "node:assert/strict";
import { kitOrSkip } from "./_guest.ts";
import {
  BLOCKS,
  type DiskStats,
  HEAP_GROWTH_KIB,
  OWN_HEAP_GROWTH_KIB,
  RSS_GROWTH_KIB,
  runV86Soak,
  SECONDS,
} from "./_soak.ts";
import { TRANSPORTS } from "./_soak_host.ts";

const haveKit = await kitOrSkip();

Deno.test({
  name: `v86 soak with faults: ${SECONDS} s of checksummed guest I/O on our virtio-blk over PCI ` +
    `and MMIO while the storage fills and fails, notifications are dropped and delayed and the ` +
    `device models restart; no acknowledged write lost, no hang, I/O errors reach the guest as ` +
    `EIO, host memory flat`,
  ignore: !haveKit,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const r = await runV86Soak();
    const { ledger, why } = r;
    assert.equal(r.hang, undefined, `guest hang in phase ${r.hang}\n${why}`);
    // 0 acknowledged writes lost: on the images, and in the guest's own check.
    assert.deepEqual(r.problems, [], `acknowledged writes lost or torn on an image\n${why}`);
    assert.equal(ledger.markers.get("verify_bad"), undefined, `guest verification\n${why}`);
    assert.equal(ledger.markers.get("verify_ioerr"), undefined, `verification read failed\n${why}`);
    assert.equal(ledger.readsBad, 0, `a read-back differed\n${why}`);
    assert.equal(r.code, 0, `the host process exited ${r.code}\n${why}`);
    assert.deepEqual(r.exit, { guestRc: 0, guestError: "" }, `the guest script failed\n${why}`);
    assert.ok(r.disks.pci !== undefined && r.disks.mmio !== undefined, why);
    assert.equal(Number(ledger.markers.get("verified")), BLOCKS * TRANSPORTS.length, why);
    assert.equal(ledger.markers.get("verify_failures"), "0", why);
    const stats = r.stats;
    assert.ok(stats !== undefined, `no stats from the host process\n${why}`);
    const disks = TRANSPORTS.map((t) => stats[t] as DiskStats);
    for (const [i, d] of disks.entries()) {
      // Both disks did the work (a disk whose writes never arrive would fail the checks above).
      assert.ok(d.device.writes > 0, `${TRANSPORTS[i]}: no writes\n${why}`);
    }
    assert.ok(ledger.acks > 0, why);
    // The faults happened, and met the guest's requests.
    if (SECONDS >= 30) {
      assert.ok(stats.counts.restarts >= TRANSPORTS.length, `the device models restarted\n${why}`);
      assert.ok(stats.counts.refusedEnospc > 0, `requests refused with ENOSPC\n${why}`);
      assert.ok(stats.counts.refusedEio > 0, `requests refused with EIO\n${why}`);
      assert.ok(stats.counts.dropped > 0, `kicks or interrupts were dropped\n${why}`);
    }
    // Storage errors reach the guest as I/O errors, never as a silent success:
    // each request the storage refused is one write, flush or read-back the
    // guest saw fail, and with EIO (VIRTIO_BLK_S_IOERR; UNSUPP would give EOPNOTSUPP).
    const refused = disks.reduce(
      (n, d) => n + d.refused.writes + d.refused.flushes + d.refused.reads,
      0,
    );
    assert.ok(refused > 0, `the storage refused requests\n${why}`);
    assert.equal(
      ledger.errors + ledger.readErrors,
      refused,
      `every refused request failed in the guest\n${why}`,
    );
    assert.equal(ledger.errorsEio, ledger.errors, `failed writes failed with EIO\n${why}`);
    assert.equal(ledger.readErrorsEio, ledger.readErrors, `failed reads failed with EIO\n${why}`);
    const deviceErrors = disks.reduce((n, d) => n + d.device.errors, 0);
    assert.equal(deviceErrors, refused, `the device completed each with IOERR\n${why}`);
    // Memory: after warm-up, after a gc.
    assert.ok(r.heapGrowth !== undefined && r.rssGrowth !== undefined, `too few samples\n${why}`);
    const heap = r.heapGrowth.late - r.heapGrowth.early;
    const rss = r.rssGrowth.late - r.rssGrowth.early;
    assert.ok(heap < HEAP_GROWTH_KIB, `heap grew ${heap} KiB\n${why}`);
    assert.ok(rss < RSS_GROWTH_KIB, `RSS grew ${rss} KiB\n${why}`);
    // The same heap without v86's JIT cache (bounded by v86 itself: see
    // docs/reliability.md, "Where the heap goes"): ours, and flat.
    assert.ok(r.ownHeapGrowth !== undefined, `too few samples without the JIT cache\n${why}`);
    const own = r.ownHeapGrowth.late - r.ownHeapGrowth.early;
    assert.ok(own < OWN_HEAP_GROWTH_KIB, `heap without v86's JIT cache grew ${own} KiB\n${why}`);
  },
});
