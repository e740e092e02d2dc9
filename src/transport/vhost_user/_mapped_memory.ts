/**
 * Guest memory over `mmap`ped shared regions, for both ends of vhost-user.
 *
 * @module
 */

import { GuestMemory } from "../../memory.ts";

/**
 * Guest memory over mappings another process also maps: always "shared",
 * so the rings use atomic accesses even though the buffers are plain `ArrayBuffer`s
 * (foreign memory from `Deno.UnsafePointerView.getArrayBuffer`).
 */
export class MappedGuestMemory extends GuestMemory {
  /** Always true: another process reads and writes the same pages. */
  override get shared(): boolean {
    return true;
  }
}
