/**
 * A vhost-user-blk back-end for the error path of
 * tests/interop/vhost_user_blk_uring_test.ts: examples/vhost_user_blk.ts's
 * device and back-end over a {@link UringFileStorage} whose image is opened
 * READ-ONLY while the device offers a writable disk (no VIRTIO_BLK_F_RO).
 * The guest's writes therefore reach the storage, and the kernel refuses
 * each one (`-EBADF` in its completion, or from `pwritev` for a request
 * alone in its pass); the device must answer VIRTIO_BLK_S_IOERR and keep
 * serving reads. (With `--readonly` the guest would refuse the writes
 * itself and none would reach us.)
 *
 * `_ro_image_backend.ts --socket PATH --image FILE [--queues N]`; prints a
 * `ready` line, stops on SIGTERM with a `stopped` line of the device's
 * counters.
 *
 * @module
 */

import { VhostUserBackend } from "../../src/transport/vhost_user/mod.ts";
import { BlkDevice, UringFileStorage } from "../../src/devices/blk/mod.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i < 0 ? undefined : Deno.args[i + 1];
}

async function main(): Promise<number> {
  const socket = arg("--socket");
  const image = arg("--image");
  const queues = Number(arg("--queues") ?? "1");
  if (socket === undefined || image === undefined || !Number.isInteger(queues) || queues < 1) {
    console.error("usage: _ro_image_backend.ts --socket PATH --image FILE [--queues N]");
    return 2;
  }
  const storage = new UringFileStorage(image, true);
  const device = new BlkDevice({ storage, queues, readOnly: false });
  const backend = new VhostUserBackend(device, { socketPath: socket });
  backend.listen();
  const stop = () => backend.close();
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`ro-image back-end: ready on ${socket} (image opened read-only, ${queues} queue(s))`);
  await backend.serve();
  Deno.removeSignalListener("SIGTERM", stop);
  storage.close();
  const s = device.stats;
  console.log(
    `ro-image back-end: stopped; reads ${s.reads}, writes ${s.writes}, errors ${s.errors}; ` +
      `io_uring: ${storage.ringRequests} requests in ${storage.enters} submissions`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
