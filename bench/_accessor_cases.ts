// Generated accessors against hand-written DataView calls at constant
// offsets, in the same run. Each group's baseline is the raw DataView loop;
// `deno bench` prints the ratio of every other case to it. One buffer kind
// per bench file (accessor_bench.ts: ArrayBuffer, accessor_shared_bench.ts:
// SharedArrayBuffer), since a program usually uses one, and V8's feedback
// for the accessors becomes polymorphic when one isolate mixes both.
import { VirtqDesc } from "../src/generated/virtqueue.ts";
import { VirtioBlkConfig } from "../src/generated/devices/blk.ts";

const N = 1024; // descriptors per iteration

let sink = 0;
let sinkBig = 0n;

/** Registers every accessor benchmark over buffers made by `make`. */
export function registerAccessorBenches(
  label: string,
  make: (size: number) => ArrayBuffer | SharedArrayBuffer,
): void {
  const view = new DataView(make(N * 16));
  const desc = new VirtqDesc(view);

  // --- reads of u16/u32 fields of virtq_desc --------------------------------
  Deno.bench({
    name: `raw DataView: read len/flags/next (${label})`,
    group: `desc read u16/u32 ${label}`,
    baseline: true,
    fn() {
      let s = 0;
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        s += view.getUint32(o + 8, true) + view.getUint16(o + 12, true) +
          view.getUint16(o + 14, true);
      }
      sink = s;
    },
  });
  Deno.bench({
    name: `VirtqDesc: read len/flags/next (${label})`,
    group: `desc read u16/u32 ${label}`,
    fn() {
      let s = 0;
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.offset = o;
        s += desc.len + desc.flags + desc.next;
      }
      sink = s;
    },
  });

  // --- writes ---------------------------------------------------------------
  Deno.bench({
    name: `raw DataView: write len/flags/next (${label})`,
    group: `desc write u16/u32 ${label}`,
    baseline: true,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        view.setUint32(o + 8, i, true);
        view.setUint16(o + 12, 1, true);
        view.setUint16(o + 14, i & 0xffff, true);
      }
    },
  });
  Deno.bench({
    name: `VirtqDesc: write len/flags/next (${label})`,
    group: `desc write u16/u32 ${label}`,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.offset = o;
        desc.len = i;
        desc.flags = 1;
        desc.next = i & 0xffff;
      }
    },
  });

  // --- a whole descriptor: setters one by one, or write() ----------------------
  Deno.bench({
    name: `raw DataView: write addr/len/flags/next (${label})`,
    group: `desc write all ${label}`,
    baseline: true,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        const a = 0x1_0000_0000 + i * 4096;
        view.setUint32(o, a >>> 0, true);
        view.setUint32(o + 4, Math.floor(a / 4294967296), true);
        view.setUint32(o + 8, i, true);
        view.setUint16(o + 12, 1, true);
        view.setUint16(o + 14, i & 0xffff, true);
      }
    },
  });
  Deno.bench({
    name: `VirtqDesc: setters addr/len/flags/next (${label})`,
    group: `desc write all ${label}`,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.offset = o;
        desc.addr = 0x1_0000_0000 + i * 4096;
        desc.len = i;
        desc.flags = 1;
        desc.next = i & 0xffff;
      }
    },
  });
  Deno.bench({
    name: `VirtqDesc: at(o).write(addr, len, flags, next) (${label})`,
    group: `desc write all ${label}`,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.at(o).write(0x1_0000_0000 + i * 4096, i, 1, i & 0xffff);
      }
    },
  });

  // --- u64: addr as number (asNumber) and as bigint -------------------------
  Deno.bench({
    name: `raw DataView: read addr as two u32 -> number (${label})`,
    group: `desc u64 ${label}`,
    baseline: true,
    fn() {
      let s = 0;
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        s += view.getUint32(o, true) + view.getUint32(o + 4, true) * 4294967296;
      }
      sink = s;
    },
  });
  Deno.bench({
    name: `VirtqDesc: read addr as number (${label})`,
    group: `desc u64 ${label}`,
    fn() {
      let s = 0;
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.offset = o;
        s += desc.addr;
      }
      sink = s;
    },
  });
  Deno.bench({
    name: `raw DataView: getBigUint64 (${label})`,
    group: `desc u64 ${label}`,
    fn() {
      let s = 0n;
      for (let i = 0, o = 0; i < N; i++, o += 16) s += view.getBigUint64(o, true);
      sinkBig = s;
    },
  });
  Deno.bench({
    name: `VirtqDesc: write addr as number (${label})`,
    group: `desc u64 ${label}`,
    fn() {
      for (let i = 0, o = 0; i < N; i++, o += 16) {
        desc.offset = o;
        desc.addr = 0x1_0000_0000 + i * 4096;
      }
    },
  });

  // --- a device config: u8/u16/u32 fields and a nested struct ---------------
  const cfgView = new DataView(make(64));
  const cfg = new VirtioBlkConfig(cfgView);
  Deno.bench({
    name: `raw DataView: blk config seg_max/geometry/blk_size (${label})`,
    group: `blk config ${label}`,
    baseline: true,
    fn() {
      let s = 0;
      for (let i = 0; i < N; i++) {
        s += cfgView.getUint32(12, true) + cfgView.getUint16(16, true) + cfgView.getUint8(18) +
          cfgView.getUint8(19) + cfgView.getUint32(20, true);
      }
      sink = s;
    },
  });
  Deno.bench({
    name: `VirtioBlkConfig: seg_max/geometry/blk_size (${label})`,
    group: `blk config ${label}`,
    fn() {
      let s = 0;
      for (let i = 0; i < N; i++) {
        const g = cfg.geometry;
        s += cfg.segMax + g.cylinders + g.heads + g.sectors + cfg.blkSize;
      }
      sink = s;
    },
  });
  Deno.bench({
    name: `VirtioBlkConfig: capacity as bigint (${label})`,
    group: `blk config ${label}`,
    fn() {
      let s = 0n;
      for (let i = 0; i < N; i++) s += cfg.capacity;
      sinkBig = s;
    },
  });
}

/** Keeps the benchmarks' results observable so they are not optimised away. */
export function results(): [number, bigint] {
  return [sink, sinkBig];
}
