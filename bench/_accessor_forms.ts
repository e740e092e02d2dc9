// Generated setters against other forms of the flyweight, by hand, and raw
// DataView calls, in one process (cases interleaved, best-of-N CPU time, as
// in _accessor_compare.ts). The evidence for docs/architecture.md, "Setters":
// each form here is a candidate for what the generator could emit for
// `virtq_desc`, and what it costs besides.
//
// Run: deno run --allow-sys bench/_accessor_forms.ts [runs=10] [iterations=1500]
import process from "node:process";
import { VirtqDesc } from "../src/generated/virtqueue.ts";

const runs = Number(Deno.args[0] ?? 10);
const iterations = Number(Deno.args[1] ?? 1500);
const N = 1024; // descriptors per iteration

/** `offset` behind private fields. */
class PrivateDesc {
  #view: DataView;
  #o: number;
  constructor(view: DataView, offset = 0) {
    this.#view = view;
    this.#o = offset;
  }
  set offset(v: number) {
    this.#o = v;
  }
  set len(value: number) {
    this.#view.setUint32(this.#o + 8, value, true);
  }
  set flags(value: number) {
    this.#view.setUint16(this.#o + 12, value, true);
  }
  set next(value: number) {
    this.#view.setUint16(this.#o + 14, value, true);
  }
}

/** `offset` declared before `view`: its field comes first in the object. */
class OffsetFirstDesc {
  offset: number;
  view: DataView;
  constructor(view: DataView, offset = 0) {
    this.offset = offset;
    this.view = view;
  }
  set len(value: number) {
    this.view.setUint32(this.offset + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.offset + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.offset + 14, value, true);
  }
}

/** Fields initialised where declared (`offset = 0`): a small-integer field from the start. */
class InitDesc {
  view: DataView;
  offset: number = 0;
  constructor(view: DataView, offset = 0) {
    this.view = view;
    this.offset = offset;
  }
  set len(value: number) {
    this.view.setUint32(this.offset + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.offset + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.offset + 14, value, true);
  }
}

/** Class fields defined (`undefined` first): what the generator emitted before `declare`. */
class DefinedDesc {
  view: DataView;
  offset: number;
  constructor(view: DataView, offset = 0) {
    this.view = view;
    this.offset = offset;
  }
  set len(value: number) {
    this.view.setUint32(this.offset + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.offset + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.offset + 14, value, true);
  }
}

/** `offset` as a 32-bit integer in the setters. */
class OrZeroDesc {
  view: DataView;
  offset: number;
  constructor(view: DataView, offset = 0) {
    this.view = view;
    this.offset = offset;
  }
  set len(value: number) {
    this.view.setUint32((this.offset | 0) + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16((this.offset | 0) + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16((this.offset | 0) + 14, value, true);
  }
}

/** `offset` in a one-element Int32Array (offsets below 2^31 only). */
class Int32Desc {
  view: DataView;
  readonly o: Int32Array;
  constructor(view: DataView, offset = 0) {
    this.view = view;
    this.o = new Int32Array(1);
    this.o[0] = offset;
  }
  set offset(v: number) {
    this.o[0] = v;
  }
  set len(value: number) {
    this.view.setUint32(this.o[0] + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.o[0] + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.o[0] + 14, value, true);
  }
}

/** `offset` in a one-element Float64Array (any offset). */
class Float64Desc {
  view: DataView;
  readonly o: Float64Array;
  constructor(view: DataView, offset = 0) {
    this.view = view;
    this.o = new Float64Array(1);
    this.o[0] = offset;
  }
  set offset(v: number) {
    this.o[0] = v;
  }
  set len(value: number) {
    this.view.setUint32(this.o[0] + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.o[0] + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.o[0] + 14, value, true);
  }
}

/** A fixed offset: one accessor per struct (escape analysis may remove it). */
class FixedDesc {
  readonly view: DataView;
  readonly offset: number;
  constructor(view: DataView, offset: number) {
    this.view = view;
    this.offset = offset;
  }
  set len(value: number) {
    this.view.setUint32(this.offset + 8, value, true);
  }
  set flags(value: number) {
    this.view.setUint16(this.offset + 12, value, true);
  }
  set next(value: number) {
    this.view.setUint16(this.offset + 14, value, true);
  }
}

interface Case {
  name: string;
  run: () => void;
  best: number;
}

function cases(make: (n: number) => ArrayBuffer | SharedArrayBuffer): Case[] {
  const view = new DataView(make(N * 16));
  const g = new VirtqDesc(view);
  const p = new PrivateDesc(view);
  const z = new OrZeroDesc(view);
  const f = new OffsetFirstDesc(view);
  const ini = new InitDesc(view);
  const dec = new DefinedDesc(view);
  const i32 = new Int32Desc(view);
  const f64 = new Float64Desc(view);
  // Each case is its own function, so that V8's feedback stays monomorphic.
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
      name: "generated setters",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          g.offset = o;
          g.len = i;
          g.flags = 1;
          g.next = i & 0xffff;
        }
      },
    },
    {
      name: "private fields",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          p.offset = o;
          p.len = i;
          p.flags = 1;
          p.next = i & 0xffff;
        }
      },
    },
    {
      name: "offset declared first",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          f.offset = o;
          f.len = i;
          f.flags = 1;
          f.next = i & 0xffff;
        }
      },
    },
    {
      name: "offset = 0 where declared",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          ini.offset = o;
          ini.len = i;
          ini.flags = 1;
          ini.next = i & 0xffff;
        }
      },
    },
    {
      name: "defined class fields (before)",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          dec.offset = o;
          dec.len = i;
          dec.flags = 1;
          dec.next = i & 0xffff;
        }
      },
    },
    {
      name: "offset | 0",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          z.offset = o;
          z.len = i;
          z.flags = 1;
          z.next = i & 0xffff;
        }
      },
    },
    {
      name: "offset in an Int32Array",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          i32.offset = o;
          i32.len = i;
          i32.flags = 1;
          i32.next = i & 0xffff;
        }
      },
    },
    {
      name: "offset in a Float64Array",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          f64.offset = o;
          f64.len = i;
          f64.flags = 1;
          f64.next = i & 0xffff;
        }
      },
    },
    {
      name: "an accessor per struct",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) {
          const d = new FixedDesc(view, o);
          d.len = i;
          d.flags = 1;
          d.next = i & 0xffff;
        }
      },
    },
    {
      name: "create: new VirtqDesc(view, o).len = i",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) new VirtqDesc(view, o).len = i;
      },
    },
    {
      name: "create: new Int32Desc(view, o).len = i",
      best: Infinity,
      run() {
        for (let i = 0, o = 0; i < N; i++, o += 16) new Int32Desc(view, o).len = i;
      },
    },
  ];
}

const groups: [string, Case[]][] = [
  ["ArrayBuffer", cases((n) => new ArrayBuffer(n))],
  ["SharedArrayBuffer", cases((n) => new SharedArrayBuffer(n))],
];
for (const [, cs] of groups) for (const c of cs) for (let k = 0; k < 1000; k++) c.run(); // warm up
for (let r = 0; r < runs; r++) {
  for (const [, cs] of groups) {
    for (const c of cs) {
      const t0 = process.cpuUsage();
      for (let k = 0; k < iterations; k++) c.run();
      const t = process.cpuUsage(t0);
      const us = (t.user + t.system) / iterations;
      if (us < c.best) c.best = us;
    }
  }
}
console.log(
  `best of ${runs} runs of ${iterations} x ${N} structs (load ${Deno.loadavg()[0].toFixed(1)})`,
);
for (const [label, cs] of groups) {
  // Writes against the raw loop; creation against creating a generated accessor.
  let base = cs[0].best;
  for (const c of cs) {
    if (c.name.startsWith("raw") || c.name.startsWith("create: new VirtqDesc")) base = c.best;
    const ratio = c === cs[0] || c.name.startsWith("create: new VirtqDesc")
      ? ""
      : ` ${(c.best / base).toFixed(2)}x`;
    console.log(`${label.padEnd(17)} ${c.name.padEnd(40)} ${c.best.toFixed(2)} µs${ratio}`);
  }
}
