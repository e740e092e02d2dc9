/**
 * Schemas: every binary layout of the virtio spec as plain data, and the
 * DSL to describe your own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layout, virtq_desc } from "./mod.ts";
 * assert.equal(layout(virtq_desc).size, 16);
 * ```
 *
 * @module
 */
export * from "./dsl.ts";
export * from "./common.ts";
export * from "./virtqueue.ts";
