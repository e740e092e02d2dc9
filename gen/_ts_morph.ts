/**
 * ts-morph, loaded on first import of the generator with a clear error when it is missing.
 *
 * Only the generator needs ts-morph (and its TypeScript compiler, about 13 MB). On Deno it comes
 * with the package. The npm package lists it as an optional peer dependency, so that the
 * accessors, queues and devices install without it; `npm install ts-morph` enables
 * `typed-virtio/gen`.
 *
 * @module
 */
import type * as TsMorph from "ts-morph";
import { GenError } from "../src/errors.ts";

let loaded: typeof TsMorph;
try {
  loaded = await import("ts-morph");
} catch (e) {
  throw new GenError(
    "typed-virtio's generator needs the ts-morph package, an optional peer dependency of the " +
      "npm package: run `npm install ts-morph@28` (the accessors, queues and devices do not need it)",
    { code: "ERR_VIRTIO_GEN_TS_MORPH", cause: e },
  );
}

/** The ts-morph module. */
export const tsMorph: typeof TsMorph = loaded;
