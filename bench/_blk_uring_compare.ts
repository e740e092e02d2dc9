// virtio-blk at queue depth 32 through the whole stack (driver, PCI, device)
// over `UringFileStorage` against one `node:fs` `pwrite`/`pread` per request
// on the same image, in one process: interleaved rounds (the order rotates
// from round to round), CPU time of every thread (`process.cpuUsage`), and
// where it went: the JavaScript thread, io_uring's io-wq workers (threads
// named `iou-wrk-*`, counted), V8's helper threads (GC, compiler), and the
// rest, from `/proc/self/task/*/schedstat`; per batch of 32, how often the
// worker slept and was preempted, and the system's rescheduling IPIs
// (`/proc/interrupts` RES: a worker running on the other CPU shows as no
// preemption and a few IPIs a batch; see docs/performance.md). Also the
// system's Dirty and Writeback (`/proc/meminfo`) around each round. `PosixFileStorage` (one
// `pwrite` per request inside the stack) is a reference line.
//
// Run: deno run -A bench/_blk_uring_compare.ts [--dir=/tmp] [--image=sparse|dense]
//   [--op=write|read] [--rounds=9] [--warmup=2] [--iters=1000] [--path=<image>] [--cpus] [--json]
// `--cpus` samples, every 10 iterations of the io_uring case (inside its
// timed loop: it costs that case about 2%), whether the io-wq worker last ran
// on the JavaScript thread's CPU.
// `--image=sparse` is a 64 MiB image made by truncate (every block a hole
// until written), `dense` one written in full and synced before the first
// round. 32 requests of 4 KiB at pseudo-random 4 KiB offsets per iteration.
// `--path` keeps the image (made as `--image` says when missing, used as it
// is when there) for a later process. `--warmup` rounds of every case run
// first and are not counted: V8 compiles the stack's code and collects on
// helper threads during the first tens of milliseconds, and the first write
// to a hole of a sparse image costs about twice a later one; whichever case
// came first would pay both. Medians over the counted rounds.
import process from "node:process";
import { openSync, readSync, writeSync } from "node:fs";
import { blkStack, blockOffsets } from "./_blk_rig.ts";
import { type BlkDisk, PosixFileStorage, UringFileStorage } from "../src/devices/blk/mod.ts";

const opt = (name: string, def: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const dir = opt("dir", "/tmp");
const image = opt("image", "sparse");
const write = opt("op", "write") === "write";
const rounds = Number(opt("rounds", "9"));
const warmup = Number(opt("warmup", "2"));
const iters = Number(opt("iters", "1000"));
const keep = opt("path", "");
const json = Deno.args.includes("--json");
const cpus = Deno.args.includes("--cpus");
if (!["sparse", "dense"].includes(image) || !(rounds >= 1) || !(warmup >= 0) || !(iters >= 1)) {
  console.error("usage: _blk_uring_compare.ts [--dir=] [--image=sparse|dense] [--op=write|read]");
  Deno.exit(2);
}

const IMAGE = 64 << 20;
const BLOCK = 4096;
const DEPTH = 32;
const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
const reuse = keep !== "" && exists(keep);
const path = keep || Deno.makeTempFileSync({ dir, prefix: "blk-uring-", suffix: ".img" });
if (keep === "") globalThis.addEventListener("unload", () => Deno.removeSync(path));
else if (!reuse) Deno.writeFileSync(path, new Uint8Array(0));
if (reuse) {
  if (Deno.statSync(path).size !== IMAGE) throw new Error(`${path}: not a ${IMAGE}-byte image`);
} else if (image === "sparse") {
  Deno.truncateSync(path, IMAGE);
} else {
  const f = Deno.openSync(path, { write: true });
  const chunk = new Uint8Array(1 << 20).fill(0xa5);
  for (let at = 0; at < IMAGE; at += chunk.length) f.writeSync(chunk);
  f.syncSync();
  f.close();
}

// The same pseudo-random blocks as blk_bench.ts, one shared position for every case.
const next = blockOffsets(IMAGE, BLOCK);
const stack = blkStack;

const fd = openSync(path, "r+");
const uring = new UringFileStorage(path);
const uringDisk = await stack(uring);
const posix = new PosixFileStorage(path);
const posixDisk = await stack(posix);
const bufs = Array.from({ length: DEPTH }, () => new Uint8Array(BLOCK).fill(0x5a));

const through = async (d: BlkDisk) => {
  const all: Promise<void>[] = [];
  for (let i = 0; i < DEPTH; i++) {
    all.push(write ? d.write(next() / 512, bufs[i]) : d.read(next() / 512, bufs[i]));
  }
  await Promise.all(all);
};
const cases: Record<string, () => unknown> = {
  [write ? "pwrite" : "pread"]: () => {
    for (let i = 0; i < DEPTH; i++) {
      const n = write
        ? writeSync(fd, bufs[i], 0, BLOCK, next())
        : readSync(fd, bufs[i], 0, BLOCK, next());
      if (n !== BLOCK) throw new Error("short transfer");
    }
  },
  uring: () => through(uringDisk),
  posix: () => through(posixDisk),
};
const names = Object.keys(cases);
const baseline = names[0];

/** CPU ns per thread kind, and the io-wq workers alive now. */
const workers = new Set<string>();
function threads(): { ns: Record<string, number>; iouWrk: number } {
  const ns: Record<string, number> = {
    main: 0,
    "iou-wrk": 0,
    v8: 0,
    other: 0,
    wrkSleeps: 0,
    wrkPreempted: 0,
  };
  let iouWrk = 0;
  for (const e of Deno.readDirSync("/proc/self/task")) {
    try {
      const comm = Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).trim();
      const run = Number(
        Deno.readTextFileSync(`/proc/self/task/${e.name}/schedstat`).split(" ")[0],
      );
      const kind = e.name === String(Deno.pid)
        ? "main"
        : comm.startsWith("iou-wrk")
        ? "iou-wrk"
        : comm.startsWith("V8")
        ? "v8"
        : "other";
      if (kind === "iou-wrk") {
        iouWrk++;
        workers.add(e.name);
        const st = Deno.readTextFileSync(`/proc/self/task/${e.name}/status`);
        ns.wrkSleeps += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
        ns.wrkPreempted += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
      }
      ns[kind] += run;
    } catch {
      // the thread ended meanwhile
    }
  }
  // Rescheduling interrupts (IPIs waking a thread on the other CPU), all CPUs.
  const res = /^\s*RES:((?:\s+\d+)+)/m.exec(Deno.readTextFileSync("/proc/interrupts"))?.[1];
  ns.resIpis = res === undefined ? 0 : res.trim().split(/\s+/).reduce((a, b) => a + Number(b), 0);
  return { ns, iouWrk };
}
/** Whether the io-wq worker last ran on the JavaScript thread's CPU (`/proc/<tid>/stat` field 39). */
function sampleCpus(where: { same: number; other: number }): void {
  const lastCpu = (tid: string) =>
    Number(Deno.readTextFileSync(`/proc/self/task/${tid}/stat`).split(") ")[1].split(" ")[36]);
  for (const w of workers) {
    try {
      if (lastCpu(w) === lastCpu(String(Deno.pid))) where.same++;
      else where.other++;
    } catch {
      // the worker ended
    }
  }
}
function meminfo(): string {
  const t = Deno.readTextFileSync("/proc/meminfo");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? NaN);
  return `Dirty ${(kb("Dirty") / 1024).toFixed(0)} MiB, Writeback ${
    (kb("Writeback") / 1024).toFixed(0)
  } MiB`;
}
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const perRound: Record<string, number[]> = {};
for (const n of names) perRound[n] = [];
const load0 = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
for (let r = -warmup; r < rounds; r++) {
  const at = (r + warmup) % names.length;
  const order = names.slice(at).concat(names.slice(0, at));
  for (const n of order) {
    const t0 = threads();
    const m0 = meminfo();
    const c0 = cpu();
    const where = { same: 0, other: 0 };
    for (let k = 0; k < iters; k++) {
      await cases[n]();
      if (cpus && n === "uring" && k % 10 === 0) sampleCpus(where);
    }
    const c1 = cpu();
    const t1 = threads();
    const reqs = DEPTH * iters;
    const us = (c1 - c0) / reqs;
    if (r >= 0) perRound[n].push(us);
    if (!json) {
      const d = (k: string) => ((t1.ns[k] - t0.ns[k]) / 1000 / reqs).toFixed(2);
      const b = (k: string) => ((t1.ns[k] - t0.ns[k]) / iters).toFixed(1);
      console.log(
        `${r < 0 ? "warm-up" : `round ${r}`} ${n.padEnd(6)} ${
          us.toFixed(2).padStart(6)
        } µs/req: main ${d("main")}, ` +
          `iou-wrk ${d("iou-wrk")} (${t1.iouWrk} alive; a batch: ${b("wrkSleeps")} sleeps, ` +
          `${b("wrkPreempted")} preempted, ${b("resIpis")} RES IPIs), ` +
          `V8 helpers ${d("v8")}, other ${d("other")}; ` +
          (cpus && n === "uring"
            ? `worker on the JavaScript thread's CPU ${where.same}, on another ${where.other}; `
            : "") +
          `${m0} -> ${meminfo()}`,
      );
    }
  }
}
const median = (a: number[]) => {
  const b = a.slice().sort((x, y) => x - y);
  return b.length % 2 ? b[b.length >> 1] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
const base = median(perRound[baseline]);
const summary = names.map((n) => {
  const ratios = perRound[n].map((v, i) => v / perRound[baseline][i]);
  return {
    case: n,
    medianUs: median(perRound[n]),
    ratio: median(perRound[n]) / base,
    roundRatios: [Math.min(...ratios), Math.max(...ratios)],
  };
});
const load1 = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
if (json) {
  console.log(
    JSON.stringify({
      dir,
      image,
      op: write ? "write" : "read",
      rounds,
      iters,
      load: [load0, load1],
      workersSeen: workers.size,
      summary,
    }),
  );
} else {
  console.log(
    `${dir}, ${image} image, ${write ? "write" : "read"} QD${DEPTH}, load ${load0} -> ${load1}, ` +
      `io-wq workers seen ${workers.size}`,
  );
  for (const s of summary) {
    console.log(
      `  ${s.case.padEnd(6)} ${s.medianUs.toFixed(2)} µs/req, ${s.ratio.toFixed(2)}x ` +
        `(rounds ${s.roundRatios[0].toFixed(2)}-${s.roundRatios[1].toFixed(2)}x)`,
    );
  }
}
uring.close();
posix.close();
