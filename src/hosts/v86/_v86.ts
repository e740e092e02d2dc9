/**
 * The v86 package, loaded on first import of the v86 host with a clear
 * error when it is missing. Only this host needs v86 (a few MB of wasm and
 * JavaScript): on Deno it comes with the package; the npm package lists it
 * as an optional peer dependency, and `npm install v86@0.5.462` enables
 * `typed-virtio/hosts/v86`.
 *
 * @module
 */
import { V86_VERSION, V86HostError } from "./_internals.ts";

/**
 * The part of v86's emulator object the host uses (typed here: v86's own
 * declarations need the DOM's types, which a Node project may not have).
 */
export interface V86Emulator {
  /** Calls `listener` with the value of each `event` on v86's bus. */
  add_listener(event: string, listener: (value: never) => void): void;
  /** Types `text` on the first serial port. */
  serial0_send(text: string): void;
  /** Stops the emulator and frees what it holds. */
  destroy(): Promise<void>;
}

/** v86's emulator class. */
export type V86Constructor = new (options: Record<string, unknown>) => V86Emulator;

let loaded: { V86: V86Constructor };
try {
  loaded = await import("v86") as unknown as { V86: V86Constructor };
} catch (e) {
  throw new V86HostError(
    "typed-virtio's v86 host needs the v86 package, an optional peer dependency of the npm " +
      `package: run \`npm install v86@${V86_VERSION}\``,
    { code: "ERR_VIRTIO_V86_PACKAGE", cause: e },
  );
}

/** v86's emulator class. */
export const V86: V86Constructor = loaded.V86;
