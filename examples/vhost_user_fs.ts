/**
 * A vhost-user-fs back-end: shares a host directory (or an in-memory tree)
 * with a guest through our virtio-fs device model, served to QEMU's
 * `vhost-user-fs-pci`. Deno only (FFI).
 *
 * ```
 * deno task vhost-user-fs --socket /tmp/vfs.sock --shared-dir /srv/share [--tag shared] \
 *   [--queues N] [--memory]
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c4,path=/tmp/vfs.sock -device vhost-user-fs-pci,chardev=c4,tag=shared
 * # in the guest: mount -t virtiofs shared /mnt
 * ```
 *
 * QEMU takes the tag and the number of request queues from its own device
 * properties; give it the same values. Prints `vhost-user-fs: ready ...`,
 * and exits cleanly on SIGINT/SIGTERM, closing every host file it opened.
 *
 * @module
 */

import { FsDevice } from "../src/devices/fs/device.ts";
import type { FileSystem } from "../src/devices/fs/filesystem.ts";
import { HostDirFileSystem } from "../src/devices/fs/host_dir_fs.ts";
import { MemoryFileSystem } from "../src/devices/fs/memory_fs.ts";
import { flagValue, parseFlags, serveDevice } from "./vhost_user_serve.ts";

const USAGE =
  "usage: vhost_user_fs.ts --socket PATH (--shared-dir DIR | --memory) [--tag TAG] [--queues N]";

async function main(): Promise<number> {
  let socket: string;
  let fs: FileSystem;
  let tag: string;
  let queues: number;
  let what: string;
  try {
    const flags = parseFlags(
      Deno.args,
      { socket: true, "shared-dir": true, memory: false, tag: true, queues: true },
      USAGE,
    );
    socket = flagValue(flags, "socket") ?? "";
    if (socket === "") throw new Error(`--socket is required\n${USAGE}`);
    const dir = flagValue(flags, "shared-dir");
    if (dir === undefined && !flags.has("memory")) {
      throw new Error(`--shared-dir or --memory is required\n${USAGE}`);
    }
    fs = dir !== undefined ? new HostDirFileSystem(dir) : new MemoryFileSystem();
    what = dir !== undefined ? `sharing ${dir}` : "sharing an in-memory tree";
    tag = flagValue(flags, "tag") ?? "shared";
    queues = Number(flagValue(flags, "queues") ?? "1");
    if (!Number.isInteger(queues) || queues < 1) throw new Error(`bad --queues\n${USAGE}`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  const device = new FsDevice({ tag, fs, requestQueues: queues });
  await serveDevice("vhost-user-fs", device, socket, `${what} as tag ${tag}`);
  device.reset();
  console.log(`vhost-user-fs: served ${device.requests} requests`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
