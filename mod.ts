/**
 * typed-virtio: virtio for TypeScript.
 *
 * Generated zero-copy accessors for every virtio layout, under PascalCase
 * spec names, with the spec's constants; and the error hierarchy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VIRTQ_DESC_F_NEXT, VirtqDesc } from "./mod.ts";
 *
 * const desc = new VirtqDesc(new DataView(new ArrayBuffer(VirtqDesc.SIZE * 4)));
 * desc.at(VirtqDesc.SIZE).addr = 0x1000;
 * desc.len = 512;
 * desc.flags = VIRTQ_DESC_F_NEXT;
 * assert.equal(desc.next, 0);
 * ```
 *
 * @module
 */
export * from "./src/generated/mod.ts";
export * from "./src/errors.ts";
