// The packed ring's descriptor ring and two event suppression structures
// (spec 2.8) mapped over guest memory, for both sides: `device.ts` and
// `driver.ts`.
//
// Each side declares the spec's flag values and field offsets it uses as
// file-local `const enum`s, for the reason given in `../split/_rings.ts`
// (a const enum is inlined only inside its own file). The 2.8.1 tests of a
// descriptor's AVAIL and USED bits (`isAvail`, `isUsed`), called once per
// chain or buffer, are file-local too: imported from here they cost up to
// 3% on small requests (a module binding loaded and checked per call;
// measured against the file-local version in one process).

import type { GuestMemory } from "../../memory.ts";
import { PvirtqDesc, PvirtqEventSuppress } from "../../generated/virtqueue.ts";
import { checkQueueSize, type QueueAddresses, type QueueOptions, ringSizes } from "../layout.ts";
import { locateArea, ringWords } from "../_ring_util.ts";

/** The packed ring of a queue: its accessors, and its ring words for shared memory. */
export interface PackedRings {
  /** The descriptor ring's accessor, at entry 0. */
  readonly ring: PvirtqDesc;
  /** The descriptor ring's offset in `ring.view`. */
  readonly base: number;
  /** The driver event suppression structure (2.8.14), written by the driver. */
  readonly driverEvent: PvirtqEventSuppress;
  /** The device event suppression structure, written by the device. */
  readonly deviceEvent: PvirtqEventSuppress;
  /** The descriptor ring's 16-bit words, accessed atomically when memory is shared. */
  readonly ringWords: Uint16Array;
  /** The driver event structure's words, accessed atomically when memory is shared. */
  readonly driverWords: Uint16Array;
  /** The device event structure's words, accessed atomically when memory is shared. */
  readonly deviceWords: Uint16Array;
}

/** The packed-ring areas of `addrs` over guest memory, checked for size and placement. */
export function packedRings(
  mem: GuestMemory,
  addrs: QueueAddresses,
  opts: QueueOptions,
): PackedRings {
  checkQueueSize(addrs.size, true, opts.index);
  const s = ringSizes(addrs.size, true, opts.index);
  const d = locateArea(mem, opts.index, "descriptor ring", addrs.desc, s.desc, s.descAlign);
  const drv = locateArea(
    mem,
    opts.index,
    "driver event suppression",
    addrs.driver,
    s.driver,
    s.driverAlign,
  );
  const dev = locateArea(
    mem,
    opts.index,
    "device event suppression",
    addrs.device,
    s.device,
    s.deviceAlign,
  );
  return {
    ring: new PvirtqDesc(d.region.view, d.offset),
    base: d.offset,
    driverEvent: new PvirtqEventSuppress(drv.region.view, drv.offset),
    deviceEvent: new PvirtqEventSuppress(dev.region.view, dev.offset),
    ringWords: ringWords(d, mem.shared, opts.index),
    driverWords: ringWords(drv, mem.shared, opts.index),
    deviceWords: ringWords(dev, mem.shared, opts.index),
  };
}
