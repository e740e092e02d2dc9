// Interop: our virtio-vsock device model served over vhost-user
// (examples/vhost_user_vsock.ts) to QEMU 7.2's vhost-user-vsock-pci and
// Linux's vmw_vsock_virtio_transport. The guest runs a static program built
// here from tests/interop/guest/vsock_test.c (busybox has no AF_VSOCK):
// - it connects to host port 1234, which the back-end forwards to a Unix
//   socket this test serves with an echo: 1 MiB each way, checksummed on
//   both sides;
// - eight connections at once, 128 KiB each way;
// - the host connects to a listener in the guest (through the back-end's
//   --connect Unix socket): 1 MiB each way;
// - a connection to a port nobody listens on is refused (RST: ECONNRESET);
// - seqpacket: 40 messages of up to 20 000 bytes through the back-end's seqpacket echo, each
//   read back whole.
// Fails, not skips, under CI=true when QEMU, the kernel or gcc is missing.

import assert from "node:assert/strict";
import { describe, interopSkipReason, runGuest, skipUnlessCi, which } from "./_guest.ts";
import { startBackend } from "./_backend.ts";

const skip = interopSkipReason("vhost_user_vsock_test") ??
  skipUnlessCi(
    "vhost_user_vsock_test",
    which("gcc") === undefined
      ? "gcc not installed (run scripts/install_interop_deps.sh)"
      : undefined,
  );

const MIB = 1 << 20;

/** The pattern of vsock_test.c, written again from its definition: xorshift32, low byte. */
function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** FNV-1a, 32 bits, as 8 hex digits. */
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

async function readAll(c: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (let n = await c.read(buf); n !== null; n = await c.read(buf)) parts.push(buf.slice(0, n));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

async function writeAll(c: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await c.write(data.subarray(off));
}

async function buildGuestProgram(dir: string): Promise<string> {
  const src = new URL("./guest/vsock_test.c", import.meta.url).pathname;
  const out = `${dir}/vsock_test`;
  const r = await new Deno.Command("gcc", {
    args: ["-static", "-O2", "-Wall", "-o", out, src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(r.success, `gcc failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

Deno.test({
  name:
    "vhost-user-vsock: a Linux guest streams 1 MiB both ways, 8 at once, to and from the host; seqpacket",
  ignore: skip !== undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "typed-virtio-vuvsock-" });
    const socket = `${dir}/vsock.sock`;
    const echoPath = `${dir}/echo.sock`;
    const toGuest = `${dir}/to-guest.sock`;
    const program = await buildGuestProgram(dir);
    // The host program the guest talks to: an echo that records what it got.
    const echoed: { bytes: number; fnv: string }[] = [];
    const echo = Deno.listen({ transport: "unix", path: echoPath });
    const echoing = (async () => {
      const conns: Promise<void>[] = [];
      for await (const c of echo) {
        conns.push((async () => {
          const parts: Uint8Array[] = [];
          const buf = new Uint8Array(65536);
          for (let n = await c.read(buf); n !== null; n = await c.read(buf)) {
            const piece = buf.slice(0, n);
            parts.push(piece);
            await writeAll(c, piece);
          }
          await c.closeWrite();
          const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
          let o = 0;
          for (const p of parts) (all.set(p, o), o += p.length);
          echoed.push({ bytes: all.length, fnv: fnv(all) });
          c.close();
        })());
      }
      await Promise.allSettled(conns);
    })();
    const backend = await startBackend(
      "vhost_user_vsock.ts",
      socket,
      [
        "--guest-cid",
        "3",
        "--forward",
        `1234:${echoPath}`,
        "--connect",
        `${toGuest}:5000`,
        "--seq-echo",
        "1235",
      ],
      30_000,
      false,
      ["--allow-net"],
    );
    let hostSide: Promise<{ got: Uint8Array }> | undefined;
    try {
      const r = await runGuest({
        script: `
cp /vsock_test /bin/vsock_test 2>/dev/null
echo "@@cid=$(cat /sys/class/vsock/*/local_cid 2>/dev/null)"
vsock_test send big 1234 ${MIB} 1
i=1
while [ $i -le 8 ]; do vsock_test send par$i 1234 131072 $((100 + i)) & i=$((i + 1)); done
wait
vsock_test serve fromhost 5000 ${MIB} 7
vsock_test refused closed 4321
vsock_test seq seq 1235 40
`,
        modules: ["virtio_pci", "vmw_vsock_virtio_transport"],
        files: { "/vsock_test": program },
        qemuArgs: [
          "-chardev",
          `socket,id=c4,path=${socket}`,
          "-device",
          "vhost-user-vsock-pci,chardev=c4",
        ],
        timeoutMs: 300_000,
        onLine: (line) => {
          if (line.includes("@@listening=5000")) {
            hostSide = (async () => {
              const c = await Deno.connect({ transport: "unix", path: toGuest });
              const [got] = await Promise.all([
                readAll(c),
                writeAll(c, pattern(MIB, 8)).then(() => c.closeWrite()),
              ]);
              c.close();
              return { got };
            })();
          }
        },
      });
      const why = describe(r) + `\n--- back-end ---\n${backend.output()}`;
      assert.equal(r.scriptStatus, 0, why);
      // The guest's own checks: every byte it read back is the pattern it sent.
      const big = pattern(MIB, 1);
      assert.equal(r.markers.get("big"), `${MIB} ${fnv(big)} ok`, why);
      for (let i = 1; i <= 8; i++) {
        const p = pattern(131072, 100 + i);
        assert.equal(r.markers.get(`par${i}`), `131072 ${fnv(p)} ok`, `par${i}\n${why}`);
      }
      // The host's side of the echo: each connection's bytes, checksummed here.
      const expected = [
        { bytes: MIB, fnv: fnv(big) },
        ...Array.from({ length: 8 }, (_, i) => ({
          bytes: 131072,
          fnv: fnv(pattern(131072, 101 + i)),
        })),
      ];
      const key = (e: { bytes: number; fnv: string }) => `${e.bytes}:${e.fnv}`;
      assert.deepEqual(echoed.map(key).sort(), expected.map(key).sort(), why);
      // Host to guest: the guest checked our 1 MiB (seed 8); we check its 1 MiB (seed 7).
      assert.equal(r.markers.get("fromhost"), `${MIB} ${fnv(pattern(MIB, 8))} ok`, why);
      assert.ok(hostSide !== undefined, why);
      const { got } = await hostSide;
      assert.equal(got.length, MIB, why);
      assert.equal(fnv(got), fnv(pattern(MIB, 7)), why);
      // Nobody listens on host port 4321: the device answered REQUEST with RST.
      assert.equal(r.markers.get("closed"), "Connection reset by peer", why);
      // Seqpacket: 40 messages through the back-end's echo, each read back whole and equal.
      let seqBytes = 0;
      for (let i = 0; i < 40; i++) seqBytes += (i * 7919) % 20000 + 1;
      assert.equal(r.markers.get("seq"), `40 ${seqBytes} ok`, why);
    } finally {
      await backend.stop();
      echo.close();
      await echoing;
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(backend.output(), /0 bad packets, 0 dropped/);
  },
});
