/**
 * A vhost-user-rng back-end: our virtio-rng device model (random bytes from
 * `crypto.getRandomValues`) served to QEMU's `vhost-user-rng-pci`. Deno
 * only (FFI).
 *
 * ```
 * deno task vhost-user-rng --socket /tmp/vrng.sock
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c3,path=/tmp/vrng.sock -device vhost-user-rng-pci,chardev=c3
 * ```
 *
 * Prints `vhost-user-rng: ready ...`, and exits cleanly on SIGINT/SIGTERM.
 *
 * @module
 */

import { RngDevice } from "../src/devices/rng/device.ts";
import { flagValue, parseFlags, serveDevice } from "./vhost_user_serve.ts";

const USAGE = "usage: vhost_user_rng.ts --socket PATH";

async function main(): Promise<number> {
  let socket: string;
  try {
    socket = flagValue(parseFlags(Deno.args, { socket: true }, USAGE), "socket") ?? "";
    if (socket === "") throw new Error(`--socket is required\n${USAGE}`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const device = new RngDevice();
  await serveDevice("vhost-user-rng", device, socket);
  console.log(`vhost-user-rng: served ${device.bytesServed} bytes in ${device.requests} requests`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
