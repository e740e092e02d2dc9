/**
 * The back-end's memory table (SET_MEM_TABLE): the front-end's regions
 * mapped here, a {@link GuestMemory} over them by guest-physical address,
 * and the translation of front-end user addresses (ring addresses come as
 * those) through the same table.
 *
 * @module
 */

import type { GuestMemory } from "../../memory.ts";
import { MappedGuestMemory } from "./_mapped_memory.ts";
import { mapPeerFile } from "./_fd.ts";
import { type Mapping, unmap } from "./_libc.ts";
import { decodeMemoryTable, type MemoryRegionDesc, type VhostUserMessage } from "./_protocol.ts";
import { VhostUserError, VhostUserErrorCode } from "./errors.ts";

/** One mapped region of the memory table. */
interface MappedRegion {
  readonly desc: MemoryRegionDesc;
  readonly mapping: Mapping;
}

/** The memory table of one session; empty until the first SET_MEM_TABLE. */
export class MemoryTable {
  readonly #requireSeal: boolean;
  #regions: MappedRegion[] = [];
  #memory: GuestMemory | undefined;

  /** A table whose files must be sealed against shrinking when `requireSeal`. */
  constructor(requireSeal: boolean = false) {
    this.#requireSeal = requireSeal;
  }

  /** Guest memory over the mapped regions, or undefined before a table was set. */
  get memory(): GuestMemory | undefined {
    return this.#memory;
  }

  /**
   * Takes the table of a SET_MEM_TABLE message: checks it, maps every region
   * (each checked against its file's size first), and only then replaces
   * the current table. On any error nothing is mapped and the current table
   * stays. The message's descriptors are left for the caller to close (the
   * mappings keep the memory). Returns a description for the log.
   */
  set(m: VhostUserMessage): string {
    const regions = decodeMemoryTable(m);
    if (m.fds.length !== regions.length) {
      throw new VhostUserError(
        `VHOST_USER_SET_MEM_TABLE: ${regions.length} regions but ${m.fds.length} file descriptors`,
        { code: VhostUserErrorCode.MISSING_FD },
      );
    }
    const mapped: MappedRegion[] = [];
    try {
      for (let i = 0; i < regions.length; i++) {
        const d = regions[i];
        // Mapped from the file's start, so the region is at mmapOffset in the mapping.
        const mapping = mapPeerFile(
          m.fds[i],
          0,
          d.mmapOffset + d.memorySize,
          `VHOST_USER_SET_MEM_TABLE: region ${i}`,
          this.#requireSeal,
        );
        mapped.push({ desc: d, mapping });
      }
    } catch (e) {
      for (const r of mapped) unmap(r.mapping);
      throw e;
    }
    this.drop();
    const mem = new MappedGuestMemory();
    for (const r of mapped) {
      mem.addRegion(
        r.desc.guestPhysAddr,
        new Uint8Array(r.mapping.buffer, r.desc.mmapOffset, r.desc.memorySize),
      );
    }
    this.#regions = mapped;
    this.#memory = mem;
    return regions.map((r) => `0x${r.guestPhysAddr.toString(16)}+0x${r.memorySize.toString(16)}`)
      .join(", ");
  }

  /**
   * Front-end user address `ua` (`len` bytes) to a guest-physical address;
   * `what` and `index` name the ring area for the error.
   */
  translate(ua: number, len: number, what: string, index: number): number {
    for (const r of this.#regions) {
      const d = r.desc;
      if (ua >= d.userspaceAddr && ua + len <= d.userspaceAddr + d.memorySize) {
        return d.guestPhysAddr + (ua - d.userspaceAddr);
      }
    }
    throw new VhostUserError(
      `vring ${index}: ${what} at user address 0x${
        ua.toString(16)
      } (+${len}) is outside the memory table`,
      { code: VhostUserErrorCode.BAD_ADDRESS },
    );
  }

  /** Unmaps every region (nothing may touch the memory afterwards). */
  drop(): void {
    const regions = this.#regions;
    this.#regions = [];
    this.#memory = undefined;
    for (const r of regions) unmap(r.mapping);
  }
}
