/**
 * The gpu device's resource table: 2D resources kept on the host side
 * (RESOURCE_CREATE_2D) within a memory and a count limit, their backing in
 * guest memory (RESOURCE_ATTACH_BACKING: a scatter list copied once, every
 * entry inside guest memory), and TRANSFER_TO_HOST_2D from that backing into
 * a resource, checked without overflow before a byte moves. Each command
 * answers a VIRTIO_GPU_RESP_* type and changes nothing when it fails.
 *
 * @module
 */

import {
  VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
  VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
  VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
  VIRTIO_GPU_RESP_ERR_UNSPEC,
  VIRTIO_GPU_RESP_OK_NODATA,
  VirtioGpuMemEntry,
  type VirtioGpuRect,
  VirtioGpuResourceAttachBacking,
  type VirtioGpuResourceCreate2d,
  type VirtioGpuTransferToHost2d,
} from "../../generated/devices/gpu.ts";
import type { GuestMemory } from "../../memory.ts";
import type { DescriptorChain } from "../../virtqueue/chain.ts";
import { BYTES_PER_PIXEL, channels } from "./_pixels.ts";

/** A resource's backing: guest memory entries, in order. */
export interface Backing {
  readonly addrs: number[];
  readonly lengths: number[];
  /** starts[i]: byte offset of entry i in the backing. */
  readonly starts: number[];
  readonly total: number;
}

/** A 2D resource: its pixels on the host side, and its backing once attached. */
export interface Resource {
  readonly id: number;
  readonly format: number;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  backing: Backing | undefined;
}

/** Is [x, x + w) inside [0, limit) and [y, y + h) inside [0, limitY)? Without overflow. */
export function inside(r: VirtioGpuRect, width: number, height: number): boolean {
  return r.width <= width && r.x <= width - r.width && r.height <= height &&
    r.y <= height - r.height;
}

/** The resources of one device, by id. */
export class ResourceTable {
  readonly #maxHostMemory: number;
  readonly #maxResources: number;
  readonly #maxEntries: number;
  readonly #resources = new Map<number, Resource>();
  #hostMemory = 0;

  /** An empty table with these limits. */
  constructor(maxHostMemory: number, maxResources: number, maxEntries: number) {
    this.#maxHostMemory = maxHostMemory;
    this.#maxResources = maxResources;
    this.#maxEntries = maxEntries;
  }

  /** Bytes all resources take on the host. */
  get hostMemory(): number {
    return this.#hostMemory;
  }

  /** Resources that exist. */
  get size(): number {
    return this.#resources.size;
  }

  /** The resource `id`, if it exists. */
  get(id: number): Resource | undefined {
    return this.#resources.get(id);
  }

  /** Removes `r` (RESOURCE_UNREF), giving its memory back. */
  delete(r: Resource): void {
    this.#resources.delete(r.id);
    this.#hostMemory -= r.data.length;
  }

  /** Removes every resource (a device reset). */
  clear(): void {
    this.#resources.clear();
    this.#hostMemory = 0;
  }

  /** RESOURCE_CREATE_2D from the request `q`. */
  create(q: VirtioGpuResourceCreate2d): number {
    const id = q.resourceId;
    const { format, width, height } = q;
    if (id === 0 || this.#resources.has(id)) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (channels(format) === undefined || width === 0 || height === 0) {
      return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    }
    // width and height are below 2^32, so the product is exact enough to compare with the limit.
    const size = width * height * BYTES_PER_PIXEL;
    if (
      size > this.#maxHostMemory - this.#hostMemory || this.#resources.size >= this.#maxResources
    ) {
      return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(size);
    } catch {
      return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    }
    this.#resources.set(id, { id, format, width, height, data, backing: undefined });
    this.#hostMemory += size;
    return VIRTIO_GPU_RESP_OK_NODATA;
  }

  /** RESOURCE_ATTACH_BACKING from the request `q`; its entries follow it in `c`. */
  attachBacking(
    q: VirtioGpuResourceAttachBacking,
    c: DescriptorChain,
    memory: GuestMemory,
  ): number {
    const r = this.#resources.get(q.resourceId);
    const n = q.nrEntries;
    if (r === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (r.backing !== undefined) return VIRTIO_GPU_RESP_ERR_UNSPEC; // detach first
    if (n === 0 || n > this.#maxEntries) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const at = VirtioGpuResourceAttachBacking.SIZE;
    const bytes = n * VirtioGpuMemEntry.SIZE;
    if (c.readableLength - at < bytes) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const list = new Uint8Array(bytes); // our copy of the scatter list
    if (c.read(at, list) !== bytes) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const e = new VirtioGpuMemEntry(new DataView(list.buffer));
    const addrs: number[] = [], lengths: number[] = [], starts: number[] = [];
    let total = 0;
    for (let i = 0; i < n; i++) {
      e.at(i * VirtioGpuMemEntry.SIZE);
      const addr = e.addr, length = e.length;
      // Every entry must lie inside one region of guest memory (a too-large addr is never found).
      if (!Number.isSafeInteger(addr) || memory.regionFor(addr, length) === undefined) {
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
      }
      addrs.push(addr);
      lengths.push(length);
      starts.push(total);
      total += length; // at most 16384 * 2^32: exact
    }
    r.backing = { addrs, lengths, starts, total };
    return VIRTIO_GPU_RESP_OK_NODATA;
  }

  /** TRANSFER_TO_HOST_2D from the request `q`. */
  transfer(q: VirtioGpuTransferToHost2d, memory: GuestMemory): number {
    const r = this.#resources.get(q.resourceId);
    if (r === undefined) return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    const b = r.backing;
    if (b === undefined) return VIRTIO_GPU_RESP_ERR_UNSPEC; // nothing to transfer from
    const rect = q.r;
    if (!inside(rect, r.width, r.height)) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const { x, y, width: w, height: h } = rect;
    if (w === 0 || h === 0) return VIRTIO_GPU_RESP_OK_NODATA;
    const offset = q.resourceOffset;
    const stride = r.width * BYTES_PER_PIXEL;
    const row = w * BYTES_PER_PIXEL;
    // 5.7.6.8: row k of the box comes from offset + k * stride of the backing.
    if (offset > BigInt(b.total)) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    const src = Number(offset);
    if ((h - 1) * stride + row > b.total - src) return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    try {
      if (w === r.width) {
        // Whole rows: source and destination are contiguous, one copy.
        copyFromBacking(memory, b, src, r.data, y * stride, h * stride);
      } else {
        for (let k = 0; k < h; k++) {
          copyFromBacking(
            memory,
            b,
            src + k * stride,
            r.data,
            (y + k) * stride + x * BYTES_PER_PIXEL,
            row,
          );
        }
      }
    } catch {
      // Checked at attach time; guest memory that went away since is the driver's loss.
      return VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
    return VIRTIO_GPU_RESP_OK_NODATA;
  }
}

/** Copies `len` bytes from byte `from` of a backing's scatter list into `dst` at `at`. */
function copyFromBacking(
  memory: GuestMemory,
  b: Backing,
  from: number,
  dst: Uint8Array,
  at: number,
  len: number,
): void {
  // The entry holding `from`: the last start at or before it (binary search).
  let lo = 0, hi = b.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (b.starts[mid] <= from) lo = mid;
    else hi = mid - 1;
  }
  let i = lo, inner = from - b.starts[lo];
  while (len > 0) {
    if (i >= b.lengths.length) throw new RangeError("past the backing"); // checked by the caller
    const n = Math.min(len, b.lengths[i] - inner);
    if (n > 0) {
      dst.set(memory.bytes(b.addrs[i] + inner, n), at);
      at += n;
      len -= n;
    }
    i++;
    inner = 0;
  }
}
