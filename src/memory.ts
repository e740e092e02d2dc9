/**
 * Guest memory: the guest-physical address space that rings and buffers live
 * in, made of regions over an `ArrayBuffer`, a `SharedArrayBuffer` or foreign
 * memory (e.g. `Deno.UnsafePointerView.getArrayBuffer`). Views are zero-copy
 * and bounds-checked; an access outside every region, across a region's end
 * or overflowing the address space throws a {@link MemoryError} that names
 * the address.
 *
 * {@link DmaAllocator} hands out guest addresses from a range (first fit), the
 * way a driver places rings, indirect tables and request buffers.
 *
 * @example
 * ```ts
 * import { DmaAllocator, GuestMemory } from "./memory.ts";
 *
 * const mem = new GuestMemory([{ base: 0x1000, buffer: new ArrayBuffer(0x4000) }]);
 * const alloc = new DmaAllocator(0x1000, 0x4000);
 * const addr = alloc.alloc(64, 16);
 * mem.view(addr, 4).setUint32(0, 0xcafe, true);
 * if (mem.readUint32(addr) !== 0xcafe) throw new Error("unreachable");
 * alloc.free(addr);
 * ```
 *
 * @module
 */

import { formatAddress, MemoryError } from "./errors.ts";

/** Largest address + length a guest access may reach (addresses are JS numbers). */
const ADDRESS_LIMIT = Number.MAX_SAFE_INTEGER;

/** Backing store of one region: a whole buffer, or a byte range of one. */
export type RegionBacking = ArrayBuffer | SharedArrayBuffer | Uint8Array;

/** How a region is declared: its guest-physical base and its backing store. */
export interface RegionInit {
  /** Guest-physical address of the region's first byte. */
  readonly base: number;
  /** The bytes of the region; its length is the region's size. */
  readonly buffer: RegionBacking;
}

/** One contiguous piece of guest-physical memory. */
export class MemoryRegion {
  /** Guest-physical address of the first byte. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
  /** First guest-physical address past the region. */
  readonly end: number;
  /** The region's bytes (index 0 is `base`). */
  readonly bytes: Uint8Array;
  /** A view over the whole region (offset 0 is `base`), for generated accessors. */
  readonly view: DataView;
  /** True when the region is backed by a `SharedArrayBuffer`. */
  readonly shared: boolean;

  /** Creates a region at `base` over `buffer`. */
  constructor(base: number, buffer: RegionBacking) {
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    if (!Number.isSafeInteger(base) || base < 0 || base + bytes.length > ADDRESS_LIMIT) {
      throw new MemoryError(
        base,
        bytes.length,
        "region base is not a non-negative safe integer, or the region ends past 2^53",
        { code: "ERR_VIRTIO_MEMORY_BAD_REGION" },
      );
    }
    this.base = base;
    this.size = bytes.length;
    this.end = base + bytes.length;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.shared = typeof SharedArrayBuffer !== "undefined" &&
      bytes.buffer instanceof SharedArrayBuffer;
  }
}

/**
 * A guest-physical address space made of non-overlapping regions.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "./memory.ts";
 *
 * const mem = GuestMemory.fromBuffer(new ArrayBuffer(4096));
 * mem.write(16, new Uint8Array([1, 2, 3]));
 * const out = new Uint8Array(3);
 * mem.read(16, out);
 * if (out[2] !== 3) throw new Error("unreachable");
 * try {
 *   mem.bytes(4090, 16); // crosses the end of the region
 * } catch (e) {
 *   if (!(e instanceof Error) || e.name !== "MemoryError") throw e;
 * }
 * ```
 */
export class GuestMemory {
  #regions: MemoryRegion[] = [];
  // The region found last and its index: the lookup cache.
  #last = 0;
  #lastRegion: MemoryRegion | undefined = undefined;
  #shared = false;

  /** Creates guest memory from `regions` (any order; they must not overlap). */
  constructor(regions: readonly RegionInit[] = []) {
    for (const r of regions) this.addRegion(r.base, r.buffer);
  }

  /** Guest memory of one region at `base` (default 0). */
  static fromBuffer(buffer: RegionBacking, base: number = 0): GuestMemory {
    return new GuestMemory([{ base, buffer }]);
  }

  /** Adds a region; throws {@link MemoryError} if it overlaps an existing one. */
  addRegion(base: number, buffer: RegionBacking): MemoryRegion {
    const region = new MemoryRegion(base, buffer);
    for (const r of this.#regions) {
      if (region.base < r.end && r.base < region.end) {
        throw new MemoryError(
          region.base,
          region.size,
          `region overlaps the region at ${formatAddress(r.base)}+${r.size}`,
          { code: "ERR_VIRTIO_MEMORY_REGION_OVERLAP" },
        );
      }
    }
    this.#regions.push(region);
    this.#regions.sort((a, b) => a.base - b.base);
    this.#lastRegion = undefined; // indices moved
    this.#shared ||= region.shared;
    return region;
  }

  /** The regions, sorted by base address. */
  get regions(): readonly MemoryRegion[] {
    return this.#regions;
  }

  /** True when any region is shared memory (then the rings' hand-over words are atomic). */
  get shared(): boolean {
    return this.#shared;
  }

  /**
   * Index (into {@link GuestMemory.regions}) of the region holding all of
   * `[addr, addr + len)`, or -1. Never throws and allocates nothing: the hot
   * path's bounds check. A zero-length range must still start inside a region.
   */
  findRegion(addr: number, len: number): number {
    const r = this.regionFor(addr, len);
    return r === undefined ? -1 : this.#last;
  }

  /**
   * The region holding all of `[addr, addr + len)`, or undefined: like
   * {@link GuestMemory.findRegion} without the index. The last region found
   * is tried first, so a run of buffers in one region costs two comparisons
   * each. Never throws, allocates nothing; NaN, negative or huge values are
   * simply not found.
   */
  regionFor(addr: number, len: number): MemoryRegion | undefined {
    let r = this.#lastRegion;
    // Written as positive tests so that NaN fails them.
    if (r === undefined || !(addr >= r.base && addr < r.end)) {
      const regions = this.#regions;
      r = undefined;
      // Few regions in practice: a linear scan beats a binary search here.
      for (let k = 0; k < regions.length; k++) {
        const c = regions[k];
        if (addr >= c.base && addr < c.end) {
          r = c;
          this.#last = k;
          this.#lastRegion = c;
          break;
        }
      }
      if (r === undefined) return undefined;
    }
    return len >= 0 && addr + len <= r.end ? r : undefined;
  }

  /** Like {@link GuestMemory.findRegion}, but throws a {@link MemoryError} that says why. */
  locate(addr: number, len: number): MemoryRegion {
    if (!Number.isSafeInteger(addr) || addr < 0) {
      throw new MemoryError(addr, len, "address is not a non-negative safe integer", {
        code: "ERR_VIRTIO_MEMORY_BAD_ADDRESS",
      });
    }
    if (!Number.isSafeInteger(len) || len < 0) {
      throw new MemoryError(addr, len, "length is not a non-negative safe integer", {
        code: "ERR_VIRTIO_MEMORY_BAD_LENGTH",
      });
    }
    if (addr + len > ADDRESS_LIMIT) {
      throw new MemoryError(addr, len, "address + length is past the 2^53 address space", {
        code: "ERR_VIRTIO_MEMORY_OVERFLOW",
      });
    }
    const found = this.regionFor(addr, len);
    if (found !== undefined) return found;
    const r = this.regionFor(addr, 0);
    if (r === undefined) {
      throw new MemoryError(addr, len, "address is outside every memory region", {
        code: "ERR_VIRTIO_MEMORY_OUTSIDE",
      });
    }
    throw new MemoryError(
      addr,
      len,
      `range crosses the end of the region ${formatAddress(r.base)}+${r.size}`,
      { code: "ERR_VIRTIO_MEMORY_CROSSES_REGION" },
    );
  }

  /** A zero-copy `DataView` of `[addr, addr + len)`. */
  view(addr: number, len: number): DataView {
    const r = this.locate(addr, len);
    return new DataView(r.bytes.buffer, r.bytes.byteOffset + (addr - r.base), len);
  }

  /** A zero-copy `Uint8Array` of `[addr, addr + len)`. */
  bytes(addr: number, len: number): Uint8Array {
    const r = this.locate(addr, len);
    const start = addr - r.base;
    return r.bytes.subarray(start, start + len);
  }

  /** Copies `dst.length` bytes at `addr` into `dst`. */
  read(addr: number, dst: Uint8Array): void {
    dst.set(this.bytes(addr, dst.length));
  }

  /** Copies `src` into guest memory at `addr`. */
  write(addr: number, src: Uint8Array): void {
    this.bytes(addr, src.length).set(src);
  }

  /** Reads a byte. */
  readUint8(addr: number): number {
    const r = this.locate(addr, 1);
    return r.bytes[addr - r.base];
  }

  /** Reads a little-endian 16-bit value. */
  readUint16(addr: number): number {
    const r = this.locate(addr, 2);
    return r.view.getUint16(addr - r.base, true);
  }

  /** Reads a little-endian 32-bit value. */
  readUint32(addr: number): number {
    const r = this.locate(addr, 4);
    return r.view.getUint32(addr - r.base, true);
  }

  /** Reads a little-endian 64-bit value. */
  readBigUint64(addr: number): bigint {
    const r = this.locate(addr, 8);
    return r.view.getBigUint64(addr - r.base, true);
  }

  /** Writes a byte. */
  writeUint8(addr: number, value: number): void {
    const r = this.locate(addr, 1);
    r.bytes[addr - r.base] = value;
  }

  /** Writes a little-endian 16-bit value. */
  writeUint16(addr: number, value: number): void {
    const r = this.locate(addr, 2);
    r.view.setUint16(addr - r.base, value, true);
  }

  /** Writes a little-endian 32-bit value. */
  writeUint32(addr: number, value: number): void {
    const r = this.locate(addr, 4);
    r.view.setUint32(addr - r.base, value, true);
  }

  /** Writes a little-endian 64-bit value. */
  writeBigUint64(addr: number, value: bigint): void {
    const r = this.locate(addr, 8);
    r.view.setBigUint64(addr - r.base, value, true);
  }
}

/**
 * Where drivers place rings and buffers: guest memory as the driver sees it
 * and an allocator over it. A bus gets one; a transport that brings its own
 * memory (the vhost-user front-end's shared memfd) provides one.
 */
export interface DmaContext {
  /** Guest memory as the driver sees it. */
  readonly memory: GuestMemory;
  /** Allocator for ring memory. */
  readonly dma: DmaAllocator;
}

/**
 * A first-fit allocator of guest addresses in `[base, base + size)`, for
 * drivers placing rings, indirect tables and buffers. It only hands out
 * addresses; it does not touch memory.
 *
 * @example
 * ```ts
 * import { DmaAllocator } from "./memory.ts";
 *
 * const alloc = new DmaAllocator(0x10000, 0x1000);
 * const a = alloc.alloc(100, 64);
 * const b = alloc.alloc(100, 64);
 * if (a % 64 !== 0 || b < a + 100) throw new Error("unreachable");
 * alloc.free(a);
 * if (alloc.tryAlloc(0x2000, 8) !== -1) throw new Error("unreachable"); // too big
 * ```
 */
export class DmaAllocator {
  /** First address of the managed range. */
  readonly base: number;
  /** Size of the managed range in bytes. */
  readonly size: number;
  // Free extents, sorted by address, kept coalesced.
  #freeStart: number[];
  #freeLen: number[];
  #used = new Map<number, number>();
  #bytesUsed = 0;

  /** Manages `[base, base + size)`. */
  constructor(base: number, size: number) {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new MemoryError(
        base,
        size,
        "allocator range: base must be a non-negative safe integer and size a positive one",
        { code: "ERR_VIRTIO_MEMORY_BAD_ALLOCATOR" },
      );
    }
    this.base = base;
    this.size = size;
    this.#freeStart = [base];
    this.#freeLen = [size];
  }

  /** Bytes currently allocated. */
  get bytesUsed(): number {
    return this.#bytesUsed;
  }

  /**
   * Allocates `size` bytes aligned to `align` (a power of two); returns the
   * guest address, or -1 when no free extent fits. Never throws for lack of room.
   */
  tryAlloc(size: number, align: number = 1): number {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new MemoryError(
        this.base,
        size,
        `allocation of ${size} bytes: not a positive integer`,
        {
          code: "ERR_VIRTIO_MEMORY_ALLOC_SIZE",
        },
      );
    }
    if (!(Number.isSafeInteger(align) && align > 0 && (align & (align - 1)) === 0)) {
      throw new MemoryError(this.base, size, `allocation aligned to ${align}: not a power of two`, {
        code: "ERR_VIRTIO_MEMORY_ALLOC_ALIGN",
      });
    }
    const starts = this.#freeStart;
    const lens = this.#freeLen;
    for (let i = 0; i < starts.length; i++) {
      const s = starts[i];
      const e = s + lens[i];
      const a = Math.ceil(s / align) * align;
      if (a + size > e) continue;
      // Split the extent into [s, a) and [a + size, e).
      const tail = e - (a + size);
      if (a > s) {
        lens[i] = a - s;
        if (tail > 0) {
          starts.splice(i + 1, 0, a + size);
          lens.splice(i + 1, 0, tail);
        }
      } else if (tail > 0) {
        starts[i] = a + size;
        lens[i] = tail;
      } else {
        starts.splice(i, 1);
        lens.splice(i, 1);
      }
      this.#used.set(a, size);
      this.#bytesUsed += size;
      return a;
    }
    return -1;
  }

  /** Like {@link DmaAllocator.tryAlloc}, but throws a {@link MemoryError} when out of room. */
  alloc(size: number, align: number = 1): number {
    const a = this.tryAlloc(size, align);
    if (a < 0) {
      throw new MemoryError(
        this.base,
        size,
        `no free extent of ${size} bytes aligned to ${align} (${this.#bytesUsed} of ${this.size} bytes in use)`,
        { code: "ERR_VIRTIO_MEMORY_EXHAUSTED" },
      );
    }
    return a;
  }

  /** Returns an allocation made by {@link DmaAllocator.alloc}; throws for any other address. */
  free(addr: number): void {
    const size = this.#used.get(addr);
    if (size === undefined) {
      throw new MemoryError(addr, 0, "free of an address that is not an allocation's start", {
        code: "ERR_VIRTIO_MEMORY_BAD_FREE",
      });
    }
    this.#used.delete(addr);
    this.#bytesUsed -= size;
    const starts = this.#freeStart;
    const lens = this.#freeLen;
    let i = 0;
    while (i < starts.length && starts[i] < addr) i++;
    // Coalesce with the preceding and the following extent; only an extent
    // that touches neither is inserted (the common free, next to a free
    // extent, moves no array element).
    const joinsPrev = i > 0 && starts[i - 1] + lens[i - 1] === addr;
    const joinsNext = i < starts.length && addr + size === starts[i];
    if (joinsPrev && joinsNext) {
      lens[i - 1] += size + lens[i];
      starts.splice(i, 1);
      lens.splice(i, 1);
    } else if (joinsPrev) {
      lens[i - 1] += size;
    } else if (joinsNext) {
      starts[i] = addr;
      lens[i] += size;
    } else {
      starts.splice(i, 0, addr);
      lens.splice(i, 0, size);
    }
  }
}
