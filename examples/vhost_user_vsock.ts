/**
 * A vhost-user-vsock back-end: our virtio-vsock device model served to
 * QEMU's `vhost-user-vsock-pci`, with bridges to host Unix sockets. Deno
 * only (FFI).
 *
 * ```
 * deno task vhost-user-vsock --socket /tmp/vsock.sock --guest-cid 3 \
 *   --forward 1234:/tmp/echo.sock --connect /tmp/to-guest.sock:5000
 * qemu-system-x86_64 ... \
 *   -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
 *   -chardev socket,id=c4,path=/tmp/vsock.sock -device vhost-user-vsock-pci,chardev=c4
 * ```
 *
 * `--forward PORT:UNIXSOCK` (comma-separated for several): a guest
 * connection to host port PORT (CID 2) is joined to a new connection to
 * UNIXSOCK. `--connect UNIXSOCK:PORT`: each connection to the Unix socket
 * UNIXSOCK (which the back-end listens on) is joined to a new connection
 * to the guest's port PORT. `--seq-echo PORT`: a seqpacket echo on host
 * port PORT (each message comes back whole), to try a guest's seqpacket
 * sockets.
 *
 * Prints `vhost-user-vsock: ready ...`, and exits cleanly on SIGINT/SIGTERM.
 *
 * @module
 */

import { VsockDevice } from "../src/devices/vsock/device.ts";
import { bridge, forward } from "../src/devices/vsock/unix_bridge.ts";
import { flagValue, parseFlags, serveDevice } from "./vhost_user_serve.ts";

const USAGE = "usage: vhost_user_vsock.ts --socket PATH --guest-cid N " +
  "[--forward PORT:UNIXSOCK[,...]] [--connect UNIXSOCK:PORT[,...]] [--seq-echo PORT]";

/** Splits `a:b` at its last colon (`reverse`: at the first) into [left, right]. */
function pair(s: string, what: string): [string, string] {
  const i = what === "forward" ? s.indexOf(":") : s.lastIndexOf(":");
  if (i <= 0 || i === s.length - 1) throw new Error(`--${what} ${s}: expected two parts\n${USAGE}`);
  return [s.slice(0, i), s.slice(i + 1)];
}

function port(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`bad port ${s}\n${USAGE}`);
  return n;
}

async function main(): Promise<number> {
  let socket: string;
  let cid: number;
  const forwards: [number, string][] = [];
  const connects: [string, number][] = [];
  let seqEcho: number | undefined;
  try {
    const flags = parseFlags(
      Deno.args,
      { socket: true, "guest-cid": true, forward: true, connect: true, "seq-echo": true },
      USAGE,
    );
    socket = flagValue(flags, "socket") ?? "";
    if (socket === "") throw new Error(`--socket is required\n${USAGE}`);
    cid = Number(flagValue(flags, "guest-cid") ?? "3");
    const se = flagValue(flags, "seq-echo");
    if (se !== undefined) seqEcho = port(se);
    for (const f of (flagValue(flags, "forward") ?? "").split(",").filter((x) => x)) {
      const [p, path] = pair(f, "forward");
      forwards.push([port(p), path]);
    }
    for (const f of (flagValue(flags, "connect") ?? "").split(",").filter((x) => x)) {
      const [path, p] = pair(f, "connect");
      connects.push([path, port(p)]);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  let device: VsockDevice;
  try {
    device = new VsockDevice({ guestCid: cid });
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  for (const [p, path] of forwards) forward(device.listen(p), path).catch((e) => console.error(e));
  if (seqEcho !== undefined) {
    (async () => {
      for await (const c of device.listen(seqEcho, { seqpacket: true })) {
        // Each chunk of a seqpacket connection is one whole message: send it back as one.
        c.readable.pipeTo(c.writable).catch(() => c.reset());
      }
    })().catch((e) => console.error(e));
  }
  const listeners: Deno.Listener[] = [];
  for (const [path, p] of connects) {
    await Deno.remove(path).catch(() => {});
    const l = Deno.listen({ transport: "unix", path });
    listeners.push(l);
    (async () => {
      for await (const u of l) {
        device.connect(p).then((c) => bridge(c, u), () => u.close());
      }
    })().catch(() => {});
  }
  const detail = `guest CID ${cid}` +
    forwards.map(([p, path]) => `, port ${p} -> ${path}`).join("") +
    connects.map(([path, p]) => `, ${path} -> guest port ${p}`).join("") +
    (seqEcho === undefined ? "" : `, seqpacket echo on port ${seqEcho}`);
  await serveDevice("vhost-user-vsock", device, socket, detail, () => {
    for (const l of listeners) l.close();
  });
  console.log(
    `vhost-user-vsock: ${device.endpoint.badPackets} bad packets, ` +
      `${device.droppedPackets} dropped`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
