/**
 * The checked I/O the soaks with faults share (issue 18): the guest's shell
 * script ({@link guestScript}), the host's record of what the guest reported
 * ({@link SoakLedger}), the host's own check of an image against it
 * ({@link SoakLedger.checkImage}), and the measure of memory growth
 * ({@link growth}). Used by the QEMU soak (tests/interop/_soak.ts) and the
 * v86 soak (tests/hosts/v86/soak_test.ts).
 *
 * Each guest writer owns a set of 4 KiB blocks of one disk and writes
 * generation after generation of them with O_DIRECT and a flush
 * (conv=fsync), so a write the guest saw succeed was acknowledged by the
 * device. A block is a 64-byte header `SOAK <block> <generation> <md5 of the
 * payload>` and a payload made from (block, generation). After a success it
 * is sometimes read back. Afterwards each block must hold its last
 * acknowledged generation, or a generation whose write failed after it (a
 * failed write may or may not have reached the disk), and never a torn or
 * foreign block.
 *
 * Markers the guest prints (disk `d` is a name under /dev, e.g. `vda`):
 * `@@start=1`; `@@ack=d:b,g` (write of generation g of block b succeeded);
 * `@@err=d:b,g,k` (it failed; k is `eio` when the error was EIO, else
 * `other`); `@@readok=d:b,g`, `@@readbad=d:b,g`, `@@readerr=d:b,g,k` for a
 * read-back; `@@hb=t` every 5 s; `@@writers_done=1`; then
 * `@@verify_bad=...`, `@@verify_ioerr=d:b`, `@@verified=n`,
 * `@@verify_failures=n`.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Bytes of one block the guest writes. */
export const BLOCK = 4096;
/** Bytes of a block's header. */
export const HEADER = 64;

/** What the guest writes: how long, on which disks, with how many writers. */
export interface GuestIoPlan {
  /** How long the writers run, in seconds. */
  readonly seconds: number;
  /** The disks, as names under /dev (`vda`), or shell words that expand to them (`$1`). */
  readonly disks: readonly string[];
  /** Writers per disk. */
  readonly writers: number;
  /** Blocks each writer owns. */
  readonly perWriter: number;
}

/** Blocks the guest writes and verifies on each disk. */
export function blocksPerDisk(plan: GuestIoPlan): number {
  return plan.writers * plan.perWriter;
}

/** The guest's script: writers, a heartbeat, then the verification of every block. */
export function guestScript(plan: GuestIoPlan): string {
  const { seconds, writers: W, perWriter: P } = plan;
  const blocks = W * P;
  return `
DISKS="${plan.disks.join(" ")}"
rm -rf /tmp/s /tmp/end /tmp/stop
mkdir -p /tmp/s
echo "@@start=1"
# The writers stop when /tmp/end appears (a test builtin per write, not a date process).
( sleep ${seconds}; touch /tmp/end ) &
errkind() { grep -qE 'Input/output error|I/O error' "$1" && echo eio || echo other; }
writer() {
  d=$1; w=$2; g=0; t=$d-$w
  while [ ! -f /tmp/end ]; do
    b=$(( w * ${P} + RANDOM % ${P} )); g=$((g+1))
    yes "soak-$b-$g" | head -c ${BLOCK - HEADER} > /tmp/p$t
    set -- $(md5sum /tmp/p$t)
    { printf '%-${HEADER - 1}s\\n' "SOAK $b $g $1"; cat /tmp/p$t; } > /tmp/blk$t
    if dd if=/tmp/blk$t of=/dev/$d bs=${BLOCK} seek=$b count=1 oflag=direct conv=fsync 2>/tmp/e$t; then
      echo $g > /tmp/s/ack_\${d}_$b
      if [ -f /tmp/s/err_\${d}_$b ]; then rm /tmp/s/err_\${d}_$b; fi
      echo "@@ack=$d:$b,$g"
      if [ $((RANDOM % 4)) -eq 0 ]; then
        if dd if=/dev/$d bs=${BLOCK} skip=$b count=1 iflag=direct 2>/tmp/e$t > /tmp/r$t; then
          cmp -s /tmp/r$t /tmp/blk$t && echo "@@readok=$d:$b,$g" || echo "@@readbad=$d:$b,$g"
        else
          echo "@@readerr=$d:$b,$g,$(errkind /tmp/e$t)"
        fi
      fi
    else
      echo $g >> /tmp/s/err_\${d}_$b
      echo "@@err=$d:$b,$g,$(errkind /tmp/e$t)"
    fi
  done
}
( while [ ! -f /tmp/stop ]; do sleep 5; echo "@@hb=$(date +%s)"; done ) &
pids=""
for d in $DISKS; do
  w=0
  while [ $w -lt ${W} ]; do writer $d $w & pids="$pids $!"; w=$((w+1)); done
done
for p in $pids; do wait $p; done
echo "@@writers_done=1"
bad=0; ok=0
for d in $DISKS; do
  b=0
  while [ $b -lt ${blocks} ]; do
    dd if=/dev/$d bs=${BLOCK} skip=$b count=1 iflag=direct 2>/dev/null > /tmp/v || echo "@@verify_ioerr=$d:$b"
    set -- $(head -c ${HEADER} /tmp/v)
    ack=""; if [ -f /tmp/s/ack_\${d}_$b ]; then read ack < /tmp/s/ack_\${d}_$b; fi
    if [ "$1" != SOAK ]; then
      # Never written (zeroes) is fine only for a block never acknowledged.
      if [ -n "$ack" ]; then bad=$((bad+1)); echo "@@verify_bad=$d:$b,lost,ack=$ack"; else ok=$((ok+1)); fi
    else
      h2=$2; h3=$3; h4=$4
      set -- $(tail -c ${BLOCK - HEADER} /tmp/v | md5sum)
      sum=$1; set -- SOAK "$h2" "$h3" "$h4"
      if [ "$2" != $b ] || [ "$4" != "$sum" ]; then
        bad=$((bad+1)); echo "@@verify_bad=$d:$b,torn,gen=$3"
      elif [ "$3" = "$ack" ] || grep -qx "$3" /tmp/s/err_\${d}_$b 2>/dev/null; then
        ok=$((ok+1))
      else
        bad=$((bad+1)); echo "@@verify_bad=$d:$b,gen=$3,ack=$ack"
      fi
    fi
    b=$((b+1))
  done
done
touch /tmp/stop
echo "@@verified=$ok"
echo "@@verify_failures=$bad"
[ $bad -eq 0 ]
`;
}

function md5hex(b: Uint8Array): string {
  return createHash("md5").update(b).digest("hex");
}

const enc = new TextEncoder();

/** What block `b` of `img` holds: undefined for zeroes, else its generation, or "torn". */
export function readBlock(img: Uint8Array, b: number): { gen: number } | "torn" | undefined {
  const block = img.subarray(b * BLOCK, (b + 1) * BLOCK);
  if (block.every((x) => x === 0)) return undefined;
  const header = new TextDecoder().decode(block.subarray(0, HEADER)).trim().split(/\s+/);
  if (header[0] !== "SOAK" || Number(header[1]) !== b) return "torn";
  const gen = Number(header[2]);
  // Independent of the guest's checksum: the payload is rebuilt from (block, generation).
  const line = enc.encode(`soak-${b}-${gen}\n`);
  const payload = new Uint8Array(BLOCK - HEADER);
  for (let o = 0; o < payload.length; o += line.length) {
    payload.set(line.subarray(0, payload.length - o), o);
  }
  const body = block.subarray(HEADER);
  if (md5hex(body) !== header[3] || md5hex(payload) !== header[3]) return "torn";
  return { gen };
}

/** The phase of a soak's guest, from its markers. */
export type SoakPhase = "boot" | "run" | "verify";

/**
 * The host's record of the guest's markers: per disk and block the last
 * acknowledged generation and the generations that failed after it, the
 * counts, the phase and the time of the last progress (an acknowledged or
 * failed write). Feed it every console line with {@link SoakLedger.line}.
 */
export class SoakLedger {
  /** Last acknowledged generation by `disk:block`. */
  readonly acked: Map<string, number> = new Map();
  /** Generations that failed after the last acknowledged one, by `disk:block`. */
  readonly failedAfterAck: Map<string, Set<number>> = new Map();
  /** Writes the guest saw succeed. */
  acks = 0;
  /** Writes the guest saw fail, and of them those that failed with EIO. */
  errors = 0;
  errorsEio = 0;
  /** Read-backs: equal, different, failed (and of them with EIO). */
  reads = 0;
  readsBad = 0;
  readErrors = 0;
  readErrorsEio = 0;
  /** The last value of every other marker. */
  readonly markers: Map<string, string> = new Map();
  /** The guest's phase; {@link SoakLedger.phaseSince} when it began (ms). */
  phase: SoakPhase = "boot";
  phaseSince: number = Date.now();
  /** When the last write was acknowledged or failed (ms). */
  lastProgress: number = Date.now();

  /** Reads one console line; returns the marker's key, if it was one. */
  line(line: string): string | undefined {
    const m = /@@([a-z_]+)=(\S*)/.exec(line);
    if (m === null) return undefined;
    const [, key, value] = m;
    const now = Date.now();
    const rec = /^([a-z0-9]+):(\d+),(\d+)(?:,([a-z]+))?$/.exec(value);
    if (key === "ack" && rec !== null) {
      const k = `${rec[1]}:${rec[2]}`;
      this.acked.set(k, Number(rec[3]));
      this.failedAfterAck.delete(k);
      this.acks++;
      this.lastProgress = now;
    } else if (key === "err" && rec !== null) {
      const k = `${rec[1]}:${rec[2]}`;
      let s = this.failedAfterAck.get(k);
      if (s === undefined) this.failedAfterAck.set(k, s = new Set());
      s.add(Number(rec[3]));
      this.errors++;
      if (rec[4] === "eio") this.errorsEio++;
      this.lastProgress = now;
    } else if (key === "readok") this.reads++;
    else if (key === "readbad") this.readsBad++;
    else if (key === "readerr" && rec !== null) {
      this.readErrors++;
      if (rec[4] === "eio") this.readErrorsEio++;
    } else if (key === "start") {
      this.phase = "run";
      this.phaseSince = this.lastProgress = now;
    } else if (key === "writers_done") {
      this.phase = "verify";
      this.phaseSince = now;
    }
    if (key !== "ack" && key !== "err" && key !== "readok" && key !== "hb") {
      this.markers.set(key, value);
    }
    return key;
  }

  /**
   * The host's own check of `img`, disk `disk`'s image after the run, for
   * blocks `0..blocks-1`: every acknowledged write is there, whole. Returns
   * one line per lost or torn block.
   */
  checkImage(disk: string, img: Uint8Array, blocks: number): string[] {
    const problems: string[] = [];
    for (let b = 0; b < blocks; b++) {
      const on = readBlock(img, b);
      const ack = this.acked.get(`${disk}:${b}`);
      const failed = this.failedAfterAck.get(`${disk}:${b}`) ?? new Set<number>();
      if (on === "torn") {
        problems.push(`${disk} block ${b}: torn or foreign`);
      } else if (on === undefined) {
        if (ack !== undefined) {
          problems.push(`${disk} block ${b}: zeroes, generation ${ack} acknowledged`);
        }
      } else if (on.gen !== ack && !failed.has(on.gen)) {
        problems.push(`${disk} block ${b}: generation ${on.gen} on disk, ${ack} acknowledged`);
      }
    }
    return problems;
  }
}

/**
 * Growth of a sampled quantity after warm-up: the first quarter of the
 * samples is warm-up; of the rest, the lowest value of its first quarter
 * (`early`) and the highest of its last quarter (`late`). Undefined with
 * fewer than 4 samples after warm-up.
 */
export function growth(samples: readonly number[]): { early: number; late: number } | undefined {
  const warm = samples.slice(Math.floor(samples.length / 4));
  if (warm.length < 4) return undefined;
  const q = Math.max(1, Math.floor(warm.length / 4));
  return { early: Math.min(...warm.slice(0, q)), late: Math.max(...warm.slice(-q)) };
}

/** Resolves after `ms`, or sooner once `stop.stopped` is set. */
export function sleepUnless(ms: number, stop: { stopped: boolean }): Promise<void> {
  return new Promise<void>((resolve) => {
    const started = Date.now();
    const tick = () => {
      if (stop.stopped || Date.now() - started >= ms) resolve();
      else setTimeout(tick, Math.min(250, ms));
    };
    tick();
  });
}
