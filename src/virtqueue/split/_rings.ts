// The split ring's three areas (spec 2.7) mapped over guest memory, for both
// sides: `device.ts` and `driver.ts` build their queues on `splitRings`.
//
// Each side declares the spec's flag values and field offsets it uses as
// file-local `const enum`s rather than importing them from here: Deno's
// transpiler inlines a const enum as literals only inside its own file, and
// V8 does not fold an imported constant, so an import would cost a module
// cell load and a number check on every use in the hot paths
// (docs/virtqueue.md, "Flag constants inlined"). Each side ties its copy to
// the generated OFFSETS at load time with `checkOffsets`, and
// tests/virtqueue/layout_test.ts and hostile_test.ts check the flags byte for
// byte, so the two copies cannot drift from the spec.

import type { GuestMemory } from "../../memory.ts";
import { VirtqAvail, VirtqDesc, VirtqUsed } from "../../generated/virtqueue.ts";
import { checkQueueSize, type QueueAddresses, type QueueOptions, ringSizes } from "../layout.ts";
import { locateArea, ringWords } from "../_ring_util.ts";

/** The split ring of a queue: its accessors, and its ring words for shared memory. */
export interface SplitRings {
  /** The descriptor table's accessor, at entry 0. */
  readonly desc: VirtqDesc;
  /** The descriptor table's offset in `desc.view`. */
  readonly descBase: number;
  /** The available ring (2.7.6); `used_event` follows `ring[size]`. */
  readonly avail: VirtqAvail;
  /** The used ring (2.7.8); `avail_event` follows `ring[size]`. */
  readonly used: VirtqUsed;
  /** The available ring's 16-bit words, accessed atomically when memory is shared. */
  readonly availWords: Uint16Array;
  /** The used ring's 16-bit words, accessed atomically when memory is shared. */
  readonly usedWords: Uint16Array;
}

/** The three split-ring areas of `addrs` over guest memory, checked for size and placement. */
export function splitRings(
  mem: GuestMemory,
  addrs: QueueAddresses,
  opts: QueueOptions,
): SplitRings {
  const size = addrs.size;
  checkQueueSize(size, false, opts.index);
  const s = ringSizes(size, false, opts.index);
  const d = locateArea(mem, opts.index, "descriptor table", addrs.desc, s.desc, s.descAlign);
  const a = locateArea(mem, opts.index, "available ring", addrs.driver, s.driver, s.driverAlign);
  const u = locateArea(mem, opts.index, "used ring", addrs.device, s.device, s.deviceAlign);
  return {
    desc: new VirtqDesc(d.region.view, d.offset),
    descBase: d.offset,
    avail: new VirtqAvail(a.region.view, a.offset, size),
    used: new VirtqUsed(u.region.view, u.offset, size),
    availWords: ringWords(a, mem.shared, opts.index),
    usedWords: ringWords(u, mem.shared, opts.index),
  };
}
