// Best-of-N time of generated accessor writes (and reads) against raw
// DataView calls at constant offsets, in one process, the cases interleaved
// (the order rotates from run to run) so that load on a shared machine hits
// them alike; time is the process's CPU time (see _virtqueue_compare.ts).
// `deno bench bench/accessor_bench.ts` has the same cases, but its means swing
// too much on a loaded 2-core machine. The control case is the raw loop again,
// in a function of its own: its ratio is the noise floor of the run (the same
// machine code placed elsewhere, measured at other moments).
//
// Run: deno run --allow-sys bench/_accessor_compare.ts [runs=15] [iterations=2000] [ab|sab]
import process from "node:process";
import { positional, reportRow } from "./_report_rows.ts";
import { VirtqDesc } from "../src/generated/virtqueue.ts";

const args = positional();
const runs = Number(args[0] ?? 15);
const iterations = Number(args[1] ?? 2000);
const kinds = (args[2] ?? "ab,sab").split(",");
const N = 1024; // descriptors per iteration
let sink = 0; // keeps the reads observable

interface Case {
  name: string;
  run: () => void;
  best: number;
}

function cases(make: (n: number) => ArrayBuffer | SharedArrayBuffer): Case[] {
  const view = new DataView(make(N * 16));
  const desc = new VirtqDesc(view);
  return [
    {
      name: "raw DataView: len/flags/next",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          view.setUint32(o + 8, i, true);
          view.setUint16(o + 12, 1, true);
          view.setUint16(o + 14, i & 0xffff, true);
        }
      },
    },
    {
      name: "control: the raw loop again",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          view.setUint32(o + 8, i, true);
          view.setUint16(o + 12, 1, true);
          view.setUint16(o + 14, i & 0xffff, true);
        }
      },
    },
    {
      name: "setters: desc.len/flags/next =",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          desc.offset = o;
          desc.len = i;
          desc.flags = 1;
          desc.next = i & 0xffff;
        }
      },
    },
    {
      name: "raw DataView: addr/len/flags/next",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          const a = 0x1_0000_0000 + i * 4096;
          view.setUint32(o, a >>> 0, true);
          view.setUint32(o + 4, Math.floor(a / 4294967296), true);
          view.setUint32(o + 8, i, true);
          view.setUint16(o + 12, 1, true);
          view.setUint16(o + 14, i & 0xffff, true);
        }
      },
    },
    {
      name: "setters: desc.addr/len/flags/next =",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          desc.offset = o;
          desc.addr = 0x1_0000_0000 + i * 4096;
          desc.len = i;
          desc.flags = 1;
          desc.next = i & 0xffff;
        }
      },
    },
    {
      name: "desc.at(o).write(addr, len, flags, next)",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          desc.at(o).write(0x1_0000_0000 + i * 4096, i, 1, i & 0xffff);
        }
      },
    },
    {
      name: "raw DataView: read len/flags/next",
      best: Infinity,
      run() {
        let s = 0;
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          s += view.getUint32(o + 8, true) + view.getUint16(o + 12, true) +
            view.getUint16(o + 14, true);
        }
        sink += s;
      },
    },
    {
      name: "getters: desc.len + flags + next",
      best: Infinity,
      run() {
        let s = 0;
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          desc.offset = o;
          s += desc.len + desc.flags + desc.next;
        }
        sink += s;
      },
    },
  ];
}

const groups: [string, Case[]][] = [];
if (kinds.includes("ab")) groups.push(["ArrayBuffer", cases((n) => new ArrayBuffer(n))]);
if (kinds.includes("sab")) {
  groups.push([
    "SharedArrayBuffer",
    cases((n) => new SharedArrayBuffer(n)),
  ]);
}
for (const [, cs] of groups) for (const c of cs) for (let k = 0; k < 2000; k++) c.run(); // warm up
for (let r = 0; r < runs; r++) {
  for (const [, cs] of groups) {
    for (let j = 0; j < cs.length; j++) {
      const c = cs[(j + r) % cs.length];
      const t0 = process.cpuUsage();
      for (let k = 0; k < iterations; k++) c.run();
      const t = process.cpuUsage(t0);
      const us = (t.user + t.system) / iterations;
      if (us < c.best) c.best = us;
    }
  }
}
console.log(
  `best of ${runs} runs of ${iterations} x ${N} structs (load ${
    Deno.loadavg()[0].toFixed(1)
  }; sink ${sink > 0})`,
);
for (const [label, cs] of groups) {
  let base = cs[0].best;
  for (const c of cs) {
    if (c.name.startsWith("raw")) base = c.best;
    const ratio = c.name.startsWith("raw") ? "" : ` ${(c.best / base).toFixed(2)}x raw`;
    console.log(`${label.padEnd(17)} ${c.name.padEnd(46)} ${c.best.toFixed(2)} µs${ratio}`);
    if (!c.name.startsWith("raw")) {
      reportRow({
        area: "accessors",
        case: `${c.name} (${label.trim()})`,
        baseline: "raw DataView at constant offsets",
        ratio: c.best / base,
        detail: `${c.best.toFixed(2)} µs per ${N} writes`,
      });
    }
  }
}
